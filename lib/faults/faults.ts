// Copyright 2026 the echolab authors. MIT license.
/**
 * Faults on purpose: replies that are late, split, missing, doubled, or a
 * connection the server closes, half-closes or stops reading, and a banner
 * before anything. Every random choice comes from one seeded generator, so
 * the same requests meet the same faults in every run.
 *
 * @module
 */

import type {
  FaultContext,
  FaultPlan,
  TcpFaultStage,
  UdpFaultStage,
} from "../serving/stages.ts";
import {
  MAX_BANDWIDTH,
  MAX_BURST,
  MAX_DELAY,
  MAX_SEED,
} from "../serving/defaults.ts";
import { AccessList } from "../policy/access_list.ts";

export { MAX_BANDWIDTH, MAX_BURST };
import { FaultInjector } from "./fault_injector.ts";
import { tcpFaultStage } from "./_tcp_faults.ts";
import { udpFaultStage } from "./_udp_faults.ts";

/** The faults a server can inject; all are off unless given. */
export interface FaultOptions {
  /**
   * Milliseconds every reply waits before it leaves (each TCP read batch's
   * replies, each UDP reply): a fixed delay, or `[min, max]` drawn
   * uniformly. At most 60000.
   */
  delay?: number | readonly [number, number];
  /** TCP: write every reply in pieces of at most this many bytes. */
  chunk?: number;
  /** TCP, with `chunk`: milliseconds between two pieces. */
  chunkDelay?: number;
  /**
   * TCP: reset the connection (an RST alone, no FIN) right after writing
   * this many replies; 0 resets on accept. Needs a server started with
   * `serveResettableTcp`.
   */
  resetAfter?: number;
  /** TCP: close the connection after answering this many lines. */
  closeAfter?: number;
  /**
   * TCP: after answering this many lines, shut down the sending side, keep
   * reading (unanswered) and close once the client closes.
   */
  halfCloseAfter?: number;
  /** TCP: after answering this many lines, stop reading the connection. */
  stallAfter?: number;
  /** TCP: a line the server sends first, on accept (`\n` is added). */
  banner?: string;
  /** The fraction (0 to 1) of TCP lines or UDP datagrams left unanswered. */
  drop?: number;
  /** UDP: the fraction (0 to 1) of replies sent twice. */
  duplicate?: number;
  /**
   * With `delay`: milliseconds of standard deviation of a normal deviate
   * added to each delay (never below 0).
   */
  jitter?: number;
  /**
   * With `drop`: lost lines or datagrams come in runs of this mean length (a
   * two-state Gilbert model whose bad state loses everything), at the same
   * long-run rate.
   */
  dropBurst?: number;
  /** TCP: replies leave at most this many bytes per second, per connection. */
  bandwidth?: number;
  /**
   * Faults apply only to clients in these networks (`10.0.0.0/8,::1/128`;
   * with the PROXY protocol, the header's client); others are served clean.
   */
  faultsFor?: string;
  /**
   * TCP: only this fraction (0 to 1) of connections, chosen at accept, get
   * faults, all or nothing per connection.
   */
  faultConnections?: number;
  /**
   * The seed of the generator behind `delay` ranges, `drop` and
   * `duplicate`: a whole number from 0 to 4294967295. Without it one is
   * chosen at random, and the start log names it.
   */
  seed?: number;
}

/** The names of {@linkcode FaultOptions}, as the control API takes them. */
export const FAULT_OPTION_NAMES: readonly string[] = [
  "delay",
  "resetAfter",
  "jitter",
  "bandwidth",
  "dropBurst",
  "faultsFor",
  "faultConnections",
  "chunk",
  "chunkDelay",
  "closeAfter",
  "halfCloseAfter",
  "stallAfter",
  "banner",
  "drop",
  "duplicate",
  "seed",
];

/** The kinds of fault counted in `stats().faults` and `echolab_faults_total`. */
export type FaultKind =
  | "delay"
  | "chunk"
  | "close_after"
  | "half_close"
  | "stall"
  | "reset"
  | "bandwidth"
  | "banner"
  | "drop"
  | "duplicate";

export { MAX_DELAY, MAX_SEED } from "../serving/defaults.ts";

/**
 * Checks fault options for one transport; throws a `RangeError` naming the
 * option that is out of range or does not apply.
 *
 * @param faults The options.
 * @param transport Which server will use them.
 *
 * @example
 * ```ts
 * import { checkFaults } from "./faults.ts";
 * import { throws } from "node:assert/strict";
 *
 * throws(() => checkFaults({ drop: 1.5 }, "udp"), /drop must be from 0 to 1/);
 * throws(() => checkFaults({ duplicate: 0.1 }, "tcp"), /duplicate is for UDP/);
 * ```
 */
export function checkFaults(
  faults: FaultOptions,
  transport?: "tcp" | "udp",
): void {
  const fail = (message: string) => {
    throw new RangeError(`Cannot inject faults: ${message}`);
  };
  const whole = (name: string, value: number | undefined, min: number) => {
    if (
      value !== undefined &&
      (!Number.isSafeInteger(value) || value < min)
    ) fail(`${name} must be a whole number from ${min} up, got ${value}`);
  };
  const delay = faults.delay;
  if (delay !== undefined) {
    const [min, max] = typeof delay === "number" ? [delay, delay] : delay;
    for (const value of [min, max]) {
      if (!(value >= 0 && value <= MAX_DELAY)) {
        fail(`delay must be from 0 to ${MAX_DELAY} ms, got ${value}`);
      }
    }
    if (min > max) {
      fail(`delay range ${min}-${max} has its minimum above its maximum`);
    }
  }
  for (const name of ["drop", "duplicate", "faultConnections"] as const) {
    const rate = faults[name];
    if (rate !== undefined && !(rate >= 0 && rate <= 1)) {
      fail(`${name} must be from 0 to 1, got ${rate}`);
    }
  }
  whole("chunk", faults.chunk, 1);
  whole("closeAfter", faults.closeAfter, 0);
  whole("resetAfter", faults.resetAfter, 0);
  whole("halfCloseAfter", faults.halfCloseAfter, 0);
  whole("stallAfter", faults.stallAfter, 0);
  if (
    faults.chunkDelay !== undefined &&
    !(faults.chunkDelay >= 0 && faults.chunkDelay <= MAX_DELAY)
  ) {
    fail(
      `chunkDelay must be from 0 to ${MAX_DELAY} ms, got ${faults.chunkDelay}`,
    );
  }
  if (
    faults.seed !== undefined &&
    (!Number.isSafeInteger(faults.seed) || faults.seed < 0 ||
      faults.seed > MAX_SEED)
  ) {
    fail(
      `seed must be a whole number from 0 to ${MAX_SEED}, got ${faults.seed}`,
    );
  }
  if (faults.jitter !== undefined) {
    if (!(faults.jitter >= 0 && faults.jitter <= MAX_DELAY)) {
      fail(`jitter must be from 0 to ${MAX_DELAY} ms, got ${faults.jitter}`);
    }
    if (faults.delay === undefined) fail("jitter needs delay");
  }
  if (faults.dropBurst !== undefined) {
    if (!(faults.dropBurst >= 1 && faults.dropBurst <= MAX_BURST)) {
      fail(`dropBurst must be from 1 to ${MAX_BURST}, got ${faults.dropBurst}`);
    }
    if (faults.drop === undefined) fail("dropBurst needs drop");
    if (faults.drop === 1) fail("dropBurst needs a drop rate below 1");
  }
  whole("bandwidth", faults.bandwidth, 1);
  if (faults.bandwidth !== undefined && faults.bandwidth > MAX_BANDWIDTH) {
    fail(
      `bandwidth must be a whole number from 1 to ${MAX_BANDWIDTH}, got ${faults.bandwidth}`,
    );
  }
  if (faults.faultsFor !== undefined) {
    try {
      AccessList.parse(faults.faultsFor);
    } catch (error) {
      fail(`faultsFor: ${(error as Error).message}`);
    }
  }
  const tcpOnly = [
    "resetAfter",
    "bandwidth",
    "faultConnections",
    "chunk",
    "chunkDelay",
    "closeAfter",
    "halfCloseAfter",
    "stallAfter",
    "banner",
  ] as const;
  if (transport === "udp") {
    for (const name of tcpOnly) {
      if (faults[name] !== undefined) fail(`${name} is for TCP`);
    }
  } else if (transport === "tcp" && faults.duplicate !== undefined) {
    fail("duplicate is for UDP");
  }
}

/**
 * Faults for a server to inject on purpose: pass the result as the
 * `faults` option of `serveTcp` or `serveUdp`. The start log names them,
 * at warning level. One plan per server: its generator is the server's.
 *
 * @param options The faults; all are off unless given.
 * @returns The plan; throws a `RangeError` naming an option out of range
 * (and the server, one that is not for its transport).
 *
 * @example Every second line unanswered, the same ones in every run
 * ```ts
 * import { faults } from "./faults.ts";
 * import { serveTcp } from "../../tcp.ts";
 *
 * await using server = serveTcp({ port: 0, faults: faults({ drop: 0.5, seed: 1 }) });
 * ```
 */
export function faults(options: FaultOptions): Faults {
  return new Faults(options);
}

/** The faults of one server: what {@linkcode faults} returns. */
export class Faults implements FaultPlan {
  /** The faults and their generator. */
  readonly injector: FaultInjector;

  /**
   * Checks the options and seeds the generator.
   *
   * @param options The faults.
   */
  constructor(options: FaultOptions) {
    checkFaults(options);
    this.injector = new FaultInjector(options);
  }

  /** Whether any fault is on (a seed alone is none). */
  get active(): boolean {
    return this.injector.active;
  }

  /** The faults as given. */
  get options(): Readonly<FaultOptions> {
    return this.injector.options;
  }

  /** The seed of the generator (given, or chosen at random). */
  get seed(): number {
    return this.injector.seed;
  }

  /**
   * The faults in words, for the start log.
   *
   * @returns The description.
   */
  describe(): string {
    return this.injector.describe();
  }

  /**
   * The stage of a TCP server.
   *
   * @param context The server's counters and tracer.
   * @returns The stage.
   */
  tcp(context: FaultContext): TcpFaultStage {
    checkFaults(this.injector.options, "tcp");
    if (this.injector.options.resetAfter !== undefined && !context.resettable) {
      throw new RangeError(
        "Cannot inject faults: resetAfter needs a server that can reset connections (serveResettableTcp; on the command line, start with --reset-after)",
      );
    }
    return tcpFaultStage(this.injector, context);
  }

  /**
   * The stage of a UDP server.
   *
   * @param context The server's counters, tracer and drop reporter.
   * @returns The stage.
   */
  udp(context: FaultContext): UdpFaultStage {
    checkFaults(this.injector.options, "udp");
    return udpFaultStage(this.injector, context);
  }
}

export { FaultInjector, sleep } from "./fault_injector.ts";
