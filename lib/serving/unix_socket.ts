// Copyright 2026 the echolab authors. MIT license.
/**
 * The socket file of a server on a Unix stream socket: a stale one (left by
 * a server that died) replaced, anything else at the path left alone.
 *
 * @module
 */

/**
 * Makes `path` free for a Unix socket server: nothing there, or a socket
 * file nothing listens on (removed). A socket something listens on, or any
 * other file, throws and is left as it is.
 *
 * Needs `--allow-read` and `--allow-write` for the path and
 * `--allow-net=unix:PATH` (to try the socket), as listening does.
 *
 * @param path The socket's path.
 * @throws {Deno.errors.AddrInUse} When a server listens there.
 * @throws {Deno.errors.AlreadyExists} When a file that is not a socket is
 * there.
 *
 * @example
 * ```ts
 * import { clearStaleSocket } from "./unix_socket.ts";
 *
 * // Nothing there: nothing to do (with --allow-read for the path).
 * await clearStaleSocket("/nonexistent/echo.sock");
 * ```
 */
export async function clearStaleSocket(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  if (!info.isSocket) {
    throw new Deno.errors.AlreadyExists(
      `${path} exists and is not a socket; remove it or choose another path`,
    );
  }
  try {
    const conn = await Deno.connect({ transport: "unix", path });
    conn.close();
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionRefused) {
      // Nothing listens: a stale socket file.
      await Deno.remove(path);
      return;
    }
    throw error;
  }
  throw new Deno.errors.AddrInUse(
    `a server already listens on ${path}; stop it or choose another path`,
  );
}
