// Copyright 2026 the echolab authors. MIT license.
/**
 * Prometheus's own judge of the exposition text.
 *
 * @module
 */

import { strictEqual } from "node:assert/strict";

/**
 * Fails unless `promtool check metrics` accepts the text without a word.
 *
 * @param body The `/metrics` text.
 */
export async function promtoolAccepts(body: string): Promise<void> {
  const child = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(body));
  await writer.close();
  const output = await child.output();
  const said = new TextDecoder().decode(output.stdout) +
    new TextDecoder().decode(output.stderr);
  strictEqual(output.code, 0, said);
  strictEqual(said, "", `promtool warned:\n${said}`);
}
