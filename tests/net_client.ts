// Copyright 2026 the echolab authors. MIT license.
/**
 * Real clients for the tests: plain `Deno.connect` and `Deno.listenDatagram`
 * with helpers to read exactly what is expected.
 *
 * @module
 */

import { connect, type Socket } from "node:net";

export const encoder = new TextEncoder();
export const decoder = new TextDecoder();

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

/** Writes all of `bytes`. */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array) {
  let written = 0;
  while (written < bytes.length) {
    written += await conn.write(bytes.subarray(written));
  }
}

/** Reads until `length` bytes arrived or the stream ended. */
export async function readBytes(
  conn: Deno.Conn,
  length: number,
): Promise<Uint8Array> {
  const result = new Uint8Array(length);
  let offset = 0;
  while (offset < length) {
    const read = await conn.read(result.subarray(offset));
    if (read === null) break;
    offset += read;
  }
  return result.subarray(0, offset);
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
  return await readText(conn, "received msg: ".length + text.length + 1);
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
