// Copyright 2026 the echolab authors. MIT license.
/**
 * `deno task fleet`: three echolab instances behind real load balancers, on
 * loopback. HAProxy spreads TCP with `send-proxy-v2` and checks `/readyz`;
 * nginx's stream module spreads UDP; Prometheus scrapes the three
 * `/metrics`. It checks that every reply names one of the instances and
 * each gets its share, that the PROXY header carries the client's own
 * address, that a rolling restart loses nothing, that UDP reaches all three,
 * and that Prometheus sums the lines the client sent. Installs what it needs
 * with apt as root; elsewhere says what it skipped. Exits 1 when a check
 * fails.
 *
 * @module
 */

import { sendMessages } from "../lib/client/client.ts";
import { decoder, delay, freePort } from "../tests/net_client.ts";
import { ensurePackages } from "./containers.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const COUNT = 300;
const DRAIN = 3;
const results: { check: string; ok: boolean; detail: string }[] = [];

function report(check: string, ok: boolean, detail: string): void {
  results.push({ check, ok, detail });
  console.log(`fleet: ${ok ? "ok" : "FAILED"}: ${check}: ${detail}`);
}

/** One echolab process, restartable. */
class Instance {
  readonly name: string;
  readonly tcp = freePort();
  readonly udp = freePort("udp");
  readonly http = freePort();
  readonly quic = freePort("udp");
  #child: Deno.ChildProcess | undefined;
  #log = "";

  constructor(name: string) {
    this.name = name;
  }

  start(prefix: string): void {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net=127.0.0.1",
        "--unstable-net",
        `${ROOT}main.ts`,
        "all",
        "--tcp-port",
        String(this.tcp),
        "--udp-port",
        String(this.udp),
        "--quic-port",
        String(this.quic),
        "--http-port",
        String(this.http),
        "--instance",
        this.name,
        "--prefix",
        prefix,
        "--proxy-protocol",
        "--drain",
        String(DRAIN),
        "--log-level",
        "warning",
      ],
      stdout: "null",
      stderr: "piped",
      env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    }).spawn();
    const stderr = this.#child.stderr;
    (async () => {
      for await (const chunk of stderr) this.#log += decoder.decode(chunk);
    })();
  }

  async ready(): Promise<void> {
    for (let attempt = 0; attempt < 200; attempt++) {
      try {
        const response = await fetch(`http://127.0.0.1:${this.http}/readyz`);
        const body = await response.text();
        if (response.status === 200 && body === "ready") return;
      } catch {
        // Not listening yet.
      }
      await delay(50);
    }
    throw new Error(
      `instance ${this.name} did not become ready:\n${this.#log}`,
    );
  }

  /** SIGTERM, then the exit code. */
  async stop(): Promise<number> {
    const child = this.#child!;
    child.kill("SIGTERM");
    return (await child.status).code;
  }

  async kill(): Promise<void> {
    try {
      this.#child?.kill("SIGKILL");
      await this.#child?.status;
    } catch {
      // Already gone.
    }
  }
}

/** A load balancer or Prometheus, started here, stopped by its PID. */
class Helper {
  #child: Deno.ChildProcess;
  readonly name: string;
  #output = "";

  constructor(name: string, program: string, args: string[]) {
    this.name = name;
    this.#child = new Deno.Command(program, {
      args,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    for (const stream of [this.#child.stdout, this.#child.stderr]) {
      (async () => {
        for await (const chunk of stream) this.#output += decoder.decode(chunk);
      })();
    }
  }

  get output(): string {
    return this.#output;
  }

  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await this.#child.status;
  }
}

async function waitForTcp(port: number, what: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await delay(50);
    }
  }
  throw new Error(`${what} did not listen on ${port}`);
}

function haproxyConfig(front: number, instances: Instance[]): string {
  return `global
  maxconn 2000
defaults
  mode tcp
  timeout connect 1s
  timeout client 10s
  timeout server 10s
  retries 3
  option redispatch
frontend echo
  bind 127.0.0.1:${front}
  default_backend echolab
backend echolab
  balance roundrobin
  option httpchk GET /readyz
${
    instances.map((i) =>
      `  server ${i.name} 127.0.0.1:${i.tcp} send-proxy-v2 check port ${i.http} inter 300 fall 1 rise 2`
    ).join("\n")
  }
`;
}

function nginxConfig(directory: string, front: number, instances: Instance[]) {
  return `load_module /usr/lib/nginx/modules/ngx_stream_module.so;
daemon off;
pid ${directory}/nginx.pid;
error_log ${directory}/nginx-error.log warn;
events { worker_connections 256; }
stream {
  upstream echolab_udp {
${instances.map((i) => `    server 127.0.0.1:${i.udp};`).join("\n")}
  }
  server {
    listen 127.0.0.1:${front} udp;
    proxy_pass echolab_udp;
    proxy_responses 1;
    proxy_timeout 2s;
  }
}
`;
}

function prometheusConfig(instances: Instance[]): string {
  return `global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: echolab
    static_configs:
      - targets: [${instances.map((i) => `"127.0.0.1:${i.http}"`).join(", ")}]
`;
}

/** Sends `count` lines, one connection each, and tallies the replies. */
async function tallyThrough(
  port: number,
  count: number,
  transport: "tcp" | "udp",
): Promise<{ tally: Map<string, number>; lost: number; replies: string[] }> {
  const tally = new Map<string, number>();
  const replies: string[] = [];
  const summary = await sendMessages(
    Array.from({ length: count }, (_, i) => `line-${i}`),
    { transport, hostname: "127.0.0.1", port, reconnect: true, wait: 2000 },
    (event) => {
      if (event.reply === undefined) return;
      const reply = decoder.decode(event.reply);
      replies.push(reply);
      const name = reply.slice(0, reply.indexOf(":"));
      const instance = name.split(" ")[0]!;
      tally.set(instance, (tally.get(instance) ?? 0) + 1);
    },
  );
  return { tally, lost: summary.lost, replies };
}

async function prometheusSum(port: number, query: string): Promise<number> {
  const url = `http://127.0.0.1:${port}/api/v1/query?query=${
    encodeURIComponent(query)
  }`;
  const body = await (await fetch(url)).json();
  const value = body?.data?.result?.[0]?.value?.[1];
  return value === undefined ? NaN : Number(value);
}

async function main(): Promise<number> {
  const missing = await ensurePackages({
    haproxy: "haproxy",
    nginx: "nginx",
    prometheus: "prometheus",
    // The stream module has no command of its own: look for the file.
    "/usr/lib/nginx/modules/ngx_stream_module.so": "libnginx-mod-stream",
  });
  if (missing !== undefined) {
    console.log(`fleet: skipped: ${missing}`);
    return 0;
  }
  const directory = await Deno.makeTempDir({ prefix: "echolab-fleet-" });
  const instances = ["a", "b", "c"].map((name) => new Instance(name));
  const helpers: Helper[] = [];
  const started = performance.now();
  try {
    for (const instance of instances) instance.start("{instance}: ");
    await Promise.all(instances.map((instance) => instance.ready()));

    const tcpFront = freePort();
    const udpFront = freePort("udp");
    const prometheusPort = freePort();
    await Deno.writeTextFile(
      `${directory}/haproxy.cfg`,
      haproxyConfig(tcpFront, instances),
    );
    await Deno.writeTextFile(
      `${directory}/nginx.conf`,
      nginxConfig(directory, udpFront, instances),
    );
    await Deno.writeTextFile(
      `${directory}/prometheus.yml`,
      prometheusConfig(instances),
    );
    helpers.push(
      new Helper("haproxy", "haproxy", [
        "-f",
        `${directory}/haproxy.cfg`,
        "-db",
      ]),
      new Helper("nginx", "nginx", [
        "-c",
        `${directory}/nginx.conf`,
        "-p",
        directory,
      ]),
      new Helper("prometheus", "prometheus", [
        `--config.file=${directory}/prometheus.yml`,
        `--storage.tsdb.path=${directory}/tsdb`,
        `--web.listen-address=127.0.0.1:${prometheusPort}`,
      ]),
    );
    await waitForTcp(prometheusPort, "prometheus");
    // HAProxy needs its health checks to pass (rise 2, every 300 ms).
    await delay(1000);

    // 1. 300 lines, one connection each, through HAProxy.
    const spread = await tallyThrough(tcpFront, COUNT, "tcp");
    const shares = instances.map((i) => spread.tally.get(i.name) ?? 0);
    report(
      `${COUNT} lines through HAProxy, one connection each, reach a, b and c`,
      spread.lost === 0 && shares.every((n) => n >= 80 && n <= 120) &&
        shares.reduce((a, b) => a + b, 0) === COUNT,
      `a ${shares[0]}, b ${shares[1]}, c ${shares[2]}, lost ${spread.lost}`,
    );

    // 2. Prometheus sums what the client sent.
    let sum = NaN;
    for (let attempt = 0; attempt < 40 && sum !== COUNT; attempt++) {
      await delay(500);
      sum = await prometheusSum(
        prometheusPort,
        'sum(echolab_lines_total{direction="in"})',
      );
    }
    report(
      "Prometheus scrapes the three /metrics and sums echolab_lines_total",
      sum === COUNT,
      `sum ${sum}, sent ${COUNT}`,
    );

    // 3. A rolling restart while a client keeps sending, one line per new
    // connection every 10 ms. Each instance comes back naming the client.
    let sending = true;
    let sent = 0;
    let failed = 0;
    const client = (async () => {
      while (sending) {
        sent++;
        try {
          const summary = await sendMessages([`roll-${sent}`], {
            transport: "tcp",
            hostname: "127.0.0.1",
            port: tcpFront,
          }, () => {});
          if (summary.answered !== 1) failed++;
        } catch {
          failed++;
        }
        await delay(10);
      }
    })();
    const exits: number[] = [];
    for (const instance of instances) {
      exits.push(await instance.stop());
      instance.start("{instance} {peer}: ");
      await instance.ready();
      // HAProxy brings it back after two passing checks.
      await delay(1000);
    }
    sending = false;
    await client;
    report(
      "a rolling restart (SIGTERM, drain, start) through HAProxy loses nothing",
      failed === 0 && exits.every((code) => code === 0) && sent > 100,
      `${sent} requests, ${failed} failed or unanswered, exits ${
        exits.join(" ")
      }`,
    );

    // 4. The PROXY header carries the client's own address and port.
    let ownAddress = 0;
    for (let i = 0; i < 9; i++) {
      const conn = await Deno.connect({
        hostname: "127.0.0.1",
        port: tcpFront,
      });
      try {
        await conn.write(new TextEncoder().encode("who\n"));
        const buffer = new Uint8Array(128);
        const read = await conn.read(buffer);
        const reply = decoder.decode(buffer.subarray(0, read ?? 0));
        if (reply.endsWith(` 127.0.0.1:${conn.localAddr.port}: who\n`)) {
          ownAddress++;
        }
      } finally {
        conn.close();
      }
    }
    report(
      "with {peer} in the prefix, replies show the client's own address",
      ownAddress === 9,
      `${ownAddress} of 9`,
    );

    // 5. UDP through nginx reaches all three.
    const udp = await tallyThrough(udpFront, 30, "udp");
    const udpShares = instances.map((i) => udp.tally.get(i.name) ?? 0);
    report(
      "UDP through nginx reaches a, b and c",
      udp.lost === 0 && udpShares.every((n) => n > 0),
      `a ${udpShares[0]}, b ${udpShares[1]}, c ${
        udpShares[2]
      }, lost ${udp.lost}`,
    );
  } catch (error) {
    report("the fleet ran", false, (error as Error).message);
  } finally {
    await Promise.all(instances.map((instance) => instance.kill()));
    for (const helper of helpers) await helper.stop();
    await Deno.remove(directory, { recursive: true });
  }
  const failed = results.filter((r) => !r.ok).length;
  console.log(
    `fleet: ${results.length - failed} passed, ${failed} failed in ${
      ((performance.now() - started) / 1000).toFixed(1)
    } s`,
  );
  return failed === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());
