// Copyright 2026 the echolab authors. MIT license.
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import {
  checkLayers,
  checkSources,
  formatViolation,
} from "../tools/check_layers.ts";

Deno.test("layers: echolab's own lib/, tcp.ts and udp.ts import only lib/", async () => {
  deepStrictEqual(
    await checkLayers(new URL("..", import.meta.url).pathname),
    [],
  );
});

Deno.test("layers: the check names each import that breaks the rule, with its line", () => {
  const violations = checkSources([
    {
      path: "lib/bad.ts",
      source: [
        'import { a } from "./good.ts";',
        '// import { b } from "../cli/b.ts"; (a comment, not an import)',
        'import config from "../deno.json" with { type: "json" };',
        'import { c } from "../cli/c.ts";',
        'export type { D } from "../udp.ts";',
        'const e = await import("../main.ts");',
        'import { f } from "./sub/../../cli/f.ts";',
        'import { g } from "npm:ipaddr.js";',
      ].join("\n"),
    },
    { path: "lib/sub/deep.ts", source: 'import "../line_reader.ts";' },
    { path: "tcp.ts", source: 'import "./lib/x.ts";\nimport "./cli/x.ts";' },
    { path: "cli/free.ts", source: 'import "../tcp.ts";' },
  ]);
  deepStrictEqual(violations.map(formatViolation), [
    'lib/bad.ts:4: imports "../cli/c.ts" (lib/ imports only lib/)',
    'lib/bad.ts:5: imports "../udp.ts" (lib/ imports only lib/)',
    'lib/bad.ts:6: imports "../main.ts" (lib/ imports only lib/)',
    'lib/bad.ts:7: imports "./sub/../../cli/f.ts" (lib/ imports only lib/)',
    'tcp.ts:2: imports "./cli/x.ts" (tcp.ts imports only lib/)',
  ]);
});

Deno.test("layers: deno task check:layers exits 0 on echolab itself", async () => {
  const { code, stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "check:layers"],
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "null",
    env: { NO_COLOR: "1" },
  }).output();
  strictEqual(code, 0);
  strictEqual(
    new TextDecoder().decode(stdout),
    "layers: lib/, tcp.ts and udp.ts import only lib/\n",
  );
});
