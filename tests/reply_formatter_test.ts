// Copyright 2026 the echolab authors. MIT license.
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { formatReply, ReplyFormatter } from "../lib/serving/reply_formatter.ts";
import { decoder, encoder } from "./net_client.ts";

Deno.test("formatter: answers with the seed's prefix by default", () => {
  strictEqual(
    decoder.decode(formatReply(encoder.encode("hello"))),
    "received msg: hello\n",
  );
});

Deno.test("formatter: keeps every byte of the line, short and long prefixes alike", () => {
  const line = new Uint8Array([0, 0xff, 0x80, 10, 13, 0xc3]);
  for (const prefix of ["", "> ", "x".repeat(100)]) {
    const reply = formatReply(line, prefix);
    deepStrictEqual([...reply], [
      ...encoder.encode(prefix),
      ...line,
      10,
    ]);
  }
});

Deno.test("formatter: collects a batch in order and starts over after clear", () => {
  const formatter = new ReplyFormatter("> ");
  const expected: string[] = [];
  for (let i = 0; i < 5000; i++) {
    const line = `line ${i} ${"y".repeat(i % 70)}`;
    formatter.append(encoder.encode(line));
    expected.push(`> ${line}\n`);
  }
  strictEqual(decoder.decode(formatter.bytes()), expected.join(""));
  formatter.clear();
  strictEqual(formatter.length, 0);
  formatter.append(encoder.encode(""));
  strictEqual(decoder.decode(formatter.bytes()), "> \n");
});

Deno.test("reply formatter: release() empties the batch and the next append works", () => {
  const encoder = new TextEncoder();
  const a = new ReplyFormatter("> ");
  const b = new ReplyFormatter("< ");
  a.append(encoder.encode("one"));
  a.release();
  strictEqual(a.length, 0);
  strictEqual(a.bytes().length, 0);
  b.append(encoder.encode("two"));
  a.append(encoder.encode("three"));
  strictEqual(new TextDecoder().decode(b.bytes()), "< two\n");
  strictEqual(new TextDecoder().decode(a.bytes()), "> three\n");
});
