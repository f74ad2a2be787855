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
import { formatAddress } from "./lib/address.ts";
import { errorMessage, netGrant } from "./lib/errors.ts";
import { LineReader } from "./lib/line_reader.ts";
import { DEFAULT_PREFIX, ReplyFormatter } from "./lib/reply_formatter.ts";
import type { EchoServer } from "./lib/server.ts";

export type { EchoServer } from "./lib/server.ts";

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
}

/** Default UDP port, as in the seed. */
export const DEFAULT_UDP_PORT = 6000;
/** Default bytes kept per datagram, as in the seed. */
export const DEFAULT_BUFFER_SIZE = 5;
/** The largest UDP payload over IPv4 (65,535 - 8 - 20 bytes). */
export const MAX_DATAGRAM_SIZE = 65_507;

/** Every datagram fits: its real size is known even when it is cut. */
const RECEIVE_BUFFER_SIZE = 65_536;
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
  #closing = false;
  #closed = false;
  #receiving = false;
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
    this.#socket = Deno.listenDatagram({
      transport: "udp",
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port ?? DEFAULT_UDP_PORT,
    });
    this.addr = this.#socket.addr as Deno.NetAddr & { transport: "udp" };
    logger.info("Starting udp server on {address}", {
      address: formatAddress(this.addr),
    });
    this.#loop = this.#serve();
    this.finished = this.#loop.then(() => this.shutdown());
  }

  shutdown(): Promise<void> {
    this.#shutdown ??= this.#stop();
    return this.#shutdown;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  async #serve(): Promise<void> {
    const buffer = new Uint8Array(RECEIVE_BUFFER_SIZE);
    const bufferSize = this.#bufferSize;
    const reader = new LineReader({ maxLine: bufferSize });
    const formatter = new ReplyFormatter(this.#prefix);
    let peer = "";
    let logLines = false;
    const onLine = (line: Uint8Array) => {
      formatter.append(line);
      if (logLines) {
        logger.info("Receiving data: {line} from {peer}", {
          line: decoder.decode(line),
          peer,
        });
      }
    };
    while (!this.#closing) {
      let datagram: Uint8Array;
      let address: Deno.NetAddr;
      this.#receiving = true;
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
      } finally {
        this.#receiving = false;
      }
      peer = formatAddress(address);
      const size = datagram.length;
      const kept = size > bufferSize
        ? datagram.subarray(0, bufferSize)
        : datagram;
      if (size > bufferSize) {
        logger.warn(
          "Truncated datagram from {peer} from {size} to {kept} bytes (raise --buffer-size to keep more)",
          { peer, size, kept: bufferSize },
        );
      }
      logLines = logger.isEnabledFor("info");
      let reply: Uint8Array;
      if (this.#raw) {
        if (logLines) {
          logger.info("Receiving data: {data} from {peer}", {
            data: decoder.decode(kept),
            peer,
          });
        }
        reply = kept;
      } else {
        // An empty datagram is one empty line.
        if (kept.length === 0) onLine(kept);
        else if (reader.push(kept, onLine)) reader.flush(onLine);
        reply = formatter.bytes();
      }
      await this.#send(reply, address, peer);
      formatter.clear();
    }
    this.#close();
  }

  async #send(
    reply: Uint8Array,
    address: Deno.NetAddr,
    peer: string,
  ): Promise<void> {
    if (reply.length > MAX_DATAGRAM_SIZE) {
      logger.warn(
        "Cannot answer {peer}: the reply of {size} bytes is over the UDP limit of {limit} bytes (use a shorter --prefix or fewer lines per datagram)",
        { peer, size: reply.length, limit: MAX_DATAGRAM_SIZE },
      );
      return;
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
      return;
    }
    if (debug) {
      logger.debug("Complete Sending data.. {bytes} bytes to {peer}", {
        bytes: reply.length,
        peer,
      });
    }
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
    // A reply being sent is finished first; a pending receive is cancelled.
    if (this.#receiving) this.#close();
    await this.#loop;
    logger.info("Stopped udp server on {address}", {
      address: formatAddress(this.addr),
    });
  }
}
