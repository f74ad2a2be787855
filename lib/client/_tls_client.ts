// Copyright 2026 the echolab authors. MIT license.
/**
 * The client side of TLS through `node:tls`, which, unlike
 * `Deno.connectTls`, tells the server's certificate, the version and the
 * cipher; with a PROXY header, written in the clear before the handshake.
 *
 * @module
 */

import { connect as connectNet, type Socket } from "node:net";
import { connect as connectTls, type TLSSocket } from "node:tls";
import type { ByteStream } from "../serving/stages.ts";
import { denoError, SocketStream } from "../serving/socket_stream.ts";
import { formatProxyHeader } from "../proxy/proxy_header.ts";
import { parseIp } from "../policy/ip_address.ts";

/** What a TLS client learnt of the server in the handshake. */
export interface TlsPeerInfo {
  /** The certificate's subject, `CN=a.example`. */
  subject: string;
  /** Its subject alternative names, `DNS:a.example`, `IP Address:127.0.0.1`. */
  names: string[];
  /** `TLSv1.3` or `TLSv1.2`. */
  version: string;
  /** The cipher suite's standard name, `TLS_AES_256_GCM_SHA384`. */
  cipher: string;
  /** The protocol ALPN chose; `""` when none was. */
  alpn: string;
}

/** How to reach the server and what to offer it. */
export interface TlsClientOptions {
  /** The server's host. */
  hostname: string;
  /** The server's port. */
  port: number;
  /** PEM certificates to trust. */
  caCerts?: string[];
  /** The SNI to send; without it, the host when it is a name. */
  serverName?: string;
  /** The ALPN protocols to offer. */
  alpn?: string[];
  /** A PROXY header of this version first, naming the client's addresses. */
  proxyProtocol?: 1 | 2;
  /** A Unix socket's path, instead of the host and port. */
  path?: string;
}

class ClientTlsStream extends SocketStream {
  close(): void {
    if (!this.markClosed()) return;
    this.socket.destroy();
  }
}

/**
 * Connects with TLS and completes the handshake.
 *
 * @param options Where and how.
 * @returns The decrypted stream and what the handshake told.
 * @throws The connection's or the handshake's error, as Deno's errors
 * (`ConnectionRefused`, ...) where there is one.
 *
 * @example
 * ```ts ignore
 * const { stream, info } = await openTls({ hostname: "127.0.0.1", port: 8443, caCerts: [ca] });
 * console.log(info.version);
 * ```
 */
export async function openTls(
  options: TlsClientOptions,
): Promise<{ stream: ByteStream; info: TlsPeerInfo }> {
  const raw = options.path !== undefined
    ? await unixSocket(options.path)
    : options.proxyProtocol === undefined
    ? undefined
    : await proxied(options, options.proxyProtocol);
  const socket = connectTls({
    ...(raw === undefined
      ? { host: options.hostname, port: options.port }
      : { socket: raw }),
    // An address is sent no SNI (RFC 6066 allows host names only).
    servername: options.serverName ??
      (parseIp(options.hostname) === undefined ? options.hostname : undefined),
    ALPNProtocols: options.alpn,
    ca: options.caCerts,
  });
  try {
    await settled(socket, "secureConnect");
  } catch (error) {
    socket.destroy();
    raw?.destroy();
    throw error;
  }
  if (options.path === undefined) socket.setNoDelay(true);
  return { stream: new ClientTlsStream(socket), info: peerInfo(socket) };
}

/** A connection to a Unix socket. */
async function unixSocket(path: string): Promise<Socket> {
  const raw = connectNet({ path });
  try {
    await settled(raw, "connect");
  } catch (error) {
    raw.destroy();
    throw error;
  }
  return raw;
}

/** A TCP connection with the PROXY header sent. */
async function proxied(
  options: TlsClientOptions,
  version: 1 | 2,
): Promise<Socket> {
  const raw = connectNet({ host: options.hostname, port: options.port });
  try {
    await settled(raw, "connect");
    const header = formatProxyHeader(version, {
      source: { hostname: raw.localAddress!, port: raw.localPort! },
      destination: { hostname: raw.remoteAddress!, port: raw.remotePort! },
    });
    await new Promise<void>((resolve, reject) =>
      raw.write(header, (error) => error ? reject(error) : resolve())
    );
  } catch (error) {
    raw.destroy();
    throw error;
  }
  return raw;
}

/** Resolves on `event`, rejects on the socket's error. */
function settled(socket: Socket, event: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (error: Error & { code?: string }) => {
      socket.off(event, done);
      reject(denoError(error));
    };
    const done = () => {
      socket.off("error", failed);
      resolve();
    };
    socket.once(event, done);
    socket.once("error", failed);
  });
}

function peerInfo(socket: TLSSocket): TlsPeerInfo {
  const certificate = socket.getPeerCertificate();
  const subject = Object.entries(certificate?.subject ?? {})
    .map(([key, value]) => `${key}=${value}`)
    .join(", ");
  const names = (certificate?.subjectaltname ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
  const cipher = socket.getCipher();
  const alpn = socket.alpnProtocol;
  return {
    subject,
    names,
    version: socket.getProtocol() ?? "",
    cipher: cipher?.standardName ?? cipher?.name ?? "",
    alpn: typeof alpn === "string" ? alpn : "",
  };
}
