// Copyright 2026 the echolab authors. MIT license.
/**
 * `deno task stress`: holds as many TCP connections as the file limit allows
 * (up to 10,000), pipelines lines on all of them, floods UDP from 4 sockets,
 * and checks every reply byte for byte. Exits 1 if any well-formed request
 * went unanswered or was answered wrongly.
 *
 * The server runs as its own process (`main.ts all`), so its memory is
 * measured alone.
 *
 * @module
 */

import {
  decoder,
  encoder,
  freePort,
  readBytes,
  REPLY,
} from "../tests/net_client.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const LINES_PER_CONNECTION = 10;
const UDP_SOCKETS = 4;
const UDP_DATAGRAMS_PER_SOCKET = 25_000;
const UDP_WINDOW = 16;
const UDP_WAIT_MS = 1000;
const MAX_CONNECTIONS = 10_000;

async function shell(command: string): Promise<string> {
  const { stdout } = await new Deno.Command("bash", { args: ["-c", command] })
    .output();
  return decoder.decode(stdout).trim();
}

async function rssOf(pid: number): Promise<number> {
  const status = await shell(`cat /proc/${pid}/status`);
  return Number(status.match(/^VmRSS:\s+(\d+) kB$/m)?.[1] ?? 0) * 1024;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

async function main(): Promise<number> {
  const fileLimit = Number(await shell("ulimit -n"));
  // Each connection costs the client one descriptor; keep 100 for the rest.
  const target = Math.max(0, Math.min(MAX_CONNECTIONS, fileLimit - 100));
  const tcpPort = freePort("tcp");
  const udpPort = freePort("udp");
  const server = new Deno.Command("bash", {
    args: [
      "-c",
      `ulimit -n ${
        Math.max(fileLimit, target + 200)
      } 2>/dev/null; exec "$0" "$@"`,
      Deno.execPath(),
      "run",
      "--quiet",
      "--allow-net=127.0.0.1",
      "--unstable-net",
      MAIN,
      "all",
      "--quic-port",
      "0",
      "--tcp-port",
      String(tcpPort),
      "--udp-port",
      String(udpPort),
      "--buffer-size",
      "64",
      "--timeout",
      "120",
      "--log-level",
      "warning",
    ],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  try {
    return await stress(server.pid, target, fileLimit, tcpPort, udpPort);
  } finally {
    server.kill("SIGTERM");
    await server.status;
  }
}

async function stress(
  pid: number,
  target: number,
  fileLimit: number,
  tcpPort: number,
  udpPort: number,
): Promise<number> {
  const tcp = { hostname: "127.0.0.1", port: tcpPort };
  // Wait for the server to accept.
  for (let attempt = 0;; attempt++) {
    try {
      (await Deno.connect(tcp)).close();
      break;
    } catch (error) {
      if (attempt > 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  const rssBefore = await rssOf(pid);
  const started = performance.now();

  // 1. Open and hold the connections.
  const conns: Deno.TcpConn[] = [];
  let connectErrors = 0;
  for (let i = 0; i < target; i += 200) {
    const batch = await Promise.allSettled(
      Array.from(
        { length: Math.min(200, target - i) },
        () => Deno.connect(tcp),
      ),
    );
    for (const result of batch) {
      if (result.status === "fulfilled") conns.push(result.value);
      else connectErrors++;
    }
  }
  const connectSeconds = (performance.now() - started) / 1000;

  // 2. Pipeline lines on every connection at once, check every byte.
  let linesAnswered = 0;
  let linesLost = 0;
  const pipelineStarted = performance.now();
  await Promise.all(conns.map(async (conn, c) => {
    const lines = Array.from(
      { length: LINES_PER_CONNECTION },
      (_, j) => `conn ${c} line ${j}`,
    );
    const expected = lines.map((line) => `${REPLY}${line}\n`).join("");
    try {
      await conn.write(encoder.encode(lines.map((l) => `${l}\n`).join("")));
      const reply = decoder.decode(
        await readBytes(conn, encoder.encode(expected).length),
      );
      if (reply === expected) linesAnswered += LINES_PER_CONNECTION;
      else linesLost += LINES_PER_CONNECTION;
    } catch {
      linesLost += LINES_PER_CONNECTION;
    }
  }));
  const pipelineSeconds = (performance.now() - pipelineStarted) / 1000;
  const rssHeld = await rssOf(pid);

  // 3. Flood UDP from 4 sockets, each with a window of datagrams in flight.
  const udpStarted = performance.now();
  const udpResults = await Promise.all(
    Array.from({ length: UDP_SOCKETS }, (_, s) => floodUdp(s, udpPort)),
  );
  const udpSeconds = (performance.now() - udpStarted) / 1000;
  const datagramsAnswered = udpResults.reduce((sum, r) => sum + r.answered, 0);
  const datagramsLost = udpResults.reduce((sum, r) => sum + r.lost, 0);

  for (const conn of conns) conn.close();
  await new Promise((resolve) => setTimeout(resolve, 500));
  const rssAfter = await rssOf(pid);

  const rows: [string, string][] = [
    ["file limit (ulimit -n)", String(fileLimit)],
    [
      "connections held",
      `${conns.length} of ${target} (${connectErrors} failed to connect, ${
        connectSeconds.toFixed(1)
      } s)`,
    ],
    [
      "lines answered",
      `${linesAnswered} (${
        (linesAnswered / pipelineSeconds).toFixed(0)
      } lines/s)`,
    ],
    ["lines lost or wrong", String(linesLost)],
    [
      "datagrams answered",
      `${datagramsAnswered} (${
        (datagramsAnswered / udpSeconds).toFixed(0)
      } datagrams/s)`,
    ],
    ["datagrams lost or wrong", String(datagramsLost)],
    ["server RSS before", megabytes(rssBefore)],
    ["server RSS holding the connections", megabytes(rssHeld)],
    ["server RSS after closing them", megabytes(rssAfter)],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  for (const [name, value] of rows) {
    console.log(`${name.padEnd(width)}  ${value}`);
  }
  const failed = linesLost > 0 || datagramsLost > 0 || connectErrors > 0;
  console.log(failed ? "stress: FAILED" : "stress: every request answered");
  return failed ? 1 : 0;
}

async function floodUdp(index: number, port: number) {
  const socket = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  const server = { transport: "udp" as const, hostname: "127.0.0.1", port };
  const outstanding = new Map<string, number>();
  let next = 0;
  let answered = 0;
  let lost = 0;
  const send = async () => {
    const text = `s${index}-${next++}`;
    outstanding.set(`${REPLY}${text}\n`, performance.now());
    await socket.send(encoder.encode(text), server);
  };
  try {
    for (let i = 0; i < UDP_WINDOW; i++) await send();
    const buffer = new Uint8Array(65_536);
    while (outstanding.size > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), UDP_WAIT_MS);
      });
      const received = await Promise.race([socket.receive(buffer), timeout]);
      clearTimeout(timer);
      if (received === undefined) {
        // Nothing for a second: everything still outstanding is lost.
        lost += outstanding.size;
        break;
      }
      const reply = decoder.decode(received[0]);
      if (outstanding.delete(reply)) answered++;
      else lost++;
      if (next < UDP_DATAGRAMS_PER_SOCKET) await send();
    }
  } finally {
    socket.close();
  }
  return { answered, lost };
}

if (import.meta.main) {
  Deno.exit(await main());
}
