// Copyright 2026 the echolab authors. MIT license.
/**
 * Printing a server's counters: at shutdown and on SIGUSR1.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { StatsSnapshot } from "../lib/server_stats.ts";

const logger = getLogger(["echolab", "stats"]);

/**
 * Renders counters as one short line: `connections_total=3 … closes: client
 * closed=3; drops: none`.
 *
 * @param stats The counters.
 * @returns The line.
 *
 * @example
 * ```ts
 * import { formatStats } from "./stats_report.ts";
 * import { ServerStats } from "../lib/server_stats.ts";
 * import { match } from "node:assert/strict";
 *
 * match(formatStats(new ServerStats().snapshot()), /^connections_total=0 .* drops: none$/);
 * ```
 */
export function formatStats(stats: StatsSnapshot): string {
  const counts = Object.entries(stats)
    .filter(([, value]) => typeof value === "number")
    .map(([name, value]) => `${name}=${value}`)
    .join(" ");
  const byReason = (record: Record<string, number>) => {
    const entries = Object.entries(record);
    return entries.length === 0
      ? "none"
      : entries.map(([reason, count]) => `${reason}=${count}`).join(", ");
  };
  return `${counts}; closes: ${byReason(stats.closes)}; drops: ${
    byReason(stats.drops)
  }`;
}

/**
 * Logs a server's counters to the `echolab.stats` logger (the CLI shows it
 * whatever `--log-level` says). In JSON, the counters are fields.
 *
 * @param transport Which server.
 * @param address Where it listens, as `host:port`.
 * @param stats Its counters.
 *
 * @example
 * ```ts
 * import { logStats } from "./stats_report.ts";
 * import { ServerStats } from "../lib/server_stats.ts";
 *
 * logStats("tcp", "127.0.0.1:8000", new ServerStats().snapshot());
 * ```
 */
export function logStats(
  transport: "tcp" | "udp",
  address: string,
  stats: StatsSnapshot,
): void {
  logger.info("Stats of the {transport} server on {address}: {summary}", {
    transport,
    address,
    summary: formatStats(stats),
    ...stats,
  });
}
