// Copyright 2026 the echolab authors. MIT license.
/**
 * The bench's load generator, one process of several: `deno run
 * --allow-net=127.0.0.1 --unstable-net bench/load.ts '<json>'` prints one JSON
 * result. Every payload is unique and every reply is checked byte for byte; a
 * wrong or missing reply is counted, never ignored.
 *
 * @module
 */

import { formatProxyHeader } from "../lib/proxy/proxy_header.ts";
import { withDeadline } from "../lib/serving/deadline.ts";
import { QuicStreamConn } from "../lib/serving/quic_stream.ts";
import { encoder, readExactly, REPLY, writeAll } from "../tests/net_client.ts";

const PREFIX = encoder.encode(REPLY);

/** What one load process is asked to do. */
export interface LoadTask {
  /** The scenario. */
  kind:
    | "throughput"
    | "churn"
    | "udp"
    | "latency"
    | "idle"
    | "quic-datagrams";
  /** Server port (TCP or UDP). */
  port: number;
  /** Connections (or UDP sockets) this process opens. */
  connections: number;
  /** Requests in flight per connection or socket. */
  window: number;
  /** Bytes per line, newline included (TCP), or per datagram (UDP). */
  size: number;
  /** How long to run, in milliseconds. */
  duration: number;
  /** Distinguishes the payloads of concurrent load processes. */
  id: number;
  /**
   * The reply prefix the server uses, `{peer}` standing for each
   * connection's own address (throughput only).
   *
   * @default {"received msg: "}
   */
  prefix?: string;
  /** Send a PROXY protocol v2 header first on each connection (throughput). */
  proxy?: boolean;
  /**
   * Talk TLS, trusting this PEM certificate (throughput and churn); each
   * connection's handshake is done before its first line.
   */
  tls?: string;
  /**
   * Talk QUIC (throughput: every "connection" is a stream of one QUIC
   * connection; quic-datagrams: each of `connections` QUIC connections),
   * trusting this PEM certificate.
   */
  quic?: string;
}

/** One QUIC stream read and written as a connection is. */
function laneOf(stream: Deno.QuicBidirectionalStream): QuicStreamConn {
  const none = { transport: "udp" as const, hostname: "", port: 0 };
  return new QuicStreamConn(stream.readable, stream.writable, {
    remote: none,
    local: none,
  });
}

async function connectQuic(task: LoadTask): Promise<Deno.QuicConn> {
  const conn = await Deno.connectQuic({
    hostname: "127.0.0.1",
    port: task.port,
    alpnProtocols: ["echolab"],
    caCerts: [task.quic!],
    serverName: "localhost",
  });
  await conn.handshake;
  return conn;
}

/** A connection to the server: plain, or TLS with the handshake done. */
async function connect(
  task: LoadTask,
): Promise<Deno.Conn<Deno.NetAddr>> {
  const address = { hostname: "127.0.0.1", port: task.port };
  if (task.tls === undefined) {
    const conn = await Deno.connect(address);
    conn.setNoDelay(true);
    return conn;
  }
  const conn = await Deno.connectTls({ ...address, caCerts: [task.tls] });
  await conn.handshake();
  return conn;
}

/** What one load process measured. */
export interface LoadResult {
  /** Requests answered correctly. */
  ok: number;
  /** Replies that did not match. */
  wrong: number;
  /** Requests never answered. */
  lost: number;
  /** Seconds measured. */
  seconds: number;
  /** Round-trip times in ms (latency only). */
  rtts?: number[];
}

/** A unique payload of exactly `size` bytes (the newline included for TCP). */
function payload(
  id: number,
  conn: number,
  seq: number,
  size: number,
  newline: boolean,
) {
  const body = `${id.toString(36)}${conn.toString(36)}${seq.toString(36)}`;
  const length = newline ? size - 1 : size;
  const text = body.length >= length
    ? body.slice(body.length - length)
    : body.padStart(length, ".");
  return encoder.encode(newline ? `${text}\n` : text);
}

function replyFor(line: Uint8Array): Uint8Array {
  const reply = new Uint8Array(
    PREFIX.length + line.length + (line.at(-1) === 10 ? 0 : 1),
  );
  reply.set(PREFIX);
  reply.set(line, PREFIX.length);
  reply[reply.length - 1] = 10;
  return reply;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Writes a unique line into `target` at `offset`: `size - 1` bytes of
 * base-36 digits of (id, conn, seq), then `\n`. No strings, no allocation.
 */
function fillLine(
  target: Uint8Array,
  offset: number,
  size: number,
  id: number,
  conn: number,
  seq: number,
): void {
  let value = seq;
  let at = offset + size - 2;
  // seq, least significant digit last
  const stop = offset + 4;
  while (at >= stop) {
    const digit = value % 36;
    target[at--] = digit < 10 ? 48 + digit : 87 + digit;
    value = Math.floor(value / 36);
  }
  target[offset] = 97 + (id % 26);
  target[offset + 1] = 97 + (conn % 26);
  target[offset + 2] = 97 + (Math.floor(conn / 26) % 26);
  target[offset + 3] = 45; // "-"
  target[offset + size - 1] = 10;
}

/** Pipelines `window` lines per batch on each connection until time is up. */
async function throughput(
  task: LoadTask,
  latency: boolean,
): Promise<LoadResult> {
  const result: LoadResult = {
    ok: 0,
    wrong: 0,
    lost: 0,
    seconds: 0,
    rtts: latency ? [] : undefined,
  };
  const quic = task.quic === undefined ? undefined : await connectQuic(task);
  const conns = await Promise.all(
    Array.from(
      { length: task.connections },
      async () =>
        quic === undefined
          ? await connect(task)
          : laneOf(await quic.createBidirectionalStream()),
    ),
  );
  for (const conn of conns) {
    if (task.proxy) {
      await writeAll(
        conn,
        formatProxyHeader(2, {
          source: conn.localAddr,
          destination: conn.remoteAddr,
        }),
      );
    }
  }
  const started = performance.now();
  const deadline = started + task.duration;
  const size = task.size;
  await Promise.all(conns.map(async (conn, c) => {
    let seq = 0;
    const prefix = task.prefix === undefined ? PREFIX : encoder.encode(
      task.prefix.replace("{peer}", `127.0.0.1:${conn.localAddr.port}`),
    );
    const replySize = prefix.length + size;
    const request = new Uint8Array(task.window * size);
    const expected = new Uint8Array(task.window * replySize);
    const reply = new Uint8Array(expected.length);
    for (let i = 0; i < task.window; i++) expected.set(prefix, i * replySize);
    try {
      while (performance.now() < deadline) {
        for (let i = 0; i < task.window; i++) {
          fillLine(request, i * size, size, task.id, c, seq++);
          expected.set(
            request.subarray(i * size, (i + 1) * size),
            i * replySize + prefix.length,
          );
        }
        const sentAt = performance.now();
        await writeAll(conn, request);
        const got = await readExactly(conn, reply);
        if (latency) result.rtts!.push(performance.now() - sentAt);
        if (got < expected.length) {
          result.lost += task.window;
          break;
        }
        if (equal(reply, expected)) result.ok += task.window;
        else result.wrong += task.window;
      }
    } catch {
      result.lost += task.window;
    } finally {
      conn.close();
    }
  }));
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

/** Connect, one line, close, as fast as `connections` loops can. */
async function churn(task: LoadTask): Promise<LoadResult> {
  const result: LoadResult = { ok: 0, wrong: 0, lost: 0, seconds: 0 };
  const started = performance.now();
  const deadline = started + task.duration;
  await Promise.all(Array.from({ length: task.connections }, async (_, c) => {
    let seq = 0;
    while (performance.now() < deadline) {
      const line = payload(task.id, c, seq++, task.size, true);
      const expected = replyFor(line);
      try {
        const conn = await connect(task);
        try {
          await writeAll(conn, line);
          const reply = new Uint8Array(expected.length);
          const got = await readExactly(conn, reply);
          if (got < expected.length) result.lost++;
          else if (equal(reply, expected)) result.ok++;
          else result.wrong++;
        } finally {
          conn.close();
        }
      } catch {
        result.lost++;
      }
    }
  }));
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

/**
 * Keeps `window` datagrams in flight per socket. A watchdog (not a timer per
 * datagram) counts the window as lost after 200 ms without a reply.
 */
async function udp(task: LoadTask): Promise<LoadResult> {
  const result: LoadResult = { ok: 0, wrong: 0, lost: 0, seconds: 0 };
  const server = {
    transport: "udp" as const,
    hostname: "127.0.0.1",
    port: task.port,
  };
  const started = performance.now();
  const deadline = started + task.duration;
  await Promise.all(Array.from({ length: task.connections }, async () => {
    const socket = Deno.listenDatagram({
      transport: "udp",
      hostname: "127.0.0.1",
      port: 0,
    });
    // Outstanding payloads, keyed by their 5 bytes as a number.
    const outstanding = new Set<number>();
    let seq = 0;
    let lastReply = performance.now();
    let done = false;
    const datagram = new Uint8Array(task.size);
    const send = () => {
      // Unique per socket (each has its own port): seq in base 36.
      let value = seq++;
      for (let i = task.size - 1; i >= 0; i--) {
        const digit = value % 36;
        datagram[i] = digit < 10 ? 48 + digit : 87 + digit;
        value = Math.floor(value / 36);
      }
      outstanding.add(keyOf(datagram, 0, task.size));
      return socket.send(datagram.subarray(0, task.size), server);
    };
    const watchdog = setInterval(async () => {
      if (performance.now() - lastReply < 200) return;
      result.lost += outstanding.size;
      outstanding.clear();
      lastReply = performance.now();
      if (performance.now() >= deadline) {
        done = true;
        socket.close();
      } else {
        for (let i = 0; i < task.window; i++) await send();
      }
    }, 50);
    try {
      for (let i = 0; i < task.window; i++) await send();
      const buffer = new Uint8Array(2048);
      while (!done) {
        const [reply] = await socket.receive(buffer);
        lastReply = performance.now();
        const key = reply.length === PREFIX.length + task.size + 1
          ? keyOf(reply, PREFIX.length, task.size)
          : -1;
        if (outstanding.delete(key)) result.ok++;
        else result.wrong++;
        if (performance.now() < deadline) send().catch(() => {});
        else if (outstanding.size === 0) break;
      }
    } catch {
      // Closed by the watchdog at the end.
    } finally {
      clearInterval(watchdog);
      if (!done) socket.close();
    }
  }));
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

function keyOf(bytes: Uint8Array, offset: number, length: number): number {
  let key = 0;
  for (let i = 0; i < length; i++) key = key * 256 + bytes[offset + i]!;
  return key;
}

/**
 * Keeps `window` QUIC datagrams in flight on each of `connections` QUIC
 * connections; a reply not back within 200 ms is lost.
 */
async function quicDatagrams(task: LoadTask): Promise<LoadResult> {
  const result: LoadResult = { ok: 0, wrong: 0, lost: 0, seconds: 0 };
  const started = performance.now();
  const deadline = started + task.duration;
  await Promise.all(Array.from({ length: task.connections }, async (_, c) => {
    const conn = await connectQuic(task);
    const outstanding = new Set<number>();
    let seq = 0;
    const send = () => {
      const datagram = new Uint8Array(task.size);
      let value = seq++ * 36 + (c % 36);
      for (let i = task.size - 1; i >= 0; i--) {
        const digit = value % 36;
        datagram[i] = digit < 10 ? 48 + digit : 87 + digit;
        value = Math.floor(value / 36);
      }
      outstanding.add(keyOf(datagram, 0, task.size));
      return conn.sendDatagram(datagram);
    };
    try {
      while (performance.now() < deadline) {
        for (let i = 0; i < task.window; i++) await send();
        while (outstanding.size > 0) {
          const reply = await withDeadline(conn.readDatagram(), 200);
          if (reply === "late") {
            result.lost += outstanding.size;
            outstanding.clear();
            break;
          }
          const key = reply.length === PREFIX.length + task.size + 1
            ? keyOf(reply, PREFIX.length, task.size)
            : -1;
          if (outstanding.delete(key)) result.ok++;
          else result.wrong++;
        }
      }
    } finally {
      conn.close({ closeCode: 0, reason: "done" });
      await Promise.race([
        conn.closed.catch(() => {}),
        new Promise((resolve) => setTimeout(resolve, 100)),
      ]);
    }
  }));
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

/** Opens and holds connections until stdin closes; prints "ready" when held. */
async function idle(task: LoadTask): Promise<LoadResult> {
  const conns: Deno.Conn[] = [];
  let lost = 0;
  for (let i = 0; i < task.connections; i += 500) {
    const batch = await Promise.allSettled(
      Array.from(
        { length: Math.min(500, task.connections - i) },
        () => Deno.connect({ hostname: "127.0.0.1", port: task.port }),
      ),
    );
    for (const settled of batch) {
      if (settled.status === "fulfilled") conns.push(settled.value);
      else lost++;
    }
  }
  // With a size, each connection is answered once before it is held.
  if (task.size > 0) {
    const answered = await Promise.all(conns.map(async (conn, c) => {
      const line = payload(task.id, c, 0, task.size, true);
      const expected = replyFor(line);
      try {
        await writeAll(conn, line);
        const reply = new Uint8Array(expected.length);
        return (await readExactly(conn, reply)) === expected.length &&
          equal(reply, expected);
      } catch {
        return false;
      }
    }));
    lost += answered.filter((ok) => !ok).length;
  }
  console.log(JSON.stringify({ ready: conns.length, lost }));
  for await (const _ of Deno.stdin.readable) { /* wait for the bench */ }
  for (const conn of conns) conn.close();
  return { ok: conns.length, wrong: 0, lost, seconds: 0 };
}

/**
 * A shell line that raises the open-file limit for 10,000 connections (to
 * the hard limit when 30,000 is above it), for the processes of the bench.
 */
export const RAISE_FILE_LIMIT =
  "ulimit -n 30000 2>/dev/null || ulimit -n $(ulimit -Hn)";

/** How many connections {@linkcode withHeldConnections} holds. */
export interface HeldConnections {
  /** Connections open. */
  ready: number;
  /** Connections that failed, or whose one reply was wrong or missing. */
  lost: number;
}

/**
 * Opens `task.connections` connections to `task.port` in a load process of
 * its own (each answered once first when `task.size` > 0), runs `whileHeld`
 * while they are held, then closes them.
 *
 * @returns What `whileHeld` returned.
 */
export async function withHeldConnections<T>(
  task: { port: number; connections: number; size: number },
  whileHeld: (held: HeldConnections) => Promise<T>,
): Promise<T> {
  const child = new Deno.Command("bash", {
    args: [
      "-c",
      `${RAISE_FILE_LIMIT}; exec "$0" "$@"`,
      Deno.execPath(),
      "run",
      "--allow-net=127.0.0.1",
      "--unstable-net",
      new URL(import.meta.url).pathname,
      JSON.stringify({ kind: "idle", window: 0, duration: 0, id: 0, ...task }),
    ],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  try {
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    return await whileHeld(JSON.parse(text.split("\n")[0]!));
  } finally {
    await child.stdin.close();
    while (!(await reader.read()).done) { /* drain */ }
    await child.status;
  }
}

if (import.meta.main) {
  const task = JSON.parse(Deno.args[0]!) as LoadTask;
  const result = task.kind === "throughput"
    ? await throughput(task, false)
    : task.kind === "latency"
    ? await throughput(task, true)
    : task.kind === "churn"
    ? await churn(task)
    : task.kind === "udp"
    ? await udp(task)
    : task.kind === "quic-datagrams"
    ? await quicDatagrams(task)
    : await idle(task);
  console.log(JSON.stringify(result));
}
