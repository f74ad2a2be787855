// Copyright 2026 the echolab authors. MIT license.
import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { proxyProtocol } from "../lib/proxy/mod.ts";
import { AccessList } from "../lib/policy/access_list.ts";
import {
  describeTlvs,
  formatProxyHeader,
  parseProxyHeader,
  V2_SIGNATURE,
} from "../lib/proxy/proxy_header.ts";
import { serveTcp } from "../tcp.ts";
import { runMain } from "./cli_process.ts";
import { captureLogs } from "./log_capture.ts";
import {
  decoder,
  delay,
  encoder,
  readText,
  readToEnd,
  writeAll,
} from "./net_client.ts";

const V1 = "PROXY TCP4 192.0.2.1 192.0.2.2 40446 8000\r\n";

function v2(
  command: number,
  family: number,
  block: number[],
  announced = block.length,
): Uint8Array {
  return new Uint8Array([
    ...V2_SIGNATURE,
    0x20 | command,
    (family << 4) | 1,
    announced >> 8,
    announced & 0xff,
    ...block,
  ]);
}

Deno.test("proxy header: v1 and v2, IPv4 and IPv6, parsed with what follows", () => {
  deepStrictEqual(parseProxyHeader(encoder.encode(`${V1}hello\n`)), {
    status: "ok",
    version: 1,
    length: V1.length,
    source: { hostname: "192.0.2.1", port: 40446 },
    destination: { hostname: "192.0.2.2", port: 8000 },
  });
  deepStrictEqual(
    parseProxyHeader(
      encoder.encode(
        "PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::ffff:192.0.2.9 1 65535\r\n",
      ),
    ),
    {
      status: "ok",
      version: 1,
      length: 58,
      source: { hostname: "2001:db8::1", port: 1 },
      destination: { hostname: "::ffff:192.0.2.9", port: 65535 },
    },
  );
  deepStrictEqual(
    parseProxyHeader(encoder.encode("PROXY UNKNOWN ffff::1 ::1 1 2\r\nx")),
    { status: "ok", version: 1, length: 31 },
  );
  // v2 INET with a TLV after the addresses: skipped within the length.
  const inet = v2(1, 1, [
    192,
    0,
    2,
    1,
    192,
    0,
    2,
    2,
    0x9e,
    0x1e,
    0x1f,
    0x40,
    4,
    0,
    1,
    0,
  ]);
  deepStrictEqual(parseProxyHeader(inet), {
    status: "ok",
    version: 2,
    length: inet.length,
    source: { hostname: "192.0.2.1", port: 40478 },
    destination: { hostname: "192.0.2.2", port: 8000 },
  });
  const source6 = [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1];
  const inet6 = v2(1, 2, [
    ...source6,
    ...new Array(15).fill(0),
    1,
    0,
    80,
    0,
    81,
  ]);
  deepStrictEqual(parseProxyHeader(inet6), {
    status: "ok",
    version: 2,
    length: 52,
    source: { hostname: "2001:db8::1", port: 80 },
    destination: { hostname: "::1", port: 81 },
  });
  deepStrictEqual(parseProxyHeader(v2(0, 0, [])), {
    status: "ok",
    version: 2,
    length: 16,
  });
  // The client's own header reads back as written.
  for (const version of [1, 2] as const) {
    const addresses = {
      source: { hostname: "::1", port: 5 },
      destination: { hostname: "::1", port: 6 },
    };
    const header = formatProxyHeader(version, addresses);
    deepStrictEqual(parseProxyHeader(header), {
      status: "ok",
      version,
      length: header.length,
      ...addresses,
    });
  }
});

Deno.test("proxy header: every prefix of a valid header is incomplete, never malformed", () => {
  for (const header of [encoder.encode(V1), v2(1, 1, new Array(12).fill(1))]) {
    for (let length = 0; length < header.length; length++) {
      deepStrictEqual(parseProxyHeader(header.subarray(0, length)), {
        status: "incomplete",
      }, `first ${length} bytes`);
    }
  }
});

const MALFORMED: [string, Uint8Array, RegExp][] = [
  ["bad signature", encoder.encode("hello\n"), /no PROXY protocol signature/],
  [
    "bad v2 signature",
    new Uint8Array([0x0d, 0x0a, 0x0d, 0x0a, 0x01]),
    /no PROXY protocol signature/,
  ],
  [
    "bad version",
    new Uint8Array([...V2_SIGNATURE, 0x11]),
    /version 1 is not 2/,
  ],
  ["v2 command", v2(2, 1, new Array(12).fill(0)), /command 2/],
  ["v2 family", v2(1, 4, new Array(12).fill(0)), /family 4/],
  ["short v2 INET block", v2(1, 1, new Array(8).fill(0)), /INET address block/],
  [
    "short v2 INET6 block",
    v2(1, 2, new Array(12).fill(0)),
    /INET6 address block/,
  ],
  [
    "over-long v1",
    encoder.encode(`PROXY UNKNOWN ${"x".repeat(100)}`),
    /longer than 107 bytes/,
  ],
  [
    "bare LF",
    encoder.encode("PROXY TCP4 192.0.2.1 192.0.2.2 1 2\n"),
    /without CRLF/,
  ],
  [
    "bad address",
    encoder.encode("PROXY TCP4 192.0.2.256 192.0.2.2 1 2\r\n"),
    /not IPv4/,
  ],
  [
    "family mismatch",
    encoder.encode("PROXY TCP4 ::1 ::1 1 2\r\n"),
    /not IPv4/,
  ],
  [
    "port 70000",
    encoder.encode("PROXY TCP4 192.0.2.1 192.0.2.2 70000 2\r\n"),
    /port is not a number from 0 to 65535/,
  ],
  [
    "bad family",
    encoder.encode("PROXY UDP4 192.0.2.1 192.0.2.2 1 2\r\n"),
    /family "UDP4"/,
  ],
];

Deno.test("proxy header: malformed headers are refused with the reason", () => {
  for (const [name, bytes, reason] of MALFORMED) {
    const result = parseProxyHeader(bytes);
    strictEqual(result.status, "malformed", name);
    match((result as { reason: string }).reason, reason, name);
  }
});

async function writeSlowly(conn: Deno.Conn, bytes: Uint8Array) {
  for (let i = 0; i < bytes.length; i++) {
    await writeAll(conn, bytes.subarray(i, i + 1));
    await delay(1);
  }
}

Deno.test("proxy protocol: v1 a byte at a time and v2 with the first line in one write name the client", async () => {
  await using server = serveTcp({
    port: 0,
    proxy: proxyProtocol(),
    prefix: "{peer}: ",
  });
  {
    using conn = await Deno.connect(server.addr);
    await writeSlowly(conn, encoder.encode(V1));
    await writeAll(conn, encoder.encode("hello\n"));
    strictEqual(await readText(conn, 23), "192.0.2.1:40446: hello\n");
  }
  {
    using conn = await Deno.connect(server.addr);
    const header = formatProxyHeader(2, {
      source: { hostname: "2001:db8::7", port: 3456 },
      destination: { hostname: "2001:db8::8", port: 8000 },
    });
    await writeAll(
      conn,
      new Uint8Array([...header, ...encoder.encode("hi\nyo\n")]),
    );
    const expected = "[2001:db8::7]:3456: hi\n[2001:db8::7]:3456: yo\n";
    strictEqual(await readText(conn, expected.length), expected);
  }
  {
    // v2 written a byte at a time.
    using conn = await Deno.connect(server.addr);
    await writeSlowly(
      conn,
      formatProxyHeader(2, {
        source: { hostname: "198.51.100.4", port: 1 },
        destination: { hostname: "198.51.100.5", port: 2 },
      }),
    );
    await writeAll(conn, encoder.encode("x\n"));
    strictEqual(await readText(conn, 18), "198.51.100.4:1: x\n");
  }
});

Deno.test("proxy protocol: LOCAL, UNKNOWN and UNIX keep the connection's own address", async () => {
  await using server = serveTcp({
    port: 0,
    proxy: proxyProtocol(),
    prefix: "{peer}: ",
  });
  for (
    const header of [
      v2(0, 1, new Array(12).fill(9)),
      encoder.encode("PROXY UNKNOWN\r\n"),
      v2(1, 3, new Array(216).fill(0)),
    ]
  ) {
    using conn = await Deno.connect(server.addr);
    await writeAll(
      conn,
      new Uint8Array([...header, ...encoder.encode("me\n")]),
    );
    const expected = `127.0.0.1:${conn.localAddr.port}: me\n`;
    strictEqual(await readText(conn, expected.length), expected);
  }
});

Deno.test("proxy protocol: a malformed header closes with bad proxy header, nothing echoed", async () => {
  await using logs = await captureLogs();
  await using server = serveTcp({ port: 0, proxy: proxyProtocol() });
  for (const [, bytes] of MALFORMED) {
    using conn = await Deno.connect(server.addr);
    await writeAll(
      conn,
      new Uint8Array([...bytes, ...encoder.encode("\nhello\n")]),
    )
      .catch(() => {});
    strictEqual(
      decoder.decode(await readToEnd(conn).catch(() => new Uint8Array())),
      "",
    );
  }
  while (server.stats().connections_open > 0) await delay(5);
  const stats = server.stats();
  deepStrictEqual(stats.closes, { "bad proxy header": MALFORMED.length });
  strictEqual(stats.lines_in, 0);
  strictEqual(stats.bytes_out, 0);
  match(
    await logs.waitFor(/^Bad PROXY header/),
    /^Bad PROXY header from 127\.0\.0\.1:\d+: /,
  );
});

Deno.test("proxy protocol: no complete header within the timeout closes the connection", async () => {
  await using server = serveTcp({
    port: 0,
    proxy: proxyProtocol(),
    timeout: 200,
  });
  using conn = await Deno.connect(server.addr);
  await writeAll(conn, encoder.encode("PROXY TCP4 192.0.2.1"));
  strictEqual((await readToEnd(conn)).length, 0);
  while (server.stats().connections_open > 0) await delay(5);
  deepStrictEqual(server.stats().closes, { "bad proxy header": 1 });
});

Deno.test("proxy protocol: allow and max-per-source apply to the client the header names", async () => {
  await using logs = await captureLogs();
  await using server = serveTcp({
    port: 0,
    proxy: proxyProtocol(),
    allow: AccessList.parse("192.0.2.0/24"),
    maxPerSource: 1,
  });
  const header = (host: string, port: number) =>
    formatProxyHeader(1, {
      source: { hostname: host, port },
      destination: { hostname: "192.0.2.2", port: 8000 },
    });
  using first = await Deno.connect(server.addr);
  await writeAll(
    first,
    new Uint8Array([...header("192.0.2.1", 1), ...encoder.encode("a\n")]),
  );
  strictEqual(await readText(first, 16), "received msg: a\n");
  // Same client through the same proxy: over the per-source limit.
  using second = await Deno.connect(server.addr);
  await writeAll(
    second,
    new Uint8Array([...header("192.0.2.1", 2), ...encoder.encode("b\n")]),
  );
  strictEqual((await readToEnd(second)).length, 0);
  // Another client, not in the access list.
  using third = await Deno.connect(server.addr);
  await writeAll(
    third,
    new Uint8Array([...header("198.51.100.1", 3), ...encoder.encode("c\n")]),
  );
  strictEqual((await readToEnd(third)).length, 0);
  deepStrictEqual(server.stats().drops, {
    "too many per source": 1,
    "not allowed": 1,
  });
  match(
    await logs.waitFor(/not allowed/),
    /^Refused connection from 198\.51\.100\.1:3: not allowed \(not in --allow\)$/,
  );
});

Deno.test("proxy protocol: --proxy-from closes peers that are not the load balancers", async () => {
  await using logs = await captureLogs();
  await using server = serveTcp({
    port: 0,
    proxy: proxyProtocol({ from: AccessList.parse("10.0.0.0/8") }),
  });
  using conn = await Deno.connect(server.addr);
  strictEqual((await readToEnd(conn)).length, 0);
  deepStrictEqual(server.stats().drops, { "proxy not trusted": 1 });
  strictEqual(server.stats().connections_total, 0);
  match(
    await logs.waitFor(/trusted/),
    /^Refused connection from 127\.0\.0\.1:\d+: proxy not trusted \(not in --proxy-from\)$/,
  );
});

Deno.test("proxy protocol: a closed connection gives the header's client its slot back", async () => {
  await using server = serveTcp({
    port: 0,
    proxy: proxyProtocol(),
    maxPerSource: 1,
  });
  const request = (port: number, line: string) =>
    new Uint8Array([
      ...formatProxyHeader(2, {
        source: { hostname: "192.0.2.1", port },
        destination: { hostname: "192.0.2.2", port: 8000 },
      }),
      ...encoder.encode(`${line}\n`),
    ]);
  const first = await Deno.connect(server.addr);
  await writeAll(first, request(1, "a"));
  strictEqual(await readText(first, 16), "received msg: a\n");
  using refused = await Deno.connect(server.addr);
  await writeAll(refused, request(2, "b"));
  strictEqual((await readToEnd(refused)).length, 0);
  first.close();
  while (server.stats().connections_open > 0) await delay(5);
  using again = await Deno.connect(server.addr);
  await writeAll(again, request(3, "c"));
  strictEqual(await readText(again, 16), "received msg: c\n");
  deepStrictEqual(server.stats().drops, { "too many per source": 1 });
});

Deno.test("proxy protocol: send --proxy-protocol v1 and v2 show the client's own address", async () => {
  await using server = serveTcp({
    port: 0,
    proxy: proxyProtocol(),
    prefix: "[{peer}] ",
  });
  for (const version of ["v1", "v2"]) {
    const { code, stdout } = await runMain([
      "send",
      "--port",
      String(server.addr.port),
      "--proxy-protocol",
      version,
      "hello",
    ]);
    strictEqual(code, 0, stdout);
    match(stdout, /^\[127\.0\.0\.1:\d+\] hello {2}time=/);
  }
});

Deno.test("proxy protocol: usage errors name the flag, exit 2", async () => {
  for (
    const [args, message] of [
      [
        ["udp", "--proxy-protocol"],
        "Flag --proxy-protocol does not apply to mode udp: it is for tcp, all, lab and send",
      ],
      [
        ["tcp", "--proxy-from", "10.0.0.0/8"],
        "Flag --proxy-from needs --proxy-protocol",
      ],
      [
        ["tcp", "--proxy-protocol", "--proxy-from", "nope"],
        'Invalid --proxy-from: "nope" is not an IPv4 or IPv6 range such as 127.0.0.0/8 or ::1/128',
      ],
      [
        ["send", "--proxy-protocol", "v3", "x"],
        'Invalid --proxy-protocol "v3": expected one of v1, v2',
      ],
      [
        ["send", "--udp", "--proxy-protocol", "v1", "x"],
        "Flag --proxy-protocol is for TCP: drop --udp or drop it",
      ],
    ] as const
  ) {
    const { code, stderr } = await runMain([...args]);
    strictEqual(code, 2, args.join(" "));
    strictEqual(stderr, `echolab: ${message} (see --help)\n`);
  }
});

Deno.test("proxy protocol: a header that names no client leaves the connection's own peer to allow and maxPerSource", async () => {
  await using server = serveTcp({
    port: 0,
    proxy: proxyProtocol(),
    allow: AccessList.parse("127.1.2.0/24"),
  });
  // v1 UNKNOWN and a v2 LOCAL header from 127.0.0.1, which is not allowed.
  for (
    const header of [
      encoder.encode("PROXY UNKNOWN\r\n"),
      v2(0x0, 0x0, []),
    ]
  ) {
    using conn = await Deno.connect(server.addr);
    await writeAll(conn, new Uint8Array([...header, ...encoder.encode("a\n")]));
    strictEqual((await readToEnd(conn)).length, 0);
  }
  while (server.stats().connections_open > 0) await delay(5);
  deepStrictEqual(server.stats().drops, { "not allowed": 2 });
  await using limited = serveTcp({
    port: 0,
    proxy: proxyProtocol(),
    maxPerSource: 1,
  });
  using first = await Deno.connect(limited.addr);
  await writeAll(first, encoder.encode("PROXY UNKNOWN\r\na\n"));
  strictEqual(await readText(first, 16), "received msg: a\n");
  using second = await Deno.connect(limited.addr);
  await writeAll(second, encoder.encode("PROXY UNKNOWN\r\nb\n"));
  strictEqual((await readToEnd(second)).length, 0);
  deepStrictEqual(limited.stats().drops, { "too many per source": 1 });
});

Deno.test("proxy protocol: a client refused after its header counts once, as a drop, like one refused at accept", async () => {
  await using logs = await captureLogs();
  await using server = serveTcp({
    port: 0,
    proxy: proxyProtocol(),
    allow: AccessList.parse("192.0.2.0/24"),
  });
  using conn = await Deno.connect(server.addr);
  await writeAll(
    conn,
    encoder.encode("PROXY TCP4 198.51.100.1 192.0.2.2 3 8000\r\nc\n"),
  );
  strictEqual((await readToEnd(conn)).length, 0);
  await logs.waitFor(/not allowed/);
  while (server.stats().connections_open > 0) await delay(5);
  const stats = server.stats();
  deepStrictEqual(
    {
      total: stats.connections_total,
      closes: stats.closes,
      drops: stats.drops,
    },
    { total: 0, closes: {}, drops: { "not allowed": 1 } },
  );
  deepStrictEqual(
    logs.messages().filter((line) => /198\.51\.100\.1/.test(line)),
    ["Refused connection from 198.51.100.1:3: not allowed (not in --allow)"],
  );
});

Deno.test("proxy protocol: 100 bad headers log a few throttled lines, no close lines, and count 100 closes", async () => {
  await using logs = await captureLogs();
  await using server = serveTcp({ port: 0, proxy: proxyProtocol() });
  await Promise.all(Array.from({ length: 100 }, async () => {
    using conn = await Deno.connect(server.addr);
    await writeAll(conn, encoder.encode("junk\r\n"));
    await readToEnd(conn);
  }));
  while (server.stats().connections_open > 0) await delay(5);
  deepStrictEqual(server.stats().closes, { "bad proxy header": 100 });
  strictEqual(server.stats().connections_total, 0);
  const lines = logs.messages().filter((line) => !/^Starting /.test(line));
  strictEqual(
    lines.filter((line) => /^Closed connection/.test(line)).length,
    0,
  );
  const bad = lines.filter((line) => /^Bad PROXY header from /.test(line));
  // One line a second at most, however fast they come.
  strictEqual(bad.length >= 1 && bad.length <= 3, true, bad.join("\n"));
  deepStrictEqual(lines.length, bad.length, lines.join("\n"));
});

Deno.test("proxy header: v2 TLVs (ALPN, authority, SSL with its sub-TLVs) are read; one that runs past the header is malformed", () => {
  const text = (value: string) => [...encoder.encode(value)];
  const tlv = (type: number, value: number[]) => [
    type,
    value.length >> 8,
    value.length & 0xff,
    ...value,
  ];
  const addresses = [192, 0, 2, 1, 192, 0, 2, 2, 0x9e, 0x1e, 0x1f, 0x40];
  const ssl = [
    0x05, // PP2_CLIENT_SSL | PP2_CLIENT_CERT_SESS
    0,
    0,
    0,
    0, // verified
    ...tlv(0x21, text("TLSv1.3")),
    ...tlv(0x22, text("client")),
    ...tlv(0x23, text("TLS_AES_128_GCM_SHA256")),
  ];
  const header = v2(1, 1, [
    ...addresses,
    ...tlv(0x04, [0, 0]), // NOOP: skipped
    ...tlv(0x01, text("h2")),
    ...tlv(0x02, text("a.example")),
    ...tlv(0x20, ssl),
  ]);
  const result = parseProxyHeader(header);
  strictEqual(result.status, "ok");
  if (result.status !== "ok") return;
  deepStrictEqual(result.tlvs, {
    alpn: "h2",
    authority: "a.example",
    ssl: {
      tls: true,
      clientCertificate: true,
      verified: true,
      version: "TLSv1.3",
      cn: "client",
      cipher: "TLS_AES_128_GCM_SHA256",
    },
  });
  strictEqual(
    describeTlvs(result.tlvs!),
    "authority a.example, alpn h2, tls TLSv1.3 TLS_AES_128_GCM_SHA256, client certificate cn client verified",
  );
  const cut = v2(1, 1, [...addresses, 0x02, 0, 9, ...text("a.ex")]);
  deepStrictEqual(parseProxyHeader(cut), {
    status: "malformed",
    reason: "v2 TLV 0x2 runs past the header",
  });
});
