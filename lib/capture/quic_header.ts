// Copyright 2026 the echolab authors. MIT license.
/**
 * QUIC packets as an observer sees them (RFC 9000 section 17): only the
 * cleartext part of each header, since the rest is encrypted. One UDP
 * datagram may carry several packets (coalesced, section 12.2): each long
 * header says its length, a short header runs to the datagram's end.
 *
 * @module
 */

/** What the cleartext header of one QUIC packet tells. */
export interface QuicPacketHeader {
  /** `Initial`, `0-RTT`, `Handshake`, `Retry`, `Version Negotiation`, `1-RTT`. */
  type: string;
  /** The version, long headers only (`0x00000001` is QUIC v1). */
  version?: number;
  /** Destination connection ID length, long headers only. */
  dcidLength?: number;
  /** Source connection ID length, long headers only. */
  scidLength?: number;
  /** Bytes of this packet, header included. */
  length: number;
}

const LONG_TYPES = ["Initial", "0-RTT", "Handshake", "Retry"] as const;

/**
 * Reads the cleartext headers of the QUIC packets in one UDP datagram.
 *
 * @param datagram The UDP payload.
 * @returns One header per packet, in order; empty when the bytes are not
 * QUIC (a long header cut short, or a length that runs past the end).
 *
 * @example
 * ```ts
 * import { readQuicHeaders } from "./quic_header.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * // A short header (1-RTT): its connection ID and payload are encrypted.
 * deepStrictEqual(readQuicHeaders(Uint8Array.of(0x40, 1, 2, 3)), [
 *   { type: "1-RTT", length: 4 },
 * ]);
 * ```
 */
export function readQuicHeaders(datagram: Uint8Array): QuicPacketHeader[] {
  const headers: QuicPacketHeader[] = [];
  let offset = 0;
  while (offset < datagram.length) {
    const first = datagram[offset]!;
    if ((first & 0x80) === 0) {
      // A short header: the rest of the datagram. (Its fixed bit may be
      // clear: peers may grease it, RFC 9287.)
      headers.push({ type: "1-RTT", length: datagram.length - offset });
      break;
    }
    const header = readLongHeader(datagram, offset);
    if (header === undefined) return [];
    headers.push(header);
    offset += header.length;
  }
  return headers;
}

function readLongHeader(
  bytes: Uint8Array,
  start: number,
): QuicPacketHeader | undefined {
  if (bytes.length - start < 7) return undefined;
  const first = bytes[start]!;
  const version = new DataView(bytes.buffer, bytes.byteOffset + start + 1, 4)
    .getUint32(0);
  let at = start + 5;
  const dcidLength = bytes[at]!;
  at += 1 + dcidLength;
  if (at >= bytes.length) return undefined;
  const scidLength = bytes[at]!;
  at += 1 + scidLength;
  if (at > bytes.length) return undefined;
  const ids = { version, dcidLength, scidLength };
  if (version === 0) {
    // Version Negotiation: the rest lists versions.
    return {
      type: "Version Negotiation",
      ...ids,
      length: bytes.length - start,
    };
  }
  const type = LONG_TYPES[(first & 0x30) >> 4]!;
  if (type === "Retry") {
    return { type, ...ids, length: bytes.length - start };
  }
  if (type === "Initial") {
    const token = readVarint(bytes, at);
    if (token === undefined) return undefined;
    at = token.next + token.value;
  }
  const length = readVarint(bytes, at);
  if (length === undefined) return undefined;
  const end = length.next + length.value;
  if (end > bytes.length) return undefined;
  return { type, ...ids, length: end - start };
}

/** A variable-length integer (RFC 9000 section 16). */
function readVarint(
  bytes: Uint8Array,
  at: number,
): { value: number; next: number } | undefined {
  if (at >= bytes.length) return undefined;
  const size = 1 << (bytes[at]! >> 6);
  if (at + size > bytes.length) return undefined;
  let value = bytes[at]! & 0x3f;
  for (let i = 1; i < size; i++) value = value * 256 + bytes[at + i]!;
  return { value, next: at + size };
}

/**
 * One QUIC packet in words: its type, version and connection ID lengths,
 * its length, and what cannot be read.
 *
 * @param header The header.
 * @returns `QUIC Initial v1, dcid 8 B, scid 8 B, 1162 bytes (payload
 * encrypted)`.
 *
 * @example
 * ```ts
 * import { describeQuicHeader } from "./quic_header.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(
 *   describeQuicHeader({ type: "1-RTT", length: 40 }),
 *   "QUIC 1-RTT (short header), 40 bytes (connection ID, packet number and payload encrypted)",
 * );
 * ```
 */
export function describeQuicHeader(header: QuicPacketHeader): string {
  if (header.version === undefined) {
    return `QUIC ${header.type} (short header), ${header.length} bytes (connection ID, packet number and payload encrypted)`;
  }
  const version = header.version === 1
    ? "v1"
    : `version 0x${header.version.toString(16).padStart(8, "0")}`;
  const what = header.type === "Version Negotiation"
    ? "(the versions the server speaks)"
    : header.type === "Retry"
    ? "(a token for the client to send back)"
    : "(payload encrypted)";
  return `QUIC ${header.type} ${version}, dcid ${header.dcidLength} B, scid ${header.scidLength} B, ${header.length} bytes ${what}`;
}
