// Copyright 2026 the echolab authors. MIT license.
// The control endpoints, through the real program and over real HTTP.
import {
  deepStrictEqual,
  match,
  ok,
  strictEqual,
  throws,
} from "node:assert/strict";
import { faults } from "../lib/faults/mod.ts";
import { serveOps } from "../lib/ops/mod.ts";
import { serveTcp } from "../tcp.ts";
import { serveUdp } from "../udp.ts";
import { freePort, MainProcess, runMain } from "./cli_process.ts";
import { getWithHost, ping, readToEnd, REPLY } from "./net_client.ts";
import { namespaceSkipped, runInNamespace } from "./namespace.ts";

async function call(
  url: string,
  method = "GET",
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; headers: Headers }> {
  const response = await fetch(url, {
    method,
    headers: body === undefined
      ? headers
      : { "content-type": "application/json", ...headers },
    body: body === undefined
      ? undefined
      : typeof body === "string"
      ? body
      : JSON.stringify(body),
  });
  return {
    status: response.status,
    body: await response.text(),
    headers: response.headers,
  };
}

Deno.test("control: without --control the control paths answer 404", async () => {
  await using server = new MainProcess([
    "tcp",
    "--port",
    "0",
    "--http-port",
    "0",
  ]);
  const url = `http://127.0.0.1:${await server.httpPort()}`;
  for (const path of ["/control/faults", "/control/health", "/control/dial"]) {
    strictEqual((await call(`${url}${path}`)).status, 404, path);
  }
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 0);
});

Deno.test("control: a fault set over HTTP acts on an open connection, and DELETE clears it", async () => {
  await using server = new MainProcess([
    "tcp",
    "--port",
    "0",
    "--http-port",
    "0",
    "--control",
  ]);
  const port = await server.port("tcp");
  const url = `http://127.0.0.1:${await server.httpPort()}/control/faults`;
  deepStrictEqual(JSON.parse((await call(url)).body), { tcp: {} });
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  strictEqual(await ping(conn, "a"), `${REPLY}a\n`);
  // closeAfter counts from the connection's start: one reply more, then closed.
  const set = await call(url, "PUT", { tcp: { closeAfter: 2 }, seed: 9 });
  strictEqual(set.status, 200);
  deepStrictEqual(JSON.parse(set.body), {
    tcp: { closeAfter: 2 },
    seed: 9,
  });
  match(
    await server.waitFor(/Control: faults set/),
    /WARN {2}echolab\.control: Control: faults set by 127\.0\.0\.1:\d+: tcp close after 2, seed 9$/,
  );
  strictEqual(await ping(conn, "b"), `${REPLY}b\n`);
  strictEqual((await readToEnd(conn)).length, 0);
  // On an open connection: every line dropped, then DELETE, then answered.
  using open = await Deno.connect({ hostname: "127.0.0.1", port });
  strictEqual(await ping(open, "before"), `${REPLY}before\n`);
  strictEqual((await call(url, "PUT", { tcp: { drop: 1 } })).status, 200);
  await open.write(new TextEncoder().encode("dropped\n"));
  // The line is dropped (counted) before the faults go.
  const metricsUrl = url.replace("/control/faults", "/metrics");
  for (let waited = 0;; waited += 10) {
    const body = (await call(metricsUrl)).body;
    if (/^echolab_faults_total\{kind="drop"[^}]*\} 1$/m.test(body)) break;
    if (waited > 2000) throw new Error("the line was not dropped");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const cleared = await call(url, "DELETE");
  strictEqual(cleared.status, 200);
  deepStrictEqual(JSON.parse(cleared.body), { tcp: {} });
  strictEqual(await ping(open, "after"), `${REPLY}after\n`);
  using again = await Deno.connect({ hostname: "127.0.0.1", port });
  for (const line of ["c", "d", "e"]) {
    strictEqual(await ping(again, line), `${REPLY}${line}\n`);
  }
  const metrics = (await call(url.replace("/control/faults", "/metrics"))).body;
  match(metrics, /^echolab_control_changes_total\{what="faults"\} 3$/m);
  match(metrics, /^echolab_control_denied_total 0$/m);
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 0);
});

Deno.test("control: a bad body answers 400 naming the option, and changes nothing", async () => {
  await using server = new MainProcess([
    "all",
    "--quic-port",
    "0",
    "--tcp-port",
    "0",
    "--udp-port",
    "0",
    "--http-port",
    "0",
    "--control",
    "--delay",
    "5",
  ]);
  const url = `http://127.0.0.1:${await server.httpPort()}/control/faults`;
  const before = JSON.parse((await call(url)).body);
  deepStrictEqual(before.tcp, { delay: 5 });
  deepStrictEqual(before.udp, { delay: 5 });
  const cases: [unknown, string][] = [
    ["not json", "Cannot read the body: not JSON"],
    [
      [1],
      'Cannot set faults: the body must be an object such as {"tcp": {"delay": 100}}',
    ],
    [
      { tcp: { drop: 2 } },
      "Cannot inject faults: drop must be from 0 to 1, got 2 (tcp)",
    ],
    [{ tcp: { nope: 1 } }, "Cannot set faults: unknown option tcp.nope"],
    [
      { sctp: {} },
      'Cannot set faults: unknown key "sctp" (tcp, udp, quic or seed)',
    ],
    [
      { quic: { resetAfter: 1 } },
      "Cannot set faults: resetAfter is TCP's (an RST), not QUIC's (quic)",
    ],
    // All or nothing: TCP's part is good, UDP's is not.
    [
      { tcp: { delay: 50 }, udp: { chunk: 3 } },
      "Cannot inject faults: chunk is for TCP (udp)",
    ],
  ];
  for (const [body, message] of cases) {
    const answer = await call(url, "PUT", body);
    strictEqual(answer.status, 400, JSON.stringify(body));
    strictEqual(answer.body, message);
  }
  deepStrictEqual(JSON.parse((await call(url)).body), before);
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 0);
});

Deno.test("control: with a token file every call needs the bearer token; 401 otherwise, counted", async () => {
  const directory = new URL("./", import.meta.url).pathname;
  const file = `${directory}control_token_fixture.txt`;
  await using server = new MainProcess(
    [
      "tcp",
      "--port",
      "0",
      "--http-port",
      "0",
      "--control",
      "--control-token-file",
      file,
    ],
    "127.0.0.1",
    undefined,
    [`--allow-read=${file}`],
  );
  const base = `http://127.0.0.1:${await server.httpPort()}`;
  const tries: Record<string, string>[] = [{}, {
    authorization: "Bearer wrong",
  }];
  for (const headers of tries) {
    const answer = await call(
      `${base}/control/faults`,
      "GET",
      undefined,
      headers,
    );
    strictEqual(answer.status, 401);
    strictEqual(answer.headers.get("www-authenticate"), "Bearer");
    strictEqual(answer.body, "unauthorized");
  }
  const right = await call(`${base}/control/faults`, "GET", undefined, {
    authorization: "Bearer s3cret-token",
  });
  strictEqual(right.status, 200);
  match(
    (await call(`${base}/metrics`)).body,
    /^echolab_control_denied_total 2$/m,
  );
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 0);
});

Deno.test("control: usage errors and an empty token file", async () => {
  for (
    const [args, message] of [
      [["tcp", "--control"], "Flag --control needs --http-port"],
      [
        ["tcp", "--http-port", "0", "--dial-allow", "127.0.0.1"],
        "Flag --dial-allow needs --control",
      ],
      [
        ["tcp", "--http-port", "0", "--control", "--workers", "2"],
        "Flag --control does not work with --workers: steer one accept loop",
      ],
      [
        ["tcp", "--http-port", "0", "--control", "--dial-allow", "nowhere"],
        'Invalid --dial-allow: "nowhere" is not an IPv4 or IPv6 range such as 127.0.0.0/8 or ::1/128',
      ],
    ] as const
  ) {
    const { code, stderr } = await runMain([...args]);
    strictEqual(code, 2, args.join(" "));
    strictEqual(stderr, `echolab: ${message} (see --help)\n`);
  }
  const empty = "/dev/null";
  const { code, stderr } = await runMain(
    [
      "tcp",
      "--port",
      String(freePort()),
      "--http-port",
      "0",
      "--control",
      "--control-token-file",
      empty,
    ],
    "127.0.0.1",
    [`--allow-read=${empty}`],
  );
  strictEqual(code, 1);
  match(
    stderr,
    /ERROR echolab: Cannot use --control-token-file \/dev\/null: the file is empty; put a token in it\n/,
  );
});

Deno.test("control: health and readiness are set and read back; draining still wins", async () => {
  await using server = new MainProcess([
    "tcp",
    "--port",
    "0",
    "--http-port",
    "0",
    "--control",
  ]);
  const base = `http://127.0.0.1:${await server.httpPort()}`;
  strictEqual(
    (await call(`${base}/control/health`, "PUT", { healthy: false })).status,
    200,
  );
  deepStrictEqual(
    [
      (await call(`${base}/healthz`)).status,
      (await call(`${base}/healthz`)).body,
    ],
    [503, "unhealthy"],
  );
  strictEqual(
    (await call(`${base}/control/health`, "PUT", { healthy: true })).status,
    200,
  );
  strictEqual((await call(`${base}/healthz`)).status, 200);
  strictEqual(
    (await call(`${base}/control/ready`, "PUT", { ready: false })).status,
    200,
  );
  deepStrictEqual(
    [
      (await call(`${base}/readyz`)).status,
      (await call(`${base}/readyz`)).body,
    ],
    [503, "not ready"],
  );
  const bad = await call(`${base}/control/ready`, "PUT", { ready: "no" });
  strictEqual(bad.status, 400);
  strictEqual(
    bad.body,
    'Cannot set readiness: the body must be {"ready": true} or {"ready": false}',
  );
  strictEqual(
    (await call(`${base}/control/ready`, "PUT", { ready: true })).status,
    200,
  );
  strictEqual((await call(`${base}/readyz`)).status, 200);
  strictEqual((await call(`${base}/control/health`)).status, 405);
  match(
    (await call(`${base}/metrics`)).body,
    /^echolab_control_changes_total\{what="health"\} 2$/m,
  );
  match(
    (await call(`${base}/metrics`)).body,
    /^echolab_control_changes_total\{what="ready"\} 2$/m,
  );
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 0);
});

Deno.test("control: /control/dial reaches echolab's own port, is refused by a closed one, and never leaves --dial-allow", async () => {
  const closed = freePort();
  await using server = new MainProcess([
    "tcp",
    "--port",
    "0",
    "--http-port",
    "0",
    "--control",
    "--dial-allow",
    "127.0.0.0/8",
  ]);
  const port = await server.port("tcp");
  const url = `http://127.0.0.1:${await server.httpPort()}/control/dial`;
  const own = JSON.parse(
    (await call(url, "POST", {
      transport: "tcp",
      host: "127.0.0.1",
      port,
      message: "probe",
      count: 2,
    })).body,
  );
  deepStrictEqual(
    own.results.map((
      r: { outcome: string; reply?: string },
    ) => [r.outcome, r.reply]),
    [["reply", "received msg: probe"], ["reply", "received msg: probe"]],
  );
  ok(own.results.every((r: { rttMs: number }) => typeof r.rttMs === "number"));
  const refused = JSON.parse(
    (await call(url, "POST", {
      transport: "tcp",
      host: "127.0.0.1",
      port: closed,
    })).body,
  );
  deepStrictEqual(refused.results.map((r: { outcome: string }) => r.outcome), [
    "refused",
  ]);
  const outside = await call(url, "POST", {
    transport: "tcp",
    host: "192.0.2.7",
    port: 80,
  });
  strictEqual(outside.status, 403);
  strictEqual(
    outside.body,
    "forbidden: 192.0.2.7 is not in the dial allow list (--dial-allow)",
  );
  // In the allow list, but not granted by Deno's --allow-net (127.0.0.1).
  const ungranted = await call(url, "POST", {
    transport: "tcp",
    host: "127.0.0.2",
    port: 9,
  });
  strictEqual(ungranted.status, 403);
  strictEqual(
    ungranted.body,
    "forbidden: no permission to reach 127.0.0.2:9; re-run with --allow-net=127.0.0.2:9",
  );
  const badPort = await call(url, "POST", {
    transport: "tcp",
    host: "127.0.0.1",
    port: 0,
  });
  strictEqual(badPort.status, 400);
  strictEqual(
    badPort.body,
    "Cannot dial: port must be an integer from 1 to 65535: got 0",
  );
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 0);
});

Deno.test("control: the library steers the same: setFaults, faults, setHealthy, setReady", async () => {
  await using tcp = serveTcp({ port: 0 });
  await using udp = serveUdp({ port: 0 });
  await using ops = serveOps({ port: 0, servers: [tcp, udp] });
  strictEqual(tcp.faults, undefined);
  using conn = await Deno.connect(tcp.addr);
  strictEqual(await ping(conn, "one"), `${REPLY}one\n`);
  tcp.setFaults(faults({ closeAfter: 2, seed: 3 }));
  deepStrictEqual(tcp.faults, { closeAfter: 2, seed: 3 });
  strictEqual(await ping(conn, "two"), `${REPLY}two\n`);
  strictEqual((await readToEnd(conn)).length, 0);
  // A fault for the other transport: RangeError naming it, nothing changes.
  throws(
    () => tcp.setFaults(faults({ duplicate: 0.5 })),
    /duplicate is for UDP/,
  );
  deepStrictEqual(tcp.faults, { closeAfter: 2, seed: 3 });
  throws(
    () => udp.setFaults(faults({ closeAfter: 1 })),
    /closeAfter is for TCP/,
  );
  tcp.setFaults(undefined);
  strictEqual(tcp.faults, undefined);
  ops.setHealthy(false);
  ops.setReady(false);
  const base = `http://127.0.0.1:${ops.addr.port}`;
  strictEqual((await call(`${base}/healthz`)).status, 503);
  strictEqual((await call(`${base}/readyz`)).body, "not ready");
  ops.drain();
  ops.setReady(true);
  strictEqual((await call(`${base}/readyz`)).body, "draining");
  strictEqual((await call(`${base}/control/faults`)).status, 404);
});

Deno.test({
  name:
    `control: without a token a peer off loopback gets 403 and changes nothing (in a namespace of the test's own)${
      namespaceSkipped === undefined ? "" : ` (${namespaceSkipped})`
    }`,
  ignore: namespaceSkipped !== undefined,
  async fn() {
    const deno = Deno.execPath();
    const main = new URL("../main.ts", import.meta.url).pathname;
    // The peer 192.0.2.77 is a documentation address on the namespace's own
    // loopback interface: not a loopback address to echolab.
    const probe = `
const calls = [
  ["192.0.2.77", "PUT", JSON.stringify({ tcp: { drop: 1 } })],
  ["192.0.2.77", "GET", undefined],
  ["127.0.0.1", "GET", undefined],
];
for (const [host, method, body] of calls) {
  const response = await fetch("http://" + host + ":19090/control/faults", { method, body });
  console.log(host, method, response.status, await response.text());
}
const metrics = await (await fetch("http://127.0.0.1:19090/metrics")).text();
console.log(metrics.split("\\n").find((line) => line.startsWith("echolab_control_denied_total ")));
`;
    const said = (await runInNamespace([
      "ip addr add 192.0.2.77/32 dev lo",
      `'${deno}' run --allow-net=0.0.0.0,127.0.0.1,192.0.2.77 --unstable-net '${main}' tcp --host 0.0.0.0 --port 18000 --http-host 0.0.0.0 --http-port 19090 --control 2>/dev/null & server=$!`,
      "for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/19090) 2>/dev/null && break; sleep 0.1; done",
      `'${deno}' eval "$0"`,
      "kill $server; wait $server || true",
    ], probe)).trim().split("\n");
    deepStrictEqual(said, [
      "192.0.2.77 PUT 403 forbidden: without a control token only loopback peers may call",
      "192.0.2.77 GET 403 forbidden: without a control token only loopback peers may call",
      '127.0.0.1 GET 200 {"tcp":{}}',
      "echolab_control_denied_total 2",
    ]);
  },
});

Deno.test("control: without a token, a request for another name than loopback's is refused (DNS rebinding)", async () => {
  await using server = new MainProcess([
    "tcp",
    "--port",
    "0",
    "--http-port",
    "0",
    "--control",
  ]);
  const port = await server.httpPort();
  const ask = (host: string) => getWithHost(port, "/control/faults", host);
  deepStrictEqual(await ask(`rebound.example:${port}`), [
    "HTTP/1.1 403 Forbidden",
    "forbidden: without a control token only requests to a loopback address or localhost may call, not rebound.example",
  ]);
  deepStrictEqual(await ask(`localhost:${port}`), [
    "HTTP/1.1 200 OK",
    '{"tcp":{}}',
  ]);
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 0);
});
