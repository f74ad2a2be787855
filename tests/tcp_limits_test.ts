// Copyright 2026 the echolab authors. MIT license.
import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { AccessList } from "../lib/policy/access_list.ts";
import { serveTcp } from "../tcp.ts";
import { captureLogs } from "./log_capture.ts";
import {
  decoder,
  delay,
  encoder,
  ping,
  readText,
  readToEnd,
  REPLY,
  writeAll,
} from "./net_client.ts";

Deno.test("tcp limits: --max-per-source closes the next connection from the same IP", async () => {
  await using logs = await captureLogs();
  await using server = serveTcp({ port: 0, maxPerSource: 2 });
  using first = await Deno.connect(server.addr);
  using second = await Deno.connect(server.addr);
  strictEqual(await ping(first, "a"), `${REPLY}a\n`);
  strictEqual(await ping(second, "b"), `${REPLY}b\n`);
  using third = await Deno.connect(server.addr);
  strictEqual((await readToEnd(third)).length, 0);
  match(
    await logs.waitFor(/^Refused/),
    /^Refused connection from 127\.0\.0\.1:\d+: too many per source \(2 open from 127\.0\.0\.1, see --max-per-source\)$/,
  );
  const stats = server.stats();
  strictEqual(stats.connections_total, 2);
  deepStrictEqual(stats.drops, { "too many per source": 1 });
});

Deno.test("tcp limits: a closed connection gives its per-source slot back", async () => {
  await using server = serveTcp({ port: 0, maxPerSource: 1 });
  const first = await Deno.connect(server.addr);
  strictEqual(await ping(first, "a"), `${REPLY}a\n`);
  using refused = await Deno.connect(server.addr);
  strictEqual((await readToEnd(refused)).length, 0);
  first.close();
  while (server.stats().connections_open > 0) await delay(5);
  using again = await Deno.connect(server.addr);
  strictEqual(await ping(again, "b"), `${REPLY}b\n`);
  const stats = server.stats();
  strictEqual(stats.connections_total, 2);
  deepStrictEqual(stats.drops, { "too many per source": 1 });
});

Deno.test("tcp limits: --allow closes connections from other networks at once", async () => {
  await using logs = await captureLogs();
  await using refusing = serveTcp({
    port: 0,
    allow: AccessList.parse("10.0.0.0/8,fd00::/8"),
  });
  using conn = await Deno.connect(refusing.addr);
  strictEqual((await readToEnd(conn)).length, 0);
  match(await logs.waitFor(/^Refused/), /: not allowed \(not in --allow\)$/);
  strictEqual(refusing.stats().connections_total, 0);
  deepStrictEqual(refusing.stats().drops, { "not allowed": 1 });
  await using serving = serveTcp({
    port: 0,
    allow: AccessList.parse("127.0.0.0/8"),
  });
  using allowed = await Deno.connect(serving.addr);
  strictEqual(await ping(allowed, "in"), `${REPLY}in\n`);
});

Deno.test("tcp limits: refusals are logged once a second, with the count held back", async () => {
  await using logs = await captureLogs();
  await using server = serveTcp({ port: 0, maxConnections: 1 });
  using holder = await Deno.connect(server.addr);
  strictEqual(await ping(holder, "hold"), `${REPLY}hold\n`);
  for (let i = 0; i < 5; i++) {
    using refused = await Deno.connect(server.addr);
    await readToEnd(refused);
  }
  await delay(1100);
  using last = await Deno.connect(server.addr);
  await readToEnd(last);
  const refusals = logs.messages().filter((m) => m.startsWith("Refused"));
  strictEqual(refusals.length, 2, refusals.join("\n"));
  match(
    refusals[1]!,
    /too many connections \(1 open, see --max-connections\) \(4 more since the last report\)$/,
  );
  deepStrictEqual(server.stats().drops, { "too many connections": 6 });
});

Deno.test("tcp limits: 1,000 connections that close at once leave the server serving", async () => {
  await using server = serveTcp({ port: 0 });
  for (let round = 0; round < 10; round++) {
    const conns = await Promise.all(
      Array.from({ length: 100 }, () => Deno.connect(server.addr)),
    );
    for (const conn of conns) conn.close();
  }
  while (
    server.stats().connections_open > 0 ||
    server.stats().connections_total < 1000
  ) {
    await delay(10);
  }
  using conn = await Deno.connect(server.addr);
  strictEqual(await ping(conn, "alive"), `${REPLY}alive\n`);
  const stats = server.stats();
  strictEqual(stats.connections_total, 1001);
  strictEqual(
    (stats.closes["client closed"] ?? 0) + (stats.closes["reset"] ?? 0),
    1000,
  );
});

Deno.test("tcp limits: half-close, then the client keeps reading until the end", async () => {
  await using server = serveTcp({ port: 0 });
  using conn = await Deno.connect(server.addr);
  await writeAll(conn, encoder.encode("a\nb\n"));
  await conn.closeWrite();
  strictEqual(decoder.decode(await readToEnd(conn)), `${REPLY}a\n${REPLY}b\n`);
  strictEqual(await conn.read(new Uint8Array(8)), null);
});

Deno.test("tcp limits: counters add up exactly", async () => {
  await using server = serveTcp({ port: 0, maxLine: 4 });
  using conn = await Deno.connect(server.addr);
  await writeAll(conn, encoder.encode("ab\ncd\n"));
  await readText(conn, 34);
  using long = await Deno.connect(server.addr);
  await writeAll(long, encoder.encode("toolong\n"));
  await readToEnd(long);
  await conn.closeWrite();
  await readToEnd(conn);
  while (server.stats().connections_open > 0) await delay(5);
  const {
    connection_duration_buckets: buckets,
    connection_duration_seconds_sum: seconds,
    ...counters
  } = server.stats();
  // Both connections are in the duration histogram, however long they took.
  strictEqual(Object.values(buckets).reduce((a, b) => a + b, 0), 2);
  strictEqual(seconds > 0, true);
  deepStrictEqual(counters, {
    connections_total: 2,
    connections_open: 0,
    connections_peak: 2,
    lines_in: 2,
    lines_out: 2,
    datagrams_in: 0,
    datagrams_out: 0,
    bytes_in: 14,
    bytes_out: 34,
    truncated: 0,
    closes: { "client closed": 1, "line too long": 1 },
    drops: {},
    faults: {},
    tls_handshakes: {},
    streams_total: 0,
    streams_open: 0,
    stream_closes: {},
    handshake_duration_buckets: {},
    handshake_duration_seconds_sum: 0,
  });
});
