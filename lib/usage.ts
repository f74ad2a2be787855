// Copyright 2026 the echolab authors. MIT license.
/**
 * The text of `--help`.
 *
 * @module
 */

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
  deno run --allow-net=127.0.0.1:8000 --unstable-net main.ts tcp [flags]
  deno run --allow-net=127.0.0.1 --unstable-net main.ts udp [flags]
  deno run --allow-net=127.0.0.1 --unstable-net main.ts all [flags]
  deno run --allow-net=127.0.0.1 --unstable-net main.ts send [flags] [message...]

Modes:
  tcp   answer each line X with "received msg: X" (127.0.0.1:8000)
  udp   answer each datagram, cut to --buffer-size bytes (127.0.0.1:6000)
  all   both servers in one process (--tcp-port, --udp-port)
  send  the client: send each message (or stdin's lines) and time the replies

Flags:
  --host ADDRESS          address to bind, IPv4, IPv6 or name     [127.0.0.1]
  --port PORT             port for tcp or udp; 0 picks a free one [8000 / 6000]
  --tcp-port PORT         TCP port in mode all                    [8000]
  --udp-port PORT         UDP port in mode all                    [6000]
  --timeout SECONDS       TCP idle time allowed without a complete line;
                          0 = never                               [10]
  --lifetime SECONDS      TCP connection lifetime, whatever it does;
                          0 = no limit                            [0]
  --max-line BYTES        longest TCP line; a longer one closes
                          its connection                          [65536]
  --max-connections N     TCP connections at once, the next is
                          closed at once; 0 = no limit            [0]
  --max-per-source N      TCP connections at once from one IP, the
                          next is closed at once; 0 = no limit    [0]
  --allow CIDR[,CIDR...]  serve only these source networks, e.g.
                          127.0.0.0/8,::1/128; others: TCP closed,
                          UDP dropped                             [everyone]
  --buffer-size BYTES     UDP bytes kept per datagram, 1-65507    [5]
  --udp-rate N            UDP datagrams answered per second per
                          source IP, excess dropped; 0 = no limit [0]
  --no-loop-guard         answer UDP from service ports (7, 19, 53,
                          123, ...) and from the server itself too
  --prefix TEXT           text before each echoed line  ["received msg: "]
  --raw                   RFC 862 echo: bytes back unchanged, no prefix
  --log-level LEVEL       debug, info, warning or error           [info]
  --log-format FORMAT     text or json (one object per line)      [text]
  --trace                 log every network event (accept, read, write,
                          FIN, reset, timeout, close; each datagram and
                          reply) with the time since start, whatever
                          --log-level says
  --workers N|auto        TCP accept loops sharing the port (SO_REUSEPORT,
                          Linux), one per CPU with auto; needs
                          --allow-read for echolab's files         [1]
  --tls-cert FILE         serve TCP over TLS with this PEM certificate
  --tls-key FILE          ... and this PEM key (both need --allow-read)

Client flags (send):
  --udp                   send datagrams instead of TCP lines
  --host ADDRESS, --port PORT   the server       [127.0.0.1, 8000 / 6000]
  --count N               send the message list N times             [1]
  --interval SECONDS      pause between sends                       [0]
  --wait SECONDS          how long to wait for each UDP reply       [1]
  --tls                   talk TLS to the TCP server
  --ca FILE               trust this PEM certificate (self-signed server)
  Exit 0 when every message was answered, 1 when one was lost or nothing
  listens, 2 for usage errors.
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
