// Copyright 2026 the echolab authors. MIT license.
/**
 * Which source networks may use the servers (`--allow`).
 *
 * Parsing and matching are done by ipaddr.js, which knows IPv4, IPv6 and
 * IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`, as a dual-stack `::`
 * listener reports IPv4 peers).
 *
 * @module
 */

import ipaddr from "ipaddr.js";

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** Results remembered per source address, so a flood costs map lookups. */
const MAX_REMEMBERED = 10_000;

/**
 * A list of CIDR ranges; a source is allowed when it is in one of them.
 *
 * @example
 * ```ts
 * import { AccessList } from "./access_list.ts";
 * import { deepStrictEqual, strictEqual } from "node:assert/strict";
 *
 * const list = AccessList.parse("127.0.0.1/8,::1");
 * deepStrictEqual(list.ranges, ["127.0.0.0/8", "::1/128"]);
 * strictEqual(list.allows("127.0.0.1"), true);
 * strictEqual(list.allows("::ffff:127.0.0.1"), true);
 * strictEqual(list.allows("10.0.0.1"), false);
 * ```
 */
export class AccessList {
  /**
   * The ranges, each with its network address (`127.0.0.1/8` becomes
   * `127.0.0.0/8`; a bare address gets `/32` or `/128`).
   */
  readonly ranges: readonly string[];
  #ranges: [Address, number][];
  #known = new Map<string, boolean>();

  private constructor(ranges: [Address, number][]) {
    this.#ranges = ranges;
    this.ranges = ranges.map(([address, bits]) =>
      `${
        address.kind() === "ipv4"
          ? ipaddr.IPv4.networkAddressFromCIDR(`${address}/${bits}`)
          : ipaddr.IPv6.networkAddressFromCIDR(`${address}/${bits}`)
      }/${bits}`
    );
  }

  /**
   * Parses a comma-separated list of CIDR ranges; a bare address means that
   * one address.
   *
   * @param text E.g. `127.0.0.0/8,::1/128`.
   * @returns The list.
   * @throws {RangeError} Naming the first entry that is not a range.
   */
  static parse(text: string): AccessList {
    const entries = text.split(",").map((entry) => entry.trim());
    const ranges = entries.map((entry): [Address, number] => {
      if (ipaddr.IPv4.isValidCIDRFourPartDecimal(entry)) {
        return ipaddr.IPv4.parseCIDR(entry);
      }
      if (ipaddr.IPv6.isValidCIDR(entry)) return ipaddr.IPv6.parseCIDR(entry);
      if (ipaddr.IPv4.isValidFourPartDecimal(entry)) {
        return [ipaddr.IPv4.parse(entry), 32];
      }
      if (ipaddr.IPv6.isValid(entry)) return [ipaddr.IPv6.parse(entry), 128];
      throw new RangeError(
        `${
          JSON.stringify(entry)
        } is not an IPv4 or IPv6 range such as 127.0.0.0/8 or ::1/128`,
      );
    });
    return new AccessList(ranges);
  }

  /**
   * Tells whether a source address is in the list.
   *
   * @param hostname The peer's address as Deno reports it.
   * @returns Whether it may be served.
   */
  allows(hostname: string): boolean {
    const known = this.#known.get(hostname);
    if (known !== undefined) return known;
    const allowed = this.#match(hostname);
    if (this.#known.size >= MAX_REMEMBERED) this.#known.clear();
    this.#known.set(hostname, allowed);
    return allowed;
  }

  #match(hostname: string): boolean {
    let address: Address;
    try {
      address = ipaddr.process(hostname);
    } catch {
      return false;
    }
    for (const range of this.#ranges) {
      const candidate = address.kind() === range[0].kind()
        ? address
        : address.kind() === "ipv4"
        ? (address as ipaddr.IPv4).toIPv4MappedAddress()
        : undefined;
      if (candidate !== undefined && candidate.match(range)) return true;
    }
    return false;
  }
}
