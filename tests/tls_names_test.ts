// Copyright 2026 the echolab authors. MIT license.
/**
 * Certificates chosen by the client's SNI, ALPN chosen by the server's
 * preference, and their alerts; checked by clients that verify what they
 * get (echolab's own, through `node:tls`, and openssl).
 *
 * @module
 */

import {
  deepStrictEqual,
  match,
  rejects,
  strictEqual,
  throws,
} from "node:assert/strict";
import { sendMessages, type TlsPeerInfo } from "../lib/client/mod.ts";
import { serveOps } from "../lib/ops/mod.ts";
import { terminateTls } from "../lib/tls/mod.ts";
import { serveTcp } from "../tcp.ts";
import { MainProcess, runMain } from "./cli_process.ts";
import { decoder } from "./net_client.ts";
import { ensureCommand } from "./system_package.ts";
import { makeCertificate } from "./tls_certificate.ts";

/** One line sent with TLS; what the handshake told, and the reply. */
async function ask(
  port: number,
  options: { serverName?: string; alpn?: string[]; ca: string },
): Promise<{ info: TlsPeerInfo; reply: string }> {
  let info: TlsPeerInfo | undefined;
  let reply = "";
  await sendMessages(["hi"], {
    transport: "tcp",
    hostname: "127.0.0.1",
    port,
    tls: true,
    caCerts: [options.ca],
    serverName: options.serverName,
    alpn: options.alpn,
    onTls: (told) => info = told,
  }, (event) => reply = decoder.decode(event.reply));
  return { info: info!, reply };
}

Deno.test("tls names: each SNI gets its certificate, a wildcard one label, any other the default", async () => {
  await using a = await makeCertificate("a.example");
  await using b = await makeCertificate("*.b.example");
  await using fallback = await makeCertificate();
  await using server = serveTcp({
    port: 0,
    prefix: "{sni}: ",
    tls: terminateTls({
      certs: [
        { names: ["A.Example"], cert: a.cert, key: a.key },
        { names: ["*.b.example"], cert: b.cert, key: b.key },
        fallback,
      ],
    }),
  });
  const port = server.addr.port;
  // Each client checks the certificate against the name it asked for.
  const first = await ask(port, { serverName: "a.example", ca: a.cert });
  strictEqual(first.info.subject, "CN=a.example");
  deepStrictEqual(first.info.names, ["DNS:a.example"]);
  strictEqual(first.reply, "a.example: hi");
  // Matched without regard to case; the SNI is reported as sent.
  const upper = await ask(port, { serverName: "A.EXAMPLE", ca: a.cert });
  strictEqual(upper.info.subject, "CN=a.example");
  strictEqual(upper.reply, "A.EXAMPLE: hi");
  const wild = await ask(port, { serverName: "x.b.example", ca: b.cert });
  strictEqual(wild.info.subject, "CN=*.b.example");
  // Two labels below b.example, or b.example itself: the default.
  for (const name of ["y.x.b.example", "b.example", "c.example"]) {
    await rejects(
      ask(port, { serverName: name, ca: fallback.cert }),
      /altnames|does not match/,
    );
  }
  const none = await ask(port, { ca: fallback.cert });
  strictEqual(none.info.subject, "CN=localhost");
  strictEqual(none.reply, ": hi");
  deepStrictEqual(server.stats().tls_handshakes, { "1.3": 7 });
});

Deno.test("tls names: the server's ALPN preference wins; none offered means none; none in common fails", async () => {
  await using certificate = await makeCertificate();
  await using server = serveTcp({
    port: 0,
    prefix: "[{alpn}] ",
    tls: terminateTls({ certs: [certificate], alpn: ["h2", "http/1.1"] }),
  });
  const port = server.addr.port;
  const ca = certificate.cert;
  const both = await ask(port, { alpn: ["http/1.1", "h2"], ca });
  strictEqual(both.info.alpn, "h2");
  strictEqual(both.reply, "[h2] hi");
  const one = await ask(port, { alpn: ["http/1.1"], ca });
  strictEqual(one.info.alpn, "http/1.1");
  const none = await ask(port, { ca });
  strictEqual(none.info.alpn, "");
  strictEqual(none.reply, "[] hi");
  await rejects(ask(port, { alpn: ["x"], ca }));
  deepStrictEqual(server.stats().closes["tls handshake failed"], 1);
  // Without alpn, the server chooses none, whatever is offered.
  await using plain = serveTcp({
    port: 0,
    prefix: "[{alpn}] ",
    tls: terminateTls({ certs: [certificate] }),
  });
  const ignored = await ask(plain.addr.port, { alpn: ["h2"], ca });
  strictEqual(ignored.info.alpn, "");
  strictEqual(ignored.reply, "[] hi");
});

Deno.test("tls names: bad certificate tables are refused with the reason", () => {
  const cert = "x";
  const key = "y";
  throws(() => terminateTls({ certs: [] }), /at least one certificate/);
  throws(
    () => terminateTls({ certs: [{ cert, key }, { cert, key }] }),
    /two default certificates/,
  );
  throws(
    () =>
      terminateTls({
        certs: [{ names: ["a.example"], cert, key }, {
          names: ["A.example"],
          cert,
          key,
        }],
      }),
    /the name a\.example is given twice/,
  );
  throws(
    () => terminateTls({ certs: [{ names: ["a b"], cert, key }] }),
    /"a b" is not a host name or \*\.domain/,
  );
  throws(
    () => terminateTls({ certs: [{ cert, key }], alpn: [""] }),
    /must be 1 to 255 bytes/,
  );
});

const openssl = await ensureCommand("openssl", "openssl");

/** openssl s_client's stdout and stderr, given `input` (5 s at most). */
async function sClient(
  port: number,
  flags: string[],
  input = "",
): Promise<{ stdout: string; stderr: string }> {
  const child = new Deno.Command("timeout", {
    args: [
      "5",
      "openssl",
      "s_client",
      "-connect",
      `127.0.0.1:${port}`,
      ...flags,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const output = await child.output();
  return {
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** What openssl printed, for the alert it got. */
async function opensslAlert(port: number, flags: string[]): Promise<string> {
  const { stdout, stderr } = await sClient(port, flags);
  return stdout + stderr;
}

Deno.test({
  name:
    `tls names: openssl gets alert 112 for a name without a certificate and no default, and 120 for no common ALPN${
      openssl === undefined ? "" : ` (${openssl})`
    }`,
  ignore: openssl !== undefined,
  async fn() {
    await using a = await makeCertificate("a.example");
    await using server = serveTcp({
      port: 0,
      tls: terminateTls({
        certs: [{ names: ["a.example"], cert: a.cert, key: a.key }],
        alpn: ["h2"],
      }),
    });
    const port = server.addr.port;
    match(
      await opensslAlert(port, ["-servername", "c.example"]),
      /SSL alert number 112/,
    );
    match(
      await opensslAlert(port, ["-servername", "a.example", "-alpn", "x,y"]),
      /SSL alert number 120/,
    );
    // The name with a certificate, and ALPN in common, completes.
    match(
      await opensslAlert(port, ["-servername", "a.example", "-alpn", "h2"]),
      /ALPN protocol: h2/,
    );
    deepStrictEqual(server.stats().closes, {
      "tls handshake failed": 2,
      "client closed": 1,
    });
  },
});

Deno.test("tls names: /metrics counts handshakes by TLS version", async () => {
  await using certificate = await makeCertificate();
  await using server = serveTcp({
    port: 0,
    tls: terminateTls({ certs: [certificate] }),
  });
  await using ops = serveOps({ port: 0, servers: [server] });
  await ask(server.addr.port, { ca: certificate.cert });
  await ask(server.addr.port, { ca: certificate.cert });
  const response = await fetch(`http://127.0.0.1:${ops.addr.port}/metrics`);
  const text = await response.text();
  match(
    text,
    new RegExp(
      `^echolab_tls_handshakes_total\\{version="1\\.3",address="127\\.0\\.0\\.1:${server.addr.port}"\\} 2$`,
      "m",
    ),
  );
});

Deno.test("tls names: the CLI takes --tls-cert NAME=FILE and --alpn; send --sni --alpn prints what the handshake chose", async () => {
  await using a = await makeCertificate("a.example");
  await using fallback = await makeCertificate();
  const files = [a.certFile, a.keyFile, fallback.certFile, fallback.keyFile];
  await using server = new MainProcess(
    [
      "tcp",
      "--port",
      "0",
      "--tls-cert",
      fallback.certFile,
      "--tls-key",
      fallback.keyFile,
      "--tls-cert",
      `a.example=${a.certFile}`,
      "--tls-key",
      `a.example=${a.keyFile}`,
      "--alpn",
      "h2,http/1.1",
      "--prefix",
      "{sni} {alpn} {tls}: ",
    ],
    "127.0.0.1",
    undefined,
    [`--allow-read=${files.join(",")}`],
  );
  const port = await server.port("tcp");
  match(
    server.lines[0]!,
    /\(TLS: certificates for any name \(default\), a\.example, ALPN h2, http\/1\.1\)$/,
  );
  const client = await runMain(
    [
      "send",
      "--port",
      String(port),
      "--tls",
      "--ca",
      a.certFile,
      "--sni",
      "a.example",
      "--alpn",
      "http/1.1",
      "hello",
    ],
    `127.0.0.1:${port}`,
    [`--allow-read=${a.certFile}`],
  );
  strictEqual(client.code, 0, client.stderr);
  const lines = client.stdout.split("\n");
  match(lines[0]!, /^tls: TLSv1\.3, cipher TLS_\w+, alpn http\/1\.1$/);
  strictEqual(lines[1], "certificate: CN=a.example; names DNS:a.example");
  match(lines[2]!, /^a\.example http\/1\.1 TLSv1\.3: hello {2}time=/);
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 0);
});

Deno.test("tls names: TLS usage errors name the flag, exit 2", async () => {
  const cases: [string[], string][] = [
    [
      ["tcp", "--tls-cert", "a.example=a.pem", "--tls-key", "k.pem"],
      "Flags --tls-cert and --tls-key go together: --tls-cert a.example=FILE needs --tls-key a.example=FILE",
    ],
    [
      [
        "tcp",
        "--tls-cert",
        "a.pem",
        "--tls-key",
        "k.pem",
        "--tls-cert",
        "b.pem",
      ],
      "Flag --tls-cert FILE is given twice: one default certificate; name the others NAME=FILE",
    ],
    [["tcp", "--alpn", "h2"], "Flag --alpn needs --tls-cert (or mode quic)"],
    [["send", "--sni", "a.example", "hi"], "Flag --sni needs --tls or --quic"],
    [
      ["send", "--tls", "--alpn", "h2,", "hi"],
      'Invalid --alpn "h2,": expected protocol names of 1 to 255 bytes, comma-separated (h2,http/1.1)',
    ],
  ];
  for (const [args, message] of cases) {
    const { code, stderr } = await runMain(args, "127.0.0.1");
    strictEqual(code, 2, args.join(" "));
    strictEqual(stderr, `echolab: ${message} (see --help)\n`);
  }
});

Deno.test({
  name:
    `tls names: the server's close (an idle timeout) sends TLS's close_notify first, as openssl sees it${
      openssl === undefined ? "" : ` (${openssl})`
    }`,
  ignore: openssl !== undefined,
  async fn() {
    await using certificate = await makeCertificate();
    await using server = serveTcp({
      port: 0,
      timeout: 300,
      tls: terminateTls({ certs: [certificate] }),
    });
    const { stdout: text } = await sClient(
      server.addr.port,
      ["-msg", "-ign_eof"],
      "hello\n",
    );
    match(text, /received msg: hello/);
    match(text, /<<< TLS 1\.3, Alert \[length 0002\], warning close_notify/);
    match(text, /^closed$/m);
    deepStrictEqual(server.stats().closes, { "idle timeout": 1 });
  },
});

Deno.test("tls names: with --log-format json, the tls hello trace line carries sni, alpnOffered, versions and ja4 as fields", async () => {
  await using certificate = await makeCertificate();
  await using server = new MainProcess(
    [
      "tcp",
      "--port",
      "0",
      "--tls-cert",
      certificate.certFile,
      "--tls-key",
      certificate.keyFile,
      "--trace",
      "--log-format",
      "json",
    ],
    "127.0.0.1",
    undefined,
    [`--allow-read=${certificate.certFile},${certificate.keyFile}`],
  );
  const started = JSON.parse(await server.waitFor(/Starting tcp server/));
  const port = Number(/:(\d+) \(TLS/.exec(started.message)![1]);
  await ask(port, {
    serverName: "localhost",
    alpn: ["h2", "http/1.1"],
    ca: certificate.cert,
  });
  const line = JSON.parse(await server.waitFor(/tls hello from/));
  strictEqual(line.sni, "localhost");
  deepStrictEqual(line.alpnOffered, ["h2", "http/1.1"]);
  deepStrictEqual(line.versions, ["TLSv1.3", "TLSv1.2"]);
  match(line.ja4, /^t13d\d{4}h2_[0-9a-f]{12}_[0-9a-f]{12}$/);
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 0);
});
