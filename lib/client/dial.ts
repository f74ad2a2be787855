// Copyright 2026 the echolab authors. MIT license.
/**
 * `dial`: reach an endpoint from here and say what happened, try by try, as
 * agnhost's `netexec /dial` does: what a probe from inside a pod needs.
 *
 * @module
 */

import { isResetError } from "../serving/errors.ts";
import { isLoopback } from "../serving/loopback.ts";
import { writeAll } from "../serving/write_all.ts";

/** Options of {@linkcode dial}. */
export interface DialOptions {
  /** `tcp` (a line, answered by a line) or `udp` (a datagram). */
  transport: "tcp" | "udp";
  /** Where to. */
  hostname: string;
  /** Its port. */
  port: number;
  /**
   * What to send: a line over TCP (`\n` added), a datagram over UDP.
   *
   * @default {"hello"}
   */
  message?: string;
  /**
   * Tries, one after another.
   *
   * @default {1}
   */
  count?: number;
  /**
   * Milliseconds each try may take.
   *
   * @default {1000}
   */
  timeout?: number;
}

/** What one try met. */
export interface DialResult {
  /**
   * `reply` (an answer came), `refused` (nothing listens: TCP's RST),
   * `timeout` (nothing came in time; UDP to a closed port ends so too, as
   * an unconnected socket hears no ICMP), `reset` (the connection was reset
   * after it opened), `closed` (it ended before an answer).
   */
  outcome: "reply" | "refused" | "timeout" | "reset" | "closed";
  /** The answer's text, without its newline, when one came. */
  reply?: string;
  /** Milliseconds from the send to the answer (or to the outcome). */
  rttMs: number;
}

/** The most tries one call makes. */
export const MAX_DIAL_COUNT = 100;
const MAX_REPLY = 65_536;
const decoder = new TextDecoder();

/**
 * Reaches an endpoint `count` times and says what each try met. Deno's
 * `--allow-net` must grant the target: a missing grant throws
 * `Deno.errors.NotCapable`, before anything is sent.
 *
 * @param options Where to, what, how often.
 * @returns One result per try.
 *
 * @example
 * ```ts
 * import { dial } from "./dial.ts";
 * import { serveTcp } from "../../tcp.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * await using server = serveTcp({ port: 0 });
 * const [result] = await dial({ transport: "tcp", hostname: "127.0.0.1", port: server.addr.port, message: "hi" });
 * strictEqual(result!.outcome, "reply");
 * strictEqual(result!.reply, "received msg: hi");
 * ```
 */
export async function dial(options: DialOptions): Promise<DialResult[]> {
  const count = options.count ?? 1;
  const timeout = options.timeout ?? 1000;
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_DIAL_COUNT) {
    throw new RangeError(
      `Cannot dial: count must be an integer from 1 to ${MAX_DIAL_COUNT}: got ${count}`,
    );
  }
  if (!Number.isSafeInteger(timeout) || timeout < 1 || timeout > 60_000) {
    throw new RangeError(
      `Cannot dial: timeout must be an integer from 1 to 60000: got ${timeout}`,
    );
  }
  const message = options.message ?? "hello";
  const results: DialResult[] = [];
  for (let i = 0; i < count; i++) {
    results.push(
      options.transport === "tcp"
        ? await dialTcp(options, message, timeout)
        : await dialUdp(options, message, timeout),
    );
  }
  return results;
}

async function dialTcp(
  options: DialOptions,
  message: string,
  timeout: number,
): Promise<DialResult> {
  const started = performance.now();
  const rtt = () => Math.round((performance.now() - started) * 1000) / 1000;
  let conn: Deno.TcpConn;
  let timedOut = false;
  const connecting = Deno.connect({
    hostname: options.hostname,
    port: options.port,
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Deno.errors.TimedOut("connect")),
      timeout,
    );
  });
  try {
    conn = await Promise.race([connecting, late]);
  } catch (error) {
    connecting.then((conn) => conn.close(), () => {});
    if (error instanceof Deno.errors.NotCapable) throw error;
    if (error instanceof Deno.errors.ConnectionRefused) {
      return { outcome: "refused", rttMs: rtt() };
    }
    return { outcome: "timeout", rttMs: rtt() };
  } finally {
    clearTimeout(timer);
  }
  const closer = setTimeout(() => {
    timedOut = true;
    conn.close();
  }, Math.max(0, timeout - (performance.now() - started)));
  try {
    await writeAll(conn, new TextEncoder().encode(`${message}\n`));
    const buffer = new Uint8Array(MAX_REPLY);
    let length = 0;
    while (length < buffer.length) {
      const read = await conn.read(buffer.subarray(length));
      if (read === null) {
        return length > 0
          ? { outcome: "reply", reply: text(buffer, length), rttMs: rtt() }
          : { outcome: "closed", rttMs: rtt() };
      }
      length += read;
      const newline = buffer.subarray(0, length).indexOf(10);
      if (newline !== -1) {
        return { outcome: "reply", reply: text(buffer, newline), rttMs: rtt() };
      }
    }
    return { outcome: "reply", reply: text(buffer, length), rttMs: rtt() };
  } catch (error) {
    if (timedOut) return { outcome: "timeout", rttMs: rtt() };
    if (isResetError(error)) return { outcome: "reset", rttMs: rtt() };
    return { outcome: "closed", rttMs: rtt() };
  } finally {
    clearTimeout(closer);
    try {
      conn.close();
    } catch {
      // Closed by the timeout.
    }
  }
}

async function dialUdp(
  options: DialOptions,
  message: string,
  timeout: number,
): Promise<DialResult> {
  const v6 = options.hostname.includes(":");
  // From the loopback to the loopback: no grant beyond the target's host.
  const loopback = isLoopback(options.hostname);
  const socket = Deno.listenDatagram({
    transport: "udp",
    hostname: loopback ? (v6 ? "::1" : "127.0.0.1") : (v6 ? "::" : "0.0.0.0"),
    port: 0,
  });
  const started = performance.now();
  const rtt = () => Math.round((performance.now() - started) * 1000) / 1000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    socket.close();
  }, timeout);
  try {
    await socket.send(new TextEncoder().encode(message), {
      transport: "udp",
      hostname: options.hostname,
      port: options.port,
    });
    const [data] = await socket.receive(new Uint8Array(MAX_REPLY));
    const end = data.at(-1) === 10 ? data.length - 1 : data.length;
    return { outcome: "reply", reply: text(data, end), rttMs: rtt() };
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    if (timedOut) return { outcome: "timeout", rttMs: rtt() };
    if (error instanceof Deno.errors.ConnectionRefused) {
      return { outcome: "refused", rttMs: rtt() };
    }
    return { outcome: "closed", rttMs: rtt() };
  } finally {
    clearTimeout(timer);
    try {
      socket.close();
    } catch {
      // Closed by the timeout.
    }
  }
}

function text(bytes: Uint8Array, end: number): string {
  const stop = end > 0 && bytes[end - 1] === 13 ? end - 1 : end;
  return decoder.decode(bytes.subarray(0, stop));
}
