// Copyright 2026 the echolab authors. MIT license.
import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { LineReader } from "../lib/serving/line_reader.ts";
import { decoder, encoder } from "./net_client.ts";

/** The obvious split, to compare the reader against. */
function referenceLines(text: string): string[] {
  const parts = text.split("\n");
  const tail = parts.pop()!;
  if (tail !== "") parts.push(tail);
  return parts.map((line) => line.endsWith("\r") ? line.slice(0, -1) : line);
}

function readAll(reader: LineReader, chunks: Uint8Array[]) {
  const lines: string[] = [];
  const collect = (line: Uint8Array) => lines.push(decoder.decode(line));
  let fits = true;
  for (const chunk of chunks) {
    fits = reader.push(chunk, collect);
    if (!fits) break;
  }
  if (fits) reader.flush(collect);
  return { lines, fits };
}

Deno.test("line reader: a line split at every byte boundary gives the reference lines", () => {
  const text = "hello\r\nworld\n\nsecond to last\r\r\nlast without newline";
  const bytes = encoder.encode(text);
  for (let first = 0; first <= bytes.length; first++) {
    for (let second = first; second <= bytes.length; second++) {
      const chunks = [
        bytes.subarray(0, first),
        bytes.subarray(first, second),
        bytes.subarray(second),
      ];
      const { lines, fits } = readAll(new LineReader(), chunks);
      strictEqual(fits, true);
      deepStrictEqual(
        lines,
        referenceLines(text),
        `cut at ${first}, ${second}`,
      );
    }
  }
});

Deno.test("line reader: one byte at a time gives the reference lines", () => {
  const text = "a\nbb\r\n\r\nccc\n";
  const bytes = encoder.encode(text);
  const chunks = [...bytes].map((byte) => new Uint8Array([byte]));
  deepStrictEqual(
    readAll(new LineReader(), chunks).lines,
    referenceLines(text),
  );
});

Deno.test("line reader: bytes come back unchanged, NUL and invalid UTF-8 included", () => {
  const line = new Uint8Array([0, 1, 0xff, 0xfe, 0xc3, 0x28, 0x80, 13, 0x7f]);
  const input = new Uint8Array([...line, 10, ...line]);
  const seen: number[][] = [];
  const reader = new LineReader();
  for (let cut = 0; cut <= input.length; cut++) {
    seen.length = 0;
    const collect = (bytes: Uint8Array) => seen.push([...bytes]);
    reader.push(input.subarray(0, cut), collect);
    reader.push(input.subarray(cut), collect);
    reader.flush(collect);
    // The `\r` inside the line stays: only one right before `\n` goes.
    deepStrictEqual(seen, [[...line], [...line]]);
  }
});

Deno.test("line reader: a line of exactly maxLine bytes passes, with or without CR", () => {
  for (const ending of ["\n", "\r\n"]) {
    for (let cut = 0; cut <= 6; cut++) {
      const bytes = encoder.encode(`abcd${ending}`);
      const { lines, fits } = readAll(new LineReader({ maxLine: 4 }), [
        bytes.subarray(0, cut),
        bytes.subarray(cut),
      ]);
      strictEqual(fits, true);
      deepStrictEqual(lines, ["abcd"]);
    }
  }
});

Deno.test("line reader: a line over maxLine is reported, in one chunk or many", () => {
  const bytes = encoder.encode("ok\nabcde\nnever\n");
  for (let cut = 0; cut <= bytes.length; cut++) {
    const { lines, fits } = readAll(new LineReader({ maxLine: 4 }), [
      bytes.subarray(0, cut),
      bytes.subarray(cut),
    ]);
    strictEqual(fits, false, `cut at ${cut}`);
    deepStrictEqual(lines, ["ok"]);
  }
});

Deno.test("line reader: an endless line is refused after maxLine + 1 bytes buffered", () => {
  const reader = new LineReader({ maxLine: 100 });
  const chunk = new Uint8Array(7).fill(65);
  let pushed = 0;
  while (reader.push(chunk, () => {})) {
    pushed += chunk.length;
    strictEqual(reader.pendingLength, pushed);
  }
  strictEqual(pushed <= 101, true);
  strictEqual(pushed + chunk.length > 101, true);
});

Deno.test("line reader: flush hands out the final unterminated line once", () => {
  const reader = new LineReader();
  const lines: string[] = [];
  const collect = (line: Uint8Array) => lines.push(decoder.decode(line));
  reader.push(encoder.encode("one\ntwo"), collect);
  strictEqual(reader.flush(collect), true);
  strictEqual(reader.flush(collect), false);
  deepStrictEqual(lines, ["one", "two"]);
});

Deno.test("line reader: rejects a negative maxLine", () => {
  throws(() => new LineReader({ maxLine: -1 }), RangeError);
});
