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

import { join, posix, relative, sep } from "node:path";
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

/** Which top-level part a relative path belongs to: `lib`, `cli`, `root`… */
function layerOf(path: string): string {
  const parts = path.split("/");
  return parts.length === 1 ? "root" : parts[0]!;
}

/**
 * Finds the imports that break the rule in the given sources.
 *
 * @param files Each file's path relative to the root (with `/`) and text;
 * only those under `lib/` and `tcp.ts`, `udp.ts` are checked.
 * @returns The violations, in the order given.
 *
 * @example
 * ```ts
 * import { checkSources } from "./check_layers.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const [violation] = checkSources([
 *   { path: "lib/a.ts", source: 'import { x } from "../cli/x.ts";' },
 * ]);
 * strictEqual(violation?.specifier, "../cli/x.ts");
 * ```
 */
export function checkSources(
  files: readonly { path: string; source: string }[],
): LayerViolation[] {
  const violations: LayerViolation[] = [];
  for (const { path, source } of files) {
    const from = layerOf(path);
    if (from !== "lib" && path !== "tcp.ts" && path !== "udp.ts") continue;
    const code = stripComments(source);
    for (const match of code.matchAll(SPECIFIER)) {
      const specifier = match[2]!;
      if (!specifier.startsWith(".") && !specifier.startsWith("/")) continue;
      const target = posix.normalize(
        posix.join(posix.dirname(path), specifier),
      );
      if (target === "deno.json") continue;
      if (!target.startsWith("../") && layerOf(target) === "lib") continue;
      violations.push({
        file: path,
        line: code.slice(0, match.index).split("\n").length,
        specifier,
        rule: from === "lib"
          ? "lib/ imports only lib/"
          : `${path} imports only lib/`,
      });
    }
  }
  return violations;
}

/**
 * Reads `lib/`, `tcp.ts` and `udp.ts` under `root` and checks their imports.
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
  const paths: string[] = [];
  try {
    for await (const file of typeScriptFiles(join(root, "lib"))) {
      paths.push(file);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  for (const entry of ["tcp.ts", "udp.ts"]) {
    try {
      await Deno.stat(join(root, entry));
      paths.push(join(root, entry));
    } catch {
      // Not there: nothing to check.
    }
  }
  const files = await Promise.all(
    paths.sort().map(async (file) => ({
      path: relative(root, file).split(sep).join("/"),
      source: await Deno.readTextFile(file),
    })),
  );
  return checkSources(files);
}

/**
 * One violation as the check prints it: `file:line: imports "x" (rule)`.
 *
 * @param violation The violation.
 * @returns The line.
 *
 * @example
 * ```ts
 * import { formatViolation } from "./check_layers.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(
 *   formatViolation({ file: "lib/a.ts", line: 3, specifier: "../cli/x.ts", rule: "lib/ imports only lib/" }),
 *   'lib/a.ts:3: imports "../cli/x.ts" (lib/ imports only lib/)',
 * );
 * ```
 */
export function formatViolation(violation: LayerViolation): string {
  const { file, line, specifier, rule } = violation;
  return `${file}:${line}: imports "${specifier}" (${rule})`;
}

if (import.meta.main) {
  const root = Deno.args[0] ?? fileURLToPath(new URL("..", import.meta.url));
  const violations = await checkLayers(root);
  for (const violation of violations) console.error(formatViolation(violation));
  if (violations.length > 0) {
    console.error(
      `layers: ${violations.length} import(s) break the rule: the library (lib/) and tcp.ts, udp.ts must not depend on cli/ or the root`,
    );
    Deno.exit(1);
  }
  console.log("layers: lib/, tcp.ts and udp.ts import only lib/");
}
