// Copyright 2026 the echolab authors. MIT license.
/**
 * The TCP echo server: each line `X` is answered `received msg: X`.
 *
 * @example Use it as a test fixture
 * ```ts
 * import { serveTcp } from "./tcp.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * await using server = serveTcp({ port: 0 });
 * using conn = await Deno.connect(server.addr);
 * await conn.write(new TextEncoder().encode("hello\n"));
 * const buffer = new Uint8Array(64);
 * const read = await conn.read(buffer);
 * strictEqual(new TextDecoder().decode(buffer.subarray(0, read!)), "received msg: hello\n");
 * ```
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { formatAddress } from "./lib/serving/address.ts";
import { SocketBackoff } from "./lib/serving/_backoff.ts";
import {
  DEFAULT_HOSTNAME,
  DEFAULT_MAX_LINE,
  DEFAULT_PREFIX,
  DEFAULT_SHUTDOWN_GRACE,
  DEFAULT_TCP_PORT,
  DEFAULT_TIMEOUT,
  MAX_CONNECTIONS_LIMIT,
  MAX_DURATION,
  MAX_LINE_LIMIT,
} from "./lib/serving/defaults.ts";
import { DropReporter } from "./lib/serving/_drop_reporter.ts";
import {
  checkServerOptions,
  OptionChecker,
} from "./lib/serving/check_options.ts";
import { IdleClock } from "./lib/serving/_idle_timer.ts";
import { startServing } from "./lib/serving/_server_start.ts";
import { ReplyPrefix } from "./lib/serving/reply_prefix.ts";
import {
  type EchoServer,
  faultsInForce,
  type ServerAddr,
  type ServerOptions,
} from "./lib/serving/server.ts";
import { ServerStats, type StatsSnapshot } from "./lib/serving/server_stats.ts";
import type {
  AcceptedConn,
  FaultContext,
  FaultPlan,
  RunningCapture,
  TcpPreamble,
  TcpTlsStage,
} from "./lib/serving/stages.ts";
import { TcpAdmission } from "./lib/serving/_tcp_admission.ts";
import { TcpConnection } from "./lib/serving/_tcp_connection.ts";
import type { TcpConnectionSettings } from "./lib/serving/_tcp_settings.ts";
import {
  errorMessage,
  isResetError,
  isSocketGone,
} from "./lib/serving/errors.ts";
import { Tracer } from "./lib/serving/tracer.ts";
import type { NodeTcpListener } from "./lib/serving/_node_tcp.ts";

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
  DEFAULT_HOSTNAME,
  DEFAULT_TCP_PORT,
  DEFAULT_TIMEOUT,
} from "./lib/serving/defaults.ts";

/** Options of {@linkcode serveTcp}; the shared ones are in {@linkcode ServerOptions}. */
export interface TcpServerOptions extends ServerOptions {
  /**
   * Milliseconds a connection may go without a complete line; 0 means
   * never.
   *
   * @default {10000}
   */
  timeout?: number;
  /**
   * Milliseconds a connection may live at most, whatever it does; 0 means
   * no limit.
   *
   * @default {0}
   */
  lifetime?: number;
  /**
   * Most bytes in one line; a longer line closes its connection.
   *
   * @default {65536}
   */
  maxLine?: number;
  /**
   * Connections served at once; the next one is closed at once. 0 means no
   * limit.
   *
   * @default {0}
   */
  maxConnections?: number;
  /**
   * Connections served at once from one IP address (xinetd's `per_source`);
   * the next one is closed at once. 0 means no limit.
   *
   * @default {0}
   */
  maxPerSource?: number;
  /**
   * Serve on a Unix stream socket at this path instead of TCP (`hostname`
   * and `port` unused): the same echo, limits, faults, trace and stats. The
   * file is made mode 0660 and removed at shutdown; something already at
   * the path makes this throw (`clearStaleSocket` of `echolab/serving`
   * removes a stale socket first). Its clients have no address: they are
   * `unix:(unnamed)` in logs and one source for `maxPerSource`; `allow`,
   * `capture` and a plain `tls` certificate do not apply. Needs
   * `--allow-read` and `--allow-write` for the path and
   * `--allow-net=unix:PATH`.
   *
   * @default {undefined}
   */
  path?: string;
  /**
   * Set `SO_REUSEPORT`, so that several accept loops (workers) can share the
   * port (Linux spreads connections among them).
   *
   * @default {false}
   */
  reusePort?: boolean;
  /**
   * Serve TLS instead of plain TCP: `terminateTls()` of `echolab/tls`, which
   * reads each ClientHello first (SNI, ALPN, JA4, certificates by name;
   * `{sni}`, `{alpn}`, `{tls}`, `{ja4}` in the prefix), and serves TLS
   * after a PROXY header; or a certificate and key (PEM text) for Deno's
   * own TLS listener, which sees none of that and takes no `proxy`.
   *
   * @default {undefined}
   */
  tls?: { cert: string; key: string } | TcpTlsStage;
  /**
   * Milliseconds a graceful {@linkcode EchoServer.shutdown} waits for
   * pending writes before closing connections by force.
   *
   * @default {2000}
   */
  shutdownGrace?: number;
  /**
   * What runs before the echo: `proxyProtocol()` of `echolab/proxy` reads
   * a PROXY protocol header first, whose client is the peer from then on
   * (and, with `tls`, serves TLS after it).
   *
   * @default {undefined}
   */
  proxy?: TcpPreamble;
  /**
   * Faults to inject on purpose: `faults()` of `echolab/faults` (delays,
   * chunked replies, dropped lines, a close, half-close or stall after N
   * replies, a banner). The start log names them, at warning level.
   *
   * @default {undefined}
   */
  faults?: FaultPlan;
}

const logger = getLogger(["echolab", "tcp"]);

/** Checks every option; throws `RangeError` or `TypeError` naming it. */
function checkTcpOptions(options: TcpServerOptions): void {
  const check = new OptionChecker("the tcp server");
  checkServerOptions(check, options);
  check.integer("timeout", options.timeout, 0, MAX_DURATION);
  check.integer("lifetime", options.lifetime, 0, MAX_DURATION);
  check.integer("maxLine", options.maxLine, 1, MAX_LINE_LIMIT);
  check.integer(
    "maxConnections",
    options.maxConnections,
    0,
    MAX_CONNECTIONS_LIMIT,
  );
  check.integer("maxPerSource", options.maxPerSource, 0, MAX_CONNECTIONS_LIMIT);
  check.boolean("reusePort", options.reusePort);
  check.integer("shutdownGrace", options.shutdownGrace, 0, MAX_DURATION);
  check.object("proxy", options.proxy, ["read"]);
  check.object("faults", options.faults, ["describe", "tcp"]);
  if (options.path !== undefined) checkUnixOptions(check, options);
  const tls = options.tls;
  if (tls !== undefined && "start" in tls) {
    check.object("tls", tls, ["start", "describe"]);
  } else if (tls !== undefined) {
    check.string("tls.cert", tls.cert ?? 0);
    check.string("tls.key", tls.key ?? 0);
    if (options.proxy !== undefined) {
      throw new TypeError(
        "Cannot start the tcp server: TLS after a preamble (proxy) reads the ClientHello: pass tls: terminateTls({ certs }) of echolab/tls",
      );
    }
  }
}

/** What a Unix socket server cannot do. */
function checkUnixOptions(check: OptionChecker, options: TcpServerOptions) {
  check.string("path", options.path);
  const refuse = (option: string, why: string) => {
    throw new TypeError(
      `Cannot start the tcp server: ${option} does not apply to a Unix socket (path): ${why}`,
    );
  };
  if (options.allow !== undefined) {
    refuse("allow", "its clients have no IP address");
  }
  if (options.capture !== undefined) {
    refuse("capture", "tcpdump sees no packets on a Unix socket");
  }
  if (options.reusePort) refuse("reusePort", "it is not a port");
  if (options.tls !== undefined && !("start" in options.tls)) {
    refuse(
      "tls with a certificate and key",
      "pass terminateTls() of echolab/tls",
    );
  }
}

/** The TLS stage, when `tls` is one (not a plain certificate and key). */
function tlsStage(options: TcpServerOptions): TcpTlsStage | undefined {
  const tls = options.tls;
  return tls !== undefined && "start" in tls ? tls : undefined;
}

/**
 * Starts the TCP echo on a Unix stream socket (`path`). Binding happens
 * before this returns: a file at the path or a missing permission throws
 * here (`Deno.errors.AddrInUse`, `Deno.errors.NotCapable`).
 *
 * @param options The socket's path and the limits to apply.
 * @returns The running server; its `addr` is the socket's.
 *
 * @example
 * ```ts ignore
 * import { serveTcp } from "./tcp.ts";
 *
 * // Run with --allow-read, --allow-write and --allow-net=unix:/tmp/echo.sock.
 * await using server = serveTcp({ path: "/tmp/echo.sock" });
 * console.log(`listening on ${server.addr.path}`);
 * ```
 */
export function serveTcp(
  options: TcpServerOptions & { path: string },
): EchoServer<"unix">;
/**
 * Starts a TCP echo server. Binding happens before this returns, so a port
 * in use or a missing permission throws here (`Deno.errors.AddrInUse`,
 * `Deno.errors.NotCapable`).
 *
 * @param options Where to listen and the limits to apply.
 * @returns The running server.
 *
 * @example
 * ```ts
 * import { serveTcp } from "./tcp.ts";
 *
 * await using server = serveTcp({ hostname: "127.0.0.1", port: 0, timeout: 5000 });
 * console.log(`listening on port ${server.addr.port}`);
 * ```
 */
export function serveTcp(options?: TcpServerOptions): EchoServer<"tcp">;
export function serveTcp(
  options: TcpServerOptions = {},
): EchoServer<"tcp" | "unix"> {
  return new TcpServer(options);
}

/**
 * Starts a TCP echo server that can reset connections (the `resetAfter`
 * fault: an RST alone, no FIN), serving through `node:net`, which
 * `Deno.TcpConn` cannot do. `node:net` binds asynchronously: this resolves
 * once the server is bound, and rejects as {@linkcode serveTcp} throws. The
 * same options, except a Unix socket (`path`) and Deno's own TLS (`tls` as a
 * certificate and key: pass `terminateTls()` of `echolab/tls`); see README
 * ("Faults on purpose") for what this path costs.
 *
 * @param options As for {@linkcode serveTcp}.
 * @returns The running server.
 *
 * @example
 * ```ts
 * import { serveResettableTcp } from "./tcp.ts";
 * import { faults } from "./lib/faults/mod.ts";
 * import { rejects } from "node:assert/strict";
 *
 * await using server = await serveResettableTcp({ port: 0, faults: faults({ resetAfter: 1 }) });
 * using conn = await Deno.connect(server.addr);
 * await conn.write(new TextEncoder().encode("hello\n"));
 * const buffer = new Uint8Array(64);
 * await conn.read(buffer); // the reply, then an RST
 * await rejects(conn.read(buffer), Deno.errors.ConnectionReset);
 * ```
 */
export async function serveResettableTcp(
  options: TcpServerOptions = {},
): Promise<EchoServer<"tcp">> {
  checkTcpOptions(options);
  if (options.path !== undefined) {
    throw new TypeError(
      "Cannot start the tcp server: a resettable server serves TCP, not a Unix socket (path): an RST is TCP's",
    );
  }
  if (options.tls !== undefined && tlsStage(options) === undefined) {
    throw new TypeError(
      "Cannot start the tcp server: a resettable server serves TLS through terminateTls() of echolab/tls, not a plain certificate and key",
    );
  }
  const { listenNodeTcp } = await import("./lib/serving/_node_tcp.ts");
  const listener = await listenNodeTcp(
    options.hostname ?? DEFAULT_HOSTNAME,
    options.port ?? DEFAULT_TCP_PORT,
  );
  return new TcpServer(options, listener) as EchoServer<"tcp">;
}

class TcpServer implements EchoServer<"tcp" | "unix"> {
  readonly addr: ServerAddr<"tcp" | "unix">;
  readonly finished: Promise<void>;
  readonly started: Promise<void>;
  error: Error | undefined;
  #plan: FaultPlan | undefined;
  #faultContext: FaultContext;
  #capture: RunningCapture | undefined;
  #announced = false;
  #listener: {
    readonly addr: Deno.Addr;
    accept(): Promise<AcceptedConn>;
    close(): void;
  };
  #settings: TcpConnectionSettings;
  /** `tcp`, or `unix` on a Unix socket, as the log lines say it. */
  #name: "tcp" | "unix";
  #stats = new ServerStats();
  #backoff = new SocketBackoff(logger, "accept error");
  #admission: TcpAdmission;
  #shutdownGrace: number;
  #connections = new Set<TcpConnection>();
  /** Resolved when the last connection closes, once shutdown waits for it. */
  #allClosed: PromiseWithResolvers<void> | undefined;
  #closing = false;
  #acceptLoop: Promise<void>;
  #shutdown: Promise<void> | undefined;

  constructor(options: TcpServerOptions, listener?: NodeTcpListener) {
    checkTcpOptions(options);
    const timeout = options.timeout ?? DEFAULT_TIMEOUT;
    const capture = options.capture;
    const tracer = options.trace || capture !== undefined
      ? new Tracer("tcp", { hold: capture?.hold ?? 0 })
      : undefined;
    const drops = new DropReporter(this.#stats, logger);
    this.#faultContext = {
      resettable: listener !== undefined,
      stats: this.#stats,
      tracer,
      drop: (refusal) =>
        drops.drop(refusal.reason, refusal.template, refusal.properties),
    };
    this.#plan = options.faults?.active ? options.faults : undefined;
    const faults = this.#plan?.tcp(this.#faultContext);
    const preamble = options.proxy;
    this.#admission = new TcpAdmission({
      allow: options.allow,
      maxConnections: options.maxConnections ?? 0,
      maxPerSource: options.maxPerSource ?? 0,
      preamble,
      stats: this.#stats,
      logger,
    });
    this.#settings = {
      timeout,
      lifetime: options.lifetime ?? 0,
      maxLine: options.maxLine ?? DEFAULT_MAX_LINE,
      prefix: new ReplyPrefix(options.prefix ?? DEFAULT_PREFIX, {
        instance: options.instance,
      }),
      raw: options.raw ?? false,
      stats: this.#stats,
      tracer,
      idleClock: IdleClock.for(timeout),
      preamble,
      tls: tlsStage(options),
      faults,
      admit: this.#admission.admit,
      onClosed: this.#closed,
    };
    this.#shutdownGrace = options.shutdownGrace ?? DEFAULT_SHUTDOWN_GRACE;
    const address = {
      hostname: options.hostname ?? DEFAULT_HOSTNAME,
      port: options.port ?? DEFAULT_TCP_PORT,
      ...(options.reusePort ? { reusePort: true } : {}),
    };
    const tls = options.tls;
    this.#listener = listener ??
      (options.path !== undefined
        ? listenUnix(options.path)
        : tls === undefined || "start" in tls
        ? Deno.listen({ transport: "tcp", ...address })
        : Deno.listenTls({ ...address, ...tls }));
    this.addr = this.#listener.addr as TcpServer["addr"];
    this.#name = "path" in this.addr ? "unix" : "tcp";
    const serving = startServing({
      logger,
      addr: this.addr,
      suffix: tls === undefined
        ? ""
        : "start" in tls
        ? ` (TLS: ${tls.describe()})`
        : " (TLS)",
      allow: options.allow,
      faults: faults === undefined ? undefined : options.faults,
      capture,
      tracer,
      captured: (running) => this.#capture = running,
      serve: () => {
        this.#announced = true;
        return this.#accept();
      },
      abandon: () => {
        this.#closing = true;
        this.#listener.close();
      },
    });
    this.started = serving.started;
    this.#acceptLoop = serving.loop;
    // The loop ends on shutdown, or when the listener fails on its own.
    this.finished = this.#acceptLoop.then(() => this.shutdown());
  }

  shutdown(): Promise<void> {
    this.#shutdown ??= this.#stop();
    return this.#shutdown;
  }

  stats(): StatsSnapshot {
    return this.#stats.snapshot();
  }

  get faults(): Readonly<Record<string, unknown>> | undefined {
    return faultsInForce(this.#plan);
  }

  setFaults(plan: FaultPlan | undefined): void {
    const active = plan?.active ? plan : undefined;
    // Made first: a fault that is not for TCP throws, and nothing changes.
    const stage = active?.tcp(this.#faultContext);
    this.#plan = active;
    this.#settings.faults = stage;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  async #accept(): Promise<void> {
    while (!this.#closing) {
      let conn: AcceptedConn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#closing) break;
        if (isSocketGone(error)) {
          this.error = new Error(
            `its listening socket failed: ${errorMessage(error)}`,
          );
          logger.error(
            "The {transport} server on {address} stopped by itself: {error}",
            {
              transport: this.#name,
              address: formatAddress(this.addr),
              error: this.error.message,
            },
          );
          break;
        }
        // A client that reset before it was accepted: nothing to wait for.
        if (isResetError(error)) continue;
        await this.#backoff.failed(
          error,
          "error",
          "Cannot accept connections: {error}; retrying with backoff up to {max} ms",
        );
        continue;
      }
      this.#backoff.succeeded();
      const peer = formatAddress(conn.remoteAddr);
      const admitted = this.#admission.atAccept(
        conn.remoteAddr,
        peer,
        this.#connections.size,
      );
      if (admitted === false) {
        conn.close();
        continue;
      }
      const connection = new TcpConnection(conn, this.#settings, {
        peer,
        source: admitted === true ? undefined : admitted,
      });
      this.#connections.add(connection);
      // The connection reports its own end (onClosed): nothing to chain here.
      connection.serve();
    }
  }

  /** Forgets a closed connection: one function for all of them. */
  readonly #closed = (connection: TcpConnection): void => {
    this.#connections.delete(connection);
    if (connection.source !== undefined) {
      this.#admission.release(connection.source);
    }
    if (this.#connections.size === 0) this.#allClosed?.resolve();
  };

  async #stop(): Promise<void> {
    this.#closing = true;
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
    this.#backoff.wake();
    await this.#acceptLoop;
    for (const connection of this.#connections) {
      connection.drain("shutdown");
    }
    if (this.#connections.size > 0) {
      const allClosed = this.#allClosed = Promise.withResolvers<void>();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), this.#shutdownGrace);
      });
      const outcome = await Promise.race([allClosed.promise, grace]);
      clearTimeout(timer);
      if (outcome === "timeout") {
        const stuck = this.#connections.size;
        for (const connection of this.#connections) {
          connection.abort("shutdown");
        }
        await allClosed.promise;
        logger.warn(
          "Closed {count} connections by force: their writes did not finish within {grace} ms",
          { count: stuck, grace: this.#shutdownGrace },
        );
      }
    }
    // A server that never started serving (its capture failed) says
    // nothing more: the error line said it all.
    if (this.#announced) {
      logger.info("Stopped {transport} server on {address}", {
        transport: this.#name,
        address: formatAddress(this.addr),
      });
    }
    await this.#capture?.stop();
    this.#settings.tracer?.close();
    if ("path" in this.addr) removeSocketFile(this.addr.path);
  }
}

/** Listens on a Unix stream socket whose file only its group may use. */
function listenUnix(path: string): Deno.UnixListener {
  const listener = Deno.listen({ transport: "unix", path });
  try {
    Deno.chmodSync(path, 0o660);
  } catch (error) {
    listener.close();
    throw error;
  }
  return listener;
}

/** Removes a Unix socket's file, if closing the listener did not. */
function removeSocketFile(path: string): void {
  try {
    Deno.removeSync(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      logger.warn("Cannot remove the socket file {path}: {error}", {
        path,
        error: errorMessage(error),
      });
    }
  }
}
