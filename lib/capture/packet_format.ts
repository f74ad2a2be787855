// Copyright 2026 the echolab authors. MIT license.
/**
 * Packets in words, the way Wireshark shows them: flags, sequence and
 * acknowledgement numbers relative to each side's first one, lengths and a
 * short view of the payload; and a client's session as a sequence diagram.
 *
 * @module
 */

import { formatAddress } from "../serving/address.ts";
import type { Packet, PacketEndpoint } from "./pcap_reader.ts";

import { formatPayload } from "../serving/payload_preview.ts";
import { readQuicHeaders } from "./quic_header.ts";

export { formatPayload };

function key(from: PacketEndpoint, to: PacketEndpoint): string {
  return `${formatAddress(from)}>${formatAddress(to)}`;
}

/** A datagram's QUIC packets as short arrow labels, coalesced ones each. */
function quicLabels(payload: Uint8Array): string[] {
  const headers = readQuicHeaders(payload);
  if (headers.length === 0) return [`udp len ${payload.length}, not QUIC`];
  return headers.map((header, index) =>
    `QUIC ${header.type} ${header.length} B${
      headers.length > 1
        ? ` (${index + 1}/${headers.length} of a datagram)`
        : ""
    }`
  );
}

/**
 * Describes packets one after another, remembering each TCP direction's
 * first sequence number so that numbers are shown relative to it, as
 * Wireshark does (the SYN is `seq 0`, the first data byte `seq 1`); flags
 * as Wireshark names them (`[SYN, ECE, CWR]`); an IPv4 datagram that came
 * in fragments as one, with their count.
 *
 * @example
 * ```ts
 * import { PacketDescriber } from "./packet_format.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const describer = new PacketDescriber();
 * const syn = {
 *   time: 0, protocol: "tcp" as const, flags: ["SYN"], seq: 1000, ack: 0, window: 65495,
 *   source: { hostname: "127.0.0.1", port: 40446 },
 *   destination: { hostname: "127.0.0.1", port: 8000 }, payload: new Uint8Array(),
 * };
 * strictEqual(describer.describe(syn).text, "[SYN] seq 0 win 65495");
 * ```
 */
export class PacketDescriber {
  #first = new Map<string, number>();

  /**
   * Describes one packet (its addresses aside).
   *
   * @param packet The packet.
   * @param payloadLength The most payload characters shown.
   * @param short Name only the ports a quoted datagram went between (the
   * diagram's columns name the hosts).
   * @returns The words, and the fields for JSON logs.
   */
  describe(
    packet: Packet,
    payloadLength = 20,
    short = false,
  ): { text: string; fields: Record<string, unknown> } {
    if (packet.protocol === "udp") {
      const fragments = packet.fragments;
      const text = `udp len ${packet.payload.length}${
        fragments === undefined ? "" : ` (${fragments} IPv4 fragments)`
      }${
        packet.payload.length > 0
          ? ` ${formatPayload(packet.payload, payloadLength)}`
          : ""
      }`;
      return {
        text,
        fields: {
          protocol: "udp",
          len: packet.payload.length,
          ...(fragments === undefined ? {} : { fragments }),
        },
      };
    }
    if (packet.protocol === "icmp") {
      const error = packet.icmp;
      const quoted = short
        ? `:${error?.source.port} > :${error?.destination.port}`
        : `${error && formatAddress(error.source)} > ${
          error && formatAddress(error.destination)
        }`;
      const text = error === undefined
        ? "icmp"
        : `icmp ${error.description} (${error.protocol} ${quoted})`;
      return { text, fields: { protocol: "icmp", icmp: error?.description } };
    }
    const flow = key(packet.source, packet.destination);
    const reverse = key(packet.destination, packet.source);
    // A direction's numbers count from its SYN; seen first without one (a
    // reset answering a SYN, a capture begun mid-stream), from one before
    // its first number, so that it reads `seq 1` as in Wireshark.
    if (packet.flags.includes("SYN")) this.#first.set(flow, packet.seq);
    else if (!this.#first.has(flow)) {
      this.#first.set(flow, (packet.seq - 1) >>> 0);
    }
    const seq = (packet.seq - this.#first.get(flow)!) >>> 0;
    const hasAck = packet.flags.includes("ACK");
    const otherFirst = this.#first.get(reverse);
    const ack = otherFirst === undefined
      ? packet.ack
      : (packet.ack - otherFirst) >>> 0;
    const parts = [`[${packet.flags.join(", ")}]`, `seq ${seq}`];
    if (hasAck) parts.push(`ack ${ack}`);
    if (packet.flags.includes("SYN")) parts.push(`win ${packet.window}`);
    if (packet.payload.length > 0) {
      parts.push(
        `len ${packet.payload.length}`,
        formatPayload(packet.payload, payloadLength),
      );
    }
    return {
      text: parts.join(" "),
      fields: {
        protocol: "tcp",
        flags: packet.flags,
        seq,
        ...(hasAck ? { ack } : {}),
        window: packet.window,
        len: packet.payload.length,
      },
    };
  }
}

const ARROW = 64;

/**
 * A client's session as a sequence diagram for the terminal: the client on
 * the left, the server on the right, one arrow per packet in time order,
 * with the time since the first packet.
 *
 * @param packets The session's packets, in capture order.
 * @param ends The client's and the server's addresses.
 * @returns The lines of the diagram.
 *
 * @example
 * ```ts
 * import { sequenceDiagram } from "./packet_format.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const lines = sequenceDiagram([], {
 *   client: { hostname: "127.0.0.1", port: 40446 },
 *   server: { hostname: "127.0.0.1", port: 8000 },
 * });
 * strictEqual(lines.length, 2);
 * ```
 */
export function sequenceDiagram(
  packets: readonly Packet[],
  ends: { client: PacketEndpoint; server: PacketEndpoint },
  options: { quic?: boolean } = {},
): string[] {
  const client = formatAddress(ends.client);
  const server = formatAddress(ends.server);
  const gutter = 13;
  const lines = [
    `${"".padEnd(gutter)}${client.padEnd(ARROW + 2 - server.length)}${server}`,
    `${"".padEnd(gutter)}|${"".padEnd(ARROW)}|`,
  ];
  const describer = new PacketDescriber();
  const start = packets[0]?.time ?? 0;
  for (const packet of packets) {
    const toServer = formatAddress(packet.destination) === server ||
      (packet.protocol === "icmp"
        ? packet.destination.hostname === ends.server.hostname &&
          packet.source.hostname !== ends.server.hostname
        : false);
    const labels = options.quic && packet.protocol === "udp"
      ? quicLabels(packet.payload)
      : [describer.describe(packet, 20, true).text];
    const time = `+${((packet.time - start) / 1000).toFixed(6)} s`;
    for (const text of labels) {
      const label = ` ${text} `;
      const room = ARROW - 3;
      const shown = label.length > room
        ? `${label.slice(0, room - 2)}… `
        : label;
      const fill = "-".repeat(Math.max(0, room - shown.length));
      const arrow = toServer ? `--${shown}${fill}>` : `<${fill}${shown}--`;
      lines.push(`${time.padEnd(gutter)}|${arrow}|`);
    }
  }
  return lines;
}
