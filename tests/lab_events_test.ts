// Copyright 2026 the echolab authors. MIT license.
/**
 * The lab's event store on its own: time order, the cap, the per-page
 * queues, the trace sink; and the page's script parses.
 *
 * @module
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { configure, reset } from "@logtape/logtape";
import { LabEvents } from "../lib/lab/mod.ts";
import { PAGE_SCRIPT } from "../lib/lab/_page_script.ts";
import { PCAP_BYTES, PCAP_PACKETS, PcapRing } from "../lib/lab/_lab_capture.ts";
import { serveUdp } from "../udp.ts";

/** Reads `stream` until its text holds `count` lab events. */
async function labEvents(
  stream: ReadableStream<Uint8Array>,
  count: number,
): Promise<Record<string, unknown>[]> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while ((text.match(/^event: lab$/gm) ?? []).length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  await reader.cancel();
  return text.split("\n\n").filter((block) => block.startsWith("event: lab"))
    .map((block) => JSON.parse(block.match(/^data: (.*)$/m)![1]!));
}

Deno.test("lab events: held a moment, then released in time order", async () => {
  const events = new LabEvents({ hold: 50 });
  const now = Date.now();
  // A packet that tcpdump delivered after the event it preceded.
  events.add({ type: "note", text: "second", at: now + 2 });
  events.add({ type: "note", text: "first", at: now + 1 });
  const stream = events.subscribe({});
  strictEqual(events.kept, 0);
  // The store's timer does not keep a program alive: this one does.
  await new Promise((resolve) => setTimeout(resolve, 150));
  strictEqual(events.kept, 2);
  const received = await labEvents(stream, 2);
  deepStrictEqual(
    received.map((event) => [event.id, event.text]),
    [[1, "first"], [2, "second"]],
  );
  events.close();
});

Deno.test("lab events: only the last ones are kept; a late page is told how many went", async () => {
  const events = new LabEvents({ limit: 3, hold: 0 });
  for (let index = 1; index <= 5; index++) {
    events.add({ type: "note", text: `n${index}`, at: index });
  }
  strictEqual(events.kept, 3);
  strictEqual(events.droppedOld, 2);
  const reader = events.subscribe({ hello: 1 }).pipeThrough(
    new TextDecoderStream(),
  ).getReader();
  const { value } = await reader.read();
  await reader.cancel();
  const blocks = value!.split("\n\n").filter((block) => block !== "");
  deepStrictEqual(blocks.slice(0, 2), [
    'retry: 2000\nevent: config\ndata: {"hello":1}',
    'event: dropped\ndata: {"older":2}',
  ]);
  deepStrictEqual(
    blocks.slice(2).map((block) => JSON.parse(block.split("data: ")[1]!).text),
    ["n3", "n4", "n5"],
  );
  events.close();
});

Deno.test("lab events: a page that does not read loses events, counted; adding never waits", () => {
  const events = new LabEvents({ hold: 0, queueBytes: 10_000 });
  const stream = events.subscribe({});
  for (let index = 0; index < 1000; index++) {
    events.add({ type: "note", text: "x".repeat(100), at: index });
  }
  // About 150 bytes each: some 60 fit the queue, the rest are lost.
  ok(events.droppedSlow > 900 && events.droppedSlow < 1000);
  strictEqual(events.kept, 1000);
  events.close();
  return stream.cancel();
});

Deno.test("lab events: the trace sink turns --trace lines into server events", async () => {
  const events = new LabEvents({ hold: 0 });
  await configure({
    reset: true,
    sinks: { lab: events.traceSink() },
    loggers: [{
      category: ["echolab", "trace"],
      lowestLevel: "info",
      sinks: ["lab"],
    }, {
      category: ["logtape", "meta"],
      lowestLevel: "warning",
      sinks: [],
    }],
  });
  try {
    await using server = serveUdp({ port: 0, trace: true, bufferSize: 5 });
    const stream = events.subscribe({});
    const socket = Deno.listenDatagram({
      transport: "udp",
      hostname: "127.0.0.1",
      port: 0,
    });
    try {
      await socket.send(new TextEncoder().encode("hello world"), server.addr);
      await socket.receive();
    } finally {
      socket.close();
    }
    const received = await labEvents(stream, 2);
    const peer = received[0]!.peer as string;
    deepStrictEqual(
      received.map(({ id: _, at, ...rest }) => {
        ok(typeof at === "number" && Math.abs(at - Date.now()) < 5000);
        return rest;
      }),
      [{
        type: "server",
        transport: "udp",
        event: "datagram",
        text: `datagram from ${peer}: 11 bytes, kept 5`,
        peer,
        truncated: { size: 11, kept: 5 },
      }, {
        type: "server",
        transport: "udp",
        event: "reply",
        text: `reply to ${peer}: 20 bytes`,
        peer,
      }],
    );
  } finally {
    events.close();
    await reset();
  }
});

Deno.test("lab page: its script parses as JavaScript, with nothing loaded from elsewhere", () => {
  // Parsed, not run: the Function constructor compiles its body.
  new Function(PAGE_SCRIPT);
  ok(
    !/https?:\/\//.test(PAGE_SCRIPT.replace("http://www.w3.org/2000/svg", "")),
  );
});

Deno.test("lab events: a follower gets each event as it is released, until it stops", () => {
  const events = new LabEvents({ hold: 0 });
  const seen: string[] = [];
  {
    using _follow = events.follow((event) => {
      if (event.type === "note") seen.push(`${event.id} ${event.text}`);
    });
    events.add({ type: "note", text: "one", at: 1 });
    events.add({ type: "note", text: "two", at: 2 });
  }
  events.add({ type: "note", text: "three", at: 3 });
  deepStrictEqual(seen, ["1 one", "2 two"]);
  events.close();
});

Deno.test("lab pcap: the download keeps the last 20,000 packets, and at most 16 MiB of them", () => {
  const header = new Uint8Array(24).fill(1);
  const record = (size: number, mark: number) =>
    new Uint8Array(size).fill(mark % 256);
  const byCount = new PcapRing();
  for (let index = 0; index < PCAP_PACKETS + 5; index++) {
    byCount.add(record(20, index), header);
  }
  const file = byCount.file();
  strictEqual(file.length, 24 + PCAP_PACKETS * 20);
  deepStrictEqual(file.subarray(0, 24), header);
  // The first five went: the oldest kept is the sixth.
  strictEqual(file[24], 5);
  const bySize = new PcapRing();
  const mib = 1024 * 1024;
  for (let index = 0; index < 20; index++) {
    bySize.add(record(mib, index), header);
  }
  const big = bySize.file();
  strictEqual(big.length, 24 + PCAP_BYTES);
  strictEqual(big[24], 20 - PCAP_BYTES / mib);
});
