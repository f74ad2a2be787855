// Copyright 2026 the echolab authors. MIT license.
import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { serveTcp } from "../tcp.ts";
import { serveUdp } from "../udp.ts";
import { MainProcess } from "./cli_process.ts";
import { captureLogs, type LogCapture } from "./log_capture.ts";
import {
  encoder,
  exchange,
  readText,
  readToEnd,
  ResettableClient,
  udpClient,
  writeAll,
} from "./net_client.ts";

/** Trace lines with times and ports replaced, to compare exactly. */
function traceLines(logs: LogCapture): string[] {
  return logs.records
    .filter((record) => record.category[1] === "trace")
    .map((record) =>
      record.message.map(String).join("")
        .replace(/^\+\d+\.\d{6} s /, "+T s ")
        .replace(/:\d+/g, ":P")
        .replace(/\d+\.?\d* s$/, "D s")
    );
}

Deno.test("trace: a TCP session shows accept, reads, writes, FIN and who closed first", async () => {
  await using logs = await captureLogs();
  await using server = serveTcp({ port: 0, trace: true });
  using conn = await Deno.connect(server.addr);
  await writeAll(conn, encoder.encode("hello\n"));
  await readText(conn, 20);
  await conn.closeWrite();
  await readToEnd(conn);
  await logs.waitFor(/^Closed connection/);
  deepStrictEqual(traceLines(logs), [
    "+T s tcp accepted 127.0.0.1:P on 127.0.0.1:P",
    "+T s tcp read 6 bytes from 127.0.0.1:P",
    "+T s tcp wrote 20 bytes to 127.0.0.1:P",
    "+T s tcp FIN from 127.0.0.1:P: end of stream, the client half-closed",
    "+T s tcp closed 127.0.0.1:P: client closed first (client closed), 1 lines, 6 bytes in, 20 bytes out, D s",
  ]);
});

Deno.test("trace: a reset and a timeout are traced, and the server closed first", async () => {
  await using logs = await captureLogs();
  await using server = serveTcp({ port: 0, trace: true, timeout: 200 });
  const client = await ResettableClient.connect(server.addr);
  await client.write("x\n");
  await client.received(16);
  await client.reset();
  await logs.waitFor(/: reset, /);
  using idle = await Deno.connect(server.addr);
  await readToEnd(idle);
  await logs.waitFor(/: idle timeout, /);
  const lines = traceLines(logs);
  strictEqual(
    lines.includes("+T s tcp RST from 127.0.0.1:P: the connection was reset"),
    true,
  );
  strictEqual(
    lines.includes("+T s tcp timeout for 127.0.0.1:P: idle timeout"),
    true,
  );
  match(
    lines.at(-1)!,
    /^\+T s tcp closed 127\.0\.0\.1:P: server closed first \(idle timeout\), 0 lines/,
  );
});

Deno.test("trace: UDP shows each datagram's real size, what was kept, and the reply", async () => {
  await using logs = await captureLogs();
  await using server = serveUdp({ port: 0, trace: true });
  const client = udpClient();
  try {
    await exchange(client, server.addr, "hello world");
  } finally {
    client.close();
  }
  deepStrictEqual(traceLines(logs), [
    "+T s udp datagram from 127.0.0.1:P: 11 bytes, kept 5",
    "+T s udp reply to 127.0.0.1:P: 20 bytes",
  ]);
});

Deno.test("trace: the CLI prints trace lines even at --log-level error, as JSON too", async () => {
  // The start line is at info, hidden at error: choose the port here.
  const port = freeUdpPort();
  await using server = new MainProcess([
    "udp",
    "--port",
    String(port),
    "--trace",
    "--log-level",
    "error",
    "--log-format",
    "json",
  ]);
  const client = udpClient();
  try {
    const to = { transport: "udp" as const, hostname: "127.0.0.1", port };
    // Until the server is up, datagrams go nowhere: retry briefly.
    const receiving = client.receive().then(([data]) => data.slice());
    let reply: Uint8Array | undefined;
    for (let attempt = 0; attempt < 50 && reply === undefined; attempt++) {
      await client.send(encoder.encode("traced"), to);
      let timer: ReturnType<typeof setTimeout> | undefined;
      reply = await Promise.race([
        receiving,
        new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), 100);
        }),
      ]);
      clearTimeout(timer);
    }
    strictEqual(new TextDecoder().decode(reply), "received msg: trace\n");
  } finally {
    client.close();
  }
  await server.waitFor(/reply to/);
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 0);
  const records = server.lines.map((line) => JSON.parse(line));
  const loggers = new Set(records.map((record) => record.logger));
  deepStrictEqual([...loggers], ["echolab.trace", "echolab.stats"]);
  const datagram = records.find((r) => r.message.includes("datagram from"));
  strictEqual(datagram.size, 6);
  strictEqual(datagram.kept, 5);
  strictEqual(datagram.transport, "udp");
});

function freeUdpPort(): number {
  const socket = udpClient();
  const port = (socket.addr as Deno.NetAddr).port;
  socket.close();
  return port;
}
