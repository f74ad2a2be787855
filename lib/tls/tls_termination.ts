// Copyright 2026 the echolab authors. MIT license.
/**
 * TLS that sees what the client sent: the ClientHello read before the
 * handshake, the certificate chosen by its server name, the protocol by its
 * ALPN list, then the handshake by `node:tls` over the same bytes.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { OptionChecker } from "../serving/check_options.ts";
import { withDeadline } from "../serving/deadline.ts";
import type {
  ByteStream,
  TcpTlsStage,
  TlsContext,
  TlsResult,
} from "../serving/stages.ts";
import { ThrottledReporter } from "../serving/throttled_reporter.ts";
import { writeAll } from "../serving/write_all.ts";
import { serverTls } from "./_tls_stream.ts";
import {
  type ClientHello,
  isGrease,
  MAX_CLIENT_HELLO,
  readClientHello,
  versionName,
} from "./client_hello.ts";
import { ja4 } from "./ja4.ts";
import { isServerName } from "./server_name.ts";

/** A certificate and the server names it is served for. */
export interface TlsCertificate {
  /**
   * Host names (`a.example`) or wildcards (`*.example.com`, one label) the
   * certificate is chosen for, matched against the client's SNI without
   * regard to case; the names inside the certificate play no part. Absent
   * or empty: the default certificate, for a client whose SNI matches no
   * name or who sends none (at most one).
   *
   * @default {[]}
   */
  names?: readonly string[];
  /** The certificate chain, PEM. */
  cert: string;
  /** Its private key, PEM. */
  key: string;
}

/** Options of {@linkcode terminateTls}. */
export interface TlsTerminationOptions {
  /** The certificates; at least one. */
  certs: readonly TlsCertificate[];
  /**
   * The ALPN protocols the server offers, by preference: it picks the first
   * of its own the client also offered, and fails the handshake with a
   * `no_application_protocol` alert when they share none. `undefined`: no
   * ALPN, whatever the client offers.
   *
   * @default {undefined}
   */
  alpn?: readonly string[];
}

/** TLS alert descriptions (RFC 8446 section 6). */
const ALERT = { unrecognizedName: 112, noApplicationProtocol: 120 } as const;
/** Bytes read for a ClientHello before giving up: the message, its headers. */
const MAX_HELLO_BYTES = MAX_CLIENT_HELLO + 1024;
const FIRST_READ_SIZE = 1024;
const logger = getLogger(["echolab", "tcp"]);

/**
 * Terminates TLS on each connection after reading its ClientHello: SNI,
 * ALPN offered, versions, cipher suites, groups, signature algorithms and
 * the JA4 fingerprint, traced (`tls hello from ...`) and handed to the
 * reply prefix (`{sni}`, `{alpn}`, `{tls}`, `{ja4}`). A hello that is not
 * TLS, malformed or over 16 KiB closes the connection with the reason `bad
 * tls hello`; a failed handshake, `tls handshake failed`; both are logged
 * at most once a second.
 *
 * @param options The certificates and ALPN protocols.
 * @returns The stage, for the `tls` option of `serveTcp`.
 * @throws {RangeError} Without a certificate, with two defaults, a name
 * twice or a bad name or protocol.
 *
 * @example
 * ```ts ignore
 * import { terminateTls } from "./tls_termination.ts";
 * import { serveTcp } from "../../tcp.ts";
 *
 * const cert = await Deno.readTextFile("cert.pem");
 * const key = await Deno.readTextFile("key.pem");
 * await using server = serveTcp({
 *   port: 0,
 *   prefix: "{sni} over {tls}: ",
 *   tls: terminateTls({ certs: [{ cert, key }], alpn: ["h2", "http/1.1"] }),
 * });
 * ```
 */
export function terminateTls(options: TlsTerminationOptions): TcpTlsStage {
  const certificates = new CertificateTable(options.certs);
  const alpn = checkAlpn(options.alpn);
  const badHellos = new ThrottledReporter();
  const failures = new ThrottledReporter();
  const reportHello = (peer: string, reason: string) =>
    badHellos.log(
      logger,
      "info",
      "bad tls hello",
      "Bad TLS hello from {peer}: {reason}",
      { peer, reason },
    );
  const reportFailure = (peer: string, reason: string) =>
    failures.log(
      logger,
      "info",
      "tls handshake failed",
      "TLS handshake with {peer} failed: {reason}",
      { peer, reason },
    );
  return {
    describe: () =>
      `certificates for ${certificates.describe()}` +
      (alpn === undefined ? "" : `, ALPN ${alpn.join(", ")}`),
    async start(conn, context): Promise<TlsResult> {
      const read = await withDeadline(
        readHello(conn, context),
        context.timeout,
      );
      if (read === "late") {
        reportHello(
          context.peer,
          `no complete ClientHello within ${context.timeout / 1000} s`,
        );
        return { close: "bad tls hello" };
      }
      if (context.signal.aborted) return { close: "shutdown" };
      if ("reason" in read) {
        reportHello(context.peer, read.reason);
        return { close: "bad tls hello" };
      }
      const { hello, bytes } = read;
      const fingerprint = ja4(hello);
      traceHello(context, hello, fingerprint);
      const sni = hello.serverName ?? "";
      const certificate = certificates.select(sni);
      if (certificate === undefined) {
        await sendAlert(conn, ALERT.unrecognizedName);
        reportFailure(
          context.peer,
          `no certificate for the server name "${sni}" and no default certificate (unrecognized_name)`,
        );
        return { close: "tls handshake failed" };
      }
      const chosen = alpn === undefined || hello.alpn.length === 0
        ? undefined
        : alpn.find((protocol) => hello.alpn.includes(protocol));
      if (alpn !== undefined && hello.alpn.length > 0 && chosen === undefined) {
        await sendAlert(conn, ALERT.noApplicationProtocol);
        reportFailure(
          context.peer,
          `no ALPN protocol in common: the client offers ${
            listText(hello.alpn)
          }, the server ${listText(alpn)} (no_application_protocol)`,
        );
        return { close: "tls handshake failed" };
      }
      const stream = serverTls(conn, bytes, {
        cert: certificate.cert,
        key: certificate.key,
        ...(chosen === undefined ? {} : { ALPNProtocols: [chosen] }),
      });
      const done = await withDeadline(
        handshake(stream.tls),
        context.timeout,
      );
      if (done !== true) {
        stream.close();
        if (context.signal.aborted) return { close: "shutdown" };
        reportFailure(
          context.peer,
          done === "late"
            ? `not complete within ${context.timeout / 1000} s`
            : done.message,
        );
        return { close: "tls handshake failed" };
      }
      const version = stream.tls.getProtocol() ?? "";
      const negotiated = stream.tls.alpnProtocol;
      return {
        stream,
        session: {
          version,
          sni,
          alpn: typeof negotiated === "string" ? negotiated : "",
          ja4: fingerprint,
        },
      };
    },
  };
}

/** The certificates by name, checked once. */
class CertificateTable {
  #exact = new Map<string, TlsCertificate>();
  #wildcard = new Map<string, TlsCertificate>();
  #default: TlsCertificate | undefined;
  #names: string[] = [];

  constructor(certs: readonly TlsCertificate[]) {
    const check = new OptionChecker("the tls termination");
    if (!Array.isArray(certs) || certs.length === 0) {
      throw new RangeError(
        "Cannot start the tls termination: certs must hold at least one certificate",
      );
    }
    certs.forEach((entry, index) => {
      check.string(`certs[${index}].cert`, entry.cert ?? 0);
      check.string(`certs[${index}].key`, entry.key ?? 0);
      const names = entry.names ?? [];
      if (names.length === 0) {
        if (this.#default !== undefined) {
          throw new RangeError(
            "Cannot start the tls termination: two default certificates (without names); give each but one its names",
          );
        }
        this.#default = entry;
        return;
      }
      for (const given of names) {
        const name = String(given).toLowerCase().replace(/\.$/, "");
        if (!isServerName(name)) {
          throw new RangeError(
            `Cannot start the tls termination: "${given}" is not a host name or *.domain`,
          );
        }
        const table = name.startsWith("*.") ? this.#wildcard : this.#exact;
        const key = name.startsWith("*.") ? name.slice(1) : name;
        if (table.has(key)) {
          throw new RangeError(
            `Cannot start the tls termination: the name ${name} is given twice`,
          );
        }
        table.set(key, entry);
        this.#names.push(name);
      }
    });
  }

  /** The certificate for a server name; `undefined`: none, no default. */
  select(sni: string): TlsCertificate | undefined {
    if (sni === "") return this.#default;
    const name = sni.toLowerCase().replace(/\.$/, "");
    const exact = this.#exact.get(name);
    if (exact !== undefined) return exact;
    const dot = name.indexOf(".");
    const wildcard = dot > 0 ? this.#wildcard.get(name.slice(dot)) : undefined;
    return wildcard ?? this.#default;
  }

  describe(): string {
    const names = [...this.#names];
    if (this.#default !== undefined) names.unshift("any name (default)");
    return names.join(", ");
  }
}

function checkAlpn(alpn: readonly string[] | undefined): string[] | undefined {
  if (alpn === undefined) return undefined;
  if (!Array.isArray(alpn) || alpn.length === 0) {
    throw new RangeError(
      "Cannot start the tls termination: alpn must list at least one protocol (or be left out)",
    );
  }
  for (const protocol of alpn) {
    const length = typeof protocol === "string"
      ? new TextEncoder().encode(protocol).length
      : 0;
    if (length === 0 || length > 255) {
      throw new RangeError(
        `Cannot start the tls termination: the ALPN protocol ${
          JSON.stringify(protocol)
        } must be 1 to 255 bytes`,
      );
    }
  }
  return [...alpn];
}

function listText(values: readonly string[]): string {
  return `[${values.join(", ")}]`;
}

/** The bytes of the ClientHello's records, read whole. */
async function readHello(
  conn: ByteStream,
  context: TlsContext,
): Promise<{ hello: ClientHello; bytes: Uint8Array } | { reason: string }> {
  const initial = context.initial ?? new Uint8Array();
  let buffer = new Uint8Array(Math.max(FIRST_READ_SIZE, initial.length * 2));
  buffer.set(initial);
  let length = initial.length;
  while (true) {
    if (length > 0) {
      const result = readClientHello(buffer.subarray(0, length));
      if (result.status === "complete") {
        return { hello: result.hello, bytes: buffer.slice(0, length) };
      }
      if (result.status === "malformed") return { reason: result.reason };
    }
    if (length >= MAX_HELLO_BYTES) {
      return {
        reason:
          `no complete ClientHello in ${length} bytes (the limit is ${MAX_CLIENT_HELLO} bytes of message)`,
      };
    }
    if (length === buffer.length) {
      const grown = new Uint8Array(
        Math.min(buffer.length * 2, MAX_HELLO_BYTES),
      );
      grown.set(buffer);
      buffer = grown;
    }
    const read = await conn.read(buffer.subarray(length));
    if (context.signal.aborted) return { reason: "shutdown" };
    if (read === null) {
      return {
        reason: length === 0
          ? "the connection ended before a ClientHello"
          : "the connection ended inside the ClientHello",
      };
    }
    length += read;
  }
}

/** `true` once the handshake completes, or the error that ended it. */
function handshake(
  socket: import("node:tls").TLSSocket,
): Promise<true | Error> {
  return new Promise((resolve) => {
    const done = (outcome: true | Error) => {
      socket.off("secure", secure);
      socket.off("error", failed);
      socket.off("close", closed);
      resolve(outcome);
    };
    const secure = () => done(true);
    const failed = (error: Error) => done(error);
    const closed = () =>
      done(new Error("the client closed the connection during the handshake"));
    socket.once("secure", secure);
    socket.once("error", failed);
    socket.once("close", closed);
  });
}

/** Sends a fatal alert in the clear, as a server does before its hello. */
async function sendAlert(conn: ByteStream, description: number): Promise<void> {
  try {
    await writeAll(conn, Uint8Array.of(21, 3, 3, 0, 2, 2, description));
  } catch {
    // The client is gone: nothing to tell it.
  }
}

function traceHello(
  context: TlsContext,
  hello: ClientHello,
  fingerprint: string,
): void {
  const tracer = context.tracer;
  if (tracer === undefined) return;
  const versions = hello.supportedVersions.length > 0
    ? hello.supportedVersions.filter((value) => !isGrease(value))
    : [hello.legacyVersion];
  tracer.event(
    "tls hello from {peer}: sni={sni}, alpn offered={alpnOffered}, versions={versions}, ja4={ja4}",
    {
      peer: context.peer,
      sni: hello.serverName ?? "",
      alpnOffered: hello.alpn,
      versions: versions.map(versionName),
      ja4: fingerprint,
      cipherSuites: hex(hello.cipherSuites),
      groups: hex(hello.groups),
      signatureAlgorithms: hex(hello.signatureAlgorithms),
    },
  );
}

function hex(values: number[]): string[] {
  return values.filter((value) => !isGrease(value)).map((value) =>
    value.toString(16).padStart(4, "0")
  );
}
