// Copyright 2026 the echolab authors. MIT license.
/**
 * Tests that need a network of their own: a network namespace (`unshare
 * -n`, as root) with its own loopback, where a test may add addresses and
 * change settings without touching the machine.
 *
 * @module
 */

import { isRoot } from "../deploy/containers.ts";
import { ensureCommand } from "./system_package.ts";

/** `undefined` when namespaces can be made here, else why a test is skipped. */
export const namespaceSkipped: string | undefined = !(await isRoot())
  ? "skipped: a network namespace needs root"
  : (await ensureCommand("unshare", "util-linux")) ??
    (await ensureCommand("ip", "iproute2"));

/**
 * Runs a bash script in a new network namespace whose loopback is up.
 *
 * @param lines The script, a line each (`set -e` comes first).
 * @param argument Passed to the script as `$0` (a program for `deno eval`).
 * @returns What the script printed; fails the test when it fails.
 */
export async function runInNamespace(
  lines: readonly string[],
  argument = "",
): Promise<string> {
  const output = await new Deno.Command("unshare", {
    args: [
      "-n",
      "bash",
      "-c",
      ["set -e", "ip link set lo up", ...lines].join("\n"),
      argument,
    ],
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    stderr: "piped",
  }).output();
  if (output.code !== 0) {
    throw new Error(
      `the namespace's script failed (exit ${output.code}): ${
        new TextDecoder().decode(output.stderr)
      }`,
    );
  }
  return new TextDecoder().decode(output.stdout);
}
