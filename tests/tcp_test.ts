// Copyright 2026 the echolab authors. MIT license.
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { serveTcp } from "../tcp.ts";
import { captureLogs } from "./log_capture.ts";
import {
  decoder,
  delay,
  encoder,
  readBytes,
  readText,
  readToEnd,
  REPLY,
  ResettableClient,
  writeAll,
} from "./net_client.ts";

Deno.test("tcp: answers the seed's nc session byte for byte", async () => {
  await using logs = await captureLogs();
  await using server = serveTcp({ port: 0 });
  using conn = await Deno.connect(server.addr);
  await writeAll(conn, encoder.encode("hello\n"));
  strictEqual(await readText(conn, 20), "received msg: hello\n");
  await writeAll(conn, encoder.encode("world\n"));
  strictEqual(await readText(conn, 20), "received msg: world\n");
  const peer = `127.0.0.1:${(conn.localAddr as Deno.NetAddr).port}`;
  await logs.waitFor(new RegExp(`^Receiving data: world from ${peer}$`));
  deepStrictEqual(
    logs.messages().filter((message) => message.startsWith("Receiving")),
    [
      `Receiving data: hello from ${peer}`,
      `Receiving data: world from ${peer}`,
    ],
  );
  match(
    logs.messages()[0]!,
    new RegExp(`^Starting tcp server on 127\\.0\\.0\\.1:${server.addr.port}$`),
  );
});

Deno.test("tcp: removes one CR of a CRLF line ending", async () => {
  await using server = serveTcp({ port: 0 });
  using conn = await Deno.connect(server.addr);
  await writeAll(conn, encoder.encode("crlf\r\ntwo\r\r\n"));
  strictEqual(
    await readText(conn, 38),
    "received msg: crlf\nreceived msg: two\r\n",
  );
});

Deno.test("tcp: echoes NUL, high bytes and invalid UTF-8 unchanged", async () => {
  await using server = serveTcp({ port: 0 });
  using conn = await Deno.connect(server.addr);
  const line = new Uint8Array(256 - 1).map((_, i) => i === 10 ? 0 : i);
  line[10] = 0xff; // no newline inside the line
  const payload = new Uint8Array([...line.filter((byte) => byte !== 10), 10]);
  await writeAll(conn, payload);
  const expected = [...encoder.encode(REPLY), ...payload];
  deepStrictEqual([...await readBytes(conn, expected.length)], expected);
});

Deno.test("tcp: answers 10,000 pipelined lines in order", async () => {
  await using server = serveTcp({ port: 0 });
  using conn = await Deno.connect(server.addr);
  const lines = Array.from({ length: 10_000 }, (_, i) => `line ${i}`);
  const expected = lines.map((line) => `${REPLY}${line}\n`).join("");
  const [, reply] = await Promise.all([
    writeAll(conn, encoder.encode(lines.map((line) => `${line}\n`).join(""))),
    readBytes(conn, encoder.encode(expected).length),
  ]);
  strictEqual(decoder.decode(reply), expected);
});

Deno.test("tcp: joins a line sent in many small writes", async () => {
  await using server = serveTcp({ port: 0 });
  using conn = await Deno.connect(server.addr);
  conn.setNoDelay(true);
  for (const piece of ["he", "l", "lo wo", "rld", "\r", "\n"]) {
    await writeAll(conn, encoder.encode(piece));
    await delay(5);
  }
  strictEqual(await readText(conn, 26), "received msg: hello world\n");
});

Deno.test("tcp: serves 200 connections at once", async () => {
  await using server = serveTcp({ port: 0 });
  const conns = await Promise.all(
    Array.from({ length: 200 }, () => Deno.connect(server.addr)),
  );
  try {
    const replies = await Promise.all(conns.map(async (conn, i) => {
      await writeAll(conn, encoder.encode(`client ${i}\n`));
      return await readText(conn, `${REPLY}client ${i}\n`.length);
    }));
    deepStrictEqual(replies, conns.map((_, i) => `${REPLY}client ${i}\n`));
  } finally {
    for (const conn of conns) conn.close();
  }
});

Deno.test("tcp: answers the final line on half-close, then closes", async () => {
  await using logs = await captureLogs();
  await using server = serveTcp({ port: 0 });
  using conn = await Deno.connect(server.addr);
  await writeAll(conn, encoder.encode("first\nlast without newline"));
  await conn.closeWrite();
  strictEqual(
    decoder.decode(await readToEnd(conn)),
    `${REPLY}first\n${REPLY}last without newline\n`,
  );
  match(
    await logs.waitFor(/^Closed connection/),
    /: client closed, 2 lines, 26 bytes in, 55 bytes out, [\d.]+ s$/,
  );
});

Deno.test("tcp: a client reset ends only that connection", async () => {
  await using logs = await captureLogs();
  await using server = serveTcp({ port: 0 });
  using survivor = await Deno.connect(server.addr);
  // A reset with the reply unread, and a reset in the middle of a line.
  for (const sent of ["unread\n", "x\nhalf a li"]) {
    const doomed = await ResettableClient.connect(server.addr);
    await doomed.write(sent);
    await doomed.received(REPLY.length + 2);
    await doomed.reset();
    match(
      await logs.waitFor(/: reset, /),
      /^Closed connection from .*: reset, 1 lines/,
    );
    logs.records.length = 0;
    await writeAll(survivor, encoder.encode("still here\n"));
    strictEqual(await readText(survivor, 25), `${REPLY}still here\n`);
  }
});

Deno.test("tcp: idle timeout closes the idle client and keeps the active one", async () => {
  await using logs = await captureLogs();
  await using server = serveTcp({ port: 0, timeout: 300 });
  using idle = await Deno.connect(server.addr);
  using active = await Deno.connect(server.addr);
  const idleClosed = readToEnd(idle);
  for (let i = 0; i < 8; i++) {
    await writeAll(active, encoder.encode(`tick ${i}\n`));
    strictEqual(await readText(active, 21), `${REPLY}tick ${i}\n`);
    await delay(100);
  }
  strictEqual((await idleClosed).length, 0);
  match(
    await logs.waitFor(/idle timeout/),
    /^Closed connection from .*: idle timeout, 0 lines/,
  );
  strictEqual(
    logs.messages().filter((m) => m.includes("idle timeout")).length,
    1,
  );
});

Deno.test("tcp: a slowloris client, one byte every 100 ms and no newline, meets the idle timeout", async () => {
  await using logs = await captureLogs();
  await using server = serveTcp({ port: 0, timeout: 350 });
  using slow = await Deno.connect(server.addr);
  slow.setNoDelay(true);
  const closed = readToEnd(slow);
  let sent = 0;
  for (; sent < 20; sent++) {
    if (logs.messages().some((m) => m.includes("idle timeout"))) break;
    try {
      await writeAll(slow, encoder.encode("x"));
    } catch {
      break;
    }
    await delay(100);
  }
  strictEqual((await closed).length, 0);
  match(
    await logs.waitFor(/idle timeout/),
    /: idle timeout, 0 lines, \d bytes in/,
  );
  // Bytes kept coming, yet it was closed long before all 20 were sent.
  strictEqual(sent > 1 && sent < 20, true, `sent ${sent} bytes`);
});

Deno.test("tcp: lifetime closes even a busy connection", async () => {
  await using logs = await captureLogs();
  await using server = serveTcp({ port: 0, timeout: 0, lifetime: 300 });
  using conn = await Deno.connect(server.addr);
  let answered = 0;
  try {
    for (let i = 0; i < 40; i++) {
      await writeAll(conn, encoder.encode("busy\n"));
      const reply = await readText(conn, 19);
      if (reply !== `${REPLY}busy\n`) break;
      answered++;
      await delay(25);
    }
  } catch {
    // The server closed while we wrote: that is the point.
  }
  strictEqual(answered > 0 && answered < 40, true);
  match(
    await logs.waitFor(/lifetime/),
    /^Closed connection from .*: lifetime, /,
  );
});

Deno.test("tcp: a line over --max-line closes that connection only", async () => {
  await using logs = await captureLogs();
  await using server = serveTcp({ port: 0, maxLine: 8 });
  using other = await Deno.connect(server.addr);
  using conn = await Deno.connect(server.addr);
  await writeAll(conn, encoder.encode("12345678\n123456789\nnever\n"));
  strictEqual(decoder.decode(await readToEnd(conn)), `${REPLY}12345678\n`);
  match(await logs.waitFor(/line too long/), /: line too long, 1 lines/);
  match(
    await logs.waitFor(/longer than/),
    /^Line from 127\.0\.0\.1:\d+ is longer than 8 bytes: closing the connection \(raise --max-line to allow it\)$/,
  );
  await writeAll(other, encoder.encode("fine\n"));
  strictEqual(await readText(other, 19), `${REPLY}fine\n`);
});

Deno.test("tcp: the library's own log lines name its options, not the program's flags", async () => {
  await using logs = await captureLogs();
  await using server = serveTcp({ port: 0, maxLine: 4 });
  using conn = await Deno.connect(server.addr);
  await writeAll(conn, encoder.encode("12345\n"));
  await readToEnd(conn);
  await logs.waitFor(/longer than/);
  const record = logs.records.find((r) => r.rawMessage.includes("longer"))!;
  strictEqual(
    record.message.join(""),
    `Line from ${record.properties.peer} is longer than 4 bytes: closing the connection (raise maxLine to allow it)`,
  );
});

Deno.test("tcp: --max-connections closes the next connection at once", async () => {
  await using logs = await captureLogs();
  await using server = serveTcp({ port: 0, maxConnections: 2 });
  const first = await Deno.connect(server.addr);
  using second = await Deno.connect(server.addr);
  try {
    for (const conn of [first, second]) {
      await writeAll(conn, encoder.encode("in\n"));
      strictEqual(await readText(conn, 17), `${REPLY}in\n`);
    }
    using third = await Deno.connect(server.addr);
    strictEqual((await readToEnd(third)).length, 0);
    match(
      await logs.waitFor(/^Refused/),
      /^Refused connection from 127\.0\.0\.1:\d+: too many connections \(2 open, see --max-connections\)$/,
    );
  } finally {
    first.close();
  }
  await logs.waitFor(/: client closed|: reset/);
  using fourth = await Deno.connect(server.addr);
  await writeAll(fourth, encoder.encode("room again\n"));
  strictEqual(await readText(fourth, 25), `${REPLY}room again\n`);
});

Deno.test("tcp: raw mode echoes every byte back unchanged", async () => {
  await using server = serveTcp({ port: 0, raw: true });
  using conn = await Deno.connect(server.addr);
  const payload = new Uint8Array(100_000).map((_, i) => (i * 7) & 0xff);
  const [, echoed] = await Promise.all([
    writeAll(conn, payload),
    readBytes(conn, payload.length),
  ]);
  deepStrictEqual(echoed, payload);
  await conn.closeWrite();
  strictEqual((await readToEnd(conn)).length, 0);
});

Deno.test("tcp: serves the IPv6 loopback", async () => {
  await using server = serveTcp({ hostname: "::1", port: 0 });
  strictEqual(server.addr.hostname, "::1");
  using conn = await Deno.connect({ hostname: "::1", port: server.addr.port });
  await writeAll(conn, encoder.encode("six\n"));
  strictEqual(await readText(conn, 18), `${REPLY}six\n`);
});

Deno.test("tcp: shutdown closes open connections with reason shutdown", async () => {
  await using logs = await captureLogs();
  const server = serveTcp({ port: 0 });
  using conn = await Deno.connect(server.addr);
  await writeAll(conn, encoder.encode("before\n"));
  strictEqual(await readText(conn, 21), `${REPLY}before\n`);
  await server.shutdown();
  await server.finished;
  strictEqual((await readToEnd(conn)).length, 0);
  match(
    await logs.waitFor(/: shutdown, /),
    /: shutdown, 1 lines, 7 bytes in, 21 bytes out/,
  );
  match(logs.messages().at(-1)!, /^Stopped tcp server on 127\.0\.0\.1:\d+$/);
});

Deno.test("tcp: shutdown closes a connection whose reply cannot be written, after the grace period", async () => {
  await using logs = await captureLogs();
  const server = serveTcp({ port: 0, shutdownGrace: 200 });
  using conn = await Deno.connect(server.addr);
  // The client writes and never reads: once the socket buffers are full,
  // the server's reply write waits for ever.
  const lines = encoder.encode("x".repeat(1023) + "\n");
  const block = new Uint8Array(64 * 1024);
  for (let i = 0; i < block.length; i += lines.length) block.set(lines, i);
  const writing = (async () => {
    try {
      while (true) await writeAll(conn, block);
    } catch {
      // The server closed it.
    }
  })();
  // Stalled: nothing more is read for a while.
  for (let last = -1, still = 0; still < 4; await delay(50)) {
    const read = server.stats().bytes_in;
    still = read === last && read > 0 ? still + 1 : 0;
    last = read;
  }
  const started = performance.now();
  await server.shutdown();
  const waited = performance.now() - started;
  await writing;
  strictEqual(waited >= 200, true, `stopped after ${waited} ms`);
  match(
    await logs.waitFor(/by force/),
    /^Closed 1 connections by force: their writes did not finish within 200 ms$/,
  );
  match(await logs.waitFor(/: shutdown, /), /: shutdown, \d+ lines/);
  strictEqual(server.stats().connections_open, 0);
});

Deno.test("tcp: a custom prefix, including an empty one", async () => {
  for (const prefix of ["", "echo> "]) {
    await using server = serveTcp({ port: 0, prefix });
    using conn = await Deno.connect(server.addr);
    await writeAll(conn, encoder.encode("x\n"));
    strictEqual(await readText(conn, prefix.length + 2), `${prefix}x\n`);
  }
});

Deno.test("tcp: raw reads are logged as their length and a short preview, never whole", async () => {
  await using logs = await captureLogs();
  await using server = serveTcp({ port: 0, raw: true });
  using conn = await Deno.connect(server.addr);
  const peer = `127.0.0.1:${conn.localAddr.port}`;
  const bytes = new Uint8Array(1024).map((_, i) => i % 256);
  await writeAll(conn, bytes);
  let echoed = 0;
  const buffer = new Uint8Array(2048);
  while (echoed < bytes.length) echoed += (await conn.read(buffer))!;
  const received = logs.messages().filter((line) =>
    line.startsWith("Receiving")
  );
  ok(received.length >= 1);
  let total = 0;
  for (const line of received) {
    const found = new RegExp(
      `^Receiving (\\d+) bytes from ${
        peer.replaceAll(".", "\\.")
      }: "(.*)"(…?)$`,
    ).exec(line);
    ok(found !== null, line);
    total += Number(found[1]);
    // At most 32 characters shown, each at most 4 (\xNN).
    ok(found[2]!.length <= 32 * 4, line);
  }
  strictEqual(total, 1024);
  strictEqual(
    received[0]!.startsWith(
      `Receiving ${
        received[0]!.split(" ")[1]
      } bytes from ${peer}: "\\x00\\x01\\x02`,
    ),
    true,
  );
});
