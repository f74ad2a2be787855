// Copyright 2026 the echolab authors. MIT license.
/**
 * The seeded generator behind every random fault choice: per line or
 * datagram (drops, with bursts; delays, with jitter; duplicates), and, from a
 * stream of its own, per connection (which connections get faults).
 *
 * @module
 */

import type { FaultOptions } from "./faults.ts";

/**
 * The faults of one server and their seeded generator (mulberry32: small,
 * fast, and the same sequence for the same seed everywhere).
 *
 * @example
 * ```ts
 * import { FaultInjector } from "./fault_injector.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const a = new FaultInjector({ drop: 0.3, seed: 7 });
 * const b = new FaultInjector({ drop: 0.3, seed: 7 });
 * const draws = (f: FaultInjector) => Array.from({ length: 20 }, () => f.drops());
 * deepStrictEqual(draws(a), draws(b));
 * ```
 */
export class FaultInjector {
  /** The options, as given. */
  readonly options: Readonly<FaultOptions>;
  /** The seed in use (given, or chosen at random). */
  readonly seed: number;
  #state: number;
  /** The stream of per-connection choices, apart from the per-line one. */
  #connectionState: number;
  /** Burst loss: whether the Gilbert model is in its losing state. */
  #bad = false;

  /**
   * Creates the injector.
   *
   * @param options The faults.
   */
  constructor(options: FaultOptions) {
    this.options = options;
    this.seed = options.seed ??
      crypto.getRandomValues(new Uint32Array(1))[0]!;
    this.#state = this.seed >>> 0;
    this.#connectionState = (this.seed ^ 0x9e3779b9) >>> 0;
  }

  /** Whether any fault is on. */
  get active(): boolean {
    return Object.entries(this.options).some(([name, value]) =>
      name !== "seed" && value !== undefined
    );
  }

  /** The next number in [0, 1) of the per-line stream. */
  #next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    return mulberry32(this.#state);
  }

  /**
   * Draws whether the next connection gets faults (`faultConnections`),
   * from a stream of its own: the same connections are chosen in every run
   * with the same seed, whatever their lines draw.
   *
   * @returns `true` to give it faults.
   */
  selectsConnection(): boolean {
    const rate = this.options.faultConnections;
    if (rate === undefined) return true;
    this.#connectionState = (this.#connectionState + 0x6d2b79f5) >>> 0;
    return mulberry32(this.#connectionState) < rate;
  }

  /**
   * Draws whether the next line or datagram goes unanswered (one draw each,
   * in arrival order, when `drop` is on).
   *
   * @returns `true` to drop it.
   */
  drops(): boolean {
    const rate = this.options.drop;
    if (rate === undefined || rate <= 0) return false;
    const burst = this.options.dropBurst;
    if (burst === undefined) return this.#next() < rate;
    // Gilbert: the bad state loses everything and is left with 1/burst, so
    // runs have mean length burst; the good state is left so that the bad
    // one's long-run share is the rate.
    const leave = 1 / burst;
    if (this.#bad) {
      if (this.#next() < leave) this.#bad = false;
    } else if (this.#next() < (rate * leave) / (1 - rate)) this.#bad = true;
    return this.#bad;
  }

  /**
   * Draws whether the next UDP reply is sent twice.
   *
   * @returns `true` to send it twice.
   */
  duplicates(): boolean {
    const rate = this.options.duplicate;
    return rate !== undefined && rate > 0 && this.#next() < rate;
  }

  /**
   * The delay of the next reply, in milliseconds (a range draws once).
   *
   * @returns 0 when there is no delay.
   */
  delay(): number {
    const delay = this.options.delay;
    if (delay === undefined) return 0;
    let base: number;
    if (typeof delay === "number") base = delay;
    else {
      const [min, max] = delay;
      base = min === max ? min : Math.round(min + this.#next() * (max - min));
    }
    const jitter = this.options.jitter;
    if (jitter === undefined || jitter === 0) return base;
    // A normal deviate (Box-Muller) from two draws of the same stream.
    const u = 1 - this.#next();
    const v = this.#next();
    const normal = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    return Math.max(0, Math.round(base + jitter * normal));
  }

  /**
   * The active faults in words, for the start log:
   * `delay 100-300 ms, drop 0.1, seed 42`.
   *
   * @returns The description.
   */
  describe(): string {
    const o = this.options;
    const parts: string[] = [];
    if (o.delay !== undefined) {
      parts.push(
        `delay ${typeof o.delay === "number" ? o.delay : o.delay.join("-")} ms`,
      );
    }
    if (o.chunk !== undefined) {
      parts.push(
        `chunk ${o.chunk} bytes${
          o.chunkDelay ? ` every ${o.chunkDelay} ms` : ""
        }`,
      );
    }
    if (o.jitter !== undefined) parts.push(`jitter ${o.jitter} ms`);
    if (o.bandwidth !== undefined) {
      parts.push(`bandwidth ${o.bandwidth} bytes/s`);
    }
    if (o.resetAfter !== undefined) parts.push(`reset after ${o.resetAfter}`);
    if (o.closeAfter !== undefined) parts.push(`close after ${o.closeAfter}`);
    if (o.halfCloseAfter !== undefined) {
      parts.push(`half-close after ${o.halfCloseAfter}`);
    }
    if (o.stallAfter !== undefined) parts.push(`stall after ${o.stallAfter}`);
    if (o.banner !== undefined) {
      parts.push(`banner ${JSON.stringify(o.banner)}`);
    }
    if (o.drop !== undefined) parts.push(`drop ${o.drop}`);
    if (o.dropBurst !== undefined) parts.push(`drop bursts of ${o.dropBurst}`);
    if (o.faultsFor !== undefined) parts.push(`for ${o.faultsFor}`);
    if (o.faultConnections !== undefined) {
      parts.push(`on ${o.faultConnections} of connections`);
    }
    if (o.duplicate !== undefined) parts.push(`duplicate ${o.duplicate}`);
    parts.push(`seed ${this.seed}`);
    return parts.join(", ");
  }
}

/** mulberry32's output step: small, fast, the same everywhere. */
function mulberry32(state: number): number {
  let t = Math.imul(state ^ (state >>> 15), state | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/**
 * Waits, unless woken early (a server stopping).
 *
 * @param milliseconds How long.
 * @param signal Ends the wait early.
 * @returns After the time, or when aborted.
 *
 * @example
 * ```ts
 * import { sleep } from "./fault_injector.ts";
 *
 * await sleep(1);
 * ```
 */
export function sleep(
  milliseconds: number,
  signal?: AbortSignal,
): Promise<void> {
  if (milliseconds <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, milliseconds);
    signal?.addEventListener("abort", done);
  });
}
