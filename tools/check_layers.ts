// Copyright 2026 the echolab authors. MIT license.
/**
 * The layering rules, checked on the real module graph (`deno info --json`
 * of `mod.ts`, `main.ts` and the worker, which reach every file of the
 * project's library and program):
 *
 * 1. `lib/` imports only `lib/` (and `deno.json`, read as data); so do the
 *    core entries `tcp.ts`, `udp.ts` and `quic.ts`.
 * 2. A concern (`lib/NAME/`) imports only the core (`lib/serving/`) and the
 *    concerns it declares in {@linkcode CONCERNS}.
 * 3. `_`-prefixed files are private to their folder; the core entries
 *    (`tcp.ts`, `udp.ts`, `quic.ts`) may use the core's.
 * 4. What the core entries load at start (static code imports, followed;
 *    type-only imports are erased and dynamic ones load on use) holds no
 *    optional concern and no ipaddr.js.
 * 5. Every file under `lib/` is reached from an entry.
 *
 * `deno run --allow-read --allow-run tools/check_layers.ts [ROOT]` prints
 * each violation, as `file: imports "target" (rule)`, and exits 1 if there
 * is one.
 *
 * @module
 */

import { join, relative, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/**
 * The concerns under `lib/` and the other concerns each may import, beyond
 * the core (`serving`), which may import none.
 */
export const CONCERNS: Readonly<Record<string, readonly string[]>> = {
  serving: [],
  policy: [],
  proxy: ["policy"],
  tls: [],
  faults: ["policy"],
  capture: [],
  ops: ["faults", "policy", "client"],
  client: ["proxy", "policy"],
  lab: ["capture", "client"],
};

/** The concerns a plain echo server never loads at start. */
export const OPTIONAL_CONCERNS: readonly string[] = [
  "policy",
  "proxy",
  "tls",
  "faults",
  "capture",
  "ops",
  "client",
  "lab",
];

/** The core entries: the servers, which may use the core's private files. */
export const CORE_ENTRIES: readonly string[] = ["tcp.ts", "udp.ts", "quic.ts"];

/** Packages a plain echo server never loads at start. */
export const OPTIONAL_PACKAGES: readonly string[] = ["npm:ipaddr.js"];

/** One dependency of a module, as `deno info --json` lists it. */
export interface GraphDependency {
  /** The specifier as written. */
  specifier: string;
  /** Where a value import resolves; absent for a type-only import. */
  code?: { specifier: string };
  /** Where a type import resolves. */
  type?: { specifier: string };
  /** Whether it is an `import()`, loaded on use. */
  isDynamic?: boolean;
}

/** The part of `deno info --json` the check reads. */
export interface ModuleGraph {
  /** Every module reached. */
  modules: { specifier: string; dependencies?: GraphDependency[] }[];
}

/** One import that breaks a rule. */
export interface LayerViolation {
  /** The importing file (or entry), relative to the root. */
  file: string;
  /** What it imports: a relative path or a package. */
  target: string;
  /** The rule it breaks. */
  rule: string;
  /** `loads` when the target is loaded through other modules. */
  verb?: "imports" | "loads";
}

/** Where a resolved specifier sits: relative to the root, or as is. */
function place(specifier: string, root: string): string {
  if (!specifier.startsWith(root)) return specifier;
  return specifier.slice(root.length);
}

/** `lib/NAME/...` → NAME. */
function concernOf(path: string): string | undefined {
  const match = /^lib\/([^/]+)\//.exec(path);
  return match?.[1];
}

function isPrivate(path: string): boolean {
  return /(^|\/)_[^/]*$/.test(path);
}

function folderOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/") + 1);
}

/**
 * Checks rules 1 to 3 on a module graph.
 *
 * @param graph The graph (`deno info --json`), possibly several merged.
 * @param root The project root as a `file:` URL ending in `/`.
 * @returns The violations, sorted.
 *
 * @example
 * ```ts
 * import { importViolations } from "./check_layers.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const graph = {
 *   modules: [{
 *     specifier: "file:///p/lib/faults/faults.ts",
 *     dependencies: [{ specifier: "../../cli/x.ts", code: { specifier: "file:///p/cli/x.ts" } }],
 *   }],
 * };
 * deepStrictEqual(importViolations(graph, "file:///p/"), [
 *   { file: "lib/faults/faults.ts", target: "cli/x.ts", rule: "lib/ imports only lib/" },
 * ]);
 * ```
 */
export function importViolations(
  graph: ModuleGraph,
  root: string,
): LayerViolation[] {
  const violations: LayerViolation[] = [];
  const seen = new Set<string>();
  for (const module of graph.modules) {
    if (!module.specifier.startsWith(root) || seen.has(module.specifier)) {
      continue;
    }
    seen.add(module.specifier);
    const file = place(module.specifier, root);
    const from = concernOf(file);
    for (const dependency of module.dependencies ?? []) {
      const resolved = dependency.code?.specifier ?? dependency.type?.specifier;
      if (resolved === undefined || !resolved.startsWith(root)) continue;
      const target = place(resolved, root);
      const to = concernOf(target);
      const add = (rule: string) => violations.push({ file, target, rule });
      if (from !== undefined) {
        if (to === undefined) {
          if (target !== "deno.json") add("lib/ imports only lib/");
          continue;
        }
        if (to !== from && to !== "serving" && !CONCERNS[from]?.includes(to)) {
          add(
            `lib/${from}/ imports only lib/serving/ and what it declares: ${
              (CONCERNS[from] ?? []).map((name) => `lib/${name}/`).join(", ") ||
              "nothing else"
            }`,
          );
          continue;
        }
      }
      const coreFile = CORE_ENTRIES.includes(file);
      if (coreFile && to === undefined && target !== "deno.json") {
        add(`${file} imports only lib/`);
        continue;
      }
      if (isPrivate(target) && folderOf(target) !== folderOf(file)) {
        if (!(coreFile && to === "serving")) {
          add(`${target.split("/").pop()} is private to ${folderOf(target)}`);
        }
      }
    }
  }
  return violations.sort((a, b) =>
    (a.file + a.target).localeCompare(b.file + b.target)
  );
}

/**
 * What an entry loads at start: its static code imports, followed.
 *
 * @param graph The graph holding the entry.
 * @param entry The entry's specifier.
 * @returns Every module specifier loaded, the entry included.
 *
 * @example
 * ```ts
 * import { loadedAtStart } from "./check_layers.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const graph = {
 *   modules: [
 *     { specifier: "file:///p/a.ts", dependencies: [
 *       { specifier: "./b.ts", code: { specifier: "file:///p/b.ts" } },
 *       { specifier: "./c.ts", code: { specifier: "file:///p/c.ts" }, isDynamic: true },
 *       { specifier: "./d.ts", type: { specifier: "file:///p/d.ts" } },
 *     ] },
 *     { specifier: "file:///p/b.ts" },
 *   ],
 * };
 * deepStrictEqual([...loadedAtStart(graph, "file:///p/a.ts")], ["file:///p/a.ts", "file:///p/b.ts"]);
 * ```
 */
export function loadedAtStart(graph: ModuleGraph, entry: string): Set<string> {
  const modules = new Map(graph.modules.map((m) => [m.specifier, m]));
  const loaded = new Set<string>();
  const pending = [entry];
  while (pending.length > 0) {
    const specifier = pending.pop()!;
    if (loaded.has(specifier)) continue;
    loaded.add(specifier);
    for (const dependency of modules.get(specifier)?.dependencies ?? []) {
      if (dependency.isDynamic || dependency.code === undefined) continue;
      pending.push(dependency.code.specifier);
    }
  }
  return loaded;
}

/**
 * Checks rule 4: what a core entry loads at start.
 *
 * @param graph The graph holding the entry.
 * @param root The project root as a `file:` URL ending in `/`.
 * @param entry The entry, relative to the root (`tcp.ts`).
 * @returns One violation per optional module or package loaded.
 *
 * @example
 * ```ts
 * import { startViolations } from "./check_layers.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const graph = {
 *   modules: [
 *     { specifier: "file:///p/tcp.ts", dependencies: [
 *       { specifier: "./lib/faults/faults.ts", code: { specifier: "file:///p/lib/faults/faults.ts" } },
 *     ] },
 *   ],
 * };
 * deepStrictEqual(startViolations(graph, "file:///p/", "tcp.ts"), [
 *   { file: "tcp.ts", target: "lib/faults/faults.ts", rule: "a core entry loads no optional part at start", verb: "loads" },
 * ]);
 * ```
 */
export function startViolations(
  graph: ModuleGraph,
  root: string,
  entry: string,
): LayerViolation[] {
  const violations: LayerViolation[] = [];
  for (const specifier of loadedAtStart(graph, root + entry)) {
    const target = place(specifier, root);
    const concern = concernOf(target);
    const optional = concern !== undefined
      ? OPTIONAL_CONCERNS.includes(concern)
      : OPTIONAL_PACKAGES.some((name) => specifier.startsWith(name));
    if (optional) {
      violations.push({
        file: entry,
        target,
        rule: "a core entry loads no optional part at start",
        verb: "loads",
      });
    }
  }
  return violations.sort((a, b) => a.target.localeCompare(b.target));
}

/**
 * The module graph of the project's entries, from `deno info --json`.
 *
 * @param root The project's root directory.
 * @param entries The entries, relative to the root.
 * @returns The graphs, merged.
 *
 * @example
 * ```ts ignore
 * const graph = await projectGraph(".", ["mod.ts"]);
 * ```
 */
export async function projectGraph(
  root: string,
  entries: readonly string[],
): Promise<ModuleGraph> {
  const graphs = await Promise.all(entries.map(async (entry) => {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: root,
      env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    }).output();
    if (!output.success) {
      throw new Error(
        `Cannot read the module graph of ${entry}: ${
          new TextDecoder().decode(output.stderr).trim()
        }`,
      );
    }
    return JSON.parse(new TextDecoder().decode(output.stdout)) as ModuleGraph;
  }));
  return { modules: graphs.flatMap((graph) => graph.modules) };
}

async function* libraryFiles(directory: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(directory)) {
    const path = join(directory, entry.name);
    if (entry.isDirectory) yield* libraryFiles(path);
    else if (/\.ts$/.test(entry.name) && !/_test\.ts$/.test(entry.name)) {
      yield path;
    }
  }
}

/**
 * Runs every rule on the project at `root`.
 *
 * @param root The project's root directory.
 * @returns The violations.
 *
 * @example
 * ```ts ignore
 * import { checkLayers } from "./check_layers.ts";
 *
 * console.log(await checkLayers("."));
 * ```
 */
export async function checkLayers(root: string): Promise<LayerViolation[]> {
  const rootUrl = pathToFileURL(join(root, "/")).href;
  const graph = await projectGraph(root, [
    "mod.ts",
    "main.ts",
    "cli/tcp_worker.ts",
  ]);
  const violations = [
    ...importViolations(graph, rootUrl),
    ...CORE_ENTRIES.flatMap((entry) => startViolations(graph, rootUrl, entry)),
  ];
  const reached = new Set(graph.modules.map((m) => m.specifier));
  for await (const path of libraryFiles(join(root, "lib"))) {
    if (!reached.has(pathToFileURL(path).href)) {
      violations.push({
        file: relative(root, path).split(sep).join("/"),
        target: "",
        rule: "every file under lib/ is reached from an entry",
      });
    }
  }
  return violations;
}

/**
 * One violation as the check prints it.
 *
 * @param violation The violation.
 * @returns `file: imports "target" (rule)` (or `loads`), or `file: (rule)`.
 *
 * @example
 * ```ts
 * import { formatViolation } from "./check_layers.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(
 *   formatViolation({ file: "lib/a/x.ts", target: "cli/y.ts", rule: "lib/ imports only lib/" }),
 *   'lib/a/x.ts: imports "cli/y.ts" (lib/ imports only lib/)',
 * );
 * ```
 */
export function formatViolation(violation: LayerViolation): string {
  const { file, target, rule, verb = "imports" } = violation;
  return target === ""
    ? `${file}: (${rule})`
    : `${file}: ${verb} "${target}" (${rule})`;
}

if (import.meta.main) {
  const root = Deno.args[0] ?? fileURLToPath(new URL("..", import.meta.url));
  const violations = await checkLayers(root);
  for (const violation of violations) console.error(formatViolation(violation));
  if (violations.length > 0) {
    console.error(`layers: ${violations.length} violation(s) of the rules`);
    Deno.exit(1);
  }
  console.log(
    "layers: lib/ imports only lib/, each concern only the core and what it declares, _ files stay in their folder, and tcp.ts, udp.ts, quic.ts load no optional part at start",
  );
}
