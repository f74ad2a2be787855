// Copyright 2026 the echolab authors. MIT license.
/**
 * Parsing and checking the command line of `main.ts`. Every mistake becomes
 * a {@linkcode UsageError} with one line that names the flag.
 *
 * Uses `parseArgs` from `node:util` (built into Deno) where `@std/cli` is
 * not reachable; only this file knows about it.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  DEFAULT_BUFFER_SIZE,
  DEFAULT_HOSTNAME,
  DEFAULT_MAX_LINE,
  DEFAULT_PREFIX,
  DEFAULT_TCP_PORT,
  DEFAULT_TIMEOUT,
  DEFAULT_UDP_PORT,
  MAX_DATAGRAM_SIZE,
} from "../lib/serving/defaults.ts";
import { MAX_DELAY, MAX_SEED } from "../lib/serving/defaults.ts";
import { ReplyPrefix } from "../lib/serving/reply_prefix.ts";
import { LOG_FORMATS, LOG_LEVELS, type LogFormat } from "./logging.ts";
import { UsageError } from "./usage_error.ts";

/** What to run: one server, both, or the client. */
export type Mode = "tcp" | "udp" | "all" | "send";
/** The modes that run servers. */
export type ServeMode = Exclude<Mode, "send">;
const MODES: readonly Mode[] = ["tcp", "udp", "all", "send"];
const SERVERS: readonly Mode[] = ["tcp", "udp", "all"];

/** A command line that runs one server or both. */
export interface ServeCommandLine {
  /** Run servers. */
  action: "serve";
  /** Which servers to run. */
  mode: ServeMode;
  /** Address to bind. */
  hostname: string;
  /** TCP port (from `--port` in `tcp` mode, `--tcp-port` in `all`). */
  tcpPort: number;
  /** UDP port (from `--port` in `udp` mode, `--udp-port` in `all`). */
  udpPort: number;
  /** Idle timeout in seconds; 0 never. */
  timeout: number;
  /** Connection lifetime in seconds; 0 unlimited. */
  lifetime: number;
  /** Most bytes in one TCP line. */
  maxLine: number;
  /** Most TCP connections at once; 0 unlimited. */
  maxConnections: number;
  /** Most TCP connections at once from one IP; 0 unlimited. */
  maxPerSource: number;
  /**
   * Source networks served, as given to `--allow` (checked by
   * {@linkcode parseAccessList}); `undefined` serves all.
   */
  allow: string | undefined;
  /** UDP datagrams answered per second per source IP; 0 unlimited. */
  udpRate: number;
  /** Whether the UDP reflection-loop guard is on. */
  loopGuard: boolean;
  /** UDP bytes kept per datagram. */
  bufferSize: number;
  /** Text before each echoed line. */
  prefix: string;
  /** RFC 862 echo. */
  raw: boolean;
  /** Lowest log level written. */
  logLevel: typeof LOG_LEVELS[number];
  /** `text` or `json`. */
  logFormat: LogFormat;
  /** Log every network event. */
  trace: boolean;
  /** TCP accept loops sharing the port. */
  workers: number;
  /** TLS certificate file for the TCP server. */
  tlsCert: string | undefined;
  /** TLS key file for the TCP server. */
  tlsKey: string | undefined;
  /** The side HTTP port (health, metrics); `undefined` serves none. */
  httpPort: number | undefined;
  /** Address of the side HTTP port. */
  httpHost: string;
  /** Seconds between the first stop signal and the stop. */
  drain: number;
  /** The name `{instance}` stands for; `undefined`: the host name. */
  instance: string | undefined;
  /** Milliseconds every reply waits: fixed, or a `[min, max]` range. */
  delay: number | [number, number] | undefined;
  /** TCP replies written in pieces of at most this many bytes. */
  chunk: number | undefined;
  /** Milliseconds between two pieces. */
  chunkDelay: number | undefined;
  /** Close a TCP connection after this many replies. */
  closeAfter: number | undefined;
  /** Half-close a TCP connection after this many replies. */
  halfCloseAfter: number | undefined;
  /** Stop reading a TCP connection after this many replies. */
  stallAfter: number | undefined;
  /** A line the TCP server sends first. */
  banner: string | undefined;
  /** The fraction of lines or datagrams left unanswered. */
  drop: number | undefined;
  /** The fraction of UDP replies sent twice. */
  duplicate: number | undefined;
  /** The seed of the faults' generator. */
  seed: number | undefined;
  /** Bytes of UDP replies that may wait out a delay at once. */
  maxDelayed: number;
  /** Capture the servers' packets with tcpdump and trace them. */
  capture: boolean;
  /** Also write the captured packets to this pcap file. */
  captureFile: string | undefined;
  /** TCP connections must start with a PROXY protocol header. */
  proxyProtocol: boolean;
  /** The peers that may send PROXY headers, as given to `--proxy-from`. */
  proxyFrom: string | undefined;
}

/** A command line that runs the client, `send`. */
export interface SendCommandLine {
  /** Run the client. */
  action: "send";
  /** Always `send`. */
  mode: "send";
  /** The server's address. */
  hostname: string;
  /** The server's port (the TCP or UDP default unless `--port` is given). */
  port: number;
  /** The messages; none means stdin's lines. */
  messages: string[];
  /** Over UDP instead of TCP. */
  udp: boolean;
  /** Times the message list is sent. */
  count: number;
  /** Seconds between sends. */
  interval: number;
  /** Seconds to wait for each UDP reply. */
  wait: number;
  /** Talk TLS. */
  tls: boolean;
  /** CA certificate file to trust. */
  ca: string | undefined;
  /** Capture the session's packets and print a sequence diagram. */
  capture: boolean;
  /** Also write the captured packets to this pcap file. */
  captureFile: string | undefined;
  /** Send a PROXY protocol header of this version first. */
  sendProxy: "v1" | "v2" | undefined;
  /** A new connection or socket for every message. */
  reconnect: boolean;
  /** Count the replies by their prefix. */
  tally: boolean;
}

/** `--help` or `--version`: print and exit. */
export type InfoCommandLine = { action: "help" } | { action: "version" };

/** The checked command line: one variant per thing the program can do. */
export type CommandLine =
  | ServeCommandLine
  | SendCommandLine
  | InfoCommandLine;

/** Defaults of every server flag, as in the seed. */
export const SERVE_DEFAULTS: Readonly<ServeCommandLine> = {
  action: "serve",
  mode: "tcp",
  hostname: DEFAULT_HOSTNAME,
  tcpPort: DEFAULT_TCP_PORT,
  udpPort: DEFAULT_UDP_PORT,
  timeout: DEFAULT_TIMEOUT,
  lifetime: 0,
  maxLine: DEFAULT_MAX_LINE,
  maxConnections: 0,
  maxPerSource: 0,
  allow: undefined,
  udpRate: 0,
  loopGuard: true,
  bufferSize: DEFAULT_BUFFER_SIZE,
  prefix: DEFAULT_PREFIX,
  raw: false,
  logLevel: "info",
  logFormat: "text",
  trace: false,
  workers: 1,
  tlsCert: undefined,
  tlsKey: undefined,
  httpPort: undefined,
  httpHost: DEFAULT_HOSTNAME,
  drain: 0,
  instance: undefined,
  proxyProtocol: false,
  proxyFrom: undefined,
  capture: false,
  captureFile: undefined,
  delay: undefined,
  chunk: undefined,
  chunkDelay: undefined,
  closeAfter: undefined,
  halfCloseAfter: undefined,
  stallAfter: undefined,
  banner: undefined,
  drop: undefined,
  duplicate: undefined,
  seed: undefined,
  maxDelayed: 1024 * 1024,
};

/** Defaults of every client flag. */
export const SEND_DEFAULTS: Readonly<Omit<SendCommandLine, "port">> = {
  action: "send",
  mode: "send",
  hostname: DEFAULT_HOSTNAME,
  messages: [],
  udp: false,
  count: 1,
  interval: 0,
  wait: 1,
  tls: false,
  ca: undefined,
  sendProxy: undefined,
  capture: false,
  captureFile: undefined,
  reconnect: false,
  tally: false,
};

/** The longest delay `setTimeout` can wait, in whole seconds (about 24 days). */
const MAX_SECONDS = 2_147_483;
const MAX_LINE_LIMIT = 1 << 30;
/** The most a count flag takes (--close-after, --udp-rate, ...). */
const MAX_COUNT = 1_000_000_000;

type Parsed =
  & Partial<Omit<ServeCommandLine, "action" | "mode">>
  & Partial<Omit<SendCommandLine, "action" | "mode" | "messages">>;

interface Flag {
  /** `true` for switches that take no value (or a test per mode). */
  boolean?: boolean | ((mode: Mode) => boolean);
  /** The library option the flag sets, for hints in log lines. */
  option?: string;
  /** Modes the flag applies to. */
  modes: readonly Mode[];
  /** Checks the value and stores it. */
  apply(value: string, into: Parsed, flag: string, mode: Mode): void;
}

const TCP: readonly Mode[] = ["tcp", "all"];
const UDP: readonly Mode[] = ["udp", "all"];
const SINGLE: readonly Mode[] = ["tcp", "udp", "send"];
const SEND: readonly Mode[] = ["send"];

const FLAGS: Record<string, Flag> = {
  "capture": {
    boolean: true,
    modes: MODES,
    option: "capture",
    apply: (_value, into) => into.capture = true,
  },
  "capture-file": {
    modes: MODES,
    apply: (value, into, flag) => into.captureFile = parseFile(value, flag),
  },
  "delay": {
    modes: SERVERS,
    option: "delay",
    apply: (value, into, flag) => into.delay = parseDelay(value, flag),
  },
  "chunk": {
    modes: TCP,
    option: "chunk",
    apply: (value, into, flag) =>
      into.chunk = parseCount(value, flag, 1, MAX_LINE_LIMIT),
  },
  "chunk-delay": {
    modes: TCP,
    option: "chunkDelay",
    apply: (value, into, flag) =>
      into.chunkDelay = parseCount(value, flag, 0, MAX_DELAY),
  },
  "close-after": {
    modes: TCP,
    option: "closeAfter",
    apply: (value, into, flag) =>
      into.closeAfter = parseCount(value, flag, 0, MAX_COUNT),
  },
  "half-close-after": {
    modes: TCP,
    option: "halfCloseAfter",
    apply: (value, into, flag) =>
      into.halfCloseAfter = parseCount(value, flag, 0, MAX_COUNT),
  },
  "stall-after": {
    modes: TCP,
    option: "stallAfter",
    apply: (value, into, flag) =>
      into.stallAfter = parseCount(value, flag, 0, MAX_COUNT),
  },
  "banner": {
    modes: TCP,
    option: "banner",
    apply: (value, into) => into.banner = value,
  },
  "drop": {
    modes: SERVERS,
    option: "drop",
    apply: (value, into, flag) => into.drop = parseRate(value, flag),
  },
  "duplicate": {
    modes: UDP,
    option: "duplicate",
    apply: (value, into, flag) => into.duplicate = parseRate(value, flag),
  },
  "seed": {
    modes: SERVERS,
    option: "seed",
    apply: (value, into, flag) =>
      into.seed = parseCount(value, flag, 0, MAX_SEED),
  },
  "max-delayed": {
    modes: UDP,
    option: "maxDelayed",
    apply: (value, into, flag) =>
      into.maxDelayed = parseCount(value, flag, 1, 1 << 30),
  },
  "http-port": {
    modes: SERVERS,
    apply: (value, into, flag) => into.httpPort = parsePort(value, flag),
  },
  "http-host": {
    modes: SERVERS,
    apply: (value, into, flag) => into.httpHost = parseHost(value, flag),
  },
  "drain": {
    modes: SERVERS,
    apply: (value, into, flag) => into.drain = parseSeconds(value, flag),
  },
  "instance": {
    modes: SERVERS,
    option: "instance",
    apply: (value, into, flag) => into.instance = parseInstance(value, flag),
  },
  "proxy-protocol": {
    boolean: (mode) => mode !== "send",
    modes: [...TCP, ...SEND],
    option: "proxyProtocol",
    apply: (value, into, flag, mode) => {
      if (mode === "send") {
        into.sendProxy = parseChoice(value, flag, ["v1", "v2"] as const);
      } else into.proxyProtocol = true;
    },
  },
  "proxy-from": {
    modes: TCP,
    option: "proxyFrom",
    apply: (value, into) => into.proxyFrom = value,
  },
  "trace": {
    option: "trace",
    boolean: true,
    modes: SERVERS,
    apply: (_value, into) => into.trace = true,
  },
  "workers": {
    modes: TCP,
    apply: (value, into, flag) =>
      into.workers = value === "auto"
        ? navigator.hardwareConcurrency
        : parseCount(value, flag, 1, 256),
  },
  "tls-cert": {
    modes: TCP,
    apply: (value, into, flag) => into.tlsCert = parseFile(value, flag),
  },
  "tls-key": {
    modes: TCP,
    apply: (value, into, flag) => into.tlsKey = parseFile(value, flag),
  },
  "udp": {
    boolean: true,
    modes: SEND,
    apply: (_value, into) => into.udp = true,
  },
  "reconnect": {
    boolean: true,
    modes: SEND,
    apply: (_value, into) => into.reconnect = true,
  },
  "tally": {
    boolean: true,
    modes: SEND,
    apply: (_value, into) => into.tally = true,
  },
  "count": {
    modes: SEND,
    apply: (value, into, flag) =>
      into.count = parseCount(value, flag, 1, 1_000_000),
  },
  "interval": {
    modes: SEND,
    apply: (value, into, flag) => into.interval = parseSeconds(value, flag),
  },
  "wait": {
    modes: SEND,
    apply: (value, into, flag) => into.wait = parseSeconds(value, flag),
  },
  "tls": {
    boolean: true,
    modes: SEND,
    apply: (_value, into) => into.tls = true,
  },
  "ca": {
    modes: SEND,
    apply: (value, into, flag) => into.ca = parseFile(value, flag),
  },
  "host": {
    option: "hostname",
    modes: MODES,
    apply: (value, into, flag) => into.hostname = parseHost(value, flag),
  },
  "port": {
    modes: SINGLE,
    apply: (value, into, flag) => into.port = parsePort(value, flag),
  },
  "tcp-port": {
    modes: ["all"],
    apply: (value, into, flag) => into.tcpPort = parsePort(value, flag),
  },
  "udp-port": {
    modes: ["all"],
    apply: (value, into, flag) => into.udpPort = parsePort(value, flag),
  },
  "timeout": {
    option: "timeout",
    modes: TCP,
    apply: (value, into, flag) => into.timeout = parseSeconds(value, flag),
  },
  "lifetime": {
    option: "lifetime",
    modes: TCP,
    apply: (value, into, flag) => into.lifetime = parseSeconds(value, flag),
  },
  "max-line": {
    option: "maxLine",
    modes: TCP,
    apply: (value, into, flag) =>
      into.maxLine = parseCount(value, flag, 1, MAX_LINE_LIMIT),
  },
  "max-connections": {
    option: "maxConnections",
    modes: TCP,
    apply: (value, into, flag) =>
      into.maxConnections = parseCount(value, flag, 0, 1_000_000),
  },
  "max-per-source": {
    option: "maxPerSource",
    modes: TCP,
    apply: (value, into, flag) =>
      into.maxPerSource = parseCount(value, flag, 0, 1_000_000),
  },
  "allow": {
    option: "allow",
    modes: SERVERS,
    apply: (value, into) => into.allow = value,
  },
  "udp-rate": {
    option: "rate",
    modes: UDP,
    apply: (value, into, flag) =>
      into.udpRate = parseCount(value, flag, 0, MAX_COUNT),
  },
  "no-loop-guard": {
    option: "loopGuard",
    boolean: true,
    modes: UDP,
    apply: (_value, into) => into.loopGuard = false,
  },
  "buffer-size": {
    option: "bufferSize",
    modes: UDP,
    apply: (value, into, flag) =>
      into.bufferSize = parseCount(value, flag, 1, MAX_DATAGRAM_SIZE),
  },
  "prefix": {
    option: "prefix",
    modes: SERVERS,
    apply: (value, into) => into.prefix = value,
  },
  "raw": {
    option: "raw",
    boolean: true,
    modes: SERVERS,
    apply: (_value, into) => into.raw = true,
  },
  "log-level": {
    modes: SERVERS,
    apply: (value, into, flag) =>
      into.logLevel = parseChoice(value, flag, LOG_LEVELS),
  },
  "log-format": {
    modes: SERVERS,
    apply: (value, into, flag) =>
      into.logFormat = parseChoice(value, flag, LOG_FORMATS),
  },
};

/**
 * Parses the arguments after `main.ts`.
 *
 * @param args The arguments, e.g. `Deno.args`.
 * @returns The checked options, with defaults filled in.
 * @throws {UsageError} On any mistake, naming the flag.
 *
 * @example
 * ```ts
 * import { parseCommandLine } from "./command_line.ts";
 * import { strictEqual, throws } from "node:assert/strict";
 *
 * const options = parseCommandLine(["udp", "--buffer-size", "512"]);
 * strictEqual(options.action, "serve");
 * if (options.action === "serve") {
 *   strictEqual(options.udpPort, 6000);
 *   strictEqual(options.bufferSize, 512);
 * }
 * throws(() => parseCommandLine(["tcp", "--port", "http"]), /--port/);
 * ```
 */
export function parseCommandLine(args: readonly string[]): CommandLine {
  if (args.includes("--help") || args.includes("-h")) return { action: "help" };
  if (args.includes("--version") || args.includes("-V")) {
    return { action: "version" };
  }
  // A flag may be a switch for the servers and take a value for send
  // (--proxy-protocol): the mode decides, so read the mode first.
  let { positionals, seen } = tokenize(args, "tcp");
  if (positionals[0] === "send") {
    ({ positionals, seen } = tokenize(args, "send"));
  }
  const [mode, messages] = parseMode(positionals);
  const parsed: Parsed = {};
  for (const { name, flag, value } of seen) {
    const definition = FLAGS[name]!;
    if (!definition.modes.includes(mode)) {
      throw new UsageError(
        `Flag ${flag} does not apply to mode ${mode}: it is for ${
          listing(definition.modes)
        }`,
      );
    }
    definition.apply(value, parsed, flag, mode);
  }
  return mode === "send"
    ? sendCommandLine(parsed, messages)
    : serveCommandLine(parsed, mode);
}

function isSwitch(flag: Flag, mode: Mode): boolean {
  return typeof flag.boolean === "function"
    ? flag.boolean(mode)
    : flag.boolean === true;
}

function tokenize(args: readonly string[], mode: Mode) {
  const options = Object.fromEntries(
    Object.entries(FLAGS).map((
      [name, flag],
    ) => [
      name,
      { type: isSwitch(flag, mode) ? "boolean" : "string" } as const,
    ]),
  );
  const { tokens } = parseArgs({
    args: [...args],
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const positionals: string[] = [];
  const seen: { name: string; flag: string; value: string }[] = [];
  for (const token of tokens) {
    if (token.kind === "positional") {
      positionals.push(token.value);
      continue;
    }
    if (token.kind === "option-terminator") continue;
    const written = token.rawName;
    const flag = FLAGS[token.name];
    if (flag === undefined || !written.startsWith("--")) {
      throw new UsageError(`Unknown flag ${written}`);
    }
    if (isSwitch(flag, mode)) {
      if (token.inlineValue) {
        throw new UsageError(`Flag ${written} takes no value`);
      }
      seen.push({ name: token.name, flag: written, value: "" });
    } else {
      if (token.value === undefined) {
        throw new UsageError(`Missing value for ${written}`);
      }
      seen.push({ name: token.name, flag: written, value: token.value });
    }
  }
  return { positionals, seen };
}

function serveCommandLine(parsed: Parsed, mode: ServeMode): ServeCommandLine {
  const { port, ...rest } = parsed;
  const result: ServeCommandLine = { ...SERVE_DEFAULTS, ...rest, mode };
  // RFC 862 echoes the whole datagram; the seed's line mode keeps 5 bytes.
  if (result.raw && parsed.bufferSize === undefined) {
    result.bufferSize = MAX_DATAGRAM_SIZE;
  }
  if (port !== undefined) {
    if (mode === "tcp") result.tcpPort = port;
    else result.udpPort = port;
  }
  if (result.proxyFrom !== undefined && !result.proxyProtocol) {
    throw new UsageError("Flag --proxy-from needs --proxy-protocol");
  }
  if (result.captureFile !== undefined && !result.capture) {
    throw new UsageError("Flag --capture-file needs --capture");
  }
  if (result.capture) result.trace = true;
  if (result.captureFile !== undefined && mode === "all") {
    throw new UsageError(
      "Flag --capture-file takes one server's packets: use it with tcp or udp",
    );
  }
  if (result.capture && result.workers > 1) {
    throw new UsageError(
      "Flag --capture does not work with --workers: capture with one accept loop",
    );
  }
  if (result.chunkDelay !== undefined && result.chunk === undefined) {
    throw new UsageError("Flag --chunk-delay needs --chunk");
  }
  if (result.prefix !== DEFAULT_PREFIX) checkPrefix(result.prefix);
  if ((result.tlsCert === undefined) !== (result.tlsKey === undefined)) {
    throw new UsageError(
      "Flags --tls-cert and --tls-key go together: give both files, or neither",
    );
  }
  return result;
}

function sendCommandLine(parsed: Parsed, messages: string[]): SendCommandLine {
  const udp = parsed.udp ?? false;
  const result: SendCommandLine = {
    ...SEND_DEFAULTS,
    ...parsed,
    port: parsed.port ?? (udp ? DEFAULT_UDP_PORT : DEFAULT_TCP_PORT),
    messages,
  };
  if (result.captureFile !== undefined && !result.capture) {
    throw new UsageError("Flag --capture-file needs --capture");
  }
  if (udp && result.sendProxy !== undefined) {
    throw new UsageError(
      "Flag --proxy-protocol is for TCP: drop --udp or drop it",
    );
  }
  if (udp && (result.tls || result.ca)) {
    throw new UsageError(
      `Flag ${result.tls ? "--tls" : "--ca"} is for TCP: drop --udp or drop it`,
    );
  }
  if (result.ca !== undefined && !result.tls) {
    throw new UsageError("Flag --ca needs --tls");
  }
  return result;
}

/**
 * The command-line flag of each library option that has one
 * (`maxLine` → `--max-line`): the program puts the flag where the
 * library's log lines name the option.
 *
 * @example
 * ```ts
 * import { OPTION_FLAGS } from "./command_line.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(OPTION_FLAGS.maxLine, "--max-line");
 * strictEqual(OPTION_FLAGS.rate, "--udp-rate");
 * ```
 */
export const OPTION_FLAGS: Readonly<Record<string, string>> = Object
  .fromEntries(
    Object.entries(FLAGS)
      .filter(([, flag]) => flag.option !== undefined)
      .map(([name, flag]) => [flag.option!, `--${name}`]),
  );

function parseMode(positionals: string[]): [Mode, string[]] {
  const [mode, ...rest] = positionals;
  if (mode === undefined) {
    throw new UsageError("Missing mode: expected tcp, udp, all or send");
  }
  if (!MODES.includes(mode as Mode)) {
    throw new UsageError(
      `Unknown mode ${JSON.stringify(mode)}: expected tcp, udp, all or send`,
    );
  }
  if (mode !== "send" && rest.length > 0) {
    throw new UsageError(
      `Unexpected argument ${JSON.stringify(rest[0])} after mode ${mode}`,
    );
  }
  return [mode as Mode, rest];
}

function listing(items: readonly string[]): string {
  return items.length === 1
    ? items[0]!
    : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}

function parseDelay(value: string, flag: string): number | [number, number] {
  const match = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(value);
  const min = match ? Number(match[1]) : NaN;
  const max = match?.[2] === undefined ? min : Number(match[2]);
  if (!(min >= 0 && max <= MAX_DELAY && min <= max)) {
    throw new UsageError(
      `Invalid ${flag} ${
        JSON.stringify(value)
      }: expected MS or MIN-MAX, milliseconds from 0 to ${MAX_DELAY}, MIN not above MAX`,
    );
  }
  return match?.[2] === undefined ? min : [min, max];
}

function parseRate(value: string, flag: string): number {
  const rate = /^(0|1|0?\.\d+|1\.0+|0\.\d*)$/.test(value) ? Number(value) : NaN;
  if (!(rate >= 0 && rate <= 1)) {
    throw new UsageError(
      `Invalid ${flag} ${
        JSON.stringify(value)
      }: expected a fraction from 0 to 1, e.g. 0.1`,
    );
  }
  return rate;
}

function checkPrefix(prefix: string): void {
  try {
    new ReplyPrefix(prefix, { instance: "" });
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw new UsageError(
      `Invalid --prefix ${JSON.stringify(prefix)}: ${error.message}`,
    );
  }
}

function parseInstance(value: string, flag: string): string {
  // deno-lint-ignore no-control-regex
  if (value === "" || value.length > 253 || /[\x00-\x1f\x7f]/.test(value)) {
    throw new UsageError(
      `Invalid ${flag} ${
        JSON.stringify(value)
      }: expected a name of 1 to 253 characters without control characters`,
    );
  }
  return value;
}

function parseFile(value: string, flag: string): string {
  if (value === "") {
    throw new UsageError(`Invalid ${flag} "": expected a file path`);
  }
  return value;
}

/**
 * Checks a port number.
 *
 * @param value The text given.
 * @param flag The flag, for the message.
 * @returns The port.
 *
 * @example
 * ```ts
 * import { parsePort } from "./command_line.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(parsePort("8000", "--port"), 8000);
 * ```
 */
export function parsePort(value: string, flag: string): number {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port <= 65535)) {
    throw new UsageError(
      `Invalid ${flag} ${
        JSON.stringify(value)
      }: expected a whole number from 0 to 65535`,
    );
  }
  return port;
}

/**
 * Checks a duration in seconds (decimals allowed, 0 meaning off).
 *
 * @param value The text given.
 * @param flag The flag, for the message.
 * @returns The seconds.
 *
 * @example
 * ```ts
 * import { parseSeconds } from "./command_line.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(parseSeconds("0.5", "--timeout"), 0.5);
 * ```
 */
export function parseSeconds(value: string, flag: string): number {
  const seconds = /^\d{1,10}(\.\d{1,3})?$/.test(value) ? Number(value) : NaN;
  if (!(seconds <= MAX_SECONDS)) {
    throw new UsageError(
      `Invalid ${flag} ${
        JSON.stringify(value)
      }: expected seconds from 0 to ${MAX_SECONDS} (decimals allowed, 0 = off)`,
    );
  }
  return seconds;
}

/**
 * Checks a whole number within bounds.
 *
 * @param value The text given.
 * @param flag The flag, for the message.
 * @param min Smallest value allowed.
 * @param max Largest value allowed.
 * @returns The number.
 *
 * @example
 * ```ts
 * import { parseCount } from "./command_line.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(parseCount("512", "--buffer-size", 1, 65507), 512);
 * ```
 */
export function parseCount(
  value: string,
  flag: string,
  min: number,
  max: number,
): number {
  const count = /^\d{1,16}$/.test(value) ? Number(value) : NaN;
  if (!(count >= min && count <= max)) {
    throw new UsageError(
      `Invalid ${flag} ${
        JSON.stringify(value)
      }: expected a whole number from ${min} to ${max}`,
    );
  }
  return count;
}

function parseChoice<T extends string>(
  value: string,
  flag: string,
  choices: readonly T[],
): T {
  if (!choices.includes(value as T)) {
    throw new UsageError(
      `Invalid ${flag} ${JSON.stringify(value)}: expected one of ${
        choices.join(", ")
      }`,
    );
  }
  return value as T;
}

const IPV4 =
  /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HOST_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

/**
 * Checks a bind address: an IPv4 address, an IPv6 address (brackets
 * optional), or a host name.
 *
 * @param value The text given.
 * @param flag The flag, for the message.
 * @returns The address without brackets.
 *
 * @example
 * ```ts
 * import { parseHost } from "./command_line.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(parseHost("[::1]", "--host"), "::1");
 * strictEqual(parseHost("localhost", "--host"), "localhost");
 * ```
 */
export function parseHost(value: string, flag: string): string {
  const unbracketed = value.startsWith("[") && value.endsWith("]")
    ? value.slice(1, -1)
    : value;
  if (unbracketed.includes(":")) {
    if (isIpv6(unbracketed)) return unbracketed;
  } else if (IPV4.test(unbracketed)) {
    return unbracketed;
  } else if (
    unbracketed === value && !/^[\d.]+$/.test(value) && value.length <= 253 &&
    value.split(".").every((label) => HOST_LABEL.test(label))
  ) {
    return value;
  }
  throw new UsageError(
    `Invalid ${flag} ${
      JSON.stringify(value)
    }: expected an IPv4 address, an IPv6 address or a host name`,
  );
}

function isIpv6(value: string): boolean {
  if (!/^[0-9a-f:.]+$/i.test(value)) return false;
  try {
    new URL(`http://[${value}]/`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Parses a list of CIDR ranges given to a flag (`--allow`, `--proxy-from`).
 * The address library is loaded only here, when such a flag is given, so
 * that a plain start stays fast.
 *
 * @param text The flag's value.
 * @param flag The flag, for the message.
 * @returns The list.
 * @throws {UsageError} Naming the entry that is not a range.
 *
 * @example
 * ```ts
 * import { parseAccessList } from "./command_line.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * deepStrictEqual((await parseAccessList("127.0.0.1/8", "--allow")).ranges, ["127.0.0.0/8"]);
 * ```
 */
export async function parseAccessList(
  text: string,
  flag: string,
): Promise<import("../lib/policy/access_list.ts").AccessList> {
  const { AccessList } = await import("../lib/policy/access_list.ts");
  try {
    return AccessList.parse(text);
  } catch (error) {
    throw new UsageError(
      `Invalid ${flag}: ${error instanceof Error ? error.message : error}`,
    );
  }
}
