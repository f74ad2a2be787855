// Copyright 2026 the echolab authors. MIT license.
/**
 * Printing network addresses the way people type them.
 *
 * @module
 */

/**
 * The address family a host really used: an IPv4 client of a dual-stack
 * socket (bound to `::`) appears as `::ffff:127.0.0.1`; this gives
 * `127.0.0.1` back. Other hosts are returned as they are.
 *
 * @param hostname An address as a socket reports it.
 * @returns The address, IPv4-mapped ones unmapped.
 *
 * @example
 * ```ts
 * import { plainHostname } from "./address.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(plainHostname("::ffff:127.0.0.1"), "127.0.0.1");
 * strictEqual(plainHostname("::1"), "::1");
 * ```
 */
export function plainHostname(hostname: string): string {
  return hostname.startsWith("::ffff:") &&
      /^::ffff:\d{1,3}(\.\d{1,3}){3}$/i.test(hostname)
    ? hostname.slice(7)
    : hostname;
}

/**
 * The source the clients of a Unix socket count as, together: they have no
 * address to tell them apart.
 */
export const UNIX_SOURCE = "unix";

/**
 * Formats a host and port as `host:port`, with brackets around IPv6 hosts;
 * an IPv4-mapped host is shown as the IPv4 address it is.
 *
 * @param address A TCP or UDP address, or a Unix socket's.
 * @returns `127.0.0.1:8000` or `[::1]:8000`; `unix:PATH` (`unix:(unnamed)`
 * for a client's socket, which has no path).
 *
 * @example
 * ```ts
 * import { formatAddress } from "./address.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(formatAddress({ hostname: "::1", port: 6000 }), "[::1]:6000");
 * strictEqual(formatAddress({ hostname: "127.0.0.1", port: 8000 }), "127.0.0.1:8000");
 * strictEqual(formatAddress({ hostname: "::ffff:127.0.0.1", port: 8000 }), "127.0.0.1:8000");
 * strictEqual(formatAddress({ transport: "unix", path: "/run/echo.sock" }), "unix:/run/echo.sock");
 * ```
 */
export function formatAddress(
  address: { hostname: string; port: number } | Deno.UnixAddr,
): string {
  if ("path" in address) return `unix:${address.path || "(unnamed)"}`;
  const hostname = plainHostname(address.hostname);
  return hostname.includes(":")
    ? `[${hostname}]:${address.port}`
    : `${hostname}:${address.port}`;
}

/**
 * Formats 4 bytes as an IPv4 address.
 *
 * @param bytes Where the address is.
 * @param offset Its first byte.
 * @returns The dotted quad.
 *
 * @example
 * ```ts
 * import { formatIpv4 } from "./address.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(formatIpv4(new Uint8Array([192, 0, 2, 1]), 0), "192.0.2.1");
 * ```
 */
export function formatIpv4(bytes: Uint8Array, offset: number): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${
    bytes[offset + 3]
  }`;
}

/**
 * Formats 16 bytes as IPv6 in RFC 5952 form: lower case, no leading zeros,
 * the longest run of two or more zero groups as `::` (the first of equal
 * runs), and IPv4-mapped addresses as `::ffff:192.0.2.1`.
 *
 * @param bytes Where the address is.
 * @param offset Its first byte.
 * @returns Its text.
 *
 * @example
 * ```ts
 * import { formatIpv6 } from "./address.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const bytes = new Uint8Array(16);
 * bytes[15] = 1;
 * strictEqual(formatIpv6(bytes, 0), "::1");
 * ```
 */
export function formatIpv6(bytes: Uint8Array, offset: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) {
    groups.push((bytes[offset + i]! << 8) | bytes[offset + i + 1]!);
  }
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${formatIpv4(bytes, offset + 12)}`;
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${
    hex.slice(bestStart + bestLength).join(":")
  }`;
}
