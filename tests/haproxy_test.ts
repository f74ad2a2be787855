// Copyright 2026 the echolab authors. MIT license.
import { strictEqual } from "node:assert/strict";
import { proxyProtocol } from "../lib/proxy/mod.ts";
import { serveTcp } from "../tcp.ts";
import { freePort, waitForTcp } from "./cli_process.ts";
import { encoder, readText, writeAll } from "./net_client.ts";
import { ensureCommand } from "./system_package.ts";
import { makeCertificate } from "./tls_certificate.ts";

const skipped = await ensureCommand("haproxy", "haproxy");

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
        tls: certificate && { cert: certificate.cert, key: certificate.key },
      });
      const front = freePort();
      const haproxy = await startHaproxy(`
defaults
  mode tcp
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend echo
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
