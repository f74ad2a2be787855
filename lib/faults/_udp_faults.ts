// Copyright 2026 the echolab authors. MIT license.
/**
 * The faults of a UDP server as its stage: dropped datagrams, delayed
 * replies (one queue, bounded in bytes; replies may overtake each other),
 * duplicated replies.
 *
 * @module
 */

import type {
  FaultContext,
  UdpFaultStage,
  UdpSender,
} from "../serving/stages.ts";
import { DelayQueue } from "./_delay_queue.ts";
import { AccessList } from "../policy/access_list.ts";
import { DEFAULT_MAX_DELAYED } from "../serving/defaults.ts";
import type { FaultInjector } from "./fault_injector.ts";

export { DEFAULT_MAX_DELAYED };
/**
 * Bytes a delayed reply costs beyond its own, counted against the limit: an
 * estimate of its address, peer text and queue entry.
 */
export const DELAYED_OVERHEAD = 640;

interface DelayedReply {
  reply: Uint8Array;
  sender: UdpSender;
  peer: string;
  copies: number;
  cost: number;
}

/**
 * Makes the UDP stage of a server's faults.
 *
 * @param injector The faults and their generator.
 * @param context The server's counters, tracer and drop reporter.
 * @returns The stage.
 */
export function udpFaultStage(
  injector: FaultInjector,
  context: FaultContext,
): UdpFaultStage {
  const { stats, tracer } = context;
  const maxDelayed = context.maxDelayed ?? DEFAULT_MAX_DELAYED;
  let delayedBytes = 0;
  let sending = 0;
  let allSent: PromiseWithResolvers<void> | undefined;

  async function send(
    reply: Uint8Array,
    peer: string,
    sender: UdpSender,
    copies: number,
  ): Promise<void> {
    if (await sender.send(reply, copies) && copies === 2) {
      stats.countFault("duplicate");
      tracer?.event("duplicated reply to {peer}", { peer });
    }
  }

  const queue = new DelayQueue<DelayedReply>(async (entry) => {
    delayedBytes -= entry.cost;
    sending++;
    try {
      await send(entry.reply, entry.peer, entry.sender, entry.copies);
    } finally {
      sending--;
      if (sending === 0) allSent?.resolve();
    }
  });

  const aimed = injector.options.faultsFor === undefined
    ? undefined
    : AccessList.parse(injector.options.faultsFor);

  return {
    selects(hostname) {
      return aimed === undefined || aimed.allows(hostname);
    },
    drops(peer) {
      if (!injector.drops()) return false;
      stats.countFault("drop");
      tracer?.event("dropped datagram from {peer}", { peer });
      return true;
    },
    async deliver(reply, peer, sender) {
      const delay = injector.options.delay === undefined
        ? undefined
        : injector.delay();
      const copies = injector.duplicates() ? 2 : 1;
      if (delay === undefined) {
        await send(reply, peer, sender, copies);
        return;
      }
      const cost = reply.length + DELAYED_OVERHEAD;
      if (delayedBytes + cost > maxDelayed) {
        context.drop({
          reason: "delay queue full",
          template:
            "Dropped datagram from {peer}: {bytes} bytes of replies already wait out their delay (see {option})",
          properties: { peer, bytes: delayedBytes, option: "maxDelayed" },
        });
        return;
      }
      stats.countFault("delay");
      tracer?.event("delayed reply to {peer} by {ms} ms", { peer, ms: delay });
      delayedBytes += cost;
      queue.add({ reply: reply.slice(), sender, peer, copies, cost }, delay);
    },
    get pending() {
      return queue.size + sending;
    },
    async flush() {
      await queue.flush();
      while (sending > 0) {
        allSent = Promise.withResolvers<void>();
        await allSent.promise;
      }
    },
  };
}
