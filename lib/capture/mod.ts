// Copyright 2026 the echolab authors. MIT license.
/**
 * Packets, as Wireshark shows them: `capture()` runs tcpdump for a server
 * and traces its packets; the pcap reader, the packet describer and the
 * sequence diagram serve `send --capture` too. Loaded only by those who use
 * it.
 *
 * @example
 * ```ts
 * import { formatPayload } from "./mod.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(formatPayload(new TextEncoder().encode("hi\n"), 10), '"hi\\n"');
 * ```
 *
 * @module
 */

export * from "./packet_capture.ts";
export * from "./packet_format.ts";
export * from "./pcap_reader.ts";
export * from "./quic_header.ts";
export * from "./server_capture.ts";
export type * from "../serving/stages.ts";
export type { Tracer } from "../serving/tracer.ts";
export type { ServerStats, StatsSnapshot } from "../serving/server_stats.ts";
