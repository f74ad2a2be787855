// Copyright 2026 the echolab authors. MIT license.
/**
 * Reading packets from a pcap stream (as `tcpdump -w -` writes it): the
 * file format, the link layers of Linux captures, IPv4 and IPv6, and the
 * TCP, UDP and ICMP headers a learner wants to see.
 *
 * @module
 */

import { formatIpv4, formatIpv6 } from "../serving/address.ts";

/** An address and port in a packet. */
export interface PacketEndpoint {
  /** IPv4 dotted quad, or IPv6 in RFC 5952 form. */
  hostname: string;
  /** The port; 0 for ICMP. */
  port: number;
}

/** What an ICMP error says about the datagram it quotes. */
export interface IcmpError {
  /** `port unreachable`, `host unreachable`, … */
  description: string;
  /** The quoted datagram's protocol. */
  protocol: "tcp" | "udp" | "other";
  /** The quoted datagram's source. */
  source: PacketEndpoint;
  /** The quoted datagram's destination. */
  destination: PacketEndpoint;
}

/** One captured packet, decoded. */
export interface Packet {
  /** Capture time, milliseconds since the Unix epoch (microsecond precision). */
  time: number;
  /** `tcp`, `udp` or `icmp` (ICMPv6 too). */
  protocol: "tcp" | "udp" | "icmp";
  /** Where it came from. */
  source: PacketEndpoint;
  /** Where it went. */
  destination: PacketEndpoint;
  /** TCP flags, Wireshark's names in Wireshark's order (`SYN`, `ACK`). */
  flags: string[];
  /** TCP sequence number, absolute. */
  seq: number;
  /** TCP acknowledgement number, absolute (meaningful with `ACK`). */
  ack: number;
  /** TCP window, as sent (unscaled). */
  window: number;
  /** The TCP or UDP payload. */
  payload: Uint8Array;
  /** For ICMP errors: what they quote. */
  icmp?: IcmpError;
  /**
   * For an IPv4 datagram that came in fragments: how many, reassembled
   * into this packet (at the time of the fragment that completed it).
   */
  fragments?: number;
}

const LINKTYPE_ETHERNET = 1;
const LINKTYPE_RAW = 101;
const LINKTYPE_LINUX_SLL = 113;
const LINKTYPE_LINUX_SLL2 = 276;
/** TCP flag bits from the lowest, named and ordered as Wireshark does. */
const TCP_FLAGS = [
  "FIN",
  "SYN",
  "RST",
  "PSH",
  "ACK",
  "URG",
  "ECE",
  "CWR",
  "AE",
] as const;
/** IPv4 datagrams being reassembled at once, at most. */
const MAX_REASSEMBLIES = 64;
/** Milliseconds a datagram's fragments wait for the rest. */
const REASSEMBLY_TIMEOUT = 30_000;

/** The fragments of one IPv4 datagram seen so far. */
interface Reassembly {
  parts: { offset: number; bytes: Uint8Array }[];
  /** The payload's length, once the last fragment came. */
  total: number | undefined;
  received: number;
  firstSeen: number;
}

/**
 * Puts IPv4 fragments back together, as Wireshark does before it decodes
 * what they carry; bounded in datagrams and in time.
 */
class Reassembler {
  #pending = new Map<string, Reassembly>();

  /**
   * Adds one fragment.
   *
   * @returns The whole payload and the number of fragments, once complete.
   */
  add(
    key: string,
    offset: number,
    more: boolean,
    bytes: Uint8Array,
    time: number,
  ): { payload: Uint8Array; fragments: number } | undefined {
    for (const [old, entry] of this.#pending) {
      if (time - entry.firstSeen <= REASSEMBLY_TIMEOUT) break;
      this.#pending.delete(old);
    }
    let entry = this.#pending.get(key);
    if (entry === undefined) {
      if (this.#pending.size >= MAX_REASSEMBLIES) {
        this.#pending.delete(this.#pending.keys().next().value!);
      }
      entry = { parts: [], total: undefined, received: 0, firstSeen: time };
      this.#pending.set(key, entry);
    }
    entry.parts.push({ offset, bytes: bytes.slice() });
    entry.received += bytes.length;
    if (!more) entry.total = offset + bytes.length;
    if (entry.total === undefined || entry.received < entry.total) {
      return undefined;
    }
    this.#pending.delete(key);
    const payload = new Uint8Array(entry.total);
    for (const part of entry.parts) {
      payload.set(
        part.bytes.subarray(0, Math.max(0, entry.total - part.offset)),
        part.offset,
      );
    }
    return { payload, fragments: entry.parts.length };
  }
}

const ICMP4_UNREACHABLE: Record<number, string> = {
  0: "net unreachable",
  1: "host unreachable",
  2: "protocol unreachable",
  3: "port unreachable",
};
const ICMP6_UNREACHABLE: Record<number, string> = {
  0: "no route",
  1: "administratively prohibited",
  3: "address unreachable",
  4: "port unreachable",
};

/**
 * A pcap stream read as it comes: {@linkcode PcapReader.push} takes any
 * slice of the bytes and returns the packets completed by it. Packets that
 * are not TCP, UDP or ICMP over IPv4 or IPv6 are skipped.
 *
 * @example
 * ```ts
 * import { PcapReader } from "./pcap_reader.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const reader = new PcapReader();
 * strictEqual(reader.push(new Uint8Array(10)).length, 0); // half a header
 * ```
 */
export class PcapReader {
  #header: Uint8Array | undefined;
  #onRecord: ((record: Uint8Array) => void) | undefined;
  #pending = new Uint8Array(0);
  #reassembler = new Reassembler();
  #littleEndian = true;
  #nanoseconds = false;
  #linkType = -1;

  /**
   * Makes a reader.
   *
   * @param options `onRecord` is called with each whole record as read (its
   * 16-byte header and its frame, a copy), for keeping packets as pcap.
   */
  constructor(options: { onRecord?: (record: Uint8Array) => void } = {}) {
    this.#onRecord = options.onRecord;
  }

  /**
   * The stream's 24-byte file header, once read: with records, a pcap file.
   *
   * @returns The header, or `undefined` before it came.
   */
  get header(): Uint8Array | undefined {
    return this.#header;
  }

  /**
   * Adds bytes of the stream.
   *
   * @param bytes The next bytes, any length.
   * @returns The packets completed by them, decoded.
   * @throws {TypeError} When the stream is not pcap.
   */
  push(bytes: Uint8Array): Packet[] {
    const joined = new Uint8Array(this.#pending.length + bytes.length);
    joined.set(this.#pending);
    joined.set(bytes, this.#pending.length);
    const view = new DataView(joined.buffer);
    let offset = 0;
    if (this.#linkType === -1) {
      if (joined.length < 24) {
        this.#pending = joined;
        return [];
      }
      const magic = view.getUint32(0, true);
      if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) {
        this.#littleEndian = true;
      } else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) {
        this.#littleEndian = false;
      } else throw new TypeError("Cannot read the capture: not a pcap stream");
      this.#nanoseconds = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
      this.#linkType = view.getUint32(20, this.#littleEndian) & 0x0fffffff;
      this.#header = joined.slice(0, 24);
      offset = 24;
    }
    const packets: Packet[] = [];
    const le = this.#littleEndian;
    while (offset + 16 <= joined.length) {
      const seconds = view.getUint32(offset, le);
      const fraction = view.getUint32(offset + 4, le);
      const captured = view.getUint32(offset + 8, le);
      if (offset + 16 + captured > joined.length) break;
      const frame = joined.subarray(offset + 16, offset + 16 + captured);
      this.#onRecord?.(joined.slice(offset, offset + 16 + captured));
      const time = seconds * 1000 +
        (this.#nanoseconds ? fraction / 1e6 : fraction / 1e3);
      const packet = this.#decode(frame, time);
      if (packet !== undefined) packets.push(packet);
      offset += 16 + captured;
    }
    this.#pending = joined.slice(offset);
    return packets;
  }

  #decode(frame: Uint8Array, time: number): Packet | undefined {
    let offset: number;
    let etherType: number;
    switch (this.#linkType) {
      case LINKTYPE_ETHERNET:
        offset = 14;
        etherType = (frame[12]! << 8) | frame[13]!;
        break;
      case LINKTYPE_LINUX_SLL:
        offset = 16;
        etherType = (frame[14]! << 8) | frame[15]!;
        break;
      case LINKTYPE_LINUX_SLL2:
        offset = 20;
        etherType = (frame[0]! << 8) | frame[1]!;
        break;
      case LINKTYPE_RAW:
        offset = 0;
        etherType = frame[0]! >> 4 === 6 ? 0x86dd : 0x0800;
        break;
      default:
        return undefined;
    }
    return decodeIp(frame.subarray(offset), etherType, time, this.#reassembler);
  }
}

/**
 * Decodes an IP packet. With a reassembler, IPv4 fragments are held until
 * their datagram is whole; without one (a datagram quoted by ICMP), a
 * first fragment is read as it is.
 */
function decodeIp(
  ip: Uint8Array,
  etherType: number,
  time: number,
  reassembler?: Reassembler,
): Packet | undefined {
  let protocol: number;
  let source: string;
  let destination: string;
  let payload: Uint8Array;
  let fragments: number | undefined;
  if (etherType === 0x0800 && ip.length >= 20) {
    const headerLength = (ip[0]! & 0x0f) * 4;
    const total = (ip[2]! << 8) | ip[3]!;
    protocol = ip[9]!;
    source = formatIpv4(ip, 12);
    destination = formatIpv4(ip, 16);
    payload = ip.subarray(headerLength, Math.min(total, ip.length));
    const fragment = (ip[6]! << 8) | ip[7]!;
    const more = (fragment & 0x2000) !== 0;
    const offset = (fragment & 0x1fff) * 8;
    if (reassembler !== undefined && (more || offset > 0)) {
      const id = (ip[4]! << 8) | ip[5]!;
      const whole = reassembler.add(
        `${source}>${destination}/${protocol}/${id}`,
        offset,
        more,
        payload,
        time,
      );
      if (whole === undefined) return undefined;
      payload = whole.payload;
      fragments = whole.fragments;
    }
  } else if (etherType === 0x86dd && ip.length >= 40) {
    const length = (ip[4]! << 8) | ip[5]!;
    protocol = ip[6]!;
    source = formatIpv6(ip, 8);
    destination = formatIpv6(ip, 24);
    payload = ip.subarray(40, Math.min(40 + length, ip.length));
  } else return undefined;
  const base = {
    time,
    flags: [] as string[],
    seq: 0,
    ack: 0,
    window: 0,
    ...(fragments === undefined ? {} : { fragments }),
  };
  if (protocol === 6 && payload.length >= 20) {
    const dataOffset = (payload[12]! >> 4) * 4;
    const flagBits = payload[13]! | ((payload[12]! & 0x01) << 8);
    const view = new DataView(
      payload.buffer,
      payload.byteOffset,
      payload.byteLength,
    );
    return {
      ...base,
      protocol: "tcp",
      source: { hostname: source, port: view.getUint16(0) },
      destination: { hostname: destination, port: view.getUint16(2) },
      flags: TCP_FLAGS.filter((_, bit) => flagBits & (1 << bit)),
      seq: view.getUint32(4),
      ack: view.getUint32(8),
      window: view.getUint16(14),
      payload: payload.slice(dataOffset),
    };
  }
  if (protocol === 17 && payload.length >= 8) {
    const length = (payload[4]! << 8) | payload[5]!;
    return {
      ...base,
      protocol: "udp",
      source: { hostname: source, port: (payload[0]! << 8) | payload[1]! },
      destination: {
        hostname: destination,
        port: (payload[2]! << 8) | payload[3]!,
      },
      payload: payload.slice(8, Math.max(8, length)),
    };
  }
  if ((protocol === 1 || protocol === 58) && payload.length >= 8) {
    const type = payload[0]!;
    const code = payload[1]!;
    const v6 = protocol === 58;
    const description = v6
      ? type === 1 ? ICMP6_UNREACHABLE[code] : undefined
      : type === 3
      ? ICMP4_UNREACHABLE[code]
      : undefined;
    const quoted = payload.subarray(8);
    let icmp: IcmpError | undefined;
    if (description !== undefined) {
      const inner = decodeIp(quoted, v6 ? 0x86dd : 0x0800, time);
      icmp = {
        description,
        protocol: inner?.protocol === "tcp" || inner?.protocol === "udp"
          ? inner.protocol
          : "other",
        source: inner?.source ?? { hostname: "?", port: 0 },
        destination: inner?.destination ?? { hostname: "?", port: 0 },
      };
    }
    return {
      ...base,
      protocol: "icmp",
      source: { hostname: source, port: 0 },
      destination: { hostname: destination, port: 0 },
      payload: new Uint8Array(0),
      icmp,
    };
  }
  return undefined;
}
