// Copyright 2026 the echolab authors. MIT license.
/**
 * Reading files named on the command line (`--tls-cert`, `--tls-key`, `--ca`).
 *
 * @module
 */

import { errorMessage } from "../lib/serving/errors.ts";

/** A file named by a flag could not be read; the message names the fix. */
export class FlagFileError extends Error {
  /**
   * Creates the error.
   *
   * @param message One line naming the flag, the file and the fix.
   */
  constructor(message: string) {
    super(message);
    this.name = "FlagFileError";
  }
}

/**
 * Reads a text file named by a flag.
 *
 * @param flag The flag, for the message.
 * @param path The file.
 * @returns Its text.
 * @throws {FlagFileError} With one line: no permission (and the
 * `--allow-read` to add), no such file, or the system's reason.
 *
 * @example
 * ```ts
 * import { FlagFileError, readFlagFile } from "./flag_file.ts";
 * import { rejects } from "node:assert/strict";
 *
 * await rejects(readFlagFile("--ca", "/no/such/file.pem"), FlagFileError);
 * ```
 */
export async function readFlagFile(
  flag: string,
  path: string,
): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) {
      throw new FlagFileError(
        `Cannot read ${flag} ${path}: no read permission; re-run with --allow-read=${path}`,
      );
    }
    if (error instanceof Deno.errors.NotFound) {
      throw new FlagFileError(`Cannot read ${flag} ${path}: no such file`);
    }
    throw new FlagFileError(
      `Cannot read ${flag} ${path}: ${errorMessage(error)}`,
    );
  }
}
