// Copyright 2026 the echolab authors. MIT license.
import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import { BACKOFF_MAX, SocketBackoff } from "../lib/serving/_backoff.ts";
import { captureLogs } from "./log_capture.ts";

Deno.test("backoff: errors in a row double the pause up to 1 s and log once, with the count held back", async () => {
  await using logs = await captureLogs();
  const backoff = new SocketBackoff(getLogger(["echolab", "udp"]), "receive");
  const delays: number[] = [];
  for (let i = 0; i < 10; i++) {
    const pause = backoff.failed(
      new Error("boom"),
      "warning",
      "Cannot receive a datagram: {error}; retrying with backoff up to {max} ms",
    );
    delays.push(backoff.delay);
    backoff.wake();
    await pause;
  }
  deepStrictEqual(delays, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
  strictEqual(BACKOFF_MAX, 1000);
  // Ten failures within a second: one line now, the rest counted later.
  deepStrictEqual(logs.messages(), [
    "Cannot receive a datagram: boom; retrying with backoff up to 1000 ms",
  ]);
  backoff.succeeded();
  strictEqual(backoff.delay, 0);
});

Deno.test("backoff: a pause really waits, and wake() ends every pause at once", async () => {
  const backoff = new SocketBackoff(getLogger(["echolab", "tcp"]), "accept");
  const started = performance.now();
  await backoff.failed(new Error("first"), "error", "{error} {max}");
  const waited = performance.now() - started;
  match(String(waited >= 4), /true/);
  const long = [
    backoff.failed(new Error("a"), "error", "{error} {max}"),
    backoff.failed(new Error("b"), "error", "{error} {max}"),
  ];
  backoff.wake();
  await Promise.all(long);
});
