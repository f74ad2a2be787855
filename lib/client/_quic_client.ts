// Copyright 2026 the echolab authors. MIT license.
/**
 * The QUIC client: lines on one or more bidirectional streams (each ordered
 * on its own, so replies are matched per stream), or each message as one
 * QUIC datagram.
 *
 * @module
 */

import type { ClientOptions, ClientSummary, ReplyEvent } from "./client.ts";
import { endsWith } from "./_reply_matcher.ts";
import { delay, emptySummary, encoder } from "./_summary.ts";
import { DEFAULT_QUIC_ALPN, DEFAULT_WAIT } from "../serving/defaults.ts";
import { withDeadline } from "../serving/deadline.ts";
import { LineReader } from "../serving/line_reader.ts";

/** A line sent on a stream, waiting for its reply. */
interface Pending {
  message: string;
  bytes: Uint8Array;
  sentAt: number;
}

/**
 * Connects over QUIC, tells the handshake, then sends the messages on
 * streams or as datagrams.
 *
 * @param messages The messages.
 * @param options Where to, and how.
 * @param onReply Called once per message, answered or lost.
 * @returns The totals; `connectTime` is the handshake's.
 */
export async function sendOverQuic(
  messages: Iterable<string> | AsyncIterable<string>,
  options: ClientOptions,
  onReply: (event: ReplyEvent) => void,
): Promise<ClientSummary> {
  const started = performance.now();
  const conn = await Deno.connectQuic({
    hostname: options.hostname,
    port: options.port,
    alpnProtocols: options.alpn ?? [DEFAULT_QUIC_ALPN],
    caCerts: options.caCerts,
    serverName: options.serverName,
  });
  try {
    await conn.handshake;
    const handshake = performance.now() - started;
    options.onQuic?.({
      handshake,
      alpn: conn.protocol ?? "",
      maxDatagramSize: conn.maxDatagramSize,
    });
    const summary = options.datagram
      ? await datagrams(conn, messages, options, onReply)
      : await streams(conn, messages, options, onReply);
    summary.connectTime = handshake;
    summary.seconds = (performance.now() - started) / 1000;
    return summary;
  } finally {
    conn.close({ closeCode: 0, reason: "done" });
    // Let the CONNECTION_CLOSE leave before the process may end: without
    // it the server waits out its idle timeout.
    await Promise.race([conn.closed.catch(() => {}), delay(100)]);
    conn.endpoint.close();
  }
}

/** Lines spread over `options.streams` streams, round robin. */
async function streams(
  conn: Deno.QuicConn,
  messages: Iterable<string> | AsyncIterable<string>,
  options: ClientOptions,
  onReply: (event: ReplyEvent) => void,
): Promise<ClientSummary> {
  const summary = emptySummary();
  const count = options.streams ?? 1;
  const opened = await Promise.all(
    Array.from({ length: count }, () => conn.createBidirectionalStream()),
  );
  const lanes = opened.map((stream) => {
    const pending: Pending[] = [];
    const writer = stream.writable.getWriter();
    const reading = (async () => {
      const reader = new LineReader({ maxLine: 1 << 30 });
      const answer = (line: Uint8Array) => {
        const next = pending[0];
        if (next === undefined || !endsWith(line, next.bytes)) {
          summary.unexpected++;
          return;
        }
        pending.shift();
        const rtt = performance.now() - next.sentAt;
        summary.answered++;
        summary.rtts.push(rtt);
        onReply({ message: next.message, reply: line.slice(), rtt });
      };
      try {
        for await (const chunk of stream.readable) {
          summary.bytesIn += chunk.length;
          reader.push(chunk, answer);
        }
      } catch {
        // A reset stream: what is pending is lost.
      }
      reader.flush(answer);
    })();
    return { pending, writer, reading };
  });
  let next = 0;
  let first = true;
  try {
    for await (const message of messages) {
      for (const line of message.split("\n")) {
        if (!first && options.interval) await delay(options.interval);
        first = false;
        const lane = lanes[next++ % lanes.length]!;
        const bytes = encoder.encode(`${line}\n`);
        lane.pending.push({
          message: line,
          bytes: bytes.subarray(0, bytes.length - 1),
          sentAt: performance.now(),
        });
        summary.sent++;
        await lane.writer.write(bytes);
        summary.bytesOut += bytes.length;
      }
    }
    // FIN on every stream: the server answers the rest and finishes.
    await Promise.all(lanes.map((lane) => lane.writer.close()));
  } catch {
    // The connection or a stream ended: what was read still counts.
  }
  await Promise.all(lanes.map((lane) => lane.reading));
  for (const lane of lanes) {
    for (const { message } of lane.pending.splice(0)) {
      summary.lost++;
      summary.endedEarly = true;
      onReply({ message, reply: undefined, rtt: undefined });
    }
  }
  return summary;
}

/** Each message one datagram; its reply awaited up to `wait`. */
async function datagrams(
  conn: Deno.QuicConn,
  messages: Iterable<string> | AsyncIterable<string>,
  options: ClientOptions,
  onReply: (event: ReplyEvent) => void,
): Promise<ClientSummary> {
  const summary = emptySummary();
  const wait = options.wait ?? DEFAULT_WAIT;
  let first = true;
  let reading: Promise<Uint8Array> | undefined;
  for await (const message of messages) {
    if (!first && options.interval) await delay(options.interval);
    first = false;
    const bytes = encoder.encode(message);
    const sentAt = performance.now();
    summary.sent++;
    await conn.sendDatagram(bytes);
    summary.bytesOut += bytes.length;
    // Datagrams are not matched by order: wait for the one that echoes
    // this message (its start, the server may have cut it).
    const deadline = sentAt + wait;
    let answered = false;
    while (!answered) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      reading ??= conn.readDatagram();
      const reply = await withDeadline(reading, left);
      if (reply === "late") break;
      reading = undefined;
      summary.bytesIn += reply.length;
      if (echoes(reply, bytes)) {
        const rtt = performance.now() - sentAt;
        summary.answered++;
        summary.rtts.push(rtt);
        onReply({ message, reply: trimNewline(reply), rtt });
        answered = true;
      } else {
        summary.late++;
      }
    }
    if (!answered) {
      summary.lost++;
      onReply({ message, reply: undefined, rtt: undefined });
    }
  }
  reading?.catch(() => {});
  return summary;
}

function trimNewline(reply: Uint8Array): Uint8Array {
  return reply.at(-1) === 10 ? reply.subarray(0, -1) : reply;
}

/** Whether `reply` is an echo of `sent`, or of its start (a cut datagram). */
function echoes(reply: Uint8Array, sent: Uint8Array): boolean {
  const body = trimNewline(reply);
  if (endsWith(body, sent)) return true;
  // Cut to a buffer size: the reply ends with a prefix of the message.
  for (let length = sent.length - 1; length > 0; length--) {
    if (endsWith(body, sent.subarray(0, length))) return true;
  }
  return false;
}
