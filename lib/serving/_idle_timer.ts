// Copyright 2026 the echolab authors. MIT license.
/**
 * A cheap idle timeout for many connections: one sweep timer per server
 * instead of one timer per connection.
 *
 * @module
 */

/**
 * Checks every registered {@linkcode IdleTimer} on one interval, running
 * only while it has timers. At 10,000 idle connections this saves one
 * runtime timer (about 2 KB) per connection.
 *
 * @example
 * ```ts
 * import { IdleClock, IdleTimer } from "./_idle_timer.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const clock = new IdleClock(5);
 * const { promise, resolve } = Promise.withResolvers<boolean>();
 * new IdleTimer(20, resolve, clock);
 * strictEqual(await promise, false); // idle, not stalled
 * ```
 */
export class IdleClock {
  /** Milliseconds between two sweeps: how late a timeout may fire. */
  readonly period: number;
  #timers = new Set<IdleTimer>();
  #interval: ReturnType<typeof setInterval> | undefined;

  /**
   * Creates the clock; it starts with its first timer.
   *
   * @param period Milliseconds between two sweeps.
   */
  constructor(period: number) {
    this.period = period;
  }

  /**
   * A clock suited to a timeout: sweeps 20 times per timeout, at least every
   * 500 ms and at most every 5 ms.
   *
   * @param timeout The timeout in milliseconds.
   * @returns A new clock.
   */
  static for(timeout: number): IdleClock {
    return new IdleClock(Math.min(500, Math.max(5, timeout / 20)));
  }

  /**
   * Starts checking a timer.
   *
   * @param timer The timer.
   */
  add(timer: IdleTimer): void {
    this.#timers.add(timer);
    this.#interval ??= setInterval(() => this.#sweep(), this.period);
  }

  /**
   * Stops checking a timer.
   *
   * @param timer The timer.
   */
  delete(timer: IdleTimer): void {
    this.#timers.delete(timer);
    if (this.#timers.size === 0 && this.#interval !== undefined) {
      clearInterval(this.#interval);
      this.#interval = undefined;
    }
  }

  #sweep(): void {
    const now = Date.now();
    for (const timer of this.#timers) timer.check(now);
  }
}

/**
 * Calls back once after `timeout` milliseconds without a
 * {@linkcode IdleTimer.touch}, or after `timeout` milliseconds spent paused.
 *
 * Idleness measures waiting for the peer: while the owner is waiting on the
 * peer for something else (a write the peer does not read), it pauses the
 * timer, and a pause longer than `timeout` fires with `stalled` set.
 *
 * Touching only records the time; an {@linkcode IdleClock} shared by many
 * timers looks at it now and then.
 *
 * @example
 * ```ts
 * import { IdleTimer } from "./_idle_timer.ts";
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
  #clock: IdleClock;
  #lastActivity: number;
  #pausedAt: number | undefined;
  #suspended = false;
  #done = false;

  /**
   * Starts the timer.
   *
   * @param timeout Milliseconds of idleness allowed; 0 or less never fires.
   * @param onIdle Called once when the time has passed without activity
   * (`stalled` is `false`) or while paused (`stalled` is `true`).
   * @param clock The clock that checks this timer; by default one of its own.
   */
  constructor(
    timeout: number,
    onIdle: (stalled: boolean) => void,
    clock: IdleClock = IdleClock.for(timeout),
  ) {
    this.timeout = timeout;
    this.#onIdle = onIdle;
    this.#clock = clock;
    this.#lastActivity = Date.now();
    if (timeout > 0) clock.add(this);
    else this.#done = true;
  }

  /** Records activity now, pushing the deadline back. */
  touch(): void {
    this.#lastActivity = Date.now();
  }

  /** Stops counting idleness until {@linkcode IdleTimer.resume}. */
  pause(): void {
    this.#pausedAt = Date.now();
  }

  /**
   * Stops the clock entirely until {@linkcode IdleTimer.resume}: the time
   * the server itself spends (a delay it injects) is nobody's idleness.
   */
  suspend(): void {
    this.#suspended = true;
  }

  /** Ends a pause or a suspension; its end counts as activity. */
  resume(): void {
    this.#pausedAt = undefined;
    this.#suspended = false;
    this.#lastActivity = Date.now();
  }

  /**
   * Fires the callback if the time is up (called by the clock).
   *
   * @param now The time in milliseconds (`Date.now()`).
   */
  check(now: number): void {
    if (this.#done || this.#suspended) return;
    const stalled = this.#pausedAt !== undefined;
    const since = this.#pausedAt ?? this.#lastActivity;
    if (now - since >= this.timeout) {
      this.clear();
      this.#onIdle(stalled);
    }
  }

  /** Stops the timer for good. */
  clear(): void {
    this.#done = true;
    this.#clock.delete(this);
  }

  /** Same as {@linkcode IdleTimer.clear}. */
  [Symbol.dispose](): void {
    this.clear();
  }
}

/**
 * A connection's idle timer and lifetime timer, as its settings ask (none
 * when 0), each ending it with its reason.
 *
 * @param settings The timeout and lifetime in milliseconds, and the clock.
 * @param connection What the timers end.
 * @returns The idle timer and the lifetime timer, each possibly `undefined`.
 */
export function connectionTimers(
  settings: { timeout: number; lifetime: number; idleClock?: IdleClock },
  connection: {
    abort(reason: "write stalled" | "idle timeout" | "lifetime"): void;
  },
): [IdleTimer | undefined, ReturnType<typeof setTimeout> | undefined] {
  const idle = settings.timeout > 0
    ? new IdleTimer(
      settings.timeout,
      (stalled) => connection.abort(stalled ? "write stalled" : "idle timeout"),
      settings.idleClock,
    )
    : undefined;
  const lifetime = settings.lifetime > 0
    ? setTimeout(() => connection.abort("lifetime"), settings.lifetime)
    : undefined;
  return [idle, lifetime];
}
