// Copyright 2026 the echolab authors. MIT license.
/**
 * An example from README's "The lab": the lab from code, beside servers a
 * test started itself; the servers' trace goes to the lab through LogTape.
 *
 * @module
 */

import { ok, strictEqual } from "node:assert/strict";
import { configure, reset } from "@logtape/logtape";
import { serveUdp } from "../mod.ts";
import { serveOps } from "../lib/ops/mod.ts";
import { LabEvents, startLab } from "../lib/lab/mod.ts";

Deno.test("example: the lab beside a UDP server of a test's own", async () => {
  const events = new LabEvents();
  await configure({
    reset: true,
    sinks: { lab: events.traceSink() },
    loggers: [
      { category: ["echolab", "trace"], lowestLevel: "info", sinks: ["lab"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
  });
  try {
    await using udp = serveUdp({ port: 0, trace: true });
    // "none": no tcpdump here; "tcpdump" (the default) captures if it may.
    await using lab = await startLab({
      servers: [udp],
      events,
      capture: "none",
    });
    await using ops = serveOps({ port: 0, servers: [udp], pages: [lab] });
    const origin = `http://127.0.0.1:${ops.addr.port}`;
    const socket = Deno.listenDatagram({
      transport: "udp",
      hostname: "127.0.0.1",
      port: 0,
    });
    try {
      await socket.send(new TextEncoder().encode("hello world"), udp.addr);
      await socket.receive();
    } finally {
      socket.close();
    }
    // What a browser at `${origin}/lab` is sent: the datagram, cut to 5.
    const response = await fetch(`${origin}/lab/events`);
    const reader = response.body!.pipeThrough(new TextDecoderStream())
      .getReader();
    let text = "";
    while (!text.includes('"event":"reply"')) {
      text += (await reader.read()).value ?? "";
    }
    await reader.cancel();
    ok(text.includes('"truncated":{"size":11,"kept":5}'), text);
    const page = await fetch(`${origin}/lab`);
    strictEqual(page.headers.get("content-type"), "text/html; charset=utf-8");
    await page.body?.cancel();
  } finally {
    await reset();
  }
});
