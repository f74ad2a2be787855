// Copyright 2026 the echolab authors. MIT license.
/**
 * The core both servers are made of: the line reader and reply formatter,
 * the options and the running server's shape, the counters, the tracer, and
 * the stages optional parts plug into (PROXY, faults, capture).
 *
 * @example
 * ```ts
 * import { LineReader } from "./mod.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const lines: string[] = [];
 * new LineReader().push(new TextEncoder().encode("a\nb\n"), (line) => lines.push(new TextDecoder().decode(line)));
 * deepStrictEqual(lines, ["a", "b"]);
 * ```
 *
 * @module
 */

export * from "./address.ts";
export * from "./check_options.ts";
export * from "./deadline.ts";
export * from "./defaults.ts";
export * from "./errors.ts";
export * from "./line_reader.ts";
export * from "./loopback.ts";
export * from "./payload_preview.ts";
export * from "./quic_stream.ts";
export * from "./reply_formatter.ts";
export * from "./reply_prefix.ts";
export * from "./server.ts";
export * from "./server_stats.ts";
export * from "./stages.ts";
export * from "./throttled_reporter.ts";
export * from "./unix_socket.ts";
export * from "./tracer.ts";
export * from "./write_all.ts";
