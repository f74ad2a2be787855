// Copyright 2026 the echolab authors. MIT license.
/**
 * Why a server could not start, as one line that names the fix.
 *
 * @module
 */

import { formatAddress } from "../lib/serving/address.ts";
import {
  errorMessage,
  netGrant,
  type NetTarget,
} from "../lib/serving/errors.ts";

/** Where a server tried to bind, to explain why it could not. */
export interface BindTarget extends NetTarget {
  /** The flag that sets this port (`--port`, `--tcp-port`, `--udp-port`). */
  portFlag: string;
  /** A Unix socket's path, for a server on one (`--unix`). */
  path?: string;
  /**
   * What the message calls the server.
   *
   * @default {the transport}
   */
  server?: string;
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
 * import { describeStartError } from "./start_error.ts";
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
  if (target.path !== undefined) return describeUnixError(error, target.path);
  const where = `Cannot start the ${
    target.server ?? target.transport
  } server on ${formatAddress(target)}`;
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

/** Why the TCP echo could not start on a Unix socket, and the fix. */
function describeUnixError(error: unknown, path: string): string {
  const where = `Cannot start the tcp server on unix:${path}`;
  if (error instanceof Deno.errors.NotCapable) {
    return `${where}: no permission; re-run with --allow-read=${path} --allow-write=${path} --allow-net=unix:${path}`;
  }
  if (
    error instanceof Deno.errors.AddrInUse ||
    error instanceof Deno.errors.AlreadyExists
  ) {
    // The message names what is there; the fix is the flag.
    return `${where}: ${
      errorMessage(error).replace(
        /choose another path$/,
        "choose another --unix",
      )
    }`;
  }
  return `${where}: ${errorMessage(error)}`;
}
