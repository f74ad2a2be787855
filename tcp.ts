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
import type { AccessList } from "./lib/access_list.ts";
import { formatAddress } from "./lib/address.ts";
import { errorMessage } from "./lib/errors.ts";
import { DEFAULT_MAX_LINE } from "./lib/line_reader.ts";
import { DEFAULT_PREFIX } from "./lib/reply_formatter.ts";
import type { EchoServer } from "./lib/server.ts";
import { ServerStats, type StatsSnapshot } from "./lib/server_stats.ts";
import { ThrottledReporter } from "./lib/throttled_reporter.ts";
import { Tracer } from "./lib/tracer.ts";
import { IdleClock } from "./lib/idle_timer.ts";
import { warnIfReachable } from "./lib/exposure.ts";
import {
  isResetError,
  TcpConnection,
  type TcpConnectionSettings,
} from "./lib/tcp_connection.ts";

export type { EchoServer } from "./lib/server.ts";
export type { StatsSnapshot } from "./lib/server_stats.ts";
export type { CloseReason } from "./lib/tcp_connection.ts";

/** Options of {@linkcode serveTcp}. */
export interface TcpServerOptions {
  /**
   * Address to bind: an IPv4 or IPv6 address or a host name.
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * Port to bind; 0 picks a free one (see {@linkcode EchoServer.addr}).
   *
   * @default {8000}
   */
  port?: number;
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
   * Source networks served; others are closed at once. `undefined` serves
   * everyone who can reach the address.
   *
   * @default {undefined}
   */
  allow?: AccessList;
  /**
   * Text before each echoed line.
   *
   * @default {"received msg: "}
   */
  prefix?: string;
  /**
   * RFC 862 echo: every byte back unchanged, no lines, no prefix.
   *
   * @default {false}
   */
  raw?: boolean;
  /**
   * Set `SO_REUSEPORT`, so that several accept loops (workers) can share the
   * port (Linux spreads connections among them).
   *
   * @default {false}
   */
  reusePort?: boolean;
  /**
   * Log every network event (accept, read, write, FIN, reset, timeout,
   * close) to the `echolab.trace` logger.
   *
   * @default {false}
   */
  trace?: boolean;
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
}

/** Default TCP port, as in the seed. */
export const DEFAULT_TCP_PORT = 8000;
/** Default idle timeout in seconds, as in the seed. */
export const DEFAULT_TIMEOUT = 10;
/** Default bind address: loopback only. */
export const DEFAULT_HOSTNAME = "127.0.0.1";

const ACCEPT_BACKOFF_MIN = 5;
const ACCEPT_BACKOFF_MAX = 1000;
const logger = getLogger(["echolab", "tcp"]);

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
  #listener: Deno.Listener<Deno.TcpConn | Deno.TlsConn, Deno.NetAddr>;
  #settings: TcpConnectionSettings;
  #stats = new ServerStats();
  #refusals = new ThrottledReporter();
  #allow: AccessList | undefined;
  #maxConnections: number;
  #maxPerSource: number;
  #perSource = new Map<string, number>();
  #shutdownGrace: number;
  #connections = new Map<TcpConnection, Promise<void>>();
  #closing = false;
  #acceptLoop: Promise<void>;
  #wakeBackoff: (() => void) | undefined;
  #shutdown: Promise<void> | undefined;
  #resolveFinished: () => void;

  constructor(options: TcpServerOptions) {
    const timeout = (options.timeout ?? DEFAULT_TIMEOUT) * 1000;
    const settings: TcpConnectionSettings = {
      timeout,
      lifetime: (options.lifetime ?? 0) * 1000,
      maxLine: options.maxLine ?? DEFAULT_MAX_LINE,
      prefix: new TextEncoder().encode(options.prefix ?? DEFAULT_PREFIX),
      raw: options.raw ?? false,
      stats: this.#stats,
      tracer: options.trace ? new Tracer("tcp") : undefined,
      idleClock: IdleClock.for(timeout),
    };
    this.#settings = settings;
    this.#allow = options.allow;
    this.#maxConnections = options.maxConnections ?? 0;
    this.#maxPerSource = options.maxPerSource ?? 0;
    this.#shutdownGrace = options.shutdownGrace ?? 2000;
    const address = {
      hostname: options.hostname ?? DEFAULT_HOSTNAME,
      port: options.port ?? DEFAULT_TCP_PORT,
      ...(options.reusePort ? { reusePort: true } : {}),
    };
    this.#listener = options.tls === undefined
      ? Deno.listen({ transport: "tcp", ...address })
      : Deno.listenTls({ ...address, ...options.tls });
    this.addr = this.#listener.addr as Deno.NetAddr & { transport: "tcp" };
    const { promise, resolve } = Promise.withResolvers<void>();
    this.finished = promise;
    this.#resolveFinished = resolve;
    logger.info("Starting tcp server on {address}{tls}", {
      address: formatAddress(this.addr),
      tls: options.tls === undefined ? "" : " (TLS)",
    });
    warnIfReachable(logger, this.addr, this.#allow);
    this.#acceptLoop = this.#accept().then(() => {
      // The listener failed on its own: stop the rest too.
      if (!this.#closing) this.shutdown();
    });
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
    let backoff = 0;
    while (!this.#closing) {
      let conn: Deno.TcpConn | Deno.TlsConn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#closing || error instanceof Deno.errors.BadResource) break;
        // A client that reset before it was accepted: nothing to wait for.
        if (isResetError(error)) continue;
        backoff = backoff === 0
          ? ACCEPT_BACKOFF_MIN
          : Math.min(backoff * 2, ACCEPT_BACKOFF_MAX);
        this.#refusals.log(
          logger,
          "error",
          "accept error",
          "Cannot accept connections: {error}; retrying with backoff up to {max} ms",
          { error: errorMessage(error), max: ACCEPT_BACKOFF_MAX },
        );
        await this.#sleep(backoff);
        continue;
      }
      backoff = 0;
      this.#admit(conn);
    }
  }

  #admit(conn: Deno.TcpConn | Deno.TlsConn): void {
    const source = conn.remoteAddr.hostname;
    const peer = formatAddress(conn.remoteAddr);
    const fromSource = this.#perSource.get(source) ?? 0;
    if (this.#allow !== undefined && !this.#allow.allows(source)) {
      this.#refuse(
        conn,
        "not allowed",
        "Refused connection from {peer}: not allowed (not in --allow)",
        { peer },
      );
    } else if (
      this.#maxConnections > 0 &&
      this.#connections.size >= this.#maxConnections
    ) {
      this.#refuse(
        conn,
        "too many connections",
        "Refused connection from {peer}: too many connections ({limit} open, see --max-connections)",
        { peer, limit: this.#maxConnections },
      );
    } else if (this.#maxPerSource > 0 && fromSource >= this.#maxPerSource) {
      this.#refuse(
        conn,
        "too many per source",
        "Refused connection from {peer}: too many per source ({limit} open from {source}, see --max-per-source)",
        { peer, source, limit: this.#maxPerSource },
      );
    } else {
      this.#perSource.set(source, fromSource + 1);
      this.#stats.opened();
      const connection = new TcpConnection(conn, this.#settings, peer);
      const served = connection.serve().finally(() => {
        this.#connections.delete(connection);
        const left = this.#perSource.get(source)! - 1;
        if (left === 0) this.#perSource.delete(source);
        else this.#perSource.set(source, left);
      });
      this.#connections.set(connection, served);
    }
  }

  #refuse(
    conn: Deno.TcpConn | Deno.TlsConn,
    reason: string,
    template: string,
    properties: Record<string, unknown>,
  ): void {
    this.#stats.countDrop(reason);
    this.#refusals.log(logger, "info", reason, template, properties);
    conn.close();
  }

  #sleep(milliseconds: number): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    const timer = setTimeout(resolve, milliseconds);
    this.#wakeBackoff = () => {
      clearTimeout(timer);
      resolve();
    };
    return promise.finally(() => this.#wakeBackoff = undefined);
  }

  async #stop(): Promise<void> {
    this.#closing = true;
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
    this.#wakeBackoff?.();
    await this.#acceptLoop;
    for (const connection of this.#connections.keys()) {
      connection.stop("shutdown", true);
    }
    const open = [...this.#connections.values()];
    if (open.length > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), this.#shutdownGrace);
      });
      const outcome = await Promise.race([Promise.all(open), grace]);
      clearTimeout(timer);
      if (outcome === "timeout") {
        const stuck = this.#connections.size;
        for (const connection of this.#connections.keys()) {
          connection.stop("shutdown");
        }
        await Promise.all(open);
        logger.warn(
          "Closed {count} connections by force: their writes did not finish within {grace} ms",
          { count: stuck, grace: this.#shutdownGrace },
        );
      }
    }
    logger.info("Stopped tcp server on {address}", {
      address: formatAddress(this.addr),
    });
    this.#resolveFinished();
  }
}
