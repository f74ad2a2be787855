// Copyright 2026 the echolab authors. MIT license.
/**
 * `--trace`: one log line per network event, with the time since the server
 * started, so a learner sees what Wireshark showed; with a capture (which
 * calls {@linkcode Tracer.eventAt}), the packets too, in time order with the
 * events.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";

const logger = getLogger(["echolab", "trace"]);

/** Options of {@linkcode Tracer}. */
export interface TracerOptions {
  /**
   * Milliseconds each event is held back before it is written, so that
   * packets, which tcpdump delivers a little late, come out in time order
   * with the server's own events. 0 writes at once.
   *
   * @default {0}
   */
  hold?: number;
}

interface Held {
  at: number;
  order: number;
  template: string;
  properties: Record<string, unknown>;
}

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
  readonly transport: "tcp" | "udp" | "quic";
  #start = performance.now();
  #hold: number;
  #held: Held[] = [];
  #order = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  /**
   * Starts the clock.
   *
   * @param transport The server traced.
   * @param options How long events are held back.
   */
  constructor(
    transport: "tcp" | "udp" | "quic",
    options: TracerOptions = {},
  ) {
    this.transport = transport;
    this.#hold = options.hold ?? 0;
  }

  /**
   * Logs one event.
   *
   * @param template A constant LogTape template for the event.
   * @param properties Its values.
   */
  event(template: string, properties: Record<string, unknown>): void {
    this.#add(performance.now(), template, properties);
  }

  /**
   * Logs one event that happened at a given time (a captured packet), in
   * time order with the others when events are held.
   *
   * @param at When, in `performance.now()` milliseconds.
   * @param template A constant LogTape template for the event.
   * @param properties Its values.
   */
  eventAt(
    at: number,
    template: string,
    properties: Record<string, unknown>,
  ): void {
    this.#add(at, template, properties);
  }

  /** Writes every held event now, in time order, and stops holding. */
  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#release(Infinity);
  }

  #add(at: number, template: string, properties: Record<string, unknown>) {
    if (this.#hold <= 0) {
      this.#write(at, template, properties);
      return;
    }
    this.#held.push({ at, order: this.#order++, template, properties });
    if (this.#timer === undefined) {
      this.#timer = setInterval(
        () => this.#release(performance.now() - this.#hold),
        Math.max(5, this.#hold / 4),
      );
      Deno.unrefTimer(this.#timer);
    }
  }

  #release(before: number): void {
    if (this.#held.length === 0) return;
    this.#held.sort((a, b) => a.at - b.at || a.order - b.order);
    let count = 0;
    while (count < this.#held.length && this.#held[count]!.at <= before) {
      const { at, template, properties } = this.#held[count]!;
      this.#write(at, template, properties);
      count++;
    }
    this.#held.splice(0, count);
  }

  #write(at: number, template: string, properties: Record<string, unknown>) {
    logger.info(`+{elapsed} s {transport} ${template}`, {
      elapsed: (Math.max(0, at - this.#start) / 1000).toFixed(6),
      transport: this.transport,
      ...properties,
    });
  }
}
