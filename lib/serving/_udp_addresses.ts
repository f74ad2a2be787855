// Copyright 2026 the echolab authors. MIT license.
/**
 * A UDP server bound to a wildcard answers from whatever address the route
 * to the client picks, not always the one the client sent to; Deno cannot
 * read a datagram's destination (no `IP_PKTINFO`). One socket per local
 * address, beside the wildcard one (all with `SO_REUSEADDR`, so the kernel
 * gives each datagram to the most specific socket), answers each client
 * from the address it contacted.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";

/**
 * Binds one socket per local address of the wildcard's family on `port`.
 *
 * @param wildcard `0.0.0.0` or `::`.
 * @param port The port the wildcard socket got.
 * @param logger Where a missing grant is said, once.
 * @returns The sockets bound; none without `--allow-sys=networkInterfaces`.
 */
export function bindLocalAddresses(
  wildcard: string,
  port: number,
  logger: Logger,
): Deno.DatagramConn[] {
  let interfaces: Deno.NetworkInterfaceInfo[];
  try {
    interfaces = Deno.networkInterfaces();
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
    logger.warn(
      "Replies leave from the address the route to each client picks, not always the one it sent to: grant --allow-sys=networkInterfaces so that each local address gets a socket of its own",
      {},
    );
    return [];
  }
  const family = wildcard === "::" ? "IPv6" : "IPv4";
  const addresses = new Set(
    interfaces.filter((info) =>
      info.family === family && !info.address.startsWith("fe80:")
    ).map((info) => info.address),
  );
  const sockets: Deno.DatagramConn[] = [];
  for (const hostname of addresses) {
    try {
      sockets.push(Deno.listenDatagram({
        transport: "udp",
        hostname,
        port,
        reuseAddress: true,
      }));
    } catch (error) {
      logger.debug("Cannot bind {hostname}:{port}: {error}", {
        hostname,
        port,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
  return sockets;
}
