// Copyright 2026 the echolab authors. MIT license.
/**
 * Faults on purpose, seeded: `faults()` makes the plan a server injects
 * (delays, chunked replies, drops, duplicates, a close, half-close or stall
 * after N replies, a banner). Loaded only by those who use it.
 *
 * @example
 * ```ts
 * import { faults } from "./mod.ts";
 * import { serveUdp } from "../../udp.ts";
 *
 * await using server = serveUdp({ port: 0, faults: faults({ delay: [10, 50], seed: 7 }) });
 * ```
 *
 * @module
 */

export * from "./faults.ts";
export type * from "../serving/stages.ts";
export type { Tracer } from "../serving/tracer.ts";
export type { ServerStats, StatsSnapshot } from "../serving/server_stats.ts";
