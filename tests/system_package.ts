// Copyright 2026 the echolab authors. MIT license.
/**
 * Tests that need another system (HAProxy, Prometheus, tcpdump): find its
 * command, install its Debian package when running as root, or say why the
 * test is skipped.
 *
 * @module
 */

import { ensurePackages } from "../deploy/containers.ts";

/**
 * Makes sure `command` can run: it is on the PATH, or its package was just
 * installed with apt (as root).
 *
 * @returns `undefined` when it can run, else why the test is skipped.
 */
export async function ensureCommand(
  command: string,
  debianPackage: string,
): Promise<string | undefined> {
  const missing = await ensurePackages({ [command]: debianPackage });
  return missing === undefined ? undefined : `skipped: ${missing}`;
}
