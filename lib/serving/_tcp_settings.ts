// Copyright 2026 the echolab authors. MIT license.
/**
 * What a server fixes for all its TCP connections, and the one value that
 * says where a connection is.
 *
 * @module
 */

import type { IdleClock } from "./_idle_timer.ts";
import type { ReplyPrefix } from "./reply_prefix.ts";
import type { ServerStats } from "./server_stats.ts";
import type {
  CloseReason,
  TcpFaultStage,
  TcpLink,
  TcpPreamble,
  TcpTlsStage,
} from "./stages.ts";
import type { Tracer } from "./tracer.ts";

/**
 * Where a connection is: reading its preamble, waiting for bytes, writing a
 * reply (or waiting out a delay before it), draining (a graceful stop: it
 * closes once the write in progress is done), or closed.
 */
export type ConnectionState =
  | "preamble"
  | "reading"
  | "writing"
  | "draining"
  | "closed";

/** Settings of a server's connections, fixed by the server. */
export interface TcpConnectionSettings {
  /** Idle timeout in milliseconds; 0 disables it. */
  timeout: number;
  /** Absolute lifetime in milliseconds; 0 disables it. */
  lifetime: number;
  /** Most bytes in one line. */
  maxLine: number;
  /** The reply prefix, filled per connection when it names the peer. */
  prefix: ReplyPrefix;
  /** Echo bytes verbatim instead of lines. */
  raw: boolean;
  /** The server's counters, updated as the connection goes. */
  stats: ServerStats;
  /** Logs every network event when tracing. */
  tracer?: Tracer;
  /** Checks the idle timers of all the server's connections. */
  idleClock?: IdleClock;
  /** The stage before the echo (the PROXY header). */
  preamble?: TcpPreamble;
  /** TLS after the preamble, reading the ClientHello first. */
  tls?: TcpTlsStage;
  /**
   * The writer and close policy of faults on purpose; replaced at run time
   * by `setFaults`, read at every use.
   */
  faults?: TcpFaultStage;
  /**
   * Checks the client once it is known (at once without a preamble) and
   * counts it; returns why it is refused (already counted and logged).
   */
  admit(hostname: string, peer: string): CloseReason | undefined;
  /** Tells the server a connection closed: one function for all. */
  onClosed(connection: TcpLink & { readonly source: string | undefined }): void;
}
