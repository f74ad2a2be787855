// Copyright 2026 the echolab authors. MIT license.
/**
 * The faults of a TCP server as its connections' stage: the writer (delay,
 * chunks), the close policy (close, half-close or stall after N replies),
 * dropped lines and the banner.
 *
 * @module
 */

import type {
  CloseReason,
  FaultContext,
  TcpFaultStage,
  TcpLink,
} from "../serving/stages.ts";
import { AccessList } from "../policy/access_list.ts";
import { type FaultInjector, sleep } from "./fault_injector.ts";

/** The read buffer of a half-closed connection, read but not answered. */
const DISCARD_SIZE = 512;

/**
 * Makes the TCP stage of a server's faults.
 *
 * @param injector The faults and their generator.
 * @param context The server's counters and tracer.
 * @returns The stage.
 */
export function tcpFaultStage(
  injector: FaultInjector,
  context: FaultContext,
): TcpFaultStage {
  const options = injector.options;
  const { stats, tracer } = context;
  const banner = options.banner === undefined
    ? undefined
    : new TextEncoder().encode(`${options.banner}\n`);
  const aimed = options.faultsFor === undefined
    ? undefined
    : AccessList.parse(options.faultsFor);
  const bandwidth = options.bandwidth;
  /** Each connection's token bucket, while it lives. */
  const buckets = new WeakMap<TcpLink, { tokens: number; at: number }>();
  const budget = Math.min(
    options.resetAfter ?? Infinity,
    options.closeAfter ?? Infinity,
    options.halfCloseAfter ?? Infinity,
    options.stallAfter ?? Infinity,
  );

  async function delay(link: TcpLink): Promise<void> {
    const milliseconds = injector.delay();
    stats.countFault("delay");
    tracer?.event("delayed reply to {peer} by {ms} ms", {
      peer: link.peer,
      ms: milliseconds,
    });
    // The time the server itself waits is nobody's idleness.
    link.suspendIdle();
    try {
      await sleep(milliseconds, link.signal);
    } finally {
      link.resumeIdle();
    }
  }

  async function writeChunked(
    link: TcpLink,
    bytes: Uint8Array,
    chunk: number,
    write: (bytes: Uint8Array) => Promise<void>,
  ): Promise<void> {
    const pause = options.chunkDelay ?? 0;
    stats.countFault("chunk");
    tracer?.event(
      "chunked reply to {peer}: {pieces} writes of at most {chunk} bytes",
      { peer: link.peer, pieces: Math.ceil(bytes.length / chunk), chunk },
    );
    for (let offset = 0; offset < bytes.length; offset += chunk) {
      if (offset > 0 && pause > 0) await sleep(pause, link.signal);
      await write(bytes.subarray(offset, offset + chunk));
    }
  }

  /** Writes bytes no faster than the bandwidth, from a token bucket. */
  async function throttled(
    link: TcpLink,
    bytes: Uint8Array,
    write: (bytes: Uint8Array) => Promise<void>,
  ): Promise<void> {
    const rate = bandwidth!;
    // The bucket holds the larger of 256 bytes and 50 ms of the rate.
    const capacity = Math.max(256, Math.floor(rate * 0.05));
    let bucket = buckets.get(link);
    if (bucket === undefined) {
      bucket = { tokens: capacity, at: performance.now() };
      buckets.set(link, bucket);
    }
    stats.countFault("bandwidth");
    tracer?.event("reply to {peer} limited to {rate} bytes/s", {
      peer: link.peer,
      rate,
    });
    for (let offset = 0; offset < bytes.length;) {
      const now = performance.now();
      bucket.tokens = Math.min(
        capacity,
        bucket.tokens + ((now - bucket.at) * rate) / 1000,
      );
      bucket.at = now;
      const want = Math.min(bytes.length - offset, capacity);
      if (bucket.tokens < want) {
        await sleep(((want - bucket.tokens) * 1000) / rate, link.signal);
        if (link.signal.aborted) throw new Deno.errors.BadResource("closed");
        continue;
      }
      bucket.tokens -= want;
      await write(bytes.subarray(offset, offset + want));
      offset += want;
    }
  }

  return {
    budget,
    selects(source) {
      return (aimed === undefined || aimed.allows(source)) &&
        injector.selectsConnection();
    },
    begin(link) {
      if (options.resetAfter === 0) {
        stats.countFault("reset");
        tracer?.event("reset {peer} on accept", { peer: link.peer });
        link.reset();
        return undefined;
      }
      if (banner === undefined) return undefined;
      stats.countFault("banner");
      tracer?.event("banner to {peer}: {banner}", {
        peer: link.peer,
        banner: options.banner,
      });
      return banner;
    },
    drops(link) {
      if (!injector.drops()) return false;
      stats.countFault("drop");
      tracer?.event("dropped line from {peer}", { peer: link.peer });
      return true;
    },
    delay(link) {
      return options.delay === undefined ? undefined : delay(link);
    },
    async write(link, bytes, write) {
      const send = bandwidth === undefined
        ? write
        : (piece: Uint8Array) => throttled(link, piece, write);
      const chunk = options.chunk;
      if (chunk === undefined || bytes.length <= chunk) await send(bytes);
      else await writeChunked(link, bytes, chunk, send);
    },
    async afterBudget(link, answered): Promise<CloseReason> {
      const peer = link.peer;
      if (options.resetAfter === answered) {
        stats.countFault("reset");
        tracer?.event("reset {peer} after {n} replies", { peer, n: answered });
        link.reset();
        return "reset after";
      }
      if (options.closeAfter === answered) {
        stats.countFault("close_after");
        tracer?.event("closing {peer} after {n} replies", {
          peer,
          n: answered,
        });
        return "close after";
      }
      if (options.halfCloseAfter === answered) {
        stats.countFault("half_close");
        tracer?.event("half-closed {peer} after {n} replies", {
          peer,
          n: answered,
        });
        await link.stream.closeWrite();
        // Keep reading, unanswered, until the client closes too.
        const buffer = new Uint8Array(DISCARD_SIZE);
        while (true) {
          const read = await link.stream.read(buffer);
          if (link.reason !== undefined) return link.reason;
          link.readUnanswered(read);
          if (read === null) return "client closed";
        }
      }
      stats.countFault("stall");
      tracer?.event("stopped reading {peer} after {n} replies", {
        peer,
        n: answered,
      });
      // Nothing reads any more: the client's writes block once the buffers
      // fill, and only the idle timeout (or the client) ends it.
      const signal = link.signal;
      await new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener("abort", () => resolve(), { once: true });
      });
      return link.reason ?? "client closed";
    },
  };
}
