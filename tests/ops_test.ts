// Copyright 2026 the echolab authors. MIT license.
import { promtoolAccepts } from "./promtool.ts";
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { serveOps } from "../lib/ops/ops_server.ts";
import { serveTcp } from "../tcp.ts";
import { serveUdp } from "../udp.ts";
import { freePort, MainProcess } from "./cli_process.ts";
import {
  delay,
  encoder,
  exchange,
  ping,
  readToEnd,
  REPLY,
  udpClient,
} from "./net_client.ts";
import { ensureCommand } from "./system_package.ts";

async function get(
  url: string,
  method = "GET",
): Promise<{ status: number; type: string | null; body: string }> {
  const response = await fetch(url, { method });
  return {
    status: response.status,
    type: response.headers.get("content-type"),
    body: await response.text(),
  };
}

/** One sample's value from the exposition text. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

Deno.test("ops: each endpoint answers its status and body; others 404, methods 405", async () => {
  await using echo = serveTcp({ port: 0 });
  await using ops = serveOps({ port: 0, servers: [echo] });
  const url = `http://127.0.0.1:${ops.addr.port}`;
  deepStrictEqual(await get(`${url}/healthz`), {
    status: 200,
    type: "text/plain; charset=utf-8",
    body: "ok",
  });
  deepStrictEqual(await get(`${url}/readyz`), {
    status: 200,
    type: "text/plain; charset=utf-8",
    body: "ready",
  });
  const metrics = await get(`${url}/metrics`);
  strictEqual(metrics.status, 200);
  strictEqual(metrics.type, "text/plain; version=0.0.4; charset=utf-8");
  match(
    metrics.body,
    /^echolab_connections_total\{transport="tcp",address="127\.0\.0\.1:\d+"\} 0$/m,
  );
  const stats = await get(`${url}/stats`);
  strictEqual(stats.type, "application/json");
  strictEqual(JSON.parse(stats.body).transport, "tcp");
  strictEqual((await get(`${url}/nope`)).status, 404);
  strictEqual((await get(`${url}/`)).status, 404);
  deepStrictEqual(await get(`${url}/healthz`, "POST"), {
    status: 405,
    type: "text/plain; charset=utf-8",
    body: "method not allowed",
  });
  strictEqual((await get(`${url}/metrics`, "DELETE")).status, 405);
  const head = await get(`${url}/healthz`, "HEAD");
  deepStrictEqual([head.status, head.body], [200, ""]);
  ops.drain();
  deepStrictEqual(await get(`${url}/readyz`), {
    status: 503,
    type: "text/plain; charset=utf-8",
    body: "draining",
  });
  strictEqual((await get(`${url}/healthz`)).body, "ok");
});

Deno.test("ops: every metric equals the counter sent, for TCP and UDP", async () => {
  await using tcp = serveTcp({ port: 0 });
  await using udp = serveUdp({ port: 0 });
  await using ops = serveOps({ port: 0, servers: [tcp, udp] });
  // TCP: 3 lines on one connection, closed by the client.
  const conn = await Deno.connect(tcp.addr);
  for (const text of ["a", "bb", "ccc"]) {
    strictEqual(await ping(conn, text), `${REPLY}${text}\n`);
  }
  await conn.closeWrite();
  await readToEnd(conn);
  conn.close();
  while (tcp.stats().connections_open > 0) await delay(5);
  // UDP: one datagram cut to 5 bytes, one of two lines.
  const client = udpClient();
  try {
    await exchange(client, udp.addr, "hello world");
    await exchange(client, udp.addr, "x\ny");
  } finally {
    client.close();
  }
  const { body } = await get(`http://127.0.0.1:${ops.addr.port}/metrics`);
  const t = `address="127.0.0.1:${tcp.addr.port}"`;
  const u = `address="127.0.0.1:${udp.addr.port}"`;
  const expected: [string, number][] = [
    [`echolab_connections_total{transport="tcp",${t}}`, 1],
    [`echolab_connections_open{transport="tcp",${t}}`, 0],
    [`echolab_lines_total{transport="tcp",direction="in",${t}}`, 3],
    [`echolab_lines_total{transport="tcp",direction="out",${t}}`, 3],
    [`echolab_lines_total{transport="udp",direction="in",${u}}`, 3],
    [`echolab_lines_total{transport="udp",direction="out",${u}}`, 3],
    [`echolab_datagrams_total{direction="in",${u}}`, 2],
    [`echolab_datagrams_total{direction="out",${u}}`, 2],
    [`echolab_bytes_total{transport="tcp",direction="in",${t}}`, 9],
    [`echolab_bytes_total{transport="tcp",direction="out",${t}}`, 9 + 3 * 14],
    [`echolab_bytes_total{transport="udp",direction="in",${u}}`, 11 + 3],
    [
      `echolab_bytes_total{transport="udp",direction="out",${u}}`,
      20 + 16 + 16,
    ],
    [`echolab_truncated_total{${u}}`, 1],
    [`echolab_closes_total{${t},reason="client closed"}`, 1],
    [`echolab_connection_duration_seconds_count{${t}}`, 1],
    [`echolab_connection_duration_seconds_bucket{${t},le="+Inf"}`, 1],
    ['echolab_build_info{version="0.1.0"}', 1],
  ];
  for (const [series, value] of expected) {
    strictEqual(sample(body, series), value, series);
  }
  ok(sample(body, "process_resident_memory_bytes")! > 1_000_000);
  const start = sample(body, "process_start_time_seconds")!;
  ok(Math.abs(start - Date.now() / 1000) < 600, String(start));
  // /stats: an array in the order of the servers, with the same counters.
  const stats = JSON.parse(
    (await get(`http://127.0.0.1:${ops.addr.port}/stats`)).body,
  );
  deepStrictEqual(stats.map((s: { transport: string }) => s.transport), [
    "tcp",
    "udp",
  ]);
  strictEqual(stats[1].datagrams_in, 2);
  strictEqual(stats[1].truncated, 1);
  match(stats[0].summary, /^connections_total=1 /);
});

const promtool = await ensureCommand("promtool", "prometheus");

Deno.test({
  name:
    `ops: promtool check metrics accepts /metrics of a live server after TCP and UDP traffic${
      promtool === undefined ? "" : ` (${promtool})`
    }`,
  ignore: promtool !== undefined,
  async fn() {
    await using tcp = serveTcp({ port: 0 });
    await using udp = serveUdp({ port: 0 });
    await using ops = serveOps({ port: 0, servers: [tcp, udp] });
    using conn = await Deno.connect(tcp.addr);
    await ping(conn, "hello");
    const client = udpClient();
    try {
      await exchange(client, udp.addr, "hello world");
    } finally {
      client.close();
    }
    const { body } = await get(`http://127.0.0.1:${ops.addr.port}/metrics`);
    await promtoolAccepts(body);
  },
});

Deno.test({
  name:
    `ops: two servers of each transport get series of their own, by address, and promtool accepts them${
      promtool === undefined ? "" : ` (${promtool})`
    }`,
  ignore: promtool !== undefined,
  async fn() {
    await using tcp1 = serveTcp({ port: 0 });
    await using tcp2 = serveTcp({ port: 0 });
    await using udp1 = serveUdp({ port: 0 });
    await using udp2 = serveUdp({ port: 0 });
    await using ops = serveOps({
      port: 0,
      servers: [tcp1, tcp2, udp1, udp2],
    });
    for (const [server, count] of [[tcp1, 1], [tcp2, 2]] as const) {
      for (let i = 0; i < count; i++) {
        using conn = await Deno.connect(server.addr);
        await ping(conn, "hello");
      }
    }
    while (tcp1.stats().connections_open + tcp2.stats().connections_open > 0) {
      await delay(5);
    }
    const client = udpClient();
    try {
      await exchange(client, udp2.addr, "hello world");
    } finally {
      client.close();
    }
    const { body } = await get(`http://127.0.0.1:${ops.addr.port}/metrics`);
    const at = (server: { addr: Deno.NetAddr }) =>
      `address="127.0.0.1:${server.addr.port}"`;
    for (
      const [series, value] of [
        [`echolab_connections_total{transport="tcp",${at(tcp1)}}`, 1],
        [`echolab_connections_total{transport="tcp",${at(tcp2)}}`, 2],
        [`echolab_connection_duration_seconds_count{${at(tcp2)}}`, 2],
        [`echolab_datagrams_total{direction="in",${at(udp1)}}`, 0],
        [`echolab_datagrams_total{direction="in",${at(udp2)}}`, 1],
        [`echolab_truncated_total{${at(udp2)}}`, 1],
      ] as const
    ) strictEqual(sample(body, series), value, series);
    strictEqual(
      body.split("\n").filter((line) =>
        line === "# TYPE echolab_connection_duration_seconds histogram"
      ).length,
      1,
    );
    await promtoolAccepts(body);
  },
});

Deno.test("ops: the CLI drains: /readyz 503 at once on SIGTERM, echo answered during the drain, exit 0 after", async () => {
  await using server = new MainProcess([
    "tcp",
    "--port",
    "0",
    "--http-port",
    "0",
    "--drain",
    "1",
  ]);
  const port = await server.port("tcp");
  const http = Number(
    (await server.waitFor(
      /Serving health and metrics on http:\/\/127\.0\.0\.1:\d+$/,
    ))
      .match(/:(\d+)$/)![1],
  );
  const url = `http://127.0.0.1:${http}`;
  strictEqual((await get(`${url}/readyz`)).status, 200);
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  strictEqual(await ping(conn, "before"), `${REPLY}before\n`);
  const signalled = performance.now();
  server.kill("SIGTERM");
  // Polled right away: 503 within 100 ms of the signal.
  let readiness = await get(`${url}/readyz`);
  while (readiness.status === 200 && performance.now() - signalled < 100) {
    readiness = await get(`${url}/readyz`);
  }
  deepStrictEqual([readiness.status, readiness.body], [503, "draining"]);
  ok(performance.now() - signalled < 100);
  match(
    await server.waitFor(/Draining/),
    /INFO {2}echolab: Draining for 1 s: \/readyz answers 503$/,
  );
  // The echo servers still answer, old connections and new ones.
  strictEqual(await ping(conn, "during"), `${REPLY}during\n`);
  using fresh = await Deno.connect({ hostname: "127.0.0.1", port });
  strictEqual(await ping(fresh, "new"), `${REPLY}new\n`);
  strictEqual((await get(`${url}/healthz`)).body, "ok");
  const { code } = await server.finished();
  strictEqual(code, 0);
  ok(performance.now() - signalled >= 1000);
});

Deno.test("ops: a missing grant for the HTTP port gets the one-line --allow-net hint, exit 1", async () => {
  const port = freePort();
  const http = freePort();
  await using server = new MainProcess(
    ["tcp", "--port", String(port), "--http-port", String(http)],
    `127.0.0.1:${port}`,
  );
  const { code } = await server.finished();
  strictEqual(code, 1);
  match(
    await server.waitFor(/ERROR/),
    new RegExp(
      `ERROR echolab: Cannot start the http server on 127\\.0\\.0\\.1:${http}: no network permission; re-run with --allow-net=127\\.0\\.0\\.1:${http}$`,
    ),
  );
});

Deno.test("ops: with --workers 2, /metrics and /stats sum every worker", async () => {
  const root = new URL("../", import.meta.url).pathname;
  await using server = new MainProcess(
    ["tcp", "--port", "0", "--workers", "2", "--http-port", "0"],
    "127.0.0.1",
    undefined,
    [`--allow-read=${root}`],
  );
  const port = await server.port("tcp");
  const http = await server.httpPort();
  for (let i = 0; i < 20; i++) {
    using conn = await Deno.connect({ hostname: "127.0.0.1", port });
    strictEqual(await ping(conn, `w${i}`), `${REPLY}w${i}\n`);
  }
  const url = `http://127.0.0.1:${http}`;
  const metrics = (await get(`${url}/metrics`)).body;
  strictEqual(
    sample(
      metrics,
      `echolab_connections_total{transport="tcp",address="127.0.0.1:${port}"}`,
    ),
    20,
  );
  strictEqual(
    sample(
      metrics,
      `echolab_lines_total{transport="tcp",direction="in",address="127.0.0.1:${port}"}`,
    ),
    20,
  );
  strictEqual(JSON.parse((await get(`${url}/stats`)).body).lines_out, 20);
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 0);
});

Deno.test("ops: a client that never finishes its HTTP request does not delay the echo server", async () => {
  await using echo = serveTcp({ port: 0 });
  await using ops = serveOps({ port: 0, servers: [echo] });
  // Half a request, held open.
  using slow = await Deno.connect({
    hostname: "127.0.0.1",
    port: ops.addr.port,
  });
  await slow.write(encoder.encode("GET /metrics HTTP/1.1\r\nHost: x\r\n"));
  using conn = await Deno.connect(echo.addr);
  strictEqual(await ping(conn, "still here"), `${REPLY}still here\n`);
  strictEqual(
    (await get(`http://127.0.0.1:${ops.addr.port}/healthz`)).body,
    "ok",
  );
});

Deno.test("ops: a second signal during the drain stops at once, exit 143", async () => {
  await using server = new MainProcess([
    "tcp",
    "--port",
    "0",
    "--http-port",
    "0",
    "--drain",
    "30",
  ]);
  await server.port("tcp");
  await server.waitFor(/Serving health and metrics/);
  server.kill("SIGTERM");
  await server.waitFor(/Draining for 30 s/);
  // Past the 250 ms in which a repeat counts as the same delivery.
  await delay(300);
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 143);
  match(server.lines.at(-1)!, /Received SIGTERM again: exiting at once$/);
});
