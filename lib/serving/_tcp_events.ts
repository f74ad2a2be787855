// Copyright 2026 the echolab authors. MIT license.
/**
 * A TCP connection's events in the counters, the trace and the log: reads,
 * failures, the close.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { formatAddress } from "./address.ts";
import { errorMessage, isResetError } from "./errors.ts";
import type { CloseReason, TcpLink } from "./stages.ts";

const logger = getLogger(["echolab", "tcp"]);

/** What the close line says of a connection. */
export interface ClosedConnection extends TcpLink {
  /** Complete lines received. */
  readonly lines: number;
  /** Bytes read. */
  readonly bytesIn: number;
  /** Bytes written. */
  readonly bytesOut: number;
}

/** Ends before the echo counted under their close reason (logged throttled). */
const UNSERVED_COUNTED: ReadonlySet<CloseReason> = new Set([
  "bad proxy header",
  "bad tls hello",
  "tls handshake failed",
]);

/**
 * Counts and logs the close of a connection that was served. One refused
 * after its preamble was counted (as a drop) and logged where that
 * happened; one whose preamble or TLS handshake was bad counts under its
 * close reason only, its line being the stage's own (throttled).
 *
 * @param connection The closed connection.
 * @param served Whether it got past admission.
 * @param startedAt When it was accepted (`performance.now()`).
 *
 * @example
 * ```ts ignore
 * countClose(connection, true, startedAt);
 * ```
 */
export function countClose(
  connection: ClosedConnection,
  served: boolean,
  startedAt: number,
): void {
  const reason = connection.reason as CloseReason;
  if (!served) {
    if (UNSERVED_COUNTED.has(reason)) connection.stats.countClose(reason);
    return;
  }
  const seconds = (performance.now() - startedAt) / 1000;
  connection.stats.closed(reason, seconds);
  const closed = {
    peer: connection.peer,
    reason,
    lines: connection.lines,
    bytesIn: connection.bytesIn,
    bytesOut: connection.bytesOut,
    duration: Math.round(seconds * 1000) / 1000,
  };
  connection.tracer?.event(
    "closed {peer}: {who} closed first ({reason}), {lines} lines, {bytesIn} bytes in, {bytesOut} bytes out, {duration} s",
    {
      ...closed,
      who: reason === "client closed" || reason === "reset"
        ? "client"
        : "server",
    },
  );
  logger.info(
    "Closed {unit} from {peer}: {reason}, {lines} lines, {bytesIn} bytes in, {bytesOut} bytes out, {duration} s",
    { unit: connection.unit ?? "connection", ...closed },
  );
}

/**
 * Traces one read: its size, or the client's FIN.
 *
 * @param link The connection.
 * @param read What `read` returned.
 *
 * @example
 * ```ts ignore
 * traceRead(connection, 6);
 * ```
 */
export function traceRead(link: TcpLink, read: number | null): void {
  const tracer = link.tracer;
  if (tracer === undefined) return;
  if (read === null) {
    tracer.event("FIN from {peer}: end of stream, the client half-closed", {
      peer: link.peer,
    });
  } else {
    tracer.event("read {bytes} bytes from {peer}", {
      bytes: read,
      peer: link.peer,
    });
  }
}

/**
 * Why a read or write that threw ends its connection: `reset` (traced once
 * the connection was served), or `error` (logged as a warning).
 *
 * @param error What was thrown.
 * @param link The connection.
 * @returns The close reason.
 *
 * @example
 * ```ts ignore
 * reason ??= failureReason(error, connection);
 * ```
 */
export function failureReason(
  error: unknown,
  link: TcpLink & { readonly state: string },
): CloseReason {
  if (isResetError(error)) {
    if (link.state !== "preamble") {
      link.tracer?.event("RST from {peer}: the connection was reset", {
        peer: link.peer,
      });
    }
    return "reset";
  }
  logger.warn("Connection from {peer} failed: {error}", {
    peer: link.peer,
    error: errorMessage(error),
  });
  return "error";
}

/**
 * Logs and traces a connection served (its local address is formatted only
 * when tracing).
 *
 * @param link The connection.
 * @param local The server's end of it.
 *
 * @example
 * ```ts ignore
 * logAccepted(connection, conn.localAddr);
 * ```
 */
export function logAccepted(
  link: TcpLink,
  local: Deno.NetAddr | Deno.UnixAddr,
): void {
  logger.info("Accepted {unit} from {peer}", {
    unit: link.unit ?? "connection",
    peer: link.peer,
  });
  link.tracer?.event("accepted {peer} on {local}", {
    peer: link.peer,
    local: formatAddress(local),
  });
}
