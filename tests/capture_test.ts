// Copyright 2026 the echolab authors. MIT license.
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { PcapReader } from "../lib/capture/pcap_reader.ts";
import { serveTcp } from "../tcp.ts";
import { serveUdp } from "../udp.ts";
import { freePort, MainProcess, runMain } from "./cli_process.ts";
import { decoder, encoder, readText, REPLY, writeAll } from "./net_client.ts";
import { ensureCommand } from "./system_package.ts";
import { captureLogs } from "./log_capture.ts";
import { capture as captureOf } from "../lib/capture/mod.ts";
import { faults } from "../lib/faults/mod.ts";

async function whoami(): Promise<string> {
  const { stdout } = await new Deno.Command("id", { args: ["-u"] }).output();
  return decoder.decode(stdout).trim();
}

// Capturing needs tcpdump and the right to capture (root here).
const skipped = (await whoami()) !== "0"
  ? "skipped: capturing needs root or CAP_NET_RAW"
  : await ensureCommand("tcpdump", "tcpdump");
const RUN = ["--allow-run=tcpdump,setpriv"];

function capture(name: string, fn: () => Promise<void>): void {
  Deno.test({
    name: `${name}${skipped === undefined ? "" : ` (${skipped})`}`,
    ignore: skipped !== undefined,
    fn,
  });
}

/** The diagram's arrows: `>` lines go to the server, `<` to the client. */
function arrows(stdout: string): string[] {
  return stdout.split("\n")
    .filter((line) => /^\+\d+\.\d{6} s/.test(line))
    .map((line) => {
      const body = line.slice(line.indexOf("|") + 1, line.lastIndexOf("|"));
      const label = body.replace(/^-+|-+>?$|^<-*/g, "").trim()
        .replace(/-+$/, "").trim();
      return `${body.startsWith("<") ? "<" : ">"} ${label}`;
    });
}

/** tcpdump processes capturing `port` right now. */
async function tcpdumpsOn(port: number): Promise<number> {
  const { stdout } = await new Deno.Command("pgrep", {
    args: ["-f", `tcpdump .*port ${port}\\)`],
  }).output();
  return decoder.decode(stdout).trim().split("\n").filter((l) => l !== "")
    .length;
}

capture(
  "capture: send --capture draws the TCP session: handshake, data, ACKs, a FIN each way",
  async () => {
    await using server = serveTcp({ port: 0 });
    const { code, stdout, stderr } = await runMain(
      [
        "send",
        "--port",
        String(server.addr.port),
        "--capture",
        "hello",
        "world",
      ],
      "127.0.0.1",
      RUN,
    );
    strictEqual(code, 0, stderr);
    // After the replies, before the summary.
    match(
      stdout,
      /^received msg: hello .*\nreceived msg: world .*\n--- packets on lo ---\n/,
    );
    match(stdout, /\n--- 127\.0\.0\.1:\d+ tcp ---\n2 lines sent/);
    const seen = arrows(stdout);
    deepStrictEqual(seen.slice(0, 3), [
      "> [SYN] seq 0 win 65495",
      "< [SYN, ACK] seq 0 ack 1 win 65483",
      "> [ACK] seq 1 ack 1",
    ]);
    const data = seen.filter((a) => / len \d+ /.test(a));
    // The client writes its two lines one after the other: the reply to the
    // first may or may not be on the wire (and acknowledged) before the
    // second goes out.
    const sent = data.filter((a) => a.startsWith(">"));
    strictEqual(sent.length, 2, data.join("\n"));
    strictEqual(sent[0], '> [PSH, ACK] seq 1 ack 1 len 6 "hello\\n"');
    match(sent[1]!, /^> \[PSH, ACK\] seq 7 ack (1|21) len 6 "world\\n"$/);
    // The 40-byte reply in one segment, or two of 20.
    const replies = data.filter((a) => a.startsWith("<"));
    const lengths = replies.map((a) => Number(a.match(/ len (\d+)/)![1]));
    ok(
      JSON.stringify(lengths) === "[40]" ||
        JSON.stringify(lengths) === "[20,20]",
      replies.join("\n"),
    );
    const fins = seen.filter((a) => a.includes("FIN"));
    deepStrictEqual(fins.map((a) => a[0]), [">", "<"]);
    // Each FIN is acknowledged; the last packet is the ACK of the server's FIN.
    match(seen.at(-1)!, /^> \[ACK\] seq \d+ ack \d+$/);
  },
);

capture(
  "capture: send --udp --capture shows one datagram each way, 11 bytes out and 20 back",
  async () => {
    await using server = serveUdp({ port: 0 });
    const { code, stdout } = await runMain(
      [
        "send",
        "--udp",
        "--port",
        String(server.addr.port),
        "--capture",
        "hello world",
      ],
      "127.0.0.1",
      RUN,
    );
    strictEqual(code, 0);
    deepStrictEqual(arrows(stdout), [
      '> udp len 11 "hello world"',
      '< udp len 20 "received msg: hello\\n"',
    ]);
  },
);

capture(
  "capture: UDP to a closed port shows the ICMP port unreachable; TCP shows the RST",
  async () => {
    const port = freePort("udp");
    const udp = await runMain(
      [
        "send",
        "--udp",
        "--port",
        String(port),
        "--wait",
        "0.3",
        "--capture",
        "hello world",
      ],
      "127.0.0.1",
      RUN,
    );
    strictEqual(udp.code, 1);
    const udpArrows = arrows(udp.stdout);
    strictEqual(udpArrows[0], '> udp len 11 "hello world"');
    match(
      udpArrows[1]!,
      new RegExp(
        `^< icmp port unreachable \\(udp :\\d+ > :${port}\\)$`,
      ),
    );
    // The diagram comes before the summary that says it was lost.
    ok(udp.stdout.indexOf("--- packets") < udp.stdout.indexOf("1 lost"));
    const closed = freePort();
    const tcp = await runMain(
      ["send", "--port", String(closed), "--capture", "hello"],
      "127.0.0.1",
      RUN,
    );
    strictEqual(tcp.code, 1);
    deepStrictEqual(arrows(tcp.stdout), [
      "> [SYN] seq 0 win 65495",
      "< [RST, ACK] seq 1 ack 1",
    ]);
    match(tcp.stderr, /nothing is listening on 127\.0\.0\.1:\d+/);
  },
);

capture(
  "capture: the server's --capture trace interleaves packets and events in time order",
  async () => {
    await using server = new MainProcess(
      ["tcp", "--port", "0", "--capture"],
      "127.0.0.1",
      undefined,
      RUN,
    );
    const port = await server.port("tcp");
    {
      using conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await writeAll(conn, encoder.encode("hi\n"));
      strictEqual(await readText(conn, 17), `${REPLY}hi\n`);
    }
    await server.waitFor(/tcp closed 127\.0\.0\.1/);
    server.kill("SIGTERM");
    strictEqual((await server.finished()).code, 0);
    const trace = server.lines.filter((l) => l.includes("echolab.trace"));
    const times = trace.map((l) => Number(l.match(/\+(\d+\.\d{6}) s/)![1]));
    deepStrictEqual(times, [...times].sort((a, b) => a - b));
    const kinds = trace.map((l) =>
      l.replace(/^.*\+\d+\.\d{6} s tcp /, "").replace(/127\.0\.0\.1:\d+/g, "A")
    );
    const index = (pattern: RegExp) => kinds.findIndex((k) => pattern.test(k));
    ok(
      index(/^packet A > A \[SYN\] seq 0/) < index(/^accepted A on A$/),
      kinds.join("\n"),
    );
    // The data may reach the wire before accept() returns: only its read
    // must come after it.
    ok(
      index(/^packet A > A \[PSH, ACK\] seq 1 ack 1 len 3 "hi\\n"$/) <
        index(/^read 3 bytes/),
      kinds.join("\n"),
    );
    ok(index(/^read 3 bytes/) < index(/len 17 "received msg: hi\\n"$/));
    ok(index(/^closed A/) > index(/\[FIN, ACK\]/));
    strictEqual(await tcpdumpsOn(port), 0);
  },
);

capture(
  "capture: no tcpdump outlives echolab after SIGTERM, SIGINT, or a failed start",
  async () => {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      await using server = new MainProcess(
        ["udp", "--port", "0", "--capture"],
        "127.0.0.1",
        undefined,
        RUN,
      );
      const port = await server.port("udp");
      strictEqual(await tcpdumpsOn(port), 1);
      server.kill(signal);
      strictEqual((await server.finished()).code, 0);
      strictEqual(await tcpdumpsOn(port), 0, signal);
    }
    // The TCP side starts its capture, then the UDP port is taken: error.
    const taken = Deno.listenDatagram({
      transport: "udp",
      hostname: "127.0.0.1",
      port: 0,
    });
    try {
      const udpPort = (taken.addr as Deno.NetAddr).port;
      const tcpPort = freePort();
      const { code } = await runMain(
        [
          "all",
          "--quic-port",
          "0",
          "--tcp-port",
          String(tcpPort),
          "--udp-port",
          String(udpPort),
          "--capture",
        ],
        "127.0.0.1",
        RUN,
      );
      strictEqual(code, 1);
      strictEqual(await tcpdumpsOn(tcpPort), 0);
    } finally {
      taken.close();
    }
  },
);

capture(
  "capture: every missing right gives its one line and exit 1",
  async () => {
    const port = String(freePort());
    // No --allow-run.
    const noRun = await runMain(["tcp", "--port", port, "--capture"]);
    strictEqual(noRun.code, 1);
    match(
      noRun.stderr,
      /^\S+ ERROR echolab: Cannot capture: no permission to run tcpdump; re-run with --allow-run=tcpdump,setpriv\n$/,
    );
    // No tcpdump on the PATH.
    const child = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--allow-net=127.0.0.1",
        "--allow-run=tcpdump,setpriv",
        "--unstable-net",
        new URL("../main.ts", import.meta.url).pathname,
        "send",
        "--port",
        port,
        "--capture",
        "x",
      ],
      env: { PATH: "/nonexistent", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    strictEqual(child.code, 1);
    match(
      decoder.decode(child.stderr),
      /echolab: Cannot capture: tcpdump is not installed \(apt install tcpdump\)\n$/,
    );
    // The capture right taken away (as a user without it meets it).
    const refused = await new Deno.Command("setpriv", {
      args: [
        "--bounding-set",
        "-net_raw,-net_admin",
        "--",
        Deno.execPath(),
        "run",
        "--quiet",
        "--allow-net=127.0.0.1",
        "--allow-run=tcpdump,setpriv",
        "--unstable-net",
        new URL("../main.ts", import.meta.url).pathname,
        "tcp",
        "--port",
        port,
        "--capture",
      ],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    strictEqual(refused.code, 1);
    match(
      decoder.decode(refused.stderr),
      /^\S+ ERROR echolab: Cannot capture on lo: the system refused; run as root or grant cap_net_raw to tcpdump\n$/,
    );
    // A capture file without the write grant: nothing written.
    const file = `/tmp/echolab-capture-${crypto.randomUUID()}.pcap`;
    const noWrite = await runMain(
      ["tcp", "--port", port, "--capture", "--capture-file", file],
      "127.0.0.1",
      RUN,
    );
    strictEqual(noWrite.code, 1);
    match(
      noWrite.stderr,
      new RegExp(
        `Cannot write the capture to ${file}: no write permission; re-run with --allow-write=${file}\\n$`,
      ),
    );
    const exists = await new Deno.Command("test", { args: ["-e", file] })
      .output();
    strictEqual(exists.code, 1);
  },
);

capture(
  "capture: --capture-file writes a pcap file with the session's packets",
  async () => {
    const { stdout } = await new Deno.Command("mktemp", { args: ["-d"] })
      .output();
    const directory = decoder.decode(stdout).trim();
    const file = `${directory}/session.pcap`;
    try {
      await using server = serveTcp({ port: 0 });
      const { code } = await runMain(
        [
          "send",
          "--port",
          String(server.addr.port),
          "--capture",
          "--capture-file",
          file,
          "hi",
        ],
        "127.0.0.1",
        [...RUN, `--allow-write=${file}`],
      );
      strictEqual(code, 0);
      const packets = new PcapReader().push(await Deno.readFile(file));
      deepStrictEqual(packets[0]?.flags, ["SYN"]);
      ok(packets.some((p) => decoder.decode(p.payload) === "hi\n"));
    } finally {
      await new Deno.Command("rm", { args: ["-rf", directory] }).output();
    }
  },
);

capture(
  "capture: an ICMP error in the server's trace names hosts, not ports it does not have",
  async () => {
    await using logs = await captureLogs();
    await using server = serveUdp({
      port: 0,
      capture: captureOf(),
      faults: faults({ delay: 100 }),
    });
    await server.started;
    const client = Deno.listenDatagram({
      transport: "udp",
      hostname: "127.0.0.1",
      port: 0,
    });
    const clientPort = (client.addr as Deno.NetAddr).port;
    await client.send(encoder.encode("gone"), server.addr);
    // Closed before the delayed reply: the kernel answers it with ICMP.
    client.close();
    const line = await logs.waitFor(/icmp port unreachable/);
    match(
      line,
      new RegExp(
        `udp packet 127\\.0\\.0\\.1 > 127\\.0\\.0\\.1 icmp port unreachable \\(udp 127\\.0\\.0\\.1:${server.addr.port} > 127\\.0\\.0\\.1:${clientPort}\\)$`,
      ),
    );
  },
);

capture(
  "capture: tcpdump dies with echolab even after kill -9 (setpriv --pdeathsig)",
  async () => {
    await using server = new MainProcess(
      ["tcp", "--port", "0", "--capture"],
      "127.0.0.1",
      undefined,
      RUN,
    );
    const port = await server.port("tcp");
    strictEqual(await tcpdumpsOn(port), 1);
    ok(!server.lines.some((line) => /may outlive/.test(line)));
    server.kill("SIGKILL");
    await server.finished();
    let left = 1;
    for (let i = 0; i < 20 && left > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      left = await tcpdumpsOn(port);
    }
    strictEqual(left, 0, "a tcpdump outlived echolab by 2 s");
  },
);

capture(
  "capture: without setpriv granted, capture works and says once that tcpdump may outlive a kill -9",
  async () => {
    await using server = new MainProcess(
      [
        "all",
        "--tcp-port",
        "0",
        "--udp-port",
        "0",
        "--quic-port",
        "0",
        "--capture",
      ],
      "127.0.0.1",
      undefined,
      ["--allow-run=tcpdump"],
    );
    const port = await server.port("tcp");
    await server.port("udp");
    strictEqual(await tcpdumpsOn(port), 1);
    const warnings = server.lines.filter((line) => /may outlive/.test(line));
    deepStrictEqual(
      warnings.map((line) => line.replace(/^\S+ /, "")),
      [
        "WARN  echolab.capture: tcpdump may outlive echolab if echolab is killed with SIGKILL: setpriv is not granted (--allow-run=tcpdump,setpriv)",
      ],
    );
    server.kill("SIGTERM");
    strictEqual((await server.finished()).code, 0);
    strictEqual(await tcpdumpsOn(port), 0);
  },
);
