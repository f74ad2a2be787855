// Copyright 2026 the echolab authors. MIT license.
/**
 * `deno task profile [SCENARIO] [--logged]`: a CPU profile of the echolab
 * server under one load (`churn`, the default, `throughput` or `udp`), with its
 * info logs on when `--logged` is given, taken through the V8 inspector,
 * printed as the functions with the most self time.
 *
 * `deno task profile memory [--logged]`: two heap snapshots of the TCP
 * server, before and after 10,000 connections were each answered once
 * (garbage collected first), printed as the bytes of JavaScript heap each
 * held connection keeps, by kind of object.
 *
 * @module
 */

import { RAISE_FILE_LIMIT, withHeldConnections } from "./load.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const DENO = Deno.execPath();
const HELD = 10_000;

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

interface HeapSnapshot {
  snapshot: {
    meta: { node_fields: string[]; node_types: [string[], ...unknown[]] };
  };
  nodes: number[];
  strings: string[];
}

/** A DevTools protocol session with the server's inspector. */
class Inspector implements Disposable {
  #socket: WebSocket;
  #id = 0;
  #pending = new Map<number, (result: unknown) => void>();
  #chunks: string[] = [];

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.method === "HeapProfiler.addHeapSnapshotChunk") {
        this.#chunks.push(message.params.chunk);
      }
      this.#pending.get(message.id)?.(message.result);
    };
  }

  static async open(port: number): Promise<Inspector> {
    for (let attempt = 0; attempt < 100; attempt++) {
      try {
        const list = await (await fetch(
          `http://127.0.0.1:${port}/json/list`,
        )).json();
        const target = list[0]?.webSocketDebuggerUrl;
        if (target === undefined) continue;
        const socket = new WebSocket(target);
        await new Promise((resolve) => socket.onopen = resolve);
        return new Inspector(socket);
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    throw new Error("no inspector");
  }

  call(method: string, params = {}): Promise<unknown> {
    return new Promise<unknown>((resolve) => {
      this.#pending.set(++this.#id, resolve);
      this.#socket.send(JSON.stringify({ id: this.#id, method, params }));
    });
  }

  /** Collects garbage, then takes a heap snapshot. */
  async heapSnapshot(): Promise<HeapSnapshot> {
    await this.call("HeapProfiler.collectGarbage");
    await this.call("HeapProfiler.collectGarbage");
    this.#chunks = [];
    await this.call("HeapProfiler.takeHeapSnapshot", {
      reportProgress: false,
    });
    return JSON.parse(this.#chunks.join(""));
  }

  [Symbol.dispose]() {
    this.#socket.close();
  }
}

function startServer(
  kind: string,
  port: number,
  inspector: number,
  logged: boolean,
): Deno.ChildProcess {
  return new Deno.Command("bash", {
    args: [
      "-c",
      `${RAISE_FILE_LIMIT}; exec "$0" "$@"`,
      DENO,
      "run",
      `--inspect=127.0.0.1:${inspector}`,
      "--allow-net=127.0.0.1",
      "--unstable-net",
      "--v8-flags=--max-semi-space-size=4",
      `${ROOT}main.ts`,
      kind === "udp" ? "udp" : "tcp",
      "--port",
      String(port),
      ...(kind === "udp" ? [] : ["--timeout", "60"]),
      "--log-level",
      logged ? "info" : "error",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
}

function loadArgs(task: Record<string, unknown>): string[] {
  return [
    "run",
    "--allow-net=127.0.0.1",
    "--unstable-net",
    `${ROOT}bench/load.ts`,
    JSON.stringify({ id: 0, ...task }),
  ];
}

async function cpuProfile(
  inspector: Inspector,
  kind: string,
  port: number,
): Promise<void> {
  await inspector.call("Profiler.enable");
  await inspector.call("Profiler.setSamplingInterval", { interval: 100 });
  await inspector.call("Profiler.start");
  const load = await new Deno.Command(DENO, {
    args: loadArgs({
      kind,
      port,
      connections: kind === "churn" ? 8 : kind === "udp" ? 4 : 16,
      window: kind === "churn" ? 1 : 16,
      size: kind === "udp" ? 5 : 16,
      duration: 3000,
    }),
  }).output();
  const result = JSON.parse(
    new TextDecoder().decode(load.stdout).trim().split("\n").at(-1)!,
  );
  const { profile } = await inspector.call("Profiler.stop") as {
    profile: Profile;
  };
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
  // The same time by where the code lives: echolab's own files, Deno's
  // JavaScript, npm packages, and ops (Rust and the system calls they make).
  const byPlace = new Map<string, number>();
  for (const node of profile.nodes) {
    const time = self.get(node.id) ?? 0;
    const { url, functionName } = node.callFrame;
    const place = url.startsWith(`file://${ROOT}`)
      ? "echolab (JavaScript)"
      : url.includes("/npm/") || url.includes("node_modules")
      ? "npm packages (JavaScript)"
      : url.startsWith("ext:") || url.startsWith("node:")
      ? "Deno runtime (JavaScript)"
      : functionName.startsWith("op_")
      ? "ops (Rust and system calls)"
      : functionName === "(idle)"
      ? "idle"
      : "V8 (GC, compiler, other)";
    byPlace.set(place, (byPlace.get(place) ?? 0) + time);
  }
  console.log("by place:");
  for (const [place, time] of [...byPlace].sort((a, b) => b[1] - a[1])) {
    console.log(`${(time / total * 100).toFixed(1).padStart(5)} %  ${place}`);
  }
}

/** Self size and count of the snapshot's live objects, by type and name. */
function heapByKind(
  heap: HeapSnapshot,
): Map<string, { size: number; count: number }> {
  const fields = heap.snapshot.meta.node_fields;
  const types = heap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const kinds = new Map<string, { size: number; count: number }>();
  for (let i = 0; i < heap.nodes.length; i += width) {
    const type = types[heap.nodes[i + typeAt]!]!;
    const name = heap.strings[heap.nodes[i + nameAt]!]!;
    // Strings and numbers are named by their value: count them by type.
    const key = type === "object" || type === "closure" || type === "native"
      ? `${name} (${type})`
      : `(${type})`;
    const kind = kinds.get(key) ?? { size: 0, count: 0 };
    kind.size += heap.nodes[i + sizeAt]!;
    kind.count++;
    kinds.set(key, kind);
  }
  return kinds;
}

async function memoryProfile(
  inspector: Inspector,
  port: number,
): Promise<void> {
  const before = heapByKind(await inspector.heapSnapshot());
  const { held, after } = await withHeldConnections(
    { port, connections: HELD, size: 16 },
    async (held) => ({
      held,
      after: heapByKind(await inspector.heapSnapshot()),
    }),
  );
  const rows = [...after].map(([key, { size, count }]) => ({
    key,
    size: (size - (before.get(key)?.size ?? 0)) / held.ready,
    count: (count - (before.get(key)?.count ?? 0)) / held.ready,
  })).sort((a, b) => b.size - a.size);
  const total = rows.reduce((sum, row) => sum + row.size, 0);
  console.log(
    `profile: memory, ${held.ready} connections answered once and held; ` +
      `JavaScript heap kept per connection after garbage collection: ${
        total.toFixed(0)
      } bytes`,
  );
  for (const row of rows.slice(0, 20)) {
    console.log(
      `${row.size.toFixed(0).padStart(6)} B  ${
        row.count.toFixed(2).padStart(5)
      } x  ${row.key}`,
    );
  }
}

async function main(): Promise<void> {
  const kind = Deno.args[0] ?? "churn";
  // `--logged`: the server writes its info logs (to nowhere), as row 2.
  const logged = Deno.args.includes("--logged");
  // A TCP port that is free; for udp the same number serves (the bench does
  // the same), the probe being released at once.
  const port = freePort();
  const inspectorPort = freePort();
  const server = startServer(kind, port, inspectorPort, logged);
  try {
    using inspector = await Inspector.open(inspectorPort);
    if (kind === "memory") await memoryProfile(inspector, port);
    else await cpuProfile(inspector, kind, port);
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
