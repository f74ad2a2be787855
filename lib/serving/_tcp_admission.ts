// Copyright 2026 the echolab authors. MIT license.
/**
 * Admission of TCP clients: the access list, the connection limit and the
 * per-source limit, checked before a connection is served. A refused client
 * is counted once, as a drop, and logged throttled; it gets no close line.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { DropReporter } from "./_drop_reporter.ts";
import { plainHostname, UNIX_SOURCE } from "./address.ts";
import type { ServerStats } from "./server_stats.ts";
import type {
  AddressFilter,
  CloseReason,
  Refusal,
  TcpPreamble,
} from "./stages.ts";

/** Options of {@linkcode TcpAdmission}. */
export interface TcpAdmissionOptions {
  /** The sources served; `undefined` serves all. */
  allow?: AddressFilter;
  /** Connections at once; 0 means no limit. */
  maxConnections: number;
  /** Connections at once from one host; 0 means no limit. */
  maxPerSource: number;
  /** The preamble, which may refuse a peer at accept (`proxyFrom`). */
  preamble?: TcpPreamble;
  /** The counters drops go into. */
  stats: ServerStats;
  /** Where refusals are logged. */
  logger: Logger;
}

/**
 * Decides which clients a TCP server serves, and keeps the count per source.
 *
 * @example
 * ```ts ignore
 * const admission = new TcpAdmission({ maxConnections: 0, maxPerSource: 1, stats, logger });
 * const source = admission.atAccept(conn.remoteAddr, "127.0.0.1:4000", 0);
 * ```
 */
export class TcpAdmission {
  #allow: AddressFilter | undefined;
  #maxConnections: number;
  #maxPerSource: number;
  #preamble: TcpPreamble | undefined;
  #perSource = new Map<string, number>();
  #drops: DropReporter;

  /**
   * Sets the rules.
   *
   * @param options The lists and limits.
   */
  constructor(options: TcpAdmissionOptions) {
    this.#allow = options.allow;
    this.#maxConnections = options.maxConnections;
    this.#maxPerSource = options.maxPerSource;
    this.#preamble = options.preamble;
    this.#drops = new DropReporter(options.stats, options.logger);
  }

  /**
   * Checks a connection at accept. Without a preamble the client is known:
   * the access list, the connection limit and the per-source limit, in that
   * order. With one, the preamble's own check (`proxyFrom`) and the
   * connection limit; the client is checked once the preamble names it.
   *
   * @param remote The connection's peer (a Unix socket's client has no
   * address: its source is `unix`).
   * @param peer The same as `host:port`.
   * @param open Connections open now.
   * @returns `false` when refused (counted and logged); the client's host,
   * counted, when admitted without a preamble; `true` otherwise.
   */
  atAccept(
    remote: Deno.NetAddr | Deno.UnixAddr,
    peer: string,
    open: number,
  ): string | boolean {
    const preamble = this.#preamble;
    const net = "hostname" in remote ? remote : undefined;
    let refusal: Refusal | undefined;
    if (preamble !== undefined) {
      refusal = (net && preamble.refuse?.(net, peer)) ??
        this.#overCapacity(peer, open);
      if (refusal === undefined) return true;
    } else {
      // The clients of a Unix socket are one source.
      const source = net === undefined
        ? UNIX_SOURCE
        : plainHostname(net.hostname);
      refusal = this.#notAllowed(source, peer) ??
        this.#overCapacity(peer, open) ?? this.#overSource(source, peer);
      if (refusal === undefined) {
        this.#claim(source);
        return source;
      }
    }
    this.#drops.drop(refusal.reason, refusal.template, refusal.properties);
    return false;
  }

  /**
   * Checks the client a preamble named (or the connection's own peer when
   * it named none) and counts it when admitted.
   *
   * @param source The client's host.
   * @param peer The client as `host:port`.
   * @returns Why it is refused (counted and logged), or `undefined`.
   */
  readonly admit = (source: string, peer: string): CloseReason | undefined => {
    const refusal = this.#notAllowed(source, peer) ??
      this.#overSource(source, peer);
    if (refusal === undefined) {
      this.#claim(source);
      return undefined;
    }
    this.#drops.drop(refusal.reason, refusal.template, refusal.properties);
    return refusal.reason as CloseReason;
  };

  /**
   * Gives back a closed connection's place in its source's count.
   *
   * @param source The host it was counted under.
   */
  release(source: string): void {
    const left = this.#perSource.get(source)! - 1;
    if (left === 0) this.#perSource.delete(source);
    else this.#perSource.set(source, left);
  }

  #claim(source: string): void {
    this.#perSource.set(source, (this.#perSource.get(source) ?? 0) + 1);
  }

  #notAllowed(source: string, peer: string): Refusal | undefined {
    if (this.#allow === undefined || this.#allow.allows(source)) {
      return undefined;
    }
    return {
      reason: "not allowed",
      template: "Refused connection from {peer}: not allowed (not in {option})",
      properties: { peer, option: "allow" },
    };
  }

  #overCapacity(peer: string, open: number): Refusal | undefined {
    const limit = this.#maxConnections;
    if (limit === 0 || open < limit) return undefined;
    return {
      reason: "too many connections",
      template:
        "Refused connection from {peer}: too many connections ({limit} open, see {option})",
      properties: { peer, limit, option: "maxConnections" },
    };
  }

  #overSource(source: string, peer: string): Refusal | undefined {
    const limit = this.#maxPerSource;
    if (limit === 0 || (this.#perSource.get(source) ?? 0) < limit) {
      return undefined;
    }
    return {
      reason: "too many per source",
      template:
        "Refused connection from {peer}: too many per source ({limit} open from {source}, see {option})",
      properties: { peer, source, limit, option: "maxPerSource" },
    };
  }
}
