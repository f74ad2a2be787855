// Copyright 2026 the echolab authors. MIT license.
/**
 * Waiting for SIGINT or SIGTERM with Deno's signal API.
 *
 * @module
 */

/** The signals that stop the servers. */
export const SHUTDOWN_SIGNALS: readonly Deno.Signal[] = ["SIGINT", "SIGTERM"];

/**
 * Copies of the first signal that arrive this soon after it are ignored:
 * wrappers such as `timeout` or a task runner deliver the same signal twice
 * (to the process and to its group), which must not skip the graceful stop.
 */
export const REPEAT_GRACE_MS = 250;

/**
 * Listens for SIGINT and SIGTERM. The first one settles
 * {@linkcode ShutdownSignal.received}; any later one (after
 * {@linkcode REPEAT_GRACE_MS}) calls `onRepeat` (the CLI exits at once there). Install it before binding: a listener added
 * later leaves a moment where the default action kills the process.
 *
 * Listening turns off Deno's default exit on these signals, so the owner must
 * stop its work and exit itself.
 *
 * @example
 * ```ts ignore
 * import { ShutdownSignal } from "./shutdown_signal.ts";
 *
 * using signal = new ShutdownSignal(() => Deno.exit(130));
 * const name = await signal.received;
 * console.log(`stopping on ${name}`);
 * ```
 */
export class ShutdownSignal implements Disposable {
  /** Settles with the first signal's name. */
  readonly received: Promise<Deno.Signal>;
  #handlers: [Deno.Signal, () => void][] = [];

  /**
   * Installs the listeners.
   *
   * @param onRepeat Called for each signal after the first.
   */
  constructor(onRepeat: (signal: Deno.Signal) => void) {
    const { promise, resolve } = Promise.withResolvers<Deno.Signal>();
    this.received = promise;
    let firstAt: number | undefined;
    for (const signal of SHUTDOWN_SIGNALS) {
      const handler = () => {
        if (firstAt === undefined) {
          firstAt = performance.now();
          resolve(signal);
        } else if (performance.now() - firstAt >= REPEAT_GRACE_MS) {
          onRepeat(signal);
        }
      };
      Deno.addSignalListener(signal, handler);
      this.#handlers.push([signal, handler]);
    }
  }

  /** Removes the listeners. */
  [Symbol.dispose](): void {
    for (const [signal, handler] of this.#handlers) {
      Deno.removeSignalListener(signal, handler);
    }
    this.#handlers = [];
  }
}
