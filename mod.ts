// Copyright 2026 the echolab authors. MIT license.
/**
 * echolab: TCP and UDP echo servers for Deno, usable as test fixtures.
 *
 * @example Serve TCP on a free port and talk to it
 * ```ts
 * import { serveTcp } from "./mod.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * await using server = serveTcp({ port: 0 });
 * using conn = await Deno.connect(server.addr);
 * await conn.write(new TextEncoder().encode("ping\n"));
 * const buffer = new Uint8Array(64);
 * const read = await conn.read(buffer);
 * strictEqual(new TextDecoder().decode(buffer.subarray(0, read!)), "received msg: ping\n");
 * ```
 *
 * @module
 */

export * from "./tcp.ts";
export * from "./udp.ts";
export * from "./quic.ts";
export * from "./lib/serving/mod.ts";
export * from "./lib/policy/mod.ts";
export * from "./lib/proxy/mod.ts";
export * from "./lib/tls/mod.ts";
export * from "./lib/faults/mod.ts";
export * from "./lib/capture/mod.ts";
export * from "./lib/ops/mod.ts";
export * from "./lib/client/mod.ts";
