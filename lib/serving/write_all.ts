// Copyright 2026 the echolab authors. MIT license.
/**
 * Writing a whole buffer to a connection.
 *
 * @module
 */

/**
 * Writes every byte of `bytes`: `Deno.Conn.write` may write only a part of
 * a buffer under load, and returns how much it wrote.
 *
 * @param writer The connection.
 * @param bytes The bytes to write.
 * @returns Once all bytes are written.
 *
 * @example
 * ```ts ignore
 * import { writeAll } from "./write_all.ts";
 *
 * using conn = await Deno.connect({ hostname: "127.0.0.1", port: 8000 });
 * await writeAll(conn, new TextEncoder().encode("hello\n"));
 * ```
 */
export async function writeAll(
  writer: { write(bytes: Uint8Array): Promise<number> },
  bytes: Uint8Array,
): Promise<void> {
  let written = await writer.write(bytes);
  while (written < bytes.length) {
    written += await writer.write(bytes.subarray(written));
  }
}
