// Copyright 2026 the echolab authors. MIT license.
/**
 * The lab (`main.ts lab`, `all --lab`): a page on the HTTP port that shows
 * TCP, UDP and QUIC happening, live, as a sequence diagram per connection
 * or UDP peer, with the servers' own events beside the packets, each TCP
 * side's state, what each kind of packet is for, and buttons that replay
 * the seed's sessions. Loaded only by those who use it.
 *
 * @example
 * ```ts
 * import { LabEvents } from "./mod.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const events = new LabEvents({ limit: 2, hold: 0 });
 * for (const text of ["one", "two", "three"]) {
 *   events.add({ type: "note", text, at: Date.now() });
 * }
 * strictEqual(events.kept, 2);
 * strictEqual(events.droppedOld, 1);
 * events.close();
 * ```
 *
 * @module
 */

export * from "./lab.ts";
export * from "./lab_events.ts";
export type {
  AnyEchoServer,
  EchoServer,
  ServerAddr,
} from "../serving/server.ts";
export type * from "../serving/stages.ts";
export type { Tracer } from "../serving/tracer.ts";
export type { ServerStats, StatsSnapshot } from "../serving/server_stats.ts";
