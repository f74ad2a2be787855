// Copyright 2026 the echolab authors. MIT license.
// Memory under abuse, measured on the server process alone (/proc/PID).
import { match, ok, strictEqual } from "node:assert/strict";
import { freePort, MainProcess, waitForTcp } from "./cli_process.ts";
import { delay, encoder, ping, REPLY, writeAll } from "./net_client.ts";

const MB = 1024 * 1024;

/** Writes `chunk` `times` times, stopping quietly when the server closes. */
async function flood(conn: Deno.Conn, chunk: Uint8Array, times: number) {
  let sent = 0;
  try {
    for (let i = 0; i < times; i++) {
      await writeAll(conn, chunk);
      sent += chunk.length;
    }
  } catch {
    // Closed by the server: the point of the test.
  }
  return sent;
}

Deno.test("memory: a client that sends 10,000 lines and never reads is closed for a stalled write", async () => {
  // Quiet logs (warning): per-line log garbage would hide what is measured.
  // The port is chosen here, since the start line is logged at info.
  const port = freePort();
  await using server = new MainProcess([
    "tcp",
    "--port",
    String(port),
    "--timeout",
    "0.5",
    "--log-level",
    "warning",
  ]);
  await waitForTcp(port);
  using other = await Deno.connect({ hostname: "127.0.0.1", port });
  strictEqual(await ping(other, "warm"), `${REPLY}warm\n`);
  const rssBefore = await server.rss();
  const greedy = await Deno.connect({ hostname: "127.0.0.1", port });
  const line = encoder.encode("z".repeat(1023) + "\n");
  const batch = new Uint8Array(line.length * 1000);
  for (let i = 0; i < 1000; i++) batch.set(line, i * line.length);
  let flooded = false;
  const flooding = flood(greedy, batch, 10).finally(() => flooded = true);
  let answered = 0;
  let peak = rssBefore;
  // The greedy client's writes fail once the server gives up on it.
  while (!flooded) {
    strictEqual(
      await ping(other, `still ${answered}`),
      `${REPLY}still ${answered}\n`,
    );
    answered++;
    peak = Math.max(peak, await server.rss());
    await delay(50);
  }
  const sent = await flooding;
  greedy.close();
  ok(sent < 10 * batch.length, "the server took every line without stalling");
  ok(answered > 5, `only ${answered} answers while flooded`);
  ok(
    peak - rssBefore < 32 * MB,
    `server RSS grew by ${(peak - rssBefore) / MB} MB`,
  );
  strictEqual(await ping(other, "after"), `${REPLY}after\n`);
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 0);
  // The counters, printed at shutdown whatever the level, say why it closed.
  match(
    server.lines.at(-1)!,
    /Stats of the tcp server .*closes: .*write stalled=1/,
  );
});

Deno.test("memory: a 64 MiB stream without a newline is cut at --max-line, others answered throughout", async () => {
  await using server = new MainProcess([
    "tcp",
    "--port",
    "0",
    "--max-line",
    String(8 * MB),
  ]);
  const port = await server.port("tcp");
  using other = await Deno.connect({ hostname: "127.0.0.1", port });
  strictEqual(await ping(other, "warm"), `${REPLY}warm\n`);
  const rssBefore = await server.rss();
  const endless = await Deno.connect({ hostname: "127.0.0.1", port });
  const streaming = flood(endless, new Uint8Array(MB).fill(120), 64);
  let answered = 0;
  let peak = rssBefore;
  while (!server.lines.some((l) => l.includes("longer than"))) {
    strictEqual(
      await ping(other, `ping ${answered}`),
      `${REPLY}ping ${answered}\n`,
    );
    answered++;
    peak = Math.max(peak, await server.rss());
    await delay(2);
  }
  const sent = await streaming;
  endless.close();
  peak = Math.max(peak, await server.rss());
  ok(sent < 64 * MB, `all ${sent} bytes were taken`);
  ok(answered > 0);
  ok(
    peak - rssBefore < 32 * MB,
    `server RSS grew by ${(peak - rssBefore) / MB} MB`,
  );
  match(
    server.lines.find((l) => l.includes("longer than"))!,
    /WARN {2}echolab\.tcp: Line from 127\.0\.0\.1:\d+ is longer than 8388608 bytes/,
  );
  strictEqual(await ping(other, "after"), `${REPLY}after\n`);
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 0);
});

Deno.test("memory: 1,000 connections held after one 60,000-byte line each keep under 32 KB of buffers apiece (the old read buffer kept 107 KB)", async () => {
  // A long line grows a connection's read buffer and line buffer to 64 KiB;
  // waiting for its next line, the connection gives them back.
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-run",
      "--allow-read",
      "--unstable-net",
      "--v8-flags=--expose-gc",
      new URL("./held_memory.ts", import.meta.url).pathname,
      "60000",
      "1000",
    ],
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stderr: "null",
  }).output();
  strictEqual(output.code, 0);
  const { externalPerConnection } = JSON.parse(
    new TextDecoder().decode(output.stdout),
  );
  ok(
    externalPerConnection < 32 * 1024,
    `${
      Math.round(externalPerConnection / 1024)
    } KB of buffers kept per held connection`,
  );
});
