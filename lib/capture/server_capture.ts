// Copyright 2026 the echolab authors. MIT license.
/**
 * A server's own packets, captured and traced: what `capture` does for
 * `serveTcp` and `serveUdp`.
 *
 * @module
 */

import { type PacketCapture, startCapture } from "./packet_capture.ts";
import type { Packet } from "./pcap_reader.ts";
import type { Tracer } from "../serving/tracer.ts";

/** Milliseconds trace events wait for packets that tcpdump delivers late. */
export const CAPTURE_HOLD = 100;
/** Milliseconds a stopping server waits for its last packets. */
export const CAPTURE_SETTLE = 50;

/** The `capture` option of both servers. */
export type CaptureOption = boolean | {
  /**
   * Also write the packets to this pcap file (needs write permission).
   *
   * @default {undefined}
   */
  file?: string;
};

/**
 * Starts capturing one server's port and tracing every packet of it (and
 * the ICMP errors that quote a datagram to or from it).
 *
 * @param option The server's `capture` option (not `false`).
 * @param addr Where the server is bound.
 * @param tracer The server's tracer.
 * @returns The running capture, once tcpdump listens.
 *
 * @example
 * ```ts ignore
 * const capture = await captureServer(true, server.addr, tracer);
 * await capture.stop();
 * ```
 */
export function captureServer(
  option: Exclude<CaptureOption, false>,
  addr: Deno.NetAddr,
  tracer: Tracer,
): Promise<PacketCapture> {
  const tcp = addr.transport === "tcp";
  const ours = (packet: Packet) =>
    packet.protocol !== "icmp" ||
    (packet.icmp !== undefined &&
      packet.icmp.protocol === addr.transport &&
      (packet.icmp.source.port === addr.port ||
        packet.icmp.destination.port === addr.port));
  return startCapture({
    hostname: addr.hostname,
    tcpPorts: tcp ? [addr.port] : [],
    udpPorts: tcp ? [] : [addr.port],
    file: option === true ? undefined : option.file,
    onPacket: (packet) => {
      if (ours(packet)) tracer.packet(packet);
    },
  });
}

/**
 * Stops a server's capture after its last packets had time to arrive, and
 * writes out every held trace event.
 *
 * @param capture The capture, if any.
 * @param tracer The server's tracer, if any.
 * @returns Once both are done.
 *
 * @example
 * ```ts ignore
 * await stopCapture(capture, tracer);
 * ```
 */
export async function stopCapture(
  capture: PacketCapture | undefined,
  tracer: Tracer | undefined,
): Promise<void> {
  if (capture !== undefined) {
    await new Promise((resolve) => setTimeout(resolve, CAPTURE_SETTLE));
    await capture.stop();
  }
  tracer?.close();
}
