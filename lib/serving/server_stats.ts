// Copyright 2026 the echolab authors. MIT license.
/**
 * Counters kept by both servers.
 *
 * @module
 */

/** A copy of a server's counters at one moment. */
export interface StatsSnapshot {
  /** TCP connections accepted and served (refused ones are drops). */
  connections_total: number;
  /** TCP connections open now. */
  connections_open: number;
  /** Most TCP connections open at once. */
  connections_peak: number;
  /** Complete lines received. */
  lines_in: number;
  /** Lines answered. */
  lines_out: number;
  /** UDP datagrams received. */
  datagrams_in: number;
  /** UDP datagrams answered. */
  datagrams_out: number;
  /** Bytes received. */
  bytes_in: number;
  /** Bytes sent. */
  bytes_out: number;
  /** UDP datagrams cut to the buffer size. */
  truncated: number;
  /** TCP connections closed, by reason. */
  closes: Record<string, number>;
  /** Connections refused and datagrams dropped, by reason. */
  drops: Record<string, number>;
  /** Faults injected on purpose, by kind (`delay`, `drop`, …). */
  faults: Record<string, number>;
  /** TLS handshakes completed, by TLS version (`1.3`, `1.2`). */
  tls_handshakes: Record<string, number>;
  /** QUIC streams opened by clients (0 for TCP and UDP). */
  streams_total: number;
  /** QUIC streams open now. */
  streams_open: number;
  /** QUIC streams ended, by reason. */
  stream_closes: Record<string, number>;
  /**
   * QUIC handshakes, by how long they took (from the client's Initial to
   * the handshake's end), per bucket of {@linkcode DURATION_BUCKETS}, not
   * cumulative.
   */
  handshake_duration_buckets: Record<string, number>;
  /** The seconds all QUIC handshakes took, added up. */
  handshake_duration_seconds_sum: number;
  /**
   * TCP connections closed, by how long they lived: the count per bucket of
   * {@linkcode DURATION_BUCKETS} (its upper bound in seconds, or `+Inf`),
   * not cumulative.
   */
  connection_duration_buckets: Record<string, number>;
  /** The seconds all closed TCP connections lived, added up. */
  connection_duration_seconds_sum: number;
}

/**
 * Upper bounds, in seconds, of the buckets that count TCP connections by
 * how long they lived (the last bucket, `+Inf`, takes the rest).
 */
export const DURATION_BUCKETS: readonly number[] = [
  0.001,
  0.005,
  0.01,
  0.05,
  0.1,
  0.5,
  1,
  5,
  10,
  30,
  60,
  300,
];

/**
 * The live counters of one server; fields are incremented in place on the
 * hot path, and {@linkcode ServerStats.snapshot} copies them.
 *
 * @example
 * ```ts
 * import { ServerStats } from "./server_stats.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const stats = new ServerStats();
 * stats.lines_in += 2;
 * stats.countDrop("rate limit");
 * strictEqual(stats.snapshot().lines_in, 2);
 * strictEqual(stats.snapshot().drops["rate limit"], 1);
 * ```
 */
export class ServerStats implements StatsSnapshot {
  connections_total = 0;
  connections_open = 0;
  connections_peak = 0;
  lines_in = 0;
  lines_out = 0;
  datagrams_in = 0;
  datagrams_out = 0;
  bytes_in = 0;
  bytes_out = 0;
  truncated = 0;
  closes: Record<string, number> = {};
  drops: Record<string, number> = {};
  faults: Record<string, number> = {};
  tls_handshakes: Record<string, number> = {};
  streams_total = 0;
  streams_open = 0;
  stream_closes: Record<string, number> = {};
  handshake_duration_buckets: Record<string, number> = {};
  handshake_duration_seconds_sum = 0;
  connection_duration_buckets: Record<string, number> = {};
  connection_duration_seconds_sum = 0;

  /** Counts a connection accepted for serving. */
  opened(): void {
    this.connections_total++;
    this.connections_open++;
    if (this.connections_open > this.connections_peak) {
      this.connections_peak = this.connections_open;
    }
  }

  /**
   * Counts a connection closed.
   *
   * @param reason Why it closed.
   * @param seconds How long it lived.
   */
  closed(reason: string, seconds = 0): void {
    this.connections_open--;
    this.closes[reason] = (this.closes[reason] ?? 0) + 1;
    countInBucket(this.connection_duration_buckets, seconds);
    this.connection_duration_seconds_sum += seconds;
  }

  /**
   * Counts a QUIC handshake completed.
   *
   * @param seconds How long it took.
   */
  handshake(seconds: number): void {
    this.tlsHandshake("TLSv1.3");
    countInBucket(this.handshake_duration_buckets, seconds);
    this.handshake_duration_seconds_sum += seconds;
  }

  /**
   * Counts a connection that ended before it was served (a bad PROXY
   * header): by its reason only.
   *
   * @param reason Why it closed.
   */
  countClose(reason: string): void {
    this.closes[reason] = (this.closes[reason] ?? 0) + 1;
  }

  /**
   * Counts a refused connection or a dropped datagram.
   *
   * @param reason Why.
   */
  countDrop(reason: string): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
  }

  /**
   * Counts a fault injected on purpose.
   *
   * @param kind Which.
   */
  countFault(kind: string): void {
    this.faults[kind] = (this.faults[kind] ?? 0) + 1;
  }

  /**
   * Counts a TLS handshake completed.
   *
   * @param version As `node:tls` names it: `TLSv1.3` is counted as `1.3`.
   */
  tlsHandshake(version: string): void {
    const key = version.replace(/^TLSv/, "");
    this.tls_handshakes[key] = (this.tls_handshakes[key] ?? 0) + 1;
  }

  /**
   * Copies the counters.
   *
   * @returns A plain object, safe to keep and to print as JSON.
   */
  snapshot(): StatsSnapshot {
    return {
      connections_total: this.connections_total,
      connections_open: this.connections_open,
      connections_peak: this.connections_peak,
      lines_in: this.lines_in,
      lines_out: this.lines_out,
      datagrams_in: this.datagrams_in,
      datagrams_out: this.datagrams_out,
      bytes_in: this.bytes_in,
      bytes_out: this.bytes_out,
      truncated: this.truncated,
      closes: { ...this.closes },
      drops: { ...this.drops },
      faults: { ...this.faults },
      tls_handshakes: { ...this.tls_handshakes },
      streams_total: this.streams_total,
      streams_open: this.streams_open,
      stream_closes: { ...this.stream_closes },
      handshake_duration_buckets: { ...this.handshake_duration_buckets },
      handshake_duration_seconds_sum: this.handshake_duration_seconds_sum,
      connection_duration_buckets: { ...this.connection_duration_buckets },
      connection_duration_seconds_sum: this.connection_duration_seconds_sum,
    };
  }
}

/** Counts `seconds` in its bucket of {@linkcode DURATION_BUCKETS}. */
function countInBucket(buckets: Record<string, number>, seconds: number) {
  let bucket = "+Inf";
  for (const bound of DURATION_BUCKETS) {
    if (seconds <= bound) {
      bucket = String(bound);
      break;
    }
  }
  buckets[bucket] = (buckets[bucket] ?? 0) + 1;
}

/**
 * Adds up the counters of several servers (the `--workers` accept loops);
 * `connections_peak` is the sum of the peaks, an upper bound.
 *
 * @param snapshots The counters to add.
 * @returns Their sum.
 *
 * @example
 * ```ts
 * import { mergeStats, ServerStats } from "./server_stats.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const a = new ServerStats();
 * a.lines_in = 2;
 * const b = new ServerStats();
 * b.lines_in = 3;
 * strictEqual(mergeStats([a.snapshot(), b.snapshot()]).lines_in, 5);
 * ```
 */
export function mergeStats(snapshots: readonly StatsSnapshot[]): StatsSnapshot {
  const total = new ServerStats().snapshot();
  for (const snapshot of snapshots) {
    for (const key of Object.keys(total) as (keyof StatsSnapshot)[]) {
      const value = snapshot[key];
      if (typeof value === "number") {
        (total[key] as number) += value;
      } else {
        const into = total[key] as Record<string, number>;
        for (const [reason, count] of Object.entries(value)) {
          into[reason] = (into[reason] ?? 0) + count;
        }
      }
    }
  }
  return total;
}

/**
 * Renders counters as one short line: `connections_total=3 … closes: client
 * closed=3; drops: none`, and `; faults: delay=2` when faults were injected
 * (the duration histogram is left to `/metrics`).
 *
 * @param stats The counters.
 * @returns The line.
 *
 * @example
 * ```ts
 * import { formatStats, ServerStats } from "./server_stats.ts";
 * import { match } from "node:assert/strict";
 *
 * match(formatStats(new ServerStats().snapshot()), /^connections_total=0 .* drops: none$/);
 * ```
 */
export function formatStats(stats: StatsSnapshot): string {
  const counts = Object.entries(stats)
    .filter(([name, value]) =>
      typeof value === "number" && !name.includes("_duration_") &&
      // QUIC's streams, only where there were some.
      !(name.startsWith("streams_") && stats.streams_total === 0)
    )
    .map(([name, value]) => `${name}=${value}`)
    .join(" ");
  const byReason = (record: Record<string, number>) => {
    const entries = Object.entries(record);
    return entries.length === 0
      ? "none"
      : entries.map(([reason, count]) => `${reason}=${count}`).join(", ");
  };
  const faults = Object.keys(stats.faults).length === 0
    ? ""
    : `; faults: ${byReason(stats.faults)}`;
  const tls = Object.keys(stats.tls_handshakes).length === 0
    ? ""
    : `; tls handshakes: ${byReason(stats.tls_handshakes)}`;
  const streams = Object.keys(stats.stream_closes).length === 0
    ? ""
    : `; stream closes: ${byReason(stats.stream_closes)}`;
  return `${counts}; closes: ${byReason(stats.closes)}; drops: ${
    byReason(stats.drops)
  }${faults}${tls}${streams}`;
}

/** The fields of one server's stats report: where it is, and its counters. */
export type StatsReport = {
  /** `tcp` or `udp`. */
  transport: "tcp" | "udp" | "quic";
  /** Where it listens, as `host:port`. */
  address: string;
  /** The counters as one line, see {@linkcode formatStats}. */
  summary: string;
} & StatsSnapshot;

/**
 * One server's counters as the stats report shows them: the fields of the
 * SIGUSR1 JSON log line and of each object `/stats` answers.
 *
 * @param transport Which server.
 * @param address Where it listens, as `host:port`.
 * @param stats Its counters.
 * @returns The report.
 *
 * @example
 * ```ts
 * import { ServerStats, statsReport } from "./server_stats.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const report = statsReport("udp", "127.0.0.1:6000", new ServerStats().snapshot());
 * strictEqual(report.datagrams_in, 0);
 * ```
 */
export function statsReport(
  transport: "tcp" | "udp" | "quic",
  address: string,
  stats: StatsSnapshot,
): StatsReport {
  return { transport, address, summary: formatStats(stats), ...stats };
}
