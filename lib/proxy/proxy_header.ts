// Copyright 2026 the echolab authors. MIT license.
/**
 * The PROXY protocol header (HAProxy's `doc/proxy-protocol.txt`), versions 1
 * (text) and 2 (binary), told apart by their first bytes: parsed from the
 * bytes a connection has received so far, and written by the client.
 *
 * @module
 */

import { formatIpv4, formatIpv6 } from "../serving/address.ts";
import { parseIp } from "../policy/ip_address.ts";

/** An address carried by a header. */
export interface ProxyAddress {
  /** IPv4 dotted quad, or IPv6 in RFC 5952 form (`::1`). */
  hostname: string;
  /** The port. */
  port: number;
}

/** What {@linkcode parseProxyHeader} found. */
export type ProxyHeaderResult =
  | {
    /** More bytes are needed. */
    status: "incomplete";
  }
  | {
    /** Not a valid header. */
    status: "malformed";
    /** Why, in a few words. */
    reason: string;
  }
  | {
    /** A valid header of `length` bytes. */
    status: "ok";
    /** 1 or 2. */
    version: 1 | 2;
    /** The header's length in bytes: what follows it is the stream's data. */
    length: number;
    /**
     * The client and the address it connected to; `undefined` for v2 LOCAL,
     * v1 UNKNOWN and families other than INET and INET6, whose connections
     * keep their own addresses.
     */
    source?: ProxyAddress;
    /** The address the client connected to, when `source` is given. */
    destination?: ProxyAddress;
    /** What a v2 header's TLVs tell; absent without one echolab reads. */
    tlvs?: ProxyTlvs;
  };

/**
 * The type-length-value fields of a v2 header that echolab reads (as
 * HAProxy's `send-proxy-v2-ssl` and `proxy-v2-options` send them).
 */
export interface ProxyTlvs {
  /** `PP2_TYPE_ALPN`: the protocol the client negotiated with the proxy. */
  alpn?: string;
  /** `PP2_TYPE_AUTHORITY`: the host name the client asked for (its SNI). */
  authority?: string;
  /** `PP2_TYPE_UNIQUE_ID`, in hex. */
  uniqueId?: string;
  /** `PP2_TYPE_NETNS`: the network namespace the proxy accepted in. */
  netns?: string;
  /** `PP2_TYPE_SSL`: the client's TLS connection to the proxy. */
  ssl?: {
    /** The client connected over TLS (`PP2_CLIENT_SSL`). */
    tls: boolean;
    /** It presented a certificate, on this connection or its session. */
    clientCertificate: boolean;
    /** The proxy verified that certificate (or none was needed). */
    verified: boolean;
    /** `PP2_SUBTYPE_SSL_VERSION`: `TLSv1.3`. */
    version?: string;
    /** `PP2_SUBTYPE_SSL_CN`: the client certificate's common name. */
    cn?: string;
    /** `PP2_SUBTYPE_SSL_CIPHER`. */
    cipher?: string;
    /** `PP2_SUBTYPE_SSL_SIG_ALG`. */
    signatureAlgorithm?: string;
    /** `PP2_SUBTYPE_SSL_KEY_ALG`. */
    keyAlgorithm?: string;
  };
}

/** The longest v1 header, CRLF included. */
export const MAX_V1_LENGTH = 107;
/** The 12 bytes every v2 header starts with. */
export const V2_SIGNATURE: Uint8Array = new Uint8Array([
  0x0d,
  0x0a,
  0x0d,
  0x0a,
  0x00,
  0x0d,
  0x0a,
  0x51,
  0x55,
  0x49,
  0x54,
  0x0a,
]);
const V1_PREFIX = new TextEncoder().encode("PROXY ");
const CR = 13;
const LF = 10;
const decoder = new TextDecoder();

/**
 * Parses the header at the start of `bytes`, which may hold only its first
 * part (then `incomplete`), or the header and the data after it.
 *
 * @param bytes What the connection has received so far.
 * @returns The header, `incomplete`, or `malformed` with the reason.
 *
 * @example
 * ```ts
 * import { parseProxyHeader } from "./proxy_header.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const bytes = new TextEncoder().encode("PROXY TCP4 192.0.2.1 192.0.2.2 40446 8000\r\nhello\n");
 * deepStrictEqual(parseProxyHeader(bytes), {
 *   status: "ok", version: 1, length: 43,
 *   source: { hostname: "192.0.2.1", port: 40446 },
 *   destination: { hostname: "192.0.2.2", port: 8000 },
 * });
 * deepStrictEqual(parseProxyHeader(bytes.subarray(0, 10)), { status: "incomplete" });
 * ```
 */
export function parseProxyHeader(bytes: Uint8Array): ProxyHeaderResult {
  if (startsLike(bytes, V2_SIGNATURE)) {
    return bytes.length < V2_SIGNATURE.length
      ? { status: "incomplete" }
      : parseV2(bytes);
  }
  if (startsLike(bytes, V1_PREFIX)) {
    return bytes.length < V1_PREFIX.length
      ? { status: "incomplete" }
      : parseV1(bytes);
  }
  return { status: "malformed", reason: "no PROXY protocol signature" };
}

/** Whether `bytes` and `prefix` agree on their common length. */
function startsLike(bytes: Uint8Array, prefix: Uint8Array): boolean {
  const length = Math.min(bytes.length, prefix.length);
  for (let i = 0; i < length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

function malformed(reason: string): ProxyHeaderResult {
  return { status: "malformed", reason };
}

function parseV1(bytes: Uint8Array): ProxyHeaderResult {
  const limit = Math.min(bytes.length, MAX_V1_LENGTH);
  let end = -1;
  for (let i = V1_PREFIX.length; i < limit; i++) {
    if (bytes[i] === LF) {
      if (bytes[i - 1] !== CR) return malformed("v1 line ends without CRLF");
      end = i - 1;
      break;
    }
  }
  if (end === -1) {
    return bytes.length >= MAX_V1_LENGTH
      ? malformed(`v1 header longer than ${MAX_V1_LENGTH} bytes`)
      : { status: "incomplete" };
  }
  const line = decoder.decode(bytes.subarray(V1_PREFIX.length, end));
  const length = end + 2;
  const fields = line.split(" ");
  const family = fields[0];
  if (family === "UNKNOWN") return { status: "ok", version: 1, length };
  if (family !== "TCP4" && family !== "TCP6") {
    return malformed(
      `v1 family ${JSON.stringify(family)} is not TCP4, TCP6 or UNKNOWN`,
    );
  }
  if (fields.length !== 5) {
    return malformed("v1 header needs 4 fields after the family");
  }
  const [, sourceText, destinationText, sourcePort, destinationPort] = fields;
  const version = family === "TCP4" ? 4 : 6;
  const source = canonical(sourceText!, version);
  const destination = canonical(destinationText!, version);
  if (source === undefined || destination === undefined) {
    return malformed(
      `v1 address is not ${family === "TCP4" ? "IPv4" : "IPv6"}`,
    );
  }
  const ports = [parsePort(sourcePort!), parsePort(destinationPort!)];
  if (ports[0] === undefined || ports[1] === undefined) {
    return malformed("v1 port is not a number from 0 to 65535");
  }
  return {
    status: "ok",
    version: 1,
    length,
    source: { hostname: source, port: ports[0] },
    destination: { hostname: destination, port: ports[1] },
  };
}

function parsePort(text: string): number | undefined {
  if (!/^(0|[1-9]\d{0,4})$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

function parseV2(bytes: Uint8Array): ProxyHeaderResult {
  if (bytes.length < 16) {
    // The version is known from the 13th byte on: reject early.
    if (bytes.length > 12 && bytes[12]! >> 4 !== 2) {
      return malformed(`v2 version ${bytes[12]! >> 4} is not 2`);
    }
    return { status: "incomplete" };
  }
  const version = bytes[12]! >> 4;
  const command = bytes[12]! & 0x0f;
  const family = bytes[13]! >> 4;
  const protocol = bytes[13]! & 0x0f;
  if (version !== 2) return malformed(`v2 version ${version} is not 2`);
  if (command > 1) {
    return malformed(`v2 command ${command} is not LOCAL or PROXY`);
  }
  if (family > 3) return malformed(`v2 address family ${family} is unknown`);
  if (protocol > 2) return malformed(`v2 transport ${protocol} is unknown`);
  const announced = (bytes[14]! << 8) | bytes[15]!;
  const length = 16 + announced;
  if (bytes.length < length) return { status: "incomplete" };
  if (command === 0) return { status: "ok", version: 2, length };
  const block = bytes.subarray(16, length);
  const addressLength = ADDRESS_LENGTHS[family]!;
  let tlvs: ProxyTlvs | undefined;
  if (block.length > addressLength) {
    const read = readTlvs(block.subarray(addressLength));
    if (typeof read === "string") return malformed(read);
    // Only TLVs echolab reads (not NOOP, CRC32C) make the field.
    if (Object.keys(read).length > 0) tlvs = read;
  }
  if (family === 1) {
    if (block.length < 12) return malformed("v2 INET address block is short");
    return {
      status: "ok",
      version: 2,
      length,
      ...(tlvs === undefined ? {} : { tlvs }),
      source: {
        hostname: formatIpv4(block, 0),
        port: port(block, 8),
      },
      destination: {
        hostname: formatIpv4(block, 4),
        port: port(block, 10),
      },
    };
  }
  if (family === 2) {
    if (block.length < 36) return malformed("v2 INET6 address block is short");
    return {
      status: "ok",
      version: 2,
      length,
      ...(tlvs === undefined ? {} : { tlvs }),
      source: {
        hostname: formatIpv6(block, 0),
        port: port(block, 32),
      },
      destination: {
        hostname: formatIpv6(block, 16),
        port: port(block, 34),
      },
    };
  }
  if (family === 3 && block.length < 216) {
    return malformed("v2 UNIX address block is short");
  }
  // UNSPEC or UNIX: the connection keeps its own addresses.
  return {
    status: "ok",
    version: 2,
    length,
    ...(tlvs === undefined ? {} : { tlvs }),
  };
}

/** The address block's length by v2 family: UNSPEC, INET, INET6, UNIX. */
const ADDRESS_LENGTHS = [0, 12, 36, 216];
const TLV = {
  alpn: 0x01,
  authority: 0x02,
  uniqueId: 0x05,
  ssl: 0x20,
  sslVersion: 0x21,
  sslCn: 0x22,
  sslCipher: 0x23,
  sslSigAlg: 0x24,
  sslKeyAlg: 0x25,
  netns: 0x30,
} as const;

/** Each TLV of `bytes` in turn; a string says why they are malformed. */
function eachTlv(
  bytes: Uint8Array,
  visit: (type: number, value: Uint8Array) => string | undefined,
): string | undefined {
  let offset = 0;
  while (offset < bytes.length) {
    if (bytes.length - offset < 3) return "v2 TLV header is cut short";
    const type = bytes[offset]!;
    const length = (bytes[offset + 1]! << 8) | bytes[offset + 2]!;
    const end = offset + 3 + length;
    if (end > bytes.length) {
      return `v2 TLV 0x${type.toString(16)} runs past the header`;
    }
    const failed = visit(type, bytes.subarray(offset + 3, end));
    if (failed !== undefined) return failed;
    offset = end;
  }
  return undefined;
}

function readTlvs(bytes: Uint8Array): ProxyTlvs | string {
  const tlvs: ProxyTlvs = {};
  const failed = eachTlv(bytes, (type, value) => {
    switch (type) {
      case TLV.alpn:
        tlvs.alpn = decoder.decode(value);
        return;
      case TLV.authority:
        tlvs.authority = decoder.decode(value);
        return;
      case TLV.uniqueId:
        tlvs.uniqueId = [...value].map((byte) =>
          byte.toString(16).padStart(2, "0")
        ).join("");
        return;
      case TLV.netns:
        tlvs.netns = decoder.decode(value);
        return;
      case TLV.ssl:
        return readSsl(value, tlvs);
    }
    return undefined;
  });
  return failed ?? tlvs;
}

function readSsl(value: Uint8Array, tlvs: ProxyTlvs): string | undefined {
  if (value.length < 5) return "v2 SSL TLV is shorter than 5 bytes";
  const client = value[0]!;
  const verify = (value[1]! << 24 | value[2]! << 16 | value[3]! << 8 |
    value[4]!) >>> 0;
  const ssl: NonNullable<ProxyTlvs["ssl"]> = {
    tls: (client & 0x01) !== 0,
    clientCertificate: (client & 0x06) !== 0,
    verified: verify === 0,
  };
  tlvs.ssl = ssl;
  return eachTlv(value.subarray(5), (type, sub) => {
    const text = decoder.decode(sub);
    if (type === TLV.sslVersion) ssl.version = text;
    else if (type === TLV.sslCn) ssl.cn = text;
    else if (type === TLV.sslCipher) ssl.cipher = text;
    else if (type === TLV.sslSigAlg) ssl.signatureAlgorithm = text;
    else if (type === TLV.sslKeyAlg) ssl.keyAlgorithm = text;
    return undefined;
  });
}

/**
 * What a header's TLVs tell, as one line for the trace: `authority
 * a.example, alpn h2, tls TLSv1.3 TLS_AES_256_GCM_SHA384, cn client`.
 *
 * @param tlvs The TLVs.
 * @returns The line; `""` when they tell nothing echolab reads.
 *
 * @example
 * ```ts
 * import { describeTlvs } from "./proxy_header.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(describeTlvs({ authority: "a.example", alpn: "h2" }), "authority a.example, alpn h2");
 * ```
 */
export function describeTlvs(tlvs: ProxyTlvs): string {
  const parts: string[] = [];
  if (tlvs.authority !== undefined) parts.push(`authority ${tlvs.authority}`);
  if (tlvs.alpn !== undefined) parts.push(`alpn ${tlvs.alpn}`);
  const ssl = tlvs.ssl;
  if (ssl !== undefined) {
    parts.push(
      ssl.tls
        ? ["tls", ssl.version, ssl.cipher].filter((part) => part).join(" ")
        : "no tls",
    );
    if (ssl.clientCertificate) {
      parts.push(
        `client certificate${ssl.cn === undefined ? "" : ` cn ${ssl.cn}`} ${
          ssl.verified ? "verified" : "not verified"
        }`,
      );
    }
  }
  if (tlvs.uniqueId !== undefined) parts.push(`unique id ${tlvs.uniqueId}`);
  if (tlvs.netns !== undefined) parts.push(`netns ${tlvs.netns}`);
  return parts.join(", ");
}

function port(block: Uint8Array, offset: number): number {
  return (block[offset]! << 8) | block[offset + 1]!;
}

/** An address of one version read and written back in its canonical form. */
function canonical(text: string, version: 4 | 6): string | undefined {
  const address = parseIp(text);
  if (address?.version !== version) return undefined;
  return version === 4
    ? formatIpv4(address.bytes, 0)
    : formatIpv6(address.bytes, 0);
}

/**
 * Writes a PROXY header for a connection from `source` to `destination`
 * (the client side of the protocol, as a load balancer sends it).
 *
 * @param version 1 (text) or 2 (binary).
 * @param addresses The client's and the server's addresses, both IPv4 or
 * both IPv6.
 * @returns The header's bytes.
 *
 * @example
 * ```ts
 * import { formatProxyHeader } from "./proxy_header.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const header = formatProxyHeader(1, {
 *   source: { hostname: "127.0.0.1", port: 40446 },
 *   destination: { hostname: "127.0.0.1", port: 8000 },
 * });
 * strictEqual(new TextDecoder().decode(header), "PROXY TCP4 127.0.0.1 127.0.0.1 40446 8000\r\n");
 * ```
 */
export function formatProxyHeader(
  version: 1 | 2,
  addresses: { source: ProxyAddress; destination: ProxyAddress },
): Uint8Array {
  const { source, destination } = addresses;
  const from = parseIp(source.hostname);
  const to = parseIp(destination.hostname);
  const v6 = from?.version === 6;
  const sourceBytes = from?.bytes;
  const destinationBytes = to?.version === from?.version
    ? to?.bytes
    : undefined;
  if (sourceBytes === undefined || destinationBytes === undefined) {
    throw new TypeError(
      `Cannot write a PROXY header: ${source.hostname} and ${destination.hostname} must both be IPv4 or both IPv6 addresses`,
    );
  }
  if (version === 1) {
    const family = v6 ? "TCP6" : "TCP4";
    const text = v6
      ? `PROXY ${family} ${formatIpv6(sourceBytes, 0)} ${
        formatIpv6(destinationBytes, 0)
      } ${source.port} ${destination.port}\r\n`
      : `PROXY ${family} ${source.hostname} ${destination.hostname} ${source.port} ${destination.port}\r\n`;
    return new TextEncoder().encode(text);
  }
  const blockLength = v6 ? 36 : 12;
  const header = new Uint8Array(16 + blockLength);
  header.set(V2_SIGNATURE);
  header[12] = 0x21; // version 2, PROXY
  header[13] = v6 ? 0x21 : 0x11; // INET6 or INET, STREAM
  header[14] = blockLength >> 8;
  header[15] = blockLength & 0xff;
  const addressLength = v6 ? 16 : 4;
  header.set(sourceBytes, 16);
  header.set(destinationBytes, 16 + addressLength);
  const ports = 16 + 2 * addressLength;
  header[ports] = source.port >> 8;
  header[ports + 1] = source.port & 0xff;
  header[ports + 2] = destination.port >> 8;
  header[ports + 3] = destination.port & 0xff;
  return header;
}
