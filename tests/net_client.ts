// Copyright 2026 the echolab authors. MIT license.
/**
 * Real clients for the tests and the benchmarks: plain `Deno.connect` and
 * `Deno.listenDatagram` with helpers to read exactly what is expected, a
 * free port, the reply prefix and a timeout race. The one helper module of
 * `tests/` and `bench/`.
 *
 * @module
 */

import { connect, type Socket } from "node:net";
import { DEFAULT_PREFIX } from "../lib/serving/defaults.ts";
import { writeAll } from "../lib/serving/write_all.ts";

export { writeAll };

export const encoder = new TextEncoder();
export const decoder = new TextDecoder();

/** The default reply prefix, as the seed answers. */
export const REPLY = DEFAULT_PREFIX;

/** A port nobody listens on right now (bound and released at once). */
export function freePort(transport: "tcp" | "udp" = "tcp"): number {
  if (transport === "tcp") {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    return listener.addr.port;
  }
  const socket = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  const port = (socket.addr as Deno.NetAddr).port;
  socket.close();
  return port;
}

/**
 * Fills `buffer` from the connection; returns how many bytes came before
 * the stream ended (the buffer's length unless it ended early).
 */
export async function readExactly(
  conn: { read(buffer: Uint8Array): Promise<number | null> },
  buffer: Uint8Array,
): Promise<number> {
  let offset = 0;
  while (offset < buffer.length) {
    const read = await conn.read(buffer.subarray(offset));
    if (read === null) break;
    offset += read;
  }
  return offset;
}

/**
 * Settles as `promise` does, or rejects with `message` after `milliseconds`;
 * the timer never outlives the race.
 */
export async function withTimeout<T>(
  promise: Promise<T>,
  milliseconds: number,
  message: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${message} within ${milliseconds} ms`)),
      milliseconds,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Concatenates byte arrays. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const result = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    result.set(part, offset);
    offset += part.length;
  }
  return result;
}

/** Reads until `length` bytes arrived or the stream ended. */
export async function readBytes(
  conn: Deno.Conn,
  length: number,
): Promise<Uint8Array> {
  const result = new Uint8Array(length);
  return result.subarray(0, await readExactly(conn, result));
}

/** Reads until the peer closes; `null` marks a reset. */
export async function readToEnd(conn: Deno.Conn): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const buffer = new Uint8Array(65_536);
  while (true) {
    const read = await conn.read(buffer);
    if (read === null) return concat(parts);
    parts.push(buffer.slice(0, read));
  }
}

/**
 * Sends one line and reads its echo, which with the default prefix is
 * `received msg: <text>\n`.
 */
export async function ping(conn: Deno.Conn, text: string): Promise<string> {
  await writeAll(conn, encoder.encode(`${text}\n`));
  return await readText(conn, REPLY.length + text.length + 1);
}

/** Reads text of the given length. */
export async function readText(conn: Deno.Conn, length: number) {
  return decoder.decode(await readBytes(conn, length));
}

/** Opens a UDP client socket on loopback. */
export function udpClient(hostname = "127.0.0.1"): Deno.DatagramConn {
  return Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
}

/**
 * Waits for one datagram, or `undefined` after `milliseconds` (the socket
 * is then closed to end the pending receive, so pass a socket you are done
 * with, or use a fresh one).
 */
export async function receiveWithin(
  socket: Deno.DatagramConn,
  milliseconds: number,
): Promise<Uint8Array | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), milliseconds);
  });
  const receive = socket.receive().then(([data]) => data, () => undefined);
  const result = await Promise.race([receive, timeout]);
  clearTimeout(timer);
  if (result === undefined) {
    socket.close();
    await receive;
  }
  return result;
}

/** Sends a datagram and waits for the reply. */
export async function exchange(
  socket: Deno.DatagramConn,
  to: Deno.NetAddr,
  data: Uint8Array | string,
): Promise<Uint8Array> {
  await socket.send(typeof data === "string" ? encoder.encode(data) : data, to);
  const [reply] = await socket.receive(new Uint8Array(65_536));
  return reply.slice();
}

/** Resolves after `milliseconds`. */
export function delay(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

/**
 * A TCP client that can end with a real RST (Deno's own `Conn` has no
 * SO_LINGER): Deno's `node:net` socket and its `resetAndDestroy()`.
 */
export class ResettableClient {
  #socket: Socket;
  #received: Uint8Array[] = [];
  #waiters: (() => void)[] = [];
  #closed: Promise<void>;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on("data", (data: Uint8Array) => {
      this.#received.push(new Uint8Array(data));
      for (const wake of this.#waiters.splice(0)) wake();
    });
    socket.on("error", () => {});
    this.#closed = new Promise((resolve) =>
      socket.once("close", () => resolve())
    );
  }

  /** Connects to a TCP server. */
  static async connect(address: Deno.NetAddr): Promise<ResettableClient> {
    const socket = connect(address.port, address.hostname);
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("error", reject);
    });
    return new ResettableClient(socket);
  }

  /** Sends text. */
  write(text: string): Promise<void> {
    return new Promise((resolve) => this.#socket.write(text, () => resolve()));
  }

  /** Waits until at least `length` bytes were received in all. */
  async received(length: number): Promise<string> {
    while (
      this.#received.reduce((sum, part) => sum + part.length, 0) < length
    ) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    return decoder.decode(concat(this.#received));
  }

  /** Ends the connection with RST and waits until the socket is closed. */
  async reset(): Promise<void> {
    this.#socket.resetAndDestroy();
    await this.#closed;
  }
}

/**
 * A GET with a `Host` header of the test's choosing (fetch sets its own),
 * as a browser sent there by a rebound name would ask: the status line and
 * the body of the answer.
 */
export async function getWithHost(
  port: number,
  path: string,
  host: string,
): Promise<[status: string, body: string]> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(
    conn,
    encoder.encode(
      `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
    ),
  );
  const answer = decoder.decode(await readToEnd(conn));
  const split = answer.indexOf("\r\n\r\n");
  return [answer.slice(0, answer.indexOf("\r\n")), answer.slice(split + 4)];
}
