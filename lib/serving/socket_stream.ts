// Copyright 2026 the echolab authors. MIT license.
/**
 * A `node:net` socket (a `node:tls` one too) read and written as the
 * connection pipeline reads and writes a `Deno.TcpConn`: reads wait for what
 * came, with backpressure; errors are Deno's (`ConnectionReset`, …).
 *
 * @module
 */

import type { Socket } from "node:net";
import type { ByteStream } from "./stages.ts";

/** Bytes held from a socket before it is paused. */
const HIGH_WATER = 65_536;

/**
 * The reading and writing half of a socket as a {@linkcode ByteStream};
 * what closing means is the subclass's.
 *
 * @example
 * ```ts ignore
 * class Plain extends SocketStream {
 *   close() { this.markClosed(); this.socket.destroy(); }
 * }
 * ```
 */
export abstract class SocketStream implements ByteStream {
  /** The socket. */
  protected readonly socket: Socket;
  #chunks: Uint8Array[] = [];
  #held = 0;
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;
  #closed = false;

  /**
   * Starts taking what the socket receives.
   *
   * @param socket The socket.
   */
  constructor(socket: Socket) {
    this.socket = socket;
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

  /** Whether {@linkcode SocketStream.markClosed} was called. */
  protected get closed(): boolean {
    return this.#closed;
  }

  /** The first error the socket met, if any. */
  protected get error(): Error | undefined {
    return this.#error;
  }

  /**
   * Marks the stream closed: a pending read ends at once.
   *
   * @returns `false` when it already was.
   */
  protected markClosed(): boolean {
    if (this.#closed) return false;
    this.#closed = true;
    this.#notify();
    return true;
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
      if (this.#error !== undefined) throw this.#error;
      if (this.#ended || this.#closed) return null;
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
    if (this.#held < HIGH_WATER && this.socket.isPaused()) {
      this.socket.resume();
    }
    return copied;
  }

  /**
   * Writes bytes; settles once the socket took them (it copies them, so the
   * caller may reuse its buffer then).
   *
   * @param bytes The bytes.
   * @returns How many were written: all of them.
   */
  write(bytes: Uint8Array): Promise<number> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#closed) {
      return Promise.reject(new Deno.errors.BadResource("closed"));
    }
    return new Promise((resolve, reject) => {
      this.socket.write(bytes, (error) => {
        if (error) reject(denoError(error));
        else resolve(bytes.length);
      });
    });
  }

  /**
   * Shuts down the sending side.
   *
   * @returns Once the socket ended its side.
   */
  closeWrite(): Promise<void> {
    return new Promise((resolve) => this.socket.end(() => resolve()));
  }

  /** Closes the stream. */
  abstract close(): void;
}

/**
 * A `node:net` error as the Deno error the pipeline knows.
 *
 * @param error The error.
 * @returns Its Deno counterpart, or itself.
 *
 * @example
 * ```ts
 * import { denoError } from "./socket_stream.ts";
 * import { ok } from "node:assert/strict";
 *
 * ok(denoError(Object.assign(new Error("reset"), { code: "ECONNRESET" })) instanceof Deno.errors.ConnectionReset);
 * ```
 */
export function denoError(error: Error & { code?: string }): Error {
  switch (error.code) {
    case "ECONNRESET":
      return new Deno.errors.ConnectionReset(error.message);
    case "EPIPE":
      return new Deno.errors.BrokenPipe(error.message);
    case "ECONNREFUSED":
      return new Deno.errors.ConnectionRefused(error.message);
    case "EADDRINUSE":
      return new Deno.errors.AddrInUse(error.message);
    case "EACCES":
      return new Deno.errors.PermissionDenied(error.message);
    default:
      return error;
  }
}
