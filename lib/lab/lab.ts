// Copyright 2026 the echolab authors. MIT license.
/**
 * The lab: a page on the HTTP port that shows the servers' packets and
 * events live, as a sequence diagram per connection or UDP peer, with
 * buttons that replay the seed's sessions.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { formatAddress } from "../serving/address.ts";
import { errorMessage } from "../serving/errors.ts";
import { isLoopback, isLoopbackName } from "../serving/loopback.ts";
import { type AnyEchoServer, echoKind } from "../serving/server.ts";
import type { StatsSnapshot } from "../serving/server_stats.ts";
import { DEFAULT_BUFFER_SIZE, DEFAULT_TIMEOUT } from "../serving/defaults.ts";
import type { LabEvents } from "./lab_events.ts";
import { PAGE_CSS, PAGE_HTML } from "./_page.ts";
import { PAGE_SCRIPT } from "./_page_script.ts";
import {
  MAX_FREE_TEXT,
  replay,
  type ReplayTargets,
  scenarios,
  sendFree,
} from "./_replay.ts";
import type { PcapRing as PcapRingType } from "./_lab_capture.ts";

/** Options of {@linkcode startLab}. */
export interface LabOptions {
  /**
   * The echo servers shown (TCP, UDP, QUIC; one of each at most), bound:
   * their ports are captured and replayed to, their counters shown.
   */
  servers: readonly AnyEchoServer[];
  /**
   * The events store. The servers must trace (`trace: true`) into its
   * {@linkcode LabEvents.traceSink}, which the program puts on the
   * `echolab.trace` logger.
   */
  events: LabEvents;
  /**
   * `tcpdump`: capture the servers' packets (root or `CAP_NET_RAW`, and
   * `--allow-run=tcpdump,setpriv`); when that cannot be, the page shows
   * the servers' events only and says why. `none`: events only.
   *
   * @default {"tcpdump"}
   */
  capture?: "tcpdump" | "none";
  /**
   * The UDP server's buffer, for the replay's words.
   *
   * @default {5}
   */
  bufferSize?: number;
  /**
   * The TCP server's idle timeout in milliseconds (0: none): the TCP
   * replay waits for it when there is one.
   *
   * @default {10000}
   */
  timeout?: number;
}

/** The lab, running. */
export interface Lab extends AsyncDisposable {
  /** The path its page and endpoints live under: `/lab`. */
  readonly path: string;
  /**
   * What the page shows: packets (and the interface) or, without a
   * capture, why not.
   */
  readonly view: { packets: boolean; interface?: string; reason?: string };
  /**
   * Answers a request under `/lab` (give it to `serveOps` as a page).
   *
   * @param request The request.
   * @param peer Who asked: replays are for loopback peers only.
   * @returns The response.
   */
  handle(request: Request, peer: Deno.NetAddr): Promise<Response>;
  /**
   * Stops the capture, waits for running replays and ends the pages'
   * event streams. (A page that stopped reading keeps its connection until
   * it reads or goes: the HTTP server's graceful stop waits for it, so the
   * program bounds that wait.)
   *
   * @returns Once all of it is done.
   */
  close(): Promise<void>;
}

/** Replays running at once, at most. */
export const MAX_REPLAYS = 4;
/** Pages following the events at once, at most (each has its own queue). */
export const MAX_PAGES = 32;
/** The longest request body a lab endpoint reads. */
const MAX_BODY = 4096;
const logger = getLogger(["echolab", "lab"]);
const TEXT = "text/plain; charset=utf-8";
/** Nothing but this origin: no inline script, no other host. */
const POLICY =
  "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * Starts the lab over bound servers: picks a closed TCP port and a closed
 * UDP port for the replays that knock on them, starts the capture (or
 * says why it cannot, once, at warning level) and sends counters every
 * second.
 *
 * @param options The servers and the event store.
 * @returns The lab.
 *
 * @example
 * ```ts
 * import { LabEvents, startLab } from "./mod.ts";
 * import { serveUdp } from "../../udp.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * await using udp = serveUdp({ port: 0, trace: true });
 * const events = new LabEvents();
 * await using lab = await startLab({ servers: [udp], events, capture: "none" });
 * const page = await lab.handle(
 *   new Request("http://127.0.0.1/lab"),
 *   { transport: "tcp", hostname: "127.0.0.1", port: 1 },
 * );
 * strictEqual(page.status, 200);
 * await page.body?.cancel();
 * ```
 */
export async function startLab(options: LabOptions): Promise<Lab> {
  const { events, servers } = options;
  const byKind = new Map<string, AnyEchoServer>();
  for (const server of servers) byKind.set(echoKind(server), server);
  const netAddr = (server: AnyEchoServer | undefined) =>
    server === undefined || !("port" in server.addr)
      ? undefined
      : server.addr as Deno.NetAddr;
  const first = netAddr(servers[0]);
  const hostname = first?.hostname ?? "127.0.0.1";
  const closed = closedPorts(hostname);
  const quic = byKind.get("quic");
  const targets: ReplayTargets = {
    hostname,
    tcp: netAddr(byKind.get("tcp"))?.port,
    udp: netAddr(byKind.get("udp"))?.port,
    quic: netAddr(quic)?.port,
    closedTcp: closed.tcp,
    closedUdp: closed.udp,
    quicCert: quic !== undefined && "cert" in quic
      ? String(quic.cert)
      : undefined,
    bufferSize: options.bufferSize ?? DEFAULT_BUFFER_SIZE,
    timeout: options.timeout ?? DEFAULT_TIMEOUT,
  };
  const address = (port: number | undefined) =>
    port === undefined ? undefined : formatAddress({ hostname, port });
  let view: Lab["view"];
  let stopCapture: () => Promise<void> = () => Promise.resolve();
  let pcap: PcapRingType | undefined;
  if (options.capture === "none") {
    view = { packets: false, reason: "not asked for" };
  } else {
    try {
      const { captureLab, PcapRing } = await import("./_lab_capture.ts");
      const ring = new PcapRing();
      const capture = await captureLab({ ...targets }, {
        onEvent: (event) => events.add(event),
        pcap: ring,
      });
      pcap = ring;
      view = { packets: true, interface: capture.interface };
      stopCapture = () => capture.stop();
    } catch (error) {
      if (!(error instanceof Error) || error.name !== "CaptureError") {
        throw error;
      }
      const reason = error.message.replace(/^Cannot capture( on \S+)?: /, "");
      view = { packets: false, reason };
      logger.warn(
        "The lab shows server events only, no packets: {reason}",
        { reason },
      );
    }
  }
  const config = {
    view,
    limit: events.limit,
    servers: {
      tcp: address(targets.tcp),
      udp: address(targets.udp),
      quic: address(targets.quic),
      closedTcp: address(targets.closedTcp),
      closedUdp: address(targets.closedUdp),
    },
    scenarios: scenarios(targets),
  };
  const stats = setInterval(() => {
    events.broadcast("stats", counters(servers, events));
  }, 1000);
  Deno.unrefTimer(stats);
  const running = new Set<Promise<unknown>>();
  const start = (work: () => Promise<unknown>) => {
    const task = work().catch((error) =>
      logger.warn("A lab replay failed: {error}", {
        error: errorMessage(error),
      })
    ).finally(() => running.delete(task));
    running.add(task);
  };
  const note = (event: Parameters<LabEvents["add"]>[0]) => events.add(event);
  const handle = async (
    request: Request,
    peer: Deno.NetAddr,
  ): Promise<Response> => {
    const url = new URL(request.url);
    const path = url.pathname;
    // A page on loopback answers loopback names only: another site whose
    // name was made to point at 127.0.0.1 (DNS rebinding) gets nothing.
    if (isLoopback(peer.hostname) && !isLoopbackName(url.hostname)) {
      return text(
        403,
        `the lab answers loopback addresses and localhost only, not ${url.hostname}`,
      );
    }
    if (request.method === "POST") {
      const refused = refusal(request, peer);
      if (refused !== undefined) return text(403, refused);
      if (running.size >= MAX_REPLAYS) {
        return text(
          429,
          `${MAX_REPLAYS} replays are running already; wait for one to end`,
        );
      }
      if (path.startsWith("/lab/replay/")) {
        const name = path.slice("/lab/replay/".length);
        if (!config.scenarios.some((scenario) => scenario.name === name)) {
          return text(404, `no replay named ${name}`);
        }
        logger.info("Lab replay {name} asked by {peer}", {
          name,
          peer: formatAddress(peer),
        });
        start(() => replay(name, targets, note));
        return text(202, `replaying ${name}`);
      }
      if (path === "/lab/send") {
        const free = await readFree(request, targets);
        if (typeof free === "string") return text(400, free);
        logger.info("Lab send over {transport} asked by {peer}", {
          transport: free.transport,
          peer: formatAddress(peer),
        });
        start(() => sendFree(free.transport, free.text, targets, note));
        return text(202, `sending over ${free.transport}`);
      }
      return text(404, "not found");
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("method not allowed", {
        status: 405,
        headers: { "content-type": TEXT, allow: "GET, HEAD, POST" },
      });
    }
    switch (path) {
      case "/lab":
      case "/lab/":
        return page(PAGE_HTML, "text/html; charset=utf-8");
      case "/lab/lab.js":
        return page(PAGE_SCRIPT, "text/javascript; charset=utf-8");
      case "/lab/lab.css":
        return page(PAGE_CSS, "text/css; charset=utf-8");
      case "/lab/events": {
        const headers = {
          "content-type": "text/event-stream",
          "cache-control": "no-store",
        };
        if (request.method === "HEAD") return new Response(null, { headers });
        if (events.subscribers >= MAX_PAGES) {
          return text(
            503,
            `${MAX_PAGES} lab pages are open already; close one`,
          );
        }
        return new Response(events.subscribe(config), { headers });
      }
      case "/lab/capture.pcap":
        if (pcap === undefined) {
          return text(404, `no packets: ${view.reason}`);
        }
        return new Response(pcap.file(), {
          headers: {
            "content-type": "application/vnd.tcpdump.pcap",
            "content-disposition": 'attachment; filename="echolab-lab.pcap"',
            "cache-control": "no-store",
          },
        });
      default:
        return text(404, "not found");
    }
  };
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      clearInterval(stats);
      await Promise.all(running);
      await stopCapture();
      events.close();
    })();
    return closing;
  };
  return {
    path: "/lab",
    view,
    handle,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * Why a POST is refused: replays are for loopback peers, from the lab's
 * own page (a header other pages cannot send without asking first).
 */
function refusal(request: Request, peer: Deno.NetAddr): string | undefined {
  if (!isLoopback(peer.hostname)) {
    return "lab replays are for loopback peers only";
  }
  if (request.headers.get("x-echolab-lab") !== "1") {
    return "send X-Echolab-Lab: 1 (the lab page does)";
  }
  const origin = request.headers.get("origin");
  if (origin !== null && origin !== new URL(request.url).origin) {
    return `lab replays come from the lab page, not ${origin}`;
  }
  return undefined;
}

/** The body as text, read no further than `MAX_BODY` bytes. */
async function readBody(request: Request): Promise<string | undefined> {
  if (request.body === null) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.length;
    if (size > MAX_BODY) return undefined;
    chunks.push(chunk);
  }
  const joined = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.length;
  }
  return new TextDecoder().decode(joined);
}

async function readFree(
  request: Request,
  targets: ReplayTargets,
): Promise<string | { transport: "tcp" | "udp" | "quic"; text: string }> {
  let body: unknown;
  const raw = await readBody(request);
  if (raw === undefined) return `the body is over ${MAX_BODY} bytes`;
  try {
    body = JSON.parse(raw);
  } catch {
    return 'send JSON: {"transport": "tcp", "text": "hello"}';
  }
  const { transport, text } = (body ?? {}) as Record<string, unknown>;
  if (transport !== "tcp" && transport !== "udp" && transport !== "quic") {
    return "transport must be tcp, udp or quic";
  }
  if (targets[transport] === undefined) {
    return `no ${transport} server runs here`;
  }
  if (typeof text !== "string" || text === "" || /[\r\n]/.test(text)) {
    return "text must be one line, not empty";
  }
  if (text.length > MAX_FREE_TEXT) {
    return `text must be at most ${MAX_FREE_TEXT} characters`;
  }
  return { transport, text };
}

/** A TCP and a UDP port on `hostname` nobody listens on now. */
function closedPorts(hostname: string): { tcp: number; udp: number } {
  const listener = Deno.listen({ hostname, port: 0 });
  const tcp = listener.addr.port;
  listener.close();
  const socket = Deno.listenDatagram({
    transport: "udp",
    hostname,
    port: 0,
  });
  const udp = (socket.addr as Deno.NetAddr).port;
  socket.close();
  return { tcp, udp };
}

/** The page's counters, all servers added up. */
function counters(servers: readonly AnyEchoServer[], events: LabEvents) {
  const total = {
    connections: 0,
    lines: 0,
    datagrams: 0,
    bytesIn: 0,
    bytesOut: 0,
    drops: 0,
    events: {
      kept: events.kept,
      older: events.droppedOld,
      slow: events.droppedSlow,
    },
  };
  for (const server of servers) {
    const stats = server.stats() as StatsSnapshot;
    total.connections += stats.connections_total;
    total.lines += stats.lines_in;
    total.datagrams += stats.datagrams_in;
    total.bytesIn += stats.bytes_in;
    total.bytesOut += stats.bytes_out;
    for (const count of Object.values(stats.drops)) total.drops += count;
  }
  return total;
}

function page(body: string, type: string): Response {
  return new Response(body, {
    headers: {
      "content-type": type,
      "content-security-policy": POLICY,
      "x-content-type-options": "nosniff",
      "cache-control": "no-cache",
    },
  });
}

function text(status: number, body: string): Response {
  return new Response(body, { status, headers: { "content-type": TEXT } });
}
