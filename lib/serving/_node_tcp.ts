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
import { denoError, SocketStream } from "./socket_stream.ts";

/** A `node:net` socket as the connection pipeline reads and writes it. */
export class NodeTcpConn extends SocketStream {
  /** The client's end. */
  readonly remoteAddr: Deno.NetAddr;
  /** The server's end. */
  readonly localAddr: Deno.NetAddr;

  /**
   * Takes over an accepted socket.
   *
   * @param socket The socket.
   */
  constructor(socket: Socket) {
    super(socket);
    this.remoteAddr = address(socket.remoteAddress, socket.remotePort);
    this.localAddr = address(socket.localAddress, socket.localPort);
  }

  /**
   * Turns Nagle's algorithm off or on.
   *
   * @param noDelay `true` to send every write at once.
   */
  setNoDelay(noDelay = true): void {
    this.socket.setNoDelay(noDelay);
  }

  /** Closes: a FIN, as `Deno.TcpConn.close()` does. */
  close(): void {
    if (this.markClosed()) this.socket.destroy();
  }

  /** Resets: an RST alone, the connection gone at once. */
  reset(): void {
    if (this.markClosed()) this.socket.resetAndDestroy();
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
