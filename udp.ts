// Copyright 2026 the echolab authors. MIT license.
/**
 * The UDP echo server: keeps the first `bufferSize` bytes of each datagram
 * (5 by default, as in the seed) and answers each line in it with
 * `received msg: <line>`, all in one reply datagram.
 *
 * Needs `--unstable-net`, and an `--allow-net` grant that covers the
 * clients' addresses, since Deno checks every reply against it.
 *
 * @example Use it as a test fixture
 * ```ts
 * import { serveUdp } from "./udp.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * await using server = serveUdp({ port: 0 });
 * const client = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
 * try {
 *   await client.send(new TextEncoder().encode("hello world"), server.addr);
 *   const [reply] = await client.receive();
 *   strictEqual(new TextDecoder().decode(reply), "received msg: hello\n");
 * } finally {
 *   client.close();
 * }
 * ```
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { AccessList } from "./lib/access_list.ts";
import { formatAddress } from "./lib/address.ts";
import { warnIfReachable } from "./lib/exposure.ts";
import { errorMessage, netGrant } from "./lib/errors.ts";
import { LineReader } from "./lib/line_reader.ts";
import { DEFAULT_PREFIX, ReplyFormatter } from "./lib/reply_formatter.ts";
import { loopRisk } from "./lib/loop_guard.ts";
import type { EchoServer } from "./lib/server.ts";
import { ServerStats, type StatsSnapshot } from "./lib/server_stats.ts";
import { SourceRateLimiter } from "./lib/source_rate_limiter.ts";
import { ThrottledReporter } from "./lib/throttled_reporter.ts";
import { Tracer } from "./lib/tracer.ts";

export type { EchoServer } from "./lib/server.ts";
export type { StatsSnapshot } from "./lib/server_stats.ts";

/** Options of {@linkcode serveUdp}. */
export interface UdpServerOptions {
  /**
   * Address to bind: an IPv4 or IPv6 address or a host name.
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * Port to bind; 0 picks a free one (see {@linkcode EchoServer.addr}).
   *
   * @default {6000}
   */
  port?: number;
  /**
   * Bytes kept of each datagram, as the seed's 5-byte buffer; the rest is
   * cut off and the cut is logged. At most 65507.
   *
   * @default {5}
   */
  bufferSize?: number;
  /**
   * Text before each echoed line.
   *
   * @default {"received msg: "}
   */
  prefix?: string;
  /**
   * RFC 862 echo: the kept bytes back unchanged, no lines, no prefix.
   *
   * @default {false}
   */
  raw?: boolean;
  /**
   * Source networks answered; datagrams from others are dropped and counted.
   * `undefined` answers everyone who can reach the address.
   *
   * @default {undefined}
   */
  allow?: AccessList;
  /**
   * Datagrams answered per second per source IP (a token bucket holding
   * this many, refilled at this rate); the excess is dropped and counted.
   * 0 means no limit.
   *
   * @default {0}
   */
  rate?: number;
  /**
   * Refuse datagrams from ports of services that answer UDP (echo, chargen,
   * DNS, NTP, …) and from the server's own address, so that two servers can
   * never bounce datagrams at each other forever.
   *
   * @default {true}
   */
  loopGuard?: boolean;
  /**
   * Log every datagram (source, size, kept) and every reply (size) to the
   * `echolab.trace` logger.
   *
   * @default {false}
   */
  trace?: boolean;
}

/** Default UDP port, as in the seed. */
export const DEFAULT_UDP_PORT = 6000;
/** Default bytes kept per datagram, as in the seed. */
export const DEFAULT_BUFFER_SIZE = 5;
/** The largest UDP payload over IPv4 (65,535 - 8 - 20 bytes). */
export const MAX_DATAGRAM_SIZE = 65_507;

/** Every datagram fits: its real size is known even when it is cut. */
const RECEIVE_BUFFER_SIZE = 65_536;
/** Receive loops per socket, each with its own buffer. */
const RECEIVERS = 4;
/** Hosts told about a missing send permission, remembered up to this many. */
const MAX_REMEMBERED_HOSTS = 1024;
const logger = getLogger(["echolab", "udp"]);
const decoder = new TextDecoder();

/**
 * Starts a UDP echo server. Binding happens before this returns, so a port
 * in use or a missing permission throws here.
 *
 * @param options Where to listen and how much of each datagram to keep.
 * @returns The running server.
 *
 * @example
 * ```ts
 * import { serveUdp } from "./udp.ts";
 *
 * await using server = serveUdp({ port: 0, bufferSize: 512 });
 * console.log(`listening on port ${server.addr.port}`);
 * ```
 */
export function serveUdp(options: UdpServerOptions = {}): EchoServer<"udp"> {
  return new UdpServer(options);
}

class UdpServer implements EchoServer<"udp"> {
  readonly addr: Deno.NetAddr & { transport: "udp" };
  readonly finished: Promise<void>;
  #socket: Deno.DatagramConn;
  #bufferSize: number;
  #prefix: string;
  #raw: boolean;
  #allow: AccessList | undefined;
  #limiter: SourceRateLimiter | undefined;
  #loopGuard: boolean;
  #tracer: Tracer | undefined;
  #stats = new ServerStats();
  #drops = new ThrottledReporter();
  #closing = false;
  #closed = false;
  #sending = 0;
  #refusedHosts = new Set<string>();
  #shutdown: Promise<void> | undefined;
  #loop: Promise<void>;

  constructor(options: UdpServerOptions) {
    const bufferSize = options.bufferSize ?? DEFAULT_BUFFER_SIZE;
    if (
      !Number.isSafeInteger(bufferSize) || bufferSize < 1 ||
      bufferSize > MAX_DATAGRAM_SIZE
    ) {
      throw new RangeError(
        `Cannot start the udp server: bufferSize must be a whole number from 1 to ${MAX_DATAGRAM_SIZE}, got ${bufferSize}`,
      );
    }
    this.#bufferSize = bufferSize;
    this.#prefix = options.prefix ?? DEFAULT_PREFIX;
    this.#raw = options.raw ?? false;
    this.#allow = options.allow;
    this.#limiter = options.rate
      ? new SourceRateLimiter(options.rate)
      : undefined;
    this.#loopGuard = options.loopGuard ?? true;
    this.#tracer = options.trace ? new Tracer("udp") : undefined;
    this.#socket = Deno.listenDatagram({
      transport: "udp",
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port ?? DEFAULT_UDP_PORT,
    });
    this.addr = this.#socket.addr as Deno.NetAddr & { transport: "udp" };
    logger.info("Starting udp server on {address}", {
      address: formatAddress(this.addr),
    });
    warnIfReachable(logger, this.addr, this.#allow);
    // Several receives in flight keep the socket busy while replies go out.
    this.#loop = Promise.all(
      Array.from({ length: RECEIVERS }, () => this.#serve()),
    ).then(() => this.#close());
    this.finished = this.#loop.then(() => this.shutdown());
  }

  shutdown(): Promise<void> {
    this.#shutdown ??= this.#stop();
    return this.#shutdown;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  stats(): StatsSnapshot {
    return this.#stats.snapshot();
  }

  async #serve(): Promise<void> {
    const buffer = new Uint8Array(RECEIVE_BUFFER_SIZE);
    const bufferSize = this.#bufferSize;
    const reader = new LineReader({ maxLine: bufferSize });
    const formatter = new ReplyFormatter(this.#prefix);
    const stats = this.#stats;
    let peer = "";
    let logLines = false;
    let lines = 0;
    const onLine = (line: Uint8Array) => {
      lines++;
      formatter.append(line);
      if (logLines) {
        logger.info`Receiving data: ${decoder.decode(line)} from ${peer}`;
      }
    };
    while (!this.#closing) {
      let datagram: Uint8Array;
      let address: Deno.NetAddr;
      try {
        const received = await this.#socket.receive(buffer);
        datagram = received[0];
        address = received[1] as Deno.NetAddr;
      } catch (error) {
        if (this.#closing || error instanceof Deno.errors.BadResource) break;
        logger.warn("Cannot receive a datagram: {error}", {
          error: errorMessage(error),
        });
        continue;
      }
      const size = datagram.length;
      stats.datagrams_in++;
      stats.bytes_in += size;
      peer = formatAddress(address);
      this.#tracer?.event("datagram from {peer}: {size} bytes, kept {kept}", {
        peer,
        size,
        kept: Math.min(size, bufferSize),
      });
      if (!this.#admit(address, peer)) continue;
      const kept = size > bufferSize
        ? datagram.subarray(0, bufferSize)
        : datagram;
      if (size > bufferSize) {
        stats.truncated++;
        logger.warn(
          "Truncated datagram from {peer} from {size} to {kept} bytes (raise --buffer-size to keep more)",
          { peer, size, kept: bufferSize },
        );
      }
      logLines = logger.isEnabledFor("info");
      let reply: Uint8Array;
      if (this.#raw) {
        if (logLines) {
          logger.info`Receiving data: ${decoder.decode(kept)} from ${peer}`;
        }
        reply = kept;
      } else {
        // An empty datagram is one empty line.
        if (kept.length === 0) onLine(kept);
        else if (reader.push(kept, onLine)) reader.flush(onLine);
        reply = formatter.bytes();
        stats.lines_in += lines;
      }
      this.#sending++;
      const sent = await this.#send(reply, address, peer);
      this.#sending--;
      if (sent) {
        stats.datagrams_out++;
        stats.bytes_out += reply.length;
        stats.lines_out += lines;
      }
      formatter.clear();
      lines = 0;
      // The last reply of a graceful stop went out: now close.
      if (this.#closing && this.#sending === 0) this.#close();
    }
  }

  /** Checks `--allow`, the loop guard and `--udp-rate`, in that order. */
  #admit(address: Deno.NetAddr, peer: string): boolean {
    const source = address.hostname;
    if (this.#allow !== undefined && !this.#allow.allows(source)) {
      return this.#drop(
        "not allowed",
        "Dropped datagram from {peer}: not allowed (not in --allow)",
        { peer },
      );
    }
    if (this.#loopGuard) {
      const risk = loopRisk(address, this.addr);
      if (risk !== undefined) {
        return this.#drop(
          "loop guard",
          "Dropped datagram from {peer}: loop guard, {risk} (see --no-loop-guard)",
          { peer, risk },
        );
      }
    }
    if (this.#limiter !== undefined && !this.#limiter.allow(source)) {
      return this.#drop(
        "rate limit",
        "Dropped datagram from {peer}: rate limit, over {rate} per second (see --udp-rate)",
        { peer, rate: this.#limiter.rate },
      );
    }
    return true;
  }

  #drop(
    reason: string,
    template: string,
    properties: Record<string, unknown>,
  ): false {
    this.#stats.countDrop(reason);
    this.#drops.log(logger, "info", reason, template, properties);
    return false;
  }

  async #send(
    reply: Uint8Array,
    address: Deno.NetAddr,
    peer: string,
  ): Promise<boolean> {
    if (reply.length > MAX_DATAGRAM_SIZE) {
      logger.warn(
        "Cannot answer {peer}: the reply of {size} bytes is over the UDP limit of {limit} bytes (use a shorter --prefix or fewer lines per datagram)",
        { peer, size: reply.length, limit: MAX_DATAGRAM_SIZE },
      );
      return false;
    }
    const debug = logger.isEnabledFor("debug");
    if (debug) {
      logger.debug("Sending data.. {bytes} bytes to {peer}", {
        bytes: reply.length,
        peer,
      });
    }
    try {
      await this.#socket.send(reply, address);
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) {
        this.#reportRefusedHost(address, peer);
      } else if (!this.#closed) {
        logger.warn("Cannot answer {peer}: {error}", {
          peer,
          error: errorMessage(error),
        });
      }
      return false;
    }
    this.#tracer?.event("reply to {peer}: {size} bytes", {
      peer,
      size: reply.length,
    });
    if (debug) {
      logger.debug("Complete Sending data.. {bytes} bytes to {peer}", {
        bytes: reply.length,
        peer,
      });
    }
    return true;
  }

  #reportRefusedHost(address: Deno.NetAddr, peer: string): void {
    if (this.#refusedHosts.has(address.hostname)) return;
    if (this.#refusedHosts.size >= MAX_REMEMBERED_HOSTS) {
      this.#refusedHosts.clear();
    }
    this.#refusedHosts.add(address.hostname);
    logger.warn(
      "Cannot answer {peer}: no permission to send to it; re-run with --allow-net={grant} (or a range such as 127.0.0.0/8)",
      {
        peer,
        grant: netGrant({
          transport: "udp",
          hostname: address.hostname,
          port: address.port,
          portFlag: "--port",
        }),
      },
    );
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#socket.close();
    } catch {
      // Already closed.
    }
  }

  async #stop(): Promise<void> {
    this.#closing = true;
    // Replies being sent are finished first; pending receives are cancelled.
    if (this.#sending === 0) this.#close();
    await this.#loop;
    logger.info("Stopped udp server on {address}", {
      address: formatAddress(this.addr),
    });
  }
}
