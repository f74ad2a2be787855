// Copyright 2026 the echolab authors. MIT license.
/**
 * Printing network addresses the way people type them.
 *
 * @module
 */

/**
 * Formats a host and port as `host:port`, with brackets around IPv6 hosts.
 *
 * @param address A TCP or UDP address.
 * @returns `127.0.0.1:8000` or `[::1]:8000`.
 *
 * @example
 * ```ts
 * import { formatAddress } from "./address.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(formatAddress({ hostname: "::1", port: 6000 }), "[::1]:6000");
 * strictEqual(formatAddress({ hostname: "127.0.0.1", port: 8000 }), "127.0.0.1:8000");
 * ```
 */
export function formatAddress(
  address: { hostname: string; port: number },
): string {
  return address.hostname.includes(":")
    ? `[${address.hostname}]:${address.port}`
    : `${address.hostname}:${address.port}`;
}
