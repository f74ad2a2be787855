// Copyright 2026 the echolab authors. MIT license.
import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { proxyProtocol } from "../lib/proxy/mod.ts";
import { terminateTls } from "../lib/tls/mod.ts";
import { serveTcp } from "../tcp.ts";
import { MainProcess, runMain } from "./cli_process.ts";
import {
  decoder,
  encoder,
  readBytes,
  readText,
  readToEnd,
  REPLY,
  writeAll,
} from "./net_client.ts";
import { makeCertificate } from "./tls_certificate.ts";

Deno.test("tls: echoes lines over TLS with the same behaviour", async () => {
  await using certificate = await makeCertificate();
  await using server = serveTcp({
    port: 0,
    tls: { cert: certificate.cert, key: certificate.key },
  });
  using conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: server.addr.port,
    caCerts: [certificate.cert],
  });
  await writeAll(conn, encoder.encode("secret\r\nlast"));
  strictEqual(await readText(conn, 21), `${REPLY}secret\n`);
  await conn.closeWrite();
  strictEqual(decoder.decode(await readToEnd(conn)), `${REPLY}last\n`);
});

Deno.test("tls: raw mode echoes bytes verbatim over TLS", async () => {
  await using certificate = await makeCertificate();
  await using server = serveTcp({
    port: 0,
    raw: true,
    tls: { cert: certificate.cert, key: certificate.key },
  });
  using conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: server.addr.port,
    caCerts: [certificate.cert],
  });
  const payload = new Uint8Array(50_000).map((_, i) => (i * 13) & 0xff);
  const [, echoed] = await Promise.all([
    writeAll(conn, payload),
    readBytes(conn, payload.length),
  ]);
  deepStrictEqual(echoed, payload);
});

Deno.test("tls: the CLI serves TLS and send --tls --ca talks to it", async () => {
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
    ],
    "127.0.0.1",
    undefined,
    [`--allow-read=${certificate.certFile},${certificate.keyFile}`],
  );
  const port = await server.port("tcp");
  match(
    server.lines[0]!,
    /Starting tcp server on 127\.0\.0\.1:\d+ \(TLS: certificates for any name \(default\)\)$/,
  );
  const client = await runMain(
    [
      "send",
      "--port",
      String(port),
      "--tls",
      "--ca",
      certificate.certFile,
      "hello",
      "tls",
    ],
    `127.0.0.1:${port}`,
    [`--allow-read=${certificate.certFile}`],
  );
  strictEqual(client.code, 0, client.stderr);
  const lines = client.stdout.trimEnd().split("\n");
  // What the handshake told first: no --alpn on either side, no ALPN.
  match(lines[0]!, /^tls: TLSv1\.3, cipher TLS_\w+, alpn none$/);
  strictEqual(
    lines[1],
    "certificate: CN=localhost; names DNS:localhost, IP Address:127.0.0.1",
  );
  match(lines[2]!, /^received msg: hello {2}time=\d+\.\d{3} ms$/);
  match(lines[3]!, /^received msg: tls {2}time=\d+\.\d{3} ms$/);
  strictEqual(lines[4], `--- 127.0.0.1:${port} tcp (TLS) ---`);
  match(
    lines[5]!,
    /^2 lines sent, 2 answered, 0 lost \(0\.0% loss\); 10 bytes sent, 38 bytes received$/,
  );
  // Without --ca the self-signed certificate is refused, in one line.
  const untrusted = await runMain(
    ["send", "--port", String(port), "--tls", "hello"],
    `127.0.0.1:${port}`,
  );
  strictEqual(untrusted.code, 1);
  match(
    untrusted.stderr,
    /^echolab: Cannot talk to 127\.0\.0\.1:\d+: .*\(a self-signed server needs --ca with its certificate\)\n$/,
  );
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 0);
});

Deno.test("tls: a certificate the server may not read names the --allow-read to add", async () => {
  await using certificate = await makeCertificate();
  const { code, stderr } = await runMain(
    [
      "tcp",
      "--port",
      "0",
      "--tls-cert",
      certificate.certFile,
      "--tls-key",
      certificate.keyFile,
    ],
    "127.0.0.1",
    [],
  );
  strictEqual(code, 1);
  match(
    stderr,
    new RegExp(
      `ERROR echolab: Cannot read --tls-cert ${certificate.certFile}: no read permission; re-run with --allow-read=${certificate.certFile}\\n$`,
    ),
  );
  strictEqual(stderr.trimEnd().split("\n").length, 1);
});

Deno.test("tls: all serves TLS on its TCP side and plain UDP", async () => {
  await using certificate = await makeCertificate();
  await using server = new MainProcess(
    [
      "all",
      "--quic-port",
      "0",
      "--tcp-port",
      "0",
      "--udp-port",
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
  const port = await server.port("tcp");
  await server.port("udp");
  using conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port,
    caCerts: [certificate.cert],
  });
  await writeAll(conn, encoder.encode("both\n"));
  strictEqual(await readText(conn, 19), `${REPLY}both\n`);
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 0);
});

Deno.test("tls: with the PROXY protocol, TLS follows the header, and a half-close still gets the last reply", async () => {
  await using certificate = await makeCertificate();
  await using server = serveTcp({
    port: 0,
    proxy: proxyProtocol(),
    prefix: "{peer}: ",
    tls: terminateTls({ certs: [certificate] }),
  });
  const plain = await Deno.connect(server.addr);
  await writeAll(
    plain,
    encoder.encode("PROXY TCP4 192.0.2.1 192.0.2.2 40446 8000\r\n"),
  );
  using conn = await Deno.startTls(plain, {
    hostname: "127.0.0.1",
    caCerts: [certificate.cert],
  });
  await writeAll(conn, encoder.encode("secret\nlast"));
  strictEqual(await readText(conn, 24), "192.0.2.1:40446: secret\n");
  await conn.closeWrite();
  strictEqual(
    decoder.decode(await readToEnd(conn)),
    "192.0.2.1:40446: last\n",
  );
  deepStrictEqual(server.stats().closes, { "client closed": 1 });
});

Deno.test("tls: send --tls --proxy-protocol v2 sends the header before the handshake", async () => {
  await using certificate = await makeCertificate();
  await using server = serveTcp({
    port: 0,
    proxy: proxyProtocol(),
    prefix: "[{peer}] ",
    tls: terminateTls({ certs: [certificate] }),
  });
  const { code, stdout, stderr } = await runMain(
    [
      "send",
      "--port",
      String(server.addr.port),
      "--tls",
      "--ca",
      certificate.certFile,
      "--proxy-protocol",
      "v2",
      "hello",
      "world",
    ],
    "127.0.0.1",
    [`--allow-read=${certificate.certFile}`],
  );
  strictEqual(code, 0, stderr);
  match(
    stdout,
    /^tls: .*\ncertificate: .*\n\[127\.0\.0\.1:(\d+)\] hello {2}time=.*\n\[127\.0\.0\.1:\1\] world {2}time=/,
  );
});
