// Copyright 2026 the echolab authors. MIT license.
/**
 * Capturing a server's or a client's own packets with `tcpdump`, the
 * standard capture tool, run as a child process: its pcap stream is read as
 * it comes and decoded here.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { writeAll } from "../serving/write_all.ts";
import { isLoopback } from "../serving/loopback.ts";
import { type Packet, PcapReader } from "./pcap_reader.ts";

/** A capture could not start; the message is one line naming the fix. */
export class CaptureError extends Error {
  /** What is missing: the program, its permission, the right, the file. */
  readonly kind: "missing" | "not allowed" | "refused" | "file";

  /**
   * Creates the error.
   *
   * @param kind What is missing.
   * @param message One line naming the fix.
   */
  constructor(kind: CaptureError["kind"], message: string) {
    super(message);
    this.name = "CaptureError";
    this.kind = kind;
  }
}

/** Options of {@linkcode startCapture}. */
export interface CaptureOptions {
  /** The address whose traffic is captured: it chooses the interface. */
  hostname: string;
  /** TCP ports to capture. */
  tcpPorts?: readonly number[];
  /** UDP ports to capture. */
  udpPorts?: readonly number[];
  /**
   * Also write the packets as a pcap file (Wireshark opens it); the
   * program must be allowed to write it.
   *
   * @default {undefined}
   */
  file?: string;
  /** Called with each packet, in capture order. */
  onPacket(packet: Packet): void;
  /**
   * Called with each record as tcpdump wrote it (its 16-byte header and
   * frame) and the stream's 24-byte file header: the two make a pcap file.
   * Every record captured comes here, decoded or not.
   *
   * @default {undefined}
   */
  onRecord?: (record: Uint8Array, header: Uint8Array) => void;
}

/** A running capture. */
export interface PacketCapture {
  /** The interface captured (`lo` for loopback, else `any`). */
  readonly interface: string;
  /**
   * Stops tcpdump and delivers what it still held.
   *
   * @returns Once tcpdump has exited and every packet was delivered.
   */
  stop(): Promise<void>;
}

/** What Deno must grant for a capture that ends with echolab, whatever kills it. */
export const RUN_GRANT = "--allow-run=tcpdump,setpriv";
const logger = getLogger(["echolab", "capture"]);
let warnedUnguarded = false;

/**
 * Starts tcpdump so that it dies with this process even on SIGKILL:
 * through util-linux's `setpriv --pdeathsig KILL`, with `-Z root` (Debian's
 * tcpdump otherwise switches to its own user after opening the device, and
 * that switch clears the death signal). Without `setpriv` (not granted or
 * not installed), tcpdump alone, and a warning once.
 */
function spawnTcpdump(args: string[]): Deno.ChildProcess {
  const options = {
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  } as const;
  const granted = (command: string) =>
    Deno.permissions.querySync({ name: "run", command }).state === "granted";
  let why = `setpriv is not granted (${RUN_GRANT})`;
  // Both granted: setpriv runs tcpdump (a tcpdump not installed makes it
  // fail at once, and says so). Otherwise tcpdump is started alone, and
  // Deno says whether it is missing or not granted.
  if (granted("setpriv") && granted("tcpdump")) {
    try {
      return new Deno.Command("setpriv", {
        args: ["--pdeathsig", "KILL", "--", "tcpdump", "-Z", "root", ...args],
        ...options,
      }).spawn();
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      why = "setpriv is not installed (apt install util-linux)";
    }
  }
  const child = new Deno.Command("tcpdump", { args, ...options }).spawn();
  if (!warnedUnguarded) {
    warnedUnguarded = true;
    logger.warn(
      "tcpdump may outlive echolab if echolab is killed with SIGKILL: {why}",
      { why },
    );
  }
  return child;
}

const running = new Set<Deno.ChildProcess>();
let unloadHooked = false;

/** tcpdump must end with the program, even on `Deno.exit`. */
function killOnExit(child: Deno.ChildProcess): void {
  running.add(child);
  if (unloadHooked) return;
  unloadHooked = true;
  globalThis.addEventListener("unload", () => {
    for (const process of running) {
      try {
        process.kill("SIGTERM");
      } catch {
        // Already gone.
      }
    }
  });
}

/**
 * Starts tcpdump on the interface that carries `hostname`'s traffic,
 * filtered to the ports given (and ICMP, for port-unreachable errors), with
 * immediate delivery. Resolves once tcpdump says it is listening, so no
 * packet is missed after that.
 *
 * @param options What to capture and where packets go.
 * @returns The running capture.
 * @throws {CaptureError} When tcpdump is missing, may not be run, or the
 * system refuses the capture; or when the file may not be written.
 *
 * @example
 * ```ts ignore
 * import { startCapture } from "./packet_capture.ts";
 *
 * const capture = await startCapture({
 *   hostname: "127.0.0.1",
 *   tcpPorts: [8000],
 *   onPacket: (packet) => console.log(packet.flags),
 * });
 * await capture.stop();
 * ```
 */
export async function startCapture(
  options: CaptureOptions,
): Promise<PacketCapture> {
  const device =
    isLoopback(options.hostname) || options.hostname === "localhost"
      ? "lo"
      : "any";
  let file: Deno.FsFile | undefined;
  if (options.file !== undefined) {
    try {
      file = await Deno.open(options.file, {
        write: true,
        create: true,
        truncate: true,
      });
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) {
        throw new CaptureError(
          "file",
          `Cannot write the capture to ${options.file}: no write permission; re-run with --allow-write=${options.file}`,
        );
      }
      throw new CaptureError(
        "file",
        `Cannot write the capture to ${options.file}: ${
          error instanceof Error ? error.message : error
        }`,
      );
    }
  }
  const ports = [
    ...(options.tcpPorts ?? []).map((port) => `(tcp and port ${port})`),
    ...(options.udpPorts ?? []).map((port) => `(udp and port ${port})`),
    "icmp",
    "icmp6",
  ];
  let child: Deno.ChildProcess;
  try {
    child = spawnTcpdump([
      "-i",
      device,
      "-n",
      "-U",
      "--immediate-mode",
      "-w",
      "-",
      ports.join(" or "),
    ]);
  } catch (error) {
    file?.close();
    if (error instanceof Deno.errors.NotFound) {
      throw new CaptureError(
        "missing",
        "Cannot capture: tcpdump is not installed (apt install tcpdump)",
      );
    }
    if (error instanceof Deno.errors.NotCapable) {
      throw new CaptureError(
        "not allowed",
        `Cannot capture: no permission to run tcpdump; re-run with ${RUN_GRANT}`,
      );
    }
    throw error;
  }
  killOnExit(child);
  // Wait for "listening on …" on stderr, or for tcpdump to give up.
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let said = "";
  let listening = false;
  while (!listening) {
    const { value, done } = await stderr.read();
    if (done) break;
    said += value;
    listening = /listening on /.test(said);
  }
  if (!listening) {
    const status = await child.status;
    running.delete(child);
    await child.stdout.cancel().catch(() => {});
    file?.close();
    const refused = /permission|not permitted|Operation not permitted/i.test(
      said,
    );
    if (/failed to execute tcpdump/.test(said)) {
      throw new CaptureError(
        "missing",
        "Cannot capture: tcpdump is not installed (apt install tcpdump)",
      );
    }
    throw new CaptureError(
      refused ? "refused" : "missing",
      refused
        ? `Cannot capture on ${device}: the system refused; run as root or grant cap_net_raw to tcpdump`
        : `Cannot capture on ${device}: tcpdump stopped at once (exit ${status.code})`,
    );
  }
  // Drain the rest of stderr (its counts at exit) so the pipe never fills.
  const stderrDone = (async () => {
    while (!(await stderr.read()).done) { /* discard */ }
  })();
  const onRecord = options.onRecord;
  const reader: PcapReader = new PcapReader({
    onRecord: onRecord === undefined
      ? undefined
      : (record) => onRecord(record, reader.header!),
  });
  const stdoutDone = (async () => {
    for await (const chunk of child.stdout) {
      if (file !== undefined) await writeAll(file, chunk);
      for (const packet of reader.push(chunk)) options.onPacket(packet);
    }
  })();
  let stopping: Promise<void> | undefined;
  return {
    interface: device,
    stop() {
      stopping ??= (async () => {
        try {
          child.kill("SIGTERM");
        } catch {
          // Already gone.
        }
        await child.status;
        running.delete(child);
        await Promise.all([stdoutDone, stderrDone]);
        file?.close();
      })();
      return stopping;
    },
  };
}
