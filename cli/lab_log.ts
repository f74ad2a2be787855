// Copyright 2026 the echolab authors. MIT license.
/**
 * The lab's events in the program's log: the servers' trace lines and the
 * packets, in the time order the lab puts them in, as `--capture` writes
 * them.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { LabEvent, LabEvents } from "../lib/lab/mod.ts";

/** The logger the lab's lines go to (shown whatever --log-level says). */
export const LAB_TRACE = ["echolab", "lab", "trace"] as const;

/**
 * Writes each event the lab releases as one trace line: `+SECONDS s
 * TRANSPORT WORDS`, with the seconds since this call.
 *
 * @param events The lab's events.
 * @returns Stops writing when disposed.
 *
 * @example
 * ```ts
 * import { LabEvents } from "../lib/lab/mod.ts";
 * import { logLabEvents } from "./lab_log.ts";
 *
 * const events = new LabEvents({ hold: 0 });
 * using _log = logLabEvents(events);
 * events.add({ type: "note", text: "hello", at: Date.now() });
 * events.close();
 * ```
 */
export function logLabEvents(events: LabEvents): Disposable {
  const logger = getLogger([...LAB_TRACE]);
  const start = performance.timeOrigin + performance.now();
  return events.follow((event: LabEvent) => {
    const elapsed = (Math.max(0, event.at - start) / 1000).toFixed(6);
    if (event.type === "server") {
      logger.info("+{elapsed} s {transport} {text}", {
        elapsed,
        transport: event.transport,
        text: event.text,
        ...(event.peer === undefined ? {} : { peer: event.peer }),
      });
    } else if (event.type === "packet") {
      logger.info("+{elapsed} s {transport} packet {from} > {to} {packet}", {
        elapsed,
        transport: event.protocol,
        from: event.from,
        to: event.to,
        packet: event.text,
        ...(event.flags === undefined ? {} : { flags: event.flags }),
        len: event.len,
      });
    } else {
      logger.info("+{elapsed} s lab {text}", { elapsed, text: event.text });
    }
  });
}
