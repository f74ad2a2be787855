// Copyright 2026 the echolab authors. MIT license.
/**
 * The text of `--help`.
 *
 * @module
 */

import {
  DEFAULT_HOSTNAME,
  DEFAULT_HTTP_PORT,
  DEFAULT_PREFIX,
  DEFAULT_QUIC_PORT,
  DEFAULT_TCP_PORT,
  DEFAULT_UDP_PORT,
} from "../lib/serving/defaults.ts";
import { FLAG_HELP, type FlagHelp } from "./command_line.ts";

const HOST = DEFAULT_HOSTNAME;
const TCP = DEFAULT_TCP_PORT;
const UDP = DEFAULT_UDP_PORT;
const QUIC = DEFAULT_QUIC_PORT;
const HTTP = DEFAULT_HTTP_PORT;
/** Where a flag's words start, and where its default's brackets start. */
const TEXT_COLUMN = 26;
const DEFAULT_COLUMN = 66;

/** Words wrapped to lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines;
}

/** A section of flags: each flag, its words wrapped, its default last. */
function section(name: FlagHelp["section"]): string {
  const out: string[] = [];
  for (const flag of FLAG_HELP.filter((help) => help.section === name)) {
    const head = `  --${flag.name}${flag.value ? ` ${flag.value}` : ""}`;
    const lines = wrap(flag.text, DEFAULT_COLUMN - TEXT_COLUMN - 2);
    if (flag.default !== undefined) {
      const last = lines.length - 1;
      const room = DEFAULT_COLUMN - TEXT_COLUMN;
      if (lines[last]!.length < room) {
        lines[last] = `${lines[last]!.padEnd(room)}[${flag.default}]`;
      } else lines.push(`${"".padEnd(room)}[${flag.default}]`);
    }
    const pad = "".padEnd(TEXT_COLUMN);
    if (head.length < TEXT_COLUMN) {
      out.push(`${head.padEnd(TEXT_COLUMN)}${lines[0]}`);
    } else out.push(head, `${pad}${lines[0]}`);
    for (const line of lines.slice(1)) out.push(`${pad}${line}`);
  }
  return out.join("\n");
}

/**
 * Usage of `main.ts`: every flag, its default, and examples, made from the
 * flag table the parser reads. README's flag tables say the same.
 *
 * @example
 * ```ts
 * import { USAGE } from "./usage.ts";
 * import { ok } from "node:assert/strict";
 *
 * ok(USAGE.includes("--buffer-size"));
 * ```
 */
export const USAGE =
  `echolab: TCP, UDP and QUIC echo servers for learning and testing networks

Usage:
  deno run --allow-net=${HOST}:${TCP} --unstable-net main.ts tcp [flags]
  deno run --allow-net=${HOST} --unstable-net main.ts udp [flags]
  deno run --allow-net=${HOST} --unstable-net main.ts quic [flags]
  deno run --allow-net=${HOST} --unstable-net main.ts all [flags]
  deno run --allow-net=${HOST} --allow-run=tcpdump,setpriv --unstable-net main.ts lab [flags]
  deno run --allow-net=${HOST} --unstable-net main.ts send [flags] [message...]

Modes:
  tcp   answer each line X with "${DEFAULT_PREFIX}X" (${HOST}:${TCP})
  udp   answer each datagram, cut to --buffer-size bytes (${HOST}:${UDP})
  quic  QUIC (${HOST}:${QUIC}, UDP): each stream a line echo, each datagram
        answered like UDP; an ephemeral certificate unless --tls-cert
  all   the three servers in one process (--tcp-port, --udp-port, --quic-port)
  lab   all, plus the lab: open http://${HOST}:${HTTP}/lab to watch the packets
        and the servers' events live, and replay the seed's sessions
  send  the client: send each message (or stdin's lines) and time the replies

Flags:
${section("server")}

Faults on purpose (off by default; the start log names them as a warning):
${section("faults")}

Client flags (send):
${section("client")}
  Exit 0 when every message was answered, 1 when one was lost or nothing
  listens, 2 for usage errors.

General flags:
  -h, --help              print this help and exit
  -V, --version           print the version and exit

Seconds may have decimals (0.5). Logs go to stderr. SIGINT or SIGTERM stops
gracefully (exit 0); a second signal stops at once. SIGUSR1 prints the
counters; they are printed at shutdown too. --max-connections and
--max-per-source count the connections of each accept loop (--workers).

The UDP server needs --allow-net for its clients' host (Deno checks every
reply's destination), so grant the host, not just the port.

Examples:
  deno task tcp                      # then: nc 127.0.0.1 8000
  deno task send hello world         # or: deno task send --udp "hello world"
  deno task udp                      # then: nc -u 127.0.0.1 6000
  deno task quic                     # logs its certificate's SHA-256
  deno task lab                      # then open http://127.0.0.1:9090/lab
  deno run --allow-net=127.0.0.1 --unstable-net main.ts udp --buffer-size 1024
  deno run --allow-net=[::1]:9000 --unstable-net main.ts tcp --host ::1 --port 9000
`;
