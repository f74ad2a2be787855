// Copyright 2026 the echolab authors. MIT license.
/**
 * One accepted TCP connection of the echo server, as a pipeline: preamble
 * (an optional {@linkcode TcpPreamble}), admission of the client it names,
 * echo (lines or raw), writer (plain, or the fault stage's), close policy
 * (the fault stage's). Its state is one value, {@linkcode ConnectionState}.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { formatAddress } from "./address.ts";
import { errorMessage } from "./errors.ts";
import { type IdleClock, IdleTimer } from "./_idle_timer.ts";
import { LineReader } from "./line_reader.ts";
import { ReplyFormatter } from "./reply_formatter.ts";
import type { ReplyPrefix } from "./_reply_prefix.ts";
import { SeedLog } from "./_seed_log.ts";
import type { ServerStats } from "./server_stats.ts";
import type {
  ByteStream,
  CloseReason,
  TcpFaultStage,
  TcpLink,
  TcpPreamble,
} from "./stages.ts";
import type { Tracer } from "./tracer.ts";
import { writeAll } from "./write_all.ts";

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
  /** The stage before the echo (PROXY header, TLS after it). */
  preamble?: TcpPreamble;
  /** The certificate and key a preamble serves TLS with. */
  tls?: { cert: string; key: string };
  /** The writer and close policy of faults on purpose. */
  faults?: TcpFaultStage;
  /**
   * Checks the client once it is known (at once without a preamble) and
   * counts it; returns why it is refused (already counted and logged).
   */
  admit(hostname: string, peer: string): CloseReason | undefined;
  /** Tells the server a connection closed: one function for all. */
  onClosed(connection: TcpConnection): void;
}

/**
 * The first read buffer of a connection, doubled whenever a read fills it
 * and given back after a short read: a held connection waiting for its next
 * line keeps only this.
 */
const FIRST_READ_SIZE = 64;
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
export class TcpConnection implements TcpLink {
  /** Complete lines received. */
  lines = 0;
  /** Bytes read from the peer. */
  bytesIn = 0;
  /** Bytes written to the peer. */
  bytesOut = 0;
  /** The client's host as counted against the per-source limit, once admitted. */
  source: string | undefined;
  #state: ConnectionState = "preamble";
  #reason: CloseReason | undefined;
  #socket: Deno.TcpConn | Deno.TlsConn;
  #stream: ByteStream;
  #settings: TcpConnectionSettings;
  #peer: string;
  #startedAt = performance.now();
  #stopped = new AbortController();
  #idleTimer: IdleTimer | undefined;
  #lifetimeTimer: ReturnType<typeof setTimeout> | undefined;
  // Line mode: the state kept between reads lives here, not in closures.
  #reader: LineReader | undefined;
  #formatter: ReplyFormatter | undefined;
  #logLines = false;
  #batchLines = 0;
  #batchAnswers = 0;
  #answered = 0;
  #budget = Infinity;

  /**
   * Takes over an accepted connection.
   *
   * @param conn The connection; this object closes it.
   * @param settings The server's settings.
   * @param source Without a preamble: the client's host, already admitted.
   */
  constructor(
    conn: Deno.TcpConn | Deno.TlsConn,
    settings: TcpConnectionSettings,
    source?: string,
  ) {
    this.source = source;
    this.#socket = conn;
    this.#stream = conn;
    this.#settings = settings;
    this.#peer = formatAddress(conn.remoteAddr);
  }

  /** The client as `host:port` (a PROXY header's, once read). */
  get peer(): string {
    return this.#peer;
  }
  /** Where the connection is. */
  get state(): ConnectionState {
    return this.#state;
  }
  /** Why the connection ends, once known. */
  get reason(): CloseReason | undefined {
    return this.#reason;
  }
  /** The stream the echo runs on. */
  get stream(): ByteStream {
    return this.#stream;
  }
  /** The server's counters. */
  get stats(): ServerStats {
    return this.#settings.stats;
  }
  /** The server's tracer. */
  get tracer(): Tracer | undefined {
    return this.#settings.tracer;
  }
  /** Aborted once the connection closes. */
  get signal(): AbortSignal {
    return this.#stopped.signal;
  }

  /**
   * Runs the connection through its stages until it ends, then closes it.
   *
   * @returns Once the connection is closed and its close is counted.
   */
  async serve(): Promise<void> {
    const settings = this.#settings;
    let initial: Uint8Array | undefined;
    let opened = false;
    try {
      initial = await this.#preamble();
      if (this.#reason !== undefined) return;
      opened = true;
      settings.stats.opened();
      this.#state = "reading";
      await this.#echo(initial);
    } catch (error) {
      this.#failed(error);
    } finally {
      this.#idleTimer?.clear();
      clearTimeout(this.#lifetimeTimer);
      this.#close();
      this.#finish(opened);
    }
  }

  /**
   * The preamble, then the admission of the client it names.
   *
   * @returns Bytes read past the preamble, to echo first.
   */
  async #preamble(): Promise<Uint8Array | undefined> {
    const settings = this.#settings;
    // Without a preamble the server admitted the client at accept.
    if (settings.preamble === undefined) return undefined;
    const socket = this.#socket;
    let hostname = socket.remoteAddr.hostname;
    const result = await settings.preamble.read(socket as Deno.TcpConn, {
      peer: this.#peer,
      timeout: settings.timeout,
      tls: settings.tls,
      tracer: settings.tracer,
      signal: this.#stopped.signal,
    });
    if (this.#reason !== undefined) return undefined;
    if ("close" in result) {
      this.#reason = result.close;
      return undefined;
    }
    this.#stream = result.stream;
    // A header that names no client (LOCAL, UNKNOWN): the connection's own
    // peer is the client, as the PROXY protocol says.
    if (result.client !== undefined) {
      hostname = result.client.hostname;
      this.#peer = formatAddress(result.client);
    }
    const refused = settings.admit(hostname, this.#peer);
    if (refused !== undefined) {
      this.#reason = refused;
      return undefined;
    }
    this.source = hostname;
    return result.initial;
  }

  /** Reads and answers until the connection ends. */
  async #echo(initial: Uint8Array | undefined): Promise<void> {
    const settings = this.#settings;
    logger.info("Accepted connection from {peer}", { peer: this.#peer });
    settings.tracer?.event("accepted {peer} on {local}", {
      peer: this.#peer,
      local: formatAddress(this.#socket.localAddr),
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
    if ("setNoDelay" in this.#socket) this.#socket.setNoDelay(true);
    const faults = settings.faults;
    const banner = faults?.begin(this);
    if (banner !== undefined) await this.#write(banner);
    if (!settings.raw) this.#startLines();
    if (initial !== undefined && initial.length > 0) {
      await this.#handle(initial);
    }
    let buffer = new Uint8Array(FIRST_READ_SIZE);
    // The loop is written here rather than in a method of its own: one
    // suspended async frame per held connection.
    while (this.#reason === undefined) {
      const read = await this.#stream.read(buffer);
      if (this.#reason !== undefined) break;
      this.#traceRead(read);
      if (read === null) {
        if (!settings.raw) {
          this.#logLines = seedLog.receivingEnabled();
          this.#reader!.flush(this.#onLine);
          await this.#answer();
        }
        this.#reason ??= "client closed";
        break;
      }
      await this.#handle(buffer.subarray(0, read));
      if (read === buffer.length) {
        if (buffer.length < MAX_READ_SIZE) {
          buffer = new Uint8Array(buffer.length * 2);
        }
      } else if (
        buffer.length > FIRST_READ_SIZE && read <= buffer.length >> 2
      ) {
        // A short read: the client paused. Waiting, hold the small buffer.
        buffer = new Uint8Array(FIRST_READ_SIZE);
      }
    }
  }

  /** Echoes one read: raw, or split into lines and answered. */
  async #handle(chunk: Uint8Array): Promise<void> {
    const settings = this.#settings;
    this.bytesIn += chunk.length;
    settings.stats.bytes_in += chunk.length;
    if (settings.raw) {
      this.#idleTimer?.touch();
      if (seedLog.receivingEnabled()) seedLog.receiving(chunk, this.#peer);
      await this.#reply(chunk);
      return;
    }
    this.#logLines = seedLog.receivingEnabled();
    const fits = this.#reader!.push(chunk, this.#onLine);
    if (this.#batchLines > 0) {
      this.#idleTimer?.touch();
      await this.#answer();
      if (this.#reason !== undefined) return;
      if (this.#answered >= this.#budget) {
        this.#reason = await settings.faults!.afterBudget(this, this.#answered);
        return;
      }
    }
    if (!fits) {
      logger.warn(
        "Line from {peer} is longer than {maxLine} bytes: closing the connection (raise {option} to allow it)",
        { peer: this.#peer, maxLine: settings.maxLine, option: "maxLine" },
      );
      this.#reason = "line too long";
    }
  }

  /** Sets up line mode: the reader, the formatter and the answer budget. */
  #startLines(): void {
    const settings = this.#settings;
    this.#reader = new LineReader({ maxLine: settings.maxLine });
    this.#formatter = new ReplyFormatter(
      settings.prefix.perPeer
        ? settings.prefix.bytes(
          this.#peer,
          formatAddress(this.#socket.localAddr),
        )
        : settings.prefix.bytes("", ""),
    );
    this.#budget = settings.faults?.budget ?? Infinity;
  }

  /** Takes one line of a read: counted, logged, dropped or answered. */
  readonly #onLine = (line: Uint8Array): void => {
    this.#batchLines++;
    if (this.#logLines) seedLog.receiving(line, this.#peer);
    const faults = this.#settings.faults;
    if (faults !== undefined) {
      // Past the close policy's budget: received, never answered.
      if (this.#answered + this.#batchAnswers >= this.#budget) return;
      if (faults.drops(this)) return;
    }
    this.#batchAnswers++;
    this.#formatter!.append(line);
  };

  /** Counts the lines of one read batch and writes their replies. */
  async #answer(): Promise<void> {
    const lines = this.#batchLines;
    if (lines === 0) return;
    const answers = this.#batchAnswers;
    this.#batchLines = 0;
    this.#batchAnswers = 0;
    this.lines += lines;
    const stats = this.#settings.stats;
    stats.lines_in += lines;
    if (answers === 0) return;
    const formatter = this.#formatter!;
    try {
      await this.#reply(formatter.bytes());
      stats.lines_out += answers;
      this.#answered += answers;
    } finally {
      // Waiting for the next line, the connection holds no reply buffer.
      formatter.release();
    }
  }

  /**
   * A reply: after the fault stage's delay, if any (a graceful stop waits
   * for it: its lines were received), then written.
   */
  async #reply(bytes: Uint8Array): Promise<void> {
    // No promise on the hot path when there is no delay to wait out.
    const wait = this.#settings.faults?.delay(this);
    if (wait !== undefined) {
      if (this.#state === "reading") this.#state = "writing";
      await wait;
    }
    await this.#write(bytes);
  }

  /** The writer stage: plain, or in the fault stage's pieces. */
  async #write(bytes: Uint8Array): Promise<void> {
    seedLog.sending(bytes.length, this.#peer);
    if (this.#state === "reading") this.#state = "writing";
    this.#idleTimer?.pause();
    try {
      const faults = this.#settings.faults;
      if (faults === undefined) await writeAll(this.#stream, bytes);
      else await faults.write(this, bytes, this.#writePlain);
    } finally {
      this.#idleTimer?.resume();
      if (this.#state === "writing") this.#state = "reading";
    }
    this.bytesOut += bytes.length;
    this.#settings.stats.bytes_out += bytes.length;
    this.#settings.tracer?.event("wrote {bytes} bytes to {peer}", {
      bytes: bytes.length,
      peer: this.#peer,
    });
    seedLog.sent(bytes.length, this.#peer);
    if (this.#state === "draining") this.#close();
  }

  readonly #writePlain = (bytes: Uint8Array): Promise<void> => {
    if (this.#state === "closed") {
      return Promise.reject(new Deno.errors.BadResource("closed"));
    }
    return writeAll(this.#stream, bytes);
  };

  /** See {@linkcode TcpLink.readUnanswered}. */
  readUnanswered(read: number | null): void {
    this.#traceRead(read);
    if (read === null) return;
    this.bytesIn += read;
    this.#settings.stats.bytes_in += read;
  }

  /** See {@linkcode TcpLink.suspendIdle}. */
  suspendIdle(): void {
    this.#idleTimer?.suspend();
  }

  /** See {@linkcode TcpLink.resumeIdle}. */
  resumeIdle(): void {
    this.#idleTimer?.resume();
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
    if (this.#state === "writing") this.#state = "draining";
    else this.#close();
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
        peer: this.#peer,
        reason,
      });
    }
    return true;
  }

  #failed(error: unknown): void {
    if (this.#reason !== undefined) return;
    const tracer = this.#settings.tracer;
    if (isResetError(error)) {
      this.#reason = "reset";
      if (this.#state !== "preamble") {
        tracer?.event("RST from {peer}: the connection was reset", {
          peer: this.#peer,
        });
      }
      return;
    }
    this.#reason = "error";
    logger.warn("Connection from {peer} failed: {error}", {
      peer: this.#peer,
      error: errorMessage(error),
    });
  }

  #traceRead(read: number | null): void {
    const tracer = this.#settings.tracer;
    if (tracer === undefined) return;
    if (read === null) {
      tracer.event("FIN from {peer}: end of stream, the client half-closed", {
        peer: this.#peer,
      });
    } else {
      tracer.event("read {bytes} bytes from {peer}", {
        bytes: read,
        peer: this.#peer,
      });
    }
  }

  #close(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#stopped.abort();
    try {
      this.#stream.close();
    } catch {
      // Already closed by the runtime.
    }
  }

  /**
   * Counts and logs the close of a connection that was served; one refused
   * or ended in its preamble was counted and logged where that happened.
   * Then tells the server, whatever happens in between.
   */
  #finish(opened: boolean): void {
    try {
      const settings = this.#settings;
      if (!opened) {
        if (this.#reason === "bad proxy header") {
          settings.stats.countClose(this.#reason);
        }
        return;
      }
      const seconds = (performance.now() - this.#startedAt) / 1000;
      settings.stats.closed(this.#reason!, seconds);
      const closed = {
        peer: this.#peer,
        reason: this.#reason,
        lines: this.lines,
        bytesIn: this.bytesIn,
        bytesOut: this.bytesOut,
        duration: Math.round(seconds * 1000) / 1000,
      };
      settings.tracer?.event(
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
    } finally {
      this.#settings.onClosed(this);
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
