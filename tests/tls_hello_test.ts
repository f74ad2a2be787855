// Copyright 2026 the echolab authors. MIT license.
/**
 * The ClientHello as echolab reads it: JA4 against FoxIO's test captures,
 * and, for real clients (openssl, curl, Deno), the values echolab reports
 * against tshark's reading of the same client's hello bytes.
 *
 * @module
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import type { LogRecord } from "@logtape/logtape";
import { ja4, readClientHello } from "../lib/tls/mod.ts";
import { terminateTls } from "../lib/tls/mod.ts";
import { serveTcp } from "../tcp.ts";
import { captureLogs } from "./log_capture.ts";
import {
  concat,
  decoder,
  encoder,
  readToEnd,
  withTimeout,
  writeAll,
} from "./net_client.ts";
import { ensureCommand } from "./system_package.ts";
import { makeCertificate } from "./tls_certificate.ts";

interface KnownHello {
  capture: string;
  ja4: string;
  ja4_spec?: string;
  hello: string;
}

const table: { hellos: KnownHello[] } = JSON.parse(
  await Deno.readTextFile(
    new URL("./fixtures/client_hellos.json", import.meta.url),
  ),
);

function fromHex(hex: string): Uint8Array {
  return Uint8Array.from(
    hex.match(/../g)!.map((pair) => parseInt(pair, 16)),
  );
}

Deno.test("tls hello: each ClientHello of FoxIO's JA4 test captures gets the JA4 its test data gives", () => {
  ok(table.hellos.length >= 9);
  for (const known of table.hellos) {
    const result = readClientHello(fromHex(known.hello));
    strictEqual(result.status, "complete", known.capture);
    if (result.status !== "complete") continue;
    strictEqual(ja4(result.hello), known.ja4_spec ?? known.ja4, known.capture);
  }
});

Deno.test("tls hello: a ClientHello split over records reads as incomplete at every prefix, then whole", () => {
  const record = fromHex(table.hellos[2]!.hello);
  const message = record.subarray(5);
  // The same message in records of at most 100 bytes.
  const records: Uint8Array[] = [];
  for (let at = 0; at < message.length; at += 100) {
    const part = message.subarray(at, at + 100);
    records.push(Uint8Array.of(22, 3, 1, 0, part.length), part);
  }
  const split = concat(records);
  for (let length = 0; length < split.length; length++) {
    strictEqual(
      readClientHello(split.subarray(0, length)).status,
      "incomplete",
      `at ${length}`,
    );
  }
  const whole = readClientHello(split);
  const once = readClientHello(record);
  ok(whole.status === "complete" && once.status === "complete");
  deepStrictEqual(whole.hello, once.hello);
});

Deno.test("tls hello: what is not a ClientHello is malformed, with the reason", () => {
  const cases: [Uint8Array, RegExp][] = [
    [encoder.encode("hello\n"), /first byte is 104.*plain text/],
    [encoder.encode("GET / HTTP/1.1\r\n"), /not a TLS handshake record/],
    [Uint8Array.of(22, 3, 1, 0, 8, 2, 0, 0, 4), /handshake message 2/],
    [
      Uint8Array.of(22, 3, 1, 0, 4, 1, 0, 0x50, 0),
      /ClientHello of 20480 bytes, over the 16384-byte limit/,
    ],
    [Uint8Array.of(22, 3, 1, 0x48, 0), /handshake record of 18432 bytes/],
    [Uint8Array.of(22, 2, 0, 0, 4), /record version 2\.0 is not TLS/],
    [
      Uint8Array.of(22, 3, 1, 0, 6, 1, 0, 0, 2, 3, 3),
      /ClientHello ends early/,
    ],
  ];
  for (const [bytes, reason] of cases) {
    const result = readClientHello(bytes);
    strictEqual(result.status, "malformed", reason.source);
    if (result.status === "malformed") ok(reason.test(result.reason));
  }
});

Deno.test("tls hello: plain text, an HTTP request, an oversized or cut hello close with bad tls hello, nothing echoed", async () => {
  await using logs = await captureLogs();
  await using certificate = await makeCertificate();
  await using server = serveTcp({
    port: 0,
    timeout: 500,
    tls: terminateTls({ certs: [certificate] }),
  });
  const sends = [
    encoder.encode("hello\n"),
    encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
    Uint8Array.of(22, 3, 1, 0, 4, 1, 0, 0x50, 0),
    Uint8Array.of(22, 3, 1, 2, 0, 1, 0, 1, 0xfc, 3, 3),
  ];
  for (const bytes of sends) {
    using conn = await Deno.connect(server.addr);
    await writeAll(conn, bytes);
    // The cut hello waits for the rest until the timeout.
    const echoed = await withTimeout(readToEnd(conn), 3000, "the close");
    strictEqual(echoed.length, 0);
  }
  deepStrictEqual(server.stats().closes, { "bad tls hello": 4 });
  deepStrictEqual(server.stats().connections_total, 0);
  // Logged at most once a second: the first, then a count.
  const lines = logs.messages().filter((line) =>
    line.startsWith("Bad TLS hello")
  );
  ok(lines.length >= 1 && lines.length <= 2, lines.join("\n"));
  strictEqual(
    lines[0],
    `Bad TLS hello from 127.0.0.1:${
      /:(\d+):/.exec(lines[0]!)![1]
    }: the first byte is 104, not a TLS handshake record (plain text: is the client speaking TLS?)`,
  );
});

// Real clients: what echolab reports, against tshark's reading of the
// same client's hello.

const tools = [
  await ensureCommand("tshark", "tshark"),
  await ensureCommand("text2pcap", "tshark"),
  await ensureCommand("openssl", "openssl"),
  await ensureCommand("curl", "curl"),
].find((reason) => reason !== undefined);

/** A client run against a port, by its own flags. */
interface Client {
  name: string;
  run(port: number): Promise<string>;
  /** What echolab must report. */
  sni: string;
  offered: string[];
  versions: string[];
  /** The reply to `hello`, with prefix `{sni}|{alpn}|{tls}: `, if any. */
  reply?: string;
}

async function run(
  program: string,
  args: string[],
  input: Uint8Array,
): Promise<Uint8Array> {
  const child = new Deno.Command(program, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(input).catch(() => {});
  await writer.close().catch(() => {});
  return (await child.output()).stdout;
}

async function command(program: string, args: string[], input = "") {
  return decoder.decode(await run(program, args, encoder.encode(input)));
}

function openssl(
  name: string,
  flags: string[],
  expect: Omit<Client, "name" | "run">,
): Client {
  return {
    name,
    ...expect,
    run: (port) =>
      command("timeout", [
        "5",
        "openssl",
        "s_client",
        "-connect",
        `127.0.0.1:${port}`,
        "-quiet",
        "-ign_eof",
        ...flags,
      ], "hello\n"),
  };
}

function curl(
  name: string,
  flags: string[],
  expect: Omit<Client, "name" | "run">,
): Client {
  return {
    name,
    ...expect,
    run: (port) =>
      command("curl", [
        "-sk",
        "-m",
        "3",
        "--resolve",
        `localhost:${port}:127.0.0.1`,
        ...flags,
        `https://localhost:${port}/`,
      ]),
  };
}

const deno: Client = {
  name: "Deno.connectTls offering h2",
  sni: "",
  offered: ["h2"],
  versions: ["TLSv1.3", "TLSv1.2"],
  // An address: Deno sends no SNI.
  reply: "|h2|TLSv1.3: hello\n",
  async run(port) {
    try {
      using conn = await Deno.connectTls({
        hostname: "127.0.0.1",
        port,
        alpnProtocols: ["h2"],
        caCerts: [certificatePem],
      });
      await writeAll(conn, encoder.encode("hello\n"));
      await conn.closeWrite();
      return decoder.decode(await readToEnd(conn));
    } catch {
      return "";
    }
  },
};
let certificatePem = "";

const clients: Client[] = [
  openssl("openssl -servername a.example -alpn http/1.1,h2 -tls1_3", [
    "-servername",
    "a.example",
    "-alpn",
    "http/1.1,h2",
    "-tls1_3",
  ], {
    sni: "a.example",
    offered: ["http/1.1", "h2"],
    versions: ["TLSv1.3"],
    // The server's preference wins: h2.
    reply: "a.example|h2|TLSv1.3: hello\n",
  }),
  openssl("openssl -servername b.example -alpn http/1.1 -tls1_2", [
    "-servername",
    "b.example",
    "-alpn",
    "http/1.1",
    "-tls1_2",
  ], {
    sni: "b.example",
    offered: ["http/1.1"],
    versions: ["TLSv1.2"],
    reply: "b.example|http/1.1|TLSv1.2: hello\n",
  }),
  openssl("openssl -noservername -groups P-256", [
    "-noservername",
    "-groups",
    "P-256",
  ], {
    sni: "",
    offered: [],
    versions: ["TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1"],
    reply: "||TLSv1.3: hello\n",
  }),
  curl("curl --http1.1", ["--http1.1"], {
    sni: "localhost",
    offered: ["http/1.1"],
    versions: ["TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1"],
  }),
  curl("curl --http2", ["--http2"], {
    sni: "localhost",
    offered: ["h2", "http/1.1"],
    versions: ["TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1"],
  }),
  deno,
];

/** The bytes a client sends first, taken by a listener that answers nothing. */
async function helloOf(client: Client): Promise<Uint8Array> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const running = client.run(listener.addr.port);
  const conn = await withTimeout(listener.accept(), 5000, client.name);
  const parts: Uint8Array[] = [];
  let length = 0;
  const buffer = new Uint8Array(4096);
  while (readClientHello(concat(parts)).status === "incomplete") {
    const read = await conn.read(buffer);
    if (read === null) break;
    parts.push(buffer.slice(0, read));
    length += read;
  }
  conn.close();
  await running;
  ok(length > 0, `${client.name} sent nothing`);
  return concat(parts);
}

/** JA4 from tshark's dissection of the hello (text2pcap wraps it in TCP). */
async function tsharkJa4(hello: Uint8Array): Promise<string> {
  const dump = [...hello].map((byte, index) =>
    (index % 16 === 0 ? `\n${index.toString(16).padStart(6, "0")} ` : "") +
    byte.toString(16).padStart(2, "0") + " "
  ).join("");
  // text2pcap wraps the bytes in one TCP segment to port 443, on stdout.
  const pcap = await run(
    "text2pcap",
    ["-q", "-T", "40000,443", "-", "-"],
    encoder.encode(dump.trimStart() + "\n"),
  );
  {
    const fields = [
      "tls.handshake.version",
      "tls.handshake.ciphersuite",
      "tls.handshake.extension.type",
      "tls.handshake.extensions.supported_version",
      "tls.handshake.sig_hash_alg",
      "tls.handshake.extensions_alpn_str",
    ];
    const line = decoder.decode(
      await run("tshark", [
        "-r",
        "-",
        "-Y",
        "tls.handshake.type == 1",
        "-T",
        "fields",
        "-E",
        "separator=;",
        ...fields.flatMap((field) => ["-e", field]),
      ], pcap),
    );
    const [version, ciphers, extensions, versions, algorithms, alpn] = line
      .trim().split(";").map((field) => field.split(",").filter((v) => v));
    const numbers = (values: string[] | undefined) =>
      (values ?? []).map(Number).filter((value) =>
        !((value & 0x0f0f) === 0x0a0a && (value >> 8) === (value & 0xff))
      );
    const hex = (value: number) => value.toString(16).padStart(4, "0");
    const sorted = (values: number[]) =>
      values.toSorted((a, b) => a - b).map(hex).join(",");
    const hash = async (text: string) =>
      [
        ...new Uint8Array(
          await crypto.subtle.digest("SHA-256", encoder.encode(text)),
        ),
      ].map((byte) => byte.toString(16).padStart(2, "0")).join("").slice(
        0,
        12,
      );
    const supported = numbers(versions);
    const top = supported.length > 0
      ? Math.max(...supported)
      : Number(version![0]);
    const code = { 0x0304: "13", 0x0303: "12" }[top] ?? "00";
    const cipherList = numbers(ciphers);
    const extensionList = numbers(extensions);
    const first = alpn?.[0] ?? "";
    const a = `t${code}${extensionList.includes(0) ? "d" : "i"}${
      String(cipherList.length).padStart(2, "0")
    }${String(extensionList.length).padStart(2, "0")}${
      first === "" ? "00" : first[0]! + first.at(-1)!
    }`;
    const c =
      sorted(extensionList.filter((value) => value !== 0 && value !== 16)) +
      "_" + numbers(algorithms).map(hex).join(",");
    return `${a}_${await hash(sorted(cipherList))}_${await hash(c)}`;
  }
}

Deno.test({
  name:
    `tls hello: openssl, curl and Deno's client are reported with the SNI, ALPN and versions they sent, and the JA4 of their hello as tshark reads it${
      tools === undefined ? "" : ` (${tools})`
    }`,
  ignore: tools !== undefined,
  async fn() {
    await using logs = await captureLogs();
    await using certificate = await makeCertificate();
    certificatePem = certificate.cert;
    await using server = serveTcp({
      port: 0,
      timeout: 1000,
      trace: true,
      prefix: "{sni}|{alpn}|{tls}: ",
      tls: terminateTls({
        certs: [certificate],
        alpn: ["h2", "http/1.1"],
      }),
    });
    for (const client of clients) {
      const reference = await tsharkJa4(await helloOf(client));
      const seen = logs.records.length;
      const output = await client.run(server.addr.port);
      const record = logs.records.slice(seen).find((entry: LogRecord) =>
        String(entry.rawMessage).includes("tls hello from")
      );
      ok(record !== undefined, `${client.name}: no tls hello traced`);
      const properties = record.properties;
      strictEqual(properties.sni, client.sni, client.name);
      deepStrictEqual(properties.alpnOffered, client.offered, client.name);
      deepStrictEqual(properties.versions, client.versions, client.name);
      strictEqual(properties.ja4, reference, client.name);
      if (client.reply !== undefined) {
        strictEqual(output, client.reply, client.name);
      }
    }
    const handshakes = server.stats().tls_handshakes;
    deepStrictEqual(handshakes, { "1.3": 5, "1.2": 1 });
  },
});
