// Copyright 2026 the echolab authors. MIT license.
/**
 * A QUIC stream as the byte stream a TCP connection's pipeline reads and
 * writes: a bidirectional stream, or a client's unidirectional stream paired
 * with the server's unidirectional stream that answers it. The client's FIN
 * is the end of reading; closing the write side sends the server's FIN.
 *
 * @module
 */

import type { AcceptedConn } from "./stages.ts";

/**
 * One QUIC stream (or pair of unidirectional streams) read into buffers and
 * written through a writer.
 *
 * @example Any pair of web streams will do (a QUIC stream's are)
 * ```ts
 * import { QuicStreamConn } from "./quic_stream.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const written: Uint8Array[] = [];
 * const address = { transport: "udp" as const, hostname: "127.0.0.1", port: 4433 };
 * const conn = new QuicStreamConn(
 *   ReadableStream.from([new TextEncoder().encode("hello")]),
 *   new WritableStream({ write: (chunk) => void written.push(chunk) }),
 *   { remote: address, local: address },
 * );
 * const buffer = new Uint8Array(3);
 * strictEqual(await conn.read(buffer), 3); // "hel", the rest kept
 * strictEqual(await conn.read(buffer), 2); // "lo"
 * strictEqual(await conn.read(buffer), null); // the FIN
 * await conn.write(new TextEncoder().encode("bye"));
 * await conn.closeWrite();
 * strictEqual(new TextDecoder().decode(written[0]), "bye");
 * ```
 */
export class QuicStreamConn implements AcceptedConn {
  readonly remoteAddr: Deno.NetAddr;
  readonly localAddr: Deno.NetAddr;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #writer: Promise<WritableStreamDefaultWriter<Uint8Array>>;
  #left: Uint8Array | undefined;
  #readDone = false;
  #writeClosed = false;

  /**
   * Takes over the two halves.
   *
   * @param readable What the client sends.
   * @param writable Where the replies go: the stream's own send side, or a
   * promise of a new unidirectional stream.
   * @param addresses The connection's two ends.
   */
  constructor(
    readable: ReadableStream<Uint8Array>,
    writable: WritableStream<Uint8Array> | Promise<WritableStream<Uint8Array>>,
    addresses: { remote: Deno.NetAddr; local: Deno.NetAddr },
  ) {
    this.#reader = readable.getReader();
    this.#writer = Promise.resolve(writable).then((stream) =>
      stream.getWriter()
    );
    // A stream the server could not open fails the first write.
    this.#writer.catch(() => {});
    this.remoteAddr = addresses.remote;
    this.localAddr = addresses.local;
  }

  /** Reads into `buffer`; `null` once the client's FIN came. */
  async read(buffer: Uint8Array): Promise<number | null> {
    let chunk = this.#left;
    this.#left = undefined;
    if (chunk === undefined) {
      if (this.#readDone) return null;
      const { value, done } = await this.#reader.read();
      if (done) {
        this.#readDone = true;
        return null;
      }
      chunk = value;
    }
    if (chunk.length > buffer.length) {
      this.#left = chunk.subarray(buffer.length);
      chunk = chunk.subarray(0, buffer.length);
    }
    buffer.set(chunk);
    return chunk.length;
  }

  /** Writes all of `bytes` (QUIC takes them whole, with flow control). */
  async write(bytes: Uint8Array): Promise<number> {
    const writer = await this.#writer;
    // The writer keeps the chunk: hand it a copy of a buffer reused later.
    await writer.write(bytes.slice());
    return bytes.length;
  }

  /** Sends the server's FIN once what was written is sent. */
  async closeWrite(): Promise<void> {
    if (this.#writeClosed) return;
    this.#writeClosed = true;
    await (await this.#writer).close();
  }

  /**
   * Ends both halves: the server's FIN after what is written (never a
   * reset: the last replies still go), and STOP_SENDING for what the client
   * would still send.
   */
  close(): void {
    if (!this.#readDone) {
      this.#readDone = true;
      this.#reader.cancel().catch(() => {});
    }
    if (!this.#writeClosed) {
      this.#writeClosed = true;
      this.#writer.then((writer) => writer.close()).catch(() => {});
    }
  }
}
