// Copyright 2026 the echolab authors. MIT license.
/**
 * The TCP echo on a Unix stream socket (`--unix`, `send --unix`), run as
 * processes granted exactly the socket's path, as a user would run them.
 *
 * @module
 */

import { match, strictEqual } from "node:assert/strict";
import { MainProcess, runMain } from "./cli_process.ts";
import { decoder } from "./net_client.ts";
import { makeCertificate } from "./tls_certificate.ts";

async function run(program: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(program, { args, stderr: "piped" })
    .output();
  return decoder.decode(output.stdout).trim();
}

/** A fresh directory and a socket path in it, removed after. */
async function socketPath(): Promise<
  { path: string; grants: string[] } & AsyncDisposable
> {
  const dir = await run("mktemp", ["-d"]);
  const path = `${dir}/echo.sock`;
  return {
    path,
    grants: [`--allow-read=${path}`, `--allow-write=${path}`],
    [Symbol.asyncDispose]: async () => {
      await run("rm", ["-rf", dir]);
    },
  };
}

function server(path: string, grants: string[], flags: string[] = []) {
  return new MainProcess(
    ["tcp", "--unix", path, ...flags],
    `unix:${path}`,
    undefined,
    grants,
  );
}

function send(path: string, grants: string[], args: string[]) {
  return runMain(["send", "--unix", path, ...args], `unix:${path}`, grants);
}

Deno.test("unix: --unix serves lines on a socket file of mode 0660, send --unix talks to it, and the file is gone after shutdown", async () => {
  await using socket = await socketPath();
  const { path, grants } = socket;
  await using echo = server(path, grants, ["--prefix", "{peer} on {local}: "]);
  await echo.waitFor(/Starting unix server on unix:/);
  strictEqual(await run("stat", ["-c", "%F %a", path]), "socket 660");
  const client = await send(path, grants, ["hello", "world"]);
  strictEqual(client.code, 0, client.stderr);
  const lines = client.stdout.split("\n");
  match(
    lines[0]!,
    /^unix:\(unnamed\) on unix:\/\S+\/echo\.sock: hello {2}time=/,
  );
  match(
    lines[1]!,
    /^unix:\(unnamed\) on unix:\/\S+\/echo\.sock: world {2}time=/,
  );
  strictEqual(lines[2], `--- unix:${path} tcp ---`);
  echo.kill("SIGTERM");
  strictEqual((await echo.finished()).code, 0);
  match(echo.lines.join("\n"), /Stopped unix server on unix:/);
  strictEqual(await run("sh", ["-c", `test -e "${path}" && echo there`]), "");
});

Deno.test("unix: --raw, --max-connections and --close-after apply on a Unix socket as on TCP", async () => {
  await using socket = await socketPath();
  const { path, grants } = socket;
  await using raw = server(path, grants, ["--raw"]);
  await raw.waitFor(/Starting unix server/);
  const echoed = await send(path, grants, ["verbatim"]);
  // Raw mode: the bytes back, no prefix.
  match(echoed.stdout, /^verbatim {2}time=/);
  raw.kill("SIGTERM");
  strictEqual((await raw.finished()).code, 0);

  await using limited = server(path, grants, [
    "--max-connections",
    "1",
    "--close-after",
    "2",
  ]);
  await limited.waitFor(/Starting unix server/);
  // The first client holds the only slot for about a second.
  const first = send(path, grants, ["a", "b", "--interval", "0.5"]);
  await limited.waitFor(/Accepted connection from unix:\(unnamed\)/);
  const second = await send(path, grants, ["c"]);
  strictEqual(second.code, 1);
  match(second.stdout, /1 lines sent, 0 answered, 1 lost/);
  const held = await first;
  strictEqual(held.code, 0, held.stdout + held.stderr);
  // --close-after 2: a third line is not answered.
  const cut = await send(path, grants, ["x", "y", "z"]);
  strictEqual(cut.code, 1);
  match(cut.stdout, /3 lines sent, 2 answered, 1 lost/);
  limited.kill("SIGTERM");
  strictEqual((await limited.finished()).code, 0);
  match(
    limited.lines.join("\n"),
    /Refused connection from unix:\(unnamed\): too many connections/,
  );
});

Deno.test("unix: a stale socket file is replaced; a live socket or another file is left alone, with one line naming it, exit 1", async () => {
  await using socket = await socketPath();
  const { path, grants } = socket;
  // A server killed by SIGKILL leaves its socket file behind.
  const stale = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      ...grants,
      `--allow-net=unix:${path}`,
      `Deno.listen({ transport: "unix", path: ${
        JSON.stringify(path)
      } }); console.log("listening"); setTimeout(() => {}, 60000);`,
    ],
    stdout: "piped",
  }).spawn();
  const reader = stale.stdout.getReader();
  await reader.read();
  stale.kill("SIGKILL");
  await stale.status;
  reader.releaseLock();
  await stale.stdout.cancel();
  strictEqual(await run("stat", ["-c", "%F", path]), "socket");
  await using live = server(path, grants);
  await live.waitFor(/Starting unix server/);

  // A second server on a live socket: an error, the first still serves.
  const second = await runMain(
    ["tcp", "--unix", path],
    `unix:${path}`,
    grants,
  );
  strictEqual(second.code, 1);
  match(
    second.stderr,
    new RegExp(
      `Cannot start the tcp server on unix:${path}: a server already listens on ${path}; stop it or choose another --unix\\n$`,
    ),
  );
  strictEqual((await send(path, grants, ["still"])).code, 0);
  live.kill("SIGTERM");
  strictEqual((await live.finished()).code, 0);

  // A plain file stays as it was.
  await run("sh", ["-c", `echo keep > "${path}"`]);
  const onFile = await runMain(["tcp", "--unix", path], `unix:${path}`, grants);
  strictEqual(onFile.code, 1);
  match(
    onFile.stderr,
    new RegExp(
      `: ${path} exists and is not a socket; remove it or choose another --unix\\n$`,
    ),
  );
  strictEqual(await run("cat", [path]), "keep");
});

Deno.test("unix: without the grants one line names all three, exit 1; send says so too", async () => {
  await using socket = await socketPath();
  const { path } = socket;
  const served = await runMain(["tcp", "--unix", path], `unix:${path}`);
  strictEqual(served.code, 1);
  match(
    served.stderr,
    new RegExp(
      `Cannot start the tcp server on unix:${path}: no permission; re-run with --allow-read=${path} --allow-write=${path} --allow-net=unix:${path}\\n$`,
    ),
  );
  const sent = await runMain(["send", "--unix", path, "hi"], `unix:${path}`);
  strictEqual(sent.code, 1);
  strictEqual(
    sent.stderr,
    `echolab: Cannot reach unix:${path}: no permission; re-run with --allow-read=${path} --allow-write=${path} --allow-net=unix:${path}\n`,
  );
  // Nothing there: nothing listening, and the fix.
  const nobody = await send(path, [
    `--allow-read=${path}`,
    `--allow-write=${path}`,
  ], ["hi"]);
  strictEqual(nobody.code, 1);
  strictEqual(
    nobody.stderr,
    `echolab: nothing is listening on unix:${path}: start it with deno task tcp --unix ${path}\n`,
  );
});

Deno.test("unix: flags that need an address or a port are usage errors with --unix, exit 2", async () => {
  const cases: [string[], string][] = [
    [
      ["tcp", "--unix", "/tmp/e.sock", "--port", "9000"],
      "Flag --port does not apply with --unix: no port; drop one of them",
    ],
    [
      ["tcp", "--unix", "/tmp/e.sock", "--workers", "2"],
      "Flag --workers does not apply with --unix: no port to share; drop one of them",
    ],
    [
      ["tcp", "--unix", "/tmp/e.sock", "--allow", "127.0.0.1"],
      "Flag --allow does not apply with --unix: its clients have no IP address; drop one of them",
    ],
    [
      ["send", "--unix", "/tmp/e.sock", "--udp", "hi"],
      "Flag --udp does not apply with --unix: drop one of them",
    ],
  ];
  for (const [args, message] of cases) {
    const { code, stderr } = await runMain(args, "127.0.0.1");
    strictEqual(code, 2, args.join(" "));
    strictEqual(stderr, `echolab: ${message} (see --help)\n`);
  }
});

Deno.test("unix: TLS on a Unix socket: the ClientHello read and the certificate checked by send --unix --tls", async () => {
  await using socket = await socketPath();
  const { path, grants } = socket;
  await using certificate = await makeCertificate();
  const files = [certificate.certFile, certificate.keyFile].join(",");
  await using echo = server(path, [
    ...grants.slice(1),
    `--allow-read=${path},${files}`,
  ], [
    "--tls-cert",
    certificate.certFile,
    "--tls-key",
    certificate.keyFile,
    "--prefix",
    "{tls} {sni}: ",
  ]);
  await echo.waitFor(/Starting unix server on unix:\S+ \(TLS: /);
  const client = await send(path, [
    `--allow-read=${path},${certificate.certFile}`,
    grants[1]!,
  ], [
    "--tls",
    "--ca",
    certificate.certFile,
    "--sni",
    "localhost",
    "hello",
  ]);
  strictEqual(client.code, 0, client.stderr);
  match(client.stdout, /^tls: TLSv1\.3, cipher TLS_\w+, alpn none\n/);
  match(client.stdout, /\nTLSv1\.3 localhost: hello {2}time=/);
  echo.kill("SIGTERM");
  strictEqual((await echo.finished()).code, 0);
});

Deno.test("unix: --proxy-protocol on a Unix socket (a balancer in front of it) takes the header's client as the peer", async () => {
  await using socket = await socketPath();
  const { path, grants } = socket;
  await using echo = server(path, grants, [
    "--proxy-protocol",
    "--prefix",
    "{peer}: ",
  ]);
  await echo.waitFor(/Starting unix server/);
  const probe = `
const conn = await Deno.connect({ transport: "unix", path: ${
    JSON.stringify(path)
  } });
await conn.write(new TextEncoder().encode("PROXY TCP4 192.0.2.7 127.0.0.1 4000 80\\r\\nhi\\n"));
const buffer = new Uint8Array(100);
const read = await conn.read(buffer);
console.log(new TextDecoder().decode(buffer.subarray(0, read ?? 0)).trim());
conn.close();
`;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", ...grants, `--allow-net=unix:${path}`, probe],
    stdout: "piped",
  }).output();
  strictEqual(decoder.decode(output.stdout).trim(), "192.0.2.7:4000: hi");
  echo.kill("SIGTERM");
  strictEqual((await echo.finished()).code, 0);
});
