// Copyright 2026 the echolab authors. MIT license.
import fc from "fast-check";
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { LineReader } from "../lib/serving/line_reader.ts";

const NEWLINE = 10;
const CARRIAGE_RETURN = 13;

/** The obvious split over bytes: the reference the reader must agree with. */
function referenceSplit(bytes: Uint8Array): number[][] {
  const lines: number[][] = [];
  let current: number[] = [];
  for (const byte of bytes) {
    if (byte === NEWLINE) {
      if (current.at(-1) === CARRIAGE_RETURN) current.pop();
      lines.push(current);
      current = [];
    } else {
      current.push(byte);
    }
  }
  if (current.length > 0) {
    if (current.at(-1) === CARRIAGE_RETURN) current.pop();
    lines.push(current);
  }
  return lines;
}

/** Bytes rich in the interesting ones: `\n`, `\r`, NUL, invalid UTF-8. */
const interestingByte = fc.oneof(
  fc.constantFrom(NEWLINE, CARRIAGE_RETURN, 0, 0xff, 0xc3, 0x80),
  fc.integer({ min: 0, max: 255 }),
);

/** The input cut into chunks at random points. */
const chunked = fc.tuple(
  fc.array(interestingByte, { maxLength: 600 }).map((bytes) =>
    Uint8Array.from(bytes)
  ),
  fc.array(fc.integer({ min: 0, max: 600 }), { maxLength: 30 }),
);

function cut(bytes: Uint8Array, points: number[]): Uint8Array[] {
  const sorted = [...new Set(points.map((p) => Math.min(p, bytes.length)))]
    .sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of sorted) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

Deno.test("line reader property: any chunking gives the reference lines", () => {
  fc.assert(
    fc.property(chunked, ([bytes, points]) => {
      const reader = new LineReader({ maxLine: 1000 });
      const lines: number[][] = [];
      const collect = (line: Uint8Array) => lines.push([...line]);
      for (const chunk of cut(bytes, points)) {
        strictEqual(reader.push(chunk, collect), true);
      }
      reader.flush(collect);
      deepStrictEqual(lines, referenceSplit(bytes));
    }),
    { numRuns: 500 },
  );
});

Deno.test("line reader property: a line over the cap is reported and never buffered past it", () => {
  fc.assert(
    fc.property(
      chunked,
      fc.integer({ min: 0, max: 40 }),
      ([bytes, points], maxLine) => {
        const reader = new LineReader({ maxLine });
        const lines: number[][] = [];
        const collect = (line: Uint8Array) => lines.push([...line]);
        let fits = true;
        for (const chunk of cut(bytes, points)) {
          fits = reader.push(chunk, collect);
          ok(reader.pendingLength <= maxLine + 1);
          if (!fits) break;
        }
        if (fits) reader.flush(collect);
        const reference = referenceSplit(bytes);
        const firstTooLong = reference.findIndex((line) =>
          line.length > maxLine
        );
        if (firstTooLong === -1) {
          strictEqual(fits, true);
          deepStrictEqual(lines, reference);
        } else {
          // Every line before the long one was handed out, and no more.
          strictEqual(fits, false);
          deepStrictEqual(lines, reference.slice(0, firstTooLong));
        }
      },
    ),
    { numRuns: 1000 },
  );
});
