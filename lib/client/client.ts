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
import { endsWith } from "./_reply_matcher.ts";
import { delay, emptySummary, encoder } from "./_summary.ts";
import { sendOverUdp } from "./_udp_client.ts";
import type { ByteStream } from "../serving/stages.ts";
import type { TlsPeerInfo } from "./_tls_client.ts";

/** Options of {@linkcode sendMessages}. */
export interface ClientOptions {
  /** `tcp` sends lines on one connection; `udp` one datagram per message. */
  transport: "tcp" | "udp" | "quic";
  /** The server's address. */
  hostname: string;
  /** The server's port. */
  port: number;
  /**
   * Milliseconds to pause between two sends. Over UDP, datagrams then go
   * out every `interval` milliseconds without waiting for the previous
   * reply, as `ping` does.
   *
   * @default {0}
   */
  interval?: number;
  /**
   * Milliseconds to wait for each UDP reply before calling it lost.
   *
   * @default {1000}
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
   * TCP: talk to the server on the Unix socket at this path instead
   * (`hostname` and `port` unused). Needs `--allow-read` and
   * `--allow-write` for the path and `--allow-net=unix:PATH`.
   *
   * @default {undefined}
   */
  path?: string;
  /**
   * TLS: the server name to send and check the certificate against;
   * without it, `hostname` when it is a name (an address sends none).
   *
   * @default {undefined}
   */
  serverName?: string;
  /**
   * TLS: the ALPN protocols to offer.
   *
   * @default {undefined}
   */
  alpn?: string[];
  /**
   * QUIC: bidirectional streams the lines are spread over, round robin.
   *
   * @default {1}
   */
  streams?: number;
  /**
   * QUIC: send each message as one QUIC datagram instead of a line on a
   * stream; its reply is awaited `wait` milliseconds.
   *
   * @default {false}
   */
  datagram?: boolean;
  /**
   * QUIC: called once the handshake is done, with its time in
   * milliseconds, the ALPN protocol and the largest datagram.
   *
   * @default {undefined}
   */
  onQuic?: (
    info: { handshake: number; alpn: string; maxDatagramSize: number },
  ) => void;
  /**
   * TLS: called once the handshake is done, with the server's certificate
   * subject and names, the version, the cipher and the ALPN chosen.
   *
   * @default {undefined}
   */
  onTls?: (info: TlsPeerInfo) => void;
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
  /**
   * TCP: what follows the last message. `half-close` sends a FIN at once
   * (the server answers what is left and closes); `wait` keeps the
   * connection open until the server closes it, as `nc` does: the server's
   * idle timeout ends it, and the server closes first.
   *
   * @default {"half-close"}
   */
  end?: "half-close" | "wait";
}

/** One message and what came back for it. */
export interface ReplyEvent {
  /** The message sent (a line, without its newline). */
  message: string;
  /** The reply, without its final newline; `undefined` when lost. */
  reply: Uint8Array | undefined;
  /** Round-trip time in milliseconds; `undefined` when lost. */
  rtt: number | undefined;
  /**
   * UDP: where the reply came from, `host:port`, when that is not where the
   * message went (the server or a NAT answered from another address).
   */
  from?: string;
}

/** Totals of a client run. */
export interface ClientSummary {
  /** Lines (TCP) or datagrams (UDP) sent. */
  sent: number;
  /** Of those, answered. */
  answered: number;
  /** Of those, never answered. */
  lost: number;
  /** UDP: replies from another address than the one the message went to. */
  otherSource: number;
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
  /**
   * TCP: how the server ended the connection before every reply came:
   * `reset` (an RST: `ECONNRESET`) or `close` (a FIN).
   */
  endedBy?: "reset" | "close";
  /** Seconds from the first send to the end of the replies. */
  seconds?: number;
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

/**
 * Sends messages to an echo server and reports each reply as it comes.
 *
 * Over TCP it connects once, sends each message as a line, half-closes after
 * the last one and waits for every reply; over UDP it sends each message as
 * a datagram and waits `wait` milliseconds for its reply.
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
  if (
    options.path !== undefined &&
    (options.transport === "udp" || options.proxyProtocol !== undefined)
  ) {
    return Promise.reject(
      new TypeError(
        "Cannot send: path (a Unix socket) takes neither udp nor proxyProtocol",
      ),
    );
  }
  if (options.transport === "quic") {
    return import("./_quic_client.ts").then(({ sendOverQuic }) =>
      sendOverQuic(messages, options, onReply)
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
      summary.otherSource += part.otherSource;
      summary.banner ??= part.banner;
      if (part.endedEarly) summary.endedEarly = true;
      summary.endedBy ??= part.endedBy;
      summary.seconds = (summary.seconds ?? 0) + (part.seconds ?? 0);
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

/**
 * Connects as asked: plain or TLS, with a PROXY header first when asked (the
 * header goes before the TLS handshake, as a load balancer sends it); with
 * TLS, once the handshake is done.
 */
async function connect(options: ClientOptions): Promise<ByteStream> {
  const address = { hostname: options.hostname, port: options.port };
  if (options.tls) {
    const { openTls } = await import("./_tls_client.ts");
    const { stream, info } = await openTls({
      ...address,
      path: options.path,
      caCerts: options.caCerts,
      serverName: options.serverName,
      alpn: options.alpn,
      proxyProtocol: options.proxyProtocol,
    });
    options.onTls?.(info);
    return stream;
  }
  if (options.path !== undefined) {
    return await Deno.connect({ transport: "unix", path: options.path });
  }
  if (options.proxyProtocol === undefined) {
    const conn = await Deno.connect(address);
    conn.setNoDelay(true);
    return conn;
  }
  const conn = await Deno.connect(address);
  conn.setNoDelay(true);
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
  return conn;
}

async function sendOverTcp(
  messages: Iterable<string> | AsyncIterable<string>,
  options: ClientOptions,
  onReply: (event: ReplyEvent) => void,
): Promise<ClientSummary> {
  const summary = emptySummary();
  // Loaded before the clock starts: the connect time is the network's.
  if (options.tls) await import("./_tls_client.ts");
  const started = performance.now();
  const conn = await connect(options);
  try {
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
    let endedBy: "reset" | "close" = "close";
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
      } catch (error) {
        // A reset ends the replies; what is still pending is lost.
        if (error instanceof Deno.errors.ConnectionReset) endedBy = "reset";
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
      if (options.end !== "wait") await conn.closeWrite();
    } catch (error) {
      // The server closed: the replies read so far still count. A write
      // may meet the RST first (the read then sees only the end).
      if (error instanceof Deno.errors.ConnectionReset) endedBy = "reset";
    }
    await reading;
    if (pending.length > 0) {
      summary.endedEarly = true;
      summary.endedBy = endedBy;
    }
    summary.seconds = (performance.now() - started) / 1000;
    for (const { message } of pending.splice(0)) {
      summary.lost++;
      onReply({ message, reply: undefined, rtt: undefined });
    }
  } finally {
    conn.close();
  }
  return summary;
}
