// Copyright 2026 the echolab authors. MIT license.
/**
 * The stages an optional part plugs into a server: the shapes the core
 * knows, so that it never imports the parts themselves. A TCP connection
 * goes admission → preamble ({@linkcode TcpPreamble}: the PROXY header) →
 * TLS ({@linkcode TcpTlsStage}: the ClientHello read, then the handshake) →
 * echo → writer and close policy ({@linkcode TcpFaultStage}); a UDP
 * datagram goes admission → faults ({@linkcode UdpFaultStage}) → reply. The
 * capture ({@linkcode CapturePlan}) watches a whole server.
 *
 * `echolab/proxy`, `echolab/tls`, `echolab/faults` and `echolab/capture` make these
 * objects; a library user passes them in the server's options.
 *
 * @example A preamble that serves every connection as it is
 * ```ts
 * import type { TcpPreamble } from "./stages.ts";
 * import { serveTcp } from "../../tcp.ts";
 *
 * const nothing: TcpPreamble = {
 *   read: (conn) => Promise.resolve({ stream: conn }),
 * };
 * await using server = serveTcp({ port: 0, proxy: nothing });
 * ```
 *
 * @module
 */

import type { ServerStats } from "./server_stats.ts";
import type { Tracer } from "./tracer.ts";

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
  | "bad tls hello"
  | "tls handshake failed"
  | "not allowed"
  | "too many per source"
  | "close after"
  | "reset after";

/** What a served connection needs of a byte stream. */
export interface ByteStream {
  /** Reads into `buffer`; `null` at the end of the stream. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Writes some of `bytes`; returns how many. */
  write(bytes: Uint8Array): Promise<number>;
  /** Shuts down the sending side. */
  closeWrite(): Promise<void>;
  /** Closes the stream. */
  close(): void;
}

/**
 * An accepted TCP connection: a `Deno.TcpConn` (or `TlsConn`), or one that
 * can also `reset()` (a server started with `serveResettableTcp`).
 */
export interface AcceptedConn extends ByteStream {
  /** The client's end (a Unix socket's client has no path). */
  readonly remoteAddr: Deno.NetAddr | Deno.UnixAddr;
  /** The server's end. */
  readonly localAddr: Deno.NetAddr | Deno.UnixAddr;
  /** Turns Nagle's algorithm off (`true`) or on. */
  setNoDelay?(noDelay?: boolean): void;
  /** Sends an RST alone and drops the connection, when it can. */
  reset?(): void;
}

/** The sources a server serves: `AccessList` of `echolab/policy` is one. */
export interface AddressFilter {
  /** The ranges, as given (named by the warning for a reachable address). */
  readonly ranges: readonly string[];
  /**
   * Tells whether a host may be served.
   *
   * @param hostname An IPv4 or IPv6 address.
   * @returns `true` when it is in one of the ranges.
   */
  allows(hostname: string): boolean;
}

/** Why a client is refused, and the line that says so. */
export interface Refusal {
  /** The `drops` key, e.g. `not allowed`. */
  reason: string;
  /** A constant LogTape template. */
  template: string;
  /** Its values. */
  properties: Record<string, unknown>;
}

/** What the preamble of one connection knows. */
export interface PreambleContext {
  /** The connection's own peer, `host:port`. */
  peer: string;
  /** Milliseconds the preamble may take; 0 means no limit. */
  timeout: number;
  /** The server's tracer, when tracing. */
  tracer?: Tracer;
  /** Aborted when the connection is closed (a shutdown). */
  signal: AbortSignal;
}

/** What a preamble hands to the echo, or why the connection ends. */
export type PreambleResult =
  | {
    /** The stream to echo on (the connection itself, or TLS over it). */
    stream: ByteStream;
    /**
     * The client as the preamble learnt it (a PROXY header's source);
     * `undefined` keeps the connection's own peer.
     */
    client?: { hostname: string; port: number };
    /** Bytes already read that belong to the echo, served first. */
    initial?: Uint8Array;
    /** What the preamble learnt, for the reply prefix's placeholders. */
    values?: ConnectionValues;
  }
  | {
    /** The connection ends before any echo. */
    close: CloseReason;
  };

/**
 * What a connection's stages learnt of it, by reply prefix placeholder:
 * `sni`, `alpn`, `tls` and `ja4` from TLS, `proxy_authority` and
 * `proxy_alpn` from a PROXY v2 header.
 */
export type ConnectionValues = Readonly<Record<string, string>>;

/** What the TLS stage of one connection knows. */
export interface TlsContext {
  /** The client, `host:port` (a PROXY header's, once read). */
  peer: string;
  /** Bytes already read past the preamble: the ClientHello's start. */
  initial?: Uint8Array;
  /** Milliseconds the ClientHello and the handshake may take; 0: no limit. */
  timeout: number;
  /** The server's tracer, when tracing. */
  tracer?: Tracer;
  /** Aborted when the connection is closed (a shutdown). */
  signal: AbortSignal;
}

/** The TLS a connection negotiated. */
export interface TlsSession {
  /** `TLSv1.3` or `TLSv1.2`. */
  version: string;
  /** The server name the client sent; `""` without one. */
  sni: string;
  /** The protocol negotiated by ALPN; `""` when none was. */
  alpn: string;
  /** The JA4 fingerprint of the client's ClientHello. */
  ja4: string;
}

/** What the TLS stage hands to the echo, or why the connection ends. */
export type TlsResult =
  | {
    /** The decrypted stream to echo on. */
    stream: ByteStream;
    /** What was negotiated. */
    session: TlsSession;
  }
  | {
    /** The connection ends before any echo. */
    close: CloseReason;
  };

/**
 * TLS that reads the client's ClientHello itself before the handshake:
 * `terminateTls()` of `echolab/tls` makes one.
 */
export interface TcpTlsStage {
  /** Names the server's certificates and ALPN for the start log. */
  describe(): string;
  /**
   * Reads the ClientHello, then completes the handshake.
   *
   * @param conn The connection, past its preamble; the result's stream
   * owns it.
   * @param context What the server knows of it.
   * @returns The decrypted stream and the session, or the reason to close
   * (logged by the stage, at most once a second).
   */
  start(conn: ByteStream, context: TlsContext): Promise<TlsResult>;
}

/**
 * What runs on a TCP connection before the echo: the PROXY protocol
 * header, TLS after it. `proxyProtocol()` of `echolab/proxy` makes one.
 */
export interface TcpPreamble {
  /**
   * Checks the connection's own peer at accept, before anything is read.
   *
   * @param remote The peer.
   * @param peer The same as `host:port`.
   * @returns Why it is refused, or `undefined`.
   */
  refuse?(remote: Deno.NetAddr, peer: string): Refusal | undefined;
  /**
   * Reads the preamble.
   *
   * @param conn The accepted connection.
   * @param context What the server knows of it.
   * @returns The stream to echo on, or the reason to close.
   */
  read(conn: Deno.TcpConn, context: PreambleContext): Promise<PreambleResult>;
}

/** A TCP connection as its fault stage sees it. */
export interface TcpLink {
  /** The client, `host:port`. */
  readonly peer: string;
  /**
   * What the log lines call it: `connection` when absent, or `QUIC stream
   * 4` for a stream of a QUIC connection.
   */
  readonly unit?: string;
  /** The stream the echo runs on. */
  readonly stream: ByteStream;
  /** The server's counters. */
  readonly stats: ServerStats;
  /** The server's tracer, when tracing. */
  readonly tracer: Tracer | undefined;
  /** Aborted once the connection closes: ends the stage's own waits. */
  readonly signal: AbortSignal;
  /** Why the connection ends, once that is known. */
  readonly reason: CloseReason | undefined;
  /**
   * Counts bytes read and not echoed (after a half-close), and traces the
   * read.
   *
   * @param read What `read` returned.
   */
  readUnanswered(read: number | null): void;
  /** Stops the idle timeout while the server itself waits (a delay). */
  suspendIdle(): void;
  /**
   * Resets the connection: an RST alone, no FIN. Only a server started with
   * `serveResettableTcp` can; elsewhere a fault stage never asks.
   */
  reset(): void;
  /** Undoes {@linkcode TcpLink.suspendIdle}. */
  resumeIdle(): void;
}

/**
 * The faults of a TCP server, shared by its connections: the writer stage
 * (delays, chunks) and the close policy (close, half-close or stall after N
 * replies). `faults()` of `echolab/faults` makes the plan that makes it.
 */
export interface TcpFaultStage {
  /** Replies a connection gets before the close policy acts. */
  readonly budget: number;
  /**
   * Decides, once per connection, whether its faults apply: its client is
   * in the networks aimed at, and it is among the connections chosen.
   *
   * @param source The client's host (a PROXY header's, once read).
   * @returns `true` when the connection gets faults.
   */
  selects(source: string): boolean;
  /**
   * Runs once a connection is accepted, before anything is read.
   *
   * @param link The connection.
   * @returns Bytes to write first (a banner), or `undefined`.
   */
  begin(link: TcpLink): Uint8Array | undefined;
  /**
   * Draws whether one line goes unanswered.
   *
   * @param link The connection.
   * @returns `true` to drop it.
   */
  drops(link: TcpLink): boolean;
  /**
   * The wait before one reply batch goes out, if any: no promise when
   * there is no delay.
   *
   * @param link The connection.
   * @returns Settles when the reply may go, or at once if the connection
   * closes; `undefined` when there is nothing to wait for.
   */
  delay(link: TcpLink): Promise<void> | undefined;
  /**
   * Writes bytes, in pieces as the faults say.
   *
   * @param link The connection.
   * @param bytes The bytes.
   * @param write Writes bytes as the plain writer does.
   * @returns Once written.
   */
  write(
    link: TcpLink,
    bytes: Uint8Array,
    write: (bytes: Uint8Array) => Promise<void>,
  ): Promise<void>;
  /**
   * The close policy, once `budget` replies went out.
   *
   * @param link The connection.
   * @param answered The replies so far.
   * @returns Why the connection ends.
   */
  afterBudget(link: TcpLink, answered: number): Promise<CloseReason>;
}

/** How a UDP server sends one reply and counts it. */
export interface UdpSender {
  /**
   * Sends a reply now and counts it (its lines once, however often sent).
   *
   * @param reply The bytes.
   * @param copies 1, or 2 for a duplicate.
   * @returns Once sent: `true` when every copy went out.
   */
  send(reply: Uint8Array, copies: number): Promise<boolean>;
}

/** The faults of a UDP server: drops, delays (replies may overtake), duplicates. */
export interface UdpFaultStage {
  /**
   * Whether faults apply to a datagram from this host (the networks aimed
   * at).
   *
   * @param hostname The source's address.
   * @returns `true` when they do.
   */
  selects(hostname: string): boolean;
  /**
   * Draws whether one datagram goes unanswered.
   *
   * @param peer The source, `host:port`.
   * @returns `true` to drop it.
   */
  drops(peer: string): boolean;
  /**
   * Sends a reply as the faults say: now, twice, or later (then `reply` is
   * copied, and `sender` kept until it goes out).
   *
   * @param reply The reply.
   * @param peer The destination, `host:port`.
   * @param sender Sends it.
   * @returns Once sent, or once queued.
   */
  deliver(reply: Uint8Array, peer: string, sender: UdpSender): Promise<void>;
  /** Replies waiting out their delay or going out now. */
  readonly pending: number;
  /**
   * Sends every delayed reply now (a stop).
   *
   * @returns Once they are all out, those already going out included.
   */
  flush(): Promise<void>;
}

/** The faults of one server, from `faults()` of `echolab/faults`. */
export interface FaultPlan {
  /** Whether any fault is on (a seed alone is none). */
  readonly active: boolean;
  /** The faults as given, under the option names (`delay`, `closeAfter`, …). */
  readonly options: Readonly<Record<string, unknown>>;
  /** The seed of the plan's generator (given, or chosen at random). */
  readonly seed: number;
  /**
   * The faults in words, for the start log: `delay 100 ms, seed 42`.
   *
   * @returns The description.
   */
  describe(): string;
  /**
   * The stage of a TCP server.
   *
   * @param context The server's counters and tracer, for the stage's own use.
   * @returns The stage; throws `RangeError` naming a fault that is for UDP.
   */
  tcp(context: FaultContext): TcpFaultStage;
  /**
   * The stage of a UDP server.
   *
   * @param context The server's counters, tracer and drop reporter.
   * @returns The stage; throws `RangeError` naming a fault that is for TCP.
   */
  udp(context: FaultContext): UdpFaultStage;
}

/** What a server gives its fault stage. */
export interface FaultContext {
  /** TCP: whether the server can reset a connection (`reset()` works). */
  resettable?: boolean;
  /** The server's counters. */
  stats: ServerStats;
  /** The server's tracer, when tracing. */
  tracer?: Tracer;
  /**
   * Counts and logs a drop, throttled.
   *
   * @param refusal Why, and the line that says so.
   */
  drop(refusal: Refusal): void;
  /**
   * UDP: the most bytes of replies waiting out a delay at once.
   *
   * @default {1048576}
   */
  maxDelayed?: number;
}

/** A running capture of one server's packets. */
export interface RunningCapture {
  /**
   * Stops capturing, after the last packets had time to arrive.
   *
   * @returns Once tcpdump is gone.
   */
  stop(): Promise<void>;
}

/**
 * Captures a server's own packets into its trace: `capture()` of
 * `echolab/capture` makes one.
 */
export interface CapturePlan {
  /** Milliseconds trace events wait for packets that come late. */
  readonly hold: number;
  /**
   * Starts capturing one server's port.
   *
   * @param addr Where the server is bound (`quic`: a QUIC server's UDP
   * port, whose datagrams are read as QUIC packets).
   * @param tracer The server's tracer, which gets every packet.
   * @returns The running capture, once it listens; rejects with the reason
   * (a `CaptureError`) when it cannot.
   */
  start(
    addr: Deno.NetAddr | { transport: "quic"; hostname: string; port: number },
    tracer: Tracer,
  ): Promise<RunningCapture>;
}
