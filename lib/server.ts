// Copyright 2026 the echolab authors. MIT license.
/**
 * What the TCP and UDP servers have in common.
 *
 * @module
 */

import type { StatsSnapshot } from "./server_stats.ts";

/**
 * A running echo server.
 *
 * @example Use a server as a test fixture
 * ```ts ignore
 * import { serveTcp } from "../tcp.ts";
 *
 * await using server: EchoServer = serveTcp({ port: 0 });
 * console.log(server.addr.port);
 * ```
 */
export interface EchoServer<Transport extends "tcp" | "udp" = "tcp" | "udp">
  extends AsyncDisposable {
  /** The address the server is bound to (the real port when 0 was asked). */
  readonly addr: Deno.NetAddr & { transport: Transport };
  /** Settles once the server has stopped and closed every resource. */
  readonly finished: Promise<void>;
  /**
   * Stops the server gracefully: stop receiving, answer what was already
   * received, close every connection and socket.
   *
   * @returns The same promise as {@linkcode EchoServer.finished}.
   */
  shutdown(): Promise<void>;
  /**
   * The server's counters now.
   *
   * @returns A copy, safe to keep.
   */
  stats(): StatsSnapshot;
}
