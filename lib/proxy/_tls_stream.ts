// Copyright 2026 the echolab authors. MIT license.
/**
 * TLS on a connection that has already been read from: the server side of
 * TLS over a plain TCP connection whose PROXY protocol header came first.
 * Deno's own TLS listener starts the handshake on accept and `Deno.startTls`
 * is client-only, so this wraps the rest of the stream in `node:tls`.
 *
 * @module
 */

import { Duplex } from "node:stream";
import { TLSSocket } from "node:tls";
import type { ByteStream } from "../serving/stages.ts";
import { writeAll } from "../serving/write_all.ts";

/** Milliseconds a close waits for TLS's close_notify to go out. */
const CLOSE_GRACE = 1000;
/** Bytes held from the TLS socket before it is paused. */
const HIGH_WATER = 65_536;

/**
 * Serves TLS over `conn`, whose first bytes after the PROXY header are
 * `initial`.
 *
 * @param conn The accepted TCP connection; the stream owns it from now on.
 * @param initial Bytes already read from it after the header.
 * @param options The certificate and key, PEM.
 * @returns A stream of the decrypted bytes; the handshake runs as it is
 * read, and a failed handshake makes `read` reject.
 *
 * @example
 * ```ts ignore
 * const stream = serverTls(conn, leftover, { cert, key });
 * const read = await stream.read(new Uint8Array(512));
 * ```
 */
export function serverTls(
  conn: Deno.TcpConn,
  initial: Uint8Array,
  options: { cert: string; key: string },
): ByteStream {
  let reading = false;
  let ended = false;
  const raw = new Duplex({
    read() {
      if (reading || ended) return;
      reading = true;
      const buffer = new Uint8Array(16_384);
      conn.read(buffer).then((read) => {
        reading = false;
        if (read === null) {
          ended = true;
          raw.push(null);
        } else {
          raw.push(buffer.subarray(0, read));
        }
      }, (error) => {
        reading = false;
        ended = true;
        raw.destroy(error);
      });
    },
    write(chunk: Uint8Array, _encoding, callback) {
      writeAll(conn, chunk).then(() => callback(), callback);
    },
    final(callback) {
      conn.closeWrite().then(() => callback(), callback);
    },
  });
  if (initial.length > 0) raw.unshift(initial);
  const secure = new TLSSocket(raw, {
    isServer: true,
    cert: options.cert,
    key: options.key,
  });
  return new TlsStream(secure, conn);
}

class TlsStream implements ByteStream {
  #secure: TLSSocket;
  #conn: Deno.TcpConn;
  #chunks: Uint8Array[] = [];
  #held = 0;
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;
  #closed = false;

  constructor(secure: TLSSocket, conn: Deno.TcpConn) {
    this.#secure = secure;
    this.#conn = conn;
    secure.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#held += chunk.length;
      if (this.#held >= HIGH_WATER) secure.pause();
      this.#notify();
    });
    secure.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    secure.on("error", (error: Error) => {
      this.#error ??= error;
      this.#notify();
    });
    secure.on("close", () => {
      this.#ended = true;
      this.#notify();
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

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
    if (this.#held < HIGH_WATER && this.#secure.isPaused()) {
      this.#secure.resume();
    }
    return copied;
  }

  write(bytes: Uint8Array): Promise<number> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    if (this.#closed) {
      return Promise.reject(new Deno.errors.BadResource("closed"));
    }
    // node:tls copies the bytes before the callback, so the caller may
    // reuse its buffer once this settles.
    return new Promise((resolve, reject) => {
      this.#secure.write(bytes, (error) => {
        if (error) reject(error);
        else resolve(bytes.length);
      });
    });
  }

  closeWrite(): Promise<void> {
    return new Promise((resolve) => this.#secure.end(() => resolve()));
  }

  /**
   * Closes as Deno's own TLS connections do: TLS's close_notify first, then
   * the socket; a peer that does not take the close_notify within a second
   * is cut off.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#notify();
    const release = () => {
      clearTimeout(timer);
      this.#secure.destroy();
      try {
        this.#conn.close();
      } catch {
        // Already closed.
      }
    };
    const timer = setTimeout(release, CLOSE_GRACE);
    if (this.#error !== undefined || this.#secure.destroyed) release();
    else this.#secure.end(release);
  }
}
