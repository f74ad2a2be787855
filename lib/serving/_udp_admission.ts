// Copyright 2026 the echolab authors. MIT license.
/**
 * Admission of UDP datagrams: the access list, the reflection-loop guard
 * and the per-source rate, checked in that order before anything is
 * answered. A refused datagram is counted as a drop and logged throttled.
 *
 * @module
 */

import type { DropReporter } from "./_drop_reporter.ts";
import { loopRisk } from "./_loop_guard.ts";
import { plainHostname } from "./address.ts";
import { SourceRateLimiter } from "./_source_rate_limiter.ts";
import type { AddressFilter } from "./stages.ts";

/** Options of {@linkcode UdpAdmission}. */
export interface UdpAdmissionOptions {
  /** The sources served; `undefined` serves all. */
  allow?: AddressFilter;
  /** Refuse the ports of services that answer UDP, and the server itself. */
  loopGuard: boolean;
  /** Datagrams per second per source; 0 means no limit. */
  rate: number;
  /** Where the server is bound. */
  addr: Deno.NetAddr;
  /** Counts and logs the refusals. */
  drops: DropReporter;
}

/**
 * Decides which datagrams a UDP server answers.
 *
 * @example
 * ```ts ignore
 * const admission = new UdpAdmission({ loopGuard: true, rate: 0, addr, drops });
 * if (admission.admits(address, peer)) answer();
 * ```
 */
export class UdpAdmission {
  #allow: AddressFilter | undefined;
  #loopGuard: boolean;
  #limiter: SourceRateLimiter | undefined;
  #addr: Deno.NetAddr;
  #drops: DropReporter;

  /**
   * Sets the rules.
   *
   * @param options The list, the guard, the rate.
   */
  constructor(options: UdpAdmissionOptions) {
    this.#allow = options.allow;
    this.#loopGuard = options.loopGuard;
    this.#limiter = options.rate > 0
      ? new SourceRateLimiter(options.rate)
      : undefined;
    this.#addr = options.addr;
    this.#drops = options.drops;
  }

  /**
   * Checks one datagram's source.
   *
   * @param address The source.
   * @param peer The same as `host:port`.
   * @returns `true` to answer it; `false` when dropped (counted, logged).
   */
  admits(address: Deno.NetAddr, peer: string): boolean {
    const source = plainHostname(address.hostname);
    if (this.#allow !== undefined && !this.#allow.allows(source)) {
      this.#drops.drop(
        "not allowed",
        "Dropped datagram from {peer}: not allowed (not in {option})",
        { peer, option: "allow" },
      );
      return false;
    }
    if (this.#loopGuard) {
      const risk = loopRisk(address, this.#addr);
      if (risk !== undefined) {
        this.#drops.drop(
          "loop guard",
          "Dropped datagram from {peer}: loop guard, {risk} (see {option})",
          { peer, risk, option: "loopGuard" },
        );
        return false;
      }
    }
    if (this.#limiter !== undefined && !this.#limiter.allow(source)) {
      this.#drops.drop(
        "rate limit",
        "Dropped datagram from {peer}: rate limit, over {rate} per second (see {option})",
        { peer, rate: this.#limiter.rate, option: "rate" },
      );
      return false;
    }
    return true;
  }
}
