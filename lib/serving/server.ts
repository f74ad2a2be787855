// Copyright 2026 the echolab authors. MIT license.
/**
 * What the TCP and UDP servers have in common: the running server and the
 * options both take.
 *
 * @module
 */

import type { StatsSnapshot } from "./server_stats.ts";
import type { AddressFilter, CapturePlan, FaultPlan } from "./stages.ts";

/**
 * The address of a server of a transport: a `Deno.NetAddr` for TCP and UDP,
 * a `Deno.UnixAddr` for the TCP echo served on a Unix socket.
 */
export type ServerAddr<Transport extends "tcp" | "udp" | "unix" | "quic"> =
  Transport extends "unix" ? Deno.UnixAddr
    : Transport extends "quic"
      ? { transport: "quic"; hostname: string; port: number }
    : Deno.NetAddr & { transport: Transport };

/**
 * A running echo server.
 *
 * @example Use a server as a test fixture
 * ```ts
 * import type { EchoServer } from "./server.ts";
 * import { serveTcp } from "../../tcp.ts";
 *
 * await using server: EchoServer = serveTcp({ port: 0 });
 * console.log(server.addr.port);
 * ```
 */
export interface EchoServer<
  Transport extends "tcp" | "udp" | "unix" | "quic" = "tcp" | "udp",
> extends AsyncDisposable {
  /**
   * The address the server is bound to (the real port when 0 was asked; a
   * Unix socket server's path).
   */
  readonly addr: ServerAddr<Transport>;
  /**
   * Settles once the server serves: at once, or with `capture` once tcpdump
   * listens. Rejects when it cannot serve (a `CaptureError` naming the
   * fix); the server has then stopped.
   */
  readonly started: Promise<void>;
  /**
   * Settles once the server has stopped and closed every resource, whether
   * {@linkcode EchoServer.shutdown} stopped it or its socket failed.
   */
  readonly finished: Promise<void>;
  /**
   * Why the server stopped by itself, once it has (its socket failed for
   * good, e.g. taken away with `ss -K`); `undefined` while it serves and
   * after a {@linkcode EchoServer.shutdown}.
   */
  readonly error: Error | undefined;
  /**
   * The faults in force, under their option names and with the seed in use,
   * or `undefined` when none is (see {@linkcode EchoServer.setFaults}).
   */
  readonly faults: Readonly<Record<string, unknown>> | undefined;
  /**
   * Replaces the faults in force, at run time: every line or datagram that
   * arrives from now on meets the new ones, on connections already open too
   * (counts such as `closeAfter` count from a connection's start).
   *
   * @param plan The faults (`faults()` of `echolab/faults`), or `undefined`
   * for none. A fault that is not for the server's transport throws a
   * `RangeError` naming it, and nothing changes.
   */
  setFaults(plan: FaultPlan | undefined): void;
  /**
   * Stops the server gracefully: stop receiving, answer what was already
   * received, close every connection and socket.
   *
   * @returns Once the server has stopped, when
   * {@linkcode EchoServer.finished} settles too.
   */
  shutdown(): Promise<void>;
  /**
   * The server's counters now.
   *
   * @returns A copy, safe to keep.
   */
  stats(): StatsSnapshot;
}

/** A server of any transport, Unix socket and QUIC servers included. */
export type AnyEchoServer = EchoServer<"tcp" | "udp" | "unix" | "quic">;

/**
 * Which echo a server serves: `udp`, `quic`, or `tcp` for the TCP echo, on
 * a TCP port or a Unix socket (its faults, stats and metrics are TCP's).
 *
 * @param server The server.
 * @returns `tcp` or `udp`.
 *
 * @example
 * ```ts
 * import { echoKind } from "./server.ts";
 * import { serveTcp } from "../../tcp.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * await using server = serveTcp({ port: 0 });
 * strictEqual(echoKind(server), "tcp");
 * ```
 */
export function echoKind(
  server: Pick<AnyEchoServer, "addr">,
): "tcp" | "udp" | "quic" {
  const transport = server.addr.transport;
  return transport === "udp" || transport === "quic" ? transport : "tcp";
}

/**
 * A server whose counters live elsewhere (the `--workers` pool) and are
 * fetched on demand.
 */
export interface RefreshableStats {
  /**
   * Fetches fresh counters.
   *
   * @returns The counters now.
   */
  refreshStats(): Promise<StatsSnapshot>;
}

/**
 * The options both {@linkcode serveTcp} and {@linkcode serveUdp} take;
 * `TcpServerOptions` and `UdpServerOptions` extend it.
 */
export interface ServerOptions {
  /**
   * Address to bind: an IPv4 or IPv6 address or a host name.
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * Port to bind; 0 picks a free one (see {@linkcode EchoServer.addr}).
   *
   * @default {8000 for TCP, 6000 for UDP}
   */
  port?: number;
  /**
   * Text before each echoed line. Placeholders: `{instance}` (see
   * {@linkcode ServerOptions.instance}), `{peer}` (the client's address and
   * port, e.g. `127.0.0.1:40446` or `[::1]:40446`), `{local}` (the server's
   * own address and port); `{{` and `}}` are literal braces. Filled once per
   * TCP connection and once per UDP source. An unknown placeholder or a lone
   * brace throws a `RangeError`.
   *
   * @default {"received msg: "}
   */
  prefix?: string;
  /**
   * The name `{instance}` stands for in the prefix, to tell replicas apart.
   * Without it, the machine's host name (`Deno.hostname()`, which needs
   * `--allow-sys=hostname`), looked up only when the prefix uses it.
   *
   * @default {undefined}
   */
  instance?: string;
  /**
   * RFC 862 echo: the bytes back unchanged, no lines, no prefix.
   *
   * @default {false}
   */
  raw?: boolean;
  /**
   * Source networks served (`AccessList` of `echolab/policy`); a TCP
   * connection from elsewhere is closed at once, a datagram from elsewhere
   * is dropped, both are counted. `undefined` serves everyone who can reach
   * the address.
   *
   * @default {undefined}
   */
  allow?: AddressFilter;
  /**
   * Log every network event (TCP: accept, read, write, FIN, reset, timeout,
   * close; UDP: each datagram and reply) to the `echolab.trace` logger.
   *
   * @default {false}
   */
  trace?: boolean;
  /**
   * Capture the server's own packets and trace each one, in time order
   * with the other events (`capture()` of `echolab/capture`, which runs
   * tcpdump). Implies `trace`. The server starts serving (and logs its
   * start line) only once the capture listens; see
   * {@linkcode EchoServer.started}.
   *
   * @default {undefined}
   */
  capture?: CapturePlan;
}

/**
 * What {@linkcode EchoServer.faults} says of a plan: its options and the
 * seed in use, or `undefined` without one.
 *
 * @param plan The faults in force, if any.
 * @returns The options with the seed.
 *
 * @example
 * ```ts
 * import { faultsInForce } from "./server.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(faultsInForce(undefined), undefined);
 * ```
 */
export function faultsInForce(
  plan: FaultPlan | undefined,
): Readonly<Record<string, unknown>> | undefined {
  return plan === undefined ? undefined : { ...plan.options, seed: plan.seed };
}
