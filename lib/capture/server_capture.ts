// Copyright 2026 the echolab authors. MIT license.
/**
 * A server's own packets, captured and traced: the `capture` option of
 * `serveTcp` and `serveUdp`.
 *
 * @module
 */

import { formatAddress } from "../serving/address.ts";
import type { CapturePlan, RunningCapture } from "../serving/stages.ts";
import type { Tracer } from "../serving/tracer.ts";
import { startCapture } from "./packet_capture.ts";
import { PacketDescriber } from "./packet_format.ts";
import { describeQuicHeader, readQuicHeaders } from "./quic_header.ts";
import type { Packet } from "./pcap_reader.ts";

/** Milliseconds trace events wait for packets that tcpdump delivers late. */
export const CAPTURE_HOLD = 100;
/** Milliseconds a stopping server waits for its last packets. */
export const CAPTURE_SETTLE = 50;

/** Options of {@linkcode capture}. */
export interface ServerCaptureOptions {
  /**
   * Also write the packets to this pcap file (needs write permission).
   *
   * @default {undefined}
   */
  file?: string;
}

/**
 * Captures a server's own packets with `tcpdump` (which must be installed;
 * capturing needs root or `CAP_NET_RAW`, and Deno's `--allow-run=tcpdump`)
 * and traces each one, in time order with the server's other events: the
 * handshake, the data segments and their ACKs, the FINs, each datagram, ICMP
 * port unreachable. Pass it as the server's `capture` option; the server
 * then traces, and starts serving (and logs its start line) only once
 * tcpdump listens (see `EchoServer.started`, which rejects with a
 * `CaptureError` naming the fix when it cannot).
 *
 * @param options A pcap file to write too.
 * @returns The plan the server runs.
 *
 * @example
 * ```ts ignore
 * import { capture } from "./server_capture.ts";
 * import { serveTcp } from "../../tcp.ts";
 *
 * await using server = serveTcp({ port: 0, capture: capture() });
 * await server.started;
 * ```
 */
export function capture(options: ServerCaptureOptions = {}): CapturePlan {
  return {
    hold: CAPTURE_HOLD,
    start: (addr, tracer) => captureServer(addr, tracer, options.file),
  };
}

async function captureServer(
  addr: Deno.NetAddr | { transport: "quic"; hostname: string; port: number },
  tracer: Tracer,
  file: string | undefined,
): Promise<RunningCapture> {
  const tcp = addr.transport === "tcp";
  const quic = addr.transport === "quic";
  const protocol = tcp ? "tcp" : "udp";
  const describer = new PacketDescriber();
  const ours = (packet: Packet) =>
    packet.protocol !== "icmp" ||
    (packet.icmp !== undefined &&
      packet.icmp.protocol === protocol &&
      (packet.icmp.source.port === addr.port ||
        packet.icmp.destination.port === addr.port));
  const running = await startCapture({
    hostname: addr.hostname,
    tcpPorts: tcp ? [addr.port] : [],
    udpPorts: tcp ? [] : [addr.port],
    file,
    onPacket: (packet) => {
      if (!ours(packet)) return;
      if (quic && packet.protocol === "udp") {
        traceQuic(tracer, packet);
        return;
      }
      const { text, fields } = describer.describe(packet, 40);
      tracer.eventAt(
        packet.time - performance.timeOrigin,
        "packet {from} > {to} {packet}",
        {
          // ICMP has no ports: its ends are hosts.
          from: packet.protocol === "icmp"
            ? packet.source.hostname
            : formatAddress(packet.source),
          to: packet.protocol === "icmp"
            ? packet.destination.hostname
            : formatAddress(packet.destination),
          packet: text,
          ...fields,
        },
      );
    },
  });
  return {
    async stop() {
      await new Promise((resolve) => setTimeout(resolve, CAPTURE_SETTLE));
      await running.stop();
    },
  };
}

/**
 * Traces a QUIC server's datagram: one line per QUIC packet in it, from
 * its cleartext header (the rest is encrypted).
 */
function traceQuic(tracer: Tracer, packet: Packet): void {
  const headers = readQuicHeaders(packet.payload);
  const at = packet.time - performance.timeOrigin;
  const from = formatAddress(packet.source);
  const to = formatAddress(packet.destination);
  if (headers.length === 0) {
    tracer.eventAt(at, "packet {from} > {to} udp len {len}: not QUIC", {
      from,
      to,
      len: packet.payload.length,
    });
    return;
  }
  headers.forEach((header, index) => {
    tracer.eventAt(
      at,
      "packet {from} > {to} udp len {len}{part}: {packet}",
      {
        from,
        to,
        len: packet.payload.length,
        part: headers.length > 1
          ? ` (${index + 1} of ${headers.length} coalesced)`
          : "",
        packet: describeQuicHeader(header),
        protocol: "quic",
        quicType: header.type,
      },
    );
  });
}
