// Copyright 2026 the echolab authors. MIT license.
/**
 * A wait with a deadline: what a stage reads before the echo (a PROXY
 * header, a ClientHello, a handshake) must come within the server's
 * timeout.
 *
 * @module
 */

/**
 * Waits for `promise`, or for `milliseconds` to pass, whichever is first.
 * What is left behind when the time is up fails once its connection is
 * closed: nobody waits for it, and its failure is not unhandled.
 *
 * @param promise What to wait for.
 * @param milliseconds The deadline; 0 or less waits without one.
 * @returns Its value, or `"late"`.
 *
 * @example
 * ```ts
 * import { withDeadline } from "./deadline.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const never = new Promise<string>(() => {});
 * strictEqual(await withDeadline(never, 10), "late");
 * strictEqual(await withDeadline(Promise.resolve("now"), 10), "now");
 * ```
 */
export async function withDeadline<T>(
  promise: Promise<T>,
  milliseconds: number,
): Promise<T | "late"> {
  if (milliseconds <= 0) return await promise;
  promise.catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), milliseconds);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
