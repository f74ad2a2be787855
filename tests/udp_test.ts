// Copyright 2026 the echolab authors. MIT license.
import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { MAX_DATAGRAM_SIZE, serveUdp } from "../udp.ts";
import { captureLogs } from "./log_capture.ts";
import { namespaceSkipped, runInNamespace } from "./namespace.ts";
import {
  decoder,
  encoder,
  exchange,
  receiveWithin,
  REPLY,
  udpClient,
} from "./net_client.ts";

async function withClient(
  fn: (client: Deno.DatagramConn) => Promise<void>,
  hostname = "127.0.0.1",
) {
  const client = udpClient(hostname);
  try {
    await fn(client);
  } finally {
    try {
      client.close();
    } catch {
      // Closed by receiveWithin.
    }
  }
}

Deno.test("udp: answers the seed's nc session: hello world is cut to hello", async () => {
  await using logs = await captureLogs();
  await using server = serveUdp({ port: 0 });
  await withClient(async (client) => {
    const reply = await exchange(client, server.addr, "hello world");
    strictEqual(decoder.decode(reply), "received msg: hello\n");
    const peer = `127.0.0.1:${(client.addr as Deno.NetAddr).port}`;
    deepStrictEqual(logs.messages().slice(1), [
      `Truncated datagram from ${peer} from 11 to 5 bytes (raise --buffer-size to keep more)`,
      `Receiving data: hello from ${peer}`,
      `Sending data.. 20 bytes to ${peer}`,
      `Complete Sending data.. 20 bytes to ${peer}`,
    ]);
    strictEqual(logs.records[1]!.level, "warning");
    match(logs.messages()[0]!, /^Starting udp server on 127\.0\.0\.1:\d+$/);
  });
});

Deno.test("udp: a reply holds only this datagram's bytes, never stale ones", async () => {
  await using server = serveUdp({ port: 0 });
  await withClient(async (client) => {
    strictEqual(
      decoder.decode(await exchange(client, server.addr, "hello")),
      `${REPLY}hello\n`,
    );
    strictEqual(
      decoder.decode(await exchange(client, server.addr, "hi")),
      `${REPLY}hi\n`,
    );
  });
});

Deno.test("udp: an empty datagram answers the prefix and a newline", async () => {
  await using server = serveUdp({ port: 0 });
  await withClient(async (client) => {
    strictEqual(
      decoder.decode(await exchange(client, server.addr, "")),
      `${REPLY}\n`,
    );
    strictEqual(
      decoder.decode(await exchange(client, server.addr, "\n")),
      `${REPLY}\n`,
    );
  });
});

Deno.test("udp: each line of a datagram is answered, all in one reply", async () => {
  await using server = serveUdp({ port: 0, bufferSize: 100 });
  await withClient(async (client) => {
    strictEqual(
      decoder.decode(
        await exchange(client, server.addr, "one\r\ntwo\n\nthree\n"),
      ),
      `${REPLY}one\n${REPLY}two\n${REPLY}\n${REPLY}three\n`,
    );
    strictEqual(
      decoder.decode(await exchange(client, server.addr, "no newline")),
      `${REPLY}no newline\n`,
    );
  });
});

Deno.test("udp: a 65,507-byte datagram is received whole and echoed in raw mode", async () => {
  await using logs = await captureLogs();
  await using server = serveUdp({
    port: 0,
    bufferSize: MAX_DATAGRAM_SIZE,
    raw: true,
  });
  await withClient(async (client) => {
    const payload = new Uint8Array(MAX_DATAGRAM_SIZE).map((_, i) => i & 0xff);
    deepStrictEqual(await exchange(client, server.addr, payload), payload);
    strictEqual(logs.messages().some((m) => m.startsWith("Truncated")), false);
  });
});

Deno.test("udp: the real size of a cut datagram is logged", async () => {
  await using logs = await captureLogs();
  await using server = serveUdp({ port: 0, bufferSize: 1000 });
  await withClient(async (client) => {
    const reply = await exchange(
      client,
      server.addr,
      new Uint8Array(MAX_DATAGRAM_SIZE).fill(65),
    );
    strictEqual(decoder.decode(reply), `${REPLY}${"A".repeat(1000)}\n`);
    match(
      await logs.waitFor(/^Truncated/),
      /from 65507 to 1000 bytes/,
    );
  });
});

Deno.test("udp: raw mode sends the kept bytes back unchanged", async () => {
  await using server = serveUdp({ port: 0, raw: true, bufferSize: 8 });
  await withClient(async (client) => {
    const bytes = new Uint8Array([0, 255, 10, 13, 0x80, 1, 2, 3, 4, 5]);
    deepStrictEqual([...await exchange(client, server.addr, bytes)], [
      ...bytes.subarray(0, 8),
    ]);
  });
});

Deno.test("udp: a reply over 65,507 bytes is logged and skipped, the server keeps serving", async () => {
  await using logs = await captureLogs();
  await using server = serveUdp({ port: 0, bufferSize: MAX_DATAGRAM_SIZE });
  await withClient(async (client) => {
    // 30,000 empty lines: each answer is 15 bytes, 450,000 in all.
    await client.send(encoder.encode("\n".repeat(30_000)), server.addr);
    match(
      await logs.waitFor(/^Cannot answer/),
      /^Cannot answer 127\.0\.0\.1:\d+: the reply of 450000 bytes is over the UDP limit of 65507 bytes/,
    );
    strictEqual(
      decoder.decode(await exchange(client, server.addr, "after")),
      `${REPLY}after\n`,
    );
  });
  await withClient(async (client) => {
    // Nothing came back for the oversized one.
    await client.send(encoder.encode("\n".repeat(30_000)), server.addr);
    strictEqual(await receiveWithin(client, 200), undefined);
  });
});

Deno.test("udp: binary bytes and invalid UTF-8 come back unchanged", async () => {
  await using server = serveUdp({ port: 0, bufferSize: 16 });
  await withClient(async (client) => {
    const bytes = [0, 0xff, 0xc3, 0x28, 0x80, 0x7f];
    deepStrictEqual(
      [...await exchange(client, server.addr, new Uint8Array(bytes))],
      [...encoder.encode(REPLY), ...bytes, 10],
    );
  });
});

Deno.test("udp: serves the IPv6 loopback", async () => {
  await using server = serveUdp({ hostname: "::1", port: 0 });
  await withClient(async (client) => {
    strictEqual(
      decoder.decode(await exchange(client, server.addr, "v6")),
      `${REPLY}v6\n`,
    );
  }, "::1");
});

Deno.test("udp: shutdown closes the socket and settles finished", async () => {
  await using logs = await captureLogs();
  const server = serveUdp({ port: 0 });
  await server.shutdown();
  await server.finished;
  match(logs.messages().at(-1)!, /^Stopped udp server on 127\.0\.0\.1:\d+$/);
});

Deno.test({
  name:
    `udp: bound to 0.0.0.0, a datagram sent to 127.0.0.2 is answered from 127.0.0.2 (in a namespace of the test's own)${
      namespaceSkipped === undefined ? "" : ` (${namespaceSkipped})`
    }`,
  ignore: namespaceSkipped !== undefined,
  async fn() {
    const deno = Deno.execPath();
    const main = new URL("../main.ts", import.meta.url).pathname;
    const probe = `
const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
await socket.send(new TextEncoder().encode("hello"), { transport: "udp", hostname: "127.0.0.2", port: 16000 });
const [data, from] = await socket.receive();
console.log(from.hostname + ":" + from.port, new TextDecoder().decode(data).trim());
socket.close();
`;
    const run = async (grant: string) =>
      (await runInNamespace([
        "ip addr add 127.0.0.2/32 dev lo",
        `'${deno}' run --allow-net ${grant} --unstable-net '${main}' udp --host 0.0.0.0 --port 16000 2>/tmp/echolab-udp-$$.log & server=$!`,
        "for i in $(seq 50); do grep -q Starting /tmp/echolab-udp-$$.log 2>/dev/null && break; sleep 0.1; done",
        `'${deno}' eval --unstable-net "$0"`,
        "kill $server; wait $server || true",
        "grep -c 'grant --allow-sys=networkInterfaces' /tmp/echolab-udp-$$.log || true",
        "rm -f /tmp/echolab-udp-$$.log",
      ], probe)).trim().split("\n");
    deepStrictEqual(await run("--allow-sys=networkInterfaces"), [
      "127.0.0.2:16000 received msg: hello",
      "0",
    ]);
    // Without the grant: one socket, the route's address, and a warning.
    deepStrictEqual(await run(""), [
      "127.0.0.1:16000 received msg: hello",
      "1",
    ]);
  },
});
