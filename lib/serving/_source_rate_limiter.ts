// Copyright 2026 the echolab authors. MIT license.
/**
 * Per-source token buckets (`--udp-rate`).
 *
 * @module
 */

/** Buckets kept at most; the oldest go first when a flood brings more. */
const MAX_SOURCES = 65_536;

interface Bucket {
  tokens: number;
  updated: number;
}

/**
 * Allows each source `rate` events per second: a bucket per source holds up
 * to `rate` tokens and refills at `rate` per second; an event takes one.
 *
 * @example
 * ```ts
 * import { SourceRateLimiter } from "./_source_rate_limiter.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const limiter = new SourceRateLimiter(2);
 * const now = 1000;
 * deepStrictEqual(
 *   [limiter.allow("a", now), limiter.allow("a", now), limiter.allow("a", now), limiter.allow("b", now)],
 *   [true, true, false, true],
 * );
 * deepStrictEqual(limiter.allow("a", now + 500), true); // one token back after 0.5 s
 * ```
 */
export class SourceRateLimiter {
  /** Events per second per source. */
  readonly rate: number;
  #buckets = new Map<string, Bucket>();

  /**
   * Creates the limiter.
   *
   * @param rate Events per second allowed per source, and the burst size.
   */
  constructor(rate: number) {
    this.rate = rate;
  }

  /**
   * Takes a token for `source` if it has one.
   *
   * @param source The source, e.g. its IP address.
   * @param now The time in milliseconds (`performance.now()`).
   * @returns Whether the event is allowed.
   */
  allow(source: string, now: number = performance.now()): boolean {
    let bucket = this.#buckets.get(source);
    if (bucket === undefined) {
      if (this.#buckets.size >= MAX_SOURCES) {
        this.#buckets.delete(this.#buckets.keys().next().value!);
      }
      bucket = { tokens: this.rate, updated: now };
      this.#buckets.set(source, bucket);
    } else {
      bucket.tokens = Math.min(
        this.rate,
        bucket.tokens + (now - bucket.updated) * this.rate / 1000,
      );
      bucket.updated = now;
    }
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
