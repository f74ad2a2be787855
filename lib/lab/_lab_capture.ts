// Copyright 2026 the echolab authors. MIT license.
/**
 * The lab's one capture: the servers' ports and the two closed ports the
 * replays knock on, each packet a lab event, the last ones kept as pcap.
 *
 * @module
 */

import { formatAddress } from "../serving/address.ts";
import { type PacketCapture, startCapture } from "../capture/packet_capture.ts";
import { PacketDescriber } from "../capture/packet_format.ts";
import type { Packet } from "../capture/pcap_reader.ts";
import { describeQuicHeader, readQuicHeaders } from "../capture/quic_header.ts";
import type { LabPacket, NewLabEvent } from "./lab_events.ts";

/** The ports the lab captures, by what listens there. */
export interface LabPorts {
  /** The host the servers are bound to. */
  hostname: string;
  /** The TCP server's port. */
  tcp?: number;
  /** The UDP server's port. */
  udp?: number;
  /** The QUIC server's port (UDP). */
  quic?: number;
  /** A TCP port nobody listens on (its SYN meets an RST). */
  closedTcp: number;
  /** A UDP port nobody listens on (its datagram meets ICMP). */
  closedUdp: number;
}

/** Packets kept for the pcap download, at most. */
export const PCAP_PACKETS = 20_000;
/** Bytes of packets kept for the pcap download, at most. */
export const PCAP_BYTES = 16 * 1024 * 1024;

/** The last packets captured, as a pcap file. */
export class PcapRing {
  #header: Uint8Array | undefined;
  #records: Uint8Array[] = [];
  #first = 0;
  #bytes = 0;

  /** Adds one record (header and frame). */
  add(record: Uint8Array, header: Uint8Array): void {
    this.#header ??= header;
    this.#records.push(record);
    this.#bytes += record.length;
    while (
      this.#records.length - this.#first > PCAP_PACKETS ||
      this.#bytes > PCAP_BYTES
    ) {
      this.#bytes -= this.#records[this.#first]!.length;
      this.#records[this.#first++] = new Uint8Array(0);
    }
    if (this.#first > 4096) {
      this.#records.splice(0, this.#first);
      this.#first = 0;
    }
  }

  /** The file: its header and the records kept, oldest first. */
  file(): Uint8Array<ArrayBuffer> {
    const header = this.#header ?? new Uint8Array(0);
    const out = new Uint8Array(header.length + this.#bytes);
    out.set(header);
    let offset = header.length;
    for (let index = this.#first; index < this.#records.length; index++) {
      out.set(this.#records[index]!, offset);
      offset += this.#records[index]!.length;
    }
    return out;
  }
}

/**
 * Starts tcpdump over the lab's ports (and ICMP); each packet of theirs
 * becomes a lab event (a QUIC datagram one per QUIC packet in it).
 *
 * @throws {CaptureError} When it cannot capture (the reason in words).
 */
export function captureLab(
  ports: LabPorts,
  options: { onEvent(event: NewLabEvent): void; pcap: PcapRing },
): Promise<PacketCapture> {
  const tcpPorts = [ports.tcp, ports.closedTcp].filter((port) =>
    port !== undefined
  ) as number[];
  const udpPorts = [ports.udp, ports.quic, ports.closedUdp].filter((port) =>
    port !== undefined
  ) as number[];
  const describer = new PacketDescriber();
  const ours = (packet: Packet) => {
    if (packet.protocol !== "icmp") return true;
    const quoted = packet.icmp;
    if (quoted === undefined) return false;
    const list = quoted.protocol === "tcp" ? tcpPorts : udpPorts;
    return list.includes(quoted.source.port) ||
      list.includes(quoted.destination.port);
  };
  return startCapture({
    hostname: ports.hostname,
    tcpPorts,
    udpPorts,
    onRecord: (record, header) => options.pcap.add(record, header),
    onPacket: (packet) => {
      if (!ours(packet)) return;
      const quic = ports.quic !== undefined && packet.protocol === "udp" &&
        (packet.source.port === ports.quic ||
          packet.destination.port === ports.quic);
      for (const event of describe(packet, describer, quic)) {
        options.onEvent(event);
      }
    },
  });
}

function describe(
  packet: Packet,
  describer: PacketDescriber,
  quic: boolean,
): (LabPacket & { at: number })[] {
  const at = packet.time;
  if (packet.protocol === "icmp") {
    const error = packet.icmp;
    // The quoted datagram's ports only: the lanes name the hosts.
    const { text } = describer.describe(packet, 40, true);
    return [{
      type: "packet",
      at,
      protocol: "icmp",
      from: packet.source.hostname,
      to: packet.destination.hostname,
      text,
      len: packet.payload.length,
      ...(error === undefined ? {} : {
        icmp: {
          description: error.description,
          protocol: error.protocol,
          from: formatAddress(error.source),
          to: formatAddress(error.destination),
        },
      }),
    }];
  }
  const from = formatAddress(packet.source);
  const to = formatAddress(packet.destination);
  if (quic) {
    const headers = readQuicHeaders(packet.payload);
    if (headers.length > 0) {
      return headers.map((header, index) => ({
        type: "packet",
        at,
        protocol: "quic",
        from,
        to,
        text: `udp len ${packet.payload.length}: ${describeQuicHeader(header)}${
          headers.length > 1
            ? ` (${index + 1} of ${headers.length} in the datagram)`
            : ""
        }`,
        len: header.length,
        quic: header.type,
      }));
    }
  }
  const { text, fields } = describer.describe(packet, 40);
  const event: LabPacket & { at: number } = {
    type: "packet",
    at,
    protocol: packet.protocol,
    from,
    to,
    text,
    len: packet.payload.length,
  };
  if (packet.protocol === "tcp") {
    event.flags = packet.flags;
    event.seq = fields.seq as number;
    if (typeof fields.ack === "number") event.ack = fields.ack;
  }
  return [event];
}
