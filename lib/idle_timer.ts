// Copyright 2026 the echolab authors. MIT license.
/**
 * A cheap idle timeout for connections that see many events.
 *
 * @module
 */

/**
 * Calls back once after `timeout` milliseconds without a
 * {@linkcode IdleTimer.touch}, or after `timeout` milliseconds spent paused.
 *
 * Idleness measures waiting for the peer: while the owner is waiting on the
 * peer for something else (a write the peer does not read), it pauses the
 * timer, and a pause longer than `timeout` fires with `stalled` set.
 *
 * Touching only records the time: the underlying timer is re-armed lazily
 * when it fires early, so a busy connection costs one timer per timeout
 * period, not one per event.
 *
 * @example
 * ```ts
 * import { IdleTimer } from "./idle_timer.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const { promise, resolve } = Promise.withResolvers<string>();
 * using timer = new IdleTimer(10, () => resolve("idle"));
 * timer.touch();
 * strictEqual(await promise, "idle");
 * ```
 */
export class IdleTimer implements Disposable {
  /** Milliseconds of idleness allowed. */
  readonly timeout: number;
  #onIdle: (stalled: boolean) => void;
  #lastActivity: number;
  #pausedAt: number | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Starts the timer.
   *
   * @param timeout Milliseconds of idleness allowed; 0 or less never fires.
   * @param onIdle Called once when the time has passed without activity
   * (`stalled` is `false`) or while paused (`stalled` is `true`).
   */
  constructor(timeout: number, onIdle: (stalled: boolean) => void) {
    this.timeout = timeout;
    this.#onIdle = onIdle;
    this.#lastActivity = Date.now();
    if (timeout > 0) this.#arm(timeout);
  }

  /** Records activity now, pushing the deadline back. */
  touch(): void {
    this.#lastActivity = Date.now();
  }

  /** Stops counting idleness until {@linkcode IdleTimer.resume}. */
  pause(): void {
    this.#pausedAt = Date.now();
  }

  /** Ends a pause; its end counts as activity. */
  resume(): void {
    this.#pausedAt = undefined;
    this.#lastActivity = Date.now();
  }

  /** Stops the timer for good. */
  clear(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Same as {@linkcode IdleTimer.clear}. */
  [Symbol.dispose](): void {
    this.clear();
  }

  #arm(delay: number): void {
    this.#timer = setTimeout(() => {
      const stalled = this.#pausedAt !== undefined;
      const since = this.#pausedAt ?? this.#lastActivity;
      const elapsed = Date.now() - since;
      if (elapsed >= this.timeout) {
        this.#timer = undefined;
        this.#onIdle(stalled);
      } else {
        this.#arm(this.timeout - elapsed);
      }
    }, delay);
  }
}
