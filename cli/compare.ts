// Copyright 2026 the echolab authors. MIT license.
/**
 * `send --compare`: the same lines over TCP, TCP+TLS and QUIC, one after
 * another, and one table of what each cost: the connection (TCP's
 * handshake, TLS's on top, QUIC's with TLS inside), and the round trips.
 *
 * @module
 */

import { type ClientOptions, sendMessages } from "../lib/client/client.ts";
import type { SendCommandLine } from "./command_line.ts";

/** One transport's row. */
interface Row {
  transport: string;
  port: number;
  sent: number;
  answered: number;
  connect?: number;
  rtts: number[];
  error?: string;
}

function milliseconds(value: number | undefined): string {
  return value === undefined ? "-" : value.toFixed(3);
}

/**
 * Runs the comparison and prints its table.
 *
 * @param commandLine The checked command line, with `compare`.
 * @param options The trusted certificates and a printer.
 * @returns 0 when every line was answered on every transport, else 1.
 *
 * @example
 * ```ts ignore
 * const code = await compare(commandLine, { caCerts, print: console.log });
 * ```
 */
export async function compare(
  commandLine: SendCommandLine,
  options: { caCerts?: string[]; print(line: string): void },
): Promise<number> {
  const lines = commandLine.messages.flatMap((message) =>
    Array.from({ length: commandLine.count }, () => message)
  );
  const base: Omit<ClientOptions, "transport" | "port"> = {
    hostname: commandLine.hostname,
    interval: Math.round(commandLine.interval * 1000),
    caCerts: options.caCerts,
    serverName: commandLine.sni,
    alpn: commandLine.alpn,
  };
  const runs: [string, number, Partial<ClientOptions>][] = [
    ["tcp", commandLine.tcpPort, { transport: "tcp" }],
    ...(commandLine.tlsPort === undefined
      ? []
      : [["tcp+tls", commandLine.tlsPort, { transport: "tcp", tls: true }]] as [
        string,
        number,
        Partial<ClientOptions>,
      ][]),
    ["quic", commandLine.quicPort, { transport: "quic" }],
  ];
  const rows: Row[] = [];
  for (const [transport, port, chosen] of runs) {
    const row: Row = { transport, port, sent: 0, answered: 0, rtts: [] };
    const send = (messages: string[]) =>
      sendMessages(
        messages,
        { ...base, ...chosen, port } as ClientOptions,
        () => {},
      );
    try {
      // A first connection warms both ends up (code loaded, JIT): the
      // table shows the second, the network's and the protocol's cost.
      await send(["warm-up"]);
      const summary = await sendMessages(lines, {
        ...base,
        ...chosen,
        port,
      } as ClientOptions, () => {});
      row.sent = summary.sent;
      row.answered = summary.answered;
      row.connect = summary.connectTime;
      row.rtts = summary.rtts;
    } catch (error) {
      row.error = error instanceof Error ? error.message : String(error);
    }
    rows.push(row);
  }
  const table = [
    ["transport", "port", "answered", "connect ms", "rtt min/avg/max ms"],
    ...rows.map((row) => [
      row.transport,
      String(row.port),
      row.error === undefined ? `${row.answered}/${row.sent}` : "failed",
      milliseconds(row.connect),
      row.error !== undefined ? row.error : row.rtts.length === 0 ? "-" : [
        Math.min(...row.rtts),
        row.rtts.reduce((sum, rtt) => sum + rtt, 0) / row.rtts.length,
        Math.max(...row.rtts),
      ].map((value) => value.toFixed(3)).join("/"),
    ]),
  ];
  const widths = table[0]!.map((_, column) =>
    Math.max(...table.map((cells) => cells[column]!.length))
  );
  for (const cells of table) {
    options.print(
      cells.map((cell, column) => cell.padEnd(widths[column]!)).join("  ")
        .trimEnd(),
    );
  }
  options.print(
    "connect: TCP's handshake; with TLS, its handshake too; QUIC: its handshake, TLS inside (each on a second connection, after one that warmed both ends up)",
  );
  return rows.every((row) =>
      row.error === undefined && row.answered === row.sent
    )
    ? 0
    : 1;
}
