// Copyright 2026 the echolab authors. MIT license.
/**
 * A capped line splitter over raw bytes, shared by the TCP and UDP servers.
 *
 * @module
 */

import { DEFAULT_MAX_LINE } from "./defaults.ts";

export { DEFAULT_MAX_LINE };

const NEWLINE = 10;
const CARRIAGE_RETURN = 13;
const EMPTY = new Uint8Array(0);
/** The most a reader keeps for partial lines between long ones. */
const RETAINED_PENDING_CAPACITY = 4096;
const INITIAL_PENDING_CAPACITY = 256;

/** Options for {@linkcode LineReader}. */
export interface LineReaderOptions {
  /**
   * Most bytes one line may hold, not counting its `\n` nor the `\r` before
   * it. A longer line makes {@linkcode LineReader.push} return `false`, and
   * the reader never buffers more than `maxLine + 1` bytes.
   *
   * @default {65536}
   */
  maxLine?: number;
}

/**
 * Called once per complete line. The bytes are a view that is only valid
 * during the call: copy them to keep them.
 */
export type LineHandler = (line: Uint8Array) => void;

/**
 * Splits bytes that arrive in chunks of any size into lines.
 *
 * A line ends at `\n`; one `\r` right before it is removed. Lines wholly
 * inside a chunk are handed out as views of that chunk without copying; only
 * the unfinished tail of a chunk is copied, into a buffer that grows up to
 * `maxLine + 1` bytes and no further.
 *
 * @example Split lines across chunks
 * ```ts
 * import { LineReader } from "./line_reader.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const reader = new LineReader({ maxLine: 16 });
 * const lines: string[] = [];
 * const collect = (line: Uint8Array) => lines.push(new TextDecoder().decode(line));
 * const encoder = new TextEncoder();
 * reader.push(encoder.encode("hel"), collect);
 * reader.push(encoder.encode("lo\r\nwor"), collect);
 * reader.push(encoder.encode("ld"), collect);
 * reader.flush(collect);
 * deepStrictEqual(lines, ["hello", "world"]);
 * ```
 */
export class LineReader {
  /** Most bytes in one line, as given in the options. */
  readonly maxLine: number;
  #pending: Uint8Array = EMPTY;
  #pendingLength = 0;

  /**
   * Creates a reader.
   *
   * @param options Limits of the reader.
   */
  constructor(options: LineReaderOptions = {}) {
    const maxLine = options.maxLine ?? DEFAULT_MAX_LINE;
    if (!Number.isSafeInteger(maxLine) || maxLine < 0) {
      throw new RangeError(
        `Cannot create LineReader: maxLine must be a non-negative integer, got ${maxLine}`,
      );
    }
    this.maxLine = maxLine;
  }

  /** Bytes of the unfinished line held since the last `\n`. */
  get pendingLength(): number {
    return this.#pendingLength;
  }

  /**
   * Feeds one chunk and calls `onLine` for every line it completes, in order.
   *
   * @param chunk The bytes just read.
   * @param onLine Called with each complete line (a view, valid during the call).
   * @returns `false` when a line is longer than `maxLine`; the lines before it
   * were handed out, and the reader must not be used again. `true` otherwise.
   */
  push(chunk: Uint8Array, onLine: LineHandler): boolean {
    let start = 0;
    let newline = chunk.indexOf(NEWLINE);
    if (this.#pendingLength > 0 && newline !== -1) {
      if (!this.#append(chunk, 0, newline)) return false;
      this.#emitPending(onLine);
      start = newline + 1;
      newline = chunk.indexOf(NEWLINE, start);
    }
    const maxLine = this.maxLine;
    while (newline !== -1) {
      const end = newline > start && chunk[newline - 1] === CARRIAGE_RETURN
        ? newline - 1
        : newline;
      if (end - start > maxLine) return false;
      onLine(chunk.subarray(start, end));
      start = newline + 1;
      newline = chunk.indexOf(NEWLINE, start);
    }
    return start === chunk.length || this.#append(chunk, start, chunk.length);
  }

  /**
   * Hands out the unfinished line, if any, as the last line of the stream
   * (used when the peer half-closes, and at the end of a datagram).
   *
   * @param onLine Called with the final line if there is one.
   * @returns Whether a line was handed out.
   */
  flush(onLine: LineHandler): boolean {
    if (this.#pendingLength === 0) return false;
    this.#emitPending(onLine);
    return true;
  }

  /**
   * Hands over the pending line; a buffer grown past a few KiB for a long
   * line is then let go, so that a reader waiting for more keeps little.
   */
  #emitPending(onLine: LineHandler): void {
    const line = this.#pending.subarray(0, this.#pendingLength);
    this.#pendingLength = 0;
    onLine(withoutCarriageReturn(line, 0, line.length));
    if (this.#pending.length > RETAINED_PENDING_CAPACITY) this.#pending = EMPTY;
  }

  /** Copies `chunk[start, end)` after the pending bytes, within the cap. */
  #append(chunk: Uint8Array, start: number, end: number): boolean {
    if (start === end) return true;
    const length = this.#pendingLength + end - start;
    // One byte past the cap may still be the `\r` of a `\r\n`.
    if (
      length > this.maxLine + 1 ||
      (length === this.maxLine + 1 && chunk[end - 1] !== CARRIAGE_RETURN)
    ) {
      return false;
    }
    if (length > this.#pending.length) {
      let capacity = Math.max(
        this.#pending.length * 2,
        INITIAL_PENDING_CAPACITY,
      );
      while (capacity < length) capacity *= 2;
      const grown = new Uint8Array(Math.min(capacity, this.maxLine + 1));
      grown.set(this.#pending.subarray(0, this.#pendingLength));
      this.#pending = grown;
    }
    this.#pending.set(chunk.subarray(start, end), this.#pendingLength);
    this.#pendingLength = length;
    return true;
  }
}

function withoutCarriageReturn(
  bytes: Uint8Array,
  start: number,
  end: number,
): Uint8Array {
  return end > start && bytes[end - 1] === CARRIAGE_RETURN
    ? bytes.subarray(start, end - 1)
    : bytes.subarray(start, end);
}
