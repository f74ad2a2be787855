// Copyright 2026 the echolab authors. MIT license.
// Faults that real networks have: jitter, burst loss, bandwidth, aimed faults.
import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { FaultInjector, faults } from "../lib/faults/mod.ts";
import { formatProxyHeader, proxyProtocol } from "../lib/proxy/mod.ts";
import { serveTcp } from "../tcp.ts";
import { serveUdp } from "../udp.ts";
import { runMain } from "./cli_process.ts";
import {
  delay,
  encoder,
  ping,
  readExactly,
  receiveWithin,
  REPLY,
  writeAll,
} from "./net_client.ts";

/** One read, or `timeout` after `milliseconds`; the timer never outlives it. */
async function readWithin(
  conn: Deno.Conn,
  buffer: Uint8Array,
  milliseconds: number,
): Promise<number | null | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), milliseconds);
  });
  const reading = conn.read(buffer);
  // Left pending at a timeout: it fails when the connection closes.
  reading.catch(() => {});
  try {
    return await Promise.race([reading, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("network faults: jitter spreads delays normally around --delay, the same for the same seed", () => {
  const draws = (seed: number) => {
    const injector = new FaultInjector({ delay: 100, jitter: 20, seed });
    return Array.from({ length: 4000 }, () => injector.delay());
  };
  const first = draws(11);
  deepStrictEqual(draws(11), first);
  const mean = first.reduce((a, b) => a + b, 0) / first.length;
  const sd = Math.sqrt(
    first.reduce((a, b) => a + (b - mean) ** 2, 0) / first.length,
  );
  ok(Math.abs(mean - 100) < 2, `mean ${mean}`);
  ok(Math.abs(sd - 20) < 2, `standard deviation ${sd}`);
  ok(Math.min(...first) >= 0);
  // A deviate below zero is clamped: never a negative delay.
  const wide = new FaultInjector({ delay: 5, jitter: 50, seed: 2 });
  ok(Array.from({ length: 1000 }, () => wide.delay()).every((d) => d >= 0));
  throws(() => faults({ jitter: 5 }), /jitter needs delay/);
});

Deno.test("network faults: burst loss keeps the rate and makes runs of the mean length", () => {
  const injector = new FaultInjector({ drop: 0.2, dropBurst: 4, seed: 5 });
  const lost = Array.from({ length: 10_000 }, () => injector.drops());
  const runs: number[] = [];
  let run = 0;
  for (const gone of lost) {
    if (gone) run++;
    else if (run > 0) {
      runs.push(run);
      run = 0;
    }
  }
  const rate = lost.filter(Boolean).length / lost.length;
  const mean = runs.reduce((a, b) => a + b, 0) / runs.length;
  ok(Math.abs(rate - 0.2) < 0.03, `loss rate ${rate}`);
  ok(Math.abs(mean - 4) < 0.8, `mean run ${mean}`);
  throws(() => faults({ dropBurst: 3 }), /dropBurst needs drop/);
});

Deno.test("network faults: over a real UDP server, 10,000 datagrams are lost in runs of mean --drop-burst", async () => {
  await using server = serveUdp({
    port: 0,
    raw: true,
    faults: faults({ drop: 0.2, dropBurst: 4, seed: 8 }),
  });
  const socket = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  const answered = new Set<number>();
  const receiving = (async () => {
    try {
      while (true) {
        const [data] = await socket.receive();
        answered.add(new DataView(data.buffer, data.byteOffset).getUint32(0));
      }
    } catch {
      // Closed: done.
    }
  })();
  try {
    // Batches small enough that loopback's buffers never drop one, each
    // waited for: every datagram answered or dropped by the fault.
    for (let start = 0; start < 10_000; start += 200) {
      for (let i = start; i < start + 200; i++) {
        const datagram = new Uint8Array(4);
        new DataView(datagram.buffer).setUint32(0, i);
        await socket.send(datagram, server.addr);
      }
      for (
        let waited = 0;
        answered.size + (server.stats().faults.drop ?? 0) < start + 200 &&
        waited < 2000;
        waited += 5
      ) await delay(5);
    }
  } finally {
    socket.close();
    await receiving;
  }
  const runs: number[] = [];
  let run = 0;
  for (let i = 0; i < 10_000; i++) {
    if (!answered.has(i)) run++;
    else if (run > 0) {
      runs.push(run);
      run = 0;
    }
  }
  if (run > 0) runs.push(run);
  const lost = 10_000 - answered.size;
  strictEqual(server.stats().faults.drop, lost);
  const mean = runs.reduce((a, b) => a + b, 0) / runs.length;
  ok(Math.abs(mean - 4) < 0.8, `mean run ${mean} over ${runs.length} runs`);
  ok(Math.abs(lost / 10_000 - 0.2) < 0.04, `loss ${lost}`);
});

const PACES: [rate: number, bytes: number][] = [
  [1024, 2048],
  [50 * 1024, 100 * 1024],
  [10 * 1024 * 1024, 20 * 1024 * 1024],
];
for (const [rate, bytes] of PACES) {
  Deno.test(`network faults: --bandwidth ${rate} bytes/s paces ${bytes} bytes of replies`, async () => {
    await using server = serveTcp({
      port: 0,
      raw: true,
      faults: faults({ bandwidth: rate }),
    });
    using conn = await Deno.connect(server.addr);
    const payload = new Uint8Array(bytes).fill(120);
    const started = performance.now();
    const writing = writeAll(conn, payload);
    const echoed = new Uint8Array(bytes);
    strictEqual(await readExactly(conn, echoed), bytes);
    await writing;
    const seconds = (performance.now() - started) / 1000;
    // The bucket starts full: its capacity leaves at once.
    const capacity = Math.max(256, Math.floor(rate * 0.05));
    const expected = (bytes - capacity) / rate;
    ok(
      Math.abs(seconds - expected) <= expected * 0.2,
      `${seconds.toFixed(3)} s, expected ${expected.toFixed(3)} s`,
    );
    ok(server.stats().faults.bandwidth! > 0);
  });
}

/** Waits until a drop counter passes `before` (at most 2 s). */
async function dropCounted(
  count: () => number | undefined,
  before: number,
): Promise<void> {
  for (let waited = 0; (count() ?? 0) <= before; waited += 5) {
    if (waited >= 2000) throw new Error("no drop counted within 2 s");
    await delay(5);
  }
}

Deno.test("network faults: --faults-for aims faults at one network; others are served clean", async () => {
  // UDP: the source address decides.
  await using udp = serveUdp({
    port: 0,
    faults: faults({ drop: 1, faultsFor: "127.0.0.2/32" }),
  });
  for (
    const [hostname, answered] of [["127.0.0.1", true], [
      "127.0.0.2",
      false,
    ]] as const
  ) {
    const socket = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
    try {
      const dropped = udp.stats().faults.drop ?? 0;
      await socket.send(encoder.encode("hi"), udp.addr);
      if (!answered) await dropCounted(() => udp.stats().faults.drop, dropped);
      // Clean: the reply comes (in time even on a busy machine); faulted:
      // counted dropped above, and nothing comes.
      strictEqual(
        (await receiveWithin(socket, answered ? 2000 : 100)) !== undefined,
        answered,
      );
    } finally {
      try {
        socket.close();
      } catch {
        // Closed by receiveWithin.
      }
    }
  }
  // TCP behind the PROXY protocol: the header's client decides.
  await using tcp = serveTcp({
    port: 0,
    proxy: proxyProtocol(),
    faults: faults({ drop: 1, faultsFor: "192.0.2.0/24" }),
  });
  for (
    const [client, answered] of [["198.51.100.1", true], [
      "192.0.2.7",
      false,
    ]] as const
  ) {
    using conn = await Deno.connect(tcp.addr);
    const dropped = tcp.stats().faults.drop ?? 0;
    await writeAll(
      conn,
      new Uint8Array([
        ...formatProxyHeader(1, {
          source: { hostname: client, port: 4000 },
          destination: { hostname: "192.0.2.2", port: 8000 },
        }),
        ...encoder.encode("hi\n"),
      ]),
    );
    if (!answered) {
      await dropCounted(() => tcp.stats().faults.drop, dropped);
    }
    const read = await readWithin(
      conn,
      new Uint8Array(64),
      answered ? 2000 : 100,
    );
    strictEqual(typeof read === "number", answered, client);
  }
});

Deno.test("network faults: --fault-connections picks the same connections for the same seed, all or nothing", async () => {
  const pattern = async () => {
    await using server = serveTcp({
      port: 0,
      faults: faults({ drop: 1, faultConnections: 0.5, seed: 21 }),
    });
    const picked: boolean[] = [];
    for (let i = 0; i < 20; i++) {
      using conn = await Deno.connect(server.addr);
      const dropped = server.stats().faults.drop ?? 0;
      await writeAll(conn, encoder.encode("a\nb\n"));
      const buffer = new Uint8Array(2 * `${REPLY}a\n`.length);
      // Either both replies come, or the server counts both lines dropped.
      const reading = readExactly(conn, buffer);
      reading.catch(() => {});
      let faulted = false;
      for (let waited = 0; waited < 5000; waited += 5) {
        if ((server.stats().faults.drop ?? 0) >= dropped + 2) {
          faulted = true;
          break;
        }
        let timer: ReturnType<typeof setTimeout> | undefined;
        const done = await Promise.race([
          reading.then(() => true),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(false), 5);
          }),
        ]);
        clearTimeout(timer);
        if (done) break;
      }
      picked.push(faulted);
      if (!faulted) strictEqual(await reading, buffer.length);
    }
    return picked;
  };
  const first = await pattern();
  deepStrictEqual(await pattern(), first);
  const faulted = first.filter(Boolean).length;
  ok(faulted >= 4 && faulted <= 16, `${faulted} of 20 faulted`);
});

Deno.test("network faults: bad values of the new flags are usage errors naming the flag", async () => {
  for (
    const [args, message] of [
      [["tcp", "--jitter", "5"], "Flag --jitter needs --delay"],
      [["tcp", "--drop-burst", "3"], "Flag --drop-burst needs --drop"],
      [
        ["tcp", "--drop", "0.1", "--drop-burst", "0.5"],
        'Invalid --drop-burst "0.5": expected a mean run length from 1 to 1000, e.g. 4',
      ],
      [
        ["tcp", "--bandwidth", "0"],
        'Invalid --bandwidth "0": expected a whole number from 1 to 1000000000',
      ],
      [
        ["udp", "--bandwidth", "100"],
        "Flag --bandwidth does not apply to mode udp: it is for tcp, quic, all and lab",
      ],
      [
        ["udp", "--fault-connections", "0.5"],
        "Flag --fault-connections does not apply to mode udp: it is for tcp, all and lab",
      ],
      [
        ["tcp", "--fault-connections", "2"],
        'Invalid --fault-connections "2": expected a fraction from 0 to 1, e.g. 0.1',
      ],
      [
        ["tcp", "--faults-for", "here"],
        'Invalid --faults-for: "here" is not an IPv4 or IPv6 range such as 127.0.0.0/8 or ::1/128',
      ],
    ] as const
  ) {
    const { code, stderr } = await runMain([...args]);
    strictEqual(code, 2, args.join(" "));
    strictEqual(stderr, `echolab: ${message} (see --help)\n`);
  }
});

Deno.test("network faults: the control API takes the new faults under their option names", async () => {
  await using server = serveTcp({ port: 0 });
  server.setFaults(
    faults({
      delay: 10,
      jitter: 5,
      bandwidth: 4096,
      faultsFor: "127.0.0.0/8",
      seed: 1,
    }),
  );
  deepStrictEqual(server.faults, {
    delay: 10,
    jitter: 5,
    bandwidth: 4096,
    faultsFor: "127.0.0.0/8",
    seed: 1,
  });
  using conn = await Deno.connect(server.addr);
  strictEqual(await ping(conn, "x"), `${REPLY}x\n`);
});
