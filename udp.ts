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
import { formatAddress } from "./lib/serving/address.ts";
import { SocketBackoff } from "./lib/serving/_backoff.ts";
import {
  DEFAULT_BUFFER_SIZE,
  DEFAULT_HOSTNAME,
  DEFAULT_PREFIX,
  DEFAULT_UDP_PORT,
  MAX_COUNT,
  MAX_DATAGRAM_SIZE,
  MAX_DELAYED_LIMIT,
} from "./lib/serving/defaults.ts";
import { DropReporter } from "./lib/serving/_drop_reporter.ts";
import {
  checkServerOptions,
  OptionChecker,
} from "./lib/serving/check_options.ts";
import { errorMessage, isSocketGone, netGrant } from "./lib/serving/errors.ts";
import { LineReader } from "./lib/serving/line_reader.ts";
import { ReplyFormatter } from "./lib/serving/reply_formatter.ts";
import { ReplyPrefix } from "./lib/serving/reply_prefix.ts";
import { startServing } from "./lib/serving/_server_start.ts";
import { SeedLog } from "./lib/serving/_seed_log.ts";
import {
  type EchoServer,
  faultsInForce,
  type ServerOptions,
} from "./lib/serving/server.ts";
import { ServerStats, type StatsSnapshot } from "./lib/serving/server_stats.ts";
import { UdpAdmission } from "./lib/serving/_udp_admission.ts";
import { bindLocalAddresses } from "./lib/serving/_udp_addresses.ts";
import type {
  FaultContext,
  FaultPlan,
  RunningCapture,
  UdpFaultStage,
  UdpSender,
} from "./lib/serving/stages.ts";
import { Tracer } from "./lib/serving/tracer.ts";

export type {
  EchoServer,
  ServerAddr,
  ServerOptions,
} from "./lib/serving/server.ts";
export type { StatsSnapshot } from "./lib/serving/server_stats.ts";
export type * from "./lib/serving/stages.ts";
export type { Tracer } from "./lib/serving/tracer.ts";
export type { ServerStats } from "./lib/serving/server_stats.ts";
export {
  DEFAULT_BUFFER_SIZE,
  DEFAULT_UDP_PORT,
  MAX_DATAGRAM_SIZE,
} from "./lib/serving/defaults.ts";

/** Options of {@linkcode serveUdp}; the shared ones are in {@linkcode ServerOptions}. */
export interface UdpServerOptions extends ServerOptions {
  /**
   * Bytes kept of each datagram, as the seed's 5-byte buffer; the rest is
   * cut off and the cut is logged. At most 65507. With `raw`, the default is
   * the largest datagram, 65507: RFC 862 echoes the whole datagram.
   *
   * @default {5, or 65507 with raw}
   */
  bufferSize?: number;
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
   * Faults to inject on purpose: `faults()` of `echolab/faults` with
   * `delay` (replies wait, and may overtake each other), `drop`,
   * `duplicate`. The start log names them, at warning level.
   *
   * @default {undefined}
   */
  faults?: FaultPlan;
  /**
   * With a `delay` fault: the most bytes of replies waiting out their delay
   * at once; a datagram whose reply would exceed it is dropped and counted
   * (`delay queue full`), so a flood cannot fill the memory.
   *
   * @default {1048576}
   */
  maxDelayed?: number;
}

/** Every datagram fits: its real size is known even when it is cut. */
const RECEIVE_BUFFER_SIZE = 65_536;
/** Receive loops per socket, each with its own buffer. */
const RECEIVERS = 4;
/** Sources whose filled prefix is remembered, up to this many. */
const MAX_REMEMBERED_PREFIXES = 10_000;
/** Hosts told about a missing send permission, remembered up to this many. */
const MAX_REMEMBERED_HOSTS = 1024;
const logger = getLogger(["echolab", "udp"]);
const seedLog = new SeedLog(logger);

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
  readonly started: Promise<void>;
  error: Error | undefined;
  #capture: RunningCapture | undefined;
  #announced = false;
  #socket: Deno.DatagramConn;
  /** With a wildcard address: one socket per local address too. */
  #sockets: Deno.DatagramConn[];
  #bufferSize: number;
  #prefix: ReplyPrefix;
  #local: string;
  #peerPrefixes = new Map<string, Uint8Array>();
  #raw: boolean;
  #admission: UdpAdmission;
  #tracer: Tracer | undefined;
  #stats = new ServerStats();
  #drops = new DropReporter(this.#stats, logger);
  #backoff = new SocketBackoff(logger, "receive error");
  #closing = false;
  #closed = false;
  #sending = 0;
  #refusedHosts = new Set<string>();
  #shutdown: Promise<void> | undefined;
  #loop: Promise<void>;
  #faults: UdpFaultStage | undefined;
  #plan: FaultPlan | undefined;
  #faultContext: FaultContext;
  /** Stages replaced at run time, whose delayed replies still go out. */
  #retired: UdpFaultStage[] = [];

  constructor(options: UdpServerOptions) {
    const check = new OptionChecker("the udp server");
    checkServerOptions(check, options);
    check.integer("bufferSize", options.bufferSize, 1, MAX_DATAGRAM_SIZE);
    check.integer("rate", options.rate, 0, MAX_COUNT);
    check.boolean("loopGuard", options.loopGuard);
    check.object("faults", options.faults, ["describe", "udp"]);
    check.integer("maxDelayed", options.maxDelayed, 1, MAX_DELAYED_LIMIT);
    // RFC 862 echoes the whole datagram; the seed's lines keep 5 bytes.
    const bufferSize = options.bufferSize ??
      (options.raw ? MAX_DATAGRAM_SIZE : DEFAULT_BUFFER_SIZE);
    this.#bufferSize = bufferSize;
    this.#prefix = new ReplyPrefix(options.prefix ?? DEFAULT_PREFIX, {
      instance: options.instance,
    });
    this.#raw = options.raw ?? false;
    const capture = options.capture;
    this.#tracer = options.trace || capture !== undefined
      ? new Tracer("udp", { hold: capture?.hold ?? 0 })
      : undefined;
    this.#faultContext = {
      stats: this.#stats,
      tracer: this.#tracer,
      drop: (refusal) =>
        this.#drops.drop(refusal.reason, refusal.template, refusal.properties),
      maxDelayed: options.maxDelayed,
    };
    this.#plan = options.faults?.active ? options.faults : undefined;
    this.#faults = this.#plan?.udp(this.#faultContext);
    const hostname = options.hostname ?? DEFAULT_HOSTNAME;
    const wildcard = hostname === "0.0.0.0" || hostname === "::";
    this.#socket = Deno.listenDatagram({
      transport: "udp",
      hostname,
      port: options.port ?? DEFAULT_UDP_PORT,
      ...(wildcard ? { reuseAddress: true } : {}),
    });
    this.addr = this.#socket.addr as Deno.NetAddr & { transport: "udp" };
    this.#sockets = [this.#socket];
    if (wildcard) {
      this.#sockets.push(
        ...bindLocalAddresses(hostname, this.addr.port, logger),
      );
    }
    this.#admission = new UdpAdmission({
      allow: options.allow,
      loopGuard: options.loopGuard ?? true,
      rate: options.rate ?? 0,
      addr: this.addr,
      drops: this.#drops,
    });
    // Deno does not tell a datagram's destination: {local} is the bound one.
    this.#local = formatAddress(this.addr);
    const serving = startServing({
      logger,
      addr: this.addr,
      allow: options.allow,
      faults: this.#faults === undefined ? undefined : options.faults,
      capture,
      tracer: this.#tracer,
      captured: (running) => this.#capture = running,
      // Several receives in flight keep the socket busy while replies go out.
      serve: () => {
        this.#announced = true;
        return Promise.all([
          ...Array.from({ length: RECEIVERS }, () => this.#serve(this.#socket)),
          ...this.#sockets.slice(1).map((socket) => this.#serve(socket)),
        ]).then(() => this.#close());
      },
      abandon: () => {
        this.#closing = true;
        this.#close();
      },
    });
    this.started = serving.started;
    this.#loop = serving.loop;
    // The loops end on shutdown, or when the socket fails on its own.
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

  get faults(): Readonly<Record<string, unknown>> | undefined {
    return faultsInForce(this.#plan);
  }

  setFaults(plan: FaultPlan | undefined): void {
    const active = plan?.active ? plan : undefined;
    // Made first: a fault that is not for UDP throws, and nothing changes.
    const stage = active?.udp(this.#faultContext);
    // A replaced stage is kept only while replies wait in it: changing the
    // faults again and again keeps no more than that.
    this.#retired = this.#retired.filter((retired) => retired.pending > 0);
    if (this.#faults !== undefined && this.#faults.pending > 0) {
      this.#retired.push(this.#faults);
    }
    this.#plan = active;
    this.#faults = stage;
  }

  async #serve(socket: Deno.DatagramConn): Promise<void> {
    const buffer = new Uint8Array(RECEIVE_BUFFER_SIZE);
    const bufferSize = this.#bufferSize;
    const reader = new LineReader({ maxLine: bufferSize });
    const prefix = this.#prefix;
    const formatter = new ReplyFormatter(prefix.bytes({}));
    const stats = this.#stats;
    let peer = "";
    let logLines = false;
    let lines = 0;
    const onLine = (line: Uint8Array) => {
      lines++;
      formatter.append(line);
      if (logLines) seedLog.receiving(line, peer);
    };
    while (!this.#closing) {
      let datagram: Uint8Array;
      let address: Deno.NetAddr;
      try {
        const received = await socket.receive(buffer);
        datagram = received[0];
        address = received[1] as Deno.NetAddr;
      } catch (error) {
        if (this.#closing) break;
        if (isSocketGone(error)) {
          if (this.error === undefined) {
            this.error = new Error(`its socket failed: ${errorMessage(error)}`);
            logger.error(
              "The udp server on {address} stopped by itself: {error}",
              {
                address: formatAddress(this.addr),
                error: this.error.message,
              },
            );
          }
          break;
        }
        await this.#backoff.failed(
          error,
          "warning",
          "Cannot receive a datagram: {error}; retrying with backoff up to {max} ms",
        );
        continue;
      }
      this.#backoff.succeeded();
      const size = datagram.length;
      stats.datagrams_in++;
      stats.bytes_in += size;
      peer = formatAddress(address);
      this.#tracer?.event("datagram from {peer}: {size} bytes, kept {kept}", {
        peer,
        size,
        kept: Math.min(size, bufferSize),
      });
      if (!this.#admission.admits(address, peer)) continue;
      const kept = size > bufferSize
        ? datagram.subarray(0, bufferSize)
        : datagram;
      if (size > bufferSize) {
        stats.truncated++;
        logger.warn(
          "Truncated datagram from {peer} from {size} to {kept} bytes (raise {option} to keep more)",
          { peer, size, kept: bufferSize, option: "bufferSize" },
        );
      }
      const stage = this.#faults;
      const faults = stage?.selects(address.hostname) ? stage : undefined;
      if (faults?.drops(peer)) continue;
      logLines = seedLog.receivingEnabled();
      let reply: Uint8Array;
      if (this.#raw) {
        if (logLines) seedLog.receivingBytes(kept, peer);
        reply = kept;
      } else {
        if (prefix.perPeer) formatter.usePrefix(this.#prefixFor(peer));
        // An empty datagram is one empty line.
        if (kept.length === 0) onLine(kept);
        else if (reader.push(kept, onLine)) reader.flush(onLine);
        reply = formatter.bytes();
        stats.lines_in += lines;
      }
      this.#sending++;
      if (faults === undefined) {
        await this.#deliver(socket, reply, address, peer, lines, 1);
      } else {
        await faults.deliver(
          reply,
          peer,
          this.#sender(socket, address, peer, lines),
        );
      }
      this.#sending--;
      formatter.clear();
      lines = 0;
      // The last reply of a graceful stop went out: now close.
      if (this.#closing && this.#sending === 0) this.#close();
    }
  }

  /**
   * Sends a reply (twice with the duplicate fault) and counts it: the one
   * place where the outgoing counters change.
   *
   * @returns `true` when every copy went out.
   */
  async #deliver(
    socket: Deno.DatagramConn,
    reply: Uint8Array,
    address: Deno.NetAddr,
    peer: string,
    lines: number,
    copies: number,
  ): Promise<boolean> {
    const stats = this.#stats;
    for (let copy = 0; copy < copies; copy++) {
      if (!(await this.#send(socket, reply, address, peer))) return false;
      stats.datagrams_out++;
      stats.bytes_out += reply.length;
      if (copy === 0) stats.lines_out += lines;
    }
    return true;
  }

  /** How the fault stage sends one datagram's reply, now or later. */
  #sender(
    socket: Deno.DatagramConn,
    address: Deno.NetAddr,
    peer: string,
    lines: number,
  ): UdpSender {
    return {
      send: (reply, copies) =>
        this.#deliver(socket, reply, address, peer, lines, copies),
    };
  }

  /** The prefix for one source, filled once and remembered. */
  #prefixFor(peer: string): Uint8Array {
    let bytes = this.#peerPrefixes.get(peer);
    if (bytes === undefined) {
      if (this.#peerPrefixes.size >= MAX_REMEMBERED_PREFIXES) {
        this.#peerPrefixes.clear();
      }
      bytes = this.#prefix.bytes({ peer, local: this.#local });
      this.#peerPrefixes.set(peer, bytes);
    }
    return bytes;
  }

  async #send(
    socket: Deno.DatagramConn,
    reply: Uint8Array,
    address: Deno.NetAddr,
    peer: string,
  ): Promise<boolean> {
    if (reply.length > MAX_DATAGRAM_SIZE) {
      logger.warn(
        "Cannot answer {peer}: the reply of {size} bytes is over the UDP limit of {limit} bytes (use a shorter {option} or fewer lines per datagram)",
        {
          peer,
          size: reply.length,
          limit: MAX_DATAGRAM_SIZE,
          option: "prefix",
        },
      );
      return false;
    }
    seedLog.sending(reply.length, peer);
    try {
      await socket.send(reply, address);
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
    seedLog.sent(reply.length, peer);
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
        }),
      },
    );
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const socket of this.#sockets) {
      try {
        socket.close();
      } catch {
        // Already closed.
      }
    }
  }

  async #stop(): Promise<void> {
    this.#closing = true;
    // Replies being sent are finished first, delayed ones go out now;
    // pending receives are cancelled.
    await Promise.all(
      [...this.#retired, this.#faults].map((stage) => stage?.flush()),
    );
    if (this.#sending === 0) this.#close();
    this.#backoff.wake();
    await this.#loop;
    // A server that never started serving (its capture failed) says
    // nothing more: the error line said it all.
    if (this.#announced) {
      logger.info("Stopped udp server on {address}", {
        address: formatAddress(this.addr),
      });
    }
    await this.#capture?.stop();
    this.#tracer?.close();
  }
}
