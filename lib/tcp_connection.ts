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
import { SeedLog } from "./seed_log.ts";
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
const seedLog = new SeedLog(logger);

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
  #draining = false;
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
        (stalled) => this.abort(stalled ? "write stalled" : "idle timeout"),
        settings.idleClock,
      );
    }
    if (settings.lifetime > 0) {
      this.#lifetimeTimer = setTimeout(
        () => this.abort("lifetime"),
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
   * Ends the connection gracefully, as Go's `Server.Shutdown` does: reading
   * stops now, a write in progress finishes first (its lines were already
   * received), then the connection closes.
   *
   * @param reason What the close log line will say.
   */
  drain(reason: CloseReason): void {
    if (!this.#end(reason)) return;
    this.#draining = true;
    if (!this.#writing) this.#close();
  }

  /**
   * Closes the connection at once, as Go's `Server.Close` does, even in the
   * middle of a write (a connection already draining is cut off too).
   *
   * @param reason What the close log line will say, unless a reason was
   * already given.
   */
  abort(reason: CloseReason): void {
    this.#end(reason);
    this.#close();
  }

  /** Records the first reason; `false` when the connection was already ending. */
  #end(reason: CloseReason): boolean {
    if (this.#reason !== undefined) return false;
    this.#reason = reason;
    if (reason !== "shutdown") {
      this.#settings.tracer?.event("timeout for {peer}: {reason}", {
        peer: this.peer,
        reason,
      });
    }
    return true;
  }

  async #echoLines(): Promise<CloseReason> {
    const settings = this.#settings;
    const reader = new LineReader({ maxLine: settings.maxLine });
    const formatter = new ReplyFormatter(settings.prefix);
    const peer = this.peer;
    let logLines = false;
    const onLine = (line: Uint8Array) => {
      this.#batchLines++;
      formatter.append(line);
      if (logLines) seedLog.receiving(line, peer);
    };
    let buffer = new Uint8Array(MIN_READ_SIZE);
    while (true) {
      const read = await this.#conn.read(buffer);
      if (this.#reason !== undefined) return this.#reason;
      this.#traceRead(read);
      logLines = seedLog.receivingEnabled();
      if (read === null) {
        reader.flush(onLine);
        await this.#answer(formatter);
        return "client closed";
      }
      this.bytesIn += read;
      settings.stats.bytes_in += read;
      const fits = reader.push(buffer.subarray(0, read), onLine);
      if (this.#batchLines > 0) {
        this.#idleTimer?.touch();
        await this.#answer(formatter);
        if (this.#reason !== undefined) return this.#reason;
      }
      if (!fits) {
        logger.warn(
          "Line from {peer} is longer than {maxLine} bytes: closing the connection (raise {option} to allow it)",
          { peer, maxLine: settings.maxLine, option: "maxLine" },
        );
        return "line too long";
      }
      if (read === buffer.length && buffer.length < MAX_READ_SIZE) {
        buffer = new Uint8Array(buffer.length * 2);
      }
    }
  }

  /**
   * Counts the lines of one read batch and writes their replies: the one
   * place where the line counters change.
   */
  async #answer(formatter: ReplyFormatter): Promise<void> {
    const lines = this.#batchLines;
    if (lines === 0) return;
    this.#batchLines = 0;
    this.lines += lines;
    const stats = this.#settings.stats;
    stats.lines_in += lines;
    try {
      await this.#writeBytes(formatter.bytes());
      stats.lines_out += lines;
    } finally {
      formatter.clear();
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
      const received = buffer.subarray(0, read);
      if (seedLog.receivingEnabled()) seedLog.receiving(received, peer);
      await this.#writeBytes(received);
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

  async #writeBytes(bytes: Uint8Array): Promise<void> {
    seedLog.sending(bytes.length, this.peer);
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
    seedLog.sent(bytes.length, this.peer);
    if (this.#draining) this.#close();
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
