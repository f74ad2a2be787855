// Copyright 2026 the echolab authors. MIT license.
import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { AccessList } from "../lib/policy/access_list.ts";
import { serveUdp } from "../udp.ts";
import { captureLogs } from "./log_capture.ts";
import {
  decoder,
  encoder,
  exchange,
  receiveWithin,
  REPLY,
  udpClient,
} from "./net_client.ts";

/** A UDP socket on a reflective service port, if this user may bind one. */
function reflectivePortSocket(): Deno.DatagramConn | undefined {
  for (const port of [7, 19]) {
    try {
      return Deno.listenDatagram({
        transport: "udp",
        hostname: "127.0.0.1",
        port,
      });
    } catch {
      // Taken, or ports below 1024 are reserved to root here.
    }
  }
  return undefined;
}

const canBindServicePort = (() => {
  const socket = reflectivePortSocket();
  socket?.close();
  return socket !== undefined;
})();

Deno.test("udp limits: a 1-byte datagram is answered", async () => {
  await using server = serveUdp({ port: 0 });
  const client = udpClient();
  try {
    strictEqual(
      decoder.decode(await exchange(client, server.addr, "x")),
      `${REPLY}x\n`,
    );
  } finally {
    client.close();
  }
});

Deno.test({
  name: "udp limits: a datagram from a reflective source port gets no reply",
  ignore: !canBindServicePort,
  async fn() {
    await using logs = await captureLogs();
    await using server = serveUdp({ port: 0 });
    const chargen = reflectivePortSocket()!;
    await chargen.send(encoder.encode("loop?"), server.addr);
    strictEqual(await receiveWithin(chargen, 300), undefined);
    match(
      await logs.waitFor(/^Dropped/),
      /^Dropped datagram from 127\.0\.0\.1:(7|19): loop guard, reflective port \(see --no-loop-guard\)$/,
    );
    deepStrictEqual(server.stats().drops, { "loop guard": 1 });
    strictEqual(server.stats().datagrams_out, 0);
  },
});

Deno.test({
  name: "udp limits: --no-loop-guard answers a reflective source port",
  ignore: !canBindServicePort,
  async fn() {
    await using server = serveUdp({ port: 0, loopGuard: false });
    const echo = reflectivePortSocket()!;
    try {
      strictEqual(
        decoder.decode(await exchange(echo, server.addr, "ok")),
        `${REPLY}ok\n`,
      );
    } finally {
      echo.close();
    }
  },
});

Deno.test("udp limits: --allow drops and counts datagrams from other networks", async () => {
  await using logs = await captureLogs();
  await using server = serveUdp({
    port: 0,
    allow: AccessList.parse("10.0.0.0/8"),
  });
  const client = udpClient();
  await client.send(encoder.encode("let me in"), server.addr);
  strictEqual(await receiveWithin(client, 300), undefined);
  match(await logs.waitFor(/^Dropped/), /: not allowed \(not in --allow\)$/);
  deepStrictEqual(server.stats().drops, { "not allowed": 1 });
  strictEqual(server.stats().datagrams_in, 1);
});

Deno.test("udp limits: --udp-rate answers the burst and drops the excess", async () => {
  await using logs = await captureLogs();
  await using server = serveUdp({ port: 0, rate: 5 });
  const client = udpClient();
  for (let i = 0; i < 20; i++) {
    await client.send(encoder.encode(`n${i}`), server.addr);
  }
  const replies: string[] = [];
  while (true) {
    const reply = await receiveWithin(client, 300);
    if (reply === undefined) break;
    replies.push(decoder.decode(reply));
  }
  deepStrictEqual(replies, [0, 1, 2, 3, 4].map((i) => `${REPLY}n${i}\n`));
  deepStrictEqual(server.stats().drops, { "rate limit": 15 });
  const dropLines = logs.messages().filter((m) => m.startsWith("Dropped"));
  strictEqual(dropLines.length, 1);
  match(dropLines[0]!, /rate limit, over 5 per second \(see --udp-rate\)$/);
});

Deno.test("udp limits: a datagram failing several checks is counted once, under the first", async () => {
  await using server = serveUdp({
    port: 0,
    allow: AccessList.parse("10.0.0.0/8"),
    rate: 1,
  });
  const client = udpClient();
  for (let i = 0; i < 3; i++) {
    await client.send(encoder.encode("x"), server.addr);
  }
  strictEqual(await receiveWithin(client, 300), undefined);
  deepStrictEqual(server.stats().drops, { "not allowed": 3 });
});

Deno.test("udp limits: counters add up exactly", async () => {
  await using server = serveUdp({ port: 0, bufferSize: 8 });
  const client = udpClient();
  try {
    await exchange(client, server.addr, "a\nb");
    await exchange(client, server.addr, "hello world");
  } finally {
    client.close();
  }
  deepStrictEqual(server.stats(), {
    connections_total: 0,
    connections_open: 0,
    connections_peak: 0,
    lines_in: 3,
    lines_out: 3,
    datagrams_in: 2,
    datagrams_out: 2,
    bytes_in: 14,
    bytes_out: 32 + 23,
    truncated: 1,
    closes: {},
    drops: {},
    faults: {},
    tls_handshakes: {},
    streams_total: 0,
    streams_open: 0,
    stream_closes: {},
    handshake_duration_buckets: {},
    handshake_duration_seconds_sum: 0,
    connection_duration_buckets: {},
    connection_duration_seconds_sum: 0,
  });
});
