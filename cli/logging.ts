// Copyright 2026 the echolab authors. MIT license.
/**
 * Log sinks and formats for the program. The library only calls
 * `getLogger`; the program (`cli/cli.ts`, and each `--workers` worker for
 * itself) calls {@linkcode configureLogging} to decide where records go.
 *
 * @module
 */

import {
  configure,
  type LogLevel,
  type LogRecord,
  reset,
  type Sink,
} from "@logtape/logtape";

/** Levels the CLI accepts for `--log-level`. */
export const LOG_LEVELS = ["debug", "info", "warning", "error"] as const;
/** Formats the CLI accepts for `--log-format`. */
export const LOG_FORMATS = ["text", "json"] as const;
/** One of {@linkcode LOG_FORMATS}. */
export type LogFormat = typeof LOG_FORMATS[number];

/** A synchronous byte writer, such as `Deno.stderr`. */
export interface SyncWriter {
  /** Writes some of `bytes` and returns how many. */
  writeSync(bytes: Uint8Array): number;
}

/** Options of {@linkcode BufferedSink}. */
export interface BufferedSinkOptions {
  /**
   * Characters held before they are written out at once.
   *
   * @default {65536}
   */
  bufferSize?: number;
  /**
   * Milliseconds a record may wait in the buffer before it is written.
   *
   * @default {50}
   */
  flushInterval?: number;
}

const LEVEL_LABELS: Record<LogLevel, string> = {
  trace: "TRACE",
  debug: "DEBUG",
  info: "INFO",
  warning: "WARN",
  error: "ERROR",
  fatal: "FATAL",
};

const LEVEL_PADDED = Object.fromEntries(
  Object.entries(LEVEL_LABELS).map((
    [level, label],
  ) => [level, label.padEnd(5)]),
) as Record<LogLevel, string>;

// Records come in bursts within one millisecond: format its time once.
let lastTimestamp = -1;
let lastIsoTime = "";
function isoTime(timestamp: number): string {
  if (timestamp !== lastTimestamp) {
    lastTimestamp = timestamp;
    lastIsoTime = new Date(timestamp).toISOString();
  }
  return lastIsoTime;
}

// Categories are few and fixed arrays: join each once.
const categoryNames = new WeakMap<readonly string[], string>();
function categoryName(category: readonly string[]): string {
  let name = categoryNames.get(category);
  if (name === undefined) {
    name = category.join(".");
    categoryNames.set(category, name);
  }
  return name;
}

// Control characters would let a client rewrite the terminal or forge lines.
// deno-lint-ignore no-control-regex
const CONTROL_CHARACTERS = /[\x00-\x1f\x7f]/g;

function escapeControl(character: string): string {
  switch (character) {
    case "\n":
      return "\\n";
    case "\r":
      return "\\r";
    case "\t":
      return "\\t";
    default:
      return `\\x${character.charCodeAt(0).toString(16).padStart(2, "0")}`;
  }
}

/** Whether a string holds a control character: most values hold none. */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

function renderValue(value: unknown): string {
  if (typeof value === "string") {
    // Scanning is cheaper than a replace that finds nothing (the per-line
    // hot path with logs on).
    return hasControl(value)
      ? value.replace(CONTROL_CHARACTERS, escapeControl)
      : value;
  }
  if (typeof value === "number" || typeof value === "boolean") {
    return String(value);
  }
  // A list of names (ALPN protocols, TLS versions) reads as [h2, http/1.1].
  if (
    Array.isArray(value) &&
    value.every((item) => typeof item === "string" || typeof item === "number")
  ) {
    return `[${value.map(renderValue).join(", ")}]`;
  }
  return JSON.stringify(value) ?? String(value);
}

const PLACEHOLDER = /\{([^{}]*)\}/g;

/**
 * Puts the program's flags where a library log line names an option: the
 * library says `(raise {option} to allow it)` with `option: "maxLine"`, the
 * program prints `(raise --max-line to allow it)`. Properties named `option`
 * or ending in `Option` hold option names. Records without an `option`
 * property (nearly all of them) are returned as they are.
 *
 * @param record The record.
 * @param flags Option names to flags.
 * @returns The record with its message rewritten, or the record itself.
 *
 * @example
 * ```ts
 * import { withFlagHints } from "./logging.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const record = withFlagHints({
 *   category: ["echolab", "udp"], level: "warning", timestamp: 0,
 *   message: ["Truncated (raise ", "bufferSize", " to keep more)"],
 *   rawMessage: "Truncated (raise {option} to keep more)",
 *   properties: { option: "bufferSize" },
 * }, { bufferSize: "--buffer-size" });
 * strictEqual(record.message.join(""), "Truncated (raise --buffer-size to keep more)");
 * ```
 */
export function withFlagHints(
  record: LogRecord,
  flags: Readonly<Record<string, string>>,
): LogRecord {
  const properties = record.properties;
  if (
    properties.option === undefined || typeof record.rawMessage !== "string"
  ) {
    return record;
  }
  const message = [...record.message];
  let index = 1;
  for (const [, name] of record.rawMessage.matchAll(PLACEHOLDER)) {
    if (name === "option" || name!.endsWith("Option")) {
      const flag = flags[String(properties[name!])];
      if (flag !== undefined && index < message.length) message[index] = flag;
    }
    index += 2;
  }
  return { ...record, message };
}

/**
 * Formats a record as one line of text:
 * `2026-11-25T02:05:53.123Z INFO  echolab.tcp: Receiving data: hello from 127.0.0.1:54321`.
 * Control characters in values are escaped, so one record is always one line.
 *
 * @param record The record.
 * @returns The line, ending in `\n`.
 *
 * @example
 * ```ts
 * import { formatTextRecord } from "./logging.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const line = formatTextRecord({
 *   category: ["echolab", "tcp"], level: "info", timestamp: 0,
 *   message: ["Receiving data: ", "a\x1b[2J", " from ", "127.0.0.1:1", ""],
 *   rawMessage: "Receiving data: {line} from {peer}", properties: {},
 * });
 * strictEqual(line, "1970-01-01T00:00:00.000Z INFO  echolab.tcp: Receiving data: a\\x1b[2J from 127.0.0.1:1\n");
 * ```
 */
export function formatTextRecord(record: LogRecord): string {
  const time = isoTime(record.timestamp);
  let message = "";
  const parts = record.message;
  for (let i = 0; i < parts.length; i++) {
    message += i % 2 === 0 ? parts[i] as string : renderValue(parts[i]);
  }
  return `${time} ${LEVEL_PADDED[record.level]} ${
    categoryName(record.category)
  }: ${message}\n`;
}

/**
 * Formats a record as one JSON object on one line, with its properties as
 * fields: `{"time":"…","level":"info","logger":"echolab.tcp","message":"…","peer":"…"}`.
 *
 * @param record The record.
 * @returns The line, ending in `\n`.
 *
 * @example
 * ```ts
 * import { formatJsonRecord } from "./logging.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const line = formatJsonRecord({
 *   category: ["echolab", "udp"], level: "warning", timestamp: 0,
 *   message: ["Truncated datagram from ", "127.0.0.1:1", ""],
 *   rawMessage: "Truncated datagram from {peer}", properties: { peer: "127.0.0.1:1" },
 * });
 * deepStrictEqual(JSON.parse(line), {
 *   time: "1970-01-01T00:00:00.000Z", level: "warning", logger: "echolab.udp",
 *   message: "Truncated datagram from 127.0.0.1:1", peer: "127.0.0.1:1",
 * });
 * ```
 */
export function formatJsonRecord(record: LogRecord): string {
  let message = "";
  const parts = record.message;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    message += i % 2 === 0 || typeof part === "string"
      ? part as string
      : renderValue(part);
  }
  return JSON.stringify({
    time: isoTime(record.timestamp),
    level: record.level,
    logger: categoryName(record.category),
    message,
    ...record.properties,
  }) + "\n";
}

/**
 * A LogTape sink that collects formatted records and writes them in large
 * blocks: when the buffer is full, and at the latest `flushInterval`
 * milliseconds after the first record of a block. Writing is synchronous, so
 * a slow reader slows the server down instead of records being dropped: no
 * record is ever lost, none needs counting.
 *
 * @example
 * ```ts
 * import { BufferedSink, formatTextRecord } from "./logging.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const written: Uint8Array[] = [];
 * const writer = { writeSync: (bytes: Uint8Array) => written.push(bytes.slice()) && bytes.length };
 * const sink = new BufferedSink(writer, formatTextRecord);
 * sink.write({
 *   category: ["echolab"], level: "info", timestamp: 0,
 *   message: ["hello"], rawMessage: "hello", properties: {},
 * });
 * strictEqual(written.length, 0); // held until the buffer fills or time passes
 * sink.flush();
 * strictEqual(new TextDecoder().decode(written[0]), "1970-01-01T00:00:00.000Z INFO  echolab: hello\n");
 * ```
 */
export class BufferedSink implements Disposable {
  #writer: SyncWriter;
  #format: (record: LogRecord) => string;
  #bufferSize: number;
  #flushInterval: number;
  #pending = "";
  #timer: ReturnType<typeof setTimeout> | undefined;
  #encoder = new TextEncoder();

  /**
   * Creates the sink.
   *
   * @param writer Where the bytes go, e.g. `Deno.stderr`.
   * @param format Turns a record into a line.
   * @param options Buffer size and flush interval.
   */
  constructor(
    writer: SyncWriter,
    format: (record: LogRecord) => string,
    options: BufferedSinkOptions = {},
  ) {
    this.#writer = writer;
    this.#format = format;
    this.#bufferSize = options.bufferSize ?? 65_536;
    this.#flushInterval = options.flushInterval ?? 50;
  }

  /**
   * Takes one record (the LogTape `Sink` function is `(record) => sink.write(record)`).
   *
   * @param record The record to write.
   */
  write(record: LogRecord): void {
    this.#pending += this.#format(record);
    if (this.#pending.length >= this.#bufferSize) {
      this.flush();
    } else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.flush();
      }, this.#flushInterval);
      Deno.unrefTimer(this.#timer);
    }
  }

  /** Writes out everything held now. */
  flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#pending.length === 0) return;
    const bytes = this.#encoder.encode(this.#pending);
    this.#pending = "";
    let written = 0;
    while (written < bytes.length) {
      written += this.#writer.writeSync(bytes.subarray(written));
    }
  }

  /** Flushes; the sink keeps working if more records come. */
  [Symbol.dispose](): void {
    this.flush();
  }
}

/** Options of {@linkcode configureLogging}. */
export interface LoggingOptions {
  /** Lowest level written. */
  level: typeof LOG_LEVELS[number];
  /** `text` or `json`. */
  format: LogFormat;
  /**
   * Where records go.
   *
   * @default {Deno.stderr}
   */
  writer?: SyncWriter;
  /**
   * Show `--trace` events (the `echolab.trace` logger), whatever `level` says.
   *
   * @default {false}
   */
  trace?: boolean;
  /**
   * Send the `echolab.trace` records here instead (the lab's events): the
   * lab writes them back, with its packets, in time order, as
   * `echolab.lab.trace`.
   *
   * @default {undefined}
   */
  traceSink?: Sink;
  /**
   * Library option names to the flags that set them, put in place of the
   * option in log lines (see {@linkcode withFlagHints}).
   *
   * @default {{}}
   */
  flags?: Readonly<Record<string, string>>;
}

/**
 * Sends every `echolab` logger to a buffered sink. Call
 * {@linkcode stopLogging} before exit to flush it.
 *
 * @param options Level, format and destination.
 * @returns The sink, to flush it by hand before an immediate exit.
 *
 * @example
 * ```ts ignore
 * import { configureLogging, stopLogging } from "./logging.ts";
 *
 * await configureLogging({ level: "info", format: "json" });
 * await stopLogging();
 * ```
 */
export async function configureLogging(
  options: LoggingOptions,
): Promise<BufferedSink> {
  const sink = activeSink = new BufferedSink(
    options.writer ?? Deno.stderr,
    options.format === "json" ? formatJsonRecord : formatTextRecord,
  );
  const flags = options.flags ?? {};
  const logTapeSink: Sink = (record) =>
    sink.write(withFlagHints(record, flags));
  // The record is turned into text at once, so LogTape need not copy its
  // properties first (it does for sinks that might keep records for later).
  Object.defineProperty(logTapeSink, IMMEDIATE_SINK, { value: true });
  await configure({
    reset: true,
    sinks: {
      main: Object.assign(logTapeSink, {
        [Symbol.dispose]: () => sink.flush(),
      }),
      ...(options.traceSink === undefined ? {} : { lab: options.traceSink }),
    },
    loggers: [
      { category: ["echolab"], lowestLevel: options.level, sinks: ["main"] },
      // The servers' own loggers, configured as the parent is: a record then
      // finds its sink without LogTape checking the parent's plan each time
      // (the per-line "Receiving data" records).
      ...["tcp", "udp"].map((name) => ({
        category: ["echolab", name],
        lowestLevel: options.level,
        sinks: ["main"],
        parentSinks: "override" as const,
      })),
      // Asked for explicitly, so shown whatever --log-level says.
      {
        category: ["echolab", "trace"],
        lowestLevel: options.trace ? "info" : null,
        sinks: options.traceSink === undefined ? ["main"] : ["lab"],
        parentSinks: "override",
      },
      {
        category: ["echolab", "lab", "trace"],
        lowestLevel: options.traceSink === undefined ? null : "info",
        sinks: ["main"],
        parentSinks: "override",
      },
      {
        category: ["echolab", "stats"],
        lowestLevel: "info",
        sinks: ["main"],
        parentSinks: "override",
      },
      {
        category: ["logtape", "meta"],
        lowestLevel: "warning",
        sinks: ["main"],
      },
    ],
  });
  return sink;
}

let activeSink: BufferedSink | undefined;

/** LogTape's marker for sinks that consume a record before returning. */
const IMMEDIATE_SINK = Symbol.for("LogTape.sinkSnapshotPolicy.immediate");

/**
 * Writes out what the sink set by {@linkcode configureLogging} holds, at
 * once and synchronously (before `Deno.exit`).
 *
 * @example
 * ```ts
 * import { flushLogging } from "./logging.ts";
 *
 * flushLogging(); // nothing configured: nothing to do
 * ```
 */
export function flushLogging(): void {
  activeSink?.flush();
}

/**
 * Flushes and detaches the sinks set by {@linkcode configureLogging}.
 *
 * @returns Once every record is written.
 *
 * @example
 * ```ts ignore
 * import { stopLogging } from "./logging.ts";
 *
 * await stopLogging();
 * ```
 */
export async function stopLogging(): Promise<void> {
  await reset();
  activeSink = undefined;
}
