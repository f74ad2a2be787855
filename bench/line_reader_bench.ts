// Copyright 2026 the echolab authors. MIT license.
// `deno bench bench/line_reader_bench.ts`: the shared line reader and reply
// formatter alone, in lines per second, for 1-byte, 16-byte and 1 KiB lines
// fed in chunks from 1 byte to 64 KiB.
import { LineReader } from "../lib/serving/line_reader.ts";
import { ReplyFormatter } from "../lib/serving/reply_formatter.ts";

const TOTAL = 256 * 1024;

function input(lineLength: number): Uint8Array {
  const line = new Uint8Array(lineLength + 1).fill(120);
  line[lineLength] = 10;
  const count = Math.max(1, Math.floor(TOTAL / line.length));
  const bytes = new Uint8Array(count * line.length);
  for (let i = 0; i < count; i++) bytes.set(line, i * line.length);
  return bytes;
}

for (const lineLength of [1, 16, 1024]) {
  const bytes = input(lineLength);
  const lines = bytes.length / (lineLength + 1);
  for (const chunkSize of [1, 16, 1024, 65_536]) {
    if (chunkSize === 1 && lineLength === 1024) continue;
    Deno.bench({
      name:
        `read+format ${lineLength} B lines, ${chunkSize} B chunks (${lines} lines)`,
      group: `${lineLength} B lines`,
      baseline: chunkSize === 65_536,
      fn() {
        const reader = new LineReader();
        const formatter = new ReplyFormatter();
        const append = (line: Uint8Array) => formatter.append(line);
        for (let offset = 0; offset < bytes.length; offset += chunkSize) {
          reader.push(bytes.subarray(offset, offset + chunkSize), append);
          formatter.clear();
        }
      },
    });
  }
}
