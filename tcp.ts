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
import type { AccessList } from "./lib/policy/access_list.ts";
import { formatAddress } from "./lib/serving/address.ts";
import {
  checkFaults,
  FaultInjector,
  type FaultOptions,
} from "./lib/faults/faults.ts";
import { SocketBackoff } from "./lib/serving/_backoff.ts";
import {
  DEFAULT_HOSTNAME,
  DEFAULT_MAX_LINE,
  DEFAULT_PREFIX,
  DEFAULT_SHUTDOWN_GRACE,
  DEFAULT_TCP_PORT,
  DEFAULT_TIMEOUT,
} from "./lib/serving/defaults.ts";
import { DropReporter } from "./lib/serving/_drop_reporter.ts";
import { IdleClock } from "./lib/serving/_idle_timer.ts";
import type { PacketCapture } from "./lib/capture/packet_capture.ts";
import { CAPTURE_HOLD, stopCapture } from "./lib/capture/server_capture.ts";
import { startServing } from "./lib/serving/_server_start.ts";
import { ReplyPrefix } from "./lib/serving/_reply_prefix.ts";
import type { EchoServer, ServerOptions } from "./lib/serving/server.ts";
import { ServerStats, type StatsSnapshot } from "./lib/serving/server_stats.ts";
import {
  type CloseReason,
  isResetError,
  TcpConnection,
  type TcpConnectionOptions,
  type TcpConnectionSettings,
} from "./lib/serving/_tcp_connection.ts";
import { ThrottledReporter } from "./lib/serving/throttled_reporter.ts";
import { Tracer } from "./lib/serving/tracer.ts";

export type { EchoServer, ServerOptions } from "./lib/serving/server.ts";
export type { StatsSnapshot } from "./lib/serving/server_stats.ts";
export type { CloseReason } from "./lib/serving/_tcp_connection.ts";
export type { FaultKind, FaultOptions } from "./lib/faults/faults.ts";
export { AccessList } from "./lib/policy/access_list.ts";
export { CaptureError } from "./lib/capture/packet_capture.ts";
export type { CaptureOption } from "./lib/capture/server_capture.ts";
export {
  DEFAULT_HOSTNAME,
  DEFAULT_TCP_PORT,
  DEFAULT_TIMEOUT,
} from "./lib/serving/defaults.ts";

/** Options of {@linkcode serveTcp}; the shared ones are in {@linkcode ServerOptions}. */
export interface TcpServerOptions extends ServerOptions {
  /**
   * Seconds a connection may go without a complete line; 0 means never.
   *
   * @default {10}
   */
  timeout?: number;
  /**
   * Seconds a connection may live at most, whatever it does; 0 means no limit.
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
   * Set `SO_REUSEPORT`, so that several accept loops (workers) can share the
   * port (Linux spreads connections among them).
   *
   * @default {false}
   */
  reusePort?: boolean;
  /**
   * Serve TLS with this certificate and key (PEM text) instead of plain TCP.
   *
   * @default {undefined}
   */
  tls?: { cert: string; key: string };
  /**
   * Milliseconds a graceful {@linkcode EchoServer.shutdown} waits for
   * pending writes before closing connections by force.
   *
   * @default {2000}
   */
  shutdownGrace?: number;
  /**
   * Every connection must start with a PROXY protocol header (version 1 or
   * 2, as HAProxy's `send-proxy` and `send-proxy-v2` write it), within
   * `timeout`. The client it names is the peer from then on: logs, trace,
   * `{peer}`, `allow`, `maxPerSource` and the stats use it. A missing, slow,
   * malformed or over-long header closes the connection with the reason
   * `bad proxy header`; nothing of it is echoed. With `tls`, the TLS
   * handshake follows the header, as HAProxy's `send-proxy` with `ssl`
   * sends it.
   *
   * @default {false}
   */
  proxyProtocol?: boolean;
  /**
   * Faults to inject on purpose (delays, chunked replies, dropped lines, a
   * close, half-close or stall after N replies, a banner); see
   * {@linkcode FaultOptions}. The start log names them, at warning level.
   *
   * @default {undefined}
   */
  faults?: FaultOptions;
  /**
   * With `proxyProtocol`: the only peers (the load balancers) that may
   * connect at all; others are closed at once and counted under the drop
   * reason `proxy not trusted`. `undefined` lets every peer connect, and
   * each must send a header.
   *
   * @default {undefined}
   */
  proxyFrom?: AccessList;
}

const logger = getLogger(["echolab", "tcp"]);

/** Why a connection is refused, and the line that says so. */
interface Refusal {
  reason: string;
  template: string;
  properties: Record<string, unknown>;
}

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
 * await using server = serveTcp({ hostname: "127.0.0.1", port: 0, timeout: 5 });
 * console.log(`listening on port ${server.addr.port}`);
 * ```
 */
export function serveTcp(options: TcpServerOptions = {}): EchoServer<"tcp"> {
  return new TcpServer(options);
}

class TcpServer implements EchoServer<"tcp"> {
  readonly addr: Deno.NetAddr & { transport: "tcp" };
  readonly finished: Promise<void>;
  readonly started: Promise<void>;
  #capture: PacketCapture | undefined;
  #announced = false;
  #listener: Deno.Listener<Deno.TcpConn | Deno.TlsConn, Deno.NetAddr>;
  #settings: TcpConnectionSettings;
  #stats = new ServerStats();
  #drops = new DropReporter(this.#stats, logger);
  #backoff = new SocketBackoff(logger, "accept error");
  #allow: AccessList | undefined;
  #proxyProtocol: boolean;
  #proxyFrom: AccessList | undefined;
  #badHeaders = new ThrottledReporter();
  #maxConnections: number;
  #maxPerSource: number;
  #perSource = new Map<string, number>();
  #shutdownGrace: number;
  #connections = new Set<TcpConnection>();
  /** Resolved when the last connection closes, once shutdown waits for it. */
  #allClosed: PromiseWithResolvers<void> | undefined;
  #closing = false;
  #acceptLoop: Promise<void>;
  #shutdown: Promise<void> | undefined;

  constructor(options: TcpServerOptions) {
    if (options.proxyFrom !== undefined && !options.proxyProtocol) {
      throw new TypeError(
        "Cannot start the tcp server: proxyFrom needs proxyProtocol",
      );
    }
    if (options.faults !== undefined) checkFaults(options.faults, "tcp");
    const faults = options.faults === undefined
      ? undefined
      : new FaultInjector(options.faults);
    const timeout = (options.timeout ?? DEFAULT_TIMEOUT) * 1000;
    const capture = options.capture ?? false;
    this.#settings = {
      timeout,
      lifetime: (options.lifetime ?? 0) * 1000,
      maxLine: options.maxLine ?? DEFAULT_MAX_LINE,
      prefix: new ReplyPrefix(options.prefix ?? DEFAULT_PREFIX, {
        instance: options.instance,
      }),
      raw: options.raw ?? false,
      stats: this.#stats,
      tracer: options.trace || capture !== false
        ? new Tracer("tcp", { hold: capture === false ? 0 : CAPTURE_HOLD })
        : undefined,
      idleClock: IdleClock.for(timeout),
      proxyProtocol: options.proxyProtocol
        ? {
          reportBadHeader: (peer, reason) =>
            this.#badHeaders.log(
              logger,
              "info",
              "bad proxy header",
              "Bad PROXY header from {peer}: {reason}",
              { peer, reason },
            ),
        }
        : undefined,
      // With the PROXY protocol, TLS starts after the header.
      tls: options.proxyProtocol ? options.tls : undefined,
      faults: faults?.active ? faults : undefined,
    };
    this.#allow = options.allow;
    this.#proxyProtocol = options.proxyProtocol ?? false;
    this.#proxyFrom = options.proxyFrom;
    this.#maxConnections = options.maxConnections ?? 0;
    this.#maxPerSource = options.maxPerSource ?? 0;
    this.#shutdownGrace = options.shutdownGrace ?? DEFAULT_SHUTDOWN_GRACE;
    const address = {
      hostname: options.hostname ?? DEFAULT_HOSTNAME,
      port: options.port ?? DEFAULT_TCP_PORT,
      ...(options.reusePort ? { reusePort: true } : {}),
    };
    this.#listener = options.tls === undefined || options.proxyProtocol
      ? Deno.listen({ transport: "tcp", ...address })
      : Deno.listenTls({ ...address, ...options.tls });
    this.addr = this.#listener.addr as Deno.NetAddr & { transport: "tcp" };
    const serving = startServing({
      logger,
      addr: this.addr,
      suffix: options.tls === undefined ? "" : " (TLS)",
      allow: this.#allow,
      faults: this.#settings.faults,
      capture,
      tracer: this.#settings.tracer,
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

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  async #accept(): Promise<void> {
    while (!this.#closing) {
      let conn: Deno.TcpConn | Deno.TlsConn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#closing || error instanceof Deno.errors.BadResource) break;
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
      this.#admit(conn);
    }
  }

  #admit(conn: Deno.TcpConn | Deno.TlsConn): void {
    const peer = formatAddress(conn.remoteAddr);
    if (this.#proxyProtocol) {
      const refusal = this.#proxyFrom !== undefined &&
          !this.#proxyFrom.allows(conn.remoteAddr.hostname)
        ? {
          reason: "proxy not trusted",
          template:
            "Refused connection from {peer}: proxy not trusted (not in {option})",
          properties: { peer, option: "proxyFrom" },
        }
        : this.#overCapacity(peer);
      if (refusal !== undefined) {
        this.#refuse(conn, refusal);
        return;
      }
      // The client is known once its header is read: checked then.
      this.#serve(conn, { peer, admit: this.#admitClient });
      return;
    }
    const source = conn.remoteAddr.hostname;
    const refusal = this.#refusal(source, peer);
    if (refusal !== undefined) {
      this.#refuse(conn, refusal);
    } else {
      this.#claim(source);
      this.#serve(conn, { peer, source });
    }
  }

  /** Checks the client a PROXY header names, and counts it when served. */
  readonly #admitClient = (
    source: string,
    client: string,
  ): CloseReason | undefined => {
    const refusal = this.#refusal(source, client);
    if (refusal !== undefined) {
      this.#drops.drop(refusal.reason, refusal.template, refusal.properties);
      return refusal.reason as CloseReason;
    }
    this.#claim(source);
    return undefined;
  };

  /** Forgets a closed connection: one function for all of them. */
  readonly #closed = (connection: TcpConnection): void => {
    this.#connections.delete(connection);
    if (connection.source !== undefined) this.#release(connection.source);
    if (this.#connections.size === 0) this.#allClosed?.resolve();
  };

  #overCapacity(peer: string): Refusal | undefined {
    if (
      this.#maxConnections > 0 &&
      this.#connections.size >= this.#maxConnections
    ) {
      return {
        reason: "too many connections",
        template:
          "Refused connection from {peer}: too many connections ({limit} open, see {option})",
        properties: {
          peer,
          limit: this.#maxConnections,
          option: "maxConnections",
        },
      };
    }
    return undefined;
  }

  /**
   * Why a client may not be served: the access list, then (without the
   * PROXY protocol, which checks it at accept) the connection limit, then
   * the per-source limit.
   */
  #refusal(source: string, peer: string): Refusal | undefined {
    if (this.#allow !== undefined && !this.#allow.allows(source)) {
      return {
        reason: "not allowed",
        template:
          "Refused connection from {peer}: not allowed (not in {option})",
        properties: { peer, option: "allow" },
      };
    }
    if (!this.#proxyProtocol) {
      const refusal = this.#overCapacity(peer);
      if (refusal !== undefined) return refusal;
    }
    const fromSource = this.#perSource.get(source) ?? 0;
    if (this.#maxPerSource > 0 && fromSource >= this.#maxPerSource) {
      return {
        reason: "too many per source",
        template:
          "Refused connection from {peer}: too many per source ({limit} open from {source}, see {option})",
        properties: {
          peer,
          source,
          limit: this.#maxPerSource,
          option: "maxPerSource",
        },
      };
    }
    return undefined;
  }

  #claim(source: string): void {
    this.#perSource.set(source, (this.#perSource.get(source) ?? 0) + 1);
  }

  #release(source: string): void {
    const left = this.#perSource.get(source)! - 1;
    if (left === 0) this.#perSource.delete(source);
    else this.#perSource.set(source, left);
  }

  #serve(
    conn: Deno.TcpConn | Deno.TlsConn,
    options: Omit<TcpConnectionOptions, "onClosed">,
  ): void {
    this.#stats.opened();
    const connection = new TcpConnection(conn, this.#settings, {
      ...options,
      onClosed: this.#closed,
    });
    this.#connections.add(connection);
    // The connection reports its own end (onClosed): nothing to chain here.
    connection.serve();
  }

  #refuse(conn: Deno.TcpConn | Deno.TlsConn, refusal: Refusal): void {
    this.#drops.drop(refusal.reason, refusal.template, refusal.properties);
    conn.close();
  }

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
      logger.info("Stopped tcp server on {address}", {
        address: formatAddress(this.addr),
      });
    }
    await stopCapture(this.#capture, this.#settings.tracer);
  }
}
