// Copyright 2026 the echolab authors. MIT license.
/**
 * How both servers begin serving once bound: the start lines, and, with a
 * capture, waiting for tcpdump first so that no packet is missed.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { formatAddress } from "./address.ts";
import { warnIfReachable } from "./_exposure.ts";
import type {
  AddressFilter,
  CapturePlan,
  FaultPlan,
  RunningCapture,
} from "./stages.ts";
import type { Tracer } from "./tracer.ts";

/** A QUIC server's address: its UDP port. */
type QuicAddr = { transport: "quic"; hostname: string; port: number };

/** What a bound server hands over to begin serving. */
export interface ServerStart {
  /** The server's logger. */
  logger: Logger;
  /** Where it is bound (a Unix socket's path for a Unix socket server). */
  addr: Deno.NetAddr | Deno.UnixAddr | QuicAddr;
  /** Said after the address in the start line (` (TLS)`). */
  suffix?: string;
  /** The access list, named by the warning for a reachable address. */
  allow?: AddressFilter;
  /** Active faults, named at warning level. */
  faults?: FaultPlan;
  /** The server's `capture` option. */
  capture?: CapturePlan;
  /** The server's tracer (there is one whenever `capture` is on). */
  tracer?: Tracer;
  /** Called with the capture once tcpdump listens. */
  captured(capture: RunningCapture): void;
  /** Runs the accept or receive loops until the server stops. */
  serve(): Promise<void>;
  /** Releases the socket when the capture could not start. */
  abandon(): void;
}

/**
 * Logs the start line (and the warnings for a reachable address and for
 * active faults) and runs the server's loops: at once, or with a capture
 * once tcpdump listens.
 *
 * @param start The bound server's parts.
 * @returns `started` (rejects when the capture cannot start; the socket is
 * then released) and `loop` (settles when serving ends, either way).
 *
 * @example
 * ```ts
 * import { getLogger } from "@logtape/logtape";
 * import { startServing } from "./_server_start.ts";
 *
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const { started, loop } = startServing({
 *   logger: getLogger(["echolab", "tcp"]),
 *   addr: listener.addr,
 *   captured: () => {},
 *   serve: () => Promise.resolve(),
 *   abandon: () => {},
 * });
 * await started;
 * await loop;
 * ```
 */
export function startServing(
  start: ServerStart,
): { started: Promise<void>; loop: Promise<void> } {
  const announce = () => {
    start.logger.info("Starting {transport} server on {address}{suffix}", {
      transport: start.addr.transport,
      address: formatAddress(start.addr),
      suffix: start.suffix ?? "",
    });
    // A Unix socket is reached through the file system: its mode guards it.
    if ("hostname" in start.addr) {
      warnIfReachable(start.logger, start.addr, start.allow);
    }
    if (start.faults !== undefined) {
      start.logger.warn("Injecting faults: {faults}", {
        faults: start.faults.describe(),
      });
    }
  };
  if (start.capture === undefined) {
    announce();
    return { started: Promise.resolve(), loop: start.serve() };
  }
  // Nothing is served before tcpdump listens: no packet is missed. (A Unix
  // socket server takes no capture: its options say so.)
  const started = start.capture.start(
    start.addr as Deno.NetAddr | QuicAddr,
    start.tracer!,
  )
    .then((capture) => {
      start.captured(capture);
      announce();
    });
  // Whoever awaits it sees a failure; it is never left unhandled.
  started.catch(() => {});
  return { started, loop: started.then(start.serve, start.abandon) };
}
