// Copyright 2026 the echolab authors. MIT license.
/**
 * The QUIC echo: streams, unidirectional streams, datagrams, limits, the
 * ephemeral certificate, the CLI's `quic` mode and `send --quic`, and
 * ngtcp2's client as an independent QUIC stack.
 *
 * @module
 */

import {
  deepStrictEqual,
  match,
  ok,
  rejects,
  strictEqual,
} from "node:assert/strict";
import { readQuicHeaders } from "../lib/capture/mod.ts";
import { PcapReader } from "../lib/capture/pcap_reader.ts";
import { isRoot } from "../deploy/containers.ts";
import { faults } from "../lib/faults/mod.ts";
import { serveOps } from "../lib/ops/mod.ts";
import { AccessList } from "../lib/policy/mod.ts";
import { type QuicServerOptions, serveQuic } from "../quic.ts";
import { MainProcess, runMain } from "./cli_process.ts";
import { captureLogs } from "./log_capture.ts";
import { decoder, encoder } from "./net_client.ts";
import { promtoolAccepts } from "./promtool.ts";
import { ensureCommand } from "./system_package.ts";
import { makeCertificate } from "./tls_certificate.ts";
import { namespaceSkipped, runInNamespace } from "./namespace.ts";

async function connect(
  server: { addr: { port: number }; cert: string },
  alpn = ["echolab"],
): Promise<Deno.QuicConn> {
  const conn = await Deno.connectQuic({
    hostname: "127.0.0.1",
    port: server.addr.port,
    alpnProtocols: alpn,
    caCerts: [server.cert],
    serverName: "localhost",
  });
  await conn.handshake;
  return conn;
}

/** Closes a client connection and waits for its close to leave. */
async function closeConn(conn: Deno.QuicConn): Promise<void> {
  conn.close({ closeCode: 0, reason: "done" });
  await conn.closed.catch(() => {});
  conn.endpoint.close();
}

/** Writes `text` on a new bidirectional stream, FIN, and reads to the end. */
async function exchange(conn: Deno.QuicConn, text: string): Promise<string> {
  const stream = await conn.createBidirectionalStream();
  const writer = stream.writable.getWriter();
  await writer.write(encoder.encode(text));
  await writer.close();
  let reply = "";
  for await (const chunk of stream.readable) reply += decoder.decode(chunk);
  return reply;
}

async function withServer(
  options: QuicServerOptions,
  run: (server: Awaited<ReturnType<typeof serveQuic>>) => Promise<void>,
): Promise<void> {
  await using server = await serveQuic({ port: 0, ...options });
  await run(server);
}

Deno.test("quic: a bidirectional stream is a line echo; the client's FIN gets the last line's reply and the server's FIN", async () => {
  await withServer({}, async (server) => {
    const conn = await connect(server);
    strictEqual(
      await exchange(conn, "hello\r\nworld\nlast"),
      "received msg: hello\nreceived msg: world\nreceived msg: last\n",
    );
    await closeConn(conn);
    const stats = server.stats();
    strictEqual(stats.lines_in, 3);
    strictEqual(stats.streams_total, 1);
    deepStrictEqual(stats.stream_closes, { "client closed": 1 });
    deepStrictEqual(stats.tls_handshakes, { "1.3": 1 });
  });
});

Deno.test("quic: raw mode echoes stream bytes verbatim; many streams at once each get their own replies", async () => {
  await withServer({ raw: true }, async (server) => {
    const conn = await connect(server);
    const payload = new Uint8Array(100_000).map((_, i) => (i * 7) & 0xff);
    const stream = await conn.createBidirectionalStream();
    const writer = stream.writable.getWriter();
    const sending = writer.write(payload).then(() => writer.close());
    const chunks: Uint8Array[] = [];
    for await (const chunk of stream.readable) chunks.push(chunk);
    await sending;
    const echoed = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const chunk of chunks) {
      echoed.set(chunk, at);
      at += chunk.length;
    }
    deepStrictEqual(echoed, payload);
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => exchange(conn, `stream ${i}\n`)),
    );
    deepStrictEqual(
      replies,
      Array.from({ length: 20 }, (_, i) => `stream ${i}\n`),
    );
    await closeConn(conn);
    strictEqual(server.stats().streams_total, 21);
  });
});

Deno.test("quic: a unidirectional stream is answered on one of the server's own, finished after the client's", async () => {
  await withServer({}, async (server) => {
    const conn = await connect(server);
    const out = await conn.createUnidirectionalStream();
    const writer = out.getWriter();
    await writer.write(encoder.encode("one\ntwo\n"));
    await writer.close();
    const reader = conn.incomingUnidirectionalStreams.getReader();
    const { value: answer } = await reader.read();
    reader.releaseLock();
    let text = "";
    // The loop ends at the server's FIN.
    for await (const chunk of answer!) text += decoder.decode(chunk);
    strictEqual(text, "received msg: one\nreceived msg: two\n");
    await closeConn(conn);
  });
});

Deno.test("quic: a datagram is answered whole by default, and cut to bufferSize with a warning", async () => {
  await using logs = await captureLogs();
  await withServer({}, async (server) => {
    const conn = await connect(server);
    await conn.sendDatagram(encoder.encode("a whole datagram"));
    strictEqual(
      decoder.decode(await conn.readDatagram()),
      "received msg: a whole datagram\n",
    );
    await closeConn(conn);
  });
  await withServer({ bufferSize: 5 }, async (server) => {
    const conn = await connect(server);
    await conn.sendDatagram(encoder.encode("hello world"));
    strictEqual(
      decoder.decode(await conn.readDatagram()),
      "received msg: hello\n",
    );
    await closeConn(conn);
    strictEqual(server.stats().truncated, 1);
    strictEqual(server.stats().datagrams_out, 1);
  });
  // Placeholders fill a datagram's prefix as a stream's.
  await withServer({ prefix: "{alpn} {tls} {sni}: " }, async (server) => {
    const conn = await connect(server);
    await conn.sendDatagram(encoder.encode("hi"));
    strictEqual(
      decoder.decode(await conn.readDatagram()),
      "echolab TLSv1.3 localhost: hi\n",
    );
    strictEqual(
      await exchange(conn, "hi\n"),
      "echolab TLSv1.3 localhost: hi\n",
    );
    await closeConn(conn);
  });
  ok(
    logs.messages().some((line) =>
      /^Datagram from 127\.0\.0\.1:\d+ cut from 11 to 5 bytes \(raise --buffer-size to keep more\)$/
        .test(line)
    ),
  );
});

Deno.test("quic: a line over maxLine ends its stream, not the connection", async () => {
  await withServer({ maxLine: 8 }, async (server) => {
    const conn = await connect(server);
    const cut = await exchange(conn, "short\nmuch too long a line\n");
    strictEqual(cut, "received msg: short\n");
    strictEqual(await exchange(conn, "again\n"), "received msg: again\n");
    await closeConn(conn);
    strictEqual(server.stats().stream_closes["line too long"], 1);
  });
});

Deno.test("quic: the idle timeout closes a silent connection, counted as idle timeout", async () => {
  await withServer({ timeout: 300 }, async (server) => {
    const conn = await connect(server);
    await rejects(conn.closed, /timed out/);
    conn.endpoint.close();
    // The server sees it too.
    for (let tries = 0; tries < 50; tries++) {
      if (server.stats().closes["idle timeout"] === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    deepStrictEqual(server.stats().closes, { "idle timeout": 1 });
  });
});

Deno.test("quic: allow and maxConnections close a refused client before any echo", async () => {
  await withServer(
    { allow: AccessList.parse("192.0.2.0/24") },
    async (server) => {
      const conn = await connect(server);
      const info = await conn.closed;
      strictEqual(info.reason, "refused");
      conn.endpoint.close();
      deepStrictEqual(server.stats().drops, { "not allowed": 1 });
      strictEqual(server.stats().streams_total, 0);
    },
  );
  await withServer({ maxConnections: 1 }, async (server) => {
    const first = await connect(server);
    const second = await connect(server);
    strictEqual((await second.closed).reason, "refused");
    second.endpoint.close();
    strictEqual(await exchange(first, "still\n"), "received msg: still\n");
    await closeConn(first);
    deepStrictEqual(server.stats().drops, { "too many connections": 1 });
  });
});

Deno.test("quic: maxStreams is the client's limit of open streams: the next waits until one is finished", async () => {
  await withServer({ maxStreams: 1 }, async (server) => {
    const conn = await connect(server);
    const first = await conn.createBidirectionalStream();
    const writer = first.writable.getWriter();
    await writer.write(encoder.encode("a\n"));
    const reader = first.readable.getReader();
    strictEqual(
      decoder.decode((await reader.read()).value),
      "received msg: a\n",
    );
    await rejects(
      conn.createBidirectionalStream(),
      /maximum number of concurrent outgoing bidirectional streams/,
    );
    let opened = false;
    const next = conn.createBidirectionalStream({ waitUntilAvailable: true })
      .then((stream) => {
        opened = true;
        return stream;
      });
    await new Promise((resolve) => setTimeout(resolve, 200));
    strictEqual(opened, false);
    await writer.close();
    while (!(await reader.read()).done) { /* to the server's FIN */ }
    const second = await next;
    await second.writable.close();
    for await (const _ of second.readable) { /* nothing sent */ }
    await closeConn(conn);
  });
});

Deno.test("quic: a shutdown answers what arrived, then closes each connection with the reason shutdown", async () => {
  const server = await serveQuic({ port: 0 });
  const conn = await connect(server);
  const stream = await conn.createBidirectionalStream();
  const writer = stream.writable.getWriter();
  await writer.write(encoder.encode("before\n"));
  const reader = stream.readable.getReader();
  strictEqual(
    decoder.decode((await reader.read()).value),
    "received msg: before\n",
  );
  await server.shutdown();
  const info = await conn.closed;
  deepStrictEqual({ ...info }, { closeCode: 0, reason: "shutdown" });
  conn.endpoint.close();
  strictEqual(server.stats().closes.shutdown, 1);
});

Deno.test("quic: a client offering none of the server's ALPN protocols fails with alert 120", async () => {
  await using logs = await captureLogs();
  await withServer({}, async (server) => {
    await rejects(
      (async () => {
        const conn = await Deno.connectQuic({
          hostname: "127.0.0.1",
          port: server.addr.port,
          alpnProtocols: ["h3"],
          caCerts: [server.cert],
          serverName: "localhost",
        });
        await conn.handshake;
      })(),
      /120/,
    );
    for (let tries = 0; tries < 50; tries++) {
      if (server.stats().closes["handshake failed"] === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    deepStrictEqual(server.stats().closes, { "handshake failed": 1 });
    strictEqual(server.stats().connections_total, 0);
  });
  ok(
    logs.messages().some((line) =>
      /^QUIC handshake with .* failed: .*120/.test(line)
    ),
    logs.messages().join("\n"),
  );
});

Deno.test("quic: faults apply to streams as to TCP: closeAfter 1 answers one line, then closes the stream", async () => {
  await withServer({ faults: faults({ closeAfter: 1 }) }, async (server) => {
    const conn = await connect(server);
    strictEqual(
      await exchange(conn, "one\ntwo\n"),
      "received msg: one\n",
    );
    await closeConn(conn);
    deepStrictEqual(server.stats().stream_closes, { "close after": 1 });
  });
});

Deno.test("quic: UDP's faults apply to datagrams: drop 1 answers none, delay holds each reply", async () => {
  await withServer({ faults: faults({ drop: 1 }) }, async (server) => {
    const conn = await connect(server);
    await conn.sendDatagram(encoder.encode("lost"));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const reply = await Promise.race([
      conn.readDatagram(),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), 300);
      }),
    ]);
    clearTimeout(timer);
    strictEqual(reply, undefined);
    await closeConn(conn);
    strictEqual(server.stats().datagrams_out, 0);
    strictEqual(server.stats().faults.drop, 1);
  });
  await withServer({ faults: faults({ delay: 200 }) }, async (server) => {
    const conn = await connect(server);
    const sent = performance.now();
    await conn.sendDatagram(encoder.encode("late"));
    strictEqual(
      decoder.decode(await conn.readDatagram()),
      "received msg: late\n",
    );
    // Generous bounds: the delay asked, and not ten times it.
    const took = performance.now() - sent;
    ok(took >= 190 && took < 2000, `${took} ms`);
    await closeConn(conn);
  });
});

Deno.test("quic: the control API sets and clears the QUIC server's faults at run time", async () => {
  await withServer({}, async (server) => {
    await using ops = serveOps({ port: 0, servers: [server], control: {} });
    const url = `http://127.0.0.1:${ops.addr.port}/control/faults`;
    const set = await fetch(url, {
      method: "PUT",
      body: JSON.stringify({ quic: { closeAfter: 1 }, seed: 7 }),
    });
    strictEqual(set.status, 200);
    deepStrictEqual(await set.json(), { quic: { closeAfter: 1 }, seed: 7 });
    const conn = await connect(server);
    strictEqual(await exchange(conn, "a\nb\n"), "received msg: a\n");
    const cleared = await fetch(url, { method: "DELETE" });
    deepStrictEqual(await cleared.json(), { quic: {} });
    strictEqual(
      await exchange(conn, "a\nb\n"),
      "received msg: a\nreceived msg: b\n",
    );
    await closeConn(conn);
  });
});

const openssl = await ensureCommand("openssl", "openssl");

Deno.test({
  name:
    `quic: the ephemeral certificate names localhost and 127.0.0.1, is no CA, lasts 14 days, and its logged fingerprint is openssl's${
      openssl === undefined ? "" : ` (${openssl})`
    }`,
  ignore: openssl !== undefined,
}, async () => {
  await withServer({}, async (server) => {
    const text = async (args: string[]) => {
      const child = new Deno.Command("openssl", {
        args,
        stdin: "piped",
        stdout: "piped",
      }).spawn();
      const writer = child.stdin.getWriter();
      await writer.write(encoder.encode(server.cert));
      await writer.close();
      return decoder.decode((await child.output()).stdout);
    };
    const fingerprint = await text([
      "x509",
      "-noout",
      "-fingerprint",
      "-sha256",
    ]);
    strictEqual(fingerprint.trim(), `sha256 Fingerprint=${server.fingerprint}`);
    const dump = await text(["x509", "-noout", "-text"]);
    match(dump, /CA:FALSE/);
    match(dump, /DNS:localhost, IP Address:127\.0\.0\.1/);
    match(dump, /ASN1 OID: prime256v1/);
    const [from, to] = [...dump.matchAll(/Not (?:Before|After) *: (.*)/g)]
      .map((found) => Date.parse(found[1]!));
    strictEqual((to! - from!) / 86_400_000, 14);
  });
});

Deno.test("quic: the CLI serves mode quic, writes --cert-out, and send --quic, --streams and --datagram talk to it", async () => {
  const dir = decoder.decode(
    (await new Deno.Command("mktemp", { args: ["-d"] }).output()).stdout,
  ).trim();
  const certFile = `${dir}/quic.pem`;
  try {
    await using server = new MainProcess(
      ["quic", "--port", "0", "--cert-out", certFile, "--buffer-size", "4"],
      "127.0.0.1",
      undefined,
      [`--allow-write=${certFile}`],
    );
    const start = await server.waitFor(/Starting quic server on/);
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(start)![1]);
    match(
      start,
      /\(UDP; ALPN echolab; ephemeral self-signed certificate, SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}\)$/,
    );
    await server.waitFor(/Wrote the QUIC certificate to/);
    const send = (args: string[]) =>
      runMain(
        ["send", "--quic", "--port", String(port), "--ca", certFile, ...args],
        "127.0.0.1",
        [`--allow-read=${certFile}`],
      );
    const lines = await send([
      "--sni",
      "localhost",
      "a",
      "b",
      "c",
      "--streams",
      "3",
    ]);
    strictEqual(lines.code, 0, lines.stderr);
    const out = lines.stdout.split("\n");
    match(
      out[0]!,
      /^quic: handshake \d+\.\d{3} ms, alpn echolab, datagrams up to \d+ bytes$/,
    );
    deepStrictEqual(
      out.slice(1, 4).map((line) => line.replace(/ {2}time=.*/, "")).sort(),
      ["received msg: a", "received msg: b", "received msg: c"],
    );
    strictEqual(out[4], `--- 127.0.0.1:${port} quic ---`);
    const datagrams = await send(["--sni", "localhost", "--datagram", "hello"]);
    strictEqual(datagrams.code, 0, datagrams.stderr);
    match(datagrams.stdout, /\nreceived msg: hell {2}time=/);
    match(datagrams.stdout, /--- 127\.0\.0\.1:\d+ quic datagrams ---/);
    server.kill("SIGTERM");
    strictEqual((await server.finished()).code, 0);
    match(server.lines.join("\n"), /Stopped quic server/);
  } finally {
    await new Deno.Command("rm", { args: ["-rf", dir] }).output();
  }
});

Deno.test("quic: usage errors name the flag, exit 2", async () => {
  const cases: [string[], string][] = [
    [["send", "--streams", "2", "hi"], "Flag --streams needs --quic"],
    [
      ["send", "--quic", "--udp", "hi"],
      "Flag --udp does not apply with --quic: drop one of them",
    ],
    [
      ["quic", "--reset-after", "1"],
      "Flag --reset-after does not apply to mode quic: it is for tcp, all and lab",
    ],
    [
      ["quic", "--tls-cert", "a.example=a.pem", "--tls-key", "a.example=k.pem"],
      "Flag --tls-cert NAME=FILE does not apply to mode quic: Deno's QUIC listener serves one certificate; give --tls-cert FILE",
    ],
  ];
  for (const [args, message] of cases) {
    const { code, stderr } = await runMain(args, "127.0.0.1");
    strictEqual(code, 2, args.join(" "));
    strictEqual(stderr, `echolab: ${message} (see --help)\n`);
  }
});

const promtool = await ensureCommand("promtool", "prometheus");

Deno.test({
  name:
    `quic: /metrics has QUIC's connections, streams, datagrams, closes and handshake times, and promtool accepts them${
      promtool === undefined ? "" : ` (${promtool})`
    }`,
  ignore: promtool !== undefined,
}, async () => {
  await withServer({}, async (server) => {
    await using ops = serveOps({ port: 0, servers: [server] });
    const conn = await connect(server);
    await exchange(conn, "one\n");
    await conn.sendDatagram(encoder.encode("two"));
    await conn.readDatagram();
    await closeConn(conn);
    for (let tries = 0; tries < 50; tries++) {
      if (server.stats().connections_open === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const body =
      await (await fetch(`http://127.0.0.1:${ops.addr.port}/metrics`))
        .text();
    await promtoolAccepts(body);
    const address = `127.0.0.1:${server.addr.port}`;
    for (
      const line of [
        `echolab_connections_total{transport="quic",address="${address}"} 1`,
        `echolab_closes_total{address="${address}",reason="client closed"} 1`,
        `echolab_quic_streams_total{address="${address}"} 1`,
        `echolab_quic_datagrams_total{direction="out",address="${address}"} 1`,
        `echolab_quic_handshake_duration_seconds_count{address="${address}"} 1`,
        `echolab_tls_handshakes_total{version="1.3",address="${address}"} 1`,
      ]
    ) ok(body.includes(`${line}\n`), line);
  });
});

const gtlsclient = await ensureCommand("gtlsclient", "ngtcp2-client");

Deno.test({
  name:
    `quic: ngtcp2's client (gtlsclient, ALPN h3) completes the handshake with --raw and gets its own stream bytes back${
      gtlsclient === undefined ? "" : ` (${gtlsclient})`
    }`,
  ignore: gtlsclient !== undefined,
  async fn() {
    await withServer({ alpn: ["h3"], raw: true }, async (server) => {
      const output = await new Deno.Command("timeout", {
        args: [
          "5",
          "gtlsclient",
          "--exit-on-all-streams-close",
          "127.0.0.1",
          String(server.addr.port),
          `https://localhost:${server.addr.port}/`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = decoder.decode(output.stdout) +
        decoder.decode(output.stderr);
      match(text, /QUIC handshake has been confirmed/);
      // The request stream (0) goes out with a FIN and comes back whole.
      const sent =
        /frm tx \d+ 1RTT STREAM\(0x0b\) id=0x0 fin=1 offset=0 len=(\d+)/
          .exec(text);
      ok(sent !== null, text.slice(-2000));
      match(
        text,
        new RegExp(
          `frm rx \\d+ 1RTT STREAM\\(0x0b\\) id=0x0 fin=1 offset=0 len=${
            sent[1]
          } `,
        ),
      );
    });
  },
});

const captureSkipped = !(await isRoot())
  ? "skipped: a capture needs root or CAP_NET_RAW"
  : (await ensureCommand("tcpdump", "tcpdump")) ??
    (await ensureCommand("tshark", "tshark"));

Deno.test({
  name:
    `quic: --capture reads each QUIC packet's cleartext header as tshark does: Initial, Handshake coalesced with it, then 1-RTT${
      captureSkipped === undefined ? "" : ` (${captureSkipped})`
    }`,
  ignore: captureSkipped !== undefined,
  async fn() {
    const dir = decoder.decode(
      (await new Deno.Command("mktemp", { args: ["-d"] }).output()).stdout,
    ).trim();
    const [certFile, pcap] = [`${dir}/quic.pem`, `${dir}/quic.pcap`];
    try {
      await using server = new MainProcess(
        [
          "quic",
          "--port",
          "0",
          "--cert-out",
          certFile,
          "--capture",
          "--capture-file",
          pcap,
        ],
        "127.0.0.1",
        undefined,
        [`--allow-write=${dir}`, "--allow-run=tcpdump,setpriv"],
      );
      const start = await server.waitFor(/Starting quic server on/);
      const port = Number(/127\.0\.0\.1:(\d+)/.exec(start)![1]);
      await server.waitFor(/Wrote the QUIC certificate/);
      const sent = await runMain(
        [
          "send",
          "--quic",
          "--port",
          String(port),
          "--ca",
          certFile,
          "--capture",
          "hi",
        ],
        "127.0.0.1",
        [`--allow-read=${certFile}`, "--allow-run=tcpdump,setpriv"],
      );
      strictEqual(sent.code, 0, sent.stderr);
      // The client's diagram: one arrow per QUIC packet.
      match(sent.stdout, /\|-- QUIC Initial 1200 B -+>\|/);
      match(
        sent.stdout,
        /\|<-+ QUIC Initial \d+ B \(1\/2 of a datagram\) --\|/,
      );
      match(
        sent.stdout,
        /\|<-+ QUIC Handshake \d+ B \(2\/2 of a datagram\) --\|/,
      );
      match(sent.stdout, /QUIC 1-RTT \d+ B/);
      await server.waitFor(/Closed QUIC connection/);
      server.kill("SIGTERM");
      strictEqual((await server.finished()).code, 0);
      const log = server.lines.join("\n");
      match(
        log,
        /packet 127\.0\.0\.1:\d+ > 127\.0\.0\.1:\d+ udp len \d+: QUIC Initial v1, dcid \d+ B, scid \d+ B, \d+ bytes \(payload encrypted\)/,
      );
      match(
        log,
        /udp len \d+ \(2 of 2 coalesced\): QUIC Handshake v1, dcid \d+ B, scid \d+ B, \d+ bytes \(payload encrypted\)/,
      );
      match(log, /QUIC 1-RTT \(short header\)/);
      // Datagram by datagram, against tshark's reading of the same file.
      const ours: string[] = [];
      const bytes = await Deno.readFile(pcap);
      for (const packet of new PcapReader().push(bytes)) {
        if (packet.protocol !== "udp") continue;
        ours.push(readQuicHeaders(packet.payload).map((h) => h.type).join("+"));
      }
      const rows = decoder.decode(
        (await new Deno.Command("tshark", {
          args: [
            "-r",
            pcap,
            "-d",
            `udp.port==${port},quic`,
            "-T",
            "fields",
            "-E",
            "separator=/t",
            "-e",
            "quic.header_form",
            "-e",
            "quic.long.packet_type",
          ],
          stderr: "null",
        }).output()).stdout,
      ).trim().split("\n").map((line) => line.split("\t"));
      const names = ["Initial", "0-RTT", "Handshake", "Retry"];
      const theirs = rows.map(([forms, types]) => {
        const longTypes = (types ?? "").split(",").filter((t) => t !== "");
        return (forms ?? "").split(",").map((form, index) =>
          form === "1" ? names[Number(longTypes[index])] : "1-RTT"
        ).join("+");
      });
      deepStrictEqual(ours, theirs);
      strictEqual(ours[0], "Initial");
      ok(ours.includes("Initial+Handshake"), ours.join(" "));
    } finally {
      await new Deno.Command("rm", { args: ["-rf", dir] }).output();
    }
  },
});

Deno.test("quic: send --compare sends the same lines over TCP, TCP+TLS and QUIC and prints one table", async () => {
  await using certificate = await makeCertificate();
  await using secure = new MainProcess(
    [
      "all",
      "--tcp-port",
      "0",
      "--udp-port",
      "0",
      "--quic-port",
      "0",
      "--tls-cert",
      certificate.certFile,
      "--tls-key",
      certificate.keyFile,
    ],
    "127.0.0.1",
    undefined,
    [`--allow-read=${certificate.certFile},${certificate.keyFile}`],
  );
  await using plain = new MainProcess(["tcp", "--port", "0"]);
  const tlsPort = await secure.port("tcp");
  const quicStart = await secure.waitFor(/Starting quic server on/);
  const quicPort = Number(/127\.0\.0\.1:(\d+)/.exec(quicStart)![1]);
  const tcpPort = await plain.port("tcp");
  const { code, stdout, stderr } = await runMain(
    [
      "send",
      "--compare",
      "--tcp-port",
      String(tcpPort),
      "--tls-port",
      String(tlsPort),
      "--quic-port",
      String(quicPort),
      "--ca",
      certificate.certFile,
      "--sni",
      "localhost",
      "one",
      "two",
    ],
    "127.0.0.1",
    [`--allow-read=${certificate.certFile}`],
  );
  strictEqual(code, 0, stderr);
  const lines = stdout.trimEnd().split("\n");
  match(
    lines[0]!,
    /^transport +port +answered +connect ms +rtt min\/avg\/max ms$/,
  );
  for (
    const [index, name, port] of [
      [1, "tcp", tcpPort],
      [2, "tcp\\+tls", tlsPort],
      [3, "quic", quicPort],
    ] as const
  ) {
    match(
      lines[index]!,
      new RegExp(
        `^${name} +${port} +2/2 +\\d+\\.\\d{3} +\\d+\\.\\d{3}/\\d+\\.\\d{3}/\\d+\\.\\d{3}$`,
      ),
    );
  }
  match(lines[4]!, /^connect: TCP's handshake/);
  secure.kill("SIGTERM");
  plain.kill("SIGTERM");
  strictEqual((await secure.finished()).code, 0);
  strictEqual((await plain.finished()).code, 0);
});

Deno.test({
  name:
    `quic: bound to 0.0.0.0, a client that contacts 127.0.0.2 completes its handshake and gets its echo from there (in a namespace of the test's own)${
      namespaceSkipped === undefined ? "" : ` (${namespaceSkipped})`
    }`,
  ignore: namespaceSkipped !== undefined,
  async fn() {
    const deno = Deno.execPath();
    const main = new URL("../main.ts", import.meta.url).pathname;
    // The client's path stays 127.0.0.2 through the handshake and the echo
    // (a QUIC client does not follow its server to another address).
    const probe = `
const ca = await Deno.readTextFile(Deno.env.get("CERT"));
const conn = await Deno.connectQuic({ hostname: "127.0.0.2", port: 14433, alpnProtocols: ["echolab"], caCerts: [ca], serverName: "localhost" });
await conn.handshake;
const stream = await conn.createBidirectionalStream();
const writer = stream.writable.getWriter();
await writer.write(new TextEncoder().encode("hello\\n"));
await writer.close();
let text = "";
for await (const chunk of stream.readable) text += new TextDecoder().decode(chunk);
console.log(conn.remoteAddr.hostname, text.trim());
conn.close({ closeCode: 0, reason: "done" });
await conn.closed.catch(() => {});
conn.endpoint.close();
`;
    const lines = (await runInNamespace([
      "ip addr add 127.0.0.2/32 dev lo",
      "dir=$(mktemp -d)",
      `'${deno}' run --allow-net --allow-write=$dir/quic.pem --unstable-net '${main}' quic --host 0.0.0.0 --port 14433 --cert-out $dir/quic.pem 2>$dir/log & server=$!`,
      "for i in $(seq 50); do grep -q 'Wrote the QUIC' $dir/log 2>/dev/null && break; sleep 0.1; done",
      `CERT=$dir/quic.pem timeout 10 '${deno}' eval --unstable-net "$0"`,
      "kill $server; wait $server || true",
      "rm -rf $dir",
    ], probe)).trim().split("\n");
    deepStrictEqual(lines, ["127.0.0.2 received msg: hello"]);
  },
});
