// Copyright 2026 the echolab authors. MIT license.
/**
 * The lab's buttons: the seed's sessions replayed by echolab's own client,
 * from the server, to echolab's own ports only.
 *
 * @module
 */

import { type ClientOptions, sendMessages } from "../client/client.ts";
import { errorMessage } from "../serving/errors.ts";
import type { NewLabEvent } from "./lab_events.ts";
import type { LabPorts } from "./_lab_capture.ts";

/** Where the replays go: the lab's servers and closed ports. */
export interface ReplayTargets extends LabPorts {
  /** The QUIC server's certificate, trusted by the QUIC replay. */
  quicCert?: string;
  /** The UDP server's buffer, in bytes (the seed's: 5). */
  bufferSize: number;
  /** The TCP server's idle timeout in milliseconds (0: none). */
  timeout: number;
}

/** A replay the page offers. */
export interface Scenario {
  /** Its name in the URL (`tcp-hello`). */
  name: string;
  /** Its button's words. */
  label: string;
}

/** The most characters the free box sends. */
export const MAX_FREE_TEXT = 512;
/**
 * The longest idle timeout, in milliseconds, the TCP replay waits for; with
 * a longer one (or none) it closes by itself after its lines.
 */
export const MAX_REPLAY_WAIT = 60_000;

/** Whether the TCP replay waits for the server to close, as nc did. */
function waits(targets: ReplayTargets): boolean {
  return targets.timeout > 0 && targets.timeout <= MAX_REPLAY_WAIT;
}

/** The replays these servers allow, in the page's order. */
export function scenarios(targets: ReplayTargets): Scenario[] {
  const list: Scenario[] = [];
  if (targets.tcp !== undefined) {
    list.push({
      name: "tcp-hello",
      label: waits(targets)
        ? "TCP: hello, world, then wait for the timeout"
        : "TCP: hello, world, then close",
    });
  }
  if (targets.udp !== undefined) {
    list.push({
      name: "udp-hello",
      label: `UDP: hello world into a ${targets.bufferSize}-byte buffer`,
    });
  }
  list.push({ name: "udp-closed", label: "UDP to a closed port" });
  list.push({ name: "tcp-closed", label: "TCP to a closed port" });
  if (targets.quic !== undefined) {
    list.push({ name: "quic-hello", label: "QUIC: hello, world on a stream" });
  }
  return list;
}

/**
 * Runs one replay; notes go to `note` (its start and how it ended).
 *
 * @returns `false` for a name these servers do not offer.
 */
export async function replay(
  name: string,
  targets: ReplayTargets,
  note: (event: NewLabEvent) => void,
): Promise<boolean> {
  const scenario = scenarios(targets).find((entry) => entry.name === name);
  if (scenario === undefined) return false;
  const say = (text: string) =>
    note({
      type: "note",
      text,
      at: performance.timeOrigin + performance.now(),
    });
  say(`Replay: ${scenario.label}`);
  const base = { hostname: targets.hostname };
  let outcome: string;
  switch (name) {
    case "tcp-hello":
      outcome = await run(["hello", "world"], {
        ...base,
        transport: "tcp",
        port: targets.tcp!,
        interval: 500,
        // As nc did in the seed: the client keeps the connection open and
        // the server's idle timeout closes it, the server first.
        end: waits(targets) ? "wait" : "half-close",
      });
      break;
    case "udp-hello":
      outcome = await run(["hello world"], {
        ...base,
        transport: "udp",
        port: targets.udp!,
        wait: 500,
      });
      break;
    case "udp-closed":
      outcome = await run(["hello"], {
        ...base,
        transport: "udp",
        port: targets.closedUdp,
        wait: 500,
      });
      break;
    case "tcp-closed":
      outcome = await run(["hello"], {
        ...base,
        transport: "tcp",
        port: targets.closedTcp,
      });
      break;
    default:
      outcome = await run(["hello", "world"], {
        ...base,
        transport: "quic",
        port: targets.quic!,
        caCerts: targets.quicCert === undefined ? [] : [targets.quicCert],
        interval: 200,
      });
  }
  say(`${scenario.label}: ${outcome}`);
  return true;
}

/**
 * Sends what the free box holds: a line over TCP or on a QUIC stream, or
 * one UDP datagram.
 */
export async function sendFree(
  transport: "tcp" | "udp" | "quic",
  text: string,
  targets: ReplayTargets,
  note: (event: NewLabEvent) => void,
): Promise<void> {
  const port = targets[transport];
  const at = () => performance.timeOrigin + performance.now();
  note({ type: "note", text: `Send over ${transport}: ${text}`, at: at() });
  const outcome = await run([text], {
    transport,
    hostname: targets.hostname,
    port: port!,
    wait: 500,
    caCerts: transport === "quic" && targets.quicCert !== undefined
      ? [targets.quicCert]
      : undefined,
  });
  note({ type: "note", text: `Send over ${transport}: ${outcome}`, at: at() });
}

/** Sends, and says in words what came back. */
async function run(
  messages: string[],
  options: ClientOptions,
): Promise<string> {
  const replies: string[] = [];
  try {
    const summary = await sendMessages(messages, options, (event) => {
      if (event.reply !== undefined) {
        replies.push(new TextDecoder().decode(event.reply));
      }
    });
    const got = replies.length === 0
      ? "no reply"
      : `${replies.length} ${replies.length === 1 ? "reply" : "replies"}: ${
        replies.map((reply) => JSON.stringify(reply)).join(", ")
      }`;
    if (options.transport !== "udp" || summary.lost === 0) return got;
    // A lost datagram: nothing says so but the silence.
    const silence = `within ${options.wait} ms (UDP does not say why)`;
    return replies.length === 0
      ? `no reply ${silence}`
      : `${got}; ${summary.lost} more without a reply ${silence}`;
  } catch (error) {
    return `the client failed: ${errorMessage(error)}`;
  }
}
