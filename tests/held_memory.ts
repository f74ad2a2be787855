// Copyright 2026 the echolab authors. MIT license.
/**
 * Measures what a TCP server keeps per held connection once each has sent
 * one line of SIZE bytes and got its reply: the external (ArrayBuffer)
 * memory left after a full garbage collection, so that garbage not yet
 * collected and memory the allocator keeps do not count. Run with
 * `--v8-flags=--expose-gc`; prints `{"externalPerConnection": BYTES}`.
 *
 * @module
 */

import { serveTcp } from "../tcp.ts";
import { withHeldConnections } from "../bench/load.ts";

const size = Number(Deno.args[0] ?? 60_000);
const connections = Number(Deno.args[1] ?? 1000);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");

async function collect(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc!();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return Deno.memoryUsage().external;
}

await using server = serveTcp({ port: 0, timeout: 60_000 });
const before = await collect();
const kept = await withHeldConnections(
  { port: server.addr.port, connections, size },
  async (held) => {
    if (held.ready !== connections || held.lost > 0) {
      throw new Error(`${held.ready} held, ${held.lost} lost`);
    }
    return await collect() - before;
  },
);
console.log(JSON.stringify({ externalPerConnection: kept / connections }));
