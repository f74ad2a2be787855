// Copyright 2026 the echolab authors. MIT license.
/**
 * Printing a server's counters: at shutdown and on SIGUSR1.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import {
  statsReport,
  type StatsSnapshot,
} from "../lib/serving/server_stats.ts";

const logger = getLogger(["echolab", "stats"]);

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
 * import { ServerStats } from "../lib/serving/server_stats.ts";
 *
 * logStats("tcp", "127.0.0.1:8000", new ServerStats().snapshot());
 * ```
 */
export function logStats(
  transport: "tcp" | "udp" | "quic",
  address: string,
  stats: StatsSnapshot,
): void {
  logger.info(
    "Stats of the {transport} server on {address}: {summary}",
    { ...statsReport(transport, address, stats) },
  );
}
