// Copyright 2026 the echolab authors. MIT license.
/**
 * echolab's one reader of IP address text, on ipaddr.js: the PROXY header,
 * the client's PROXY header writer, the access lists and the command line's
 * `--host` all read addresses through it.
 *
 * @module
 */

import ipaddr from "ipaddr.js";

/** An IP address, read. */
export interface IpAddress {
  /** 4 or 6. */
  version: 4 | 6;
  /** Its 4 or 16 bytes, in network order. */
  bytes: Uint8Array;
}

/**
 * Reads an IPv4 address in four-part decimal (`127.0.0.1`, no leading
 * zeros, no hex) or an IPv6 address (`::1`, `::ffff:1.2.3.4`; no zone, no
 * brackets).
 *
 * @param text The text.
 * @returns The address, or `undefined` when the text is not one.
 *
 * @example
 * ```ts
 * import { parseIp } from "./ip_address.ts";
 * import { deepStrictEqual, strictEqual } from "node:assert/strict";
 *
 * deepStrictEqual(parseIp("127.0.0.1"), { version: 4, bytes: new Uint8Array([127, 0, 0, 1]) });
 * strictEqual(parseIp("::1")?.version, 6);
 * strictEqual(parseIp("01.2.3.4"), undefined);
 * strictEqual(parseIp("fe80::1%eth0"), undefined);
 * ```
 */
export function parseIp(text: string): IpAddress | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) {
    return {
      version: 4,
      bytes: new Uint8Array(ipaddr.IPv4.parse(text).toByteArray()),
    };
  }
  if (text.includes("%") || !ipaddr.IPv6.isValid(text)) return undefined;
  return {
    version: 6,
    bytes: new Uint8Array(ipaddr.IPv6.parse(text).toByteArray()),
  };
}
