// Copyright 2026 the echolab authors. MIT license.
/**
 * Backing off after a socket error, so that a failing accept or receive
 * does not spin the CPU or flood the log.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { errorMessage } from "./errors.ts";
import { ThrottledReporter } from "./throttled_reporter.ts";

/** First pause after an error, in milliseconds. */
export const BACKOFF_MIN = 5;
/** Longest pause between two attempts, in milliseconds. */
export const BACKOFF_MAX = 1000;

/**
 * The pause after a failed accept or receive: 5 ms, doubled after each
 * error in a row up to 1 s, back to none after a success. Each failure is
 * logged at most once a second (with the count held back), and a pause is
 * cut short by {@linkcode SocketBackoff.wake} when the server stops.
 *
 * @example
 * ```ts
 * import { getLogger } from "@logtape/logtape";
 * import { SocketBackoff } from "./_backoff.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const backoff = new SocketBackoff(getLogger(["echolab", "udp"]), "receive");
 * const pause = backoff.failed(new Error("boom"), "error", "Cannot receive a datagram: {error}");
 * backoff.wake();
 * await pause;
 * strictEqual(backoff.delay, 5);
 * backoff.succeeded();
 * strictEqual(backoff.delay, 0);
 * ```
 */
export class SocketBackoff {
  /** The last pause in milliseconds; 0 after a success. */
  delay = 0;
  #logger: Logger;
  #reason: string;
  #reporter = new ThrottledReporter();
  #wakers = new Set<() => void>();

  /**
   * Creates the backoff.
   *
   * @param logger Where failures are logged.
   * @param reason The kind of failure, for throttling (`accept error`).
   */
  constructor(logger: Logger, reason: string) {
    this.#logger = logger;
    this.#reason = reason;
  }

  /** Resets the pause after a successful attempt. */
  succeeded(): void {
    this.delay = 0;
  }

  /**
   * Logs a failure (throttled) and pauses before the next attempt.
   *
   * @param error What the socket threw.
   * @param level The level of the log line.
   * @param template A constant LogTape template with `{error}`; `{max}` is
   * the longest pause.
   * @returns After the pause, or at once when woken.
   */
  failed(
    error: unknown,
    level: "warning" | "error",
    template: string,
  ): Promise<void> {
    this.delay = this.delay === 0
      ? BACKOFF_MIN
      : Math.min(this.delay * 2, BACKOFF_MAX);
    this.#reporter.log(this.#logger, level, this.#reason, template, {
      error: errorMessage(error),
      max: BACKOFF_MAX,
    });
    const { promise, resolve } = Promise.withResolvers<void>();
    const timer = setTimeout(wake, this.delay);
    const wakers = this.#wakers;
    function wake() {
      clearTimeout(timer);
      wakers.delete(wake);
      resolve();
    }
    wakers.add(wake);
    return promise;
  }

  /** Ends every pause now (the server is stopping). */
  wake(): void {
    for (const wake of [...this.#wakers]) wake();
  }
}
