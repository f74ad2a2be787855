// Copyright 2026 the echolab authors. MIT license.
/**
 * The layering rule, checked: the library (`lib/`) imports only `lib/`;
 * `tcp.ts` and `udp.ts` import only `lib/`; `cli/` may import `lib/` and the
 * root entry points. `deno.json`, read as data, may be imported anywhere.
 *
 * `deno run --allow-read tools/check_layers.ts [ROOT]` prints each import
 * that breaks the rule, as `file:line: imports "specifier" (why)`, and
 * exits 1 if there is one.
 *
 * @module
 */

import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** One import that breaks the rule. */
export interface LayerViolation {
  /** The importing file, relative to the root. */
  file: string;
  /** The line of the import. */
  line: number;
  /** The specifier as written. */
  specifier: string;
  /** The rule it breaks. */
  rule: string;
}

// Static imports and re-exports, side-effect imports, dynamic imports and
// `import("…")` types.
const SPECIFIER =
  /(?:\bfrom\s*|\bimport\s*|\bimport\s*\(\s*)(["'])([^"'\n]+)\1/g;

/** Blanks comments and keeps line breaks, so that line numbers still hold. */
function stripComments(source: string): string {
  return source.replace(
    /\/\*[\s\S]*?\*\/|\/\/[^\n]*|(["'`])(?:\\.|(?!\1)[^\\\n])*\1/g,
    (match) => match.startsWith("/") ? match.replace(/[^\n]/g, " ") : match,
  );
}

async function* typeScriptFiles(directory: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(directory)) {
    const path = join(directory, entry.name);
    if (entry.isDirectory) yield* typeScriptFiles(path);
    else if (/\.(ts|tsx|mts|js|mjs)$/.test(entry.name)) yield path;
  }
}

/** Which top-level part a path belongs to: `lib`, `cli`, `root`, or other. */
function layerOf(root: string, path: string): string {
  const [first, second] = relative(root, path).split(/[\\/]/);
  if (second === undefined) return "root";
  return first ?? "root";
}

/**
 * Finds every import in `lib/`, `tcp.ts` and `udp.ts` that breaks the rule.
 *
 * @param root The project's root directory.
 * @returns The violations, in file order.
 *
 * @example
 * ```ts
 * import { checkLayers } from "./check_layers.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * deepStrictEqual(await checkLayers(new URL("..", import.meta.url).pathname), []);
 * ```
 */
export async function checkLayers(root: string): Promise<LayerViolation[]> {
  root = resolve(root);
  const files: string[] = [];
  try {
    for await (const file of typeScriptFiles(join(root, "lib"))) {
      files.push(file);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  for (const entry of ["tcp.ts", "udp.ts"]) {
    try {
      await Deno.stat(join(root, entry));
      files.push(join(root, entry));
    } catch {
      // Not there: nothing to check.
    }
  }
  files.sort();
  const violations: LayerViolation[] = [];
  for (const file of files) {
    const source = stripComments(await Deno.readTextFile(file));
    const from = layerOf(root, file);
    for (const match of source.matchAll(SPECIFIER)) {
      const specifier = match[2]!;
      if (!specifier.startsWith(".") && !specifier.startsWith("/")) continue;
      const target = resolve(dirname(file), specifier);
      if (target === join(root, "deno.json")) continue;
      if (layerOf(root, target) === "lib") continue;
      violations.push({
        file: relative(root, file),
        line: source.slice(0, match.index).split("\n").length,
        specifier,
        rule: from === "lib"
          ? "lib/ imports only lib/"
          : `${relative(root, file)} imports only lib/`,
      });
    }
  }
  return violations;
}

if (import.meta.main) {
  const root = Deno.args[0] ?? fileURLToPath(new URL("..", import.meta.url));
  const violations = await checkLayers(root);
  for (const { file, line, specifier, rule } of violations) {
    console.error(`${file}:${line}: imports "${specifier}" (${rule})`);
  }
  if (violations.length > 0) {
    console.error(
      `layers: ${violations.length} import(s) break the rule: the library (lib/) and tcp.ts, udp.ts must not depend on cli/ or the root`,
    );
    Deno.exit(1);
  }
  console.log("layers: lib/, tcp.ts and udp.ts import only lib/");
}
