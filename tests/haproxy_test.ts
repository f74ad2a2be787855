// Copyright 2026 the echolab authors. MIT license.
import { strictEqual } from "node:assert/strict";
import { proxyProtocol } from "../lib/proxy/mod.ts";
import { serveOps } from "../lib/ops/mod.ts";
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
defaults
  mode tcp
  timeout connect 2s
  timeout client 10s
  timeout server 10s
  timeout check 1s
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
