// Copyright 2026 the echolab authors. MIT license.
/**
 * Counting refused connections and dropped datagrams, and logging them
 * without letting a flood become a log flood.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { ServerStats } from "./server_stats.ts";
import { ThrottledReporter } from "./throttled_reporter.ts";

/**
 * Counts each drop under its reason in the server's stats and logs it at
 * info level, at most once per second per reason (the line then says how
 * many were held back). Both servers use one.
 *
 * @example
 * ```ts
 * import { getLogger } from "@logtape/logtape";
 * import { DropReporter } from "./_drop_reporter.ts";
 * import { ServerStats } from "./server_stats.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const stats = new ServerStats();
 * const drops = new DropReporter(stats, getLogger(["echolab", "udp"]));
 * drops.drop("rate limit", "Dropped datagram from {peer}: rate limit", { peer: "127.0.0.1:5000" });
 * strictEqual(stats.drops["rate limit"], 1);
 * ```
 */
export class DropReporter {
  #stats: ServerStats;
  #logger: Logger;
  #reporter = new ThrottledReporter();

  /**
   * Creates the reporter.
   *
   * @param stats The counters the drops go into.
   * @param logger Where the lines go.
   */
  constructor(stats: ServerStats, logger: Logger) {
    this.#stats = stats;
    this.#logger = logger;
  }

  /**
   * Counts one drop and logs it, throttled by reason.
   *
   * @param reason The `drops` key, e.g. `rate limit`.
   * @param template A constant LogTape message template.
   * @param properties The template's values.
   */
  drop(
    reason: string,
    template: string,
    properties: Record<string, unknown>,
  ): void {
    this.#stats.countDrop(reason);
    this.#reporter.log(this.#logger, "info", reason, template, properties);
  }
}
