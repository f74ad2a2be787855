// Copyright 2026 the echolab authors. MIT license.
/**
 * The PROXY protocol as a TCP server's preamble: the header read before
 * anything else, within the server's timeout, its client taking the peer's
 * place. TLS, when the server has it, follows as its own stage.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { formatAddress } from "../serving/address.ts";
import type {
  AddressFilter,
  PreambleContext,
  PreambleResult,
  Refusal,
  TcpPreamble,
} from "../serving/stages.ts";
import { withDeadline } from "../serving/deadline.ts";
import { ThrottledReporter } from "../serving/throttled_reporter.ts";
import { describeTlvs, parseProxyHeader } from "./proxy_header.ts";

/** Options of {@linkcode proxyProtocol}. */
export interface ProxyProtocolOptions {
  /**
   * The only peers (the load balancers) that may connect at all; others
   * are closed at once and counted under the drop reason `proxy not
   * trusted`. `undefined` lets every peer connect, and each must send a
   * header.
   *
   * @default {undefined}
   */
  from?: AddressFilter;
}

/** The first read of a header. */
const FIRST_READ_SIZE = 512;
/** The longest PROXY header: a v2 header announcing 65,535 bytes. */
const MAX_PROXY_HEADER = 16 + 65_535;
const logger = getLogger(["echolab", "tcp"]);

/**
 * Every connection must start with a PROXY protocol header (version 1 or
 * 2, as HAProxy's `send-proxy` and `send-proxy-v2` write it), within the
 * server's `timeout`. The client it names is the peer from then on: logs,
 * trace, `{peer}`, `allow`, `maxPerSource` and the stats use it; a header
 * that names none (`LOCAL`, `UNKNOWN`) leaves the connection's own peer.
 * A v2 header's TLVs (HAProxy's `send-proxy-v2-ssl`, `proxy-v2-options`)
 * are traced, and its authority and ALPN fill `{proxy_authority}` and
 * `{proxy_alpn}`. A
 * missing, slow, malformed or over-long header closes the connection with
 * the reason `bad proxy header`, logged at most once a second; nothing of
 * it is echoed. With the server's `tls`, the TLS handshake follows the
 * header (`terminateTls()` of `echolab/tls`), as HAProxy's `send-proxy`
 * with `ssl` sends it.
 *
 * @param options The trusted proxies.
 * @returns The preamble, for the `proxy` option of `serveTcp`.
 *
 * @example
 * ```ts
 * import { proxyProtocol } from "./proxy_protocol.ts";
 * import { serveTcp } from "../../tcp.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * await using server = serveTcp({ port: 0, proxy: proxyProtocol() });
 * using conn = await Deno.connect(server.addr);
 * await conn.write(new TextEncoder().encode("PROXY TCP4 192.0.2.7 127.0.0.1 4000 80\r\nhi\n"));
 * const buffer = new Uint8Array(64);
 * const read = await conn.read(buffer);
 * strictEqual(new TextDecoder().decode(buffer.subarray(0, read!)), "received msg: hi\n");
 * ```
 */
export function proxyProtocol(options: ProxyProtocolOptions = {}): TcpPreamble {
  const from = options.from;
  const badHeaders = new ThrottledReporter();
  const report = (peer: string, reason: string) =>
    badHeaders.log(
      logger,
      "info",
      "bad proxy header",
      "Bad PROXY header from {peer}: {reason}",
      { peer, reason },
    );
  return {
    refuse(remote, peer): Refusal | undefined {
      if (from === undefined || from.allows(remote.hostname)) return undefined;
      return {
        reason: "proxy not trusted",
        template:
          "Refused connection from {peer}: proxy not trusted (not in {option})",
        properties: { peer, option: "proxyFrom" },
      };
    },
    read: (conn, context) => readPreamble(conn, context, report),
  };
}

async function readPreamble(
  conn: Deno.TcpConn,
  context: PreambleContext,
  report: (peer: string, reason: string) => void,
): Promise<PreambleResult> {
  const { peer, timeout } = context;
  const result = await withDeadline(readHeader(conn, context, report), timeout);
  if (result !== "late") return result;
  report(peer, `no complete header within ${timeout / 1000} s`);
  return { close: "bad proxy header" };
}

async function readHeader(
  conn: Deno.TcpConn,
  context: PreambleContext,
  report: (peer: string, reason: string) => void,
): Promise<PreambleResult> {
  const peer = context.peer;
  let buffer = new Uint8Array(FIRST_READ_SIZE);
  let length = 0;
  while (true) {
    if (length === buffer.length) {
      const grown = new Uint8Array(
        Math.min(buffer.length * 2, MAX_PROXY_HEADER),
      );
      grown.set(buffer);
      buffer = grown;
    }
    const read = await conn.read(buffer.subarray(length));
    if (context.signal.aborted) return { close: "shutdown" };
    if (read === null) {
      report(peer, "the connection ended before a complete header");
      return { close: "bad proxy header" };
    }
    length += read;
    const header = parseProxyHeader(buffer.subarray(0, length));
    if (header.status === "incomplete") continue;
    if (header.status === "malformed") {
      report(peer, header.reason);
      return { close: "bad proxy header" };
    }
    const client = header.source;
    const tlvs = header.tlvs;
    const told = tlvs === undefined ? "" : describeTlvs(tlvs);
    context.tracer?.event(
      "PROXY v{version} header from {proxy}: client {peer}{tlvs}",
      {
        version: header.version,
        proxy: peer,
        peer: client === undefined ? peer : formatAddress(client),
        tlvs: told === "" ? "" : `; ${told}`,
        ...(tlvs === undefined ? {} : { proxyTlvs: tlvs }),
      },
    );
    const initial = buffer.slice(header.length, length);
    const values = {
      ...(tlvs?.authority === undefined
        ? {}
        : { proxy_authority: tlvs.authority }),
      ...(tlvs?.alpn === undefined ? {} : { proxy_alpn: tlvs.alpn }),
    };
    return { stream: conn, client, initial, values };
  }
}
