// Copyright 2026 the echolab authors. MIT license.
/**
 * Error messages: the message of anything thrown, and the network grant a
 * missing permission calls for.
 *
 * @module
 */

import { formatAddress } from "./address.ts";

/**
 * The message of anything thrown.
 *
 * @param error What was thrown.
 * @returns Its message, or its string form.
 *
 * @example
 * ```ts
 * import { errorMessage } from "./errors.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(errorMessage(new Error("boom")), "boom");
 * strictEqual(errorMessage("plain"), "plain");
 * ```
 */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Where a server binds, or where a client sends. */
export interface NetTarget {
  /** `tcp` or `udp`. */
  transport: "tcp" | "udp";
  /** The address. */
  hostname: string;
  /** The port. */
  port: number;
}

/**
 * The `--allow-net` value a server needs: the UDP server answers clients on
 * any port, so it needs the whole host; a TCP server only its own port
 * (port 0 needs the host, the real port is not known beforehand).
 *
 * @param target Where the server binds.
 * @returns The value to give to `--allow-net`.
 *
 * @example
 * ```ts
 * import { netGrant } from "./errors.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(netGrant({ transport: "tcp", hostname: "127.0.0.1", port: 8000}), "127.0.0.1:8000");
 * strictEqual(netGrant({ transport: "udp", hostname: "::1", port: 6000}), "[::1]");
 * ```
 */
export function netGrant(target: NetTarget): string {
  const host = target.hostname.includes(":")
    ? `[${target.hostname}]`
    : target.hostname;
  return target.transport === "udp" || target.port === 0
    ? host
    : formatAddress(target);
}

/**
 * Tells whether an error means the peer went away abruptly.
 *
 * @param error What a read or write threw.
 * @returns `true` for resets, broken pipes and aborted connections.
 *
 * @example
 * ```ts
 * import { isResetError } from "./errors.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(isResetError(new Deno.errors.ConnectionReset("reset")), true);
 * strictEqual(isResetError(new Error("other")), false);
 * ```
 */
export function isResetError(error: unknown): boolean {
  return error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.NotConnected;
}

/**
 * Tells whether a listening or datagram socket is gone for good: it was
 * closed, or the system took it away (`ss -K`, an interface torn down), so
 * that retrying cannot help.
 *
 * @param error What `accept` or `receive` threw.
 * @returns `true` for closed, invalid or not-a-socket errors.
 *
 * @example
 * ```ts
 * import { isSocketGone } from "./errors.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(isSocketGone(new Deno.errors.BadResource("closed")), true);
 * strictEqual(isSocketGone(Object.assign(new TypeError("Invalid argument"), { code: "EINVAL" })), true);
 * strictEqual(isSocketGone(new Error("Too many open files")), false);
 * ```
 */
export function isSocketGone(error: unknown): boolean {
  if (error instanceof Deno.errors.BadResource) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return code === "EINVAL" || code === "EBADF" || code === "ENOTSOCK";
}
