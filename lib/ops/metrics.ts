// Copyright 2026 the echolab authors. MIT license.
/**
 * The servers' counters in the Prometheus text exposition format (0.0.4):
 * the names, labels and types that `/metrics` serves.
 *
 * @module
 */

import {
  DURATION_BUCKETS,
  type StatsSnapshot,
} from "../serving/server_stats.ts";

/** The content type of the text exposition format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** One server's counters, and which server it is. */
export interface ServerMetrics {
  /** `tcp` or `udp`. */
  transport: "tcp" | "udp" | "quic";
  /**
   * Where it listens, `host:port`: the `address` label that tells two
   * servers of one transport apart.
   */
  address: string;
  /** Its counters (for `--workers`, the sum over the workers). */
  stats: StatsSnapshot;
}

/** Facts about the process, for `echolab_build_info` and `process_*`. */
export interface ProcessMetrics {
  /** echolab's version. */
  version: string;
  /** Resident memory in bytes. */
  residentMemory: number;
  /** When the process started, in seconds since the Unix epoch. */
  startTime: number;
  /** With control endpoints: calls refused, and changes by kind. */
  control?: { denied: number; changes: Readonly<Record<string, number>> };
}

type Sample = [labels: Record<string, string>, value: number];

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(
    /"/g,
    '\\"',
  );
}

function formatValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function sampleLine(
  name: string,
  labels: Record<string, string>,
  value: number,
): string {
  const pairs = Object.entries(labels).map(([key, label]) =>
    `${key}="${escapeLabel(label)}"`
  );
  return `${name}${pairs.length > 0 ? `{${pairs.join(",")}}` : ""} ${
    formatValue(value)
  }\n`;
}

function family(
  name: string,
  type: "counter" | "gauge",
  help: string,
  samples: Sample[],
): string {
  let text = `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
  for (const [labels, value] of samples) {
    text += sampleLine(name, labels, value);
  }
  return text;
}

function byReason(
  record: Record<string, number>,
  labels: Record<string, string> = {},
): Sample[] {
  return Object.entries(record).sort(([a], [b]) => a < b ? -1 : 1).map((
    [reason, count],
  ) => [{ ...labels, reason }, count]);
}

/**
 * Renders the metrics of the running servers and of the process, as
 * `promtool check metrics` accepts them: each family once, counters ending
 * in `_total`, the connection durations as a histogram.
 *
 * @param servers The servers of the process, each series labelled with
 * its `address`.
 * @param process The process's version, memory and start time.
 * @returns The exposition text.
 *
 * @example
 * ```ts
 * import { formatMetrics } from "./metrics.ts";
 * import { ServerStats } from "../serving/server_stats.ts";
 * import { ok } from "node:assert/strict";
 *
 * const stats = new ServerStats();
 * stats.lines_in = 2;
 * const text = formatMetrics([{ transport: "tcp", address: "127.0.0.1:8000", stats: stats.snapshot() }], {
 *   version: "0.1.0", residentMemory: 1024, startTime: 1_700_000_000,
 * });
 * ok(text.includes('echolab_lines_total{transport="tcp",direction="in",address="127.0.0.1:8000"} 2\n'));
 * ```
 */
export function formatMetrics(
  servers: readonly ServerMetrics[],
  process: ProcessMetrics,
): string {
  const tcp = servers.filter((server) => server.transport === "tcp");
  const udp = servers.filter((server) => server.transport === "udp");
  const quic = servers.filter((server) => server.transport === "quic");
  // Connections and their closes: TCP's and QUIC's, told apart by label.
  const connected = [...tcp, ...quic];
  const perDirection = (
    of: readonly ServerMetrics[],
    pick: (stats: StatsSnapshot, direction: "in" | "out") => number,
    transport: boolean,
  ): Sample[] =>
    (["in", "out"] as const).flatMap((direction) =>
      of.map(({ transport: name, address, stats }): Sample => [
        transport
          ? { transport: name, direction, address }
          : { direction, address },
        pick(stats, direction),
      ])
    );
  let text = "";
  if (connected.length > 0) {
    text += family(
      "echolab_connections_total",
      "counter",
      "TCP and QUIC connections accepted and served (refused ones are drops).",
      connected.map(({ transport, address, stats }) => [
        { transport, address },
        stats.connections_total,
      ]),
    );
    text += family(
      "echolab_connections_open",
      "gauge",
      "TCP and QUIC connections open now.",
      connected.map(({ transport, address, stats }) => [
        { transport, address },
        stats.connections_open,
      ]),
    );
  }
  text += family(
    "echolab_lines_total",
    "counter",
    "Lines received (in) and answered (out).",
    perDirection(
      servers,
      (stats, direction) =>
        direction === "in" ? stats.lines_in : stats.lines_out,
      true,
    ),
  );
  if (udp.length > 0) {
    text += family(
      "echolab_datagrams_total",
      "counter",
      "UDP datagrams received (in, dropped and cut ones too) and answered (out).",
      perDirection(
        udp,
        (stats, direction) =>
          direction === "in" ? stats.datagrams_in : stats.datagrams_out,
        false,
      ),
    );
  }
  text += family(
    "echolab_bytes_total",
    "counter",
    "Bytes received (in) and sent (out).",
    perDirection(
      servers,
      (stats, direction) =>
        direction === "in" ? stats.bytes_in : stats.bytes_out,
      true,
    ),
  );
  if (udp.length > 0) {
    text += family(
      "echolab_truncated_total",
      "counter",
      "UDP datagrams cut to the buffer size.",
      udp.map(({ address, stats }) => [{ address }, stats.truncated]),
    );
  }
  if (connected.length > 0) {
    text += family(
      "echolab_closes_total",
      "counter",
      "TCP and QUIC connections closed, by reason.",
      connected.flatMap(({ address, stats }) =>
        byReason(stats.closes, { address })
      ),
    );
  }
  if (quic.length > 0) text += quicFamilies(quic, perDirection);
  text += family(
    "echolab_drops_total",
    "counter",
    "TCP connections refused and UDP datagrams dropped, by reason.",
    servers.flatMap(({ transport, address, stats }) =>
      byReason(stats.drops, { transport, address })
    ),
  );
  text += family(
    "echolab_faults_total",
    "counter",
    "Faults injected on purpose, by kind.",
    servers.flatMap(({ transport, address, stats }) =>
      Object.entries(stats.faults).sort(([a], [b]) => a < b ? -1 : 1).map((
        [kind, count],
      ): Sample => [{ kind, transport, address }, count])
    ),
  );
  if (
    connected.some(({ stats }) => Object.keys(stats.tls_handshakes).length > 0)
  ) {
    text += family(
      "echolab_tls_handshakes_total",
      "counter",
      "TLS handshakes completed (QUIC's too), by TLS version.",
      connected.flatMap(({ address, stats }) =>
        Object.entries(stats.tls_handshakes).sort(([a], [b]) => a < b ? -1 : 1)
          .map(([version, count]): Sample => [{ version, address }, count])
      ),
    );
  }
  if (tcp.length > 0) text += durationHistogram(tcp);
  if (process.control !== undefined) {
    text += family(
      "echolab_control_denied_total",
      "counter",
      "Control calls refused (no token, a wrong one, or a peer not on loopback).",
      [[{}, process.control.denied]],
    );
    text += family(
      "echolab_control_changes_total",
      "counter",
      "Changes made through the control endpoints, by what changed.",
      ["faults", "health", "ready"].map((what) => [
        { what },
        process.control!.changes[what] ?? 0,
      ]),
    );
  }
  text += family(
    "echolab_build_info",
    "gauge",
    "echolab's version; always 1.",
    [[{ version: process.version }, 1]],
  );
  text += family(
    "process_resident_memory_bytes",
    "gauge",
    "Resident memory size in bytes.",
    [[{}, process.residentMemory]],
  );
  text += family(
    "process_start_time_seconds",
    "gauge",
    "Start time of the process since the Unix epoch in seconds.",
    [[{}, process.startTime]],
  );
  return text;
}

function durationHistogram(servers: readonly ServerMetrics[]): string {
  return histogram(
    "echolab_connection_duration_seconds",
    "How long TCP connections lived, from accept to close.",
    servers.map(({ address, stats }) => ({
      address,
      buckets: stats.connection_duration_buckets,
      sum: stats.connection_duration_seconds_sum,
    })),
  );
}

/** A histogram over {@linkcode DURATION_BUCKETS}, one series per address. */
function histogram(
  name: string,
  help: string,
  series: { address: string; buckets: Record<string, number>; sum: number }[],
): string {
  let text = `# HELP ${name} ${help}\n# TYPE ${name} histogram\n`;
  for (const { address, buckets, sum } of series) {
    let cumulative = 0;
    for (const bound of DURATION_BUCKETS) {
      cumulative += buckets[String(bound)] ?? 0;
      text += sampleLine(
        `${name}_bucket`,
        { address, le: String(bound) },
        cumulative,
      );
    }
    cumulative += buckets["+Inf"] ?? 0;
    text += sampleLine(`${name}_bucket`, { address, le: "+Inf" }, cumulative);
    text += sampleLine(`${name}_sum`, { address }, sum);
    text += sampleLine(`${name}_count`, { address }, cumulative);
  }
  return text;
}

/** QUIC's own: streams, their closes, datagrams, handshake times. */
function quicFamilies(
  quic: readonly ServerMetrics[],
  perDirection: (
    of: readonly ServerMetrics[],
    pick: (stats: StatsSnapshot, direction: "in" | "out") => number,
    transport: boolean,
  ) => Sample[],
): string {
  return family(
    "echolab_quic_streams_total",
    "counter",
    "QUIC streams opened by clients (bidirectional and unidirectional).",
    quic.map(({ address, stats }) => [{ address }, stats.streams_total]),
  ) +
    family(
      "echolab_quic_stream_closes_total",
      "counter",
      "QUIC streams ended, by reason.",
      quic.flatMap(({ address, stats }) =>
        byReason(stats.stream_closes, { address })
      ),
    ) +
    family(
      "echolab_quic_datagrams_total",
      "counter",
      "QUIC datagrams received (in) and answered (out).",
      perDirection(
        quic,
        (stats, direction) =>
          direction === "in" ? stats.datagrams_in : stats.datagrams_out,
        false,
      ),
    ) +
    histogram(
      "echolab_quic_handshake_duration_seconds",
      "How long QUIC handshakes took, from the client's Initial to the handshake's end.",
      quic.map(({ address, stats }) => ({
        address,
        buckets: stats.handshake_duration_buckets,
        sum: stats.handshake_duration_seconds_sum,
      })),
    );
}
