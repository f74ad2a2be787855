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
  addr: Deno.NetAddr,
  tracer: Tracer,
  file: string | undefined,
): Promise<RunningCapture> {
  const tcp = addr.transport === "tcp";
  const describer = new PacketDescriber();
  const ours = (packet: Packet) =>
    packet.protocol !== "icmp" ||
    (packet.icmp !== undefined &&
      packet.icmp.protocol === addr.transport &&
      (packet.icmp.source.port === addr.port ||
        packet.icmp.destination.port === addr.port));
  const running = await startCapture({
    hostname: addr.hostname,
    tcpPorts: tcp ? [addr.port] : [],
    udpPorts: tcp ? [] : [addr.port],
    file,
    onPacket: (packet) => {
      if (!ours(packet)) return;
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
