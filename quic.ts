// Copyright 2026 the echolab authors. MIT license.
/**
 * The QUIC echo server: each bidirectional stream is a TCP-like line echo,
 * each unidirectional stream is answered on one of the server's own, each
 * datagram (RFC 9221) is answered like UDP. Deno's QUIC API is unstable:
 * run with `--unstable-net`.
 *
 * @example Use it as a test fixture
 * ```ts ignore
 * import { serveQuic } from "./quic.ts";
 *
 * await using server = await serveQuic({ port: 0 });
 * const conn = await Deno.connectQuic({
 *   hostname: "127.0.0.1",
 *   port: server.addr.port,
 *   alpnProtocols: ["echolab"],
 *   caCerts: [server.cert],
 *   serverName: "localhost",
 * });
 * ```
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { formatAddress, plainHostname } from "./lib/serving/address.ts";
import {
  DEFAULT_HOSTNAME,
  DEFAULT_MAX_LINE,
  DEFAULT_MAX_STREAMS,
  DEFAULT_PREFIX,
  DEFAULT_QUIC_ALPN,
  DEFAULT_QUIC_PORT,
  DEFAULT_SHUTDOWN_GRACE,
  DEFAULT_TIMEOUT,
  MAX_CONNECTIONS_LIMIT,
  MAX_DATAGRAM_SIZE,
  MAX_DURATION,
  MAX_LINE_LIMIT,
} from "./lib/serving/defaults.ts";
import {
  checkServerOptions,
  OptionChecker,
} from "./lib/serving/check_options.ts";
import { DropReporter } from "./lib/serving/_drop_reporter.ts";
import { errorMessage } from "./lib/serving/errors.ts";
import { QuicStreamConn } from "./lib/serving/quic_stream.ts";
import { ReplyPrefix } from "./lib/serving/reply_prefix.ts";
import {
  type EchoServer,
  faultsInForce,
  type ServerOptions,
} from "./lib/serving/server.ts";
import { ServerStats, type StatsSnapshot } from "./lib/serving/server_stats.ts";
import type {
  FaultContext,
  FaultPlan,
  RunningCapture,
  UdpFaultStage,
} from "./lib/serving/stages.ts";
import { startServing } from "./lib/serving/_server_start.ts";
import { TcpAdmission } from "./lib/serving/_tcp_admission.ts";
import { TcpConnection } from "./lib/serving/_tcp_connection.ts";
import type { TcpConnectionSettings } from "./lib/serving/_tcp_settings.ts";
import { ThrottledReporter } from "./lib/serving/throttled_reporter.ts";
import { Tracer } from "./lib/serving/tracer.ts";

export type {
  EchoServer,
  ServerAddr,
  ServerOptions,
} from "./lib/serving/server.ts";
export type { StatsSnapshot } from "./lib/serving/server_stats.ts";
export type * from "./lib/serving/stages.ts";
export type { Tracer } from "./lib/serving/tracer.ts";
export type { ServerStats } from "./lib/serving/server_stats.ts";

export {
  DEFAULT_MAX_STREAMS,
  DEFAULT_QUIC_ALPN,
  DEFAULT_QUIC_PORT,
} from "./lib/serving/defaults.ts";

/** Options of {@linkcode serveQuic}; the shared ones are in {@linkcode ServerOptions}. */
export interface QuicServerOptions extends ServerOptions {
  /**
   * Milliseconds a connection may stay silent: QUIC's idle timeout (the
   * smaller of the server's and the client's applies); 0 means the client's
   * alone.
   *
   * @default {10000}
   */
  timeout?: number;
  /**
   * Most bytes in one line of a stream; a longer line ends its stream.
   *
   * @default {65536}
   */
  maxLine?: number;
  /**
   * QUIC connections served at once; the next is closed once it arrives. 0
   * means no limit.
   *
   * @default {0}
   */
  maxConnections?: number;
  /**
   * QUIC connections served at once from one IP address. 0 means no limit.
   *
   * @default {0}
   */
  maxPerSource?: number;
  /**
   * Streams a client may have open at once, per direction (a QUIC
   * transport parameter: the client waits for more).
   *
   * @default {100}
   */
  maxStreams?: number;
  /**
   * Bytes of a datagram kept in its reply; 0 keeps it whole.
   *
   * @default {0}
   */
  bufferSize?: number;
  /**
   * The certificate and key (PEM). Without them the server makes an
   * ephemeral self-signed one (ECDSA P-256, 14 days, for `localhost` and
   * `127.0.0.1`), whose SHA-256 fingerprint it logs.
   *
   * @default {undefined}
   */
  tls?: { cert: string; key: string };
  /**
   * The ALPN protocols offered; a client offering none of them fails its
   * handshake (TLS alert 120).
   *
   * @default {["echolab"]}
   */
  alpn?: string[];
  /**
   * Milliseconds a graceful {@linkcode EchoServer.shutdown} waits for
   * streams to finish.
   *
   * @default {2000}
   */
  shutdownGrace?: number;
  /**
   * Faults on purpose (`faults()` of `echolab/faults`): on the streams as
   * for TCP (delays, dropped lines, a close after N replies, ...), and on
   * the datagrams as for UDP (delay, drop, duplicate) when every fault asked
   * is one UDP takes too.
   *
   * @default {undefined}
   */
  faults?: FaultPlan;
}

/** A running QUIC server, with the certificate it serves. */
export interface QuicEchoServer extends EchoServer<"quic"> {
  /** The certificate served, PEM (the ephemeral one when none was given). */
  readonly cert: string;
  /** SHA-256 of its DER, `AB:CD:…`: what a client pins. */
  readonly fingerprint: string;
}

const logger = getLogger(["echolab", "quic"]);

function checkQuicOptions(options: QuicServerOptions): void {
  const check = new OptionChecker("the quic server");
  checkServerOptions(check, options);
  check.integer("timeout", options.timeout, 0, MAX_DURATION);
  check.integer("maxLine", options.maxLine, 1, MAX_LINE_LIMIT);
  check.integer(
    "maxConnections",
    options.maxConnections,
    0,
    MAX_CONNECTIONS_LIMIT,
  );
  check.integer("maxPerSource", options.maxPerSource, 0, MAX_CONNECTIONS_LIMIT);
  check.integer("maxStreams", options.maxStreams, 1, 1_000_000);
  check.integer("bufferSize", options.bufferSize, 0, MAX_DATAGRAM_SIZE);
  check.integer("shutdownGrace", options.shutdownGrace, 0, MAX_DURATION);
  check.object("faults", options.faults, ["describe", "tcp"]);
  if (options.tls !== undefined) {
    check.string("tls.cert", options.tls.cert ?? 0);
    check.string("tls.key", options.tls.key ?? 0);
  }
  const alpn = options.alpn;
  if (
    alpn !== undefined &&
    (!Array.isArray(alpn) || alpn.length === 0 ||
      alpn.some((protocol) => typeof protocol !== "string" || !protocol))
  ) {
    throw new RangeError(
      "Cannot start the quic server: alpn must list at least one protocol name",
    );
  }
}

/**
 * Starts a QUIC echo server. It binds before it resolves: a port in use or a
 * missing permission rejects here. Without `tls` it first makes an
 * ephemeral certificate (WebCrypto), which takes a few milliseconds.
 *
 * @param options Where to listen, the certificate and the limits.
 * @returns The running server.
 *
 * @example
 * ```ts ignore
 * import { serveQuic } from "./quic.ts";
 *
 * await using server = await serveQuic({ port: 0 });
 * console.log(`QUIC on ${server.addr.port}, pin ${server.fingerprint}`);
 * ```
 */
export async function serveQuic(
  options: QuicServerOptions = {},
): Promise<QuicEchoServer> {
  checkQuicOptions(options);
  const { certificateFingerprint, makeSelfSignedCertificate } = await import(
    "./lib/tls/self_signed.ts"
  );
  const given = options.tls;
  const tls = given === undefined
    ? await makeSelfSignedCertificate()
    : { ...given, fingerprint: await certificateFingerprint(given.cert) };
  return new QuicServer(options, tls, given === undefined);
}

/**
 * The datagrams' fault stage: the plan's UDP faults (delay, drop,
 * duplicate) when it has no fault of streams alone (a close after N
 * replies has no meaning for a datagram); else none.
 */
function datagramStage(
  plan: FaultPlan | undefined,
  context: FaultContext,
): UdpFaultStage | undefined {
  if (plan === undefined) return undefined;
  try {
    return plan.udp(context);
  } catch {
    return undefined;
  }
}

/** A datagram's reply: the prefix, the datagram (one final newline off), a newline. */
function withPrefix(prefix: Uint8Array, kept: Uint8Array): Uint8Array {
  const body = kept.at(-1) === 10 ? kept.subarray(0, -1) : kept;
  const reply = new Uint8Array(prefix.length + body.length + 1);
  reply.set(prefix);
  reply.set(body, prefix.length);
  reply[reply.length - 1] = 10;
  return reply;
}

/** One QUIC connection's bookkeeping. */
interface QuicLink {
  conn: Deno.QuicConn;
  peer: string;
  source: string;
  streams: Set<TcpConnection>;
  datagrams: number;
  startedAt: number;
  /** Why the server closed it, when it did. */
  closing?: string;
  /** Whether its handshake completed. */
  handshaken?: boolean;
}

class QuicServer implements QuicEchoServer {
  readonly addr: { transport: "quic"; hostname: string; port: number };
  readonly cert: string;
  readonly fingerprint: string;
  readonly started: Promise<void>;
  readonly finished: Promise<void>;
  error: Error | undefined;
  #endpoint: Deno.QuicEndpoint;
  #listener: Deno.QuicListener;
  #stats = new ServerStats();
  #streamStats = new ServerStats();
  #settings: TcpConnectionSettings;
  #plan: FaultPlan | undefined;
  #faultContext: FaultContext;
  #admission: TcpAdmission;
  #links = new Set<QuicLink>();
  /** Each open stream's connection. */
  #linkOf = new Map<TcpConnection, QuicLink>();
  #prefix: ReplyPrefix;
  #raw: boolean;
  #bufferSize: number;
  #tracer: Tracer | undefined;
  #closing = false;
  #shutdownGrace: number;
  #acceptLoop: Promise<void>;
  #shutdown: Promise<void> | undefined;
  #failures = new ThrottledReporter();
  /** The plan's datagram faults, when all its faults are UDP's too. */
  #datagramFaults: UdpFaultStage | undefined;
  #capture: RunningCapture | undefined;
  #tooLong = new ThrottledReporter();

  constructor(
    options: QuicServerOptions,
    tls: { cert: string; key: string; fingerprint: string },
    ephemeral: boolean,
  ) {
    const timeout = options.timeout ?? DEFAULT_TIMEOUT;
    const maxStreams = options.maxStreams ?? DEFAULT_MAX_STREAMS;
    this.cert = tls.cert;
    this.fingerprint = tls.fingerprint;
    this.#raw = options.raw ?? false;
    this.#bufferSize = options.bufferSize ?? 0;
    this.#shutdownGrace = options.shutdownGrace ?? DEFAULT_SHUTDOWN_GRACE;
    const capture = options.capture;
    this.#tracer = options.trace || capture !== undefined
      ? new Tracer("quic", { hold: capture?.hold ?? 0 })
      : undefined;
    this.#prefix = new ReplyPrefix(options.prefix ?? DEFAULT_PREFIX, {
      instance: options.instance,
    });
    // A datagram fault's refusals (a full delay queue): counted and logged.
    const drops = new DropReporter(this.#stats, logger);
    this.#faultContext = {
      resettable: false,
      stats: this.#streamStats,
      tracer: this.#tracer,
      drop: (refusal) =>
        drops.drop(refusal.reason, refusal.template, refusal.properties),
    };
    this.#plan = options.faults?.active ? options.faults : undefined;
    this.#datagramFaults = datagramStage(this.#plan, this.#faultContext);
    this.#admission = new TcpAdmission({
      allow: options.allow,
      maxConnections: options.maxConnections ?? 0,
      maxPerSource: options.maxPerSource ?? 0,
      stats: this.#stats,
      logger,
    });
    this.#settings = {
      // QUIC's own idle timeout watches the connection; streams have none.
      timeout: 0,
      lifetime: 0,
      maxLine: options.maxLine ?? DEFAULT_MAX_LINE,
      prefix: this.#prefix,
      raw: this.#raw,
      stats: this.#streamStats,
      tracer: this.#tracer,
      faults: this.#plan?.tcp(this.#faultContext),
      admit: () => undefined,
      onClosed: (stream) => {
        const connection = stream as TcpConnection;
        this.#linkOf.get(connection)?.streams.delete(connection);
        this.#linkOf.delete(connection);
      },
    };
    this.#endpoint = new Deno.QuicEndpoint({
      hostname: options.hostname ?? DEFAULT_HOSTNAME,
      port: options.port ?? DEFAULT_QUIC_PORT,
    });
    const bound = this.#endpoint.addr;
    this.addr = {
      transport: "quic",
      hostname: bound.hostname,
      port: bound.port,
    };
    this.#listener = this.#endpoint.listen({
      cert: tls.cert,
      key: tls.key,
      alpnProtocols: options.alpn ?? [DEFAULT_QUIC_ALPN],
      maxIdleTimeout: timeout > 0 ? timeout : undefined,
      maxConcurrentBidirectionalStreams: maxStreams,
      maxConcurrentUnidirectionalStreams: maxStreams,
    });
    const alpn = (options.alpn ?? [DEFAULT_QUIC_ALPN]).join(", ");
    const serving = startServing({
      logger,
      addr: this.addr,
      suffix: ` (UDP; ALPN ${alpn}; ${
        ephemeral ? "ephemeral self-signed" : "given"
      } certificate, SHA-256 ${tls.fingerprint})`,
      allow: options.allow,
      faults: this.#settings.faults === undefined ? undefined : options.faults,
      capture,
      tracer: this.#tracer,
      captured: (running) => this.#capture = running,
      serve: () => this.#accept(),
      abandon: () => this.#endpoint.close(),
    });
    this.started = serving.started;
    this.#acceptLoop = serving.loop;
    this.finished = this.#acceptLoop.then(() => this.shutdown());
  }

  shutdown(): Promise<void> {
    this.#shutdown ??= this.#stop();
    return this.#shutdown;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  stats(): StatsSnapshot {
    const own = this.#stats.snapshot();
    const streams = this.#streamStats.snapshot();
    return {
      ...own,
      lines_in: streams.lines_in,
      lines_out: streams.lines_out,
      bytes_in: own.bytes_in + streams.bytes_in,
      bytes_out: own.bytes_out + streams.bytes_out,
      streams_total: streams.connections_total,
      streams_open: streams.connections_open,
      stream_closes: streams.closes,
      faults: { ...own.faults, ...streams.faults },
    };
  }

  get faults(): Readonly<Record<string, unknown>> | undefined {
    return faultsInForce(this.#plan);
  }

  setFaults(plan: FaultPlan | undefined): void {
    const active = plan?.active ? plan : undefined;
    const stage = active?.tcp(this.#faultContext);
    this.#plan = active;
    this.#settings.faults = stage;
    this.#datagramFaults = datagramStage(active, this.#faultContext);
  }

  async #accept(): Promise<void> {
    while (!this.#closing) {
      let incoming: Deno.QuicIncoming;
      try {
        incoming = await this.#listener.incoming();
      } catch (error) {
        if (this.#closing) break;
        this.error = new Error(`its endpoint failed: ${errorMessage(error)}`);
        logger.error(
          "The quic server on {address} stopped by itself: {error}",
          {
            address: formatAddress(this.addr),
            error: this.error.message,
          },
        );
        break;
      }
      // Deno 2.9.6 consumes an incoming connection when its address is
      // read: the peer is known only once it is accepted.
      this.#tracer?.event("Initial received: a client starts a handshake", {});
      this.#serve(incoming, performance.now());
    }
  }

  async #serve(incoming: Deno.QuicIncoming, arrived: number): Promise<void> {
    let conn: Deno.QuicConn;
    try {
      conn = await incoming.accept();
    } catch (error) {
      // Refused in the handshake (no ALPN in common): never a connection.
      this.#stats.countClose("handshake failed");
      this.#failed("an incoming connection", error);
      return;
    }
    const remote = conn.remoteAddr;
    const peer = formatAddress(remote);
    const admitted = this.#admission.atAccept(remote, peer, this.#links.size);
    if (admitted === false) {
      conn.close({ closeCode: 1, reason: "refused" });
      return;
    }
    const link: QuicLink = {
      conn,
      peer,
      source: typeof admitted === "string"
        ? admitted
        : plainHostname(remote.hostname),
      streams: new Set(),
      datagrams: 0,
      startedAt: arrived,
    };
    this.#links.add(link);
    this.#stats.opened();
    conn.closed.then(
      (info) => this.#ended(link, info),
      (error) => this.#ended(link, error),
    );
    try {
      await conn.handshake;
    } catch (error) {
      this.#failed(peer, error);
      return;
    }
    link.handshaken = true;
    const took = performance.now() - arrived;
    this.#stats.handshake(took / 1000);
    logger.info("Accepted QUIC connection from {peer}", { peer });
    this.#tracer?.event(
      "handshake with {peer} complete in {milliseconds} ms: alpn={alpn}, sni={sni}",
      {
        peer,
        milliseconds: took.toFixed(3),
        alpn: conn.protocol ?? "",
        sni: conn.serverName ?? "",
      },
    );
    const values = {
      sni: conn.serverName ?? "",
      alpn: conn.protocol ?? "",
      tls: "TLSv1.3",
    };
    this.#streams(link, values);
    this.#unidirectional(link, values);
    this.#datagrams(
      link,
      // The prefix of its datagrams' replies, filled once, as a stream's is.
      this.#prefix.bytes({
        ...values,
        peer,
        local: formatAddress(this.addr),
      }),
    );
  }

  /** Each bidirectional stream the client opens: a line echo. */
  async #streams(link: QuicLink, values: Record<string, string>) {
    try {
      for await (const stream of link.conn.incomingBidirectionalStreams) {
        const id = stream.readable.id;
        this.#echo(
          link,
          new QuicStreamConn(stream.readable, stream.writable, {
            remote: link.conn.remoteAddr,
            local: this.#endpoint.addr,
          }),
          { id, values },
        );
      }
    } catch {
      // The connection closed: its end is logged once, by #ended.
    }
  }

  /** Each unidirectional stream: answered on one of the server's own. */
  async #unidirectional(link: QuicLink, values: Record<string, string>) {
    try {
      for await (const stream of link.conn.incomingUnidirectionalStreams) {
        const id = stream.id;
        this.#echo(
          link,
          new QuicStreamConn(stream, link.conn.createUnidirectionalStream(), {
            remote: link.conn.remoteAddr,
            local: this.#endpoint.addr,
          }),
          { id, values, one: true },
        );
      }
    } catch {
      // As above.
    }
  }

  #echo(
    link: QuicLink,
    stream: QuicStreamConn,
    what: { id: bigint; values: Record<string, string>; one?: boolean },
  ): void {
    const unit = `QUIC ${what.one ? "unidirectional " : ""}stream ${what.id}`;
    const connection = new TcpConnection(stream, this.#settings, {
      peer: link.peer,
      source: link.source,
      unit,
      values: what.values,
    });
    link.streams.add(connection);
    this.#linkOf.set(connection, link);
    this.#tracer?.event("{unit} opened by {peer}", { unit, peer: link.peer });
    connection.serve();
  }

  /** Each datagram: the prefix and the datagram, as UDP answers. */
  async #datagrams(link: QuicLink, prefix: Uint8Array): Promise<void> {
    const stats = this.#stats;
    const { conn, peer } = link;
    while (true) {
      let datagram: Uint8Array;
      try {
        datagram = await conn.readDatagram();
      } catch {
        return;
      }
      link.datagrams++;
      stats.datagrams_in++;
      stats.bytes_in += datagram.length;
      const size = this.#bufferSize;
      const kept = size > 0 && datagram.length > size
        ? datagram.subarray(0, size)
        : datagram;
      this.#tracer?.event(
        "datagram from {peer}: {bytes} bytes, kept {kept}",
        { peer, bytes: datagram.length, kept: kept.length },
      );
      if (kept !== datagram) {
        stats.truncated++;
        logger.warn(
          "Datagram from {peer} cut from {received} to {kept} bytes (raise {option} to keep more)",
          {
            peer,
            received: datagram.length,
            kept: kept.length,
            option: "bufferSize",
          },
        );
      }
      const faults = this.#datagramFaults;
      const faulty = faults !== undefined &&
        faults.selects(link.source);
      if (faulty && faults.drops(peer)) continue;
      const reply = this.#raw ? kept : withPrefix(prefix, kept);
      if (reply.length > conn.maxDatagramSize) {
        this.#tooLong.log(
          logger,
          "warning",
          "reply too large",
          "No reply to {peer}: {bytes} bytes do not fit one QUIC datagram ({max} here)",
          { peer, bytes: reply.length, max: conn.maxDatagramSize },
        );
        continue;
      }
      const sender = {
        send: async (bytes: Uint8Array, copies: number) => {
          try {
            for (let copy = 0; copy < copies; copy++) {
              await conn.sendDatagram(bytes);
              stats.datagrams_out++;
              stats.bytes_out += bytes.length;
              this.#tracer?.event("datagram reply to {peer}: {bytes} bytes", {
                peer,
                bytes: bytes.length,
              });
            }
            return true;
          } catch {
            return false;
          }
        },
      };
      if (faulty) await faults.deliver(reply, peer, sender);
      else if (!await sender.send(reply, 1)) return;
    }
  }

  #failed(peer: string, error: unknown): void {
    this.#failures.log(
      logger,
      "info",
      "quic handshake failed",
      "QUIC handshake with {peer} failed: {error}",
      { peer, error: errorMessage(error) },
    );
  }

  /** A connection's end: counted, traced and logged once. */
  #ended(link: QuicLink, outcome: Deno.QuicCloseInfo | unknown): void {
    if (!this.#links.delete(link)) return;
    this.#admission.release(link.source);
    const seconds = (performance.now() - link.startedAt) / 1000;
    const info = outcome as Partial<Deno.QuicCloseInfo>;
    const message = outcome instanceof Error ? outcome.message : "";
    // Closed here: the reason was set; timed out: the idle timeout; else
    // the client closed it (resolved with its code, or an error).
    const reason = link.closing ??
      (!link.handshaken
        ? "handshake failed"
        : /timed out/.test(message)
        ? "idle timeout"
        : "client closed");
    const code = info.closeCode ?? /code (\d+)/.exec(message)?.[1] ?? "";
    this.#stats.closed(reason, seconds);
    for (const stream of link.streams) stream.abort("client closed");
    const closed = {
      peer: link.peer,
      reason,
      code: String(code),
      detail: info.reason ?? message,
      datagrams: link.datagrams,
      duration: Math.round(seconds * 1000) / 1000,
    };
    this.#tracer?.event(
      "closed {peer}: {reason} (code {code}: {detail}), {datagrams} datagrams, {duration} s",
      closed,
    );
    logger.info(
      "Closed QUIC connection from {peer}: {reason}, {datagrams} datagrams, {duration} s",
      closed,
    );
  }

  async #stop(): Promise<void> {
    this.#closing = true;
    // A waiting incoming() ends only once the endpoint closes, below.
    this.#listener.stop();
    for (const link of this.#links) {
      link.closing = "shutdown";
      for (const stream of link.streams) stream.drain("shutdown");
    }
    const open = () =>
      [...this.#links].reduce((sum, link) => sum + link.streams.size, 0);
    const deadline = performance.now() + this.#shutdownGrace;
    while (open() > 0 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await this.#datagramFaults?.flush();
    for (const link of this.#links) {
      link.conn.close({ closeCode: 0, reason: "shutdown" });
    }
    // Give the CONNECTION_CLOSE a moment to leave before the socket goes.
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (const link of [...this.#links]) this.#ended(link, { closeCode: 0 });
    this.#endpoint.close();
    await this.#acceptLoop;
    logger.info("Stopped quic server on {address}", {
      address: formatAddress(this.addr),
    });
    await this.#capture?.stop();
    this.#tracer?.close();
  }
}
