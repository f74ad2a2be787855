// Copyright 2026 the echolab authors. MIT license.
/**
 * The PROXY protocol (versions 1 and 2): `proxyProtocol()`, the preamble a
 * TCP server reads before its echo (or before TLS), and the header's
 * parser and writer. Loaded only by those who use it.
 *
 * @example
 * ```ts
 * import { proxyProtocol } from "./mod.ts";
 * import { serveTcp } from "../../tcp.ts";
 *
 * await using server = serveTcp({ port: 0, proxy: proxyProtocol() });
 * ```
 *
 * @module
 */

export * from "./proxy_header.ts";
export * from "./proxy_protocol.ts";
export type * from "../serving/stages.ts";
export type { Tracer } from "../serving/tracer.ts";
export type { ServerStats, StatsSnapshot } from "../serving/server_stats.ts";
