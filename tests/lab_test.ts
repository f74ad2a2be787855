// Copyright 2026 the echolab authors. MIT license.
/**
 * The lab (`main.ts lab`): the real program, its real capture, and its
 * page in a real browser (headless Chromium over DevTools) that may reach
 * nothing but the lab's own origin.
 *
 * @module
 */

import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict";
import { isRoot } from "../deploy/containers.ts";
import { Browser, browserSkipped, keepScreenshot, pngSize } from "./browser.ts";
import { MainProcess, runMain } from "./cli_process.ts";
import { ensureCommand } from "./system_package.ts";

const CAPTURE = ["--allow-run=tcpdump,setpriv"];
const chromium = await browserSkipped();
const tcpdump = (await isRoot())
  ? await ensureCommand("tcpdump", "tcpdump")
  : "skipped: capturing needs root or CAP_NET_RAW";
const packetsSkipped = chromium ?? tcpdump;

/** A lab on free ports; `--timeout 1` so the TCP replay ends soon. */
async function startLab(
  permissions: readonly string[],
  extra: readonly string[] = [],
): Promise<{ lab: MainProcess; origin: string }> {
  const lab = new MainProcess(
    [
      "lab",
      "--tcp-port",
      "0",
      "--udp-port",
      "0",
      "--quic-port",
      "0",
      "--http-port",
      "0",
      "--timeout",
      "1",
      ...extra,
    ],
    "127.0.0.1",
    undefined,
    permissions,
  );
  const line = await lab.waitFor(/Open http:\/\/127\.0\.0\.1:\d+\/lab$/);
  const origin = line.match(/(http:\/\/127\.0\.0\.1:\d+)\/lab$/)![1]!;
  return { lab, origin };
}

interface Row {
  kind: string;
  key: string;
  dir: string | null;
  event: string | null;
  label: string;
}

/** The rows of the sessions that match `selector`, in order. */
function rows(browser: Browser, selector: string): Promise<Row[][]> {
  return browser.evaluate<Row[][]>(
    `[...document.querySelectorAll(${
      JSON.stringify(selector)
    })].map((session) => [...session.querySelectorAll(".row")].map((row) => ({
      kind: row.dataset.kind, key: row.dataset.key, dir: row.dataset.dir ?? null,
      event: row.dataset.event ?? null, label: row.dataset.label,
    })))`,
  );
}

/** The indexes of `expected` in `labels`, each found after the one before. */
function inOrder(labels: string[], expected: RegExp[]): number[] {
  const found: number[] = [];
  let from = 0;
  for (const pattern of expected) {
    const index = labels.findIndex((label, at) =>
      at >= from && pattern.test(label)
    );
    ok(
      index >= 0,
      `${pattern} not found after row ${from} in:\n${labels.join("\n")}`,
    );
    found.push(index);
    from = index + 1;
  }
  return found;
}

Deno.test({
  name:
    `lab: the TCP button draws the seed's session, packets, events and states in order${
      packetsSkipped ? ` (${packetsSkipped})` : ""
    }`,
  ignore: packetsSkipped !== undefined,
  async fn() {
    const { lab, origin } = await startLab(CAPTURE);
    await using _lab = lab;
    await using browser = await Browser.open(origin);
    await browser.goto(`${origin}/lab`);
    const view = await browser.waitUntil<string>(
      `document.getElementById("view").className && document.getElementById("view").textContent`,
    );
    strictEqual(
      view,
      "Showing captured packets (tcpdump on lo) and the server's own events.",
    );
    await browser.click("replay-tcp-hello");
    await browser.waitUntil(
      `document.querySelector('.session[data-transport="tcp"] .closer')`,
    );
    // The client's FIN and the server's ACK of it come after the close.
    await browser.waitUntil(
      `document.querySelector('.session[data-transport="tcp"] .states [data-side="server"]').textContent.endsWith("TIME-WAIT")`,
    );
    const [session] = await rows(browser, '.session[data-transport="tcp"]');
    const labels = session!.map((row) =>
      row.kind === "packet"
        ? `${row.dir} ${row.label}`
        : `server ${row.event} ${row.label}`
    );
    inOrder(labels, [
      /^to-server \[SYN\] seq 0 win \d+$/,
      /^to-client \[SYN, ACK\] seq 0 ack 1 win \d+$/,
      /^to-server \[ACK\] seq 1 ack 1$/,
      /^server accepted accepted 127\.0\.0\.1:\d+ on 127\.0\.0\.1:\d+$/,
      /^to-server \[PSH, ACK\] seq 1 ack 1 len 6 "hello\\n"$/,
      /^server read read 6 bytes from /,
      // write() returns once the kernel has sent: the event comes after.
      /^to-client \[PSH, ACK\] seq 1 ack 7 len 20 "received msg: hello\\n"$/,
      /^server wrote wrote 20 bytes to /,
      /^to-server \[PSH, ACK\] seq 7 ack 21 len 6 "world\\n"$/,
      /^server read read 6 bytes from /,
      /^to-client \[PSH, ACK\] seq 21 ack 13 len 20 "received msg: world\\n"$/,
      /^server wrote wrote 20 bytes to /,
      /^server timeout timeout for 127\.0\.0\.1:\d+: idle timeout$/,
      /^to-client \[FIN, ACK\] seq 41 ack 13$/,
      /^to-server \[FIN, ACK\] seq 13 ack 42$/,
      /^to-client \[ACK\] seq 42 ack 14$/,
    ]);
    ok(
      labels.some((label) =>
        /^server closed closed .*: server closed first/.test(label)
      ),
    );
    const states = await browser.evaluate<string[]>(
      `[...document.querySelectorAll('.session[data-transport="tcp"] .states [data-side]')].map((span) => span.textContent)`,
    );
    deepStrictEqual(states, [
      "client: CLOSED → SYN-SENT → ESTABLISHED → CLOSE-WAIT → LAST-ACK → CLOSED",
      "server: LISTEN → SYN-RECEIVED → ESTABLISHED → FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT",
    ]);
    const closer = await browser.evaluate<{ first: string; text: string }>(
      `(() => { const p = document.querySelector('.session[data-transport="tcp"] .closer'); return { first: p.dataset.first, text: p.textContent }; })()`,
    );
    strictEqual(closer.first, "server");
    match(closer.text, /^The server closed first/);
    const png = await browser.screenshot();
    deepStrictEqual(pngSize(png), { width: 1280, height: 800 });
    await keepScreenshot("tcp-session", png);
    deepStrictEqual(browser.blocked, []);
    deepStrictEqual(browser.console, []);
    lab.kill("SIGTERM");
    strictEqual((await lab.finished()).code, 0);
  },
});

Deno.test("lab: mode lab refuses what it cannot show, exit 2", async () => {
  for (
    const [args, message] of [
      [
        ["lab", "--capture"],
        "Mode lab captures the packets itself: drop --capture",
      ],
      [
        ["all", "--lab", "--workers", "2"],
        "Flag --lab does not work with --workers: the lab watches one accept loop",
      ],
      [
        ["lab", "--unix", "/tmp/x.sock"],
        "Mode lab shows TCP over IP: drop --unix",
      ],
      [
        ["tcp", "--lab"],
        "Flag --lab does not apply to mode tcp: it is for all and lab",
      ],
    ] as const
  ) {
    const result = await runMain(args);
    strictEqual(result.code, 2, args.join(" "));
    strictEqual(result.stderr, `echolab: ${message} (see --help)\n`);
  }
});

/** The session of the lab's server of this kind (`udp`, `closed-tcp`). */
function session(kind: string): string {
  return `.session[data-server="${kind}"]`;
}

/** Packet rows as `direction label`, server rows as `server event`. */
function words(list: Row[]): string[] {
  return list.map((row) =>
    row.kind === "packet"
      ? `${row.dir} ${row.label}`
      : `server ${row.key} ${row.label}`
  );
}

Deno.test({
  name:
    `lab: the UDP, closed-port and QUIC buttons draw their packets; the pcap download reads in tshark${
      packetsSkipped ? ` (${packetsSkipped})` : ""
    }`,
  ignore: packetsSkipped !== undefined,
  async fn() {
    const tshark = await ensureCommand("tshark", "tshark");
    const { lab, origin } = await startLab(CAPTURE);
    await using _lab = lab;
    await using browser = await Browser.open(origin);
    await browser.goto(`${origin}/lab`);
    await browser.waitUntil(`document.getElementById("view").className`);

    await browser.click("replay-udp-hello");
    await browser.waitUntil(
      `document.querySelectorAll('${session("udp")} .row').length >= 4`,
    );
    const [udp] = await rows(browser, session("udp"));
    deepStrictEqual(words(udp!), [
      'to-server udp len 11 "hello world"',
      "server truncated datagram from " + udp![1]!.label.split(" ")[2]! +
      " 11 bytes, kept 5",
      'to-client udp len 20 "received msg: hello\\n"',
      "server reply-event reply to " + udp![1]!.label.split(" ")[2]! +
      " 20 bytes",
    ]);
    await keepScreenshot("udp-session", await browser.screenshot());

    await browser.click("replay-udp-closed");
    await browser.waitUntil(
      `document.querySelectorAll('${session("closed-udp")} .row').length >= 2`,
    );
    const [closedUdp] = await rows(browser, session("closed-udp"));
    const closedUdpWords = words(closedUdp!);
    strictEqual(closedUdpWords[0], 'to-server udp len 5 "hello"');
    match(
      closedUdpWords[1]!,
      /^to-client icmp port unreachable \(udp 127\.0\.0\.1:\d+ > 127\.0\.0\.1:\d+\)$/,
    );
    strictEqual(closedUdp![1]!.key, "icmp");

    await browser.click("replay-tcp-closed");
    await browser.waitUntil(
      `document.querySelectorAll('${session("closed-tcp")} .row').length >= 2`,
    );
    const [closedTcp] = await rows(browser, session("closed-tcp"));
    deepStrictEqual(
      words(closedTcp!).map((line) => line.replace(/win \d+/, "win N")),
      ["to-server [SYN] seq 0 win N", "to-client [RST, ACK] seq 1 ack 1"],
    );
    strictEqual(closedTcp![1]!.key, "rst");
    deepStrictEqual(
      await browser.evaluate(
        `[...document.querySelectorAll('${
          session("closed-tcp")
        } .states [data-side]')].map((span) => span.textContent)`,
      ),
      [
        "client: CLOSED → SYN-SENT → CLOSED",
        "server: CLOSED (no listener)",
      ],
    );
    await keepScreenshot("closed-ports", await browser.screenshot());

    await browser.click("replay-quic-hello");
    await browser.waitUntil(
      `document.querySelector('${session("quic")} .row[data-event="closed"]')`,
    );
    const [quic] = await rows(browser, session("quic"));
    const quicWords = words(quic!);
    inOrder(quicWords, [
      /^to-server udp len 1\d{3}: QUIC Initial /,
      /^server Initial Initial received/,
      /^to-client udp len \d+: QUIC Initial /,
      /^server handshake handshake with 127\.0\.0\.1:\d+ complete in [\d.]+ ms: alpn=echolab/,
      /^server opened QUIC stream 0 opened by /,
      /^server read read 6 bytes from /,
      /^to-client udp len \d+: QUIC 1-RTT /,
      /^server closed closed 127\.0\.0\.1:\d+: /,
    ]);
    await keepScreenshot("quic-session", await browser.screenshot());
    deepStrictEqual(browser.blocked, []);
    deepStrictEqual(browser.console, []);

    // The session as pcap, read by tshark.
    const pcap = await fetch(`${origin}/lab/capture.pcap`);
    strictEqual(pcap.status, 200);
    strictEqual(
      pcap.headers.get("content-type"),
      "application/vnd.tcpdump.pcap",
    );
    const bytes = new Uint8Array(await pcap.arrayBuffer());
    // tshark comes with the capture tests' packages; without it (not root)
    // this test is skipped already.
    strictEqual(tshark, undefined, tshark);
    const child = new Deno.Command("tshark", {
      args: [
        "-r",
        "-",
        "-T",
        "fields",
        "-e",
        "frame.protocols",
        "-e",
        "udp.length",
        "-e",
        "tcp.flags.str",
        "-e",
        "icmp.type",
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(bytes);
    await writer.close();
    const output = await child.output();
    strictEqual(output.code, 0, new TextDecoder().decode(output.stderr));
    const frames = new TextDecoder().decode(output.stdout).split("\n");
    for (
      const frame of [
        // UDP: "hello world" in (8 + 11 bytes), "received msg: hello\n" out.
        "eth:ethertype:ip:udp:data\t19\t\t",
        "eth:ethertype:ip:udp:data\t28\t\t",
        // The closed UDP port: "hello" in, ICMP type 3 back.
        "eth:ethertype:ip:udp:data\t13\t\t",
        "eth:ethertype:ip:icmp:ip:udp:data\t13\t\t3",
        // The closed TCP port: SYN, then RST, ACK.
        "eth:ethertype:ip:tcp\t\t··········S·\t",
        "eth:ethertype:ip:tcp\t\t·······A·R··\t",
      ]
    ) {
      ok(frames.includes(frame), `${frame} not in:\n${frames.join("\n")}`);
    }
    ok(
      frames.filter((frame) => frame.includes(":udp:quic")).length >= 4,
      frames.join("\n"),
    );
    lab.kill("SIGTERM");
    strictEqual((await lab.finished()).code, 0);
  },
});
