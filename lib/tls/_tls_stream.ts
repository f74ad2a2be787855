// Copyright 2026 the echolab authors. MIT license.
/**
 * TLS on a connection that has already been read from: the server side of
 * TLS over a plain TCP connection whose first bytes (a PROXY protocol
 * header, the ClientHello) echolab read itself. Deno's own TLS listener
 * starts the handshake on accept and `Deno.startTls` is client-only, so
 * this wraps the stream in `node:tls`, the bytes read first put back.
 *
 * @module
 */

import { Duplex } from "node:stream";
import { type TlsOptions, TLSSocket } from "node:tls";
import type { ByteStream } from "../serving/stages.ts";
import { SocketStream } from "../serving/socket_stream.ts";
import { writeAll } from "../serving/write_all.ts";

/** Milliseconds a close waits for TLS's close_notify to go out. */
const CLOSE_GRACE = 1000;

/** A TLS stream whose handshake can be waited for. */
export interface ServerTlsStream extends ByteStream {
  /** The `node:tls` socket, for its protocol, cipher and ALPN. */
  readonly tls: TLSSocket;
}

/**
 * Serves TLS over `conn`, whose first bytes are `initial`.
 *
 * @param conn The accepted connection; the stream owns it from now on.
 * @param initial Bytes already read from it, the handshake's.
 * @param options The certificate, key (PEM) and ALPN protocols.
 * @returns A stream of the decrypted bytes; the handshake runs at once,
 * its end told by the socket's `secure` or `error` event.
 *
 * @example
 * ```ts ignore
 * const stream = serverTls(conn, hello, { cert, key });
 * const read = await stream.read(new Uint8Array(512));
 * ```
 */
export function serverTls(
  conn: ByteStream,
  initial: Uint8Array,
  options: Pick<TlsOptions, "cert" | "key" | "ALPNProtocols">,
): ServerTlsStream {
  let reading = false;
  let ended = false;
  // The last write to the connection: a close waits for it, since the
  // callback of TLSSocket.end() comes before its close_notify is written.
  let written: Promise<unknown> = Promise.resolve();
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
      const writing = writeAll(conn, chunk);
      written = writing.catch(() => {});
      writing.then(() => callback(), callback);
    },
    final(callback) {
      conn.closeWrite().then(() => callback(), callback);
    },
  });
  if (initial.length > 0) raw.unshift(initial);
  const secure = new TLSSocket(raw, { ...options, isServer: true });
  return new TlsStream(secure, conn, () => written);
}

class TlsStream extends SocketStream implements ServerTlsStream {
  readonly tls: TLSSocket;
  #conn: ByteStream;
  #written: () => Promise<unknown>;

  constructor(
    secure: TLSSocket,
    conn: ByteStream,
    written: () => Promise<unknown>,
  ) {
    super(secure);
    this.tls = secure;
    this.#conn = conn;
    this.#written = written;
  }

  /**
   * Closes as Deno's own TLS connections do: TLS's close_notify first, then
   * the socket; a peer that does not take the close_notify within a second
   * is cut off.
   */
  close(): void {
    if (!this.markClosed()) return;
    const release = () => {
      clearTimeout(timer);
      this.socket.destroy();
      try {
        this.#conn.close();
      } catch {
        // Already closed.
      }
    };
    const timer = setTimeout(release, CLOSE_GRACE);
    if (this.error !== undefined || this.socket.destroyed) release();
    else {
      // The close_notify is written a turn after end()'s callback.
      this.socket.end(() => setTimeout(() => this.#written().then(release), 0));
    }
  }
}
