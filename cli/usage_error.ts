// Copyright 2026 the echolab authors. MIT license.
/**
 * A command line the program cannot run.
 *
 * @module
 */

/**
 * A command line the program cannot run; the CLI prints its message and
 * exits with code 2.
 *
 * @example
 * ```ts
 * import { UsageError } from "./usage_error.ts";
 * import { throws } from "node:assert/strict";
 *
 * throws(() => {
 *   throw new UsageError('Invalid --port "x": expected a whole number from 0 to 65535');
 * }, UsageError);
 * ```
 */
export class UsageError extends Error {
  /**
   * Creates the error.
   *
   * @param message One line naming the flag and what it accepts.
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
