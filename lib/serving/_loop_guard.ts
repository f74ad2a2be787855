// Copyright 2026 the echolab authors. MIT license.
/**
 * The UDP reflection-loop guard: never answer a service that answers UDP.
 *
 * @module
 */

/**
 * Source ports of services that answer UDP datagrams, so that answering
 * them could start an endless loop or amplify a spoofed flood: echo,
 * discard, daytime, qotd, chargen, time, DNS, portmap, NTP, NetBIOS, SNMP,
 * CLDAP, SSDP, mDNS, memcached; and port 0, which no real client uses.
 */
export const REFLECTIVE_PORTS: ReadonlySet<number> = new Set([
  0,
  7,
  9,
  13,
  17,
  19,
  37,
  53,
  111,
  123,
  137,
  161,
  389,
  1900,
  5353,
  11211,
]);

/** Why the guard refuses a datagram. */
export type LoopRisk = "reflective port" | "own address";

/**
 * Tells whether answering a datagram could start a loop, the way BSD inetd
 * refuses them.
 *
 * @param source Where the datagram came from.
 * @param server The address the server is bound to.
 * @returns Why it must not be answered, or `undefined` if it may be.
 *
 * @example
 * ```ts
 * import { loopRisk } from "./_loop_guard.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const server = { hostname: "127.0.0.1", port: 6000 };
 * strictEqual(loopRisk({ hostname: "127.0.0.1", port: 19 }, server), "reflective port");
 * strictEqual(loopRisk({ hostname: "127.0.0.1", port: 6000 }, server), "own address");
 * strictEqual(loopRisk({ hostname: "127.0.0.1", port: 50000 }, server), undefined);
 * ```
 */
export function loopRisk(
  source: { hostname: string; port: number },
  server: { hostname: string; port: number },
): LoopRisk | undefined {
  if (REFLECTIVE_PORTS.has(source.port)) return "reflective port";
  if (
    source.port === server.port &&
    (source.hostname === server.hostname || server.hostname === "0.0.0.0" ||
      server.hostname === "::")
  ) {
    return "own address";
  }
  return undefined;
}
