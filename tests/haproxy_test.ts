// Copyright 2026 the echolab authors. MIT license.
import { match, strictEqual } from "node:assert/strict";
import { connect as connectNet } from "node:net";
import { connect as connectTls } from "node:tls";
import { proxyProtocol } from "../lib/proxy/mod.ts";
import { terminateTls } from "../lib/tls/mod.ts";
import { serveOps } from "../lib/ops/mod.ts";
import { serveTcp } from "../tcp.ts";
import { freePort, waitForTcp } from "./cli_process.ts";
import { captureLogs } from "./log_capture.ts";
import { concat, decoder, encoder, readText, writeAll } from "./net_client.ts";
import { ensureCommand } from "./system_package.ts";
import { makeCertificate } from "./tls_certificate.ts";

const skipped = await ensureCommand("haproxy", "haproxy");

/** The defaults section every config here starts with. */
const DEFAULTS = `defaults
  mode tcp
  timeout connect 2s
  timeout client 10s
  timeout server 10s
`;

/** Runs HAProxy in the foreground with a config read from stdin. */
async function startHaproxy(config: string): Promise<Deno.ChildProcess> {
  const child = new Deno.Command("haproxy", {
    args: ["-f", "/dev/stdin", "-db"],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(encoder.encode(config));
  await writer.close();
  return child;
}

for (
  const [sendProxy, ssl] of [
    ["send-proxy", false],
    ["send-proxy-v2", false],
    ["send-proxy-v2", true],
  ] as const
) {
  Deno.test({
    name: `haproxy: behind HAProxy's ${sendProxy}${
      ssl ? " with ssl" : ""
    }, {peer} is the client's own address, not HAProxy's${
      skipped === undefined ? "" : ` (${skipped})`
    }`,
    ignore: skipped !== undefined,
    async fn() {
      await using certificate = ssl ? await makeCertificate() : undefined;
      await using server = serveTcp({
        port: 0,
        proxy: proxyProtocol(),
        prefix: "{peer}: ",
        tls: certificate && terminateTls({ certs: [certificate] }),
      });
      const front = freePort();
      const haproxy = await startHaproxy(`
${DEFAULTS}frontend echo
  bind 127.0.0.1:${front}
  default_backend echolab
backend echolab
  server one 127.0.0.1:${server.addr.port} ${sendProxy}${
        ssl ? ` ssl verify required ca-file ${certificate!.certFile}` : ""
      }
`);
      try {
        await waitForTcp(front);
        for (const text of ["hello", "again"]) {
          using conn = await Deno.connect({
            hostname: "127.0.0.1",
            port: front,
          });
          await writeAll(conn, encoder.encode(`${text}\n`));
          const expected = `127.0.0.1:${conn.localAddr.port}: ${text}\n`;
          strictEqual(await readText(conn, expected.length), expected);
        }
        // Every connection through HAProxy brought a valid header.
        strictEqual(server.stats().closes["bad proxy header"], undefined);
      } finally {
        haproxy.kill("SIGTERM");
        await haproxy.output();
      }
    },
  });
}

Deno.test({
  name:
    `haproxy: an instance made unready over /control/ready stops getting traffic, and gets it back${
      skipped === undefined ? "" : ` (${skipped})`
    }`,
  ignore: skipped !== undefined,
  async fn() {
    await using a = serveTcp({ port: 0, prefix: "a: " });
    await using b = serveTcp({ port: 0, prefix: "b: " });
    await using opsA = serveOps({ port: 0, servers: [a], control: {} });
    await using opsB = serveOps({ port: 0, servers: [b], control: {} });
    const front = freePort();
    const haproxy = await startHaproxy(`
${DEFAULTS}  timeout check 1s
frontend echo
  bind 127.0.0.1:${front}
  default_backend echolab
backend echolab
  balance roundrobin
  option httpchk GET /readyz
  server a 127.0.0.1:${a.addr.port} check port ${opsA.addr.port} inter 100ms fall 1 rise 1
  server b 127.0.0.1:${b.addr.port} check port ${opsB.addr.port} inter 100ms fall 1 rise 1
`);
    const served = async () => {
      const names = new Set<string>();
      for (let i = 0; i < 10; i++) {
        using conn = await Deno.connect({ hostname: "127.0.0.1", port: front });
        await writeAll(conn, encoder.encode("hi\n"));
        names.add((await readText(conn, "a: hi\n".length)).slice(0, 1));
      }
      return [...names].sort().join("");
    };
    const setReady = async (ready: boolean) => {
      const response = await fetch(
        `http://127.0.0.1:${opsB.addr.port}/control/ready`,
        { method: "PUT", body: JSON.stringify({ ready }) },
      );
      strictEqual(response.status, 200);
      await response.body?.cancel();
    };
    /** What HAProxy serves, once its checks (100 ms apart) saw the change. */
    const settled = async (expected: string) => {
      let seen = "";
      for (let tries = 0; tries < 50 && seen !== expected; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        seen = await served();
      }
      return seen;
    };
    try {
      await waitForTcp(front);
      strictEqual(await settled("ab"), "ab");
      await setReady(false);
      strictEqual(await settled("a"), "a");
      // Once ejected it stays out while unready.
      strictEqual(await served(), "a");
      await setReady(true);
      strictEqual(await settled("ab"), "ab");
    } finally {
      haproxy.kill("SIGTERM");
      await haproxy.output();
    }
  },
});

/** A TLS connection by `node:tls`, which tells its own port. */
async function tlsLine(
  port: number,
  options: { servername: string; ca: string; alpn?: string[] },
): Promise<{ reply: string; subject: string; localPort: number }> {
  // The port from the TCP socket: the TLS one does not tell it here.
  const raw = connectNet({ host: "127.0.0.1", port });
  await new Promise<void>((resolve, reject) => {
    raw.once("connect", resolve);
    raw.once("error", reject);
  });
  const localPort = raw.localPort!;
  const socket = connectTls({
    socket: raw,
    servername: options.servername,
    ca: options.ca,
    ALPNProtocols: options.alpn,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("secureConnect", resolve);
      socket.once("error", reject);
    });
    const subject = `CN=${socket.getPeerCertificate().subject.CN}`;
    const chunks: Uint8Array[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      socket.on("data", (chunk: Uint8Array) => chunks.push(chunk));
      socket.once("end", resolve);
      socket.once("error", reject);
    });
    socket.end("hi\n");
    await ended;
    return {
      reply: decoder.decode(concat(chunks)),
      subject,
      localPort,
    };
  } finally {
    socket.destroy();
    raw.destroy();
  }
}

Deno.test({
  name:
    `haproxy: routing by SNI in TCP mode with send-proxy-v2, a.example reaches instance a with a's certificate, b.example instance b${
      skipped === undefined ? "" : ` (${skipped})`
    }`,
  ignore: skipped !== undefined,
  async fn() {
    await using certA = await makeCertificate("a.example");
    await using certB = await makeCertificate("b.example");
    const instance = (name: string, cert: typeof certA) =>
      serveTcp({
        port: 0,
        proxy: proxyProtocol(),
        prefix: "{instance} {sni} {peer}: ",
        instance: name,
        tls: terminateTls({ certs: [{ names: [`${name}.example`], ...cert }] }),
      });
    await using a = instance("a", certA);
    await using b = instance("b", certB);
    const front = freePort();
    const haproxy = await startHaproxy(`
${DEFAULTS}frontend sni
  bind 127.0.0.1:${front}
  tcp-request inspect-delay 5s
  tcp-request content accept if { req.ssl_hello_type 1 }
  use_backend a if { req.ssl_sni -i a.example }
  use_backend b if { req.ssl_sni -i b.example }
backend a
  server a 127.0.0.1:${a.addr.port} send-proxy-v2
backend b
  server b 127.0.0.1:${b.addr.port} send-proxy-v2
`);
    try {
      await waitForTcp(front);
      for (const [name, cert] of [["a", certA], ["b", certB]] as const) {
        const seen = await tlsLine(front, {
          servername: `${name}.example`,
          ca: cert.cert,
        });
        strictEqual(seen.subject, `CN=${name}.example`);
        strictEqual(
          seen.reply,
          `${name} ${name}.example 127.0.0.1:${seen.localPort}: hi\n`,
        );
      }
      strictEqual(a.stats().tls_handshakes["1.3"], 1);
      strictEqual(b.stats().tls_handshakes["1.3"], 1);
    } finally {
      haproxy.kill("SIGTERM");
      await haproxy.output();
    }
  },
});

Deno.test({
  name:
    `haproxy: the TLVs of send-proxy-v2-ssl-cn with authority fill {proxy_authority} and {proxy_alpn} and the trace${
      skipped === undefined ? "" : ` (${skipped})`
    }`,
  ignore: skipped !== undefined,
  async fn() {
    await using logs = await captureLogs();
    await using certificate = await makeCertificate("a.example");
    // HAProxy takes the certificate and its key in one file.
    const combined = `${certificate.certFile}.combined`;
    await new Deno.Command("sh", {
      args: [
        "-c",
        `cat "${certificate.certFile}" "${certificate.keyFile}" > "${combined}"`,
      ],
    }).output();
    await using server = serveTcp({
      port: 0,
      proxy: proxyProtocol(),
      trace: true,
      prefix: "{proxy_authority} {proxy_alpn} {peer}: ",
    });
    const front = freePort();
    const haproxy = await startHaproxy(`
${DEFAULTS}frontend terminate
  bind 127.0.0.1:${front} ssl crt ${combined} alpn h2,http/1.1
  default_backend echolab
backend echolab
  server one 127.0.0.1:${server.addr.port} send-proxy-v2-ssl-cn proxy-v2-options authority,ssl-cipher
`);
    try {
      await waitForTcp(front);
      const seen = await tlsLine(front, {
        servername: "a.example",
        ca: certificate.cert,
        alpn: ["http/1.1"],
      });
      strictEqual(
        seen.reply,
        `a.example http/1.1 127.0.0.1:${seen.localPort}: hi\n`,
      );
      const traced = await logs.waitFor(/PROXY v2 header from/);
      match(
        traced,
        new RegExp(
          `PROXY v2 header from 127\\.0\\.0\\.1:\\d+: client 127\\.0\\.0\\.1:${seen.localPort}; authority a\\.example, alpn http/1\\.1, tls TLSv1\\.3 TLS_\\w+$`,
        ),
      );
    } finally {
      haproxy.kill("SIGTERM");
      await haproxy.output();
    }
  },
});
