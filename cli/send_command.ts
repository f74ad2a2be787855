// Copyright 2026 the echolab authors. MIT license.
/**
 * `main.ts send`: the built-in client on the command line, like `nc` with a
 * stopwatch.
 *
 * @module
 */

import { formatAddress } from "../lib/serving/address.ts";
import { type ClientSummary, sendMessages } from "../lib/client/client.ts";
import type { TlsPeerInfo } from "../lib/client/mod.ts";
import type { SendCommandLine } from "./command_line.ts";
import { errorMessage, netGrant } from "../lib/serving/errors.ts";
import { FlagFileError, readFlagFile } from "./flag_file.ts";
import {
  CaptureError,
  type PacketCapture,
  startCapture,
} from "../lib/capture/packet_capture.ts";
import { sequenceDiagram } from "../lib/capture/packet_format.ts";
import type { Packet, PacketEndpoint } from "../lib/capture/pcap_reader.ts";
import { CAPTURE_SETTLE } from "../lib/capture/server_capture.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

let stdoutClosed = false;

function print(text: string): void {
  // A reader that went away (`send … | head -1`) ends the output, quietly.
  if (stdoutClosed) return;
  const bytes = encoder.encode(`${text}\n`);
  let written = 0;
  try {
    while (written < bytes.length) {
      written += Deno.stdout.writeSync(bytes.subarray(written));
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
    stdoutClosed = true;
  }
}

function fail(text: string): number {
  Deno.stderr.writeSync(encoder.encode(`echolab: ${text}\n`));
  return 1;
}

function* repeat(messages: string[], count: number): Generator<string> {
  for (let round = 0; round < count; round++) yield* messages;
}

async function* stdinLines(): AsyncGenerator<string> {
  let rest = "";
  for await (
    const text of Deno.stdin.readable.pipeThrough(new TextDecoderStream())
  ) {
    rest += text;
    let newline;
    while ((newline = rest.indexOf("\n")) !== -1) {
      yield rest.slice(0, newline).replace(/\r$/, "");
      rest = rest.slice(newline + 1);
    }
  }
  if (rest !== "") yield rest;
}

function milliseconds(value: number): string {
  return value.toFixed(3);
}

/**
 * Runs the client as the command line asks and prints each reply, each loss,
 * and a summary.
 *
 * @param commandLine The checked command line, mode `send`.
 * @returns The exit code: 0 when everything was answered, 1 when something
 * was lost or the server could not be reached.
 *
 * @example
 * ```ts ignore
 * import { parseCommandLine } from "./command_line.ts";
 * import { send } from "./send_command.ts";
 *
 * const commandLine = parseCommandLine(["send", "hello"]);
 * if (commandLine.action === "send") Deno.exit(await send(commandLine));
 * ```
 */
export async function send(commandLine: SendCommandLine): Promise<number> {
  const transport = commandLine.udp ? "udp" : commandLine.quic ? "quic" : "tcp";
  const hostname = commandLine.hostname;
  const port = commandLine.port;
  const path = commandLine.unix;
  const address = path === undefined
    ? formatAddress({ hostname, port })
    : `unix:${path}`;
  let caCerts: string[] | undefined;
  if (commandLine.ca !== undefined) {
    try {
      caCerts = [await readFlagFile("--ca", commandLine.ca)];
    } catch (error) {
      if (error instanceof FlagFileError) return fail(error.message);
      throw error;
    }
  }
  if (commandLine.compare) {
    if (commandLine.messages.length === 0) {
      return fail("--compare sends the messages given: add one or more");
    }
    const { compare } = await import("./compare.ts");
    return await compare(commandLine, { caCerts, print });
  }
  const messages = commandLine.messages.length > 0
    ? repeat(commandLine.messages, commandLine.count)
    : stdinLines();
  let summary: ClientSummary;
  let lastTls: string | undefined;
  const tally = new Map<string, number>();
  let capture: SessionCapture | undefined;
  if (commandLine.capture) {
    try {
      capture = await SessionCapture.start(commandLine, transport);
    } catch (error) {
      if (error instanceof CaptureError) return fail(error.message);
      throw error;
    }
  }
  try {
    summary = await sendMessages(messages, {
      transport,
      hostname,
      port,
      // The library counts milliseconds; the command line, seconds.
      interval: Math.round(commandLine.interval * 1000),
      wait: Math.round(commandLine.wait * 1000),
      path,
      streams: commandLine.streams,
      datagram: commandLine.datagram,
      onQuic: (info) =>
        print(
          `quic: handshake ${milliseconds(info.handshake)} ms, alpn ${
            info.alpn || "none"
          }, datagrams up to ${info.maxDatagramSize} bytes`,
        ),
      tls: commandLine.tls,
      caCerts,
      serverName: commandLine.sni,
      alpn: commandLine.alpn,
      onTls: (info) => {
        // Once, and again only when another server answers (--reconnect).
        const text = tlsText(info);
        if (text === lastTls) return;
        lastTls = text;
        print(text);
      },
      reconnect: commandLine.reconnect,
      onBanner: (line) => print(`banner: ${JSON.stringify(line)}`),
      proxyProtocol: commandLine.sendProxy === undefined
        ? undefined
        : commandLine.sendProxy === "v1"
        ? 1
        : 2,
    }, (event) => {
      if (event.reply !== undefined && commandLine.tally) {
        const prefix = replyPrefix(decoder.decode(event.reply), event.message);
        tally.set(prefix, (tally.get(prefix) ?? 0) + 1);
      }
      if (event.reply === undefined) {
        print(
          transport === "udp"
            ? `no reply to ${
              JSON.stringify(event.message)
            } within ${commandLine.wait} s: lost`
            : `no reply to ${
              JSON.stringify(event.message)
            }: lost (the connection ended first)`,
        );
      } else {
        print(
          `${decoder.decode(event.reply)}  time=${milliseconds(event.rtt!)} ms`,
        );
        if (event.from !== undefined) {
          print(
            `reply from ${event.from}, not ${address}: the server or a NAT answered from another address`,
          );
        }
      }
    });
  } catch (error) {
    // The diagram first, before the error line: it shows why.
    await capture?.print();
    if (
      error instanceof Deno.errors.ConnectionRefused ||
      (path !== undefined && error instanceof Deno.errors.NotFound)
    ) {
      return fail(
        `nothing is listening on ${address}: start it with deno task ${transport}${
          path === undefined ? "" : ` --unix ${path}`
        }`,
      );
    }
    if (error instanceof Deno.errors.NotCapable && path !== undefined) {
      return fail(
        `Cannot reach ${address}: no permission; re-run with --allow-read=${path} --allow-write=${path} --allow-net=unix:${path}`,
      );
    }
    if (error instanceof Deno.errors.NotCapable) {
      // A UDP client binds port 0 on the host, which needs the host grant.
      const grant = netGrant({
        transport: transport === "tcp" ? "tcp" : "udp",
        hostname,
        port,
      });
      return fail(
        `Cannot reach ${address}: no network permission; re-run with --allow-net=${grant}`,
      );
    }
    const hint = commandLine.tls &&
        /self.signed|issuer|unable to (get|verify)/i.test(errorMessage(error))
      ? " (a self-signed server needs --ca with its certificate)"
      : "";
    return fail(`Cannot talk to ${address}: ${errorMessage(error)}${hint}`);
  }
  await capture?.print();
  printSummary(summary, address, transport, {
    tls: commandLine.tls,
    datagram: commandLine.datagram,
  });
  if (commandLine.tally) printTally(tally);
  return summary.lost > 0 ? 1 : 0;
}

/**
 * The text of a reply before the part that echoes the message: the
 * server's prefix (`pod-a: ` when it names its instance). The echoed part is
 * the longest start of the message's last line that the reply ends with
 * (a UDP server may have cut the message).
 */
function replyPrefix(reply: string, message: string): string {
  const line = message.slice(message.lastIndexOf("\n") + 1);
  for (let length = line.length; length > 0; length--) {
    if (reply.endsWith(line.slice(0, length))) {
      return reply.slice(0, reply.length - length);
    }
  }
  return reply;
}

function printTally(tally: Map<string, number>): void {
  print("--- tally: replies by prefix ---");
  const rows = [...tally].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const width = Math.max(7, ...rows.map(([, count]) => String(count).length));
  print(`${"replies".padStart(width)}  prefix`);
  for (const [prefix, count] of rows) {
    print(`${String(count).padStart(width)}  ${JSON.stringify(prefix)}`);
  }
}

/** The session's packets, captured while `send` runs (`--capture`). */
class SessionCapture {
  #capture: PacketCapture;
  #packets: Packet[];
  #server: PacketEndpoint;
  #quic: boolean;

  private constructor(
    capture: PacketCapture,
    packets: Packet[],
    server: PacketEndpoint,
    quic: boolean,
  ) {
    this.#capture = capture;
    this.#packets = packets;
    this.#server = server;
    this.#quic = quic;
  }

  /** Starts tcpdump on the server's port; resolves once it listens. */
  static async start(
    commandLine: SendCommandLine,
    transport: "tcp" | "udp" | "quic",
  ): Promise<SessionCapture> {
    const packets: Packet[] = [];
    const hostname = commandLine.hostname === "localhost"
      ? "127.0.0.1"
      : commandLine.hostname;
    const server = { hostname, port: commandLine.port };
    const capture = await startCapture({
      hostname,
      tcpPorts: transport === "tcp" ? [server.port] : [],
      udpPorts: transport !== "tcp" ? [server.port] : [],
      file: commandLine.captureFile,
      onPacket: (packet) => {
        const quoted = packet.icmp;
        if (
          packet.protocol !== "icmp" ||
          (quoted !== undefined && quoted.destination.port === server.port)
        ) packets.push(packet);
      },
    });
    return new SessionCapture(capture, packets, server, transport === "quic");
  }

  /** Stops capturing, once the last packets had time to arrive, and prints the diagram. */
  async print(): Promise<void> {
    await delay(CAPTURE_SETTLE * 2);
    await this.#capture.stop();
    const server = this.#server;
    const client = this.#packets.find((packet) =>
      packet.protocol !== "icmp" &&
      !(packet.source.hostname === server.hostname &&
        packet.source.port === server.port)
    )?.source;
    if (client === undefined) {
      print(`--- no packets captured on ${this.#capture.interface} ---`);
      return;
    }
    print(`--- packets on ${this.#capture.interface} ---`);
    const diagram = sequenceDiagram(this.#packets, { client, server }, {
      quic: this.#quic,
    });
    for (const line of diagram) {
      print(line);
    }
  }
}

function delay(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}

function printSummary(
  summary: ClientSummary,
  address: string,
  transport: "tcp" | "udp" | "quic",
  options: { tls: boolean; datagram: boolean },
): void {
  const unit = transport === "udp" || options.datagram ? "datagrams" : "lines";
  print(
    `--- ${address} ${transport}${options.tls ? " (TLS)" : ""}${
      options.datagram ? " datagrams" : ""
    } ---`,
  );
  const loss = summary.sent === 0
    ? ""
    : ` (${(summary.lost / summary.sent * 100).toFixed(1)}% loss${
      summary.lost === 0
        ? ""
        : transport === "udp"
        ? ": UDP does not retransmit"
        : options.datagram
        ? ": QUIC does not retransmit datagrams"
        : ""
    })`;
  const ignored = [
    summary.duplicates > 0
      ? `; ${plural(summary.duplicates, "duplicate", "duplicates")}`
      : "",
    summary.reordered > 0 ? `; ${summary.reordered} reordered` : "",
    summary.late > 0
      ? `; ${plural(summary.late, "late reply", "late replies")} ignored`
      : "",
    summary.otherSource > 0
      ? `; ${
        plural(summary.otherSource, "reply", "replies")
      } from another address`
      : "",
    summary.unexpected > 0
      ? `; ${
        plural(summary.unexpected, "unexpected reply", "unexpected replies")
      } ignored`
      : "",
  ].join("");
  print(
    `${summary.sent} ${unit} sent, ${summary.answered} answered, ${summary.lost} lost${loss}${ignored}; ${summary.bytesOut} bytes sent, ${summary.bytesIn} bytes received`,
  );
  if (summary.endedEarly) {
    print(
      `the server ended the connection after ${summary.answered} ${
        summary.answered === 1 ? "reply" : "replies"
      } (${
        summary.endedBy === "reset" ? "reset by peer" : "closed by peer"
      }): ${summary.lost} lost`,
    );
  }
  const rtts = summary.rtts;
  const parts: string[] = [];
  if (rtts.length > 0) {
    const average = rtts.reduce((sum, rtt) => sum + rtt, 0) / rtts.length;
    parts.push(
      `rtt min/avg/max = ${milliseconds(Math.min(...rtts))}/${
        milliseconds(average)
      }/${milliseconds(Math.max(...rtts))} ms`,
    );
  }
  if (summary.connectTime !== undefined) {
    parts.push(`connect ${milliseconds(summary.connectTime)} ms`);
  }
  if (
    summary.seconds !== undefined && summary.seconds > 0 && summary.bytesIn > 0
  ) {
    parts.push(
      `${Math.round(summary.bytesIn / summary.seconds)} bytes/s received`,
    );
  }
  if (parts.length > 0) print(parts.join(", "));
}

/** The handshake's outcome as `send` prints it before the replies. */
function tlsText(info: TlsPeerInfo): string {
  return [
    `tls: ${info.version}, cipher ${info.cipher}, alpn ${
      info.alpn === "" ? "none" : info.alpn
    }`,
    `certificate: ${info.subject === "" ? "no subject" : info.subject}${
      info.names.length === 0 ? "" : `; names ${info.names.join(", ")}`
    }`,
  ].join("\n");
}
