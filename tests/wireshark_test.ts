// Copyright 2026 the echolab authors. MIT license.
// echolab's packet descriptions against Wireshark's own reading (tshark) of
// the same pcap, made in a network namespace of the test's own, where ECN
// is on and the loopback MTU is Ethernet's.
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { PcapReader } from "../lib/capture/pcap_reader.ts";
import { PacketDescriber } from "../lib/capture/packet_format.ts";
import { isRoot } from "../deploy/containers.ts";
import { decoder } from "./net_client.ts";
import { ensureCommand } from "./system_package.ts";

const skipped = !(await isRoot())
  ? "skipped: a network namespace and a capture need root"
  : (await ensureCommand("tcpdump", "tcpdump")) ??
    (await ensureCommand("tshark", "tshark")) ??
    (await ensureCommand("unshare", "util-linux")) ??
    (await ensureCommand("ip", "iproute2"));

/** Traffic from inside the namespace, by Deno itself (`deno eval`). */
const TRAFFIC = `
const closed = { hostname: "127.0.0.1", port: 9 };
// A SYN to a closed port, with ECE and CWR (ECN is on): RST, ACK back.
await Deno.connect(closed).then((conn) => conn.close(), () => {});
// A 3,000-byte datagram: three IPv4 fragments at MTU 1500, and the ICMP
// port unreachable that quotes the first.
const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
await socket.send(new Uint8Array(3000).fill(120), { transport: "udp", ...closed });
await new Promise((resolve) => setTimeout(resolve, 200));
socket.close();
`;

/** Wireshark's flag names, in the order its Info column lists them. */
const FLAG_LETTERS: [string, string][] = [
  ["F", "FIN"],
  ["S", "SYN"],
  ["R", "RST"],
  ["P", "PSH"],
  ["A", "ACK"],
  ["U", "URG"],
  ["E", "ECE"],
  ["C", "CWR"],
  ["N", "AE"],
];

async function run(command: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(command, { args, stderr: "piped" })
    .output();
  const said = decoder.decode(output.stdout);
  strictEqual(output.code, 0, decoder.decode(output.stderr));
  return said;
}

Deno.test({
  name:
    `capture: packets read as Wireshark reads them: RST seq 1, ECE and CWR, fragments reassembled, ICMP without ports${
      skipped === undefined ? "" : ` (${skipped})`
    }`,
  ignore: skipped !== undefined,
  async fn() {
    const directory = (await run("mktemp", ["-d"])).trim();
    const file = `${directory}/session.pcap`;
    try {
      await run("unshare", [
        "-n",
        "bash",
        "-c",
        [
          "set -e",
          "ip link set lo up",
          "ip link set lo mtu 1500",
          "sysctl -qw net.ipv4.tcp_ecn=1",
          `tcpdump -i lo -n -U --immediate-mode -s 0 -w '${file}' 2>/dev/null & capture=$!`,
          `for i in $(seq 50); do [ -s '${file}' ] && break; sleep 0.1; done`,
          "sleep 0.3",
          `'${Deno.execPath()}' eval --unstable-net "$0"`,
          "sleep 0.3",
          "kill $capture; wait $capture || true",
        ].join("\n"),
        TRAFFIC,
      ]);
      // echolab's reading.
      const packets = new PcapReader().push(await Deno.readFile(file));
      const describer = new PacketDescriber();
      const ours = packets.map((packet) => describer.describe(packet).text);
      strictEqual(ours.length, 4, ours.join("\n"));
      // Wireshark's reading, frame by frame (fragments are frames of their
      // own there; the last one carries the reassembled datagram).
      const fields = [
        "tcp.flags.str",
        "tcp.seq",
        "tcp.ack",
        "udp.length",
        "ip.fragment.count",
        "icmp.type",
        "icmp.code",
      ];
      const rows = (await run("tshark", [
        "-r",
        file,
        "-T",
        "fields",
        "-E",
        "separator=/t",
        "-E",
        "occurrence=f",
        ...fields.flatMap((field) => ["-e", field]),
      ])).trim().split("\n").map((line) => line.split("\t"));
      const theirs: string[] = [];
      for (const [flags, seq, ack, udpLength, count, type, code] of rows) {
        if (flags) {
          const names = FLAG_LETTERS.filter(([letter]) =>
            flags.includes(letter)
          ).map(([, name]) => name);
          theirs.push(
            `[${names.join(", ")}] seq ${seq}${
              names.includes("ACK") ? ` ack ${ack}` : ""
            }`,
          );
        } else if (udpLength && type === "") {
          theirs.push(
            `udp len ${Number(udpLength) - 8}${
              count ? ` (${count} IPv4 fragments)` : ""
            }`,
          );
        } else if (type === "3" && code === "3") {
          theirs.push("icmp port unreachable");
        }
      }
      // Compared without what only one side shows (echolab: windows and
      // payloads; tshark: nothing else asked).
      const comparable = ours.map((text) =>
        text.replace(/ win \d+/, "").replace(/ ".*$/, "").replace(
          /^(icmp port unreachable).*$/,
          "$1",
        )
      );
      deepStrictEqual(comparable, theirs);
      deepStrictEqual(comparable, [
        "[SYN, ECE, CWR] seq 0",
        "[RST, ACK] seq 1 ack 1",
        "udp len 3000 (3 IPv4 fragments)",
        "icmp port unreachable",
      ]);
      // The ICMP error names the datagram it quotes, ports and all; its own
      // ends are hosts.
      ok(
        /^icmp port unreachable \(udp 127\.0\.0\.1:\d+ > 127\.0\.0\.1:9\)$/
          .test(ours[3]!),
        ours[3],
      );
    } finally {
      await run("rm", ["-rf", directory]);
    }
  },
});
