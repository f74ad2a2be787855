// Copyright 2026 the echolab authors. MIT license.
import { strictEqual } from "node:assert/strict";
import { serveTcpWorkers } from "../cli/tcp_workers.ts";
import { encoder, readText, withTimeout, writeAll } from "./net_client.ts";

Deno.test("workers: a stats request during a shutdown gets its own reply, and the stop completes", async () => {
  const server = await serveTcpWorkers({ port: 0 }, 2, {
    level: "error",
    format: "text",
  });
  using conn = await Deno.connect(server.addr);
  await writeAll(conn, encoder.encode("hi\n"));
  strictEqual(await readText(conn, 17), "received msg: hi\n");
  // SIGUSR1 during a shutdown: both requests are in flight at once. A stats
  // reply must not be taken for the stop's reply, nor the other way round.
  const stopping = server.shutdown();
  const refreshed = server.refreshStats();
  const [, stats] = await withTimeout(
    Promise.all([stopping, refreshed]),
    10_000,
    "shutdown and refreshStats did not both settle",
  );
  strictEqual(stats.connections_total, 1);
  strictEqual(stats.lines_in, 1);
});
