// Copyright 2026 the echolab authors. MIT license.
/**
 * The UDP client: datagrams out, replies matched to the messages they echo
 * (late, duplicate and overtaken replies told apart).
 *
 * @module
 */

import type { ClientOptions, ClientSummary, ReplyEvent } from "./client.ts";
import { type Echoed, ReplyMatcher } from "./_reply_matcher.ts";
import { delay, emptySummary, encoder } from "./_summary.ts";
import { DEFAULT_WAIT } from "../serving/defaults.ts";
import { formatAddress, plainHostname } from "../serving/address.ts";

/** Whether a reply came from the address its message went to. */
function sameAddress(
  source: Deno.NetAddr,
  target: { hostname: string; port: number },
): boolean {
  return source.port === target.port &&
    plainHostname(source.hostname) === plainHostname(target.hostname);
}

/** The address a UDP client binds: the loopback of the target's family, or any. */
function clientBindAddress(hostname: string): string {
  if (hostname.includes(":")) return hostname === "::1" ? "::1" : "::";
  return hostname === "localhost" || hostname.startsWith("127.")
    ? "127.0.0.1"
    : "0.0.0.0";
}

/** A UDP message waiting for its reply. */
interface Waiting {
  bytes: Uint8Array;
  /** Its place in the sending order. */
  seq: number;
  resolve(reply: Uint8Array): void;
  /** Where its reply came from, when not where it went. */
  from?: string;
}

/** Messages remembered to recognise late and duplicate replies. */
const MAX_REMEMBERED = 1024;

/**
 * Sends each message as one datagram and matches the replies.
 *
 * @param messages The messages.
 * @param options Where to, and how.
 * @param onReply Called once per message, answered or lost.
 * @returns The totals.
 */
export async function sendOverUdp(
  messages: Iterable<string> | AsyncIterable<string>,
  options: ClientOptions,
  onReply: (event: ReplyEvent) => void,
): Promise<ClientSummary> {
  const started = performance.now();
  const summary = emptySummary();
  const wait = options.wait ?? DEFAULT_WAIT;
  const server = {
    transport: "udp" as const,
    hostname: options.hostname === "localhost" ? "127.0.0.1" : options.hostname,
    port: options.port,
  };
  // Where replies come from is checked when the target is an address (a
  // name may resolve to several).
  const checkSource = /^[\d.]+$|:/.test(server.hostname);
  const socket = Deno.listenDatagram({
    transport: "udp",
    hostname: clientBindAddress(options.hostname),
    port: 0,
  });
  // Replies are matched to the message they echo, never to whichever
  // message happens to be waiting: a late reply is recognised as late, a
  // second reply to an answered message as a duplicate. Lists: waiting,
  // expired, answered.
  const matcher = new ReplyMatcher<Waiting | Echoed>([
    Infinity,
    MAX_REMEMBERED,
    MAX_REMEMBERED,
  ]);
  let latestAnswered = -1;
  const receiving = (async () => {
    const buffer = new Uint8Array(65_536);
    try {
      while (true) {
        const [data, source] = await socket.receive(buffer);
        summary.bytesIn += data.length;
        const match = matcher.match(data);
        if (match === undefined) summary.unexpected++;
        else if (match.list === 1) summary.late++;
        else if (match.list === 2) summary.duplicates++;
        else {
          const entry = match.entry as Waiting;
          matcher.delete(0, entry);
          // A later datagram was answered first: this reply was overtaken.
          if (entry.seq < latestAnswered) summary.reordered++;
          latestAnswered = Math.max(latestAnswered, entry.seq);
          matcher.add(2, { bytes: entry.bytes });
          if (checkSource && !sameAddress(source as Deno.NetAddr, server)) {
            entry.from = formatAddress(source as Deno.NetAddr);
            summary.otherSource++;
          }
          entry.resolve(data.slice());
        }
      }
    } catch {
      // The socket was closed: done.
    }
  })();
  // With an interval, datagrams go out on time whatever the replies do (as
  // ping sends); without one, each waits for its reply.
  const pipelined = (options.interval ?? 0) > 0;
  const outstanding: Promise<void>[] = [];
  try {
    let seq = 0;
    for await (const message of messages) {
      if (seq > 0 && options.interval) await delay(options.interval);
      const bytes = encoder.encode(message);
      const { promise, resolve } = Promise.withResolvers<
        Uint8Array | undefined
      >();
      const entry: Waiting = { bytes, seq: seq++, resolve };
      matcher.add(0, entry);
      const timer = setTimeout(() => {
        // From now on a reply to this message is late.
        matcher.delete(0, entry);
        matcher.add(1, { bytes });
        resolve(undefined);
      }, wait);
      const sentAt = performance.now();
      try {
        await socket.send(bytes, server);
      } catch (error) {
        clearTimeout(timer);
        matcher.delete(0, entry);
        throw error;
      }
      summary.sent++;
      summary.bytesOut += bytes.length;
      const settled = promise.then((reply) => {
        clearTimeout(timer);
        if (reply === undefined) {
          summary.lost++;
          onReply({ message, reply: undefined, rtt: undefined });
        } else {
          const rtt = performance.now() - sentAt;
          summary.answered++;
          summary.rtts.push(rtt);
          const end = reply.at(-1) === 10 ? reply.length - 1 : reply.length;
          onReply({
            message,
            reply: reply.subarray(0, end),
            rtt,
            ...(entry.from === undefined ? {} : { from: entry.from }),
          });
        }
      });
      if (pipelined) outstanding.push(settled);
      else await settled;
    }
    await Promise.all(outstanding);
    // Room for a last duplicate to arrive before the socket closes.
    if (pipelined && summary.sent > 0) await delay(50);
  } finally {
    socket.close();
    await receiving;
  }
  summary.seconds = (performance.now() - started) / 1000;
  return summary;
}
