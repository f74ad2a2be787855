// Copyright 2026 the echolab authors. MIT license.
/**
 * What the TCP and UDP clients share: the empty totals, the pause between
 * messages.
 *
 * @module
 */

import type { ClientSummary } from "./client.ts";

/** Encodes messages. */
export const encoder = new TextEncoder();

/**
 * Waits.
 *
 * @param milliseconds How long.
 * @returns After the time.
 */
export function delay(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

/**
 * Totals with nothing counted yet.
 *
 * @returns A fresh summary.
 */
export function emptySummary(): ClientSummary {
  return {
    sent: 0,
    answered: 0,
    lost: 0,
    otherSource: 0,
    late: 0,
    unexpected: 0,
    duplicates: 0,
    reordered: 0,
    bytesOut: 0,
    bytesIn: 0,
    rtts: [],
  };
}
