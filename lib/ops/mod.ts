// Copyright 2026 the echolab authors. MIT license.
/**
 * Operating servers: `serveOps`, the HTTP endpoints for probes, drain and
 * Prometheus metrics. Loaded only by those who use it.
 *
 * @example
 * ```ts
 * import { serveOps } from "./mod.ts";
 * import { serveTcp } from "../../tcp.ts";
 *
 * await using tcp = serveTcp({ port: 0 });
 * await using ops = serveOps({ port: 0, servers: [tcp] });
 * const response = await fetch(`http://127.0.0.1:${ops.addr.port}/healthz`);
 * await response.body?.cancel();
 * ```
 *
 * @module
 */

export * from "./metrics.ts";
export * from "./ops_server.ts";
export type {
  AnyEchoServer,
  EchoServer,
  RefreshableStats,
  ServerAddr,
} from "../serving/server.ts";
export type { StatsSnapshot } from "../serving/server_stats.ts";
export type { ControlOptions, ControlTarget } from "./_control.ts";
export type * from "../serving/stages.ts";
export type { Tracer } from "../serving/tracer.ts";
export type { ServerStats } from "../serving/server_stats.ts";
