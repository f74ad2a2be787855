// Copyright 2026 the echolab authors. MIT license.
// --reset-after: an RST alone from the server, through node:net.
import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { capture } from "../lib/capture/mod.ts";
import { faults } from "../lib/faults/mod.ts";
import { serveResettableTcp, serveTcp } from "../tcp.ts";
import { isRoot } from "../deploy/containers.ts";
import { MainProcess, runMain } from "./cli_process.ts";
import { captureLogs } from "./log_capture.ts";
import { encoder, ping, REPLY, writeAll } from "./net_client.ts";
import { ensureCommand } from "./system_package.ts";

Deno.test("reset: after the Nth reply the client reads ECONNRESET; 0 resets on accept", async () => {
  await using server = await serveResettableTcp({
    port: 0,
    faults: faults({ resetAfter: 2 }),
  });
  using conn = await Deno.connect(server.addr);
  strictEqual(await ping(conn, "one"), `${REPLY}one\n`);
  strictEqual(await ping(conn, "two"), `${REPLY}two\n`);
  await rejects(conn.read(new Uint8Array(64)), Deno.errors.ConnectionReset);
  while (server.stats().connections_open > 0) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  deepStrictEqual(server.stats().closes, { "reset after": 1 });
  deepStrictEqual(server.stats().faults, { reset: 1 });
  server.setFaults(faults({ resetAfter: 0 }));
  // So early that connect itself may already meet the RST.
  const early = async () => {
    using conn = await Deno.connect(server.addr);
    await writeAll(conn, encoder.encode("hi\n")).catch(() => {});
    await conn.read(new Uint8Array(64));
  };
  await rejects(early(), Deno.errors.ConnectionReset);
});

Deno.test("reset: a server made with serveTcp cannot reset, and says how to get one", () => {
  const server = serveTcp({ port: 0 });
  try {
    let message = "";
    try {
      server.setFaults(faults({ resetAfter: 1 }));
    } catch (error) {
      message = (error as Error).message;
    }
    strictEqual(
      message,
      "Cannot inject faults: resetAfter needs a server that can reset connections (serveResettableTcp; on the command line, start with --reset-after)",
    );
    strictEqual(server.faults, undefined);
  } finally {
    server.shutdown();
  }
});

Deno.test("reset: send says reset by peer; the control API changes resetAfter on a server started with --reset-after", async () => {
  await using server = new MainProcess([
    "tcp",
    "--port",
    "0",
    "--http-port",
    "0",
    "--control",
    "--reset-after",
    "1000000",
  ]);
  const port = await server.port("tcp");
  const http = await server.httpPort();
  const put = await fetch(`http://127.0.0.1:${http}/control/faults`, {
    method: "PUT",
    body: JSON.stringify({ tcp: { resetAfter: 1 } }),
  });
  strictEqual(put.status, 200, await put.text());
  const sent = await runMain(
    ["send", "--port", String(port), "a", "b"],
    `127.0.0.1:${port}`,
  );
  strictEqual(sent.code, 1);
  ok(
    sent.stdout.includes(
      "the server ended the connection after 1 reply (reset by peer): 1 lost",
    ),
    sent.stdout,
  );
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 0);
  const usage = await runMain(["tcp", "--reset-after", "1", "--workers", "2"]);
  strictEqual(usage.code, 2);
  strictEqual(
    usage.stderr,
    "echolab: Flag --reset-after does not work with --workers: reset with one accept loop (see --help)\n",
  );
});

const skipped = !(await isRoot())
  ? "skipped: capturing needs root"
  : await ensureCommand("tcpdump", "tcpdump");

Deno.test({
  name: `reset: a capture shows an RST from the server and no FIN from it${
    skipped === undefined ? "" : ` (${skipped})`
  }`,
  ignore: skipped !== undefined,
  async fn() {
    await using logs = await captureLogs();
    const server = await serveResettableTcp({
      port: 0,
      capture: capture(),
      faults: faults({ resetAfter: 1 }),
    });
    try {
      await server.started;
      using conn = await Deno.connect(server.addr);
      strictEqual(await ping(conn, "one"), `${REPLY}one\n`);
      await rejects(conn.read(new Uint8Array(64)), Deno.errors.ConnectionReset);
      await logs.waitFor(/closed .*reset after/);
    } finally {
      await server.shutdown();
    }
    const fromServer = logs.messages().filter((line) =>
      line.includes(`packet 127.0.0.1:${server.addr.port} > `)
    );
    ok(fromServer.some((line) => /\[RST/.test(line)), fromServer.join("\n"));
    ok(!fromServer.some((line) => /\bFIN\b/.test(line)), fromServer.join("\n"));
  },
});
