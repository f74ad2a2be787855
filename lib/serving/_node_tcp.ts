// Copyright 2026 the echolab authors. MIT license.
/**
 * TCP through `node:net`, for servers that may reset a connection: an RST
 * alone, with no FIN before it, which `Deno.TcpConn` cannot send (its
 * `close()` shuts the write side down first) and `socket.resetAndDestroy()`
 * can. Loaded only by `serveResettableTcp`; `node:net` binds asynchronously,
 * hence an awaited start.
 *
 * @module
 */

import { createServer, type Server, type Socket } from "node:net";
import type { ByteStream } from "./stages.ts";

/** Bytes held from a socket before it is paused. */
const HIGH_WATER = 65_536;

/** A `node:net` socket as the connection pipeline reads and writes it. */
export class NodeTcpConn implements ByteStream {
  /** The client's end. */
  readonly remoteAddr: Deno.NetAddr;
  /** The server's end. */
  readonly localAddr: Deno.NetAddr;
  #socket: Socket;
  #chunks: Uint8Array[] = [];
  #held = 0;
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;
  #closed = false;

  /**
   * Takes over an accepted socket.
   *
   * @param socket The socket.
   */
  constructor(socket: Socket) {
    this.#socket = socket;
    this.remoteAddr = address(socket.remoteAddress, socket.remotePort);
    this.localAddr = address(socket.localAddress, socket.localPort);
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#held += chunk.length;
      if (this.#held >= HIGH_WATER) socket.pause();
      this.#notify();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("error", (error: Error & { code?: string }) => {
      this.#error ??= denoError(error);
      this.#notify();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#notify();
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /**
   * Reads what came, waiting for it.
   *
   * @param buffer Where to put it.
   * @returns Bytes read, or `null` at the end of the stream.
   */
  async read(buffer: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#closed) throw new Deno.errors.BadResource("closed");
      if (this.#error !== undefined) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    let copied = 0;
    while (copied < buffer.length && this.#chunks.length > 0) {
      const chunk = this.#chunks[0]!;
      const take = Math.min(chunk.length, buffer.length - copied);
      buffer.set(chunk.subarray(0, take), copied);
      copied += take;
      if (take === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(take);
    }
    this.#held -= copied;
    if (this.#held < HIGH_WATER && this.#socket.isPaused()) {
      this.#socket.resume();
    }
    return copied;
  }

  /**
   * Writes bytes; settles once the socket took them (it copies them).
   *
   * @param bytes The bytes.
   * @returns How many were written: all of them.
   */
  write(bytes: Uint8Array): Promise<number> {
    if (this.#closed) {
      return Promise.reject(new Deno.errors.BadResource("closed"));
    }
    if (this.#error !== undefined) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      this.#socket.write(bytes, (error) => {
        if (error) reject(denoError(error));
        else resolve(bytes.length);
      });
    });
  }

  /**
   * Shuts down the sending side (a FIN).
   *
   * @returns Once the socket ended its side.
   */
  closeWrite(): Promise<void> {
    return new Promise((resolve) => this.#socket.end(() => resolve()));
  }

  /**
   * Turns Nagle's algorithm off or on.
   *
   * @param noDelay `true` to send every write at once.
   */
  setNoDelay(noDelay = true): void {
    this.#socket.setNoDelay(noDelay);
  }

  /** Closes: a FIN, as `Deno.TcpConn.close()` does. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#notify();
    this.#socket.destroy();
  }

  /** Resets: an RST alone, the connection gone at once. */
  reset(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#notify();
    this.#socket.resetAndDestroy();
  }
}

/** A `node:net` server as the accept loop takes connections from it. */
export class NodeTcpListener {
  /** Where it listens. */
  readonly addr: Deno.NetAddr;
  #server: Server;
  #waiting: Socket[] = [];
  #accepting: PromiseWithResolvers<Socket> | undefined;
  #closed = false;

  constructor(server: Server, addr: Deno.NetAddr) {
    this.#server = server;
    this.addr = addr;
    server.on("connection", (socket: Socket) => {
      if (this.#accepting !== undefined) {
        const accepting = this.#accepting;
        this.#accepting = undefined;
        accepting.resolve(socket);
      } else this.#waiting.push(socket);
    });
  }

  /**
   * The next connection.
   *
   * @returns It; rejects with `BadResource` once the listener is closed.
   */
  async accept(): Promise<NodeTcpConn> {
    if (this.#closed) throw new Deno.errors.BadResource("listener closed");
    const waiting = this.#waiting.shift();
    if (waiting !== undefined) return new NodeTcpConn(waiting);
    this.#accepting = Promise.withResolvers<Socket>();
    return new NodeTcpConn(await this.#accepting.promise);
  }

  /** Stops listening; connections already accepted live on. */
  close(): void {
    if (this.#closed) throw new Deno.errors.BadResource("listener closed");
    this.#closed = true;
    this.#server.close();
    for (const socket of this.#waiting.splice(0)) socket.destroy();
    this.#accepting?.reject(new Deno.errors.BadResource("listener closed"));
    this.#accepting = undefined;
  }
}

/**
 * Listens with `node:net`.
 *
 * @param hostname The address to bind.
 * @param port The port; 0 picks a free one.
 * @returns The listener, once bound; rejects as `Deno.listen` throws (a
 * port in use: `AddrInUse`).
 */
export function listenNodeTcp(
  hostname: string,
  port: number,
): Promise<NodeTcpListener> {
  const server = createServer({ pauseOnConnect: false });
  return new Promise((resolve, reject) => {
    server.once(
      "error",
      (error: Error & { code?: string }) => reject(denoError(error)),
    );
    server.listen({ host: hostname, port }, () => {
      const bound = server.address() as { address: string; port: number };
      resolve(
        new NodeTcpListener(server, address(bound.address, bound.port)),
      );
    });
  });
}

function address(
  hostname: string | undefined,
  port: number | undefined,
): Deno.NetAddr {
  return {
    transport: "tcp",
    hostname: (hostname ?? "").replace(/^::ffff:(?=\d+\.)/, ""),
    port: port ?? 0,
  };
}

/** A `node:net` error as the Deno error the pipeline knows. */
function denoError(error: Error & { code?: string }): Error {
  switch (error.code) {
    case "ECONNRESET":
      return new Deno.errors.ConnectionReset(error.message);
    case "EPIPE":
      return new Deno.errors.BrokenPipe(error.message);
    case "EADDRINUSE":
      return new Deno.errors.AddrInUse(error.message);
    case "EACCES":
      return new Deno.errors.PermissionDenied(error.message);
    default:
      return error;
  }
}
