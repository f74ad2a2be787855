// Copyright 2026 the echolab authors. MIT license.
/**
 * Turning expected failures into one line that names the fix.
 *
 * @module
 */

import { formatAddress } from "./address.ts";

/**
 * A command line the program cannot run; the CLI prints its message and
 * exits with code 2.
 *
 * @example
 * ```ts
 * import { UsageError } from "./errors.ts";
 * import { throws } from "node:assert/strict";
 *
 * throws(() => {
 *   throw new UsageError('Invalid --port "x": expected a whole number from 0 to 65535');
 * }, UsageError);
 * ```
 */
export class UsageError extends Error {
  /**
   * Creates the error.
   *
   * @param message One line naming the flag and what it accepts.
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

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

/** Where a server tried to bind, to explain why it could not. */
export interface BindTarget {
  /** `tcp` or `udp`. */
  transport: "tcp" | "udp";
  /** The address asked for. */
  hostname: string;
  /** The port asked for. */
  port: number;
  /** The flag that sets this port (`--port`, `--tcp-port`, `--udp-port`). */
  portFlag: string;
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
 * strictEqual(netGrant({ transport: "tcp", hostname: "127.0.0.1", port: 8000, portFlag: "--port" }), "127.0.0.1:8000");
 * strictEqual(netGrant({ transport: "udp", hostname: "::1", port: 6000, portFlag: "--port" }), "[::1]");
 * ```
 */
export function netGrant(target: BindTarget): string {
  const host = target.hostname.includes(":")
    ? `[${target.hostname}]`
    : target.hostname;
  return target.transport === "udp" || target.port === 0
    ? host
    : formatAddress(target);
}

/**
 * Explains in one line why a server could not start, with the fix.
 *
 * @param error What `Deno.listen` or `Deno.listenDatagram` threw.
 * @param target Where the server tried to bind.
 * @returns One line for the user.
 *
 * @example
 * ```ts
 * import { describeStartError } from "./errors.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(
 *   describeStartError(new Deno.errors.AddrInUse("Address in use"), {
 *     transport: "tcp", hostname: "127.0.0.1", port: 8000, portFlag: "--port",
 *   }),
 *   "Cannot start the tcp server on 127.0.0.1:8000: the address is already in use; stop the other program or choose another --port",
 * );
 * ```
 */
export function describeStartError(error: unknown, target: BindTarget): string {
  const where = `Cannot start the ${target.transport} server on ${
    formatAddress(target)
  }`;
  if (error instanceof Deno.errors.AddrInUse) {
    return `${where}: the address is already in use; stop the other program or choose another ${target.portFlag}`;
  }
  if (error instanceof Deno.errors.NotCapable) {
    return `${where}: no network permission; re-run with --allow-net=${
      netGrant(target)
    }`;
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return target.port > 0 && target.port < 1024
      ? `${where}: the operating system does not let this user bind ports below 1024; choose a port from 1024 up, e.g. ${target.portFlag} ${
        target.port + 8000
      }`
      : `${where}: the operating system refused: ${errorMessage(error)}`;
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return `${where}: this machine has no such address; choose one of its own with --host (e.g. 127.0.0.1)`;
  }
  return `${where}: ${errorMessage(error)}`;
}
