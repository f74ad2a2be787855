// Copyright 2026 the echolab authors. MIT license.
/**
 * Which message a UDP reply echoes, at a cost that does not grow with the
 * number of messages outstanding. A server answers the first k bytes of a
 * datagram (all of them, or its buffer's worth) line by line after a prefix
 * the client does not know: the reply's last line is that prefix and the
 * last line of those k bytes. The first reply is matched by scanning; it
 * shows the prefix's length, and the first cut reply the buffer's size.
 * From then on each reply is one lookup in a map keyed by the echoed line,
 * of the whole messages and of the messages cut at the buffer's size.
 *
 * @module
 */

/** A message the matcher knows. */
export interface Echoed {
  /** The message as sent. */
  readonly bytes: Uint8Array;
}

/** The message a reply echoes, and in which list it was. */
export interface EchoMatch<T> {
  /** The message. */
  entry: T;
  /** The list it is in (0 first). */
  list: number;
}

const NEWLINE = 10;
const CARRIAGE_RETURN = 13;
const latin1 = new TextDecoder("latin1");

/** A map key that tells byte strings apart. */
function keyOf(bytes: Uint8Array): string {
  return latin1.decode(bytes);
}

/**
 * The line a server answers last for the first `k` bytes of `message`: the
 * last line of them, without its `\n` (or `\r\n`) when they end with one.
 */
function segmentAt(message: Uint8Array, k: number): Uint8Array {
  let end = k;
  if (end > 0 && message[end - 1] === NEWLINE) {
    end--;
    if (end > 0 && message[end - 1] === CARRIAGE_RETURN) end--;
  }
  const start = end === 0 ? 0 : message.lastIndexOf(NEWLINE, end - 1) + 1;
  return message.subarray(start, end);
}

/** Whether `bytes` ends with `suffix`. */
export function endsWith(bytes: Uint8Array, suffix: Uint8Array): boolean {
  const offset = bytes.length - suffix.length;
  if (offset < 0) return false;
  for (let i = 0; i < suffix.length; i++) {
    if (bytes[offset + i] !== suffix[i]) return false;
  }
  return true;
}

/** The longest prefix of `pattern` that `text` ends with (KMP). */
function prefixEndingText(pattern: Uint8Array, text: Uint8Array): number {
  if (pattern.length === 0) return 0;
  const failure = new Int32Array(pattern.length);
  for (let i = 1, k = 0; i < pattern.length; i++) {
    while (k > 0 && pattern[i] !== pattern[k]) k = failure[k - 1]!;
    if (pattern[i] === pattern[k]) k++;
    failure[i] = k;
  }
  let state = 0;
  for (let i = 0; i < text.length; i++) {
    while (
      state > 0 && (state === pattern.length || text[i] !== pattern[state])
    ) {
      state = failure[state - 1]!;
    }
    if (text[i] === pattern[state]) state++;
  }
  return state;
}

/**
 * The largest k such that the reply's last line ends with the line a
 * server answers last for the first k bytes of `message` (that line not
 * empty); 0 for an empty message; -1 when no k fits. Linear in the sizes.
 */
export function echoedLength(last: Uint8Array, message: Uint8Array): number {
  let lineEnd = message.length;
  while (true) {
    const lineStart = lineEnd === 0
      ? 0
      : message.lastIndexOf(NEWLINE, lineEnd - 1) + 1;
    if (lineEnd < message.length) {
      // The line with its newline: k just past it.
      const whole = segmentAt(message, lineEnd + 1);
      if (whole.length > 0 && endsWith(last, whole)) return lineEnd + 1;
    }
    const cut = prefixEndingText(message.subarray(lineStart, lineEnd), last);
    if (cut > 0) return lineStart + cut;
    if (lineStart === 0) break;
    lineEnd = lineStart - 1;
  }
  return message.length === 0 ? 0 : -1;
}

/** The last line of a reply, without its newline. */
function lastLine(reply: Uint8Array): Uint8Array {
  let end = reply.length;
  if (end > 0 && reply[end - 1] === NEWLINE) end--;
  return reply.subarray(reply.lastIndexOf(NEWLINE, end - 1) + 1, end);
}

/** One list of messages, in the order they came, indexed by echoed line. */
class IndexedList<T extends Echoed> {
  readonly entries = new Set<T>();
  #whole = new Map<string, T[]>();
  #cut = new Map<string, T[]>();
  #cutLength: number | undefined;
  #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  add(entry: T): void {
    this.entries.add(entry);
    const bytes = entry.bytes;
    push(this.#whole, keyOf(segmentAt(bytes, bytes.length)), entry);
    const cut = this.#cutLength;
    if (cut !== undefined && bytes.length > cut) {
      push(this.#cut, keyOf(segmentAt(bytes, cut)), entry);
    }
    if (this.entries.size > this.#limit) {
      this.delete(this.entries.values().next().value!);
    }
  }

  delete(entry: T): void {
    if (!this.entries.delete(entry)) return;
    const bytes = entry.bytes;
    pull(this.#whole, keyOf(segmentAt(bytes, bytes.length)), entry);
    const cut = this.#cutLength;
    if (cut !== undefined && bytes.length > cut) {
      pull(this.#cut, keyOf(segmentAt(bytes, cut)), entry);
    }
  }

  /** Indexes every message by its cut at `length` too. */
  cutAt(length: number): void {
    this.#cutLength = length;
    this.#cut.clear();
    for (const entry of this.entries) {
      if (entry.bytes.length > length) {
        push(this.#cut, keyOf(segmentAt(entry.bytes, length)), entry);
      }
    }
  }

  /** The oldest of the longest echoes whose line is `key`. */
  lookup(key: string): { entry: T; length: number } | undefined {
    let best: { entry: T; length: number } | undefined;
    for (const entry of this.#whole.get(key) ?? []) {
      if (best === undefined || entry.bytes.length > best.length) {
        best = { entry, length: entry.bytes.length };
      }
    }
    const cut = this.#cutLength;
    if (cut !== undefined && (best === undefined || best.length < cut)) {
      const entry = this.#cut.get(key)?.[0];
      if (entry !== undefined) best = { entry, length: cut };
    }
    return best;
  }
}

function push<T>(map: Map<string, T[]>, key: string, entry: T): void {
  const bucket = map.get(key);
  if (bucket === undefined) map.set(key, [entry]);
  else bucket.push(entry);
}

function pull<T>(map: Map<string, T[]>, key: string, entry: T): void {
  const bucket = map.get(key);
  if (bucket === undefined) return;
  const index = bucket.indexOf(entry);
  if (index !== -1) bucket.splice(index, 1);
  if (bucket.length === 0) map.delete(key);
}

/**
 * Matches UDP replies to the messages they echo, over several lists
 * (waiting, expired, answered): the longest echo wins; among equals, the
 * earlier list, and in a list the oldest message.
 *
 * @example
 * ```ts ignore
 * const matcher = new ReplyMatcher<{ bytes: Uint8Array }>([Infinity, 1024]);
 * const hello = { bytes: new TextEncoder().encode("hello world") };
 * matcher.add(0, hello);
 * matcher.match(new TextEncoder().encode("received msg: hello\n")); // { entry: hello, list: 0 }
 * ```
 */
export class ReplyMatcher<T extends Echoed> {
  #lists: IndexedList<T>[];
  #prefixLength: number | undefined;
  #cutLength: number | undefined;

  /**
   * Makes the lists.
   *
   * @param limits How many messages each list keeps; the oldest go first.
   */
  constructor(limits: readonly number[]) {
    this.#lists = limits.map((limit) => new IndexedList<T>(limit));
  }

  /**
   * Adds a message to a list.
   *
   * @param list The list.
   * @param entry The message.
   */
  add(list: number, entry: T): void {
    this.#lists[list]!.add(entry);
  }

  /**
   * Removes a message from a list.
   *
   * @param list The list.
   * @param entry The message.
   */
  delete(list: number, entry: T): void {
    this.#lists[list]!.delete(entry);
  }

  /**
   * Finds the message a reply echoes.
   *
   * @param reply The reply datagram.
   * @returns The message and its list, or `undefined` when it echoes none.
   */
  match(reply: Uint8Array): EchoMatch<T> | undefined {
    const last = lastLine(reply);
    const prefix = this.#prefixLength;
    if (prefix !== undefined && last.length >= prefix) {
      const key = keyOf(last.subarray(prefix));
      let best: { entry: T; length: number; list: number } | undefined;
      this.#lists.forEach((list, index) => {
        const found = list.lookup(key);
        if (
          found !== undefined &&
          (best === undefined || found.length > best.length)
        ) {
          best = { ...found, list: index };
        }
      });
      if (best !== undefined) return { entry: best.entry, list: best.list };
    }
    return this.#scan(last);
  }

  /** The first replies, or one the maps do not know: every message tried. */
  #scan(last: Uint8Array): EchoMatch<T> | undefined {
    let best: (EchoMatch<T> & { length: number }) | undefined;
    this.#lists.forEach((list, index) => {
      for (const entry of list.entries) {
        const length = echoedLength(last, entry.bytes);
        if (length >= 0 && (best === undefined || length > best.length)) {
          best = { entry, list: index, length };
        }
      }
    });
    if (best === undefined) return undefined;
    const { entry, length } = best;
    // What the match shows of the server: its prefix, and its buffer when
    // it cut the message.
    this.#prefixLength = last.length - segmentAt(entry.bytes, length).length;
    if (
      length > 0 && length < entry.bytes.length && length !== this.#cutLength
    ) {
      this.#cutLength = length;
      for (const list of this.#lists) list.cutAt(length);
    }
    return { entry: best.entry, list: best.list };
  }
}
