// Copyright 2026 the echolab authors. MIT license.
import { match, strictEqual, throws } from "node:assert/strict";
import { serveTcp } from "../tcp.ts";
import { serveUdp } from "../udp.ts";
import { MainProcess, runMain } from "./cli_process.ts";
import {
  decoder,
  encoder,
  exchange,
  readText,
  udpClient,
  writeAll,
} from "./net_client.ts";

Deno.test("prefix: {instance}, {peer} and {local} are filled in TCP replies", async () => {
  await using server = serveTcp({
    port: 0,
    prefix: "{instance} saw {peer} at {local}: ",
    instance: "pod-a",
  });
  using conn = await Deno.connect(server.addr);
  const peer = `127.0.0.1:${conn.localAddr.port}`;
  const local = `127.0.0.1:${server.addr.port}`;
  await writeAll(conn, encoder.encode("hello\nagain\n"));
  const expected =
    `pod-a saw ${peer} at ${local}: hello\npod-a saw ${peer} at ${local}: again\n`;
  strictEqual(await readText(conn, expected.length), expected);
});

Deno.test("prefix: placeholders are filled in UDP replies, per source", async () => {
  await using server = serveUdp({
    port: 0,
    prefix: "{instance} {peer}: ",
    instance: "b",
    bufferSize: 64,
  });
  const one = udpClient();
  const two = udpClient();
  try {
    for (
      const [client, text] of [[one, "x"], [two, "y"], [one, "z"]] as const
    ) {
      const reply = decoder.decode(await exchange(client, server.addr, text));
      strictEqual(
        reply,
        `b 127.0.0.1:${(client.addr as Deno.NetAddr).port}: ${text}\n`,
      );
    }
  } finally {
    one.close();
    two.close();
  }
});

Deno.test("prefix: {{ and }} are literal braces; IPv6 peers are in brackets", async () => {
  await using server = serveTcp({
    hostname: "::1",
    port: 0,
    prefix: "{{{peer}}} ",
  });
  using conn = await Deno.connect(server.addr);
  await writeAll(conn, encoder.encode("hi\n"));
  const expected = `{[::1]:${conn.localAddr.port}} hi\n`;
  strictEqual(await readText(conn, expected.length), expected);
});

Deno.test("prefix: the library refuses an unknown placeholder and a lone brace", () => {
  throws(
    () => serveTcp({ port: 0, prefix: "{host}: " }),
    /unknown placeholder \{host\}/,
  );
  throws(() => serveUdp({ port: 0, prefix: "a } b" }), /a lone "\}"/);
});

Deno.test("prefix: the CLI names a bad placeholder or brace, exit 2", async () => {
  for (
    const [prefix, message] of [
      [
        "{host}: ",
        'echolab: Invalid --prefix "{host}: ": unknown placeholder {host}: use {instance}, {peer}, {local}, {sni}, {alpn}, {tls}, {ja4}, {proxy_authority}, {proxy_alpn}, and {{ or }} for a literal brace (see --help)\n',
      ],
      [
        "a { b",
        'echolab: Invalid --prefix "a { b": a lone "{" at character 3: write {{ for a literal brace (see --help)\n',
      ],
      [
        "}",
        'echolab: Invalid --prefix "}": a lone "}" at character 1: write }} for a literal brace (see --help)\n',
      ],
    ] as const
  ) {
    const { code, stdout, stderr } = await runMain(["tcp", "--prefix", prefix]);
    strictEqual(code, 2);
    strictEqual(stdout, "");
    strictEqual(stderr, message);
  }
});

Deno.test("prefix: {instance} without --instance needs the host-name grant: one line, exit 1", async () => {
  const { code, stderr } = await runMain([
    "tcp",
    "--port",
    "0",
    "--prefix",
    "{instance}: ",
  ]);
  strictEqual(code, 1);
  strictEqual(stderr.trimEnd().split("\n").length, 1, stderr);
  match(
    stderr,
    /ERROR echolab: Cannot name the instance for \{instance\} in --prefix: no permission to read the host name; re-run with --allow-sys=hostname, or give --instance NAME\n$/,
  );
});

Deno.test("prefix: with --allow-sys=hostname, {instance} is the host name, named in the start log", async () => {
  const hostname = new TextDecoder().decode(
    (await new Deno.Command("hostname").output()).stdout,
  ).trim();
  await using server = new MainProcess(
    ["tcp", "--port", "0", "--prefix", "{instance}: "],
    "127.0.0.1",
    undefined,
    ["--allow-sys=hostname"],
  );
  const port = await server.port("tcp");
  strictEqual(
    (await server.waitFor(/Instance/)).replace(/^\S+ /, ""),
    `INFO  echolab: Instance ${hostname}`,
  );
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(conn, encoder.encode("who\n"));
  strictEqual(
    await readText(conn, hostname.length + 6),
    `${hostname}: who\n`,
  );
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 0);
});

Deno.test("prefix: --instance names the replica in replies and in the start log", async () => {
  await using server = new MainProcess([
    "all",
    "--quic-port",
    "0",
    "--tcp-port",
    "0",
    "--udp-port",
    "0",
    "--instance",
    "pod-a",
    "--prefix",
    "{instance} saw {peer}: ",
  ]);
  const tcp = await server.port("tcp");
  const udp = await server.port("udp");
  match(await server.waitFor(/Instance/), /INFO {2}echolab: Instance pod-a$/);
  using conn = await Deno.connect({ hostname: "127.0.0.1", port: tcp });
  await writeAll(conn, encoder.encode("hello\n"));
  const expected = `pod-a saw 127.0.0.1:${conn.localAddr.port}: hello\n`;
  strictEqual(await readText(conn, expected.length), expected);
  const client = udpClient();
  try {
    const reply = await exchange(client, {
      transport: "udp",
      hostname: "127.0.0.1",
      port: udp,
    }, "hello world");
    strictEqual(
      decoder.decode(reply),
      `pod-a saw 127.0.0.1:${(client.addr as Deno.NetAddr).port}: hello\n`,
    );
  } finally {
    client.close();
  }
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 0);
});

Deno.test("raw: --raw with udp echoes the whole datagram (RFC 862); --buffer-size still cuts", async () => {
  await using server = new MainProcess(["udp", "--port", "0", "--raw"]);
  const port = await server.port("udp");
  const address = { transport: "udp" as const, hostname: "127.0.0.1", port };
  const client = udpClient();
  try {
    const big = "x".repeat(60_000);
    strictEqual(decoder.decode(await exchange(client, address, big)), big);
    strictEqual(
      decoder.decode(await exchange(client, address, "hello world")),
      "hello world",
    );
  } finally {
    client.close();
  }
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 0);
  await using cut = serveUdp({ port: 0, raw: true, bufferSize: 5 });
  const other = udpClient();
  try {
    strictEqual(
      decoder.decode(await exchange(other, cut.addr, "hello world")),
      "hello",
    );
  } finally {
    other.close();
  }
});
