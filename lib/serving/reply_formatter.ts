// Copyright 2026 the echolab authors. MIT license.
/**
 * The reply format shared by the TCP and UDP servers: `<prefix><line>\n`.
 *
 * @module
 */

import { DEFAULT_PREFIX } from "./defaults.ts";

export { DEFAULT_PREFIX };

const NEWLINE = 10;
const INITIAL_CAPACITY = 1024;
/** A batch buffer grown past this is dropped after use, so idle peers stay small. */
const RETAINED_CAPACITY = 65_536;
/** Buffers lent back by {@linkcode ReplyFormatter.release}, kept up to this many. */
const POOL_LIMIT = 256;
const pool: Uint8Array[] = [];
const EMPTY = new Uint8Array(0);

const encoder = new TextEncoder();

/**
 * Formats one reply: the prefix, the line's bytes unchanged, and `\n`.
 *
 * @param line The line, without its line ending.
 * @param prefix Text put before the line.
 * @returns A new buffer holding the reply.
 *
 * @example Answer one line
 * ```ts
 * import { formatReply } from "./reply_formatter.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const reply = formatReply(new TextEncoder().encode("hello"));
 * strictEqual(new TextDecoder().decode(reply), "received msg: hello\n");
 * ```
 */
export function formatReply(
  line: Uint8Array,
  prefix: string | Uint8Array = DEFAULT_PREFIX,
): Uint8Array {
  const formatter = new ReplyFormatter(prefix);
  formatter.append(line);
  return formatter.bytes().slice();
}

/**
 * Collects the replies to a batch of lines into one buffer, so that a batch
 * read in one `read` is answered with one `write`.
 *
 * The buffer is reused between batches: {@linkcode ReplyFormatter.bytes}
 * returns a view that stays valid until the next
 * {@linkcode ReplyFormatter.clear} or {@linkcode ReplyFormatter.append}.
 *
 * @example Answer a pipelined batch
 * ```ts
 * import { ReplyFormatter } from "./reply_formatter.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const encoder = new TextEncoder();
 * const formatter = new ReplyFormatter("> ");
 * formatter.append(encoder.encode("a"));
 * formatter.append(encoder.encode("b"));
 * strictEqual(new TextDecoder().decode(formatter.bytes()), "> a\n> b\n");
 * formatter.clear();
 * strictEqual(formatter.length, 0);
 * ```
 */
export class ReplyFormatter {
  #prefix: Uint8Array;
  #buffer: Uint8Array;
  #length = 0;

  /**
   * Creates a formatter.
   *
   * @param prefix Text put before each line (UTF-8), or its bytes.
   */
  constructor(prefix: string | Uint8Array = DEFAULT_PREFIX) {
    this.#prefix = typeof prefix === "string" ? encoder.encode(prefix) : prefix;
    this.#buffer = EMPTY;
  }

  /** The prefix as bytes. */
  get prefix(): Uint8Array {
    return this.#prefix;
  }

  /**
   * Puts another prefix before the lines appended from now on (a server
   * whose prefix names the peer switches it per peer).
   *
   * @param prefix The prefix's bytes.
   */
  usePrefix(prefix: Uint8Array): void {
    this.#prefix = prefix;
  }

  /** Bytes collected since the last {@linkcode ReplyFormatter.clear}. */
  get length(): number {
    return this.#length;
  }

  /**
   * Appends the reply to one line.
   *
   * @param line The line's bytes, without its line ending.
   */
  append(line: Uint8Array): void {
    const prefix = this.#prefix;
    const lineLength = line.length;
    const prefixLength = prefix.length;
    let offset = this.#length;
    const end = offset + prefixLength + lineLength + 1;
    if (end > this.#buffer.length) this.#grow(end);
    const buffer = this.#buffer;
    // Short copies are cheaper as a loop than as a call to `set`.
    if (prefixLength <= 32) {
      for (let i = 0; i < prefixLength; i++) buffer[offset + i] = prefix[i]!;
    } else {
      buffer.set(prefix, offset);
    }
    offset += prefixLength;
    if (lineLength <= 32) {
      for (let i = 0; i < lineLength; i++) buffer[offset + i] = line[i]!;
    } else {
      buffer.set(line, offset);
    }
    buffer[end - 1] = NEWLINE;
    this.#length = end;
  }

  /**
   * The replies collected so far.
   *
   * @returns A view of the internal buffer, valid until the next change.
   */
  bytes(): Uint8Array {
    return this.#buffer.subarray(0, this.#length);
  }

  /** Empties the batch; a buffer grown large is given back. */
  clear(): void {
    this.#length = 0;
    if (this.#buffer.length > RETAINED_CAPACITY) {
      this.#buffer = new Uint8Array(0);
    }
  }

  /**
   * Empties the batch and lends the buffer to a pool shared by every
   * formatter, to be taken again by the next {@linkcode ReplyFormatter.append}
   * of any of them: a connection that waits for its next line then holds
   * no reply buffer.
   */
  release(): void {
    this.#length = 0;
    const buffer = this.#buffer;
    this.#buffer = EMPTY;
    if (
      buffer.length > 0 && buffer.length <= RETAINED_CAPACITY &&
      pool.length < POOL_LIMIT
    ) pool.push(buffer);
  }

  #grow(needed: number): void {
    if (this.#length === 0) {
      const lent = pool.pop();
      if (lent !== undefined && lent.length >= needed) {
        this.#buffer = lent;
        return;
      }
      if (lent !== undefined) pool.push(lent);
    }
    let capacity = Math.max(this.#buffer.length * 2, INITIAL_CAPACITY);
    while (capacity < needed) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = grown;
  }
}
