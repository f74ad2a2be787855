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
  DEFAULT_HTTP_PORT,
  DEFAULT_MAX_DELAYED,
  DEFAULT_MAX_LINE,
  DEFAULT_MAX_STREAMS,
  DEFAULT_PREFIX,
  DEFAULT_QUIC_PORT,
  DEFAULT_TCP_PORT,
  DEFAULT_TIMEOUT,
  DEFAULT_UDP_PORT,
  DEFAULT_WAIT,
  MAX_BANDWIDTH,
  MAX_BURST,
  MAX_CONNECTIONS_LIMIT,
  MAX_COUNT,
  MAX_DATAGRAM_SIZE,
  MAX_DELAY,
  MAX_DELAYED_LIMIT,
  MAX_DURATION,
  MAX_LINE_LIMIT,
  MAX_SEED,
} from "../lib/serving/defaults.ts";
import { ReplyPrefix } from "../lib/serving/reply_prefix.ts";
import { isServerName } from "../lib/tls/server_name.ts";
import { LOG_FORMATS, LOG_LEVELS, type LogFormat } from "./logging.ts";
import { UsageError } from "./usage_error.ts";

/** What to run: one server, both, or the client. */
export type Mode = "tcp" | "udp" | "quic" | "all" | "lab" | "send";
/** The modes that run servers. */
export type ServeMode = Exclude<Mode, "send">;
const MODES: readonly Mode[] = ["tcp", "udp", "quic", "all", "lab", "send"];
const SERVERS: readonly Mode[] = ["tcp", "udp", "quic", "all", "lab"];

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
  /** The QUIC port (`quic`, and `--quic-port` in `all`). */
  quicPort: number;
  /** QUIC: streams a client may have open at once, per direction. */
  maxStreams: number;
  /** QUIC: write the certificate served (the ephemeral one) here. */
  certOut: string | undefined;
  /** QUIC: bytes of a datagram kept; 0 (the default) keeps it whole. */
  quicBufferSize: number;
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
  /**
   * TLS certificate files for the TCP server, by the server name they are
   * for (lower case); `""` is the default certificate's.
   */
  tlsCerts: Readonly<Record<string, string>>;
  /** Their key files, by the same names. */
  tlsKeys: Readonly<Record<string, string>>;
  /** The ALPN protocols the TLS server offers, by preference. */
  alpn: string[] | undefined;
  /** Serve the TCP echo on this Unix socket instead of TCP. */
  unix: string | undefined;
  /** The side HTTP port (health, metrics); `undefined` serves none. */
  httpPort: number | undefined;
  /** Address of the side HTTP port. */
  httpHost: string;
  /** Seconds between the first stop signal and the stop. */
  drain: number;
  /** Control endpoints on the HTTP port. */
  control: boolean;
  /** The file holding the control token; `undefined`: loopback peers only. */
  controlTokenFile: string | undefined;
  /** The networks `/control/dial` may reach, as given (checked later). */
  dialAllow: string | undefined;
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
  /** Replies before a TCP connection is reset (an RST alone). */
  resetAfter: number | undefined;
  /** Standard deviation added to each delay, in milliseconds. */
  jitter: number | undefined;
  /** TCP replies' bytes per second per connection. */
  bandwidth: number | undefined;
  /** Mean length of runs of losses. */
  dropBurst: number | undefined;
  /** The networks faults are aimed at, as given (checked later). */
  faultsFor: string | undefined;
  /** The fraction of TCP connections that get faults. */
  faultConnections: number | undefined;
  /** The seed of the faults' generator. */
  seed: number | undefined;
  /** Bytes of UDP replies that may wait out a delay at once. */
  maxDelayed: number;
  /** Capture the servers' packets with tcpdump and trace them. */
  capture: boolean;
  /** Serve the lab page on the HTTP port (mode `lab`, or `--lab`). */
  lab: boolean;
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
  /** Over QUIC instead of TCP. */
  quic: boolean;
  /** QUIC: streams the lines are spread over. */
  streams: number;
  /** QUIC: each message as a datagram. */
  datagram: boolean;
  /** The same lines over TCP, TCP+TLS and QUIC, in one table. */
  compare: boolean;
  /** --compare: the plain TCP port. */
  tcpPort: number;
  /** --compare: the TLS port; none skips TCP+TLS. */
  tlsPort: number | undefined;
  /** --compare: the QUIC port. */
  quicPort: number;
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
  /** TLS: the server name to send. */
  sni: string | undefined;
  /** Talk to the server on this Unix socket instead of TCP. */
  unix: string | undefined;
  /** TLS: the ALPN protocols to offer. */
  alpn: string[] | undefined;
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
  quicPort: DEFAULT_QUIC_PORT,
  maxStreams: DEFAULT_MAX_STREAMS,
  certOut: undefined,
  quicBufferSize: 0,
  timeout: DEFAULT_TIMEOUT / 1000,
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
  tlsCerts: {},
  tlsKeys: {},
  alpn: undefined,
  unix: undefined,
  httpPort: undefined,
  httpHost: DEFAULT_HOSTNAME,
  drain: 0,
  control: false,
  controlTokenFile: undefined,
  dialAllow: undefined,
  instance: undefined,
  proxyProtocol: false,
  proxyFrom: undefined,
  capture: false,
  captureFile: undefined,
  lab: false,
  delay: undefined,
  chunk: undefined,
  chunkDelay: undefined,
  closeAfter: undefined,
  halfCloseAfter: undefined,
  stallAfter: undefined,
  banner: undefined,
  drop: undefined,
  duplicate: undefined,
  jitter: undefined,
  resetAfter: undefined,
  bandwidth: undefined,
  dropBurst: undefined,
  faultsFor: undefined,
  faultConnections: undefined,
  seed: undefined,
  maxDelayed: DEFAULT_MAX_DELAYED,
};

/** Defaults of every client flag. */
export const SEND_DEFAULTS: Readonly<Omit<SendCommandLine, "port">> = {
  action: "send",
  mode: "send",
  hostname: DEFAULT_HOSTNAME,
  messages: [],
  udp: false,
  quic: false,
  streams: 1,
  datagram: false,
  compare: false,
  tcpPort: DEFAULT_TCP_PORT,
  tlsPort: undefined,
  quicPort: DEFAULT_QUIC_PORT,
  count: 1,
  interval: 0,
  wait: DEFAULT_WAIT / 1000,
  tls: false,
  ca: undefined,
  sni: undefined,
  unix: undefined,
  alpn: undefined,
  sendProxy: undefined,
  capture: false,
  captureFile: undefined,
  reconnect: false,
  tally: false,
};

/** The longest delay `setTimeout` can wait, in whole seconds (about 24 days). */
const MAX_SECONDS = Math.floor(MAX_DURATION / 1000);

type Parsed =
  & Partial<Omit<ServeCommandLine, "action" | "mode">>
  & Partial<Omit<SendCommandLine, "action" | "mode" | "messages">>;

/** A flag's line in `--help`. */
export interface FlagHelp {
  /** Where `--help` lists it: server flags, faults, or the client's. */
  section: "server" | "faults" | "client";
  /** The value's name (`PORT`); none for a switch. */
  value?: string;
  /** What it does, in words (wrapped by `--help`). */
  text: string;
  /** The default, in brackets after the text. */
  default?: string;
}

interface Flag {
  /** Its lines in `--help`, one per section it appears in. */
  help: FlagHelp[];
  /** `true` for switches that take no value (or a test per mode). */
  boolean?: boolean | ((mode: Mode) => boolean);
  /** The library option the flag sets, for hints in log lines. */
  option?: string;
  /** Modes the flag applies to. */
  modes: readonly Mode[];
  /** Checks the value and stores it. */
  apply(value: string, into: Parsed, flag: string, mode: Mode): void;
}

const TCP: readonly Mode[] = ["tcp", "all", "lab"];
/** The stream servers: TCP's flags that QUIC's streams take too. */
const STREAMS: readonly Mode[] = ["tcp", "quic", "all", "lab"];
const QUIC: readonly Mode[] = ["quic", "all", "lab"];
const UDP: readonly Mode[] = ["udp", "all", "lab"];
const SINGLE: readonly Mode[] = ["tcp", "udp", "quic", "send"];
const SEND: readonly Mode[] = ["send"];

const FLAGS: Record<string, Flag> = {
  "host": {
    help: [{
      section: "server",
      value: "ADDRESS",
      text: "address to bind, IPv4, IPv6 or name",
      default: `${DEFAULT_HOSTNAME}`,
    }, {
      section: "client",
      value: "ADDRESS",
      text: "the server's address",
      default: `${DEFAULT_HOSTNAME}`,
    }],
    option: "hostname",
    modes: MODES,
    apply: (value, into, flag) => into.hostname = parseHost(value, flag),
  },
  "port": {
    help: [{
      section: "server",
      value: "PORT",
      text: "port for tcp, udp or quic; 0 picks a free one",
      default:
        `${DEFAULT_TCP_PORT} / ${DEFAULT_UDP_PORT} / ${DEFAULT_QUIC_PORT}`,
    }, {
      section: "client",
      value: "PORT",
      text: "the server's port",
      default: `${DEFAULT_TCP_PORT} / ${DEFAULT_UDP_PORT}`,
    }],
    modes: SINGLE,
    apply: (value, into, flag) => into.port = parsePort(value, flag),
  },
  "tcp-port": {
    help: [{
      section: "server",
      value: "PORT",
      text: "TCP port in modes all and lab",
      default: `${DEFAULT_TCP_PORT}`,
    }, {
      section: "client",
      value: "PORT",
      text: "--compare: the plain TCP port",
      default: `${DEFAULT_TCP_PORT}`,
    }],
    modes: ["all", "lab", "send"],
    apply: (value, into, flag) => into.tcpPort = parsePort(value, flag),
  },
  "udp-port": {
    help: [{
      section: "server",
      value: "PORT",
      text: "UDP port in modes all and lab",
      default: `${DEFAULT_UDP_PORT}`,
    }],
    modes: ["all", "lab"],
    apply: (value, into, flag) => into.udpPort = parsePort(value, flag),
  },
  "quic-port": {
    help: [{
      section: "server",
      value: "PORT",
      text: "QUIC port (UDP) in modes all and lab",
      default: `${DEFAULT_QUIC_PORT}`,
    }, {
      section: "client",
      value: "PORT",
      text: "--compare: the QUIC port",
      default: `${DEFAULT_QUIC_PORT}`,
    }],
    modes: ["all", "lab", "send"],
    apply: (value, into, flag) => into.quicPort = parsePort(value, flag),
  },
  "timeout": {
    help: [{
      section: "server",
      value: "SECONDS",
      text:
        "TCP idle time allowed without a complete line (QUIC: the connection's idle timeout); 0 = never",
      default: `${DEFAULT_TIMEOUT / 1000}`,
    }],
    option: "timeout",
    modes: STREAMS,
    apply: (value, into, flag) => into.timeout = parseSeconds(value, flag),
  },
  "lifetime": {
    help: [{
      section: "server",
      value: "SECONDS",
      text: "TCP connection lifetime, whatever it does; 0 = no limit",
      default: "0",
    }],
    option: "lifetime",
    modes: TCP,
    apply: (value, into, flag) => into.lifetime = parseSeconds(value, flag),
  },
  "max-line": {
    help: [{
      section: "server",
      value: "BYTES",
      text:
        "longest TCP line; a longer one closes its connection (QUIC: its stream)",
      default: `${DEFAULT_MAX_LINE}`,
    }],
    option: "maxLine",
    modes: STREAMS,
    apply: (value, into, flag) =>
      into.maxLine = parseCount(value, flag, 1, MAX_LINE_LIMIT),
  },
  "max-connections": {
    help: [{
      section: "server",
      value: "N",
      text:
        "TCP (and QUIC) connections at once, the next is closed at once; 0 = no limit",
      default: "0",
    }],
    option: "maxConnections",
    modes: STREAMS,
    apply: (value, into, flag) =>
      into.maxConnections = parseCount(value, flag, 0, MAX_CONNECTIONS_LIMIT),
  },
  "max-per-source": {
    help: [{
      section: "server",
      value: "N",
      text:
        "TCP connections at once from one IP, the next is closed at once; 0 = no limit",
      default: "0",
    }],
    option: "maxPerSource",
    modes: STREAMS,
    apply: (value, into, flag) =>
      into.maxPerSource = parseCount(value, flag, 0, MAX_CONNECTIONS_LIMIT),
  },
  "allow": {
    help: [{
      section: "server",
      value: "CIDR[,CIDR...]",
      text:
        "serve only these source networks, e.g. 127.0.0.0/8,::1/128; others: TCP closed, UDP dropped",
      default: "everyone",
    }],
    option: "allow",
    modes: SERVERS,
    apply: (value, into) => into.allow = value,
  },
  "buffer-size": {
    help: [{
      section: "server",
      value: "BYTES",
      text:
        `UDP bytes kept per datagram, 1-${MAX_DATAGRAM_SIZE} (with --raw: ${MAX_DATAGRAM_SIZE}, the whole datagram); QUIC datagrams are kept whole unless it is given`,
      default: `${DEFAULT_BUFFER_SIZE}`,
    }],
    option: "bufferSize",
    modes: [...UDP, "quic"],
    apply: (value, into, flag) =>
      into.bufferSize = parseCount(value, flag, 1, MAX_DATAGRAM_SIZE),
  },
  "max-streams": {
    help: [{
      section: "server",
      value: "N",
      text:
        "QUIC streams a client may have open at once, per direction (a transport parameter: the client waits)",
      default: `${DEFAULT_MAX_STREAMS}`,
    }],
    option: "maxStreams",
    modes: QUIC,
    apply: (value, into, flag) =>
      into.maxStreams = parseCount(value, flag, 1, 1_000_000),
  },
  "cert-out": {
    help: [{
      section: "server",
      value: "FILE",
      text:
        "QUIC: write the certificate served (the ephemeral one) to FILE, for clients' --ca (needs --allow-write=FILE)",
    }],
    modes: QUIC,
    apply: (value, into, flag) => into.certOut = parseFile(value, flag),
  },
  "udp-rate": {
    help: [{
      section: "server",
      value: "N",
      text:
        "UDP datagrams answered per second per source IP, excess dropped; 0 = no limit",
      default: "0",
    }],
    option: "rate",
    modes: UDP,
    apply: (value, into, flag) =>
      into.udpRate = parseCount(value, flag, 0, MAX_COUNT),
  },
  "no-loop-guard": {
    help: [{
      section: "server",
      text:
        "answer UDP from service ports (7, 19, 53, 123, ...) and from the server itself too",
    }],
    option: "loopGuard",
    boolean: true,
    modes: UDP,
    apply: (_value, into) => into.loopGuard = false,
  },
  "prefix": {
    help: [{
      section: "server",
      value: "TEXT",
      text:
        "text before each echoed line; placeholders: {instance}, {peer} (the client's host:port), {local} (the server's); with TLS {sni}, {alpn}, {tls}, {ja4}; from a PROXY v2 header {proxy_authority}, {proxy_alpn}; {{ and }} are braces",
      default: `"${DEFAULT_PREFIX}"`,
    }],
    option: "prefix",
    modes: SERVERS,
    apply: (value, into) => into.prefix = value,
  },
  "instance": {
    help: [{
      section: "server",
      value: "NAME",
      text:
        "what {instance} stands for (the host name needs --allow-sys=hostname)",
      default: "the host name",
    }],
    modes: SERVERS,
    option: "instance",
    apply: (value, into, flag) => into.instance = parseInstance(value, flag),
  },
  "raw": {
    help: [{
      section: "server",
      text: "RFC 862 echo: bytes back unchanged, no prefix",
    }],
    option: "raw",
    boolean: true,
    modes: SERVERS,
    apply: (_value, into) => into.raw = true,
  },
  "http-port": {
    help: [{
      section: "server",
      value: "PORT",
      text:
        "serve /healthz, /readyz, /metrics, /stats on this HTTP port, 0 picks a free one; needs its own --allow-net grant",
      default: "off",
    }],
    modes: SERVERS,
    apply: (value, into, flag) => into.httpPort = parsePort(value, flag),
  },
  "http-host": {
    help: [{
      section: "server",
      value: "ADDRESS",
      text: "address of the HTTP port",
      default: `${DEFAULT_HOSTNAME}`,
    }],
    modes: SERVERS,
    apply: (value, into, flag) => into.httpHost = parseHost(value, flag),
  },
  "drain": {
    help: [{
      section: "server",
      value: "SECONDS",
      text:
        "on SIGTERM or SIGINT, /readyz answers 503 at once and the servers keep answering this long before they stop",
      default: "0",
    }],
    modes: SERVERS,
    apply: (value, into, flag) => into.drain = parseSeconds(value, flag),
  },
  "control": {
    help: [{
      section: "server",
      text:
        "with --http-port: control endpoints (/control/faults, /control/health, /control/ready, /control/dial) for loopback peers, or any peer with the token",
    }],
    boolean: true,
    modes: SERVERS,
    apply: (_value, into) => into.control = true,
  },
  "control-token-file": {
    help: [{
      section: "server",
      value: "FILE",
      text:
        "with --control: every call must carry Authorization: Bearer and the token in FILE (needs --allow-read=FILE)",
    }],
    modes: SERVERS,
    apply: (value, into, flag) =>
      into.controlTokenFile = parseFile(value, flag),
  },
  "dial-allow": {
    help: [{
      section: "server",
      value: "CIDR[,CIDR...]",
      text:
        "with --control: the networks /control/dial may reach (each also needs its --allow-net grant)",
      default: "no dial",
    }],
    modes: SERVERS,
    option: "dialAllow",
    apply: (value, into) => into.dialAllow = value,
  },
  "proxy-protocol": {
    help: [{
      section: "server",
      text:
        "TCP (the TCP side in all): every connection starts with a PROXY protocol v1 or v2 header, whose client is the peer from then on; with --tls-cert, TLS follows the header",
    }, {
      section: "client",
      value: "v1|v2",
      text:
        "send a PROXY header naming the client's own addresses first, as a load balancer would",
    }],
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
    help: [{
      section: "server",
      value: "CIDR[,CIDR...]",
      text:
        "with --proxy-protocol: only these peers (the load balancers) may connect",
      default: "everyone",
    }],
    modes: TCP,
    option: "proxyFrom",
    apply: (value, into) => into.proxyFrom = value,
  },
  "log-level": {
    help: [{
      section: "server",
      value: "LEVEL",
      text: "debug, info, warning or error",
      default: "info",
    }],
    modes: SERVERS,
    apply: (value, into, flag) =>
      into.logLevel = parseChoice(value, flag, LOG_LEVELS),
  },
  "log-format": {
    help: [{
      section: "server",
      value: "FORMAT",
      text: "text or json (one object per line)",
      default: "text",
    }],
    modes: SERVERS,
    apply: (value, into, flag) =>
      into.logFormat = parseChoice(value, flag, LOG_FORMATS),
  },
  "trace": {
    help: [{
      section: "server",
      text:
        "log every network event (accept, read, write, FIN, reset, timeout, close; each datagram and reply) with the time since start, whatever --log-level says",
    }],
    option: "trace",
    boolean: true,
    modes: SERVERS,
    apply: (_value, into) => into.trace = true,
  },
  "capture": {
    help: [{
      section: "server",
      text:
        "capture the servers' own packets with tcpdump and trace each one (implies --trace); needs --allow-run=tcpdump,setpriv and root or CAP_NET_RAW",
    }, {
      section: "client",
      text:
        "capture the session's packets with tcpdump and print them as a sequence diagram",
    }],
    boolean: true,
    modes: MODES,
    option: "capture",
    apply: (_value, into) => into.capture = true,
  },
  "lab": {
    help: [{
      section: "server",
      text:
        "serve the lab on the HTTP port: GET /lab draws the servers' packets and events live, one sequence diagram per connection or UDP peer, with buttons that replay the seed's sessions; captures with tcpdump when it may (else server events only) and traces; the HTTP port defaults to 9090 then; mode lab is all with --lab",
    }],
    boolean: true,
    modes: ["all", "lab"],
    apply: (_value, into) => into.lab = true,
  },
  "capture-file": {
    help: [{
      section: "server",
      value: "FILE",
      text:
        "also write them as a pcap file (tcp or udp; needs --allow-write=FILE)",
    }, {
      section: "client",
      value: "FILE",
      text: "also write them as a pcap file",
    }],
    modes: MODES,
    apply: (value, into, flag) => into.captureFile = parseFile(value, flag),
  },
  "workers": {
    help: [{
      section: "server",
      value: "N|auto",
      text:
        "TCP accept loops sharing the port (SO_REUSEPORT, Linux), one per CPU with auto; needs --allow-read for echolab's files",
      default: "1",
    }],
    modes: TCP,
    apply: (value, into, flag) =>
      into.workers = value === "auto"
        ? navigator.hardwareConcurrency
        : parseCount(value, flag, 1, 256),
  },
  "unix": {
    help: [{
      section: "server",
      value: "PATH",
      text:
        "serve the TCP echo on a Unix stream socket at PATH instead of TCP (mode 0660, removed at shutdown; a stale one is replaced); needs --allow-read=PATH --allow-write=PATH --allow-net=unix:PATH",
    }, {
      section: "client",
      value: "PATH",
      text: "talk to the server on the Unix socket at PATH",
    }],
    modes: [...TCP, "send"],
    apply: (value, into, flag) => into.unix = parseFile(value, flag),
  },
  "tls-cert": {
    help: [{
      section: "server",
      value: "[NAME=]FILE",
      text:
        "serve TCP over TLS with this PEM certificate (needs --allow-read), reading each ClientHello first; NAME=FILE, again and again: the certificate for the SNI NAME (a host or *.domain), the plain one being the default",
    }],
    modes: STREAMS,
    apply: (value, into, flag) =>
      into.tlsCerts = namedFile(value, flag, into.tlsCerts ?? {}),
  },
  "tls-key": {
    help: [{
      section: "server",
      value: "[NAME=]FILE",
      text: "... and its PEM key, by the same NAME (needs --allow-read)",
    }],
    modes: STREAMS,
    apply: (value, into, flag) =>
      into.tlsKeys = namedFile(value, flag, into.tlsKeys ?? {}),
  },
  "alpn": {
    help: [{
      section: "server",
      value: "LIST",
      text:
        "TLS: the ALPN protocols offered, by preference (h2,http/1.1); a client offering none of them fails with no_application_protocol",
      default: "TCP: no ALPN; QUIC: echolab",
    }, {
      section: "client",
      value: "LIST",
      text: "TLS: the ALPN protocols to offer",
    }],
    modes: [...STREAMS, "send"],
    apply: (value, into, flag) => into.alpn = parseAlpn(value, flag),
  },
  "delay": {
    help: [{
      section: "faults",
      value: "MS|MIN-MAX",
      text:
        "every reply waits MS, or a time drawn from MIN-MAX, up to 60000 ms; UDP replies may overtake each other",
    }],
    modes: SERVERS,
    option: "delay",
    apply: (value, into, flag) => into.delay = parseDelay(value, flag),
  },
  "jitter": {
    help: [{
      section: "faults",
      value: "MS",
      text:
        "with --delay: add a normal deviate of this standard deviation to each delay (never below 0)",
    }],
    modes: SERVERS,
    option: "jitter",
    apply: (value, into, flag) =>
      into.jitter = parseCount(value, flag, 0, MAX_DELAY),
  },
  "chunk": {
    help: [{
      section: "faults",
      value: "BYTES",
      text: "TCP: replies written in pieces of BYTES",
    }],
    modes: STREAMS,
    option: "chunk",
    apply: (value, into, flag) =>
      into.chunk = parseCount(value, flag, 1, MAX_LINE_LIMIT),
  },
  "chunk-delay": {
    help: [{
      section: "faults",
      value: "MS",
      text: "TCP: pause between two pieces",
      default: "0",
    }],
    modes: STREAMS,
    option: "chunkDelay",
    apply: (value, into, flag) =>
      into.chunkDelay = parseCount(value, flag, 0, MAX_DELAY),
  },
  "bandwidth": {
    help: [{
      section: "faults",
      value: "BYTES_PER_S",
      text:
        "TCP: replies leave at most this fast, per connection (a token bucket of 50 ms, at least 256 bytes)",
    }],
    modes: STREAMS,
    option: "bandwidth",
    apply: (value, into, flag) =>
      into.bandwidth = parseCount(value, flag, 1, MAX_BANDWIDTH),
  },
  "reset-after": {
    help: [{
      section: "faults",
      value: "N",
      text:
        "TCP: reset the connection (an RST alone, no FIN) right after the Nth reply; 0 on accept (served through node:net)",
    }],
    modes: TCP,
    option: "resetAfter",
    apply: (value, into, flag) =>
      into.resetAfter = parseCount(value, flag, 0, MAX_COUNT),
  },
  "close-after": {
    help: [{
      section: "faults",
      value: "N",
      text: "TCP: close after answering N lines",
    }],
    modes: STREAMS,
    option: "closeAfter",
    apply: (value, into, flag) =>
      into.closeAfter = parseCount(value, flag, 0, MAX_COUNT),
  },
  "half-close-after": {
    help: [{
      section: "faults",
      value: "N",
      text:
        "TCP: shut down sending after N replies, keep reading, close when the client does",
    }],
    modes: STREAMS,
    option: "halfCloseAfter",
    apply: (value, into, flag) =>
      into.halfCloseAfter = parseCount(value, flag, 0, MAX_COUNT),
  },
  "stall-after": {
    help: [{
      section: "faults",
      value: "N",
      text: "TCP: stop reading after N replies",
    }],
    modes: STREAMS,
    option: "stallAfter",
    apply: (value, into, flag) =>
      into.stallAfter = parseCount(value, flag, 0, MAX_COUNT),
  },
  "banner": {
    help: [{
      section: "faults",
      value: "TEXT",
      text: "TCP: send TEXT and a newline first, on accept",
    }],
    modes: STREAMS,
    option: "banner",
    apply: (value, into) => into.banner = value,
  },
  "drop": {
    help: [{
      section: "faults",
      value: "RATE",
      text:
        "leave this fraction (0-1) of TCP lines or UDP datagrams unanswered",
    }],
    modes: SERVERS,
    option: "drop",
    apply: (value, into, flag) => into.drop = parseRate(value, flag),
  },
  "drop-burst": {
    help: [{
      section: "faults",
      value: "N",
      text:
        "with --drop: losses come in runs of mean length N (a Gilbert model), at the same rate",
    }],
    modes: SERVERS,
    option: "dropBurst",
    apply: (value, into, flag) => into.dropBurst = parseBurst(value, flag),
  },
  "duplicate": {
    help: [{
      section: "faults",
      value: "RATE",
      text: "UDP: send this fraction (0-1) of replies twice",
    }],
    modes: UDP,
    option: "duplicate",
    apply: (value, into, flag) => into.duplicate = parseRate(value, flag),
  },
  "faults-for": {
    help: [{
      section: "faults",
      value: "CIDR[,CIDR...]",
      text:
        "faults only for clients in these networks (with --proxy-protocol, the header's client); others served clean",
      default: "everyone",
    }],
    modes: SERVERS,
    option: "faultsFor",
    apply: (value, into) => into.faultsFor = value,
  },
  "fault-connections": {
    help: [{
      section: "faults",
      value: "RATE",
      text:
        "TCP: only this fraction (0-1) of connections, chosen at accept, get faults, all or nothing",
      default: "1",
    }],
    modes: TCP,
    option: "faultConnections",
    apply: (value, into, flag) =>
      into.faultConnections = parseRate(value, flag),
  },
  "seed": {
    help: [{
      section: "faults",
      value: "N",
      text: "seed of every random fault choice (0 to 4294967295)",
      default: "random, logged at start",
    }],
    modes: SERVERS,
    option: "seed",
    apply: (value, into, flag) =>
      into.seed = parseCount(value, flag, 0, MAX_SEED),
  },
  "max-delayed": {
    help: [{
      section: "faults",
      value: "BYTES",
      text:
        "UDP: most bytes of replies waiting out --delay; past it datagrams are dropped",
      default: `${DEFAULT_MAX_DELAYED}`,
    }],
    modes: UDP,
    option: "maxDelayed",
    apply: (value, into, flag) =>
      into.maxDelayed = parseCount(value, flag, 1, MAX_DELAYED_LIMIT),
  },
  "udp": {
    help: [{ section: "client", text: "send datagrams instead of TCP lines" }],
    boolean: true,
    modes: SEND,
    apply: (_value, into) => into.udp = true,
  },
  "quic": {
    help: [{
      section: "client",
      text:
        "talk QUIC (lines on a stream; default port 4433, ALPN echolab); trust the server with --ca",
    }],
    boolean: true,
    modes: SEND,
    apply: (_value, into) => into.quic = true,
  },
  "streams": {
    help: [{
      section: "client",
      value: "N",
      text: "QUIC: spread the lines over N streams",
      default: "1",
    }],
    modes: SEND,
    apply: (value, into, flag) =>
      into.streams = parseCount(value, flag, 1, 1000),
  },
  "compare": {
    help: [{
      section: "client",
      text:
        "send the same lines over TCP (--tcp-port), TCP+TLS (--tls-port, if given) and QUIC (--quic-port) and print one table: handshake time and RTTs; --ca trusts TLS and QUIC",
    }],
    boolean: true,
    modes: SEND,
    apply: (_value, into) => into.compare = true,
  },
  "tls-port": {
    help: [{
      section: "client",
      value: "PORT",
      text: "--compare: a TLS port (an all server started with --tls-cert)",
    }],
    modes: SEND,
    apply: (value, into, flag) => into.tlsPort = parsePort(value, flag),
  },
  "datagram": {
    help: [{
      section: "client",
      text: "QUIC: send each message as a QUIC datagram (RFC 9221)",
    }],
    boolean: true,
    modes: SEND,
    apply: (_value, into) => into.datagram = true,
  },
  "count": {
    help: [{
      section: "client",
      value: "N",
      text: "send the message list N times",
      default: "1",
    }],
    modes: SEND,
    apply: (value, into, flag) =>
      into.count = parseCount(value, flag, 1, 1_000_000),
  },
  "interval": {
    help: [{
      section: "client",
      value: "SECONDS",
      text: "pause between sends",
      default: "0",
    }],
    modes: SEND,
    apply: (value, into, flag) => into.interval = parseSeconds(value, flag),
  },
  "wait": {
    help: [{
      section: "client",
      value: "SECONDS",
      text: "how long to wait for each UDP reply",
      default: `${DEFAULT_WAIT / 1000}`,
    }],
    modes: SEND,
    apply: (value, into, flag) => into.wait = parseSeconds(value, flag),
  },
  "tls": {
    help: [{ section: "client", text: "talk TLS to the TCP server" }],
    boolean: true,
    modes: SEND,
    apply: (_value, into) => into.tls = true,
  },
  "ca": {
    help: [{
      section: "client",
      value: "FILE",
      text: "trust this PEM certificate (self-signed server)",
    }],
    modes: SEND,
    apply: (value, into, flag) => into.ca = parseFile(value, flag),
  },
  "sni": {
    help: [{
      section: "client",
      value: "NAME",
      text: "TLS: the server name to send (and check the certificate against)",
      default: "none for an address, else --host",
    }],
    modes: SEND,
    apply: (value, into, flag) => into.sni = parseHostName(value, flag),
  },
  "reconnect": {
    help: [{
      section: "client",
      text:
        "a new connection (or UDP socket) per message, so that a load balancer spreads them",
    }],
    boolean: true,
    modes: SEND,
    apply: (_value, into) => into.reconnect = true,
  },
  "tally": {
    help: [{
      section: "client",
      text:
        "after the summary, count the replies by their prefix (the instance, when the prefix names it)",
    }],
    boolean: true,
    modes: SEND,
    apply: (_value, into) => into.tally = true,
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
  // QUIC keeps datagrams whole unless --buffer-size is given.
  result.quicBufferSize = parsed.bufferSize ?? 0;
  // RFC 862 echoes the whole datagram; the seed's line mode keeps 5 bytes.
  if (result.raw && parsed.bufferSize === undefined) {
    result.bufferSize = MAX_DATAGRAM_SIZE;
  }
  if (port !== undefined) {
    if (mode === "tcp") result.tcpPort = port;
    else if (mode === "quic") result.quicPort = port;
    else result.udpPort = port;
  }
  if (result.proxyFrom !== undefined && !result.proxyProtocol) {
    throw new UsageError("Flag --proxy-from needs --proxy-protocol");
  }
  if (result.captureFile !== undefined && !result.capture) {
    throw new UsageError("Flag --capture-file needs --capture");
  }
  if (mode === "lab") result.lab = true;
  if (result.lab) checkLab(result);
  if (result.capture) result.trace = true;
  if (result.captureFile !== undefined && (mode === "all" || mode === "lab")) {
    throw new UsageError(
      "Flag --capture-file takes one server's packets: use it with tcp or udp",
    );
  }
  if (result.capture && result.workers > 1) {
    throw new UsageError(
      "Flag --capture does not work with --workers: capture with one accept loop",
    );
  }
  if (result.control && result.httpPort === undefined) {
    throw new UsageError("Flag --control needs --http-port");
  }
  for (
    const [flag, given] of [
      ["--control-token-file", result.controlTokenFile],
      ["--dial-allow", result.dialAllow],
    ] as const
  ) {
    if (given !== undefined && !result.control) {
      throw new UsageError(`Flag ${flag} needs --control`);
    }
  }
  if (result.resetAfter !== undefined && result.workers > 1) {
    throw new UsageError(
      "Flag --reset-after does not work with --workers: reset with one accept loop",
    );
  }
  if (result.control && result.workers > 1) {
    throw new UsageError(
      "Flag --control does not work with --workers: steer one accept loop",
    );
  }
  if (result.jitter !== undefined && result.delay === undefined) {
    throw new UsageError("Flag --jitter needs --delay");
  }
  if (result.dropBurst !== undefined && result.drop === undefined) {
    throw new UsageError("Flag --drop-burst needs --drop");
  }
  if (result.dropBurst !== undefined && result.drop === 1) {
    throw new UsageError("Flag --drop-burst needs a --drop rate below 1");
  }
  if (result.chunkDelay !== undefined && result.chunk === undefined) {
    throw new UsageError("Flag --chunk-delay needs --chunk");
  }
  if (result.prefix !== DEFAULT_PREFIX) checkPrefix(result.prefix);
  checkTlsPairs(result);
  if (result.mode === "quic") checkQuicServer(result);
  if (result.unix !== undefined) checkUnixServer(parsed, result);
  if (
    result.alpn !== undefined && Object.keys(result.tlsCerts).length === 0 &&
    mode === "tcp"
  ) {
    throw new UsageError("Flag --alpn needs --tls-cert (or mode quic)");
  }
  return result;
}

/** What a QUIC client cannot take: it is its own transport, with TLS. */
function checkQuicSend(parsed: Parsed, result: SendCommandLine): void {
  for (
    const [flag, given] of [
      ["--udp", parsed.udp],
      ["--tls", parsed.tls],
      ["--unix", result.unix],
      ["--proxy-protocol", result.sendProxy],
      ["--reconnect", parsed.reconnect],
    ] as const
  ) {
    if (given !== undefined) {
      throw new UsageError(
        `Flag ${flag} does not apply with --quic: drop one of them`,
      );
    }
  }
  if (result.datagram && parsed.streams !== undefined) {
    throw new UsageError(
      "Flags --datagram and --streams do not go together: datagrams use no stream",
    );
  }
}

/** What --compare cannot take: it picks the transports itself. */
function checkCompare(parsed: Parsed, result: SendCommandLine): void {
  for (
    const [flag, given] of [
      ["--udp", parsed.udp],
      ["--tls", parsed.tls],
      ["--quic", parsed.quic],
      ["--port", parsed.port],
      ["--unix", result.unix],
      ["--datagram", parsed.datagram],
      ["--proxy-protocol", result.sendProxy],
      ["--reconnect", parsed.reconnect],
      ["--capture", result.capture || undefined],
    ] as const
  ) {
    if (given !== undefined) {
      throw new UsageError(
        `Flag ${flag} does not apply with --compare: drop one of them`,
      );
    }
  }
}

/** What a server on a Unix socket cannot take. */
function checkUnixServer(parsed: Parsed, result: ServeCommandLine): void {
  const conflicts: [flag: string, given: unknown, why: string][] = [
    ["--port", result.mode === "tcp" ? parsed.port : undefined, "no port"],
    ["--tcp-port", parsed.tcpPort, "no port"],
    [
      "--workers",
      result.workers > 1 ? result.workers : undefined,
      "no port to share",
    ],
    ["--allow", result.allow, "its clients have no IP address"],
    ["--proxy-from", result.proxyFrom, "its clients have no IP address"],
    ["--faults-for", result.faultsFor, "its clients have no IP address"],
    ["--capture", result.capture || undefined, "tcpdump sees no packets on it"],
    ["--reset-after", result.resetAfter, "an RST is TCP's"],
  ];
  for (const [flag, given, why] of conflicts) {
    if (given !== undefined) {
      throw new UsageError(
        `Flag ${flag} does not apply with --unix: ${why}; drop one of them`,
      );
    }
  }
}

/** What the QUIC server cannot take. */
function checkQuicServer(result: ServeCommandLine): void {
  if (Object.keys(result.tlsCerts).some((name) => name !== "")) {
    throw new UsageError(
      "Flag --tls-cert NAME=FILE does not apply to mode quic: Deno's QUIC listener serves one certificate; give --tls-cert FILE",
    );
  }
}

/** Every certificate has its key, by the same name, and the other way. */
function checkTlsPairs(result: ServeCommandLine): void {
  const pairs = [
    ["--tls-cert", result.tlsCerts, "--tls-key", result.tlsKeys],
    ["--tls-key", result.tlsKeys, "--tls-cert", result.tlsCerts],
  ] as const;
  for (const [flag, files, other, others] of pairs) {
    for (const name of Object.keys(files)) {
      if (others[name] === undefined) {
        const form = name === "" ? "FILE" : `${name}=FILE`;
        throw new UsageError(
          `Flags --tls-cert and --tls-key go together: ${flag} ${form} needs ${other} ${form}`,
        );
      }
    }
  }
}

function sendCommandLine(parsed: Parsed, messages: string[]): SendCommandLine {
  const udp = parsed.udp ?? false;
  const result: SendCommandLine = {
    ...SEND_DEFAULTS,
    ...parsed,
    port: parsed.port ??
      (udp
        ? DEFAULT_UDP_PORT
        : parsed.quic
        ? DEFAULT_QUIC_PORT
        : DEFAULT_TCP_PORT),
    messages,
  };
  if (result.quic) checkQuicSend(parsed, result);
  if (result.compare) checkCompare(parsed, result);
  for (
    const [flag, given] of [
      ["--tls-port", parsed.tlsPort],
      ["--tcp-port", parsed.tcpPort],
      ["--quic-port", parsed.quicPort],
    ] as const
  ) {
    if (given !== undefined && !result.compare) {
      throw new UsageError(`Flag ${flag} needs --compare (or mode all)`);
    }
  }
  for (
    const [flag, given] of [
      ["--streams", parsed.streams],
      ["--datagram", parsed.datagram],
    ] as const
  ) {
    if (given !== undefined && !result.quic) {
      throw new UsageError(`Flag ${flag} needs --quic`);
    }
  }
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
  if (result.unix !== undefined) {
    for (
      const [flag, given] of [
        ["--udp", parsed.udp],
        ["--port", parsed.port],
        ["--proxy-protocol", result.sendProxy],
        ["--capture", result.capture || undefined],
      ] as const
    ) {
      if (given !== undefined) {
        throw new UsageError(
          `Flag ${flag} does not apply with --unix: drop one of them`,
        );
      }
    }
  }
  for (
    const [flag, given] of [
      ["--ca", result.ca],
      ["--sni", result.sni],
      ["--alpn", result.alpn],
    ] as const
  ) {
    if (given !== undefined && !result.tls && !result.quic && !result.compare) {
      throw new UsageError(`Flag ${flag} needs --tls or --quic`);
    }
  }
  return result;
}

/**
 * Every flag's lines in `--help`, in the table's order: `--help` is made
 * from the same table as the parser.
 *
 * @example
 * ```ts
 * import { FLAG_HELP } from "./command_line.ts";
 * import { ok } from "node:assert/strict";
 *
 * ok(FLAG_HELP.some(({ name, section }) => name === "udp" && section === "client"));
 * ```
 */
export const FLAG_HELP: readonly (FlagHelp & { name: string })[] = Object
  .entries(FLAGS).flatMap(([name, flag]) =>
    flag.help.map((help) => ({ name, ...help }))
  );

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

/**
 * The lab captures and traces by itself, over the servers' IP ports, in
 * one accept loop: it turns tracing and the HTTP port (9090) on.
 */
function checkLab(result: ServeCommandLine): void {
  const flag = result.mode === "lab" ? "Mode lab" : "Flag --lab";
  if (result.capture) {
    throw new UsageError(
      `${flag} captures the packets itself: drop --capture`,
    );
  }
  if (result.workers > 1) {
    throw new UsageError(
      `${flag} does not work with --workers: the lab watches one accept loop`,
    );
  }
  if (result.unix !== undefined) {
    throw new UsageError(
      `${flag} shows TCP over IP: drop --unix`,
    );
  }
  result.httpPort ??= DEFAULT_HTTP_PORT;
  result.trace = true;
}

function parseMode(positionals: string[]): [Mode, string[]] {
  const [mode, ...rest] = positionals;
  if (mode === undefined) {
    throw new UsageError(
      "Missing mode: expected tcp, udp, quic, all, lab or send",
    );
  }
  if (!MODES.includes(mode as Mode)) {
    throw new UsageError(
      `Unknown mode ${
        JSON.stringify(mode)
      }: expected tcp, udp, quic, all, lab or send`,
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

function parseBurst(value: string, flag: string): number {
  const burst = /^\d+(\.\d+)?$/.test(value) ? Number(value) : NaN;
  if (!(burst >= 1 && burst <= MAX_BURST)) {
    throw new UsageError(
      `Invalid ${flag} ${
        JSON.stringify(value)
      }: expected a mean run length from 1 to ${MAX_BURST}, e.g. 4`,
    );
  }
  return burst;
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
 * Adds `FILE` (the default, under `""`) or `NAME=FILE` to the files by
 * name; a name given twice is a usage error.
 */
function namedFile(
  value: string,
  flag: string,
  files: Readonly<Record<string, string>>,
): Record<string, string> {
  const equals = value.indexOf("=");
  const named = equals > 0 && isServerName(value.slice(0, equals));
  const name = named ? value.slice(0, equals).toLowerCase() : "";
  const file = parseFile(named ? value.slice(equals + 1) : value, flag);
  if (files[name] !== undefined) {
    throw new UsageError(
      name === ""
        ? `Flag ${flag} FILE is given twice: one default certificate; name the others NAME=FILE`
        : `Flag ${flag} gives ${name} twice: one file per name`,
    );
  }
  return { ...files, [name]: file };
}

function parseHostName(value: string, flag: string): string {
  if (!isServerName(value) || value.startsWith("*")) {
    throw new UsageError(
      `Invalid ${flag} "${value}": expected a host name such as a.example`,
    );
  }
  return value;
}

function parseAlpn(value: string, flag: string): string[] {
  const protocols = value.split(",").map((protocol) => protocol.trim());
  for (const protocol of protocols) {
    const length = new TextEncoder().encode(protocol).length;
    if (length === 0 || length > 255) {
      throw new UsageError(
        `Invalid ${flag} "${value}": expected protocol names of 1 to 255 bytes, comma-separated (h2,http/1.1)`,
      );
    }
  }
  return protocols;
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

const HOST_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

/**
 * Reads a bind address as given: brackets taken off an IPv6 address, a
 * host name checked. An address (all digits and dots, or with a colon) is
 * checked by {@linkcode checkAddress} afterwards, so that the address
 * parser loads only when one is given.
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
  if (looksLikeAddress(unbracketed)) return unbracketed;
  if (
    unbracketed === value && value.length <= 253 &&
    value.split(".").every((label) => HOST_LABEL.test(label))
  ) {
    return value;
  }
  throw invalidHost(value, flag);
}

function looksLikeAddress(value: string): boolean {
  return value.includes(":") || /^[\d.]+$/.test(value);
}

function invalidHost(value: string, flag: string): UsageError {
  return new UsageError(
    `Invalid ${flag} ${
      JSON.stringify(value)
    }: expected an IPv4 address, an IPv6 address or a host name`,
  );
}

/**
 * Checks an address {@linkcode parseHost} let through, with echolab's one
 * address parser (loaded here, only when an address other than the
 * default was given).
 *
 * @param value The address, without brackets.
 * @param flag The flag, for the message.
 * @throws {UsageError} When it is not an IPv4 or IPv6 address.
 *
 * @example
 * ```ts
 * import { checkAddress } from "./command_line.ts";
 * import { rejects } from "node:assert/strict";
 *
 * await checkAddress("::1", "--host");
 * await rejects(checkAddress("1.2.3.256", "--host"), /Invalid --host/);
 * ```
 */
export async function checkAddress(value: string, flag: string): Promise<void> {
  if (value === DEFAULT_HOSTNAME || !looksLikeAddress(value)) return;
  const { parseIp } = await import("../lib/policy/ip_address.ts");
  if (parseIp(value) === undefined) throw invalidHost(value, flag);
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
