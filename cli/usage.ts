// Copyright 2026 the echolab authors. MIT license.
/**
 * The text of `--help`.
 *
 * @module
 */

import {
  DEFAULT_BUFFER_SIZE,
  DEFAULT_HOSTNAME,
  DEFAULT_MAX_LINE,
  DEFAULT_PREFIX,
  DEFAULT_TCP_PORT,
  DEFAULT_TIMEOUT,
  DEFAULT_UDP_PORT,
  MAX_DATAGRAM_SIZE,
} from "../lib/serving/defaults.ts";

const HOST = DEFAULT_HOSTNAME;
const TCP = DEFAULT_TCP_PORT;
const UDP = DEFAULT_UDP_PORT;

/** A flag's description with its default in brackets at column 67. */
function dflt(text: string, value: string | number): string {
  return `${text.padEnd(66)}[${value}]`;
}

/**
 * Usage of `main.ts`: every flag, its default, and examples. README's flag
 * table says the same.
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
  `echolab: TCP and UDP echo servers for learning and testing networks

Usage:
  deno run --allow-net=${HOST}:${TCP} --unstable-net main.ts tcp [flags]
  deno run --allow-net=${HOST} --unstable-net main.ts udp [flags]
  deno run --allow-net=${HOST} --unstable-net main.ts all [flags]
  deno run --allow-net=${HOST} --unstable-net main.ts send [flags] [message...]

Modes:
  tcp   answer each line X with "${DEFAULT_PREFIX}X" (${HOST}:${TCP})
  udp   answer each datagram, cut to --buffer-size bytes (${HOST}:${UDP})
  all   both servers in one process (--tcp-port, --udp-port)
  send  the client: send each message (or stdin's lines) and time the replies

Flags:
${dflt("  --host ADDRESS          address to bind, IPv4, IPv6 or name", HOST)}
${
    dflt(
      "  --port PORT             port for tcp or udp; 0 picks a free one",
      `${TCP} / ${UDP}`,
    )
  }
${dflt("  --tcp-port PORT         TCP port in mode all", TCP)}
${dflt("  --udp-port PORT         UDP port in mode all", UDP)}
  --timeout SECONDS       TCP idle time allowed without a complete line;
${dflt("                          0 = never", DEFAULT_TIMEOUT)}
  --lifetime SECONDS      TCP connection lifetime, whatever it does;
                          0 = no limit                            [0]
  --max-line BYTES        longest TCP line; a longer one closes
${dflt("                          its connection", DEFAULT_MAX_LINE)}
  --max-connections N     TCP connections at once, the next is
                          closed at once; 0 = no limit            [0]
  --max-per-source N      TCP connections at once from one IP, the
                          next is closed at once; 0 = no limit    [0]
  --allow CIDR[,CIDR...]  serve only these source networks, e.g.
                          127.0.0.0/8,::1/128; others: TCP closed,
                          UDP dropped                             [everyone]
${
    dflt(
      `  --buffer-size BYTES     UDP bytes kept per datagram, 1-${MAX_DATAGRAM_SIZE}`,
      DEFAULT_BUFFER_SIZE,
    )
  }
                          (with --raw: ${MAX_DATAGRAM_SIZE}, the whole datagram)
  --udp-rate N            UDP datagrams answered per second per
                          source IP, excess dropped; 0 = no limit [0]
  --no-loop-guard         answer UDP from service ports (7, 19, 53,
                          123, ...) and from the server itself too
  --prefix TEXT           text before each echoed line  ["${DEFAULT_PREFIX}"]
                          placeholders: {instance}, {peer} (the client's
                          host:port), {local} (the server's); {{ and }}
                          are braces
  --instance NAME         what {instance} stands for    [the host name,
                          which needs --allow-sys=hostname]
  --raw                   RFC 862 echo: bytes back unchanged, no prefix
  --http-port PORT        serve /healthz, /readyz, /metrics, /stats on
                          this HTTP port, 0 picks a free one; needs its
                          own --allow-net grant                   [off]
${dflt("  --http-host ADDRESS     address of the HTTP port", HOST)}
  --drain SECONDS         on SIGTERM or SIGINT, /readyz answers 503 at
                          once and the servers keep answering this
                          long before they stop                   [0]
  --proxy-protocol        TCP (the TCP side in all): every connection
                          starts with a PROXY protocol v1 or v2 header,
                          whose client is the peer from then on; with
                          --tls-cert, TLS follows the header
  --proxy-from CIDR[,CIDR...]  with --proxy-protocol: only these peers
                          (the load balancers) may connect  [everyone]
  --log-level LEVEL       debug, info, warning or error           [info]
  --log-format FORMAT     text or json (one object per line)      [text]
  --trace                 log every network event (accept, read, write,
                          FIN, reset, timeout, close; each datagram and
                          reply) with the time since start, whatever
                          --log-level says
  --capture               capture the servers' own packets with tcpdump and
                          trace each one (implies --trace); needs
                          --allow-run=tcpdump and root or CAP_NET_RAW
  --capture-file FILE     also write them as a pcap file (tcp or udp;
                          needs --allow-write=FILE)
  --workers N|auto        TCP accept loops sharing the port (SO_REUSEPORT,
                          Linux), one per CPU with auto; needs
                          --allow-read for echolab's files         [1]
  --tls-cert FILE         serve TCP over TLS with this PEM certificate
  --tls-key FILE          ... and this PEM key (both need --allow-read)

Faults on purpose (off by default; the start log names them as a warning):
  --delay MS|MIN-MAX      every reply waits MS, or a time drawn from
                          MIN-MAX, up to 60000 ms; UDP replies may
                          overtake each other
  --chunk BYTES           TCP: replies written in pieces of BYTES
  --chunk-delay MS        TCP: pause between two pieces           [0]
  --close-after N         TCP: close after answering N lines
  --half-close-after N    TCP: shut down sending after N replies, keep
                          reading, close when the client does
  --stall-after N         TCP: stop reading after N replies
  --banner TEXT           TCP: send TEXT and a newline first, on accept
  --drop RATE             leave this fraction (0-1) of TCP lines or UDP
                          datagrams unanswered
  --duplicate RATE        UDP: send this fraction (0-1) of replies twice
  --seed N                seed of every random fault choice (0 to
                          4294967295)            [random, logged at start]
  --max-delayed BYTES     UDP: most bytes of replies waiting out --delay;
                          past it datagrams are dropped         [1048576]

Client flags (send):
  --udp                   send datagrams instead of TCP lines
  --host ADDRESS, --port PORT   the server       [${HOST}, ${TCP} / ${UDP}]
  --count N               send the message list N times             [1]
  --interval SECONDS      pause between sends                       [0]
  --wait SECONDS          how long to wait for each UDP reply       [1]
  --tls                   talk TLS to the TCP server
  --ca FILE               trust this PEM certificate (self-signed server)
  --proxy-protocol v1|v2  send a PROXY header naming the client's own
                          addresses first, as a load balancer would
  --capture               capture the session's packets with tcpdump and
                          print them as a sequence diagram
  --capture-file FILE     also write them as a pcap file
  --reconnect             a new connection (or UDP socket) per message,
                          so that a load balancer spreads them
  --tally                 after the summary, count the replies by their
                          prefix (the instance, when the prefix names it)
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
  deno run --allow-net=127.0.0.1 --unstable-net main.ts udp --buffer-size 1024
  deno run --allow-net=[::1]:9000 --unstable-net main.ts tcp --host ::1 --port 9000
`;
