// Copyright 2026 the echolab authors. MIT license.
/**
 * One accepted TCP connection of the echo server: read, split, answer.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { type IdleClock, IdleTimer } from "./_idle_timer.ts";
import { LineReader } from "./line_reader.ts";
import { ReplyFormatter } from "./reply_formatter.ts";
import type { ReplyPrefix } from "./_reply_prefix.ts";
import type { ServerStats } from "./server_stats.ts";
import type { Tracer } from "./tracer.ts";
import { formatAddress } from "./address.ts";
import { errorMessage } from "./errors.ts";
import { type FaultInjector, sleep } from "../faults/faults.ts";
import { parseProxyHeader } from "../proxy/proxy_header.ts";
import { SeedLog } from "./_seed_log.ts";
import type { ByteStream } from "../proxy/tls_stream.ts";
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
  | "error"
  | "bad proxy header"
  | "not allowed"
  | "too many per source"
  | "close after";

/** Settings of a connection, fixed by the server. */
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
  /** Logs every network event when `--trace` is on. */
  tracer?: Tracer;
  /** Checks the idle timers of all the server's connections. */
  idleClock?: IdleClock;
  /**
   * Every connection starts with a PROXY protocol header, read within
   * `timeout` (unlimited when 0); its source becomes the peer. Bad headers
   * are reported here, throttled.
   */
  proxyProtocol?: { reportBadHeader(peer: string, reason: string): void };
  /**
   * With `proxyProtocol`: serve TLS after the header, with this certificate
   * and key (PEM).
   */
  tls?: { cert: string; key: string };
  /** Faults to inject; `undefined` when none is on. */
  faults?: FaultInjector;
}

/** Options of one {@linkcode TcpConnection}. */
export interface TcpConnectionOptions {
  /** The peer's address as `host:port`. */
  peer: string;
  /**
   * With the PROXY protocol: checks the client named by the header (access
   * list, per-source limit) before anything is answered, and returns why it
   * is refused, or `undefined` to serve it.
   *
   * @default {undefined}
   */
  admit?: (source: string, peer: string) => CloseReason | undefined;
  /**
   * The client's host, as the server counted it against its per-source
   * limit; with the PROXY protocol it is the header's, once admitted.
   *
   * @default {undefined}
   */
  source?: string;
  /**
   * Called once the connection is closed and its close logged. One function
   * for all of a server's connections: a connection keeps no callback or
   * promise of its own for the server's bookkeeping.
   *
   * @default {undefined}
   */
  onClosed?: (connection: TcpConnection) => void;
}

const MIN_READ_SIZE = 512;
/**
 * The first read buffer of a connection, grown (doubled) whenever a read
 * fills it: a held connection waiting for its next line keeps only this.
 */
const FIRST_READ_SIZE = 64;
/** The longest PROXY header: a v2 header announcing 65,535 bytes. */
const MAX_PROXY_HEADER = 16 + 65_535;
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
  /** Complete lines received. */
  lines = 0;
  /** Bytes read from the peer. */
  bytesIn = 0;
  /** Bytes written to the peer. */
  bytesOut = 0;
  #socket: Deno.TcpConn | Deno.TlsConn;
  #conn: ByteStream;
  #settings: TcpConnectionSettings;
  #startedAt = performance.now();
  #reason: CloseReason | undefined;
  #closed = false;
  #writing = false;
  #draining = false;
  #batchLines = 0;
  #batchAnswers = 0;
  #answered = 0;
  #stopped: AbortController | undefined;
  #idleTimer: IdleTimer | undefined;
  #lifetimeTimer: ReturnType<typeof setTimeout> | undefined;
  #peer: string;
  #source: string | undefined;
  #admit: TcpConnectionOptions["admit"];
  #onClosed: TcpConnectionOptions["onClosed"];
  // Line mode: the state kept between reads lives here, not in closures.
  #reader: LineReader | undefined;
  #formatter: ReplyFormatter | undefined;
  #logLines = false;
  #budget = Infinity;

  /**
   * Takes over an accepted connection.
   *
   * @param conn The connection; this object closes it.
   * @param settings Limits and reply format.
   * @param options The peer, and the check of a PROXY header's client.
   */
  constructor(
    conn: Deno.TcpConn | Deno.TlsConn,
    settings: TcpConnectionSettings,
    options: TcpConnectionOptions,
  ) {
    this.#socket = conn;
    this.#conn = conn;
    this.#settings = settings;
    this.#peer = options.peer;
    this.#source = options.source;
    this.#admit = options.admit;
    this.#onClosed = options.onClosed;
  }

  /**
   * The client's host as counted against the per-source limit, when the
   * server counted it.
   */
  get source(): string | undefined {
    return this.#source;
  }

  /**
   * The peer as `host:port`: the client a PROXY header names once it is
   * read, the connection's own peer otherwise.
   */
  get peer(): string {
    return this.#peer;
  }

  /**
   * Reads and answers until the connection ends, then closes it.
   *
   * @returns Once the connection is closed and its close is logged.
   */
  async serve(): Promise<void> {
    const settings = this.#settings;
    const tracer = settings.tracer;
    let initial: Uint8Array | undefined;
    if (settings.proxyProtocol !== undefined) {
      try {
        const header = await this.#readProxyHeader();
        if (typeof header === "string") this.#reason ??= header;
        else if (settings.tls !== undefined) {
          // TLS starts after the header: the bytes after it are TLS's.
          const { serverTls } = await import("../proxy/tls_stream.ts");
          this.#conn = serverTls(
            this.#socket as Deno.TcpConn,
            header,
            settings.tls,
          );
        } else initial = header;
      } catch (error) {
        this.#reason ??= isResetError(error) ? "reset" : "error";
      }
    }
    if (this.#reason !== undefined) {
      this.#close();
      this.#finish();
      return;
    }
    logger.info("Accepted connection from {peer}", { peer: this.peer });
    tracer?.event("accepted {peer} on {local}", {
      peer: this.peer,
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
    try {
      if ("setNoDelay" in this.#socket) this.#socket.setNoDelay(true);
      const banner = settings.faults?.options.banner;
      if (banner !== undefined) {
        settings.stats.countFault("banner");
        tracer?.event("banner to {peer}: {banner}", {
          peer: this.peer,
          banner,
        });
        await this.#writeBytes(new TextEncoder().encode(`${banner}\n`));
      }
      if (settings.raw) this.#reason = await this.#echoBytes(initial);
      else {
        // The line loop is written here rather than in a method of its own:
        // one suspended async frame per held connection instead of two.
        this.#startLines();
        if (initial !== undefined && initial.length > 0) {
          this.#reason ??= await this.#handleLines(initial);
        }
        let buffer = new Uint8Array(FIRST_READ_SIZE);
        while (this.#reason === undefined) {
          const read = await this.#conn.read(buffer);
          if (this.#reason !== undefined) break;
          this.#traceRead(read);
          if (read === null) {
            this.#logLines = seedLog.receivingEnabled();
            this.#reader!.flush(this.#onLine);
            await this.#answer(this.#formatter!);
            this.#reason ??= "client closed";
            break;
          }
          this.#reason ??= await this.#handleLines(buffer.subarray(0, read));
          if (read === buffer.length && buffer.length < MAX_READ_SIZE) {
            buffer = new Uint8Array(buffer.length * 2);
          }
        }
      }
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
      this.#finish();
    }
  }

  /**
   * Counts and logs the close, then tells the server, whatever happens in
   * between: the server waits for every connection it knows at shutdown.
   */
  #finish(): void {
    try {
      const settings = this.#settings;
      const tracer = settings.tracer;
      const seconds = (performance.now() - this.#startedAt) / 1000;
      settings.stats.closed(this.#reason!, seconds);
      const closed = {
        peer: this.peer,
        reason: this.#reason,
        lines: this.lines,
        bytesIn: this.bytesIn,
        bytesOut: this.bytesOut,
        duration: Math.round(seconds * 1000) / 1000,
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
    } finally {
      this.#onClosed?.(this);
    }
  }

  /**
   * Reads the PROXY header before anything else, within the timeout. The
   * header is never echoed; what came after it in the same reads is
   * returned, to be served first.
   *
   * @returns The bytes after the header, or why the connection ends.
   */
  async #readProxyHeader(): Promise<Uint8Array | CloseReason> {
    const settings = this.#settings;
    const report = (reason: string) =>
      settings.proxyProtocol!.reportBadHeader(this.peer, reason);
    const proxy = this.peer;
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (settings.timeout > 0) {
      timer = setTimeout(() => {
        report(`no complete header within ${settings.timeout / 1000} s`);
        this.abort("bad proxy header");
      }, settings.timeout);
    }
    try {
      let buffer = new Uint8Array(MIN_READ_SIZE);
      let length = 0;
      while (true) {
        if (length === buffer.length) {
          const grown = new Uint8Array(
            Math.min(buffer.length * 2, MAX_PROXY_HEADER),
          );
          grown.set(buffer);
          buffer = grown;
        }
        const read = await this.#conn.read(buffer.subarray(length));
        if (this.#reason !== undefined) return this.#reason;
        if (read === null) {
          report("the connection ended before a complete header");
          return "bad proxy header";
        }
        length += read;
        const header = parseProxyHeader(buffer.subarray(0, length));
        if (header.status === "incomplete") continue;
        if (header.status === "malformed") {
          report(header.reason);
          return "bad proxy header";
        }
        if (header.source !== undefined) {
          this.#peer = formatAddress(header.source);
          const refused = this.#admit?.(header.source.hostname, this.#peer);
          if (refused !== undefined) return refused;
          if (this.#admit !== undefined) this.#source = header.source.hostname;
        }
        settings.tracer?.event(
          "PROXY v{version} header from {proxy}: client {peer}",
          { version: header.version, proxy, peer: this.#peer },
        );
        return buffer.slice(header.length, length);
      }
    } finally {
      clearTimeout(timer);
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

  /** Sets up line mode: the reader, the formatter and the answer budget. */
  #startLines(): void {
    const settings = this.#settings;
    this.#reader = new LineReader({ maxLine: settings.maxLine });
    this.#formatter = new ReplyFormatter(
      settings.prefix.perPeer
        ? settings.prefix.bytes(
          this.peer,
          formatAddress(this.#socket.localAddr),
        )
        : settings.prefix.bytes("", ""),
    );
    this.#budget = answerBudget(settings.faults);
  }

  /** Takes one line of a read: counted, logged, dropped or answered. */
  readonly #onLine = (line: Uint8Array): void => {
    this.#batchLines++;
    if (this.#logLines) seedLog.receiving(line, this.#peer);
    const faults = this.#settings.faults;
    if (faults !== undefined) {
      // Past a close, half-close or stall: received, never answered.
      if (this.#answered + this.#batchAnswers >= this.#budget) return;
      if (faults.drops()) {
        this.#settings.stats.countFault("drop");
        this.#settings.tracer?.event("dropped line from {peer}", {
          peer: this.#peer,
        });
        return;
      }
    }
    this.#batchAnswers++;
    this.#formatter!.append(line);
  };

  /**
   * Splits one read into lines and answers them.
   *
   * @returns Why the connection ends, or `undefined` to read on.
   */
  async #handleLines(chunk: Uint8Array): Promise<CloseReason | undefined> {
    const settings = this.#settings;
    this.bytesIn += chunk.length;
    settings.stats.bytes_in += chunk.length;
    this.#logLines = seedLog.receivingEnabled();
    const fits = this.#reader!.push(chunk, this.#onLine);
    if (this.#batchLines > 0) {
      this.#idleTimer?.touch();
      await this.#answer(this.#formatter!);
      if (this.#reason !== undefined) return this.#reason;
      if (this.#answered >= this.#budget) return await this.#afterBudget();
    }
    if (!fits) {
      logger.warn(
        "Line from {peer} is longer than {maxLine} bytes: closing the connection (raise {option} to allow it)",
        { peer: this.#peer, maxLine: settings.maxLine, option: "maxLine" },
      );
      return "line too long";
    }
    return undefined;
  }

  /**
   * Counts the lines of one read batch and writes their replies: the one
   * place where the line counters change.
   */
  async #answer(formatter: ReplyFormatter): Promise<void> {
    const lines = this.#batchLines;
    if (lines === 0) return;
    const answers = this.#batchAnswers;
    this.#batchLines = 0;
    this.#batchAnswers = 0;
    this.lines += lines;
    const stats = this.#settings.stats;
    stats.lines_in += lines;
    if (answers === 0) return;
    try {
      // No promise on the hot path when there is no delay to wait out.
      if (this.#settings.faults?.options.delay !== undefined) {
        await this.#delayReply();
      }
      await this.#writeBytes(formatter.bytes());
      stats.lines_out += answers;
      this.#answered += answers;
    } finally {
      // Waiting for the next line, the connection holds no reply buffer.
      formatter.release();
    }
  }

  /** Waits out an injected delay; the idle timeout does not count it. */
  async #delayReply(): Promise<void> {
    const faults = this.#settings.faults!;
    const milliseconds = faults.delay();
    this.#settings.stats.countFault("delay");
    this.#settings.tracer?.event("delayed reply to {peer} by {ms} ms", {
      peer: this.peer,
      ms: milliseconds,
    });
    // Lines already received: a graceful stop waits for this reply too.
    this.#writing = true;
    this.#idleTimer?.suspend();
    try {
      await sleep(milliseconds, this.#stopSignal());
    } finally {
      this.#writing = false;
      this.#idleTimer?.resume();
    }
  }

  /** Aborted when the connection closes: ends the server's own waits. */
  #stopSignal(): AbortSignal {
    this.#stopped ??= new AbortController();
    if (this.#closed) this.#stopped.abort();
    return this.#stopped.signal;
  }

  /**
   * The answers allowed ran out: close, half-close or stall, as the faults
   * say (the first whose count was reached).
   */
  async #afterBudget(): Promise<CloseReason> {
    const settings = this.#settings;
    const options = settings.faults!.options;
    const peer = this.peer;
    const answered = this.#answered;
    if (options.closeAfter === answered) {
      settings.stats.countFault("close_after");
      settings.tracer?.event("closing {peer} after {n} replies", {
        peer,
        n: answered,
      });
      return "close after";
    }
    if (options.halfCloseAfter === answered) {
      settings.stats.countFault("half_close");
      settings.tracer?.event("half-closed {peer} after {n} replies", {
        peer,
        n: answered,
      });
      await this.#conn.closeWrite();
      // Keep reading, unanswered, until the client closes too.
      const buffer = new Uint8Array(MIN_READ_SIZE);
      while (true) {
        const read = await this.#conn.read(buffer);
        if (this.#reason !== undefined) return this.#reason;
        this.#traceRead(read);
        if (read === null) return "client closed";
        this.bytesIn += read;
        settings.stats.bytes_in += read;
      }
    }
    settings.stats.countFault("stall");
    settings.tracer?.event("stopped reading {peer} after {n} replies", {
      peer,
      n: answered,
    });
    // Nothing reads any more: the client's writes block once the buffers
    // fill, and only the idle timeout (or the client) ends it.
    const signal = this.#stopSignal();
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener("abort", () => resolve());
    });
    return this.#reason ?? "client closed";
  }

  async #echoBytes(initial?: Uint8Array): Promise<CloseReason> {
    const peer = this.peer;
    const handle = async (chunk: Uint8Array) => {
      this.bytesIn += chunk.length;
      this.#settings.stats.bytes_in += chunk.length;
      this.#idleTimer?.touch();
      if (seedLog.receivingEnabled()) seedLog.receiving(chunk, peer);
      // No promise on the hot path when there is no delay to wait out.
      if (this.#settings.faults?.options.delay !== undefined) {
        await this.#delayReply();
      }
      await this.#writeBytes(chunk);
    };
    if (initial !== undefined && initial.length > 0) {
      await handle(initial);
      if (this.#reason !== undefined) return this.#reason;
    }
    let buffer = new Uint8Array(FIRST_READ_SIZE);
    while (true) {
      const read = await this.#conn.read(buffer);
      if (this.#reason !== undefined) return this.#reason;
      this.#traceRead(read);
      if (read === null) return "client closed";
      await handle(buffer.subarray(0, read));
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
      const chunk = this.#settings.faults?.options.chunk;
      if (chunk === undefined || bytes.length <= chunk) {
        await writeAll(this.#conn, bytes);
      } else {
        await this.#writeChunked(bytes, chunk);
      }
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

  /** A reply in pieces of at most `chunk` bytes, each its own write. */
  async #writeChunked(bytes: Uint8Array, chunk: number): Promise<void> {
    const settings = this.#settings;
    const pause = settings.faults!.options.chunkDelay ?? 0;
    const pieces = Math.ceil(bytes.length / chunk);
    settings.stats.countFault("chunk");
    settings.tracer?.event(
      "chunked reply to {peer}: {pieces} writes of at most {chunk} bytes",
      {
        peer: this.peer,
        pieces,
        chunk,
      },
    );
    for (let offset = 0; offset < bytes.length; offset += chunk) {
      if (offset > 0 && pause > 0) {
        await sleep(pause, this.#stopSignal());
        if (this.#closed) throw new Deno.errors.BadResource("closed");
      }
      await writeAll(this.#conn, bytes.subarray(offset, offset + chunk));
    }
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopped?.abort();
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

/** Lines a connection may answer before a close, half-close or stall fault. */
function answerBudget(faults: FaultInjector | undefined): number {
  const options = faults?.options;
  if (options === undefined) return Infinity;
  return Math.min(
    options.closeAfter ?? Infinity,
    options.halfCloseAfter ?? Infinity,
    options.stallAfter ?? Infinity,
  );
}
