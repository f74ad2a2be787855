// Copyright 2026 the echolab authors. MIT license.
/**
 * README's flag tables against the one flag table the parser and `--help`
 * read: the first table under "Command line" lists exactly the servers'
 * flags (faults included), the second exactly the client's.
 *
 * `deno run --allow-read tools/check_flags.ts` prints each difference and
 * exits 1 if there is one.
 *
 * @module
 */

import { FLAG_HELP } from "../cli/command_line.ts";

/** A flag listed on one side only. */
export interface FlagDifference {
  /** `server` (faults included) or `client`. */
  table: "server" | "client";
  /** The flag, `--name`. */
  flag: string;
  /** Where it is missing. */
  missingFrom: "README" | "the flag table";
}

/**
 * The flags README's two flag tables name, from the Markdown text.
 *
 * @param readme README's text.
 * @returns The servers' and the client's flags, in README's order.
 *
 * @example
 * ```ts
 * import { readmeFlags } from "./check_flags.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const readme = "## Command line\n\n| flag | meaning |\n| - | - |\n| `--port PORT`, `--raw` | x |\n\n" +
 *   "| flag | meaning |\n| - | - |\n| `--udp` | y |\n\n## Tasks\n";
 * deepStrictEqual(readmeFlags(readme), { server: ["--port", "--raw"], client: ["--udp"] });
 * ```
 */
export function readmeFlags(
  readme: string,
): { server: string[]; client: string[] } {
  const start = readme.indexOf("## Command line\n");
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  const tables = section.split(/\n\n(?=\| flag)/).slice(1).map((table) =>
    table.split("\n").filter((line) => line.startsWith("| `"))
      .flatMap((line) =>
        [...line.split("|")[1]!.matchAll(/`(--[a-z][a-z-]*)/g)].map((m) =>
          m[1]!
        )
      )
      .filter((flag) => flag !== "--help" && flag !== "--version")
  );
  return { server: tables[0] ?? [], client: tables[1] ?? [] };
}

/**
 * Compares README's flag tables with the flag table.
 *
 * @param readme README's text.
 * @returns The flags listed on one side only.
 *
 * @example
 * ```ts
 * import { flagDifferences } from "./check_flags.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * deepStrictEqual(
 *   flagDifferences(await Deno.readTextFile(new URL("../README.md", import.meta.url))),
 *   [],
 * );
 * ```
 */
export function flagDifferences(readme: string): FlagDifference[] {
  const listed = readmeFlags(readme);
  const differences: FlagDifference[] = [];
  for (const table of ["server", "client"] as const) {
    const sections = table === "server" ? ["server", "faults"] : ["client"];
    const known = new Set(
      FLAG_HELP.filter((help) => sections.includes(help.section))
        .map((help) => `--${help.name}`),
    );
    const documented = new Set(listed[table]);
    for (const flag of known) {
      if (!documented.has(flag)) {
        differences.push({ table, flag, missingFrom: "README" });
      }
    }
    for (const flag of documented) {
      if (!known.has(flag)) {
        differences.push({ table, flag, missingFrom: "the flag table" });
      }
    }
  }
  return differences;
}

if (import.meta.main) {
  const readme = await Deno.readTextFile(
    new URL("../README.md", import.meta.url),
  );
  const differences = flagDifferences(readme);
  for (const { table, flag, missingFrom } of differences) {
    console.error(
      `flags: ${flag} (${table} flags) is missing from ${missingFrom}`,
    );
  }
  if (differences.length > 0) Deno.exit(1);
  console.log(
    "flags: README's flag tables list exactly the flag table's flags",
  );
}
