// Copyright 2026 the echolab authors. MIT license.
/**
 * `--trace`: one log line per network event, with the time since the server
 * started, so a learner sees what Wireshark showed.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";

const logger = getLogger(["echolab", "trace"]);

/**
 * Writes trace events to the `echolab.trace` logger, each starting with the
 * seconds elapsed since the tracer was made (`+0.001234 s`). The CLI routes
 * that logger past `--log-level`: the user asked to see these events.
 *
 * @example
 * ```ts
 * import { Tracer } from "./tracer.ts";
 *
 * const tracer = new Tracer("tcp");
 * tracer.event("read {bytes} bytes from {peer}", { bytes: 6, peer: "127.0.0.1:5000" });
 * ```
 */
export class Tracer {
  /** `tcp` or `udp`, put before each event. */
  readonly transport: "tcp" | "udp";
  #start = performance.now();

  /**
   * Starts the clock.
   *
   * @param transport The server traced.
   */
  constructor(transport: "tcp" | "udp") {
    this.transport = transport;
  }

  /**
   * Logs one event.
   *
   * @param template A constant LogTape template for the event.
   * @param properties Its values.
   */
  event(template: string, properties: Record<string, unknown>): void {
    logger.info(`+{elapsed} s {transport} ${template}`, {
      elapsed: ((performance.now() - this.#start) / 1000).toFixed(6),
      transport: this.transport,
      ...properties,
    });
  }
}
