// Copyright 2026 the echolab authors. MIT license.
/**
 * What the command line asks of a server, as plain data that can cross to
 * a worker, and the server options made from it: the optional parts
 * (access list, PROXY protocol, TLS, faults, capture) are imported only
 * when asked for.
 *
 * @module
 */

import type { FaultOptions } from "../lib/faults/faults.ts";
import type { ServerOptions } from "../lib/serving/server.ts";
import type { TlsTerminationOptions } from "../lib/tls/tls_termination.ts";
import type { TcpServerOptions } from "../tcp.ts";
import type { UdpServerOptions } from "../udp.ts";
import type { QuicServerOptions } from "../quic.ts";

/** The parts of a server the command line turns on, as data. */
export interface OptionalParts {
  /** The `allow` ranges, comma-separated (already checked). */
  allow?: string;
  /** The faults, when any is asked for. */
  faults?: FaultOptions;
  /** Capture the server's packets, and maybe write them to a file. */
  capture?: { file?: string };
}

/** A TCP server as the command line describes it. */
export type TcpServerSpec =
  & Omit<TcpServerOptions, "allow" | "faults" | "capture" | "proxy" | "tls">
  & OptionalParts
  & {
    /** Read a PROXY protocol header first. */
    proxyProtocol?: boolean;
    /** The `proxyFrom` ranges, comma-separated (already checked). */
    proxyFrom?: string;
    /** Serve TLS, reading each ClientHello first. */
    tls?: TlsTerminationOptions;
  };

/** A UDP server as the command line describes it. */
export type UdpServerSpec =
  & Omit<UdpServerOptions, "allow" | "faults" | "capture">
  & OptionalParts;

/**
 * The TCP server options a spec stands for, loading only the parts it uses.
 *
 * @param spec The spec.
 * @returns The options for `serveTcp`.
 *
 * @example
 * ```ts
 * import { tcpServerOptions } from "./server_options.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const options = await tcpServerOptions({ port: 0, proxyProtocol: false });
 * strictEqual(options.proxy, undefined);
 * ```
 */
export async function tcpServerOptions(
  spec: TcpServerSpec,
): Promise<TcpServerOptions> {
  const { proxyProtocol, proxyFrom, allow, faults, capture, tls, ...plain } =
    spec;
  const options: TcpServerOptions = {
    ...plain,
    ...await optionalParts({ allow, faults, capture }),
  };
  if (tls !== undefined) {
    const { terminateTls } = await import("../lib/tls/mod.ts");
    options.tls = terminateTls(tls);
  }
  if (proxyProtocol) {
    const { proxyProtocol } = await import("../lib/proxy/mod.ts");
    options.proxy = proxyProtocol({
      from: proxyFrom === undefined ? undefined : await accessList(proxyFrom),
    });
  }
  return options;
}

/** A QUIC server as the command line describes it. */
export type QuicServerSpec =
  & Omit<QuicServerOptions, "allow" | "faults" | "capture">
  & OptionalParts;

/**
 * The QUIC server options a spec stands for, loading only the parts it uses.
 *
 * @param spec The spec.
 * @returns The options for `serveQuic`.
 *
 * @example
 * ```ts
 * import { quicServerOptions } from "./server_options.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const options = await quicServerOptions({ port: 0 });
 * strictEqual(options.faults, undefined);
 * ```
 */
export async function quicServerOptions(
  spec: QuicServerSpec,
): Promise<QuicServerOptions> {
  const { allow, faults, capture, ...plain } = spec;
  return { ...plain, ...await optionalParts({ allow, faults, capture }) };
}

/**
 * The UDP server options a spec stands for, loading only the parts it uses.
 *
 * @param spec The spec.
 * @returns The options for `serveUdp`.
 *
 * @example
 * ```ts
 * import { udpServerOptions } from "./server_options.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const options = await udpServerOptions({ port: 0 });
 * strictEqual(options.faults, undefined);
 * ```
 */
export async function udpServerOptions(
  spec: UdpServerSpec,
): Promise<UdpServerOptions> {
  const { allow, faults, capture, ...plain } = spec;
  return { ...plain, ...await optionalParts({ allow, faults, capture }) };
}

async function optionalParts(
  parts: OptionalParts,
): Promise<
  Pick<ServerOptions, "allow" | "capture"> & Pick<TcpServerOptions, "faults">
> {
  const options:
    & Pick<ServerOptions, "allow" | "capture">
    & Pick<TcpServerOptions, "faults"> = {};
  if (parts.allow !== undefined) options.allow = await accessList(parts.allow);
  if (parts.faults !== undefined) {
    const { faults } = await import("../lib/faults/mod.ts");
    options.faults = faults(parts.faults);
  }
  if (parts.capture !== undefined) {
    const { capture } = await import("../lib/capture/mod.ts");
    options.capture = capture(parts.capture);
  }
  return options;
}

async function accessList(ranges: string) {
  const { AccessList } = await import("../lib/policy/mod.ts");
  return AccessList.parse(ranges);
}
