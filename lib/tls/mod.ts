// Copyright 2026 the echolab authors. MIT license.
/**
 * TLS that reports what the client sent: `terminateTls()`, the stage a TCP
 * server runs after its preamble (the ClientHello read, a certificate
 * chosen by server name, ALPN, the handshake), and the ClientHello reader
 * and JA4 fingerprint on their own. Loaded only by those who use it.
 *
 * @example
 * ```ts
 * import { ja4, readClientHello } from "./mod.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const result = readClientHello(new TextEncoder().encode("hello\n"));
 * strictEqual(result.status, "malformed");
 * strictEqual(typeof ja4, "function");
 * ```
 *
 * @module
 */

export * from "./client_hello.ts";
export * from "./ja4.ts";
export * from "./self_signed.ts";
export * from "./server_name.ts";
export * from "./tls_termination.ts";
export type * from "../serving/stages.ts";
export type { Tracer } from "../serving/tracer.ts";
export type { ServerStats, StatsSnapshot } from "../serving/server_stats.ts";
