// Copyright 2026 the echolab authors. MIT license.
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { serveOps } from "../lib/ops/ops_server.ts";
import { serveTcp } from "../tcp.ts";
import { serveUdp } from "../udp.ts";
import { faults } from "../lib/faults/mod.ts";
import { freePort, MainProcess, runMain } from "./cli_process.ts";
import { captureLogs } from "./log_capture.ts";
import {
  decoder,
  delay,
  encoder,
  readText,
  readToEnd,
  receiveWithin,
  REPLY,
  udpClient,
  writeAll,
} from "./net_client.ts";

Deno.test("faults: a TCP delay holds each reply at least MS, and not much more", async () => {
  await using server = serveTcp({ port: 0, faults: faults({ delay: 200 }) });
  using conn = await Deno.connect(server.addr);
  const started = performance.now();
  await writeAll(conn, encoder.encode("slow\n"));
  strictEqual(await readText(conn, 19), `${REPLY}slow\n`);
  const waited = performance.now() - started;
  ok(waited >= 200 && waited < 200 + 500, `${waited} ms`);
  strictEqual(server.stats().faults.delay, 1);
});

Deno.test("faults: a UDP delay range holds each reply within MIN-MAX", async () => {
  await using server = serveUdp({
    port: 0,
    bufferSize: 64,
    faults: faults({ delay: [100, 200], seed: 1 }),
  });
  const client = udpClient();
  try {
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      await client.send(encoder.encode(`d${i}`), server.addr);
      const [reply] = await client.receive();
      const waited = performance.now() - started;
      strictEqual(decoder.decode(reply), `${REPLY}d${i}\n`);
      ok(waited >= 100 && waited < 200 + 500, `${waited} ms`);
    }
  } finally {
    client.close();
  }
  strictEqual(server.stats().faults.delay, 3);
});

Deno.test("faults: the idle timeout does not count the server's own delay", async () => {
  await using server = serveTcp({
    port: 0,
    timeout: 300,
    faults: faults({ delay: 600 }),
  });
  using conn = await Deno.connect(server.addr);
  await writeAll(conn, encoder.encode("late\n"));
  strictEqual(await readText(conn, 19), `${REPLY}late\n`);
});

Deno.test("faults: chunked replies come in pieces and reassemble to the exact bytes", async () => {
  await using server = serveTcp({
    port: 0,
    faults: faults({ chunk: 3, chunkDelay: 20 }),
  });
  using conn = await Deno.connect(server.addr);
  await writeAll(conn, encoder.encode("abcdefghij\n"));
  const expected = `${REPLY}abcdefghij\n`;
  const buffer = new Uint8Array(64);
  let text = "";
  let reads = 0;
  while (text.length < expected.length) {
    const read = await conn.read(buffer);
    if (read === null) break;
    reads++;
    text += decoder.decode(buffer.subarray(0, read));
  }
  strictEqual(text, expected);
  // 25 bytes in pieces of 3, 20 ms apart: each piece is its own read.
  ok(reads >= Math.ceil(expected.length / 3) - 1, `${reads} reads`);
  strictEqual(server.stats().faults.chunk, 1);
});

Deno.test("faults: close-after answers exactly N lines, then the client reads end of stream", async () => {
  await using server = serveTcp({ port: 0, faults: faults({ closeAfter: 2 }) });
  using conn = await Deno.connect(server.addr);
  await writeAll(conn, encoder.encode("1\n2\n3\n4\n"));
  strictEqual(
    decoder.decode(await readToEnd(conn)),
    `${REPLY}1\n${REPLY}2\n`,
  );
  while (server.stats().connections_open > 0) await delay(5);
  deepStrictEqual(server.stats().closes, { "close after": 1 });
  strictEqual(server.stats().faults.close_after, 1);
});

Deno.test("faults: half-close-after sends N replies, then end of stream, and keeps reading", async () => {
  await using server = serveTcp({
    port: 0,
    faults: faults({ halfCloseAfter: 1 }),
  });
  using conn = await Deno.connect(server.addr);
  await writeAll(conn, encoder.encode("one\ntwo\n"));
  strictEqual(decoder.decode(await readToEnd(conn)), `${REPLY}one\n`);
  // The server still reads: more writes succeed, unanswered.
  await writeAll(conn, encoder.encode("three\n"));
  await conn.closeWrite();
  while (server.stats().connections_open > 0) await delay(5);
  deepStrictEqual(server.stats().closes, { "client closed": 1 });
  strictEqual(server.stats().faults.half_close, 1);
  strictEqual(server.stats().lines_out, 1);
});

Deno.test("faults: stall-after stops reading, so the client's writes stop completing", async () => {
  await using server = serveTcp({
    port: 0,
    timeout: 0,
    faults: faults({ stallAfter: 1 }),
  });
  using conn = await Deno.connect(server.addr);
  await writeAll(conn, encoder.encode("first\n"));
  strictEqual(await readText(conn, 20), `${REPLY}first\n`);
  // Write until the kernel buffers are full: a write that does not finish.
  const block = new Uint8Array(1 << 20).fill(120);
  let written = 0;
  let blocked = false;
  while (!blocked && written < 256 << 20) {
    const write = conn.write(block);
    const outcome = await Promise.race([
      write.then((n) => n),
      delay(500).then(() => "blocked" as const),
    ]);
    if (outcome === "blocked") {
      blocked = true;
      // Closing ends the pending write; the server sees nothing more.
      conn.close();
      await write.catch(() => {});
    } else written += outcome;
  }
  ok(blocked, `wrote ${written} bytes without blocking`);
  strictEqual(server.stats().faults.stall, 1);
  await server.shutdown();
});

Deno.test("faults: the banner comes first, ends in a newline, and send prints it apart", async () => {
  await using server = serveTcp({
    port: 0,
    faults: faults({ banner: "220 echolab" }),
  });
  using conn = await Deno.connect(server.addr);
  strictEqual(await readText(conn, 12), "220 echolab\n");
  await writeAll(conn, encoder.encode("hi\n"));
  strictEqual(await readText(conn, 17), `${REPLY}hi\n`);
  const { code, stdout } = await runMain([
    "send",
    "--port",
    String(server.addr.port),
    "hello",
  ]);
  strictEqual(code, 0);
  match(stdout, /^banner: "220 echolab"\nreceived msg: hello {2}time=/);
  strictEqual(server.stats().faults.banner, 2);
});

async function droppedOf(seed: number): Promise<number[]> {
  await using server = serveUdp({
    port: 0,
    bufferSize: 64,
    faults: faults({ drop: 0.3, seed }),
  });
  const client = udpClient();
  const answered = new Set<number>();
  try {
    for (let i = 0; i < 100; i++) {
      await client.send(encoder.encode(`n${i}`), server.addr);
      // One after another: draws follow arrival order.
      await delay(1);
    }
    while (true) {
      const reply = await receiveWithin(client, 300);
      if (reply === undefined) break;
      answered.add(Number(decoder.decode(reply).match(/n(\d+)/)![1]));
    }
  } finally {
    try {
      client.close();
    } catch {
      // Closed by receiveWithin.
    }
  }
  strictEqual(server.stats().faults.drop, 100 - answered.size);
  return Array.from({ length: 100 }, (_, i) => i).filter((i) =>
    !answered.has(i)
  );
}

Deno.test("faults: with --seed 7 --drop 0.3, two runs of the same 100 datagrams lose the same ones", async () => {
  const first = await droppedOf(7);
  const second = await droppedOf(7);
  deepStrictEqual(first, second);
  ok(first.length > 10 && first.length < 50, `${first.length} dropped`);
  const other = await droppedOf(8);
  ok(JSON.stringify(other) !== JSON.stringify(first));
});

Deno.test("faults: TCP drop leaves lines unanswered, counted", async () => {
  await using server = serveTcp({ port: 0, faults: faults({ drop: 1 }) });
  using conn = await Deno.connect(server.addr);
  await writeAll(conn, encoder.encode("x\ny\n"));
  await conn.closeWrite();
  strictEqual((await readToEnd(conn)).length, 0);
  while (server.stats().connections_open > 0) await delay(5);
  strictEqual(server.stats().faults.drop, 2);
  strictEqual(server.stats().lines_in, 2);
  strictEqual(server.stats().lines_out, 0);
});

Deno.test("faults: send reports duplicates and reordering, exit 0 when all are answered", async () => {
  await using server = new MainProcess([
    "udp",
    "--port",
    "0",
    "--buffer-size",
    "64",
    "--delay",
    "0-150",
    "--duplicate",
    "1",
    "--seed",
    "3",
  ]);
  const port = await server.port("udp");
  const { code, stdout } = await runMain([
    "send",
    "--udp",
    "--port",
    String(port),
    "--interval",
    "0.02",
    "m1",
    "m2",
    "m3",
    "m4",
    "m5",
    "m6",
  ]);
  strictEqual(code, 0, stdout);
  const summary = stdout.split("\n").find((l) => l.startsWith("6 datagrams"))!;
  match(
    summary,
    /^6 datagrams sent, 6 answered, 0 lost \(0\.0% loss\); 6 duplicates; [1-9]\d* reordered;/,
  );
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 0);
});

Deno.test("faults: every fault is counted in stats and in /metrics, and the start log names them", async () => {
  await using logs = await captureLogs();
  await using tcp = serveTcp({
    port: 0,
    faults: faults({
      delay: 1,
      chunk: 4,
      banner: "hi",
      closeAfter: 1,
      seed: 5,
    }),
  });
  await using udp = serveUdp({
    port: 0,
    faults: faults({ drop: 1, seed: 5 }),
  });
  await using ops = serveOps({ port: 0, servers: [tcp, udp] });
  using conn = await Deno.connect(tcp.addr);
  await writeAll(conn, encoder.encode("a\nb\n"));
  await readToEnd(conn);
  const client = udpClient();
  await client.send(encoder.encode("gone"), udp.addr);
  strictEqual(await receiveWithin(client, 200), undefined);
  while (tcp.stats().connections_open > 0) await delay(5);
  deepStrictEqual(tcp.stats().faults, {
    banner: 1,
    delay: 1,
    // The banner, 3 bytes, fits one piece; the reply of 16 is chunked.
    chunk: 1,
    close_after: 1,
  });
  deepStrictEqual(udp.stats().faults, { drop: 1 });
  const metrics =
    await (await fetch(`http://127.0.0.1:${ops.addr.port}/metrics`))
      .text();
  for (
    const line of [
      `echolab_faults_total{kind="banner",transport="tcp",address="127.0.0.1:${tcp.addr.port}"} 1`,
      `echolab_faults_total{kind="chunk",transport="tcp",address="127.0.0.1:${tcp.addr.port}"} 1`,
      `echolab_faults_total{kind="close_after",transport="tcp",address="127.0.0.1:${tcp.addr.port}"} 1`,
      `echolab_faults_total{kind="delay",transport="tcp",address="127.0.0.1:${tcp.addr.port}"} 1`,
      `echolab_faults_total{kind="drop",transport="udp",address="127.0.0.1:${udp.addr.port}"} 1`,
    ]
  ) ok(metrics.includes(`${line}\n`), line);
  match(
    logs.messages().join("\n"),
    /Injecting faults: delay 1 ms, chunk 4 bytes, close after 1, banner "hi", seed 5/,
  );
});

Deno.test("faults: bad fault flags are usage errors naming the flag, exit 2", async () => {
  for (
    const [args, message] of [
      [
        ["udp", "--drop", "1.5"],
        'Invalid --drop "1.5": expected a fraction from 0 to 1, e.g. 0.1',
      ],
      [
        ["tcp", "--delay", "300-100"],
        'Invalid --delay "300-100": expected MS or MIN-MAX, milliseconds from 0 to 60000, MIN not above MAX',
      ],
      [
        ["tcp", "--delay", "60001"],
        'Invalid --delay "60001": expected MS or MIN-MAX, milliseconds from 0 to 60000, MIN not above MAX',
      ],
      [
        ["tcp", "--chunk", "0"],
        'Invalid --chunk "0": expected a whole number from 1 to 1073741824',
      ],
      [
        ["udp", "--close-after", "2"],
        "Flag --close-after does not apply to mode udp: it is for tcp, quic, all and lab",
      ],
      [
        ["udp", "--chunk-delay", "5"],
        "Flag --chunk-delay does not apply to mode udp: it is for tcp, quic, all and lab",
      ],
      [
        ["tcp", "--duplicate", "0.1"],
        "Flag --duplicate does not apply to mode tcp: it is for udp, all and lab",
      ],
      [
        ["tcp", "--seed", "x"],
        'Invalid --seed "x": expected a whole number from 0 to 4294967295',
      ],
      [["tcp", "--chunk-delay", "5"], "Flag --chunk-delay needs --chunk"],
    ] as const
  ) {
    const { code, stderr } = await runMain([...args]);
    strictEqual(code, 2, args.join(" "));
    strictEqual(stderr, `echolab: ${message} (see --help)\n`);
  }
});

Deno.test("faults: delayed UDP replies past maxDelayed are dropped and counted", async () => {
  await using server = serveUdp({
    port: 0,
    bufferSize: 64,
    faults: faults({ delay: 300 }),
    maxDelayed: 3 * (640 + 20),
  });
  const client = udpClient();
  try {
    for (let i = 0; i < 5; i++) {
      await client.send(encoder.encode(`q${i}`), server.addr);
    }
    const replies: string[] = [];
    while (true) {
      const reply = await receiveWithin(client, 600);
      if (reply === undefined) break;
      replies.push(decoder.decode(reply));
    }
    strictEqual(replies.length, 3);
  } finally {
    try {
      client.close();
    } catch {
      // Closed by receiveWithin.
    }
  }
  deepStrictEqual(server.stats().drops, { "delay queue full": 2 });
  strictEqual(server.stats().faults.delay, 3);
});

Deno.test("faults: a client flooding a --delay 2000 UDP server for 3 s grows it by less than 32 MB", async () => {
  const port = freePort("udp");
  await using server = new MainProcess([
    "udp",
    "--port",
    String(port),
    "--buffer-size",
    "2048",
    "--delay",
    "2000",
    "--log-level",
    "warning",
  ]);
  // Logged once the socket is bound.
  await server.waitFor(/Injecting faults: delay 2000 ms/);
  await delay(200);
  const before = await server.rss();
  const client = udpClient();
  const payload = new Uint8Array(1400).fill(97);
  const target = { transport: "udp" as const, hostname: "127.0.0.1", port };
  const draining = (async () => {
    try {
      while (true) await client.receive();
    } catch {
      // Closed.
    }
  })();
  const stop = performance.now() + 3000;
  let peak = before;
  while (performance.now() < stop) {
    for (let i = 0; i < 200; i++) await client.send(payload, target);
    await delay(1);
    peak = Math.max(peak, await server.rss());
  }
  peak = Math.max(peak, await server.rss());
  client.close();
  await draining;
  const grown = (peak - before) / 1024 / 1024;
  ok(grown < 32, `grew ${grown.toFixed(1)} MB`);
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 0);
});
