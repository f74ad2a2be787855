// Copyright 2026 the echolab authors. MIT license.
/**
 * Rate-limited logging of refusals and drops: a flood must not become a log
 * flood.
 *
 * @module
 */

/** What {@linkcode ThrottledReporter.log} writes to: a LogTape logger. */
export interface ReportLogger {
  /** Logs at info level. */
  info(template: string, properties: Record<string, unknown>): void;
  /** Logs at warning level. */
  warn(template: string, properties: Record<string, unknown>): void;
  /** Logs at error level. */
  error(template: string, properties: Record<string, unknown>): void;
}

/**
 * Lets at most one report per reason through per interval, and tells each
 * report how many were held back since the previous one.
 *
 * @example
 * ```ts
 * import { ThrottledReporter } from "./throttled_reporter.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const lines: string[] = [];
 * const reporter = new ThrottledReporter(1000);
 * for (const now of [0, 10, 20, 1500]) {
 *   reporter.report("rate limit", (suppressed) => lines.push(`drop (${suppressed} suppressed)`), now);
 * }
 * deepStrictEqual(lines, ["drop (0 suppressed)", "drop (2 suppressed)"]);
 * ```
 */
export class ThrottledReporter {
  /** Milliseconds between two reports of one reason. */
  readonly interval: number;
  #last = new Map<string, number>();
  #suppressed = new Map<string, number>();

  /**
   * Creates the reporter.
   *
   * @param interval Milliseconds between two reports of one reason.
   */
  constructor(interval = 1000) {
    this.interval = interval;
  }

  /**
   * Calls `log` unless a report for `reason` went out within the interval.
   *
   * @param reason The kind of event.
   * @param log Writes the report, given how many were suppressed before it.
   * @param now The time in milliseconds.
   */
  report(
    reason: string,
    log: (suppressed: number) => void,
    now: number = performance.now(),
  ): void {
    const last = this.#last.get(reason);
    if (last !== undefined && now - last < this.interval) {
      this.#suppressed.set(reason, (this.#suppressed.get(reason) ?? 0) + 1);
      return;
    }
    this.#last.set(reason, now);
    const suppressed = this.#suppressed.get(reason) ?? 0;
    this.#suppressed.set(reason, 0);
    log(suppressed);
  }

  /**
   * Logs `template` for `reason`, at most once per interval; when reports
   * were held back, the line says how many.
   *
   * @param logger Where the line goes.
   * @param level The level of the line.
   * @param reason The kind of event.
   * @param template A constant LogTape message template.
   * @param properties The template's values.
   */
  log(
    logger: ReportLogger,
    level: "info" | "warning" | "error",
    reason: string,
    template: string,
    properties: Record<string, unknown>,
  ): void {
    this.report(reason, (suppressed) => {
      if (suppressed === 0) {
        logger[level === "warning" ? "warn" : level](template, properties);
      } else {
        logger[level === "warning" ? "warn" : level](
          `${template} ({suppressed} more since the last report)`,
          { ...properties, suppressed },
        );
      }
    });
  }
}
