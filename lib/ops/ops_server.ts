// Copyright 2026 the echolab authors. MIT license.
/**
 * The side HTTP port of a process running echo servers: liveness,
 * readiness (turned off by {@linkcode OpsServer.drain}), Prometheus metrics
 * and the stats report. It never echoes.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import config from "../../deno.json" with { type: "json" };
import { formatAddress } from "../serving/address.ts";
import { OptionChecker } from "../serving/check_options.ts";
import type { ControlOptions } from "./_control.ts";
import { DEFAULT_HOSTNAME, DEFAULT_HTTP_PORT } from "../serving/defaults.ts";
import { formatMetrics, METRICS_CONTENT_TYPE } from "./metrics.ts";
import {
  type AnyEchoServer,
  echoKind,
  type RefreshableStats,
} from "../serving/server.ts";
import { statsReport, type StatsSnapshot } from "../serving/server_stats.ts";

export type { RefreshableStats } from "../serving/server.ts";

export { DEFAULT_HTTP_PORT };

/** Options of {@linkcode serveOps}. */
export interface OpsServerOptions {
  /**
   * Address to bind.
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * Port to bind; 0 picks a free one.
   *
   * @default {9090}
   */
  port?: number;
  /**
   * The echo servers reported on: bound (so ready) when given. A server
   * that also has `refreshStats()` (the `--workers` pool) is asked for fresh
   * counters at each `/metrics` and `/stats`.
   */
  servers: readonly (AnyEchoServer & Partial<RefreshableStats>)[];
  /**
   * Control endpoints under `/control/` (faults, health, readiness, dial),
   * for loopback peers, or for any peer with the token; without it those
   * paths answer 404. Loaded only when given.
   *
   * @default {undefined}
   */
  control?: ControlOptions;
  /**
   * More pages, each under a path of its own (the lab's `/lab`): a request
   * for `path` or below it, any method, goes to its `handle`.
   *
   * @default {[]}
   */
  pages?: readonly OpsPage[];
}

/** Pages served beside the ops endpoints (see {@linkcode OpsServerOptions.pages}). */
export interface OpsPage {
  /** The path served, and every path below it (`/lab`, `/lab/events`). */
  readonly path: string;
  /**
   * Answers one request.
   *
   * @param request The request.
   * @param peer Who asked.
   * @returns The response.
   */
  handle(request: Request, peer: Deno.NetAddr): Response | Promise<Response>;
}

/** The side HTTP port, running. */
export interface OpsServer extends AsyncDisposable {
  /** Where it listens. */
  readonly addr: Deno.NetAddr;
  /** Whether `/readyz` answers 200 now. */
  readonly ready: boolean;
  /** From now on `/readyz` answers `503 draining`; there is no way back. */
  drain(): void;
  /** Whether `/healthz` answers 200 now. */
  readonly healthy: boolean;
  /**
   * Sets what `/healthz` answers: `200 ok`, or `503 unhealthy`.
   *
   * @param healthy The new state.
   */
  setHealthy(healthy: boolean): void;
  /**
   * Sets what `/readyz` answers: `200 ready`, or `503 not ready`; a
   * draining server stays `503 draining` whatever is set.
   *
   * @param ready The new state.
   */
  setReady(ready: boolean): void;
  /**
   * Stops serving HTTP.
   *
   * @returns Once the listener and its connections are closed.
   */
  shutdown(): Promise<void>;
}

/** When the process started, in seconds since the Unix epoch. */
const START_TIME = Math.round(performance.timeOrigin) / 1000;
const TEXT = "text/plain; charset=utf-8";
const logger = getLogger(["echolab", "http"]);

/**
 * Serves `GET /healthz` (`200 ok`), `/readyz` (`200 ready`, or `503
 * draining` after {@linkcode OpsServer.drain}), `/metrics` (the Prometheus
 * text format) and `/stats` (one stats report per server: an object, or an
 * array when there are several). Other paths are `404`, other methods than
 * GET and HEAD `405`. Binding happens before this returns.
 *
 * @param options Where to listen and which servers to report on.
 * @returns The running endpoint.
 *
 * @example
 * ```ts
 * import { serveOps } from "./ops_server.ts";
 * import { serveTcp } from "../../tcp.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * await using echo = serveTcp({ port: 0 });
 * await using ops = serveOps({ port: 0, servers: [echo] });
 * const url = `http://127.0.0.1:${ops.addr.port}`;
 * strictEqual(await (await fetch(`${url}/readyz`)).text(), "ready");
 * ops.drain();
 * const response = await fetch(`${url}/readyz`);
 * strictEqual(response.status, 503);
 * strictEqual(await response.text(), "draining");
 * ```
 */
export function serveOps(options: OpsServerOptions): OpsServer {
  const check = new OptionChecker("the ops server");
  check.string("hostname", options.hostname);
  check.integer("port", options.port, 0, 65_535);
  if (
    !Array.isArray(options.servers) ||
    options.servers.some((server) =>
      typeof server?.stats !== "function" || server.addr === undefined
    )
  ) {
    throw new TypeError(
      "Cannot start the ops server: servers must be an array of running servers (serveTcp, serveUdp)",
    );
  }
  const servers = options.servers;
  let draining = false;
  let readyFlag = true;
  let healthy = true;
  const target = {
    setHealthy(value: boolean) {
      healthy = value;
    },
    setReady(value: boolean) {
      readyFlag = value;
    },
  };
  // The control endpoints and what they need load only when asked for.
  const control = options.control === undefined
    ? undefined
    : import("./_control.ts").then(({ Control }) =>
      new Control(options.control!, servers, target)
    );
  const collect = () =>
    Promise.all(servers.map(async (server) => ({
      transport: echoKind(server),
      address: formatAddress(server.addr),
      stats: server.refreshStats !== undefined
        ? await server.refreshStats()
        : server.stats() as StatsSnapshot,
    })));
  const handler = async (
    request: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ): Promise<Response> => {
    const path = new URL(request.url).pathname;
    const page = options.pages?.find((page) =>
      path === page.path || path.startsWith(`${page.path}/`)
    );
    if (page !== undefined) return await page.handle(request, info.remoteAddr);
    if (path.startsWith("/control/")) {
      return control === undefined
        ? text(404, "not found")
        : (await control).handle(request, info.remoteAddr);
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("method not allowed", {
        status: 405,
        headers: { "content-type": TEXT, allow: "GET, HEAD" },
      });
    }
    switch (path) {
      case "/healthz":
        return healthy ? text(200, "ok") : text(503, "unhealthy");
      case "/readyz":
        return draining
          ? text(503, "draining")
          : readyFlag
          ? text(200, "ready")
          : text(503, "not ready");
      case "/metrics": {
        const steering = control === undefined ? undefined : await control;
        const body = formatMetrics(await collect(), {
          version: config.version,
          residentMemory: Deno.memoryUsage().rss,
          startTime: START_TIME,
          control: steering === undefined ? undefined : {
            denied: steering.denied,
            changes: steering.changes,
          },
        });
        return new Response(body, {
          headers: { "content-type": METRICS_CONTENT_TYPE },
        });
      }
      case "/stats": {
        const reports = (await collect()).map(({ transport, address, stats }) =>
          statsReport(transport, address, stats)
        );
        return Response.json(reports.length === 1 ? reports[0] : reports);
      }
      default:
        return text(404, "not found");
    }
  };
  const server = Deno.serve({
    hostname: options.hostname ?? DEFAULT_HOSTNAME,
    port: options.port ?? DEFAULT_HTTP_PORT,
    onListen: () => {},
  }, handler);
  logger.info("Serving health and metrics on http://{address}", {
    address: formatAddress(server.addr),
  });
  let stopping: Promise<void> | undefined;
  const shutdown = () => {
    stopping ??= server.shutdown();
    return stopping;
  };
  return {
    addr: server.addr,
    get ready() {
      return !draining && readyFlag;
    },
    drain() {
      draining = true;
    },
    get healthy() {
      return healthy;
    },
    setHealthy: target.setHealthy,
    setReady: target.setReady,
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}

function text(status: number, body: string): Response {
  return new Response(body, { status, headers: { "content-type": TEXT } });
}
