// Copyright 2026 the echolab authors. MIT license.
/**
 * Whether an address is loopback, without loading an address library at
 * start-up.
 *
 * @module
 */

/**
 * Tells whether an address is a loopback address: 127.0.0.0/8, `::1`, or
 * IPv4-mapped loopback (`::ffff:127.0.0.1`).
 *
 * @param hostname An IP address as Deno reports it.
 * @returns Whether only this machine can reach it.
 *
 * @example
 * ```ts
 * import { isLoopback } from "./loopback.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(isLoopback("::1"), true);
 * strictEqual(isLoopback("::ffff:127.0.0.1"), true);
 * strictEqual(isLoopback("0.0.0.0"), false);
 * ```
 */
export function isLoopback(hostname: string): boolean {
  const address = hostname.toLowerCase();
  if (address === "::1" || address === "0:0:0:0:0:0:0:1") return true;
  const v4 = address.startsWith("::ffff:") ? address.slice(7) : address;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/**
 * Tells whether the host a request was addressed to (its URL's hostname,
 * from the `Host` header) is loopback's: `localhost` or a loopback address.
 * A server on loopback that answers only such names cannot be reached by a
 * site whose name was made to point at 127.0.0.1 (DNS rebinding).
 *
 * @param hostname A URL's hostname (`[::1]` with its brackets, or not).
 * @returns Whether it names this machine's loopback.
 *
 * @example
 * ```ts
 * import { isLoopbackName } from "./loopback.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(isLoopbackName("localhost"), true);
 * strictEqual(isLoopbackName("[::1]"), true);
 * strictEqual(isLoopbackName("rebound.example"), false);
 * ```
 */
export function isLoopbackName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  return name === "localhost" || isLoopback(name);
}
