// Copyright 2026 the echolab authors. MIT license.
/**
 * The JA4 TLS client fingerprint (FoxIO's JA4 specification, BSD-licensed):
 * `t13d1516h2_8daaf6152771_e5627efa2ab1`, from a ClientHello's version,
 * server name, cipher suites, extensions, ALPN and signature algorithms.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { type ClientHello, EXTENSION, isGrease } from "./client_hello.ts";

/** Options of {@linkcode ja4}. */
export interface Ja4Options {
  /**
   * What carried the hello: `t` TLS over TCP, `q` QUIC, `d` DTLS.
   *
   * @default {"t"}
   */
  transport?: "t" | "q" | "d";
}

const VERSION_CODES: Readonly<Record<number, string>> = {
  0x0304: "13",
  0x0303: "12",
  0x0302: "11",
  0x0301: "10",
  0x0300: "s3",
  0x0002: "s2",
  0xfeff: "d1",
  0xfefd: "d2",
  0xfefc: "d3",
};

const EMPTY_HASH = "000000000000";

/**
 * The JA4 fingerprint of a ClientHello. GREASE values are left out
 * everywhere; the counts are capped at 99.
 *
 * @param hello The hello, as {@linkcode readClientHello} reads it.
 * @param options What carried it.
 * @returns The fingerprint, `a_b_c`.
 *
 * @example
 * ```ts
 * import { ja4 } from "./ja4.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * // The worked example of the JA4 specification.
 * const fingerprint = ja4({
 *   legacyVersion: 0x0303,
 *   cipherSuites: [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035],
 *   extensions: [0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015],
 *   serverName: "example.com",
 *   alpn: ["h2", "http/1.1"],
 *   supportedVersions: [0x0304, 0x0303],
 *   groups: [],
 *   signatureAlgorithms: [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601],
 * });
 * strictEqual(fingerprint, "t13d1516h2_8daaf6152771_e5627efa2ab1");
 * ```
 */
export function ja4(hello: ClientHello, options: Ja4Options = {}): string {
  const ciphers = hello.cipherSuites.filter((value) => !isGrease(value));
  const extensions = hello.extensions.filter((value) => !isGrease(value));
  const versions = hello.supportedVersions.filter((value) => !isGrease(value));
  const version = versions.length > 0
    ? Math.max(...versions)
    : hello.legacyVersion;
  const a = (options.transport ?? "t") +
    (VERSION_CODES[version] ?? "00") +
    (extensions.includes(EXTENSION.serverName) ? "d" : "i") +
    count(ciphers.length) +
    count(extensions.length) +
    alpnCode(hello.alpn[0]);
  const b = ciphers.length === 0 ? EMPTY_HASH : hash(sortedHex(ciphers));
  const sortedExtensions = sortedHex(
    extensions.filter((value) =>
      value !== EXTENSION.serverName && value !== EXTENSION.alpn
    ),
  );
  const algorithms = hello.signatureAlgorithms
    .filter((value) => !isGrease(value))
    .map(hex)
    .join(",");
  const c = sortedExtensions === "" ? EMPTY_HASH : hash(
    algorithms === "" ? sortedExtensions : `${sortedExtensions}_${algorithms}`,
  );
  return `${a}_${b}_${c}`;
}

function count(value: number): string {
  return String(Math.min(value, 99)).padStart(2, "0");
}

function hex(value: number): string {
  return value.toString(16).padStart(4, "0");
}

function sortedHex(values: number[]): string {
  return values.toSorted((x, y) => x - y).map(hex).join(",");
}

function hash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 12);
}

function isAlphanumeric(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a);
}

/** The first and last characters of the first ALPN, or of its hex. */
function alpnCode(first: string | undefined): string {
  if (first === undefined || first.length === 0) return "00";
  const head = first.charCodeAt(0);
  const tail = first.charCodeAt(first.length - 1);
  if (isAlphanumeric(head) && isAlphanumeric(tail)) {
    return first[0]! + first[first.length - 1]!;
  }
  const hexText = [...first].map((character) =>
    character.charCodeAt(0).toString(16).padStart(2, "0")
  ).join("");
  return hexText[0]! + hexText[hexText.length - 1]!;
}
