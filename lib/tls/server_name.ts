// Copyright 2026 the echolab authors. MIT license.
/**
 * The names certificates are chosen by: a host name, or a wildcard for one
 * label below a domain.
 *
 * @module
 */

const NAME =
  /^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/i;

/**
 * Tells whether `name` is a host name (`a.example`) or a wildcard
 * (`*.example.com`), letters of either case.
 *
 * @param name The name.
 * @returns `true` for one of the two.
 *
 * @example
 * ```ts
 * import { isServerName } from "./server_name.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(isServerName("*.Example.com"), true);
 * strictEqual(isServerName("a b"), false);
 * ```
 */
export function isServerName(name: string): boolean {
  return NAME.test(name);
}
