// Copyright 2026 the echolab authors. MIT license.
/**
 * One accepted TCP connection of the echo server: read, split, answer.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { type IdleClock, IdleTimer } from "./idle_timer.ts";
import { LineReader } from "./line_reader.ts";
import { ReplyFormatter } from "./reply_formatter.ts";
import type { ServerStats } from "./server_stats.ts";
import type { Tracer } from "./tracer.ts";
import { formatAddress } from "./address.ts";
import { errorMessage } from "./errors.ts";
import { writeAll } from "./write_all.ts";

/** Why a TCP connection ended, as the close log line says it. */
export type CloseReason =
  | "client closed"
  | "idle timeout"
  | "lifetime"
  | "reset"
  | "line too long"
  | "write stalled"
  | "shutdown"
  | "error";

/** Settings of a connection, fixed by the server. */
export interface TcpConnectionSettings {
  /** Idle timeout in milliseconds; 0 disables it. */
  timeout: number;
  /** Absolute lifetime in milliseconds; 0 disables it. */
  lifetime: number;
  /** Most bytes in one line. */
  maxLine: number;
  /** Reply prefix as bytes. */
  prefix: Uint8Array;
  /** Echo bytes verbatim instead of lines. */
  raw: boolean;
  /** The server's counters, updated as the connection goes. */
  stats: ServerStats;
  /** Logs every network event when `--trace` is on. */
  tracer?: Tracer;
  /** Checks the idle timers of all the server's connections. */
  idleClock?: IdleClock;
}

const MIN_READ_SIZE = 512;
const MAX_READ_SIZE = 65_536;
const logger = getLogger(["echolab", "tcp"]);
const decoder = new TextDecoder();

/**
 * Serves one accepted connection until it ends, then logs its close.
 *
 * @example
 * ```ts ignore
 * const connection = new TcpConnection(conn, settings);
 * await connection.serve();
 * ```
 */
export class TcpConnection {
  /** The peer as `host:port`. */
  readonly peer: string;
  /** Complete lines received. */
  lines = 0;
  /** Bytes read from the peer. */
  bytesIn = 0;
  /** Bytes written to the peer. */
  bytesOut = 0;
  #conn: Deno.TcpConn | Deno.TlsConn;
  #settings: TcpConnectionSettings;
  #startedAt = performance.now();
  #reason: CloseReason | undefined;
  #closed = false;
  #writing = false;
  #batchLines = 0;
  #idleTimer: IdleTimer | undefined;
  #lifetimeTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Takes over an accepted connection.
   *
   * @param conn The connection; this object closes it.
   * @param settings Limits and reply format.
   * @param peer The peer's address as `host:port`.
   */
  constructor(
    conn: Deno.TcpConn | Deno.TlsConn,
    settings: TcpConnectionSettings,
    peer: string,
  ) {
    this.#conn = conn;
    this.#settings = settings;
    this.peer = peer;
  }

  /**
   * Reads and answers until the connection ends, then closes it.
   *
   * @returns Once the connection is closed and its close is logged.
   */
  async serve(): Promise<void> {
    const settings = this.#settings;
    const tracer = settings.tracer;
    logger.info("Accepted connection from {peer}", { peer: this.peer });
    tracer?.event("accepted {peer} on {local}", {
      peer: this.peer,
      local: formatAddress(this.#conn.localAddr),
    });
    if (settings.timeout > 0) {
      this.#idleTimer = new IdleTimer(
        settings.timeout,
        (stalled) => this.stop(stalled ? "write stalled" : "idle timeout"),
        settings.idleClock,
      );
    }
    if (settings.lifetime > 0) {
      this.#lifetimeTimer = setTimeout(
        () => this.stop("lifetime"),
        settings.lifetime,
      );
    }
    try {
      if ("setNoDelay" in this.#conn) this.#conn.setNoDelay(true);
      this.#reason = settings.raw
        ? await this.#echoBytes()
        : await this.#echoLines();
    } catch (error) {
      if (this.#reason === undefined) {
        this.#reason = isResetError(error) ? "reset" : "error";
        if (this.#reason === "reset") {
          tracer?.event("RST from {peer}: the connection was reset", {
            peer: this.peer,
          });
        }
        if (this.#reason === "error") {
          logger.warn("Connection from {peer} failed: {error}", {
            peer: this.peer,
            error: errorMessage(error),
          });
        }
      }
    } finally {
      this.#idleTimer?.clear();
      clearTimeout(this.#lifetimeTimer);
      this.#close();
      settings.stats.closed(this.#reason!);
      const closed = {
        peer: this.peer,
        reason: this.#reason,
        lines: this.lines,
        bytesIn: this.bytesIn,
        bytesOut: this.bytesOut,
        duration: Math.round(performance.now() - this.#startedAt) / 1000,
      };
      tracer?.event(
        "closed {peer}: {who} closed first ({reason}), {lines} lines, {bytesIn} bytes in, {bytesOut} bytes out, {duration} s",
        {
          ...closed,
          who: this.#reason === "client closed" || this.#reason === "reset"
            ? "client"
            : "server",
        },
      );
      logger.info(
        "Closed connection from {peer}: {reason}, {lines} lines, {bytesIn} bytes in, {bytesOut} bytes out, {duration} s",
        closed,
      );
    }
  }

  /**
   * Ends the connection for `reason`. A graceful stop lets a write in
   * progress finish first (its lines were already received); otherwise the
   * connection is closed at once.
   *
   * @param reason What the close log line will say.
   * @param graceful Whether to let a write in progress finish.
   */
  stop(reason: CloseReason, graceful = false): void {
    if (this.#reason !== undefined) {
      if (!graceful) this.#close();
      return;
    }
    this.#reason = reason;
    if (reason !== "shutdown") {
      this.#settings.tracer?.event("timeout for {peer}: {reason}", {
        peer: this.peer,
        reason,
      });
    }
    if (!graceful || !this.#writing) this.#close();
  }

  async #echoLines(): Promise<CloseReason> {
    const settings = this.#settings;
    const reader = new LineReader({ maxLine: settings.maxLine });
    const formatter = new ReplyFormatter(settings.prefix);
    const peer = this.peer;
    let logLines = false;
    const stats = settings.stats;
    const onLine = (line: Uint8Array) => {
      this.lines++;
      this.#batchLines++;
      formatter.append(line);
      if (logLines) {
        // The tagged form skips LogTape's template parsing: about 4x cheaper
        // per line than "{line}" with properties (bench/README).
        logger.info`Receiving data: ${decoder.decode(line)} from ${peer}`;
      }
    };
    let buffer = new Uint8Array(MIN_READ_SIZE);
    while (true) {
      const read = await this.#conn.read(buffer);
      if (this.#reason !== undefined) return this.#reason;
      this.#traceRead(read);
      if (read === null) {
        logLines = logger.isEnabledFor("info");
        if (reader.flush(onLine)) {
          stats.lines_in++;
          await this.#write(formatter);
        }
        return "client closed";
      }
      this.bytesIn += read;
      stats.bytes_in += read;
      logLines = logger.isEnabledFor("info");
      const fits = reader.push(buffer.subarray(0, read), onLine);
      stats.lines_in += this.#batchLines;
      if (formatter.length > 0) {
        this.#idleTimer?.touch();
        await this.#write(formatter);
        if (this.#reason !== undefined) return this.#reason;
      }
      if (!fits) {
        logger.warn(
          "Line from {peer} is longer than {maxLine} bytes: closing the connection (raise --max-line to allow it)",
          { peer, maxLine: settings.maxLine },
        );
        return "line too long";
      }
      if (read === buffer.length && buffer.length < MAX_READ_SIZE) {
        buffer = new Uint8Array(buffer.length * 2);
      }
    }
  }

  async #echoBytes(): Promise<CloseReason> {
    let buffer = new Uint8Array(MIN_READ_SIZE);
    const peer = this.peer;
    while (true) {
      const read = await this.#conn.read(buffer);
      if (this.#reason !== undefined) return this.#reason;
      this.#traceRead(read);
      if (read === null) return "client closed";
      this.bytesIn += read;
      this.#settings.stats.bytes_in += read;
      this.#idleTimer?.touch();
      if (logger.isEnabledFor("info")) {
        logger.info`Receiving data: ${
          decoder.decode(buffer.subarray(0, read))
        } from ${peer}`;
      }
      await this.#writeBytes(buffer.subarray(0, read));
      if (this.#reason !== undefined) return this.#reason;
      if (read === buffer.length && buffer.length < MAX_READ_SIZE) {
        buffer = new Uint8Array(buffer.length * 2);
      }
    }
  }

  #traceRead(read: number | null): void {
    const tracer = this.#settings.tracer;
    if (tracer === undefined) return;
    if (read === null) {
      tracer.event("FIN from {peer}: end of stream, the client half-closed", {
        peer: this.peer,
      });
    } else {
      tracer.event("read {bytes} bytes from {peer}", {
        bytes: read,
        peer: this.peer,
      });
    }
  }

  async #write(formatter: ReplyFormatter): Promise<void> {
    try {
      await this.#writeBytes(formatter.bytes());
      this.#settings.stats.lines_out += this.#batchLines;
    } finally {
      formatter.clear();
      this.#batchLines = 0;
    }
  }

  async #writeBytes(bytes: Uint8Array): Promise<void> {
    const debug = logger.isEnabledFor("debug");
    if (debug) {
      logger.debug("Sending data.. {bytes} bytes to {peer}", {
        bytes: bytes.length,
        peer: this.peer,
      });
    }
    this.#writing = true;
    this.#idleTimer?.pause();
    try {
      await writeAll(this.#conn, bytes);
    } finally {
      this.#writing = false;
      this.#idleTimer?.resume();
    }
    this.bytesOut += bytes.length;
    this.#settings.stats.bytes_out += bytes.length;
    this.#settings.tracer?.event("wrote {bytes} bytes to {peer}", {
      bytes: bytes.length,
      peer: this.peer,
    });
    if (debug) {
      logger.debug("Complete Sending data.. {bytes} bytes to {peer}", {
        bytes: bytes.length,
        peer: this.peer,
      });
    }
    if (this.#reason === "shutdown") this.#close();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the runtime.
    }
  }
}

/**
 * Tells whether an error means the peer went away abruptly.
 *
 * @param error What a read or write threw.
 * @returns `true` for resets, broken pipes and aborted connections.
 */
export function isResetError(error: unknown): boolean {
  return error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.NotConnected;
}
