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
import { Firefox, firefoxSkipped } from "./firefox.ts";
import { freePort, MainProcess, runMain, waitForTcp } from "./cli_process.ts";
import { ensureCommand } from "./system_package.ts";
import { getWithHost } from "./net_client.ts";
import { namespaceSkipped, runInNamespace } from "./namespace.ts";

/** What the tests ask of a browser: Chromium's driver or Firefox's. */
type Driver = Browser | Firefox;

const CAPTURE = ["--allow-run=tcpdump,setpriv"];
const chromium = await browserSkipped();
const tcpdump = (await isRoot())
  ? await ensureCommand("tcpdump", "tcpdump")
  : "skipped: capturing needs root or CAP_NET_RAW";
const packetsSkipped = chromium ?? tcpdump;

/**
 * A lab on free ports; `--timeout 1` so the TCP replay ends soon. Ready
 * once its HTTP port answers (it opens after the lab has started).
 */
async function startLab(
  permissions: readonly string[],
  extra: readonly string[] = [],
): Promise<{ lab: MainProcess; origin: string }> {
  const httpPort = freePort();
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
      String(httpPort),
      "--timeout",
      "1",
      ...extra,
    ],
    "127.0.0.1",
    undefined,
    permissions,
  );
  await Promise.race([
    waitForTcp(httpPort),
    lab.status.then((status) => {
      throw new Error(
        `the lab exited (${status.code}):\n${lab.lines.join("\n")}`,
      );
    }),
  ]);
  return { lab, origin: `http://127.0.0.1:${httpPort}` };
}

interface Row {
  kind: string;
  key: string;
  dir: string | null;
  event: string | null;
  label: string;
}

/** The rows of the sessions that match `selector`, in order. */
function rows(browser: Driver, selector: string): Promise<Row[][]> {
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

/**
 * Opens the lab in a browser, presses "TCP: hello, world", and checks the
 * seed's session as the page shows it.
 */
async function checkTcpSession(
  name: string,
  open: (origin: string) => Promise<Driver>,
): Promise<void> {
  const { lab, origin } = await startLab(CAPTURE);
  await using _lab = lab;
  match(
    await lab.waitFor(/Open http/),
    new RegExp(`INFO  echolab: Open ${origin}/lab$`),
  );
  await using browser = await open(origin);
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
  // The replay's outcome, noted once the client is done.
  strictEqual(
    await browser.waitUntil(
      `document.querySelectorAll(".note").length === 2 && document.querySelectorAll(".note")[1].textContent`,
    ),
    'TCP: hello, world, then wait for the timeout: 2 replies: "received msg: hello", "received msg: world"',
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
  // The terminal has the same, as trace lines: packets among the events.
  await lab.waitFor(/echolab\.lab\.trace: .* \[ACK\] seq 42 ack 14$/);
  const trace = lab.lines
    .filter((line) => line.includes(" echolab.lab.trace: "))
    .map((line) =>
      line.split(" echolab.lab.trace: ")[1]!.replace(/^\+\d+\.\d{6} s /, "")
    );
  inOrder(trace, [
    /^lab Replay: TCP: hello, world, then wait for the timeout$/,
    /^tcp packet 127\.0\.0\.1:\d+ > 127\.0\.0\.1:\d+ \[SYN\] seq 0 win \d+$/,
    /^tcp accepted 127\.0\.0\.1:\d+ on 127\.0\.0\.1:\d+$/,
    /^tcp packet .* \[PSH, ACK\] seq 1 ack 1 len 6 "hello\\n"$/,
    /^tcp read 6 bytes from /,
    /^tcp timeout for 127\.0\.0\.1:\d+: idle timeout$/,
    /^tcp packet .* \[FIN, ACK\] seq 41 ack 13$/,
    /^tcp closed 127\.0\.0\.1:\d+: server closed first/,
    /^tcp packet .* \[ACK\] seq 42 ack 14$/,
  ]);
  // The counters, each a label and its number, as the server counts.
  deepStrictEqual(
    await browser.waitUntil(
      `(() => { const counts = Object.fromEntries([...document.querySelectorAll("#counters dl div")].map((item) => [item.querySelector("dt").textContent, item.querySelector("dd").textContent])); return counts["Lines"] === "2" && counts; })()`,
    ),
    {
      Connections: "1",
      Lines: "2",
      Datagrams: "0",
      "Bytes in": "12",
      "Bytes out": "40",
      Drops: "0",
      // The rows and the replay's notes: its start and its outcome.
      "Events shown": String(labels.length + 2),
    },
  );
  // Clicking an arrow explains it.
  await browser.evaluate(
    `document.querySelector('.session[data-transport="tcp"] .row[data-key="syn"]').dispatchEvent(new MouseEvent("click", { bubbles: true }))`,
  );
  strictEqual(
    await browser.evaluate(
      `document.getElementById("explain-title").textContent`,
    ),
    "SYN: may we talk?",
  );
  const png = await browser.screenshot();
  deepStrictEqual(pngSize(png), { width: 1280, height: 800 });
  await keepScreenshot(`tcp-session-${name}`, png);
  // README's picture: the whole session, down to the last ACK.
  if (browser instanceof Browser) {
    await keepScreenshot(
      "tcp-session-full",
      await browser.screenshot({ full: true }),
    );
  }
  deepStrictEqual(browser.blocked, []);
  deepStrictEqual(browser.console, []);
  lab.kill("SIGTERM");
  strictEqual((await lab.finished()).code, 0);
}

Deno.test({
  name:
    `lab: the TCP button draws the seed's session, packets, events and states in order, in Chromium${
      packetsSkipped ? ` (${packetsSkipped})` : ""
    }`,
  ignore: packetsSkipped !== undefined,
  fn: () => checkTcpSession("chromium", (origin) => Browser.open(origin)),
});

const firefox = await firefoxSkipped();
const firefoxPacketsSkipped = firefox ?? tcpdump;

Deno.test({
  name:
    `lab: the TCP button draws the seed's session, packets, events and states in order, in Firefox${
      firefoxPacketsSkipped ? ` (${firefoxPacketsSkipped})` : ""
    }`,
  ignore: firefoxPacketsSkipped !== undefined,
  fn: () => checkTcpSession("firefox", (origin) => Firefox.open(origin)),
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
      /^to-client icmp port unreachable \(udp :\d+ > :\d+\)$/,
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

Deno.test({
  name:
    `lab: without the right to capture it says so, once, and the page shows server events only; usable on a phone${
      chromium ? ` (${chromium})` : ""
    }`,
  ignore: chromium !== undefined,
  async fn() {
    // No --allow-run: tcpdump may not be started.
    const { lab, origin } = await startLab([]);
    await using _lab = lab;
    const reason =
      "no permission to run tcpdump; re-run with --allow-run=tcpdump,setpriv";
    await lab.waitFor(/Open http/);
    strictEqual(
      lab.lines.filter((line) => line.includes("server events only")).length,
      1,
    );
    match(
      lab.lines.find((line) => line.includes("server events only"))!,
      new RegExp(
        `WARN  echolab\\.lab: The lab shows server events only, no packets: ${
          reason.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
        }$`,
      ),
    );
    const pcap = await fetch(`${origin}/lab/capture.pcap`);
    strictEqual(pcap.status, 404);
    strictEqual(await pcap.text(), `no packets: ${reason}`);
    await using browser = await Browser.open(origin, {
      width: 390,
      height: 844,
    });
    await browser.goto(`${origin}/lab`);
    strictEqual(
      await browser.waitUntil<string>(
        `document.getElementById("view").className && document.getElementById("view").textContent`,
      ),
      `Showing server events only (no packet capture: ${reason}).`,
    );
    strictEqual(
      await browser.evaluate(`document.getElementById("download").hidden`),
      true,
    );
    await browser.click("replay-udp-hello");
    await browser.waitUntil(
      `document.querySelectorAll('${session("udp")} .row').length >= 2`,
    );
    const [udp] = await rows(browser, session("udp"));
    deepStrictEqual(udp!.map((row) => [row.kind, row.key]), [
      ["server", "truncated"],
      ["server", "reply-event"],
    ]);
    await browser.click("replay-tcp-hello");
    await browser.waitUntil(
      `document.querySelector('${session("tcp")} .row[data-event="closed"]')`,
    );
    const [tcp] = await rows(browser, session("tcp"));
    deepStrictEqual(tcp!.map((row) => row.event), [
      "accepted",
      "read",
      "wrote",
      "read",
      "wrote",
      "timeout",
      "closed",
    ]);
    // QUIC without packets: one session, its peer known from its events.
    await browser.click("replay-quic-hello");
    await browser.waitUntil(
      `document.querySelector('${session("quic")} .row[data-event="closed"]')`,
    );
    const quic = await browser.evaluate<{ count: number; client: string }>(
      `({ count: document.querySelectorAll('${
        session("quic")
      }').length, client: document.querySelector('${
        session("quic")
      }').dataset.client })`,
    );
    strictEqual(quic.count, 1);
    match(quic.client, /^127\.0\.0\.1:\d+$/);
    const [quicRows] = await rows(browser, session("quic"));
    deepStrictEqual(
      quicRows!.slice(0, 3).map((row) => row.event),
      ["Initial", "handshake", "opened"],
    );
    const sessionText = await browser.evaluate<string[]>(
      `[...document.querySelectorAll('${
        session("tcp")
      } p')].map((p) => p.textContent)`,
    );
    deepStrictEqual(sessionText, [
      "TCP states are read from packets, and none are captured here.",
      "The server closed first: its FIN came first, so the server ends in TIME-WAIT (kept about 60 s on Linux, so that late packets of this connection die out) while the client went through CLOSE-WAIT and LAST-ACK.",
    ]);
    // On a phone the page fits the width; the diagram scrolls inside it.
    const layout = await browser.evaluate<
      { page: number; diagram: number; box: number }
    >(
      `({ page: document.documentElement.scrollWidth,
          diagram: document.querySelector(".diagram").scrollWidth,
          box: document.querySelector(".diagram").clientWidth })`,
    );
    ok(layout.page <= 390, JSON.stringify(layout));
    ok(layout.diagram > layout.box, JSON.stringify(layout));
    const png = await browser.screenshot();
    deepStrictEqual(pngSize(png), { width: 390, height: 844 });
    await keepScreenshot("events-only-phone", png);
    // Pause holds new events back; Resume shows them; Clear empties the view.
    const shown = await browser.evaluate<number>(
      `document.querySelectorAll(".row").length`,
    );
    await browser.click("pause");
    await browser.click("replay-udp-hello");
    // The replay's two notes and the server's two events.
    await browser.waitUntil(
      `document.getElementById("dropped").textContent === "4 events waiting for Resume"`,
    );
    strictEqual(
      await browser.evaluate(`document.querySelectorAll(".row").length`),
      shown,
    );
    await browser.click("pause");
    await browser.waitUntil(
      `document.querySelectorAll(".row").length === ${shown + 2}`,
    );
    await browser.click("clear");
    deepStrictEqual(
      await browser.evaluate(
        `[document.querySelectorAll(".row").length, document.getElementById("count-events").textContent, document.getElementById("empty") !== null]`,
      ),
      [0, "0", true],
    );
    deepStrictEqual(browser.blocked, []);
    deepStrictEqual(browser.console, []);
    lab.kill("SIGTERM");
    strictEqual((await lab.finished()).code, 0);
  },
});

/** Sends `count` datagrams from one socket, each awaiting its reply. */
async function datagrams(port: number, count: number): Promise<number> {
  const socket = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  const to = { transport: "udp" as const, hostname: "127.0.0.1", port };
  const payload = new TextEncoder().encode("ping");
  let answered = 0;
  try {
    for (let index = 0; index < count; index++) {
      await socket.send(payload, to);
      await socket.receive();
      answered++;
    }
  } finally {
    socket.close();
  }
  return answered;
}

/** The server-sent events of `/lab/events` until `enough` says so. */
async function readEvents(
  origin: string,
  enough: (names: string[]) => boolean,
): Promise<{ name: string; data: Record<string, unknown> }[]> {
  const response = await fetch(`${origin}/lab/events`);
  const reader = response.body!.pipeThrough(new TextDecoderStream())
    .getReader();
  let text = "";
  let messages: { name: string; data: Record<string, unknown> }[] = [];
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
    const complete = text.slice(0, text.lastIndexOf("\n\n") + 2);
    messages = complete.split("\n\n").filter((block) =>
      block.includes("data: ")
    )
      .map((block) => ({
        name: block.match(/^event: (.*)$/m)![1]!,
        data: JSON.parse(block.match(/^data: (.*)$/m)![1]!),
      }));
    if (enough(messages.map((message) => message.name))) break;
  }
  await reader.cancel();
  return messages;
}

/** A server's port, as the lab's page is told it. */
async function serverPort(origin: string, kind: string): Promise<number> {
  const [config] = await readEvents(origin, (names) => names.length > 0);
  const servers = config!.data.servers as Record<string, string>;
  return Number(servers[kind]!.split(":").at(-1));
}

Deno.test({
  name:
    `lab: the last 2,000 events are kept, older ones dropped and said so, on the server and in the page${
      chromium ? ` (${chromium})` : ""
    }`,
  ignore: chromium !== undefined,
  async fn() {
    const { lab, origin } = await startLab([], ["--log-level", "warning"]);
    await using _lab = lab;
    const udpPort = await serverPort(origin, "udp");
    await using browser = await Browser.open(origin);
    await browser.goto(`${origin}/lab`);
    await browser.waitUntil(`document.getElementById("view").className`);
    // Each datagram: two server events (received, replied).
    strictEqual(await datagrams(udpPort, 1100), 1100);
    // The last event (the 2,200th) has arrived: every one has.
    await browser.waitUntil(`document.querySelector('.row[data-id="2200"]')`);
    deepStrictEqual(
      await browser.evaluate(
        `[document.getElementById("count-events").textContent, document.getElementById("dropped").textContent]`,
      ),
      ["2000", "200 older events dropped (the page keeps the last 2000)"],
    );
    strictEqual(
      await browser.evaluate(`document.querySelectorAll(".row").length`),
      2000,
    );
    // A page opened now gets the 2,000 kept and the count of the others.
    const messages = await readEvents(
      origin,
      (names) => names.filter((name) => name === "lab").length >= 2000,
    );
    deepStrictEqual(messages.slice(0, 2).map((message) => message.name), [
      "config",
      "dropped",
    ]);
    deepStrictEqual(messages[1]!.data, { older: 200 });
    const events = messages.filter((message) => message.name === "lab");
    strictEqual(events.length, 2000);
    strictEqual(events[0]!.data.id, 201);
    strictEqual(events.at(-1)!.data.id, 2200);
    lab.kill("SIGTERM");
    strictEqual((await lab.finished()).code, 0);
  },
});

Deno.test("lab: a page that never reads its events does not delay the echo; what it misses is counted", async () => {
  const { lab, origin } = await startLab([], ["--log-level", "warning"]);
  await using _lab = lab;
  const udpPort = await serverPort(origin, "udp");
  const port = Number(new URL(origin).port);
  // Asks for the event stream and never reads a byte of it.
  using stalled = await Deno.connect({ hostname: "127.0.0.1", port });
  await stalled.write(
    new TextEncoder().encode(
      "GET /lab/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    ),
  );
  // Far more events than the socket buffers and the page's queue hold.
  strictEqual(await datagrams(udpPort, 30_000), 30_000);
  // A page that reads is told how many the stalled one lost.
  const messages = await readEvents(
    origin,
    (names) => names.includes("stats"),
  );
  const stats = messages.find((message) => message.name === "stats")!.data;
  const lost = (stats.events as { slow: number }).slow;
  ok(lost > 0, JSON.stringify(stats));
  strictEqual(stats.datagrams, 30_000);
  // TCP answers too, while the stalled page still holds its connection.
  using conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: await serverPort(origin, "tcp"),
  });
  await conn.write(new TextEncoder().encode("still here\n"));
  const reply = new Uint8Array(64);
  const read = await conn.read(reply);
  strictEqual(
    new TextDecoder().decode(reply.subarray(0, read!)),
    "received msg: still here\n",
  );
  // The stop does not wait for the stalled page for ever.
  lab.kill("SIGTERM");
  strictEqual((await lab.finished()).code, 0);
  match(
    lab.lines.at(-1)!,
    /HTTP clients that stopped reading were still connected after 2000 ms: their connections close at exit$/,
  );
});

Deno.test("lab: the buttons' endpoints answer the lab page only, and refuse clearly", async () => {
  const { lab, origin } = await startLab([]);
  await using _lab = lab;
  const post = async (path: string, headers: HeadersInit, body = "") => {
    const response = await fetch(`${origin}${path}`, {
      method: "POST",
      headers,
      body,
    });
    return [response.status, await response.text()];
  };
  deepStrictEqual(await post("/lab/replay/udp-hello", {}), [
    403,
    "send X-Echolab-Lab: 1 (the lab page does)",
  ]);
  deepStrictEqual(
    await post("/lab/replay/udp-hello", {
      "x-echolab-lab": "1",
      origin: "http://example.com",
    }),
    [403, "lab replays come from the lab page, not http://example.com"],
  );
  deepStrictEqual(await post("/lab/replay/nope", { "x-echolab-lab": "1" }), [
    404,
    "no replay named nope",
  ]);
  deepStrictEqual(
    await post("/lab/send", { "x-echolab-lab": "1" }, "{"),
    [400, 'send JSON: {"transport": "tcp", "text": "hello"}'],
  );
  deepStrictEqual(
    await post(
      "/lab/send",
      { "x-echolab-lab": "1" },
      JSON.stringify({ transport: "tcp", text: "a\nb" }),
    ),
    [400, "text must be one line, not empty"],
  );
  deepStrictEqual(
    await post(
      "/lab/send",
      { "x-echolab-lab": "1" },
      JSON.stringify({ transport: "udp", text: "x".repeat(513) }),
    ),
    [400, "text must be at most 512 characters"],
  );
  deepStrictEqual(
    await post("/lab/send", { "x-echolab-lab": "1" }, "x".repeat(5000)),
    [400, "the body is over 4096 bytes"],
  );
  deepStrictEqual(
    await post(
      "/lab/send",
      { "x-echolab-lab": "1", origin },
      JSON.stringify({ transport: "tcp", text: "free line" }),
    ),
    [202, "sending over tcp"],
  );
  await lab.waitFor(/Lab send over tcp asked by 127\.0\.0\.1:\d+$/);
  const page = await fetch(`${origin}/lab`);
  strictEqual(page.status, 200);
  match(
    page.headers.get("content-security-policy")!,
    /^default-src 'self'; .*script-src 'self'; connect-src 'self'/,
  );
  await page.body?.cancel();
  // A name that is not loopback's (DNS rebinding) gets nothing.
  deepStrictEqual(
    await getWithHost(
      Number(new URL(origin).port),
      "/lab/events",
      "rebound.example",
    ),
    [
      "HTTP/1.1 403 Forbidden",
      "the lab answers loopback addresses and localhost only, not rebound.example",
    ],
  );
  // At most 32 pages follow the events at once.
  const pages = await Promise.all(
    Array.from({ length: 32 }, () => fetch(`${origin}/lab/events`)),
  );
  const extra = await fetch(`${origin}/lab/events`);
  deepStrictEqual([extra.status, await extra.text()], [
    503,
    "32 lab pages are open already; close one",
  ]);
  await Promise.all(pages.map((page) => page.body!.cancel()));
  const deleted = await fetch(`${origin}/lab`, { method: "DELETE" });
  strictEqual(deleted.status, 405);
  await deleted.body?.cancel();
  // The free line went through echolab's client to the TCP server, and
  // its replay has ended.
  await lab.waitFor(
    new RegExp(`closed 127\\.0\\.0\\.1:\\d+: client closed first .*1 lines`),
  );
  await lab.waitFor(/lab Send over tcp: 1 reply: "received msg: free line"$/);
  // Four replays at once (each waits out the 1 s idle timeout); not five.
  for (let index = 0; index < 4; index++) {
    deepStrictEqual(
      await post("/lab/replay/tcp-hello", { "x-echolab-lab": "1" }),
      [202, "replaying tcp-hello"],
    );
  }
  deepStrictEqual(
    await post("/lab/replay/tcp-hello", { "x-echolab-lab": "1" }),
    [429, "4 replays are running already; wait for one to end"],
  );
  lab.kill("SIGTERM");
  strictEqual((await lab.finished()).code, 0);
});

Deno.test({
  name:
    `lab: a page on another address than loopback is said at warning level (in a namespace of the test's own)${
      namespaceSkipped === undefined ? "" : ` (${namespaceSkipped})`
    }`,
  ignore: namespaceSkipped !== undefined,
  async fn() {
    const deno = Deno.execPath();
    const main = new URL("../main.ts", import.meta.url).pathname;
    const said = await runInNamespace([
      `'${deno}' run --allow-net --unstable-net '${main}' lab --http-host 0.0.0.0 --http-port 19090 2>/tmp/echolab-lab-$$.log & server=$!`,
      "for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/19090) 2>/dev/null && break; sleep 0.1; done",
      "kill $server; wait $server || true",
      "grep -E 'WARN  echolab: The lab|Open http' /tmp/echolab-lab-$$.log; rm -f /tmp/echolab-lab-$$.log",
    ]);
    deepStrictEqual(
      said.trim().split("\n").map((line) => line.replace(/^\S+ /, "")),
      [
        "WARN  echolab: The lab's page is reachable from other hosts on 0.0.0.0:19090: anyone there sees this traffic (its buttons answer loopback peers only)",
        "INFO  echolab: Open http://127.0.0.1:19090/lab",
      ],
    );
  },
});

Deno.test("lab: without lab or --lab, the HTTP port has no /lab", async () => {
  await using server = new MainProcess([
    "all",
    "--tcp-port",
    "0",
    "--udp-port",
    "0",
    "--quic-port",
    "0",
    "--http-port",
    "0",
  ]);
  const port = await server.httpPort();
  for (const path of ["/lab", "/lab/events", "/lab/lab.js"]) {
    const response = await fetch(`http://127.0.0.1:${port}${path}`);
    deepStrictEqual([response.status, await response.text()], [
      404,
      "not found",
    ]);
  }
  server.kill("SIGTERM");
  strictEqual((await server.finished()).code, 0);
});

Deno.test("lab: the Open line names the address the page is on ([::1] as bound)", async () => {
  await using lab = new MainProcess(
    [
      "lab",
      "--tcp-port",
      "0",
      "--udp-port",
      "0",
      "--quic-port",
      "0",
      "--http-host",
      "::1",
      "--http-port",
      "0",
    ],
    "127.0.0.1,[::1]",
  );
  const line = await lab.waitFor(/Open http/);
  const url = line.match(/Open (http:\/\/\[::1\]:\d+\/lab)$/)?.[1];
  ok(url !== undefined, line);
  const page = await fetch(url);
  strictEqual(page.status, 200);
  await page.body?.cancel();
  lab.kill("SIGTERM");
  strictEqual((await lab.finished()).code, 0);
});

Deno.test("lab: the TCP replay waits for idle timeouts up to 60 s, and closes by itself past that", async () => {
  for (
    const [timeout, label] of [
      ["60", "TCP: hello, world, then wait for the timeout"],
      ["61", "TCP: hello, world, then close"],
      ["0", "TCP: hello, world, then close"],
    ] as const
  ) {
    const { lab, origin } = await startLab([], ["--timeout", timeout]);
    await using _lab = lab;
    const [config] = await readEvents(origin, (names) => names.length > 0);
    const scenarios = config!.data.scenarios as {
      name: string;
      label: string;
    }[];
    strictEqual(
      scenarios.find((scenario) => scenario.name === "tcp-hello")?.label,
      label,
      `--timeout ${timeout}`,
    );
    lab.kill("SIGTERM");
    strictEqual((await lab.finished()).code, 0);
  }
});
