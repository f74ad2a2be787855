// Copyright 2026 the echolab authors. MIT license.
/**
 * The TLS ClientHello, read from the first bytes of a connection before any
 * TLS library sees them (RFC 8446 section 4.1.2; TLS 1.2's is the same
 * message): the record layer put back together, then the fields a load
 * balancer tester asks about.
 *
 * @module
 */

/** The most bytes of ClientHello message echolab reads. */
export const MAX_CLIENT_HELLO = 16_384;

/** TLS record type of handshake messages. */
const HANDSHAKE_RECORD = 22;
/** Handshake message type of a ClientHello. */
const CLIENT_HELLO = 1;
/** A record's header: type, version, length. */
const RECORD_HEADER = 5;
/** The largest record TLSPlaintext allows (2^14). */
const MAX_RECORD = 16_384;

/** Extension numbers read here (IANA's TLS ExtensionType registry). */
export const EXTENSION = {
  serverName: 0x0000,
  supportedGroups: 0x000a,
  signatureAlgorithms: 0x000d,
  alpn: 0x0010,
  supportedVersions: 0x002b,
} as const;

/** What a ClientHello offers, GREASE values included as sent. */
export interface ClientHello {
  /** `legacy_version`: 0x0303 for TLS 1.2 and 1.3. */
  legacyVersion: number;
  /** The cipher suites, in the client's order. */
  cipherSuites: number[];
  /** The extension types, in the client's order. */
  extensions: number[];
  /** The host name of `server_name`, as sent; `undefined` without one. */
  serverName: string | undefined;
  /**
   * The ALPN protocols offered, each byte one character (protocol names
   * are bytes, mostly ASCII); empty without the extension.
   */
  alpn: string[];
  /** `supported_versions`; empty without the extension. */
  supportedVersions: number[];
  /** `supported_groups`. */
  groups: number[];
  /** `signature_algorithms`, in the client's order. */
  signatureAlgorithms: number[];
}

/** The outcome of {@linkcode readClientHello}. */
export type ClientHelloResult =
  | { status: "complete"; hello: ClientHello }
  | { status: "incomplete" }
  | { status: "malformed"; reason: string };

/**
 * Tells whether a 16-bit value is one of GREASE's (RFC 8701): `0x0a0a`,
 * `0x1a1a`, ... `0xfafa`, which clients send to keep servers tolerant and
 * fingerprints ignore.
 *
 * @param value A cipher suite, extension, group, version or algorithm.
 * @returns `true` for a GREASE value.
 *
 * @example
 * ```ts
 * import { isGrease } from "./client_hello.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(isGrease(0x3a3a), true);
 * strictEqual(isGrease(0x1301), false);
 * ```
 */
export function isGrease(value: number): boolean {
  return (value & 0x0f0f) === 0x0a0a && (value >> 8) === (value & 0xff);
}

/**
 * The name of a TLS protocol version, as OpenSSL and `node:tls` print it.
 *
 * @param version The 16-bit version.
 * @returns `TLSv1.3`, `TLSv1.2`, `TLSv1.1`, `TLSv1`, `SSLv3`, or the
 * number in hex (`0x7f1c`).
 *
 * @example
 * ```ts
 * import { versionName } from "./client_hello.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(versionName(0x0304), "TLSv1.3");
 * ```
 */
export function versionName(version: number): string {
  switch (version) {
    case 0x0304:
      return "TLSv1.3";
    case 0x0303:
      return "TLSv1.2";
    case 0x0302:
      return "TLSv1.1";
    case 0x0301:
      return "TLSv1";
    case 0x0300:
      return "SSLv3";
    default:
      return `0x${version.toString(16).padStart(4, "0")}`;
  }
}

/**
 * Reads a ClientHello from the first bytes of a connection: one or more
 * handshake records whose payloads, joined, hold the message. Bytes after
 * it are not looked at.
 *
 * @param bytes What the connection has sent so far.
 * @returns `complete` with the hello; `incomplete` when more bytes are
 * needed; `malformed` with the reason when the bytes are not a ClientHello
 * (plain text, an HTTP request, a bad length) or it is longer than
 * {@linkcode MAX_CLIENT_HELLO}.
 *
 * @example
 * ```ts
 * import { readClientHello } from "./client_hello.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const http = new TextEncoder().encode("GET / HTTP/1.1\r\n");
 * const result = readClientHello(http);
 * strictEqual(result.status, "malformed");
 * ```
 */
export function readClientHello(bytes: Uint8Array): ClientHelloResult {
  // The message may span records: join their payloads until it is whole.
  let message: Uint8Array | undefined;
  let messageLength = -1;
  let offset = 0;
  const parts: Uint8Array[] = [];
  let joined = 0;
  while (true) {
    if (bytes.length - offset < RECORD_HEADER) {
      if (offset === 0 && bytes.length > 0 && bytes[0] !== HANDSHAKE_RECORD) {
        return notHandshake(bytes);
      }
      return { status: "incomplete" };
    }
    if (bytes[offset] !== HANDSHAKE_RECORD) {
      return offset === 0 ? notHandshake(bytes) : {
        status: "malformed",
        reason: `a record of type ${bytes[offset]} inside the ClientHello`,
      };
    }
    if (bytes[offset + 1] !== 3) {
      return {
        status: "malformed",
        reason: `record version ${bytes[offset + 1]}.${
          bytes[offset + 2]
        } is not TLS`,
      };
    }
    const recordLength = (bytes[offset + 3]! << 8) | bytes[offset + 4]!;
    if (recordLength === 0 || recordLength > MAX_RECORD) {
      return {
        status: "malformed",
        reason: `a handshake record of ${recordLength} bytes`,
      };
    }
    const start = offset + RECORD_HEADER;
    const available = Math.min(recordLength, bytes.length - start);
    parts.push(bytes.subarray(start, start + available));
    joined += available;
    if (messageLength === -1 && joined >= 4) {
      const head = concat(parts, 4);
      if (head[0] !== CLIENT_HELLO) {
        return {
          status: "malformed",
          reason: `handshake message ${head[0]} where a ClientHello (1) goes`,
        };
      }
      messageLength = (head[1]! << 16) | (head[2]! << 8) | head[3]!;
      if (messageLength > MAX_CLIENT_HELLO) {
        return {
          status: "malformed",
          reason:
            `a ClientHello of ${messageLength} bytes, over the ${MAX_CLIENT_HELLO}-byte limit`,
        };
      }
    }
    if (messageLength !== -1 && joined >= messageLength + 4) {
      message = concat(parts, messageLength + 4).subarray(4);
      break;
    }
    if (available < recordLength) return { status: "incomplete" };
    offset = start + recordLength;
  }
  try {
    return { status: "complete", hello: parseBody(new Reader(message)) };
  } catch (error) {
    if (error instanceof HelloError) {
      return { status: "malformed", reason: error.message };
    }
    throw error;
  }
}

function notHandshake(bytes: Uint8Array): ClientHelloResult {
  const text = bytes.subarray(0, 4).every((byte) => byte >= 0x20 && byte < 0x7f)
    ? " (plain text: is the client speaking TLS?)"
    : "";
  return {
    status: "malformed",
    reason: `the first byte is ${bytes[0]}, not a TLS handshake record${text}`,
  };
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1) return parts[0]!.subarray(0, length);
  const out = new Uint8Array(length);
  let filled = 0;
  for (const part of parts) {
    const take = Math.min(part.length, length - filled);
    out.set(part.subarray(0, take), filled);
    filled += take;
    if (filled === length) break;
  }
  return out;
}

class HelloError extends Error {}

/** Reads big-endian fields; throws {@linkcode HelloError} past the end. */
class Reader {
  #bytes: Uint8Array;
  #offset = 0;
  readonly what: string;

  constructor(bytes: Uint8Array, what = "ClientHello") {
    this.#bytes = bytes;
    this.what = what;
  }

  get left(): number {
    return this.#bytes.length - this.#offset;
  }

  #need(count: number): void {
    if (this.left < count) {
      throw new HelloError(`${this.what} ends early`);
    }
  }

  u8(): number {
    this.#need(1);
    return this.#bytes[this.#offset++]!;
  }

  u16(): number {
    this.#need(2);
    const value = (this.#bytes[this.#offset]! << 8) |
      this.#bytes[this.#offset + 1]!;
    this.#offset += 2;
    return value;
  }

  take(count: number): Uint8Array {
    this.#need(count);
    const out = this.#bytes.subarray(this.#offset, this.#offset + count);
    this.#offset += count;
    return out;
  }

  /** A vector with a 1- or 2-byte length, as its own reader. */
  vector(lengthBytes: 1 | 2, what: string): Reader {
    const length = lengthBytes === 1 ? this.u8() : this.u16();
    this.#need(length);
    return new Reader(this.take(length), what);
  }

  u16List(what: string): number[] {
    const values: number[] = [];
    if (this.left % 2 !== 0) {
      throw new HelloError(`${what} has an odd length`);
    }
    while (this.left > 0) values.push(this.u16());
    return values;
  }

  end(): void {
    if (this.left !== 0) {
      throw new HelloError(`${this.left} stray bytes after the ${this.what}`);
    }
  }
}

function parseBody(body: Reader): ClientHello {
  const legacyVersion = body.u16();
  body.take(32); // random
  const sessionId = body.vector(1, "legacy_session_id");
  if (sessionId.left > 32) {
    throw new HelloError("legacy_session_id is longer than 32 bytes");
  }
  const cipherSuites = body.vector(2, "cipher_suites").u16List(
    "cipher_suites",
  );
  if (cipherSuites.length === 0) {
    throw new HelloError("the ClientHello offers no cipher suite");
  }
  const compression = body.vector(1, "legacy_compression_methods");
  if (compression.left === 0) {
    throw new HelloError("the ClientHello offers no compression method");
  }
  const hello: ClientHello = {
    legacyVersion,
    cipherSuites,
    extensions: [],
    serverName: undefined,
    alpn: [],
    supportedVersions: [],
    groups: [],
    signatureAlgorithms: [],
  };
  // TLS 1.2 allows a ClientHello without extensions.
  if (body.left === 0) return hello;
  const extensions = body.vector(2, "extensions");
  body.end();
  while (extensions.left > 0) {
    const type = extensions.u16();
    if (hello.extensions.includes(type)) {
      throw new HelloError(`extension ${type} appears twice`);
    }
    hello.extensions.push(type);
    readExtension(hello, type, extensions.vector(2, `extension ${type}`));
  }
  return hello;
}

function readExtension(hello: ClientHello, type: number, data: Reader): void {
  switch (type) {
    case EXTENSION.serverName: {
      // An empty server_name is a server's answer; a client's holds a list.
      if (data.left === 0) return;
      const list = data.vector(2, "server_name list");
      data.end();
      while (list.left > 0) {
        const nameType = list.u8();
        const name = list.vector(2, "server name");
        if (nameType === 0 && hello.serverName === undefined) {
          hello.serverName = bytesToText(name.take(name.left));
        }
      }
      return;
    }
    case EXTENSION.alpn: {
      const list = data.vector(2, "ALPN list");
      data.end();
      while (list.left > 0) {
        const protocol = list.vector(1, "ALPN protocol");
        if (protocol.left === 0) {
          throw new HelloError("an empty ALPN protocol name");
        }
        hello.alpn.push(bytesToText(protocol.take(protocol.left)));
      }
      return;
    }
    case EXTENSION.supportedVersions: {
      const list = data.vector(1, "supported_versions");
      data.end();
      hello.supportedVersions = list.u16List("supported_versions");
      return;
    }
    case EXTENSION.supportedGroups: {
      const list = data.vector(2, "supported_groups");
      data.end();
      hello.groups = list.u16List("supported_groups");
      return;
    }
    case EXTENSION.signatureAlgorithms: {
      const list = data.vector(2, "signature_algorithms");
      data.end();
      hello.signatureAlgorithms = list.u16List("signature_algorithms");
      return;
    }
  }
}

/** One character per byte: names are bytes, and JA4 reads them as such. */
function bytesToText(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}
