// Copyright 2026 the echolab authors. MIT license.
/**
 * Runs `deno doc --lint` on every entry of `deno.json` `exports` on its own,
 * as a user importing that entry alone sees it.
 *
 * `deno run --allow-read --allow-run tools/doc_lint.ts`
 *
 * @module
 */

import config from "../deno.json" with { type: "json" };

if (import.meta.main) {
  const root = new URL("..", import.meta.url);
  let failed = 0;
  for (const [name, path] of Object.entries(config.exports)) {
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["doc", "--lint", path],
      cwd: root,
      stdout: "null",
      stderr: "piped",
    }).output();
    if (code === 0) {
      console.log(`doc lint: ${name} (${path}) ok`);
    } else {
      failed++;
      console.error(new TextDecoder().decode(stderr));
      console.error(`doc lint: ${name} (${path}) FAILED`);
    }
  }
  if (failed > 0) Deno.exit(1);
}
