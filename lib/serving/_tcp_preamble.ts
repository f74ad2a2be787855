// Copyright 2026 the echolab authors. MIT license.
/**
 * The preamble stage of a TCP connection, then the admission of the client
 * it names.
 *
 * @module
 */

import { formatAddress, plainHostname } from "./address.ts";
import type {
  ByteStream,
  CloseReason,
  PreambleContext,
  TcpPreamble,
} from "./stages.ts";

/** A connection past its preamble and admitted. */
export interface Admitted {
  /** The stream to echo on. */
  stream: ByteStream;
  /** The client, `host:port`. */
  peer: string;
  /** The client's host, counted against the per-source limit. */
  source: string;
  /** Bytes read past the preamble, to echo first. */
  initial?: Uint8Array;
}

/**
 * Runs the preamble, then admits the client it names, or the connection's
 * own peer when it names none (a PROXY `LOCAL` or `UNKNOWN` header), as
 * the PROXY protocol says a receiver must.
 *
 * @param socket The accepted connection.
 * @param stage The preamble and the server's admission.
 * @param context What the preamble knows of the connection.
 * @returns The admitted connection, or why it ends (a refusal is counted
 * and logged by `admit`).
 *
 * @example
 * ```ts ignore
 * const admitted = await runPreamble(socket, { preamble, admit }, context);
 * ```
 */
export async function runPreamble(
  socket: Deno.TcpConn,
  stage: {
    preamble?: TcpPreamble;
    admit(hostname: string, peer: string): CloseReason | undefined;
  },
  context: PreambleContext,
): Promise<Admitted | CloseReason> {
  const result = await stage.preamble!.read(socket, context);
  if ("close" in result) return result.close;
  const client = result.client ?? socket.remoteAddr;
  const peer = formatAddress(client);
  const source = plainHostname(client.hostname);
  const refused = stage.admit(source, peer);
  if (refused !== undefined) {
    if (result.stream !== socket) result.stream.close();
    return refused;
  }
  return {
    stream: result.stream,
    peer,
    source,
    initial: result.initial,
  };
}
