// Copyright 2026 the echolab authors. MIT license.
/**
 * `deno task profile [SCENARIO] [--logged]`: a CPU profile of the echolab
 * server under one load (`churn`, the default, `throughput` or `udp`), with its
 * info logs on when `--logged` is given, taken through the V8 inspector,
 * printed as the functions with the most self time.
 *
 * @module
 */

const ROOT = new URL("..", import.meta.url).pathname;
const DENO = Deno.execPath();

function freePort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return listener.addr.port;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

async function main(): Promise<void> {
  const kind = Deno.args[0] ?? "churn";
  // `--logged`: the server writes its info logs (to nowhere), as row 2.
  const logged = Deno.args.includes("--logged");
  // A TCP port that is free; for udp the same number serves (the bench does
  // the same), the probe being released at once.
  const tcp = freePort();
  const inspector = freePort();
  const server = new Deno.Command(DENO, {
    args: [
      "run",
      `--inspect=127.0.0.1:${inspector}`,
      "--allow-net=127.0.0.1",
      "--unstable-net",
      "--v8-flags=--max-semi-space-size=4",
      `${ROOT}main.ts`,
      kind === "udp" ? "udp" : "tcp",
      "--port",
      String(tcp),
      ...(kind === "udp" ? [] : ["--timeout", "60"]),
      "--log-level",
      logged ? "info" : "error",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    let target: string | undefined;
    for (let attempt = 0; attempt < 100 && target === undefined; attempt++) {
      try {
        const list = await (await fetch(
          `http://127.0.0.1:${inspector}/json/list`,
        )).json();
        target = list[0]?.webSocketDebuggerUrl;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    if (target === undefined) throw new Error("no inspector");
    const socket = new WebSocket(target);
    await new Promise((resolve) => socket.onopen = resolve);
    let id = 0;
    const pending = new Map<number, (result: unknown) => void>();
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      pending.get(message.id)?.(message.result);
    };
    const call = (method: string, params = {}) =>
      new Promise<unknown>((resolve) => {
        pending.set(++id, resolve);
        socket.send(JSON.stringify({ id, method, params }));
      });
    await call("Profiler.enable");
    await call("Profiler.setSamplingInterval", { interval: 100 });
    await call("Profiler.start");
    const load = await new Deno.Command(DENO, {
      args: [
        "run",
        "--allow-net=127.0.0.1",
        "--unstable-net",
        `${ROOT}bench/load.ts`,
        JSON.stringify({
          kind,
          port: tcp,
          connections: kind === "churn" ? 8 : kind === "udp" ? 4 : 16,
          window: kind === "churn" ? 1 : 16,
          size: kind === "udp" ? 5 : 16,
          duration: 3000,
          id: 0,
        }),
      ],
    }).output();
    const result = JSON.parse(
      new TextDecoder().decode(load.stdout).trim().split("\n").at(-1)!,
    );
    const { profile } = await call("Profiler.stop") as { profile: Profile };
    socket.close();
    const self = new Map<number, number>();
    profile.samples.forEach((node, i) => {
      self.set(node, (self.get(node) ?? 0) + (profile.timeDeltas[i] ?? 0));
    });
    const total = [...self.values()].reduce((a, b) => a + b, 0);
    const byName = new Map<string, number>();
    for (const node of profile.nodes) {
      const time = self.get(node.id) ?? 0;
      const frame = node.callFrame;
      const where = frame.url === ""
        ? ""
        : ` ${frame.url.replace(/^.*\//, "")}:${frame.lineNumber + 1}`;
      const name = `${frame.functionName || "(anonymous)"}${where}`;
      byName.set(name, (byName.get(name) ?? 0) + time);
    }
    console.log(
      `profile: ${kind}, ${
        (result.ok / result.seconds).toFixed(0)
      } per second under the profiler; self time by function:`,
    );
    for (
      const [name, time] of [...byName].sort((a, b) => b[1] - a[1]).slice(0, 15)
    ) {
      console.log(`${(time / total * 100).toFixed(1).padStart(5)} %  ${name}`);
    }
  } finally {
    try {
      server.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await server.status;
  }
}

if (import.meta.main) await main();
