// Copyright 2026 the echolab authors. MIT license.
/**
 * Bytes as a short, safe piece of text for one log line: what the trace,
 * the packet descriptions and the raw echo's log show of a payload.
 *
 * @module
 */

/**
 * A payload as text for one line: UTF-8, with control bytes escaped (`\n`,
 * `\x1b`), cut to `max` characters with `…`.
 *
 * @param bytes The payload.
 * @param max The most characters shown.
 * @returns The text in double quotes.
 *
 * @example
 * ```ts
 * import { formatPayload } from "./payload_preview.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(formatPayload(new TextEncoder().encode("hello\n"), 20), '"hello\\n"');
 * ```
 */
export function formatPayload(bytes: Uint8Array, max: number): string {
  const text = new TextDecoder().decode(bytes);
  let shown = "";
  let count = 0;
  for (const character of text) {
    const code = character.codePointAt(0)!;
    const piece = character === "\n"
      ? "\\n"
      : character === "\r"
      ? "\\r"
      : character === "\t"
      ? "\\t"
      : character === '"'
      ? '\\"'
      : character === "\\"
      ? "\\\\"
      : code < 0x20 || code === 0x7f
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : character;
    if (count >= max) {
      shown += "…";
      break;
    }
    shown += piece;
    count++;
  }
  return `"${shown}"`;
}
