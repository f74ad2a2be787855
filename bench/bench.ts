// Copyright 2026 the echolab authors. MIT license.
/**
 * `deno task bench`: echolab side by side with a plain Node server and, when
 * `go` is installed, the seed's Go servers, one after another on the same
 * ports and load, in the same run. Prints one table (a row per scenario, a
 * column per server, echolab's ratio to each peer); `--json FILE` writes the
 * same data; `--smoke` runs one short round of each (CI); `--only 1,4b`
 * runs only the scenarios whose number is given.
 *
 * @module
 */

import { freePort } from "../tests/net_client.ts";
import {
  type LoadResult,
  type LoadTask,
  RAISE_FILE_LIMIT,
  withHeldConnections,
} from "./load.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const WORK = "/tmp/echolab-bench";
const decoder = new TextDecoder();

interface Settings {
  /** Scenario number prefixes to run (`--only 1,4`); empty runs all. */
  only: string[];
  rounds: number;
  duration: number;
  idleConnections: number;
  json: string | undefined;
}

function parseSettings(args: string[]): Settings {
  const smoke = args.includes("--smoke");
  const jsonIndex = args.indexOf("--json");
  const onlyIndex = args.indexOf("--only");
  return {
    only: onlyIndex === -1 ? [] : args[onlyIndex + 1]!.split(","),
    rounds: smoke ? 1 : 3,
    duration: smoke ? 300 : 2000,
    idleConnections: smoke ? 500 : 10_000,
    json: jsonIndex === -1 ? undefined : args[jsonIndex + 1],
  };
}

type ServerName =
  | "echolab"
  | "echolab --workers 2"
  | "deno plain"
  | "node"
  | "go seed";

interface ServerSpec {
  name: ServerName;
  /**
   * Command line; `logged` sends the log to a file, else it is discarded;
   * `extra` are more flags (echolab only).
   */
  command(
    tcpPort: number,
    udpPort: number,
    logged: boolean,
    extra?: string,
  ): string;
}

const DENO = Deno.execPath();

const ECHOLAB: ServerSpec = {
  name: "echolab",
  command: (tcp, udp, logged, extra = "") =>
    `exec ${DENO} run --allow-net=127.0.0.1 --allow-read=${WORK} --unstable-net --v8-flags=--max-semi-space-size=4 ${ROOT}main.ts all --tcp-port ${tcp} --udp-port ${udp} --quic-port {quicPort} --timeout 60 --log-level ${
      logged ? "info" : "error"
    } ${extra} 2>${logged ? `${WORK}/echolab.log` : "/dev/null"}`,
};

const ECHOLAB_WORKERS: ServerSpec = {
  name: "echolab --workers 2",
  command: (tcp, udp, logged, extra) =>
    ECHOLAB.command(tcp, udp, logged, extra)
      .replace(" all ", " all --workers 2 ")
      .replace(" run ", ` run --allow-read=${ROOT} `),
};

/** The certificate and key of the TLS rows, made at start. */
const CERT = `${WORK}/cert.pem`;
/** Its PEM text, for the load processes to trust. */
let certificatePem = "";
const KEY = `${WORK}/key.pem`;
/** echolab's flags for the TLS rows (the ClientHello read, then node:tls). */
const TLS_FLAGS = `--tls-cert ${CERT} --tls-key ${KEY}`;

const DENO_PLAIN: ServerSpec = {
  name: "deno plain",
  // With the TLS rows' flags: Deno.listenTls, plain TLS.
  command: (tcp, udp, _logged, extra = "") =>
    `exec ${DENO} run --allow-net=127.0.0.1 --allow-read=${WORK} --unstable-net --v8-flags=--max-semi-space-size=4 ${ROOT}bench/deno_echo_server.ts ${tcp} ${udp} ${
      extra.includes(TLS_FLAGS) ? `${CERT} ${KEY}` : ""
    } 2>/dev/null`,
};

const NODE: ServerSpec = {
  name: "node",
  command: (tcp, udp) =>
    `exec node ${ROOT}bench/node_echo_server.mjs ${tcp} ${udp} 2>/dev/null`,
};

const GO: ServerSpec = {
  name: "go seed",
  command: (tcp, udp, logged) =>
    `exec ${WORK}/seed -tcp ${tcp} -udp ${udp}${logged ? "" : " -quiet"} 2>${
      logged ? `${WORK}/seed.log` : "/dev/null"
    }`,
};

async function shell(command: string): Promise<{ ok: boolean; out: string }> {
  const output = await new Deno.Command("bash", { args: ["-c", command] })
    .output();
  return {
    ok: output.success,
    out: decoder.decode(output.stdout).trim() +
      decoder.decode(output.stderr).trim(),
  };
}

class RunningServer implements AsyncDisposable {
  readonly tcpPort = freePort();
  readonly udpPort = freePort();
  readonly quicPort = freePort("udp");
  readonly httpPort = freePort();
  readonly startedAt = performance.now();
  #child: Deno.ChildProcess;

  constructor(spec: ServerSpec, logged: boolean, extra?: string) {
    this.#child = new Deno.Command("bash", {
      args: [
        "-c",
        `${RAISE_FILE_LIMIT}; ${
          spec.command(
            this.tcpPort,
            this.udpPort,
            logged,
            extra?.replace("{httpPort}", String(this.httpPort)),
          ).replace("{quicPort}", String(this.quicPort))
        }`,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
  }

  get pid(): number {
    return this.#child.pid;
  }

  /** Milliseconds from spawn until the TCP port accepts. */
  async ready(): Promise<number> {
    for (let attempt = 0; attempt < 10_000; attempt++) {
      try {
        const conn = await Deno.connect({
          hostname: "127.0.0.1",
          port: this.tcpPort,
        });
        const at = performance.now();
        conn.close();
        // Let the UDP socket come up too.
        await new Promise((resolve) => setTimeout(resolve, 50));
        return at - this.startedAt;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    }
    throw new Error("server did not start");
  }

  /** CPU time the server used so far, all its threads, in seconds. */
  async cpu(): Promise<number> {
    // Deno asks for --allow-all to read /proc: a shell reads it.
    const { out: stat } = await shell(`cat /proc/${this.pid}/stat`);
    // utime and stime, in clock ticks (100 per second on Linux), follow
    // the parenthesized command name.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  }

  async rss(): Promise<number> {
    const { out } = await shell(`cat /proc/${this.pid}/status`);
    return Number(out.match(/VmRSS:\s+(\d+) kB/)?.[1] ?? 0) * 1024;
  }

  async [Symbol.asyncDispose]() {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // Gone already.
    }
    await this.#child.status;
  }
}

/** Runs `processes` load processes with the task and sums their results. */
async function load(
  task: Omit<LoadTask, "id">,
  processes: number,
): Promise<LoadResult> {
  const outputs = await Promise.all(
    Array.from({ length: processes }, (_, id) =>
      new Deno.Command(DENO, {
        args: [
          "run",
          "--allow-net=127.0.0.1",
          "--unstable-net",
          `${ROOT}bench/load.ts`,
          JSON.stringify({ ...task, id }),
        ],
        stderr: "inherit",
      }).output()),
  );
  const results = outputs.map((output) =>
    JSON.parse(
      decoder.decode(output.stdout).trim().split("\n").at(-1)!,
    ) as LoadResult
  );
  return {
    ok: results.reduce((sum, r) => sum + r.ok, 0),
    wrong: results.reduce((sum, r) => sum + r.wrong, 0),
    lost: results.reduce((sum, r) => sum + r.lost, 0),
    seconds: Math.max(...results.map((r) => r.seconds)),
    rtts: results.flatMap((r) => r.rtts ?? []),
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

interface Measurement {
  value: number;
  /** Wrong and missing replies, summed over the rounds. */
  errors: number;
  note?: string;
  /** Requests answered, for the server's CPU time per request. */
  requests?: number;
  /** The server's CPU time per request, in microseconds. */
  cpu?: number;
}

interface Scenario {
  name: string;
  unit: string;
  /** `true` when bigger is better. */
  higher: boolean;
  servers: ServerName[];
  logged?: boolean;
  /** More echolab flags; `{httpPort}` stands for a free port. */
  extra?: string;
  /** The scenario this one is a variant of, for its cost in the same run. */
  baseline?: string;
  measure(server: RunningServer, settings: Settings): Promise<Measurement>;
}

/** 32 connections (2 load processes x 16), 16 lines of 16 bytes in flight. */
async function tcpThroughput(
  server: RunningServer,
  settings: Settings,
  variant: Partial<
    Pick<LoadTask, "prefix" | "proxy" | "tls" | "quic" | "port">
  > = {},
): Promise<Measurement> {
  const r = await load({
    kind: "throughput",
    port: server.tcpPort,
    connections: 16,
    window: 16,
    size: 16,
    duration: settings.duration,
    ...variant,
  }, 2);
  return { value: r.ok / r.seconds, errors: r.wrong + r.lost, requests: r.ok };
}

/** 16 connections at a time (2 x 8), each connect, one line, close. */
async function churn(
  server: RunningServer,
  settings: Settings,
  variant: Pick<LoadTask, "tls"> = {},
): Promise<Measurement> {
  const r = await load({
    kind: "churn",
    port: server.tcpPort,
    connections: 8,
    window: 1,
    size: 16,
    duration: settings.duration,
    ...variant,
  }, 2);
  return { value: r.ok / r.seconds, errors: r.wrong + r.lost, requests: r.ok };
}

/**
 * 4 sockets (or QUIC connections), 16 datagrams of 5 bytes in flight each.
 */
async function udpThroughput(
  server: RunningServer,
  settings: Settings,
  variant: Partial<Pick<LoadTask, "kind" | "port" | "quic">> = {},
): Promise<Measurement> {
  const r = await load({
    kind: "udp",
    port: server.udpPort,
    connections: 4,
    window: 16,
    size: 5,
    duration: settings.duration,
    ...variant,
  }, 1);
  return {
    value: r.ok / r.seconds,
    errors: r.wrong,
    note: `lost ${r.lost}`,
    requests: r.ok,
  };
}

/**
 * Holds `settings.idleConnections` connections (each answered once first
 * when `size` > 0) and measures the server's resident memory.
 */
async function heldConnections(
  server: RunningServer,
  settings: Settings,
  size: number,
  connections = settings.idleConnections,
): Promise<Measurement> {
  return await withHeldConnections({
    port: server.tcpPort,
    connections,
    size,
  }, async (held) => {
    await new Promise((resolve) => setTimeout(resolve, 500));
    return {
      value: await server.rss() / 1024 / 1024,
      errors: held.lost,
      note: `${held.ready} held`,
    };
  });
}

const SCENARIOS: Scenario[] = [
  {
    name: "1. TCP 32 conns x 16 lines, quiet",
    unit: "lines/s",
    higher: true,
    servers: [
      "echolab",
      "echolab --workers 2",
      "deno plain",
      "node",
      "go seed",
    ],
    measure: tcpThroughput,
  },
  {
    name: "1b. as 1, prefix {instance} {peer}",
    unit: "lines/s",
    higher: true,
    servers: ["echolab"],
    extra: `--instance bench --prefix "{instance} {peer}: "`,
    baseline: "1.",
    measure: (server, settings) =>
      tcpThroughput(server, settings, { prefix: "bench {peer}: " }),
  },
  {
    name: "1c. as 1, PROXY protocol v2",
    unit: "lines/s",
    higher: true,
    servers: ["echolab"],
    extra: "--proxy-protocol",
    baseline: "1.",
    measure: (server, settings) =>
      tcpThroughput(server, settings, { proxy: true }),
  },
  {
    name: "1d. as 1, /metrics scraped every second",
    unit: "lines/s",
    higher: true,
    servers: ["echolab"],
    extra: "--http-port {httpPort}",
    baseline: "1.",
    async measure(server, settings) {
      // The HTTP port opens just after the echo ports: wait for it.
      const url = `http://127.0.0.1:${server.httpPort}`;
      for (let attempt = 0;; attempt++) {
        try {
          await (await fetch(`${url}/healthz`)).text();
          break;
        } catch (error) {
          if (attempt >= 200) throw error;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
      let scraping = true;
      const scraper = (async () => {
        while (scraping) {
          const response = await fetch(`${url}/metrics`);
          await response.text();
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
      })();
      try {
        return await tcpThroughput(server, settings);
      } finally {
        scraping = false;
        await scraper;
      }
    },
  },
  {
    name: "1e. as 1, faults on but never firing (--drop 0)",
    unit: "lines/s",
    higher: true,
    servers: ["echolab"],
    // Row 1 has the fault code compiled in and off; here every line asks
    // the injector, which never drops.
    extra: "--drop 0 --seed 1",
    baseline: "1.",
    measure: tcpThroughput,
  },
  {
    name: "1f. as 1, --control on and idle",
    unit: "lines/s",
    higher: true,
    servers: ["echolab"],
    extra: "--http-port {httpPort} --control",
    baseline: "1.",
    measure: tcpThroughput,
  },
  {
    name: "1g. as 1, --delay 0 --jitter 0 (asked, never waiting)",
    unit: "lines/s",
    higher: true,
    servers: ["echolab"],
    extra: "--delay 0 --jitter 0 --seed 1",
    baseline: "1.",
    measure: tcpThroughput,
  },
  {
    name: "1h. as 1, --bandwidth 1000000000 (never limiting)",
    unit: "lines/s",
    higher: true,
    servers: ["echolab"],
    extra: "--bandwidth 1000000000",
    baseline: "1.",
    measure: tcpThroughput,
  },
  {
    name: "1i. as 1, --drop 1 aimed elsewhere (--faults-for 192.0.2.0/24)",
    unit: "lines/s",
    higher: true,
    servers: ["echolab"],
    extra: "--drop 1 --faults-for 192.0.2.0/24 --seed 1",
    baseline: "1.",
    measure: tcpThroughput,
  },
  {
    name: "1j. as 1, --drop 0 --drop-burst 4 --fault-connections 0",
    unit: "lines/s",
    higher: true,
    servers: ["echolab"],
    extra: "--drop 0 --drop-burst 4 --fault-connections 0 --seed 1",
    baseline: "1.",
    measure: tcpThroughput,
  },
  {
    name: "1k. as 1, on node:net (--reset-after 1000000000, never firing)",
    unit: "lines/s",
    higher: true,
    servers: ["echolab"],
    extra: "--reset-after 1000000000 --seed 1",
    baseline: "1.",
    measure: tcpThroughput,
  },
  {
    name: "2. TCP 32 x 16, info logs to a file",
    unit: "lines/s",
    higher: true,
    logged: true,
    servers: ["echolab", "go seed"],
    measure: tcpThroughput,
  },
  {
    name: "3. churn: connect, 1 line, close",
    unit: "conns/s",
    higher: true,
    servers: ["echolab", "deno plain", "node", "go seed"],
    measure: churn,
  },
  {
    name: "4. UDP 4 sockets x 16, 5 bytes, quiet",
    unit: "datagrams/s",
    higher: true,
    servers: ["echolab", "deno plain", "node", "go seed"],
    measure: udpThroughput,
  },
  {
    name: "4b. UDP 4 x 16, info logs to a file",
    unit: "datagrams/s",
    higher: true,
    logged: true,
    servers: ["echolab", "go seed"],
    measure: udpThroughput,
  },
  {
    name: "5. RSS, idle TCP connections",
    unit: "MB",
    higher: false,
    servers: ["echolab", "deno plain", "node", "go seed"],
    measure: (server, settings) => heldConnections(server, settings, 0),
  },
  {
    name: "5b. RSS, TCP connections answered once",
    unit: "MB",
    higher: false,
    // The seed's Go server misses replies with 10,000 connections at once.
    servers: ["echolab", "deno plain", "node"],
    measure: (server, settings) => heldConnections(server, settings, 16),
  },
  {
    name: "5c. RSS, 1,000 TCP connections after one 60,000-byte line",
    unit: "MB",
    higher: false,
    servers: ["echolab", "deno plain", "node"],
    measure: (server, settings) =>
      heldConnections(
        server,
        settings,
        60_000,
        Math.min(1000, settings.idleConnections),
      ),
  },
  {
    name: "6. latency p50, 8 conns x 1 line",
    unit: "ms",
    higher: false,
    servers: ["echolab", "node", "go seed"],
    async measure(server, settings) {
      const r = await load({
        kind: "latency",
        port: server.tcpPort,
        connections: 8,
        window: 1,
        size: 16,
        duration: settings.duration,
      }, 1);
      return {
        value: percentile(r.rtts!, 0.5),
        errors: r.wrong + r.lost,
        note: `p99 ${percentile(r.rtts!, 0.99).toFixed(3)} ms`,
      };
    },
  },
  {
    name: "8. TLS 32 conns x 16 lines: echolab reads each ClientHello",
    unit: "lines/s",
    higher: true,
    servers: ["echolab", "deno plain"],
    extra: TLS_FLAGS,
    measure: (server, settings) =>
      tcpThroughput(server, settings, { tls: certificatePem }),
  },
  {
    name: "8b. TLS churn: connect, handshake, 1 line, close",
    unit: "conns/s",
    higher: true,
    servers: ["echolab", "deno plain"],
    extra: TLS_FLAGS,
    measure: (server, settings) =>
      churn(server, settings, { tls: certificatePem }),
  },
  {
    name: "9. QUIC 32 streams x 16 lines (2 connections x 16 streams)",
    unit: "lines/s",
    higher: true,
    servers: ["echolab"],
    extra: TLS_FLAGS,
    baseline: "1.",
    measure: (server, settings) =>
      tcpThroughput(server, settings, {
        quic: certificatePem,
        port: server.quicPort,
      }),
  },
  {
    name: "9b. QUIC datagrams 4 x 16, 5 bytes",
    unit: "datagrams/s",
    higher: true,
    servers: ["echolab"],
    extra: TLS_FLAGS,
    baseline: "4.",
    measure: (server, settings) =>
      udpThroughput(server, settings, {
        kind: "quic-datagrams",
        port: server.quicPort,
        quic: certificatePem,
      }),
  },
  {
    name: "7. start-up to accepting",
    unit: "ms",
    higher: false,
    servers: ["echolab", "deno plain", "node", "go seed"],
    measure: async (server) => ({ value: await server.ready(), errors: 0 }),
  },
];

async function main(): Promise<number> {
  const settings = parseSettings(Deno.args);
  await Deno.mkdir(WORK, { recursive: true });
  const made = await shell(
    `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -addext basicConstraints=critical,CA:FALSE -keyout ${KEY} -out ${CERT}`,
  );
  if (!made.ok) throw new Error(`bench: openssl: ${made.out}`);
  certificatePem = await Deno.readTextFile(CERT);
  const servers: ServerSpec[] = [ECHOLAB, ECHOLAB_WORKERS, DENO_PLAIN, NODE];
  const hasGo = (await shell("command -v go")).ok;
  if (hasGo) {
    const built = await shell(
      `cd ${ROOT}bench && GOCACHE=${WORK}/gocache go build -o ${WORK}/seed seed_server.go`,
    );
    if (built.ok) servers.push(GO);
    else console.error(`bench: cannot build the Go seed server: ${built.out}`);
  } else {
    console.error(
      "bench: go is not installed (apt install golang-go): the seed's Go servers are left out",
    );
  }
  const rows: {
    scenario: string;
    unit: string;
    higher: boolean;
    results: Partial<Record<ServerName, Measurement>>;
  }[] = [];
  let errors = 0;
  for (const scenario of SCENARIOS) {
    if (
      settings.only.length > 0 &&
      !settings.only.some((only) =>
        // "1" also runs its variants 1b, 1c…; "4b" runs only 4b.
        scenario.name.startsWith(`${only}.`) ||
        new RegExp(`^${only}[a-z]\\.`).test(scenario.name)
      )
    ) continue;
    const results: Partial<Record<ServerName, Measurement>> = {};
    for (const spec of servers) {
      if (!scenario.servers.includes(spec.name)) continue;
      const rounds: Measurement[] = [];
      for (let round = 0; round < settings.rounds; round++) {
        await using server = new RunningServer(
          spec,
          scenario.logged ?? false,
          scenario.extra,
        );
        const startup = await server.ready();
        if (scenario.name.startsWith("7.")) {
          rounds.push({ value: startup, errors: 0 });
          continue;
        }
        const cpuBefore = await server.cpu();
        const measured = await scenario.measure(server, settings);
        if (measured.requests) {
          measured.cpu = (await server.cpu() - cpuBefore) /
            measured.requests * 1e6;
        }
        rounds.push(measured);
      }
      const value = median(rounds.map((r) => r.value));
      const roundErrors = rounds.reduce((sum, r) => sum + r.errors, 0);
      errors += roundErrors;
      const cpus = rounds.flatMap((r) => r.cpu === undefined ? [] : [r.cpu]);
      results[spec.name] = {
        value,
        errors: roundErrors,
        note: rounds.find((r) => r.value === value)?.note,
        cpu: cpus.length > 0 ? median(cpus) : undefined,
      };
      console.error(
        `bench: ${scenario.name}: ${spec.name} ${
          format(value)
        } ${scenario.unit} (rounds ${
          rounds.map((r) => format(r.value)).join(", ")
        }${
          results[spec.name]!.cpu === undefined
            ? ""
            : `; server CPU ${results[spec.name]!.cpu!.toFixed(2)} µs each`
        })${roundErrors ? ` (${roundErrors} wrong or missing replies)` : ""}`,
      );
    }
    rows.push({
      scenario: scenario.name,
      unit: scenario.unit,
      higher: scenario.higher,
      results,
    });
  }
  const names = servers.map((s) => s.name);
  printTable(rows, names, (result) => result.value, true);
  const cpuRows = rows.filter((row) =>
    Object.values(row.results).some((result) => result.cpu !== undefined)
  );
  if (cpuRows.length > 0) {
    console.log(
      "\nServer CPU time per request in µs (all threads, /proc; median of the rounds; lower is better):",
    );
    printTable(cpuRows, names, (result) => result.cpu, false);
  }
  for (const scenario of SCENARIOS) {
    const row = rows.find((r) => r.scenario === scenario.name);
    const base = rows.find((r) =>
      scenario.baseline !== undefined &&
      r.scenario.startsWith(scenario.baseline)
    );
    const value = row?.results.echolab?.value;
    const plain = base?.results.echolab?.value;
    if (value === undefined || plain === undefined) continue;
    // CPU per line moves less than throughput when the load generator
    // shares the machine: both are given.
    const cpu = row!.results.echolab!.cpu;
    const plainCpu = base!.results.echolab!.cpu;
    console.log(
      `${scenario.name}: ${(value / plain).toFixed(3)}x the throughput of "${
        base!.scenario
      }" (cost ${((1 - value / plain) * 100).toFixed(1)} %)${
        cpu === undefined || plainCpu === undefined
          ? ""
          : `, ${(cpu / plainCpu).toFixed(3)}x its server CPU per line (cost ${
            ((cpu / plainCpu - 1) * 100).toFixed(1)
          } %)`
      }`,
    );
  }
  if (settings.json !== undefined) {
    await Deno.writeTextFile(
      settings.json,
      JSON.stringify({ settings, rows }, null, 2) + "\n",
    );
  }
  if (errors > 0) {
    console.log(`bench: ${errors} wrong or missing replies (see above)`);
    return 1;
  }
  return 0;
}

function format(value: number): string {
  return value >= 100 ? value.toFixed(0) : value.toFixed(3);
}

/**
 * Prints one table: a row per scenario, a column per server with the
 * figure `pick` chooses (and its note when `notes`), then echolab's ratio
 * to each peer.
 */
function printTable(
  rows: {
    scenario: string;
    unit: string;
    higher: boolean;
    results: Partial<Record<ServerName, Measurement>>;
  }[],
  names: ServerName[],
  pick: (result: Measurement) => number | undefined,
  notes: boolean,
): void {
  const peers = names.filter((name) => name !== "echolab");
  // The workers column compares echolab with itself: show 2 loops over 1.
  const ratioName = (peer: ServerName) =>
    peer === "echolab --workers 2" ? "workers 2/1" : `echolab/${peer}`;
  const header = ["scenario", "unit", ...names, ...peers.map(ratioName)];
  const lines = rows.map((row) => {
    const result = row.results.echolab;
    const own = result === undefined ? undefined : pick(result);
    return [
      row.scenario,
      notes ? row.unit : "µs",
      ...names.map((name) => {
        const result = row.results[name];
        const value = result === undefined ? undefined : pick(result);
        if (value === undefined) return "-";
        return `${format(value)}${
          notes && result!.note ? ` (${result!.note})` : ""
        }`;
      }),
      ...peers.map((peer) => {
        const theirs = row.results[peer];
        const other = theirs === undefined ? undefined : pick(theirs);
        if (own === undefined || other === undefined || other === 0) return "-";
        const ratio = peer === "echolab --workers 2"
          ? other / own
          : own / other;
        return `${ratio.toFixed(2)}x`;
      }),
    ];
  });
  const widths = header.map((_, i) =>
    Math.max(...[header, ...lines].map((line) => line[i]!.length))
  );
  for (const line of [header, ...lines]) {
    console.log(line.map((cell, i) => cell.padEnd(widths[i]!)).join(" | "));
  }
}

if (import.meta.main) {
  Deno.exit(await main());
}
