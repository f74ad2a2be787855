// Copyright 2026 the echolab authors. MIT license.
/**
 * An example from README's "Faults on purpose": testing a client's retry
 * logic against an echo server that drops datagrams on purpose, the same
 * ones in every run.
 *
 * @module
 */

import { strictEqual } from "node:assert/strict";
import { faults, serveUdp } from "../mod.ts";

/** The client under test: asks once, retries up to `tries` times. */
async function askWithRetry(
  socket: Deno.DatagramConn,
  server: Deno.NetAddr,
  text: string,
  tries: number,
): Promise<{ reply: string; attempts: number }> {
  for (let attempt = 1; attempt <= tries; attempt++) {
    await socket.send(new TextEncoder().encode(text), server);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 100);
    const reply = await Promise.race([
      socket.receive().then(([data]) => new TextDecoder().decode(data)),
      new Promise<undefined>((resolve) =>
        controller.signal.addEventListener("abort", () => resolve(undefined))
      ),
    ]);
    clearTimeout(timer);
    if (reply !== undefined) return { reply, attempts: attempt };
  }
  throw new Error(`no reply to ${text} after ${tries} tries`);
}

Deno.test("example: the client retries until a dropped datagram gets through", async () => {
  // Half the datagrams go unanswered; with seed 7 the first two are.
  await using server = serveUdp({
    port: 0,
    bufferSize: 64,
    faults: faults({ drop: 0.5, seed: 7 }),
  });
  const socket = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  try {
    const { reply, attempts } = await askWithRetry(
      socket,
      server.addr,
      "ping",
      5,
    );
    strictEqual(reply, "received msg: ping\n");
    // The same in every run: the seed fixes which datagrams are dropped.
    strictEqual(attempts, 3);
    strictEqual(server.stats().faults.drop, 2);
  } finally {
    socket.close();
  }
});
