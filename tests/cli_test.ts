// Copyright 2026 the echolab authors. MIT license.
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { describeStartError } from "../cli/start_error.ts";
import { USAGE } from "../cli/usage.ts";
import { flagDifferences } from "../tools/check_flags.ts";
import { isRoot } from "../deploy/containers.ts";
import { namespaceSkipped, runInNamespace } from "./namespace.ts";
import { ensureCommand } from "./system_package.ts";
import { freePort, MainProcess, runMain, waitForTcp } from "./cli_process.ts";
import {
  decoder,
  delay,
  encoder,
  exchange,
  readText,
  readToEnd,
  REPLY,
  udpClient,
  writeAll,
} from "./net_client.ts";

Deno.test("cli: --help prints every flag and exits 0", async () => {
  const { code, stdout, stderr } = await runMain(["--help"]);
  strictEqual(code, 0);
  strictEqual(stderr, "");
  strictEqual(stdout, USAGE);
  const readme = await Deno.readTextFile(
    new URL("../README.md", import.meta.url),
  );
  const flags = [...new Set(USAGE.match(/--[a-z][a-z-]+/g))];
  for (const flag of flags) {
    ok(readme.includes(`\`${flag}`), `README lacks ${flag}`);
  }
  for (const flag of ["--timeout", "--buffer-size", "--raw", "--log-format"]) {
    ok(flags.includes(flag));
  }
});

Deno.test("cli: --version prints the version from deno.json", async () => {
  const { version } = JSON.parse(
    await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  );
  const { code, stdout } = await runMain(["--version"]);
  strictEqual(code, 0);
  strictEqual(stdout, `echolab ${version}\n`);
});

const USAGE_ERRORS: [string[], string][] = [
  [[], "Missing mode: expected tcp, udp, quic, all, lab or send"],
  [["http"], 'Unknown mode "http": expected tcp, udp, quic, all, lab or send'],
  [["tcp", "extra"], 'Unexpected argument "extra" after mode tcp'],
  [["tcp", "--bogus"], "Unknown flag --bogus"],
  [["tcp", "-x"], "Unknown flag -x"],
  [["tcp", "--port"], "Missing value for --port"],
  [
    ["tcp", "--port", "abc"],
    'Invalid --port "abc": expected a whole number from 0 to 65535',
  ],
  [
    ["tcp", "--port", "65536"],
    'Invalid --port "65536": expected a whole number from 0 to 65535',
  ],
  [
    ["tcp", "--port=-1"],
    'Invalid --port "-1": expected a whole number from 0 to 65535',
  ],
  [
    ["tcp", "--port", ""],
    'Invalid --port "": expected a whole number from 0 to 65535',
  ],
  [
    ["all", "--tcp-port", "1e3"],
    'Invalid --tcp-port "1e3": expected a whole number from 0 to 65535',
  ],
  [
    ["all", "--udp-port", "x"],
    'Invalid --udp-port "x": expected a whole number from 0 to 65535',
  ],
  [
    ["tcp", "--timeout", "-1"],
    'Invalid --timeout "-1": expected seconds from 0 to 2147483 (decimals allowed, 0 = off)',
  ],
  [
    ["tcp", "--timeout", "soon"],
    'Invalid --timeout "soon": expected seconds from 0 to 2147483 (decimals allowed, 0 = off)',
  ],
  [
    ["tcp", "--lifetime", "99999999"],
    'Invalid --lifetime "99999999": expected seconds from 0 to 2147483 (decimals allowed, 0 = off)',
  ],
  [
    ["tcp", "--max-line", "0"],
    'Invalid --max-line "0": expected a whole number from 1 to 1073741824',
  ],
  [
    ["tcp", "--max-connections", "-5"],
    'Invalid --max-connections "-5": expected a whole number from 0 to 1000000',
  ],
  [
    ["udp", "--buffer-size", "65508"],
    'Invalid --buffer-size "65508": expected a whole number from 1 to 65507',
  ],
  [
    ["udp", "--buffer-size", "1.5"],
    'Invalid --buffer-size "1.5": expected a whole number from 1 to 65507',
  ],
  [
    ["tcp", "--log-level", "loud"],
    'Invalid --log-level "loud": expected one of debug, info, warning, error',
  ],
  [
    ["tcp", "--log-format", "xml"],
    'Invalid --log-format "xml": expected one of text, json',
  ],
  [
    ["tcp", "--host", "300.1.1.1"],
    'Invalid --host "300.1.1.1": expected an IPv4 address, an IPv6 address or a host name',
  ],
  [
    ["tcp", "--host", "::g"],
    'Invalid --host "::g": expected an IPv4 address, an IPv6 address or a host name',
  ],
  [
    ["tcp", "--host", "bad host"],
    'Invalid --host "bad host": expected an IPv4 address, an IPv6 address or a host name',
  ],
  [["tcp", "--raw=yes"], "Flag --raw takes no value"],
  [
    ["tcp", "--timeout", ""],
    'Invalid --timeout "": expected seconds from 0 to 2147483 (decimals allowed, 0 = off)',
  ],
  [
    ["tcp", "--max-line", "99999999999999999999"],
    'Invalid --max-line "99999999999999999999": expected a whole number from 1 to 1073741824',
  ],
  [
    ["tcp", "--host", ""],
    'Invalid --host "": expected an IPv4 address, an IPv6 address or a host name',
  ],
  [
    ["tcp", "--host", "[::1"],
    'Invalid --host "[::1": expected an IPv4 address, an IPv6 address or a host name',
  ],
  [
    ["tcp", "--max-per-source", "-1"],
    'Invalid --max-per-source "-1": expected a whole number from 0 to 1000000',
  ],
  [
    ["tcp", "--max-per-source", "many"],
    'Invalid --max-per-source "many": expected a whole number from 0 to 1000000',
  ],
  [
    ["udp", "--udp-rate", "fast"],
    'Invalid --udp-rate "fast": expected a whole number from 0 to 1000000000',
  ],
  [
    ["udp", "--udp-rate", "10000000000"],
    'Invalid --udp-rate "10000000000": expected a whole number from 0 to 1000000000',
  ],
  [
    ["tcp", "--allow", ""],
    'Invalid --allow: "" is not an IPv4 or IPv6 range such as 127.0.0.0/8 or ::1/128',
  ],
  [
    ["tcp", "--allow", "10.0.0.0/33"],
    'Invalid --allow: "10.0.0.0/33" is not an IPv4 or IPv6 range such as 127.0.0.0/8 or ::1/128',
  ],
  [
    ["udp", "--allow", "127.0.0.0/8,fe80::/129"],
    'Invalid --allow: "fe80::/129" is not an IPv4 or IPv6 range such as 127.0.0.0/8 or ::1/128',
  ],
  [
    ["tcp", "--allow", "127.1/8"],
    'Invalid --allow: "127.1/8" is not an IPv4 or IPv6 range such as 127.0.0.0/8 or ::1/128',
  ],
  [
    ["tcp", "--allow", "::1/128,localhost"],
    'Invalid --allow: "localhost" is not an IPv4 or IPv6 range such as 127.0.0.0/8 or ::1/128',
  ],
  [
    ["tcp", "--workers", "0"],
    'Invalid --workers "0": expected a whole number from 1 to 256',
  ],
  [
    ["udp", "--workers", "2"],
    "Flag --workers does not apply to mode udp: it is for tcp, all and lab",
  ],
  [
    ["send", "--count", "0", "x"],
    'Invalid --count "0": expected a whole number from 1 to 1000000',
  ],
  [
    ["send", "--interval", "-1", "x"],
    'Invalid --interval "-1": expected seconds from 0 to 2147483 (decimals allowed, 0 = off)',
  ],
  [
    ["send", "--wait", "later", "x"],
    'Invalid --wait "later": expected seconds from 0 to 2147483 (decimals allowed, 0 = off)',
  ],
  [
    ["send", "--udp", "--tls", "x"],
    "Flag --tls is for TCP: drop --udp or drop it",
  ],
  [["send", "--ca", "ca.pem", "x"], "Flag --ca needs --tls or --quic"],
  [
    ["send", "--raw", "x"],
    "Flag --raw does not apply to mode send: it is for tcp, udp, quic, all and lab",
  ],
  [["tcp", "--udp"], "Flag --udp does not apply to mode tcp: it is for send"],
  [
    ["tcp", "--tls-cert", "cert.pem"],
    "Flags --tls-cert and --tls-key go together: --tls-cert FILE needs --tls-key FILE",
  ],
  [
    ["udp", "--tls-key", "key.pem"],
    "Flag --tls-key does not apply to mode udp: it is for tcp, quic, all and lab",
  ],
  [
    ["tcp", "--tls-cert", "", "--tls-key", "k"],
    'Invalid --tls-cert "": expected a file path',
  ],
  [
    ["tcp", "--no-loop-guard"],
    "Flag --no-loop-guard does not apply to mode tcp: it is for udp, all and lab",
  ],
  [
    ["udp", "--max-per-source", "3"],
    "Flag --max-per-source does not apply to mode udp: it is for tcp, quic, all and lab",
  ],
  [
    ["udp", "--timeout", "5"],
    "Flag --timeout does not apply to mode udp: it is for tcp, quic, all and lab",
  ],
  [
    ["tcp", "--buffer-size", "5"],
    "Flag --buffer-size does not apply to mode tcp: it is for udp, all, lab and quic",
  ],
  [
    ["all", "--port", "1"],
    "Flag --port does not apply to mode all: it is for tcp, udp, quic and send",
  ],
];

Deno.test("cli: every usage error exits 2 with one line naming the fix", async () => {
  // A few at a time: each is a whole Deno process.
  for (let start = 0; start < USAGE_ERRORS.length; start += 6) {
    const batch = USAGE_ERRORS.slice(start, start + 6);
    const results = await Promise.all(batch.map(([args]) => runMain(args)));
    batch.forEach(([args, message], i) => {
      const { code, stdout, stderr } = results[i]!;
      strictEqual(code, 2, args.join(" "));
      strictEqual(stdout, "");
      strictEqual(stderr, `echolab: ${message} (see --help)\n`, args.join(" "));
    });
  }
});

Deno.test("cli: a port in use fails at start with one line and exit 1", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = taken.addr.port;
  const { code, stdout, stderr } = await runMain([
    "tcp",
    "--port",
    String(port),
  ]);
  strictEqual(code, 1);
  strictEqual(stdout, "");
  const lines = stderr.trimEnd().split("\n");
  strictEqual(lines.length, 1, stderr);
  match(
    lines[0]!,
    new RegExp(
      `ERROR echolab: Cannot start the tcp server on 127\\.0\\.0\\.1:${port}: the address is already in use; stop the other program or choose another --port$`,
    ),
  );
});

Deno.test("cli: a missing permission names the exact --allow-net to add", async () => {
  const { code, stderr } = await runMain(
    ["tcp", "--port", "8123"],
    "127.0.0.1:1",
  );
  strictEqual(code, 1);
  match(
    stderr,
    /no network permission; re-run with --allow-net=127\.0\.0\.1:8123\n$/,
  );
  strictEqual(stderr.trimEnd().split("\n").length, 1);
  const udp = await runMain(["udp", "--port", "0"], "127.0.0.1:1");
  strictEqual(udp.code, 1);
  match(udp.stderr, /re-run with --allow-net=127\.0\.0\.1\n$/);
});

Deno.test("cli: an address this machine does not have fails at start with exit 1", async () => {
  // 192.0.2.0/24 is TEST-NET-1: never assigned to a real interface.
  const { code, stderr } = await runMain(
    ["tcp", "--host", "192.0.2.1", "--port", "8000"],
    "192.0.2.1:8000",
  );
  strictEqual(code, 1);
  match(
    stderr,
    /ERROR echolab: Cannot start the tcp server on 192\.0\.2\.1:8000: this machine has no such address; choose one of its own with --host \(e\.g\. 127\.0\.0\.1\)\n$/,
  );
  strictEqual(stderr.trimEnd().split("\n").length, 1);
});

Deno.test("cli: a udp reply without send permission is logged once per host and serving goes on", async () => {
  // A free port, so the grant can name it alone.
  const probe = udpClient();
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  await using server = new MainProcess(
    ["udp", "--port", String(port)],
    `127.0.0.1:${port}`,
  );
  await server.port("udp");
  const client = udpClient();
  try {
    const to = { transport: "udp" as const, hostname: "127.0.0.1", port };
    for (const text of ["one", "two", "three"]) {
      await client.send(encoder.encode(text), to);
      await server.waitFor(
        new RegExp(`Receiving data: ${text.slice(0, 5)} from`),
      );
    }
  } finally {
    client.close();
  }
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 0);
  const refused = server.lines.filter((line) => line.includes("Cannot answer"));
  strictEqual(refused.length, 1, server.lines.join("\n"));
  match(
    refused[0]!,
    /WARN {2}echolab\.udp: Cannot answer 127\.0\.0\.1:\d+: no permission to send to it; re-run with --allow-net=127\.0\.0\.1 \(or a range such as 127\.0\.0\.0\/8\)$/,
  );
});

Deno.test("cli: binding beyond loopback warns that the server is reachable", async () => {
  await using server = new MainProcess(
    ["tcp", "--host", "0.0.0.0", "--port", "0", "--allow", "127.0.0.0/8"],
    "0.0.0.0",
  );
  const port = await server.port("tcp");
  match(
    await server.waitFor(/reachable/),
    new RegExp(
      `WARN {2}echolab\\.tcp: The server on 0\\.0\\.0\\.0:${port} is reachable from the network: only 127\\.0\\.0\\.0/8 may use it \\(restrict with --allow, or bind --host 127\\.0\\.0\\.1\\)$`,
    ),
  );
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(conn, encoder.encode("lan\n"));
  strictEqual(await readText(conn, 18), `${REPLY}lan\n`);
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 0);
});

Deno.test("cli: running out of file descriptors backs off and keeps accepting", async () => {
  await using server = new MainProcess(["tcp", "--port", "0"], "127.0.0.1", 40);
  const port = await server.port("tcp");
  const conns: Deno.Conn[] = [];
  try {
    // More connections than the server has descriptors left for.
    for (let i = 0; i < 40; i++) {
      conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    }
    match(
      await server.waitFor(/Cannot accept/),
      /ERROR echolab\.tcp: Cannot accept connections: Too many open files \(os error 24\); retrying with backoff up to 1000 ms$/,
    );
  } finally {
    for (const conn of conns) conn.close();
  }
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(conn, encoder.encode("back\n"));
  strictEqual(await readText(conn, 19), `${REPLY}back\n`);
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 0);
});

Deno.test("cli: ports below 1024 refused by the OS get a higher port suggested", () => {
  strictEqual(
    describeStartError(new Deno.errors.PermissionDenied("Permission denied"), {
      transport: "tcp",
      hostname: "127.0.0.1",
      port: 80,
      portFlag: "--port",
    }),
    "Cannot start the tcp server on 127.0.0.1:80: the operating system does not let this user bind ports below 1024; choose a port from 1024 up, e.g. --port 8080",
  );
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`cli: ${signal} closes connections and exits 0`, async () => {
    await using server = new MainProcess(["tcp", "--port", "0"]);
    const port = await server.port("tcp");
    using conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await writeAll(conn, encoder.encode("hello\n"));
    strictEqual(await readText(conn, 20), `${REPLY}hello\n`);
    server.kill(signal);
    strictEqual((await readToEnd(conn)).length, 0);
    const { code } = await server.finished();
    strictEqual(code, 0);
    match(
      server.lines.join("\n"),
      new RegExp(`Received ${signal}: shutting down`),
    );
    match(
      server.lines.join("\n"),
      /Closed connection from 127\.0\.0\.1:\d+: shutdown, 1 lines/,
    );
    match(server.lines.at(-2)!, /Stopped tcp server on 127\.0\.0\.1:\d+$/);
    match(
      server.lines.at(-1)!,
      /INFO {2}echolab\.stats: Stats of the tcp server on 127\.0\.0\.1:\d+: connections_total=1 connections_open=0 connections_peak=1 lines_in=1 lines_out=1 datagrams_in=0 datagrams_out=0 bytes_in=6 bytes_out=20 truncated=0; closes: shutdown=1; drops: none$/,
    );
    // Loopback is the default, and nothing warns about it.
    strictEqual(server.lines.some((line) => line.includes("reachable")), false);
  });
}

Deno.test("cli: the same signal delivered twice at once still stops gracefully", async () => {
  await using server = new MainProcess(["tcp", "--port", "0"]);
  await server.port("tcp");
  // What `timeout` and task runners do: the process and its group both get it.
  server.kill("SIGTERM");
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 0);
  match(server.lines.join("\n"), /Stopped tcp server/);
});

Deno.test("cli: udp answers like the seed and stops on SIGTERM", async () => {
  await using server = new MainProcess(["udp", "--port", "0"]);
  const port = await server.port("udp");
  const client = udpClient();
  try {
    const reply = await exchange(client, {
      transport: "udp",
      hostname: "127.0.0.1",
      port,
    }, "hello world\n");
    strictEqual(decoder.decode(reply), "received msg: hello\n");
  } finally {
    client.close();
  }
  await server.waitFor(/Receiving data: hello from/);
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 0);
  match(
    server.lines.join("\n"),
    /WARN {2}echolab\.udp: Truncated datagram from 127\.0\.0\.1:\d+ from 12 to 5 bytes/,
  );
});

Deno.test("cli: all runs both servers in one process", async () => {
  await using server = new MainProcess([
    "all",
    "--quic-port",
    "0",
    "--tcp-port",
    "0",
    "--udp-port",
    "0",
    "--buffer-size",
    "64",
  ]);
  const tcpPort = await server.port("tcp");
  const udpPort = await server.port("udp");
  using conn = await Deno.connect({ hostname: "127.0.0.1", port: tcpPort });
  await writeAll(conn, encoder.encode("over tcp\n"));
  strictEqual(await readText(conn, 23), `${REPLY}over tcp\n`);
  const client = udpClient();
  try {
    const reply = await exchange(client, {
      transport: "udp",
      hostname: "127.0.0.1",
      port: udpPort,
    }, "over udp");
    strictEqual(decoder.decode(reply), `${REPLY}over udp\n`);
  } finally {
    client.close();
  }
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 0);
  ok(server.lines.some((line) => /Stopped udp server/.test(line)));
  ok(server.lines.some((line) => /Stopped tcp server/.test(line)));
});

Deno.test("cli: with --log-format json every line is one JSON object", async () => {
  await using server = new MainProcess([
    "tcp",
    "--port",
    "0",
    "--log-format",
    "json",
    "--log-level",
    "debug",
  ]);
  const port = await server.port("tcp");
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(conn, encoder.encode("json \x1b[31m\n"));
  await readText(conn, 25);
  await conn.closeWrite();
  await readToEnd(conn);
  await server.waitFor(/Closed connection/);
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 0);
  const records = server.lines.map((line) => JSON.parse(line));
  const shape = (message: string) =>
    message.replace(/\d+/g, "N").replace("N.N s", "N s");
  deepStrictEqual(records.map((record) => shape(record.message)), [
    "Starting tcp server on N.N.N.N:N",
    "Accepted connection from N.N.N.N:N",
    "Receiving data: json \x1b[Nm from N.N.N.N:N",
    "Sending data.. N bytes to N.N.N.N:N",
    "Complete Sending data.. N bytes to N.N.N.N:N",
    "Closed connection from N.N.N.N:N: client closed, N lines, N bytes in, N bytes out, N s",
    "Received SIGTERM: shutting down",
    "Stopped tcp server on N.N.N.N:N",
    "Stats of the tcp server on N.N.N.N:N: connections_total=N connections_open=N connections_peak=N lines_in=N lines_out=N datagrams_in=N datagrams_out=N bytes_in=N bytes_out=N truncated=N; closes: client closed=N; drops: none",
  ]);
  strictEqual(records.at(-1).lines_in, 1);
  deepStrictEqual(records.at(-1).closes, { "client closed": 1 });
  strictEqual(
    records[2].message,
    `Receiving data: json \x1b[31m from 127.0.0.1:${
      (conn.localAddr as Deno.NetAddr).port
    }`,
  );
  strictEqual(records[5].reason, "client closed");
  strictEqual(records[2].level, "info");
  strictEqual(records[2].logger, "echolab.tcp");
  match(records[2].time, /^\d{4}-\d\d-\d\dT/);
});

Deno.test("cli: text logs escape control characters so one record stays one line", async () => {
  await using server = new MainProcess(["tcp", "--port", "0"]);
  const port = await server.port("tcp");
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(conn, encoder.encode("fake\rINFO forged\x1b[2J\n"));
  await readText(conn, 35);
  const line = await server.waitFor(/Receiving data/);
  match(
    line,
    /Receiving data: fake\\rINFO forged\\x1b\[2J from 127\.0\.0\.1:\d+$/,
  );
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 0);
});

Deno.test("cli: serves IPv6 with --host ::1 and the matching grant", async () => {
  await using server = new MainProcess(
    ["tcp", "--host", "::1", "--port", "0"],
    "[::1]",
  );
  const port = await server.port("tcp");
  using conn = await Deno.connect({ hostname: "::1", port });
  await writeAll(conn, encoder.encode("v6\n"));
  strictEqual(await readText(conn, 17), `${REPLY}v6\n`);
  match(server.lines[0]!, /Starting tcp server on \[::1\]:\d+$/);
  server.kill("SIGINT");
  strictEqual((await server.finished()).code, 0);
});

Deno.test("cli: a second signal exits at once while a write is stuck", async () => {
  await using server = new MainProcess([
    "tcp",
    "--port",
    "0",
    "--timeout",
    "0",
  ]);
  const port = await server.port("tcp");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  // Send lines and never read: the server's reply write blocks.
  const chunk = encoder.encode("x".repeat(1000) + "\n").slice();
  let lastProgress = performance.now();
  const flood = (async () => {
    try {
      for (let i = 0; i < 100_000; i++) {
        await writeAll(conn, chunk);
        lastProgress = performance.now();
      }
    } catch {
      // The server went away.
    }
  })();
  // Wait until the flood is stuck: no write of ours got through for 300 ms.
  await server.waitFor(/Receiving data/);
  while (performance.now() - lastProgress < 300) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  server.kill("SIGTERM");
  await server.waitFor(/Received SIGTERM/);
  await new Promise((resolve) => setTimeout(resolve, 300));
  server.kill("SIGTERM");
  const { code } = await server.finished();
  strictEqual(code, 143);
  match(server.lines.join("\n"), /Received SIGTERM again: exiting at once/);
  conn.close();
  await flood;
});

Deno.test("cli: SIGUSR1 prints the counters while running, whatever the log level", async () => {
  const port = freePort();
  await using server = new MainProcess([
    "tcp",
    "--port",
    String(port),
    "--log-level",
    "error",
  ]);
  await waitForTcp(port);
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(conn, encoder.encode("count me\n"));
  await readText(conn, 23);
  server.kill("SIGUSR1");
  match(
    await server.waitFor(/Stats of/),
    new RegExp(
      `INFO {2}echolab\\.stats: Stats of the tcp server on 127\\.0\\.0\\.1:${port}: connections_total=2 connections_open=1 connections_peak=[12] lines_in=1 lines_out=1 .*closes: client closed=1; drops: none$`,
    ),
  );
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 0);
});

Deno.test("cli: --workers 2 shares the port between two accept loops and stops cleanly", async () => {
  const root = new URL("../", import.meta.url).pathname;
  await using server = new MainProcess(
    ["tcp", "--port", "0", "--workers", "2"],
    "127.0.0.1",
    undefined,
    [`--allow-read=${root}`],
  );
  const port = await server.port("tcp");
  // Both loops log their start; then every connection is answered.
  await server.waitFor(/Starting tcp server.*\n?.*/);
  const conns = await Promise.all(
    Array.from(
      { length: 20 },
      () => Deno.connect({ hostname: "127.0.0.1", port }),
    ),
  );
  try {
    const replies = await Promise.all(conns.map(async (conn, i) => {
      await writeAll(conn, encoder.encode(`w${i}\n`));
      return await readText(conn, REPLY.length + `w${i}`.length + 1);
    }));
    deepStrictEqual(replies, conns.map((_, i) => `${REPLY}w${i}\n`));
  } finally {
    for (const conn of conns) conn.close();
  }
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 0);
  strictEqual(
    server.lines.filter((l) => l.includes("Starting tcp server")).length,
    2,
  );
  // The counters printed at shutdown add up both loops.
  match(
    server.lines.at(-1)!,
    /Stats of the tcp server .*connections_total=20 .*lines_in=20 lines_out=20 /,
  );
});

Deno.test("cli: --workers without read access to echolab's files says which --allow-read to add", async () => {
  const root = new URL("../", import.meta.url).pathname;
  const { code, stderr } = await runMain([
    "tcp",
    "--port",
    "0",
    "--workers",
    "2",
  ]);
  strictEqual(code, 1);
  strictEqual(stderr.trimEnd().split("\n").length, 1, stderr);
  match(
    stderr,
    new RegExp(
      `ERROR echolab: Cannot start the tcp workers: --workers loads its workers from echolab's files in ${root}: re-run with --allow-read=${root}\n$`,
    ),
  );
});

Deno.test("cli: SIGUSR1 at any moment of a --workers run prints counters or is ignored, and SIGTERM still exits 0", async () => {
  const root = new URL("../", import.meta.url).pathname;
  await using server = new MainProcess(
    ["tcp", "--port", "0", "--workers", "2"],
    "127.0.0.1",
    undefined,
    [`--allow-read=${root}`],
  );
  const exited = server.status.then(() => true);
  let done = false;
  exited.then(() => done = true);
  const signal = () => {
    try {
      server.kill("SIGUSR1");
    } catch {
      // Already exited.
    }
  };
  // From the first accept loop's start on, while the workers start...
  await server.port("tcp");
  for (let i = 0; i < 100 && !done; i++) {
    signal();
    await delay(3);
  }
  await server.waitFor(/Stats of the tcp server/);
  // ...and through the whole graceful stop, until the process is gone.
  server.kill("SIGTERM");
  while (!done) {
    signal();
    await delay(2);
  }
  const { code } = await server.finished();
  strictEqual(code, 0, server.lines.join("\n"));
  match(server.lines.at(-1)!, /Stats of the tcp server .*connections_total=0 /);
});

const ss = await isRoot()
  ? await ensureCommand("ss", "iproute2")
  : "skipped: ss -K needs root";

Deno.test({
  name:
    `cli: a server that stops by itself (its socket taken with ss -K) exits 1 and says why${
      ss === undefined ? "" : ` (${ss})`
    }`,
  ignore: ss !== undefined,
  async fn() {
    await using server = new MainProcess(["tcp", "--port", "0"]);
    const port = await server.port("tcp");
    const killed = await new Deno.Command("ss", {
      args: ["-K", "-tln", `sport = :${port}`],
    }).output();
    strictEqual(killed.code, 0);
    match(
      await server.waitFor(/stopped by itself/),
      new RegExp(
        `ERROR echolab\\.tcp: The tcp server on 127\\.0\\.0\\.1:${port} stopped by itself: its listening socket failed: Invalid argument \\(os error 22\\)$`,
      ),
    );
    match(
      await server.waitFor(/Exiting with status 1/),
      new RegExp(
        `ERROR echolab: Exiting with status 1: the tcp server on 127\\.0\\.0\\.1:${port} stopped by itself$`,
      ),
    );
    strictEqual((await server.finished()).code, 1);
  },
});

Deno.test("cli: README's flag tables list exactly the flags of the table the parser reads", async () => {
  const readme = await Deno.readTextFile(
    new URL("../README.md", import.meta.url),
  );
  deepStrictEqual(flagDifferences(readme), []);
  // A flag README lacks, and one the table lacks, are both named.
  const edited = readme.replace("| `--udp-rate N`", "| `--udp-speed N`");
  deepStrictEqual(flagDifferences(edited), [
    { table: "server", flag: "--udp-rate", missingFrom: "README" },
    { table: "server", flag: "--udp-speed", missingFrom: "the flag table" },
  ]);
});

Deno.test({
  name:
    `cli: IPv4 clients of a dual-stack server (--host ::) appear as IPv4 in {peer} and logs (in a namespace of the test's own)${
      namespaceSkipped === undefined ? "" : ` (${namespaceSkipped})`
    }`,
  ignore: namespaceSkipped !== undefined,
  async fn() {
    const deno = Deno.execPath();
    const main = new URL("../main.ts", import.meta.url).pathname;
    const said = await runInNamespace([
      `'${deno}' run --allow-net --unstable-net '${main}' all --host :: --tcp-port 18000 --udp-port 16000 --prefix '{peer} ' 2>/tmp/echolab-dual-$$.log & server=$!`,
      "for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/18000) 2>/dev/null && break; sleep 0.1; done",
      `'${deno}' run --allow-net --unstable-net '${main}' send --port 18000 hello`,
      `'${deno}' run --allow-net --unstable-net '${main}' send --udp --port 16000 hello`,
      "kill $server; wait $server || true",
      "grep -o 'Accepted connection from [^ ]*' /tmp/echolab-dual-$$.log; rm -f /tmp/echolab-dual-$$.log",
    ]);
    const replies = said.split("\n").filter((line) => /^127|^\[/.test(line));
    strictEqual(replies.length, 2, said);
    for (const reply of replies) {
      match(reply, /^127\.0\.0\.1:\d+ hello {2}time=/);
    }
    match(said, /^Accepted connection from 127\.0\.0\.1:\d+$/m);
  },
});
