// Copyright 2026 the echolab authors. MIT license.
/**
 * The echo stage of a TCP connection in line mode: splits what is read into
 * lines, and gathers the replies of one read batch; the fault stage may
 * drop a line, and its close policy caps the replies.
 *
 * @module
 */

import { LineReader } from "./line_reader.ts";
import { formatAddress } from "./address.ts";
import { ReplyFormatter } from "./reply_formatter.ts";
import type { ReplyPrefix } from "./reply_prefix.ts";
import type { SeedLog } from "./_seed_log.ts";
import type { ConnectionValues, TcpFaultStage, TcpLink } from "./stages.ts";

/**
 * The lines of one connection, a read batch at a time: `push` each read,
 * then `take` the batch and write `reply()` when it has answers.
 *
 * @example
 * ```ts ignore
 * const echo = new LineEcho(link, { maxLine: 1024, prefix, seedLog });
 * if (echo.push(bytes) && echo.take() > 0) await write(echo.reply());
 * echo.release();
 * ```
 */
export class LineEcho {
  /** Lines of the batch taken last. */
  lines = 0;
  /** Replies in the batch taken last. */
  answers = 0;
  /** Replies written so far (counted by {@linkcode LineEcho.answered}). */
  replied = 0;
  #link: TcpLink;
  #reader: LineReader;
  #formatter: ReplyFormatter;
  /** Where the fault stage in force is read, line by line. */
  #settings: { readonly faults?: TcpFaultStage };
  #seedLog: SeedLog;
  #logLines = false;
  #batchLines = 0;
  #batchAnswers = 0;

  /**
   * Sets up the stage for one connection.
   *
   * @param link The connection.
   * @param options The line cap, the prefix (filled for the link's peer,
   * the server's `local` end and what TLS and the PROXY header learnt, when
   * it names them), and the seed's log lines.
   * The fault stage in force is read from the link, line by line.
   */
  constructor(
    link: TcpLink & {
      readonly faults?: TcpFaultStage;
      readonly values?: ConnectionValues;
    },
    options: {
      maxLine: number;
      prefix: ReplyPrefix;
      local: Deno.NetAddr | Deno.UnixAddr;
      seedLog: SeedLog;
    },
  ) {
    this.#link = link;
    this.#reader = new LineReader({ maxLine: options.maxLine });
    const prefix = options.prefix;
    this.#formatter = new ReplyFormatter(
      prefix.perPeer
        ? prefix.bytes({
          ...link.values,
          peer: link.peer,
          local: formatAddress(options.local),
        })
        : prefix.bytes({}),
    );
    this.#settings = link;
    this.#seedLog = options.seedLog;
  }

  /**
   * Splits one read into the batch.
   *
   * @param chunk The bytes read.
   * @returns `false` when a line is longer than `maxLine`.
   */
  push(chunk: Uint8Array): boolean {
    this.#logLines = this.#seedLog.receivingEnabled();
    return this.#reader.push(chunk, this.#onLine);
  }

  /** Ends the stream: an unfinished last line joins the batch. */
  end(): void {
    this.#logLines = this.#seedLog.receivingEnabled();
    this.#reader.flush(this.#onLine);
  }

  /**
   * Takes the batch gathered since the last call.
   *
   * @returns Its lines (see {@linkcode LineEcho.answers} for its replies).
   */
  take(): number {
    this.lines = this.#batchLines;
    this.answers = this.#batchAnswers;
    this.#batchLines = 0;
    this.#batchAnswers = 0;
    return this.lines;
  }

  /**
   * The replies of the batch taken.
   *
   * @returns The bytes, valid until {@linkcode LineEcho.release}.
   */
  reply(): Uint8Array {
    return this.#formatter.bytes();
  }

  /** Counts the batch's replies as written. */
  answered(): void {
    this.replied += this.answers;
  }

  /** Gives the reply buffer back: a waiting connection holds none. */
  release(): void {
    this.#formatter.release();
  }

  /** Replies before the fault stage's close policy acts. */
  get budget(): number {
    return this.#settings.faults?.budget ?? Infinity;
  }

  /** Whether the close policy's budget is spent. */
  get spent(): boolean {
    return this.replied >= this.budget;
  }

  readonly #onLine = (line: Uint8Array): void => {
    this.#batchLines++;
    if (this.#logLines) this.#seedLog.receiving(line, this.#link.peer);
    const faults = this.#settings.faults;
    if (faults !== undefined) {
      // Past the close policy's budget: received, never answered.
      if (this.replied + this.#batchAnswers >= faults.budget) return;
      if (faults.drops(this.#link)) return;
    }
    this.#batchAnswers++;
    this.#formatter.append(line);
  };
}
