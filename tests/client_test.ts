// Copyright 2026 the echolab authors. MIT license.
import {
  deepStrictEqual,
  match,
  ok,
  rejects,
  strictEqual,
} from "node:assert/strict";
import { type ReplyEvent, sendMessages } from "../lib/client/client.ts";
import { AccessList } from "../lib/policy/access_list.ts";
import { serveTcp } from "../tcp.ts";
import { serveUdp } from "../udp.ts";
import { faults } from "../lib/faults/mod.ts";
import { freePort, runMain } from "./cli_process.ts";
import { decoder, delay, encoder, udpClient } from "./net_client.ts";

const TIME = "time=\\d+\\.\\d{3} ms";

function lines(text: string): string[] {
  return text.trimEnd().split("\n");
}

Deno.test("client: sendMessages answers every line over TCP and counts exactly", async () => {
  await using server = serveTcp({ port: 0 });
  const events: ReplyEvent[] = [];
  const summary = await sendMessages(["one", "two\nthree"], {
    transport: "tcp",
    hostname: "127.0.0.1",
    port: server.addr.port,
  }, (event) => events.push(event));
  deepStrictEqual(
    events.map((e) => [e.message, decoder.decode(e.reply)]),
    [["one", "received msg: one"], ["two", "received msg: two"], [
      "three",
      "received msg: three",
    ]],
  );
  strictEqual(summary.sent, 3);
  strictEqual(summary.answered, 3);
  strictEqual(summary.lost, 0);
  strictEqual(summary.bytesOut, 14);
  strictEqual(summary.bytesIn, 18 + 18 + 20);
  strictEqual(summary.rtts.length, 3);
  strictEqual(typeof summary.connectTime, "number");
});

Deno.test("client: lines the server never answers are counted lost", async () => {
  await using server = serveTcp({ port: 0, maxLine: 3 });
  const events: ReplyEvent[] = [];
  const summary = await sendMessages(["ok", "too long", "never"], {
    transport: "tcp",
    hostname: "127.0.0.1",
    port: server.addr.port,
  }, (event) => events.push(event));
  deepStrictEqual(events.map((e) => e.reply === undefined), [
    false,
    true,
    true,
  ]);
  strictEqual(summary.answered, 1);
  strictEqual(summary.lost, 2);
});

Deno.test("client: send over TCP prints each reply and a summary, exit 0", async () => {
  await using server = serveTcp({ port: 0 });
  const port = server.addr.port;
  const { code, stdout, stderr } = await runMain(
    ["send", "--port", String(port), "--count", "2", "hello", "world"],
    `127.0.0.1:${port}`,
  );
  strictEqual(code, 0, stderr);
  strictEqual(stderr, "");
  const out = lines(stdout);
  strictEqual(out.length, 7);
  for (const [i, word] of ["hello", "world", "hello", "world"].entries()) {
    match(out[i]!, new RegExp(`^received msg: ${word} {2}${TIME}$`));
  }
  strictEqual(out[4], `--- 127.0.0.1:${port} tcp ---`);
  strictEqual(
    out[5],
    "4 lines sent, 4 answered, 0 lost (0.0% loss); 24 bytes sent, 80 bytes received",
  );
  match(
    out[6]!,
    /^rtt min\/avg\/max = [\d.]+\/[\d.]+\/[\d.]+ ms, connect [\d.]+ ms, \d+ bytes\/s received$/,
  );
});

Deno.test("client: send without messages reads stdin lines, like nc", async () => {
  await using server = serveTcp({ port: 0 });
  const port = server.addr.port;
  const { code, stdout } = await runMain(
    ["send", "--port", String(port)],
    `127.0.0.1:${port}`,
    [],
    "from\r\nstdin\nno newline",
  );
  strictEqual(code, 0);
  const out = lines(stdout);
  match(out[0]!, new RegExp(`^received msg: from {2}${TIME}$`));
  match(out[1]!, new RegExp(`^received msg: stdin {2}${TIME}$`));
  match(out[2]!, new RegExp(`^received msg: no newline {2}${TIME}$`));
  strictEqual(
    out[4],
    "3 lines sent, 3 answered, 0 lost (0.0% loss); 22 bytes sent, 64 bytes received",
  );
});

Deno.test("client: send --udp shows the seed's truncation and the round trip", async () => {
  await using server = serveUdp({ port: 0 });
  const port = server.addr.port;
  const { code, stdout } = await runMain(
    [
      "send",
      "--udp",
      "--port",
      String(port),
      "--interval",
      "0.05",
      "hello world",
      "hi",
    ],
    "127.0.0.1",
  );
  strictEqual(code, 0);
  const out = lines(stdout);
  match(out[0]!, new RegExp(`^received msg: hello {2}${TIME}$`));
  match(out[1]!, new RegExp(`^received msg: hi {2}${TIME}$`));
  strictEqual(out[2], `--- 127.0.0.1:${port} udp ---`);
  strictEqual(
    out[3],
    "2 datagrams sent, 2 answered, 0 lost (0.0% loss); 13 bytes sent, 37 bytes received",
  );
});

Deno.test("client: lost UDP datagrams are shown and counted, exit 1", async () => {
  // The server drops everything from loopback: nothing comes back.
  await using server = serveUdp({
    port: 0,
    allow: AccessList.parse("10.0.0.0/8"),
  });
  const port = server.addr.port;
  const { code, stdout } = await runMain(
    [
      "send",
      "--udp",
      "--port",
      String(port),
      "--wait",
      "0.2",
      "--count",
      "2",
      "x",
    ],
    "127.0.0.1",
  );
  strictEqual(code, 1);
  deepStrictEqual(lines(stdout), [
    'no reply to "x" within 0.2 s: lost',
    'no reply to "x" within 0.2 s: lost',
    `--- 127.0.0.1:${port} udp ---`,
    "2 datagrams sent, 0 answered, 2 lost (100.0% loss: UDP does not retransmit); 2 bytes sent, 0 bytes received",
  ]);
  strictEqual(server.stats().drops["not allowed"], 2);
});

Deno.test("client: nothing listening says how to start it, exit 1", async () => {
  const port = freePort();
  const { code, stdout, stderr } = await runMain(
    ["send", "--port", String(port), "hello"],
    `127.0.0.1:${port}`,
  );
  strictEqual(code, 1);
  strictEqual(stdout, "");
  strictEqual(
    stderr,
    `echolab: nothing is listening on 127.0.0.1:${port}: start it with deno task tcp\n`,
  );
});

Deno.test("client: a missing grant gets the exact --allow-net, TCP and UDP", async () => {
  const tcp = await runMain(["send", "--port", "8123", "x"], "127.0.0.1:1");
  strictEqual(tcp.code, 1);
  strictEqual(
    tcp.stderr,
    "echolab: Cannot reach 127.0.0.1:8123: no network permission; re-run with --allow-net=127.0.0.1:8123\n",
  );
  // A UDP client binds port 0 on the host: that needs the host grant.
  const udp = await runMain(["send", "--udp", "x"], "127.0.0.1:6000");
  strictEqual(udp.code, 1);
  strictEqual(
    udp.stderr,
    "echolab: Cannot reach 127.0.0.1:6000: no network permission; re-run with --allow-net=127.0.0.1\n",
  );
});

Deno.test("client: a UDP reply that comes after its wait is counted late, never as the next message's answer", async () => {
  // A real UDP peer that answers "first" only once "second" has arrived,
  // that is after the client stopped waiting for "first".
  const server = udpClient();
  const serving = (async () => {
    const [, from] = await server.receive();
    await server.receive();
    await server.send(encoder.encode("received msg: first\n"), from);
    await delay(50);
    await server.send(encoder.encode("received msg: second\n"), from);
  })();
  try {
    const events: ReplyEvent[] = [];
    const summary = await sendMessages(["first", "second"], {
      transport: "udp",
      hostname: "127.0.0.1",
      port: (server.addr as Deno.NetAddr).port,
      wait: 300,
    }, (event) => events.push(event));
    await serving;
    deepStrictEqual(
      events.map((e) => [e.message, e.reply && decoder.decode(e.reply)]),
      [["first", undefined], ["second", "received msg: second"]],
    );
    strictEqual(summary.sent, 2);
    strictEqual(summary.answered, 1);
    strictEqual(summary.lost, 1);
    strictEqual(summary.late, 1);
    strictEqual(summary.unexpected, 0);
  } finally {
    server.close();
  }
});

Deno.test("client: send --udp says how many late replies it ignored", async () => {
  const server = udpClient();
  const port = (server.addr as Deno.NetAddr).port;
  const serving = (async () => {
    const [, from] = await server.receive();
    await server.receive();
    await server.send(encoder.encode("received msg: one\n"), from);
    await delay(50);
    await server.send(encoder.encode("received msg: two\n"), from);
  })();
  try {
    const { code, stdout } = await runMain([
      "send",
      "--udp",
      "--port",
      String(port),
      "--wait",
      "0.3",
      "one",
      "two",
    ]);
    await serving;
    strictEqual(code, 1);
    match(
      lines(stdout)[3]!,
      /^2 datagrams sent, 1 answered, 1 lost \(50\.0% loss: UDP does not retransmit\); 1 late reply ignored; 6 bytes sent, 36 bytes received$/,
    );
  } finally {
    server.close();
  }
});

Deno.test("client: a UDP message that cannot be sent leaves no reply timer behind", async () => {
  await using server = serveUdp({ port: 0 });
  // Over the UDP size limit: the send itself fails. The test's sanitizers
  // fail it if the 5-second reply timer is left pending.
  await rejects(
    sendMessages(["x".repeat(70_000)], {
      transport: "udp",
      hostname: "127.0.0.1",
      port: server.addr.port,
      wait: 5000,
    }, () => {}),
  );
});

Deno.test("client: a TCP message whose write fails counts as sent and lost", async () => {
  // The server closes on the over-long line while the client still writes it.
  await using server = serveTcp({ port: 0, maxLine: 16 });
  const summary = await sendMessages(["x".repeat(16 << 20)], {
    transport: "tcp",
    hostname: "127.0.0.1",
    port: server.addr.port,
  }, () => {});
  strictEqual(summary.sent, 1);
  strictEqual(summary.lost, 1);
  strictEqual(summary.answered + summary.lost, summary.sent);
});

Deno.test("client: send --reconnect opens a connection per message and --tally counts replies by prefix", async () => {
  await using server = serveTcp({
    port: 0,
    prefix: "{instance}: ",
    instance: "pod-a",
  });
  const { code, stdout } = await runMain([
    "send",
    "--port",
    String(server.addr.port),
    "--reconnect",
    "--tally",
    "--count",
    "3",
    "hello",
  ]);
  strictEqual(code, 0);
  const output = lines(stdout);
  deepStrictEqual(output.slice(-3), [
    "--- tally: replies by prefix ---",
    "replies  prefix",
    '      3  "pod-a: "',
  ]);
  match(output[4]!, /^3 lines sent, 3 answered, 0 lost/);
  strictEqual(server.stats().connections_total, 3);
});

Deno.test("client: --reconnect over UDP sends each message from its own socket", async () => {
  // A real UDP peer that records where each datagram came from.
  const server = udpClient();
  const sources = new Set<number>();
  const serving = (async () => {
    for (let i = 0; i < 3; i++) {
      const [data, from] = await server.receive();
      sources.add((from as Deno.NetAddr).port);
      await server.send(data, from);
    }
  })();
  try {
    const summary = await sendMessages(["a", "b", "c"], {
      transport: "udp",
      hostname: "127.0.0.1",
      port: (server.addr as Deno.NetAddr).port,
      reconnect: true,
    }, () => {});
    await serving;
    strictEqual(summary.answered, 3);
    strictEqual(sources.size, 3);
  } finally {
    server.close();
  }
});

for (const bufferSize of [65_507, 512]) {
  Deno.test(`client: 2,048 outstanding 1 KiB datagrams are matched as they come, RTTs the server's delay (buffer ${bufferSize})`, async () => {
    // Every reply waits 1 s at the server: 2,048 datagrams are outstanding
    // at once. Matching must not cost more with more of them, so the RTTs
    // the client reports stay the network's (the delay), not its own CPU.
    await using server = serveUdp({
      port: 0,
      bufferSize,
      maxDelayed: 16 * 1024 * 1024,
      faults: faults({ delay: 1000 }),
    });
    const messages = Array.from(
      { length: 2048 },
      (_, i) => `${String(i).padStart(6, "0")} ${"x".repeat(1017)}`,
    );
    const replies: ReplyEvent[] = [];
    const summary = await sendMessages(messages, {
      transport: "udp",
      hostname: "127.0.0.1",
      port: server.addr.port,
      interval: 1,
      wait: 10_000,
    }, (event) => replies.push(event));
    deepStrictEqual(
      {
        sent: summary.sent,
        answered: summary.answered,
        lost: summary.lost,
        late: summary.late,
        unexpected: summary.unexpected,
        duplicates: summary.duplicates,
      },
      {
        sent: 2048,
        answered: 2048,
        lost: 0,
        late: 0,
        unexpected: 0,
        duplicates: 0,
      },
    );
    // Each reply is matched to its own message: it echoes its number.
    for (const { message, reply } of replies) {
      strictEqual(
        decoder.decode(reply).slice(0, "received msg: 000000".length),
        `received msg: ${message.slice(0, 6)}`,
      );
    }
    const slowest = Math.max(...summary.rtts);
    // The old matcher's RTTs reached 16.7 s here; the network's are ~1 s.
    ok(slowest >= 990 && slowest < 4000, `slowest RTT ${slowest} ms`);
  });
}

Deno.test("client: send tells a server's FIN (closed by peer) from its RST (reset by peer)", async () => {
  // A FIN alone before every reply came: echolab half-closing after one
  // reply (a close with unread lines would send an RST after the FIN).
  await using closing = serveTcp({
    port: 0,
    faults: faults({ halfCloseAfter: 1 }),
  });
  const closed = await runMain(
    ["send", "--port", String(closing.addr.port), "a", "b", "c"],
    `127.0.0.1:${closing.addr.port}`,
  );
  strictEqual(closed.code, 1);
  ok(
    lines(closed.stdout).includes(
      "the server ended the connection after 1 reply (closed by peer): 2 lost",
    ),
    closed.stdout,
  );
  // An RST alone: node:net's resetAndDestroy after the first reply.
  const { createServer } = await import("node:net");
  const resetting = createServer((socket) => {
    socket.once("data", () => {
      socket.write("received msg: a\n", () => socket.resetAndDestroy());
    });
  });
  await new Promise<void>((resolve) =>
    resetting.listen(0, "127.0.0.1", resolve)
  );
  try {
    const port = (resetting.address() as { port: number }).port;
    const reset = await runMain(
      ["send", "--port", String(port), "a\nb\nc"],
      `127.0.0.1:${port}`,
    );
    strictEqual(reset.code, 1);
    ok(
      lines(reset.stdout).some((line) =>
        /^the server ended the connection after [01] repl(y|ies) \(reset by peer\): [123] lost$/
          .test(line)
      ),
      reset.stdout,
    );
  } finally {
    await new Promise((resolve) => resetting.close(resolve));
  }
});

Deno.test("client: a UDP reply from another address than the one it went to is reported and counted, not lost", async () => {
  // A responder that answers from a socket of its own: another port.
  const front = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  const back = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  const frontPort = (front.addr as Deno.NetAddr).port;
  const backPort = (back.addr as Deno.NetAddr).port;
  const answering = (async () => {
    const [data, from] = await front.receive();
    await back.send(
      encoder.encode(`received msg: ${decoder.decode(data)}\n`),
      from,
    );
  })();
  try {
    const { code, stdout } = await runMain(
      ["send", "--udp", "--port", String(frontPort), "hello"],
      "127.0.0.1",
    );
    await answering;
    strictEqual(code, 0, stdout);
    const out = lines(stdout);
    match(out[0]!, /^received msg: hello {2}time=/);
    strictEqual(
      out[1],
      `reply from 127.0.0.1:${backPort}, not 127.0.0.1:${frontPort}: the server or a NAT answered from another address`,
    );
    strictEqual(
      out[3],
      "1 datagrams sent, 1 answered, 0 lost (0.0% loss); 1 reply from another address; 5 bytes sent, 20 bytes received",
    );
  } finally {
    front.close();
    back.close();
  }
});
