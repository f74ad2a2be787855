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
import { UNIX_SOURCE } from "./address.ts";
import {
  countClose,
  failureReason,
  logAccepted,
  traceRead,
} from "./_tcp_events.ts";
import { connectionTimers, type IdleTimer } from "./_idle_timer.ts";
import { LineEcho } from "./_line_echo.ts";
import { runPreamble } from "./_tcp_preamble.ts";
import { SeedLog } from "./_seed_log.ts";
import type { ServerStats } from "./server_stats.ts";
import type {
  AcceptedConn,
  ByteStream,
  CloseReason,
  ConnectionValues,
  TcpFaultStage,
  TcpLink,
} from "./stages.ts";
import type {
  ConnectionState,
  TcpConnectionSettings,
} from "./_tcp_settings.ts";
import type { Tracer } from "./tracer.ts";
import { writeAll } from "./write_all.ts";

/** The first read buffer, doubled whenever a read fills it. */
const FIRST_READ_SIZE = 64;
/** The most a connection keeps for reading once a read did not fill it. */
const IDLE_READ_SIZE = 4096;
const MAX_READ_SIZE = 65_536;
const logger = getLogger(["echolab", "tcp"]);
const seedLog = new SeedLog(logger);

/** Serves one accepted connection until it ends, then logs its close. */
export class TcpConnection implements TcpLink {
  /** Complete lines received. */
  lines = 0;
  /** Bytes read from the peer. */
  bytesIn = 0;
  /** Bytes written to the peer. */
  bytesOut = 0;
  /** The client's host as counted against the per-source limit, once admitted. */
  source: string | undefined;
  /** What the preamble and TLS learnt, for the prefix placeholders. */
  values: ConnectionValues | undefined;
  /** What the log lines call it (`connection` when absent). */
  readonly unit: string | undefined;
  #state: ConnectionState = "preamble";
  #reason: CloseReason | undefined;
  #socket: AcceptedConn;
  #stream: ByteStream;
  #settings: TcpConnectionSettings;
  #peer: string;
  #startedAt = performance.now();
  #stopped: AbortController | undefined;
  #idleTimer: IdleTimer | undefined;
  #lifetimeTimer: ReturnType<typeof setTimeout> | undefined;
  #lines: LineEcho | undefined; // line mode's stage; none in raw mode
  #stageSeen: TcpFaultStage | undefined;
  #stageOn = false;

  /**
   * Takes over an accepted connection (this object closes it), with its
   * peer as `host:port` and, without a preamble, its admitted host.
   */
  constructor(
    conn: AcceptedConn,
    settings: TcpConnectionSettings,
    admitted: {
      peer: string;
      source?: string;
      unit?: string;
      values?: ConnectionValues;
    },
  ) {
    this.source = admitted.source;
    this.unit = admitted.unit;
    this.values = admitted.values;
    this.#socket = conn;
    this.#stream = conn;
    this.#settings = settings;
    this.#peer = admitted.peer;
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
  /** The fault stage in force, if it selects this connection (asked once). */
  get faults(): TcpFaultStage | undefined {
    const stage = this.#settings.faults;
    if (stage === undefined) return undefined;
    if (stage !== this.#stageSeen) {
      this.#stageSeen = stage;
      const remote = this.#socket.remoteAddr;
      this.#stageOn = stage.selects(
        this.source ?? ("hostname" in remote ? remote.hostname : UNIX_SOURCE),
      );
    }
    return this.#stageOn ? stage : undefined;
  }
  /** Aborted once the connection closes (made on first use). */
  get signal(): AbortSignal {
    this.#stopped ??= new AbortController();
    if (this.#state === "closed") this.#stopped.abort();
    return this.#stopped.signal;
  }

  /**
   * Runs the connection through its stages until it ends, then closes it.
   *
   * @returns Once the connection is closed and its close is counted.
   */
  async serve(): Promise<void> {
    const settings = this.#settings;
    let opened = false;
    try {
      // Without a preamble the server admitted the client at accept: no
      // promise to wait for.
      const initial =
        settings.preamble === undefined && settings.tls === undefined
          ? undefined
          : await this.#preamble();
      if (this.#reason !== undefined) return;
      opened = true;
      settings.stats.opened();
      this.#state = "reading";
      const started = this.#start(initial);
      if (started !== undefined) await started;
      let buffer = new Uint8Array(FIRST_READ_SIZE);
      // The loop is here, not in a method: one suspended frame per connection.
      while (this.#reason === undefined) {
        const read = await this.#stream.read(buffer);
        if (this.#reason !== undefined) break;
        traceRead(this, read);
        if (read === null) {
          const lines = this.#lines;
          if (lines !== undefined) {
            lines.end();
            if (lines.take() > 0) await this.#answer(lines);
          }
          this.#reason ??= "client closed";
          break;
        }
        await this.#handle(buffer.subarray(0, read));
        if (read === buffer.length) {
          if (buffer.length < MAX_READ_SIZE) {
            buffer = new Uint8Array(buffer.length * 2);
          }
        } else if (buffer.length > IDLE_READ_SIZE) {
          // The client sent all it had: waiting for more, hold less.
          buffer = new Uint8Array(IDLE_READ_SIZE);
        }
      }
    } catch (error) {
      this.#reason ??= failureReason(error, this);
    } finally {
      this.#idleTimer?.clear();
      clearTimeout(this.#lifetimeTimer);
      this.#close();
      try {
        countClose(this, opened, this.#startedAt);
      } finally {
        // The server waits for every connection it knows at shutdown.
        this.#settings.onClosed(this);
      }
    }
  }

  /** The preamble, the client's admission, TLS; bytes past them come back. */
  async #preamble(): Promise<Uint8Array | undefined> {
    const settings = this.#settings;
    const admitted = await runPreamble(this.#socket, settings, {
      peer: this.#peer,
      timeout: settings.timeout,
      tracer: settings.tracer,
      signal: this.signal,
    });
    if (this.#reason !== undefined) return undefined;
    if (typeof admitted === "string") {
      this.#reason = admitted;
      return undefined;
    }
    this.#stream = admitted.stream;
    this.#peer = admitted.peer;
    if (admitted.source !== undefined) this.source = admitted.source;
    this.values = admitted.values;
    if (admitted.session !== undefined) {
      settings.stats.tlsHandshake(admitted.session.version);
    }
    return admitted.initial;
  }

  /** Timers, banner, line mode, bytes past the preamble: a promise if any write. */
  #start(initial: Uint8Array | undefined): Promise<void> | undefined {
    const settings = this.#settings;
    logAccepted(this, this.#socket.localAddr);
    [this.#idleTimer, this.#lifetimeTimer] = connectionTimers(settings, this);
    this.#socket.setNoDelay?.(true);
    if (!settings.raw) {
      this.#lines = new LineEcho(this, {
        ...settings,
        local: this.#socket.localAddr,
        seedLog,
      });
    }
    const banner = this.faults?.begin(this);
    const first = initial !== undefined && initial.length > 0;
    if (banner === undefined && !first) return undefined;
    return (async () => {
      if (banner !== undefined) await this.#write(banner);
      if (first) await this.#handle(initial);
    })();
  }

  /** Echoes one read: raw, or split into lines and answered. */
  async #handle(chunk: Uint8Array): Promise<void> {
    const settings = this.#settings;
    this.#counted(chunk.length);
    const lines = this.#lines;
    if (lines === undefined) {
      this.#idleTimer?.touch();
      if (seedLog.receivingEnabled()) {
        seedLog.receivingBytes(chunk, this.#peer);
      }
      await this.#reply(chunk);
      return;
    }
    const fits = lines.push(chunk);
    if (lines.take() > 0) {
      this.#idleTimer?.touch();
      await this.#answer(lines);
      if (this.#reason !== undefined) return;
      if (lines.spent) {
        const faults = this.faults;
        if (faults !== undefined) {
          this.#reason = await faults.afterBudget(this, lines.replied);
        }
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

  /** Counts the lines of one read batch and writes their replies. */
  async #answer(echo: LineEcho): Promise<void> {
    const stats = this.#settings.stats;
    this.lines += echo.lines;
    stats.lines_in += echo.lines;
    if (echo.answers === 0) return;
    try {
      await this.#reply(echo.reply());
      stats.lines_out += echo.answers;
      echo.answered();
    } finally {
      // Waiting for the next line, the connection holds no reply buffer.
      echo.release();
    }
  }

  /** A reply, after the fault stage's delay (a graceful stop waits for it). */
  async #reply(bytes: Uint8Array): Promise<void> {
    // No promise on the hot path when there is no delay to wait out.
    const wait = this.faults?.delay(this);
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
      const faults = this.faults;
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

  /** Counts bytes read. */
  #counted(bytes: number): void {
    this.bytesIn += bytes;
    this.#settings.stats.bytes_in += bytes;
  }
  /** See {@linkcode TcpLink.readUnanswered}. */
  readUnanswered(read: number | null): void {
    traceRead(this, read);
    if (read !== null) this.#counted(read);
  }

  /** See {@linkcode TcpLink.suspendIdle}. */
  suspendIdle(): void {
    this.#idleTimer?.suspend();
  }
  /** See {@linkcode TcpLink.resumeIdle}. */
  resumeIdle(): void {
    this.#idleTimer?.resume();
  }
  /** See {@linkcode TcpLink.reset}. */
  reset(): void {
    this.#reason ??= "reset after";
    this.#state = "closed";
    this.#stopped?.abort();
    this.#socket.reset!();
  }

  /**
   * Ends the connection gracefully, as Go's `Server.Shutdown` does: reading
   * stops now, a write in progress (its lines received) finishes first.
   */
  drain(reason: CloseReason): void {
    if (!this.#end(reason)) return;
    if (this.#state === "writing") this.#state = "draining";
    else this.#close();
  }

  /**
   * Closes the connection at once, as Go's `Server.Close` does, even in the
   * middle of a write (a draining one too); the first reason given stays.
   */
  abort(reason: CloseReason): void {
    this.#end(reason);
    this.#close();
  }

  /** Records the first reason; `false` when the connection was already ending. */
  #end(reason: CloseReason): boolean {
    if (this.#reason !== undefined) return false;
    this.#reason = reason;
    // A QUIC stream ends with its connection: "client closed", no timeout.
    if (reason !== "shutdown" && reason !== "client closed") {
      this.#settings.tracer?.event("timeout for {peer}: {reason}", {
        peer: this.#peer,
        reason,
      });
    }
    return true;
  }

  #close(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#stopped?.abort();
    try {
      this.#stream.close();
    } catch {
      // Already closed by the runtime.
    }
  }
}
