// Copyright 2026 the echolab authors. MIT license.
/**
 * An ephemeral self-signed certificate, made with WebCrypto: an ECDSA P-256
 * key and an X.509 v3 certificate (RFC 5280) written here in DER, for a
 * server that was given none (the QUIC server: QUIC has no plain mode).
 *
 * @module
 */

/** Options of {@linkcode makeSelfSignedCertificate}. */
export interface SelfSignedOptions {
  /**
   * The names it is for: host names and IP addresses, each a subject
   * alternative name; the first is also the subject's CN.
   *
   * @default {["localhost", "127.0.0.1"]}
   */
  names?: readonly string[];
  /**
   * Days it is valid from now, at most 14 (the most browsers accept for a
   * certificate pinned by its hash).
   *
   * @default {14}
   */
  days?: number;
}

/** A certificate, its key and its fingerprint. */
export interface SelfSignedCertificate {
  /** The certificate, PEM. */
  cert: string;
  /** Its private key, PKCS #8 PEM. */
  key: string;
  /** SHA-256 of the certificate's DER, as `AB:CD:…` (as openssl prints it). */
  fingerprint: string;
  /** When it stops being valid. */
  notAfter: Date;
}

/** The longest validity, in days. */
export const MAX_SELF_SIGNED_DAYS = 14;

const OID = {
  ecPublicKey: "1.2.840.10045.2.1",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  commonName: "2.5.4.3",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  serverAuth: "1.3.6.1.5.5.7.3.1",
} as const;

/**
 * Makes a self-signed certificate for a server: ECDSA P-256 with SHA-256,
 * not a CA (a CA certificate as a server's is refused by Deno's QUIC and
 * TLS clients), key usage digital signature, extended key usage server
 * authentication.
 *
 * @param options The names and the validity.
 * @returns The certificate and key as PEM, and its SHA-256 fingerprint.
 * @throws {RangeError} For a validity outside 1 to 14 days or no name.
 *
 * @example
 * ```ts
 * import { makeSelfSignedCertificate } from "./self_signed.ts";
 * import { match } from "node:assert/strict";
 *
 * const { cert, fingerprint } = await makeSelfSignedCertificate();
 * match(cert, /^-----BEGIN CERTIFICATE-----\n/);
 * match(fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
 * ```
 */
export async function makeSelfSignedCertificate(
  options: SelfSignedOptions = {},
): Promise<SelfSignedCertificate> {
  const names = options.names ?? ["localhost", "127.0.0.1"];
  const days = options.days ?? MAX_SELF_SIGNED_DAYS;
  if (!Number.isInteger(days) || days < 1 || days > MAX_SELF_SIGNED_DAYS) {
    throw new RangeError(
      `a self-signed certificate is valid 1 to ${MAX_SELF_SIGNED_DAYS} days, not ${days}`,
    );
  }
  if (names.length === 0) {
    throw new RangeError("a self-signed certificate needs a name");
  }
  const keys = await crypto.subtle.generateKey(
    { name: "ECDSA", namedCurve: "P-256" },
    true,
    ["sign", "verify"],
  );
  const spki = new Uint8Array(
    await crypto.subtle.exportKey("spki", keys.publicKey),
  );
  // A minute back, for clocks a little behind; the whole span is `days`.
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(notBefore.getTime() + days * 86_400_000);
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0]! &= 0x7f; // positive
  const signatureAlgorithm = sequence(oid(OID.ecdsaWithSha256));
  const name = sequence(
    set(sequence(oid(OID.commonName), utf8String(names[0]!))),
  );
  const tbs = sequence(
    explicit(0, integer(Uint8Array.of(2))), // v3
    integer(serial),
    signatureAlgorithm,
    name,
    sequence(utcTime(notBefore), utcTime(notAfter)),
    name,
    spki,
    explicit(3, sequence(...extensions(names))),
  );
  const raw = new Uint8Array(
    await crypto.subtle.sign(
      { name: "ECDSA", hash: "SHA-256" },
      keys.privateKey,
      tbs,
    ),
  );
  const der = sequence(tbs, signatureAlgorithm, bitString(ecdsaDer(raw)));
  const pkcs8 = new Uint8Array(
    await crypto.subtle.exportKey("pkcs8", keys.privateKey),
  );
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", der));
  return {
    cert: pem("CERTIFICATE", der),
    key: pem("PRIVATE KEY", pkcs8),
    fingerprint: [...digest].map((byte) =>
      byte.toString(16).padStart(2, "0").toUpperCase()
    ).join(":"),
    notAfter,
  };
}

/**
 * The SHA-256 fingerprint of a PEM certificate, as
 * {@linkcode makeSelfSignedCertificate} gives it.
 *
 * @param cert The certificate, PEM (the first one of a chain).
 * @returns `AB:CD:…`.
 *
 * @example
 * ```ts
 * import { certificateFingerprint, makeSelfSignedCertificate } from "./self_signed.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const made = await makeSelfSignedCertificate();
 * strictEqual(await certificateFingerprint(made.cert), made.fingerprint);
 * ```
 */
export async function certificateFingerprint(cert: string): Promise<string> {
  const body = /-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/
    .exec(cert)?.[1];
  if (body === undefined) throw new TypeError("no PEM certificate");
  const der = Uint8Array.from(
    atob(body.replace(/\s+/g, "")),
    (character) => character.charCodeAt(0),
  );
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", der));
  return [...digest].map((byte) =>
    byte.toString(16).padStart(2, "0").toUpperCase()
  ).join(":");
}

function extensions(names: readonly string[]): Uint8Array[] {
  const altNames = names.map((name) => {
    const ip = ipBytes(name);
    return ip === undefined
      ? tlv(0x82, new TextEncoder().encode(name)) // dNSName
      : tlv(0x87, ip); // iPAddress
  });
  return [
    extension(OID.basicConstraints, true, sequence()),
    // digitalSignature (bit 0): one byte, 7 unused bits.
    extension(OID.keyUsage, true, tlv(0x03, Uint8Array.of(7, 0x80))),
    extension(OID.extKeyUsage, false, sequence(oid(OID.serverAuth))),
    extension(OID.subjectAltName, false, sequence(...altNames)),
  ];
}

function extension(id: string, critical: boolean, value: Uint8Array) {
  return sequence(
    oid(id),
    ...(critical ? [tlv(0x01, Uint8Array.of(0xff))] : []),
    tlv(0x04, value),
  );
}

/** An IPv4 address's 4 bytes; `undefined` for a host name. */
function ipBytes(name: string): Uint8Array | undefined {
  const parts = name.split(".");
  if (parts.length !== 4 || !parts.every((part) => /^\d{1,3}$/.test(part))) {
    return undefined;
  }
  const bytes = parts.map(Number);
  return bytes.every((byte) => byte <= 255)
    ? Uint8Array.from(bytes)
    : undefined;
}

/** WebCrypto's r‖s signature as the DER `SEQUENCE { r, s }` X.509 wants. */
function ecdsaDer(raw: Uint8Array): Uint8Array {
  const half = raw.length / 2;
  return sequence(integer(raw.subarray(0, half)), integer(raw.subarray(half)));
}

function tlv(tag: number, content: Uint8Array): Uint8Array<ArrayBuffer> {
  const length = content.length;
  const header = length < 0x80
    ? [tag, length]
    : length < 0x100
    ? [tag, 0x81, length]
    : [tag, 0x82, length >> 8, length & 0xff];
  const out = new Uint8Array(header.length + length);
  out.set(header);
  out.set(content, header.length);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function sequence(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  return tlv(0x30, concat(parts));
}

function set(...parts: Uint8Array[]): Uint8Array {
  return tlv(0x31, concat(parts));
}

function explicit(number: number, content: Uint8Array): Uint8Array {
  return tlv(0xa0 | number, content);
}

/** An unsigned big-endian INTEGER: leading zeros dropped, one added if needed. */
function integer(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  return tlv(
    0x02,
    trimmed[0]! & 0x80 ? concat([Uint8Array.of(0), trimmed]) : trimmed,
  );
}

function bitString(bytes: Uint8Array): Uint8Array {
  return tlv(0x03, concat([Uint8Array.of(0), bytes]));
}

function utf8String(text: string): Uint8Array {
  return tlv(0x0c, new TextEncoder().encode(text));
}

function utcTime(date: Date): Uint8Array {
  const two = (value: number) => String(value).padStart(2, "0");
  const text = two(date.getUTCFullYear() % 100) + two(date.getUTCMonth() + 1) +
    two(date.getUTCDate()) + two(date.getUTCHours()) +
    two(date.getUTCMinutes()) + two(date.getUTCSeconds()) + "Z";
  return tlv(0x17, new TextEncoder().encode(text));
}

function oid(dotted: string): Uint8Array {
  const [first, second, ...rest] = dotted.split(".").map(Number);
  const bytes = [first! * 40 + second!];
  for (const arc of rest) {
    const chunk = [arc & 0x7f];
    for (let value = arc >>> 7; value > 0; value >>>= 7) {
      chunk.unshift((value & 0x7f) | 0x80);
    }
    bytes.push(...chunk);
  }
  return tlv(0x06, Uint8Array.from(bytes));
}

function pem(label: string, der: Uint8Array): string {
  let binary = "";
  for (const byte of der) binary += String.fromCharCode(byte);
  const base64 = btoa(binary).match(/.{1,64}/g)!.join("\n");
  return `-----BEGIN ${label}-----\n${base64}\n-----END ${label}-----\n`;
}
