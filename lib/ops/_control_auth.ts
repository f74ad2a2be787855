// Copyright 2026 the echolab authors. MIT license.
/**
 * The control token, compared in time that does not depend on where a
 * wrong one differs.
 *
 * @module
 */

const encoder = new TextEncoder();

/** SHA-256 of a text: both sides of a comparison get the same length. */
export function digest(text: string): Promise<Uint8Array> {
  return crypto.subtle.digest("SHA-256", encoder.encode(text)).then((hash) =>
    new Uint8Array(hash)
  );
}

/** Compares two digests in time independent of where they differ. */
export function equal(a: Uint8Array, b: Uint8Array): boolean {
  let difference = a.length ^ b.length;
  for (let i = 0; i < a.length && i < b.length; i++) {
    difference |= a[i]! ^ b[i]!;
  }
  return difference === 0;
}
