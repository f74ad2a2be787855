// Copyright 2026 the echolab authors. MIT license.
/**
 * The built-in client (`main.ts send`): sends lines over TCP or datagrams
 * over UDP, times each reply, and counts what never came back.
 *
 * @module
 */

import { LineReader } from "../serving/line_reader.ts";
import { formatProxyHeader } from "../proxy/proxy_header.ts";
import { writeAll } from "../serving/write_all.ts";

/** Options of {@linkcode sendMessages}. */
export interface ClientOptions {
  /** `tcp` sends lines on one connection; `udp` one datagram per message. */
  transport: "tcp" | "udp";
  /** The server's address. */
  hostname: string;
  /** The server's port. */
  port: number;
  /**
   * Seconds to pause between two sends. Over UDP, datagrams then go out
   * every `interval` seconds without waiting for the previous reply, as
   * `ping` does.
   *
   * @default {0}
   */
  interval?: number;
  /**
   * Seconds to wait for each UDP reply before calling it lost.
   *
   * @default {1}
   */
  wait?: number;
  /**
   * Talk TLS (TCP only).
   *
   * @default {false}
   */
  tls?: boolean;
  /**
   * PEM certificates to trust for TLS, e.g. a self-signed server's.
   *
   * @default {undefined}
   */
  caCerts?: string[];
  /**
   * TCP: called with a line the server sends before any reply (a banner,
   * as SMTP and FTP servers send), which is not taken for a reply.
   *
   * @default {undefined}
   */
  onBanner?: (line: string) => void;
  /**
   * A new connection (TCP) or socket (UDP) for every message, so that a
   * load balancer can spread them. A connection that fails after the first
   * message counts that message as lost.
   *
   * @default {false}
   */
  reconnect?: boolean;
  /**
   * TCP: send a PROXY protocol header of this version first, naming the
   * client's own addresses, as a load balancer would (before the TLS
   * handshake, with `tls`).
   *
   * @default {undefined}
   */
  proxyProtocol?: 1 | 2;
}

/** One message and what came back for it. */
export interface ReplyEvent {
  /** The message sent (a line, without its newline). */
  message: string;
  /** The reply, without its final newline; `undefined` when lost. */
  reply: Uint8Array | undefined;
  /** Round-trip time in milliseconds; `undefined` when lost. */
  rtt: number | undefined;
}

/** Totals of a client run. */
export interface ClientSummary {
  /** Lines (TCP) or datagrams (UDP) sent. */
  sent: number;
  /** Of those, answered. */
  answered: number;
  /** Of those, never answered. */
  lost: number;
  /**
   * UDP replies that echo a message whose wait had already run out: ignored,
   * never counted as the answer to another message.
   */
  late: number;
  /** UDP replies that echo none of the messages sent: ignored. */
  unexpected: number;
  /** UDP replies to a message that was already answered: ignored. */
  duplicates: number;
  /**
   * UDP replies that came after the reply to a later datagram (with an
   * `interval`, datagrams do not wait for each other's replies).
   */
  reordered: number;
  /** TCP: a first line the server sent before any reply (a banner). */
  banner?: string;
  /**
   * TCP: the server ended the connection (closed or half-closed it) before
   * every reply came; the messages left are counted lost.
   */
  endedEarly?: boolean;
  /** Bytes sent. */
  bytesOut: number;
  /** Bytes received. */
  bytesIn: number;
  /** Round-trip times of the answered ones, in milliseconds. */
  rtts: number[];
  /**
   * TCP connect time in milliseconds (TLS: including the handshake); with
   * `reconnect`, the average over the connections.
   */
  connectTime?: number;
}

const encoder = new TextEncoder();

function delay(seconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, seconds * 1000));
}

/**
 * Sends messages to an echo server and reports each reply as it comes.
 *
 * Over TCP it connects once, sends each message as a line, half-closes after
 * the last one and waits for every reply; over UDP it sends each message as
 * a datagram and waits `wait` seconds for its reply.
 *
 * @param messages The messages; an async iterable (such as stdin's lines) is
 * sent as it comes.
 * @param options Where and how to send.
 * @param onReply Called for each message, answered or lost, in order.
 * @returns The totals.
 *
 * @example
 * ```ts
 * import { sendMessages } from "./client.ts";
 * import { serveTcp } from "../../tcp.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * await using server = serveTcp({ port: 0 });
 * const summary = await sendMessages(["hello"], {
 *   transport: "tcp", hostname: "127.0.0.1", port: server.addr.port,
 * }, (event) => console.log(new TextDecoder().decode(event.reply)));
 * strictEqual(summary.answered, 1);
 * ```
 */
export function sendMessages(
  messages: Iterable<string> | AsyncIterable<string>,
  options: ClientOptions,
  onReply: (event: ReplyEvent) => void,
): Promise<ClientSummary> {
  if (options.proxyProtocol !== undefined && options.transport === "udp") {
    return Promise.reject(
      new TypeError("Cannot send: proxyProtocol is for TCP"),
    );
  }
  if (options.reconnect) return sendReconnecting(messages, options, onReply);
  return options.transport === "tcp"
    ? sendOverTcp(messages, options, onReply)
    : sendOverUdp(messages, options, onReply);
}

/** One connection or socket per message, the totals added up. */
async function sendReconnecting(
  messages: Iterable<string> | AsyncIterable<string>,
  options: ClientOptions,
  onReply: (event: ReplyEvent) => void,
): Promise<ClientSummary> {
  const summary = emptySummary();
  const once = { ...options, reconnect: false, interval: 0 };
  const connectTimes: number[] = [];
  let first = true;
  for await (const message of messages) {
    const lines = options.transport === "tcp" ? message.split("\n") : [message];
    for (const line of lines) {
      if (!first && options.interval) await delay(options.interval);
      let part: ClientSummary;
      try {
        part = await sendMessages([line], once, onReply);
      } catch (error) {
        // Nothing there at all: the caller says so. Later, one lost message.
        if (first) throw error;
        summary.sent++;
        summary.lost++;
        onReply({ message: line, reply: undefined, rtt: undefined });
        continue;
      } finally {
        first = false;
      }
      summary.sent += part.sent;
      summary.answered += part.answered;
      summary.lost += part.lost;
      summary.late += part.late;
      summary.unexpected += part.unexpected;
      summary.duplicates += part.duplicates;
      summary.reordered += part.reordered;
      summary.banner ??= part.banner;
      if (part.endedEarly) summary.endedEarly = true;
      summary.bytesOut += part.bytesOut;
      summary.bytesIn += part.bytesIn;
      summary.rtts.push(...part.rtts);
      if (part.connectTime !== undefined) connectTimes.push(part.connectTime);
    }
  }
  if (connectTimes.length > 0) {
    summary.connectTime = connectTimes.reduce((a, b) => a + b, 0) /
      connectTimes.length;
  }
  return summary;
}

function emptySummary(): ClientSummary {
  return {
    sent: 0,
    answered: 0,
    lost: 0,
    late: 0,
    unexpected: 0,
    duplicates: 0,
    reordered: 0,
    bytesOut: 0,
    bytesIn: 0,
    rtts: [],
  };
}

/**
 * Connects as asked: plain or TLS, with a PROXY header first when asked (the
 * header goes before the TLS handshake, as a load balancer sends it).
 */
async function connect(
  options: ClientOptions,
): Promise<Deno.TcpConn | Deno.TlsConn> {
  const address = { hostname: options.hostname, port: options.port };
  if (options.proxyProtocol === undefined) {
    return options.tls
      ? await Deno.connectTls({ ...address, caCerts: options.caCerts })
      : await Deno.connect(address);
  }
  const conn = await Deno.connect(address);
  try {
    await writeAll(
      conn,
      formatProxyHeader(options.proxyProtocol, {
        source: conn.localAddr,
        destination: conn.remoteAddr,
      }),
    );
  } catch (error) {
    conn.close();
    throw error;
  }
  if (!options.tls) return conn;
  return await Deno.startTls(conn, {
    hostname: options.hostname,
    caCerts: options.caCerts,
  });
}

async function sendOverTcp(
  messages: Iterable<string> | AsyncIterable<string>,
  options: ClientOptions,
  onReply: (event: ReplyEvent) => void,
): Promise<ClientSummary> {
  const summary = emptySummary();
  const started = performance.now();
  const conn = await connect(options);
  try {
    if ("handshake" in conn) await conn.handshake();
    else conn.setNoDelay(true);
    summary.connectTime = performance.now() - started;
    const pending: { message: string; bytes: Uint8Array; sentAt: number }[] =
      [];
    const answer = (line: Uint8Array) => {
      const next = pending[0];
      // A reply ends with the line it echoes; the first line that does not
      // is a banner, a later one is unexpected.
      if (next === undefined || !endsWith(line, next.bytes)) {
        if (summary.answered === 0 && summary.banner === undefined) {
          summary.banner = new TextDecoder().decode(line);
          options.onBanner?.(summary.banner);
        } else summary.unexpected++;
        return;
      }
      const sentAt = pending.shift()!;
      const rtt = performance.now() - sentAt.sentAt;
      summary.answered++;
      summary.rtts.push(rtt);
      onReply({ message: sentAt.message, reply: line, rtt });
    };
    const reading = (async () => {
      const reader = new LineReader({ maxLine: 1 << 30 });
      const buffer = new Uint8Array(65_536);
      try {
        while (true) {
          const read = await conn.read(buffer);
          if (read === null) break;
          summary.bytesIn += read;
          reader.push(buffer.subarray(0, read), answer);
        }
      } catch {
        // A reset ends the replies; what is still pending is lost.
      }
      reader.flush(answer);
    })();
    let first = true;
    try {
      for await (const message of messages) {
        for (const line of message.split("\n")) {
          if (!first && options.interval) await delay(options.interval);
          first = false;
          const bytes = encoder.encode(`${line}\n`);
          // Sent once it is handed to the connection, so that every message
          // ends up answered or lost, even when its write fails.
          pending.push({
            message: line,
            bytes: bytes.subarray(0, bytes.length - 1),
            sentAt: performance.now(),
          });
          summary.sent++;
          await writeAll(conn, bytes);
          summary.bytesOut += bytes.length;
        }
      }
      await conn.closeWrite();
    } catch {
      // The server closed: the replies read so far still count.
    }
    await reading;
    if (pending.length > 0) summary.endedEarly = true;
    for (const { message } of pending.splice(0)) {
      summary.lost++;
      onReply({ message, reply: undefined, rtt: undefined });
    }
  } finally {
    conn.close();
  }
  return summary;
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
}

/** Messages remembered to recognise late and duplicate replies. */
const MAX_REMEMBERED = 1024;

async function sendOverUdp(
  messages: Iterable<string> | AsyncIterable<string>,
  options: ClientOptions,
  onReply: (event: ReplyEvent) => void,
): Promise<ClientSummary> {
  const summary = emptySummary();
  const wait = (options.wait ?? 1) * 1000;
  const server = {
    transport: "udp" as const,
    hostname: options.hostname === "localhost" ? "127.0.0.1" : options.hostname,
    port: options.port,
  };
  const socket = Deno.listenDatagram({
    transport: "udp",
    hostname: clientBindAddress(options.hostname),
    port: 0,
  });
  // Replies are matched to the message they echo, never to whichever
  // message happens to be waiting: a late reply is recognised as late, a
  // second reply to an answered message as a duplicate.
  const waiting: Waiting[] = [];
  const expired: Uint8Array[] = [];
  const answered: Uint8Array[] = [];
  const remember = (list: Uint8Array[], bytes: Uint8Array) => {
    list.push(bytes);
    if (list.length > MAX_REMEMBERED) list.shift();
  };
  let latestAnswered = -1;
  const receiving = (async () => {
    const buffer = new Uint8Array(65_536);
    try {
      while (true) {
        const [data] = await socket.receive(buffer);
        summary.bytesIn += data.length;
        const match = bestEcho(data, waiting, [expired, answered]);
        if (match === undefined) summary.unexpected++;
        else if (match.list === 1) summary.late++;
        else if (match.list === 2) summary.duplicates++;
        else {
          const entry = waiting.splice(match.index, 1)[0]!;
          // A later datagram was answered first: this reply was overtaken.
          if (entry.seq < latestAnswered) summary.reordered++;
          latestAnswered = Math.max(latestAnswered, entry.seq);
          remember(answered, entry.bytes);
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
      waiting.push(entry);
      const timer = setTimeout(() => {
        // From now on a reply to this message is late.
        const index = waiting.indexOf(entry);
        if (index !== -1) waiting.splice(index, 1);
        remember(expired, bytes);
        resolve(undefined);
      }, wait);
      const sentAt = performance.now();
      try {
        await socket.send(bytes, server);
      } catch (error) {
        clearTimeout(timer);
        const index = waiting.indexOf(entry);
        if (index !== -1) waiting.splice(index, 1);
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
          onReply({ message, reply: reply.subarray(0, end), rtt });
        }
      });
      if (pipelined) outstanding.push(settled);
      else await settled;
    }
    await Promise.all(outstanding);
    // Room for a last duplicate to arrive before the socket closes.
    if (pipelined && summary.sent > 0) await delay(0.05);
  } finally {
    socket.close();
    await receiving;
  }
  return summary;
}

/**
 * The message a UDP reply echoes, among those waiting (`list` 0) and those
 * remembered (`list` 1 and up: expired, answered): the one with the
 * longest echoed part; among equals, the earlier list, and in a list the
 * oldest first.
 */
function bestEcho(
  reply: Uint8Array,
  waiting: readonly Waiting[],
  remembered: readonly (readonly Uint8Array[])[],
): { index: number; list: number } | undefined {
  let best: { index: number; list: number } | undefined;
  let bestLength = -1;
  for (let i = 0; i < waiting.length; i++) {
    const length = echoedLength(reply, waiting[i]!.bytes);
    if (length > bestLength) {
      best = { index: i, list: 0 };
      bestLength = length;
    }
  }
  remembered.forEach((messages, list) => {
    for (let i = 0; i < messages.length; i++) {
      const length = echoedLength(reply, messages[i]!);
      if (length > bestLength) {
        best = { index: i, list: list + 1 };
        bestLength = length;
      }
    }
  });
  return best;
}

const NEWLINE = 10;
const CARRIAGE_RETURN = 13;

/**
 * How many bytes of `message` the reply echoes, or -1 when it echoes none of
 * them. A server keeps the first k bytes of a datagram and answers with
 * each of their lines after a prefix the client does not know (or, raw,
 * with the bytes alone): so the reply's last line ends with the last line
 * of the message's first k bytes. The largest such k is returned; an empty
 * message echoes with k = 0.
 */
function echoedLength(reply: Uint8Array, message: Uint8Array): number {
  let end = reply.length;
  if (end > 0 && reply[end - 1] === NEWLINE) end--;
  const last = reply.subarray(reply.lastIndexOf(NEWLINE, end - 1) + 1, end);
  for (let k = message.length; k > 0; k--) {
    let segmentEnd = k;
    if (message[segmentEnd - 1] === NEWLINE) {
      segmentEnd--;
      if (segmentEnd > 0 && message[segmentEnd - 1] === CARRIAGE_RETURN) {
        segmentEnd--;
      }
    }
    const segmentStart = segmentEnd === 0
      ? 0
      : message.lastIndexOf(NEWLINE, segmentEnd - 1) + 1;
    const segment = message.subarray(segmentStart, segmentEnd);
    if (segment.length > 0 && endsWith(last, segment)) return k;
  }
  return message.length === 0 ? 0 : -1;
}

function endsWith(bytes: Uint8Array, suffix: Uint8Array): boolean {
  const offset = bytes.length - suffix.length;
  if (offset < 0) return false;
  for (let i = 0; i < suffix.length; i++) {
    if (bytes[offset + i] !== suffix[i]) return false;
  }
  return true;
}
