// Copyright 2026 the echolab authors. MIT license.
/**
 * The preamble stage of a TCP connection, then the admission of the client
 * it names, then TLS.
 *
 * @module
 */

import { formatAddress, plainHostname, UNIX_SOURCE } from "./address.ts";
import type {
  ByteStream,
  CloseReason,
  ConnectionValues,
  PreambleContext,
  TcpPreamble,
  TcpTlsStage,
  TlsSession,
} from "./stages.ts";

/** A connection past its preamble and admitted. */
export interface Admitted {
  /** The stream to echo on. */
  stream: ByteStream;
  /** The client, `host:port`. */
  peer: string;
  /**
   * The client's host, counted against the per-source limit; `undefined`
   * when it was admitted at accept.
   */
  source?: string;
  /** Bytes read past the preamble, to echo first. */
  initial?: Uint8Array;
  /** What the preamble and TLS learnt, for the prefix placeholders. */
  values?: ConnectionValues;
  /** The TLS negotiated, with TLS. */
  session?: TlsSession;
}

/**
 * Runs the preamble, then admits the client it names, or the connection's
 * own peer when it names none (a PROXY `LOCAL` or `UNKNOWN` header), as
 * the PROXY protocol says a receiver must; then TLS, on the admitted
 * client only. Without a preamble the client was admitted at accept.
 *
 * @param socket The accepted connection.
 * @param stage The preamble, the TLS stage and the server's admission.
 * @param context What the preamble knows of the connection.
 * @returns The admitted connection, or why it ends (a refusal is counted
 * and logged by `admit`).
 *
 * @example
 * ```ts ignore
 * const admitted = await runPreamble(socket, { preamble, tls, admit }, context);
 * ```
 */
export async function runPreamble(
  socket: ByteStream & {
    readonly remoteAddr: Deno.NetAddr | Deno.UnixAddr;
  },
  stage: {
    preamble?: TcpPreamble;
    tls?: TcpTlsStage;
    admit(hostname: string, peer: string): CloseReason | undefined;
  },
  context: PreambleContext,
): Promise<Admitted | CloseReason> {
  let admitted: Admitted = { stream: socket, peer: context.peer };
  if (stage.preamble !== undefined) {
    const result = await stage.preamble.read(socket as Deno.TcpConn, context);
    if ("close" in result) return result.close;
    const client = result.client ?? socket.remoteAddr;
    const peer = formatAddress(client);
    // The clients of a Unix socket are one source.
    const source = "hostname" in client
      ? plainHostname(client.hostname)
      : UNIX_SOURCE;
    const refused = stage.admit(source, peer);
    if (refused !== undefined) {
      if (result.stream !== socket) result.stream.close();
      return refused;
    }
    admitted = {
      stream: result.stream,
      peer,
      source,
      initial: result.initial,
      values: result.values,
    };
  }
  if (stage.tls === undefined) return admitted;
  const started = await stage.tls.start(admitted.stream, {
    peer: admitted.peer,
    initial: admitted.initial,
    timeout: context.timeout,
    tracer: context.tracer,
    signal: context.signal,
  });
  if ("close" in started) return started.close;
  const session = started.session;
  return {
    ...admitted,
    stream: started.stream,
    initial: undefined,
    session,
    values: {
      ...admitted.values,
      sni: session.sni,
      alpn: session.alpn,
      tls: session.version,
      ja4: session.ja4,
    },
  };
}
