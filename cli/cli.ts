// Copyright 2026 the echolab authors. MIT license.
/**
 * The command line program: parse, start, wait for a signal, stop, flush.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import config from "../deno.json" with { type: "json" };
import { formatAddress } from "../lib/serving/address.ts";
import type { FaultOptions } from "../lib/faults/faults.ts";
import type { AnyEchoServer } from "../lib/serving/server.ts";
import type { ControlOptions, OpsServer } from "../lib/ops/mod.ts";
import type { Lab } from "../lib/lab/mod.ts";
import { isLoopback } from "../lib/serving/loopback.ts";
import { withDeadline } from "../lib/serving/deadline.ts";
import { DEFAULT_SHUTDOWN_GRACE } from "../lib/serving/defaults.ts";
import type { TlsTerminationOptions } from "../lib/tls/tls_termination.ts";
import type { QuicEchoServer } from "../quic.ts";
import { errorMessage } from "../lib/serving/errors.ts";
import { serveResettableTcp, serveTcp } from "../tcp.ts";
import { serveUdp } from "../udp.ts";
import {
  checkAddress,
  type CommandLine,
  OPTION_FLAGS,
  parseAccessList,
  parseCommandLine,
  type ServeCommandLine,
} from "./command_line.ts";
import { FlagFileError, readFlagFile } from "./flag_file.ts";
import {
  type OptionalParts,
  quicServerOptions,
  tcpServerOptions,
  type TcpServerSpec,
  udpServerOptions,
} from "./server_options.ts";
import { configureLogging, flushLogging, stopLogging } from "./logging.ts";

import { ShutdownSignal } from "./shutdown_signal.ts";
import { type BindTarget, describeStartError } from "./start_error.ts";
import { logStats } from "./stats_report.ts";
import {
  serveTcpWorkers,
  type TcpWorkers,
  WorkersError,
} from "./tcp_workers.ts";
import { USAGE } from "./usage.ts";
import { UsageError } from "./usage_error.ts";

/** The version, from deno.json. */
export const VERSION: string = config.version;

const logger = getLogger(["echolab"]);
const encoder = new TextEncoder();

/**
 * Runs the program with the given arguments and returns its exit code: 0
 * after a clean stop, 1 when a server cannot start, 2 for usage errors.
 *
 * @param args The arguments after `main.ts`.
 * @returns The exit code.
 *
 * @example
 * ```ts ignore
 * import { runCli } from "./cli.ts";
 *
 * Deno.exit(await runCli(Deno.args));
 * ```
 */
export async function runCli(args: readonly string[]): Promise<number> {
  let commandLine: CommandLine;
  let lists: AccessLists = {};
  try {
    commandLine = parseCommandLine(args);
    if (commandLine.action === "serve" || commandLine.action === "send") {
      await checkAddress(commandLine.hostname, "--host");
    }
    if (commandLine.action === "serve") {
      await checkAddress(commandLine.httpHost, "--http-host");
    }
    // The lists are checked here, to fail as usage errors; the servers get
    // them as text (a worker parses its own).
    if (commandLine.action === "serve") {
      lists = {
        allow: commandLine.allow === undefined
          ? undefined
          : (await parseAccessList(commandLine.allow, "--allow")).ranges
            .join(","),
        proxyFrom: commandLine.proxyFrom === undefined
          ? undefined
          : (await parseAccessList(commandLine.proxyFrom, "--proxy-from"))
            .ranges.join(","),
        faultsFor: commandLine.faultsFor === undefined
          ? undefined
          : (await parseAccessList(commandLine.faultsFor, "--faults-for"))
            .ranges.join(","),
        dialAllow: commandLine.dialAllow === undefined
          ? undefined
          : (await parseAccessList(commandLine.dialAllow, "--dial-allow"))
            .ranges.join(","),
      };
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    Deno.stderr.writeSync(
      encoder.encode(`echolab: ${error.message} (see --help)\n`),
    );
    return 2;
  }
  if (commandLine.action === "help" || commandLine.action === "version") {
    Deno.stdout.writeSync(
      encoder.encode(
        commandLine.action === "help" ? USAGE : `echolab ${VERSION}\n`,
      ),
    );
    return 0;
  }
  if (commandLine.action === "send") {
    const { send } = await import("./send_command.ts");
    return await send(commandLine);
  }
  return await serve(commandLine, lists);
}

/** The access lists of the command line, checked, as text. */
interface AccessLists {
  allow?: string;
  faultsFor?: string;
  proxyFrom?: string;
  dialAllow?: string;
}

async function serve(
  commandLine: ServeCommandLine,
  lists: AccessLists,
): Promise<number> {
  // Signal listeners come first: until they exist, a signal kills outright.
  using signal = new ShutdownSignal((name) => {
    logger.warn("Received {signal} again: exiting at once", { signal: name });
    flushLogging();
    Deno.exit(name === "SIGINT" ? 130 : 143);
  });
  const servers: [transport: "tcp" | "udp" | "quic", server: AnyEchoServer][] =
    [];
  let reporting = true;
  const printStats = async (refresh: boolean) => {
    for (const [transport, server] of servers) {
      const stats = refresh && "refreshStats" in server
        ? await (server as TcpWorkers).refreshStats()
        : server.stats();
      if (reporting) logStats(transport, formatAddress(server.addr), stats);
    }
  };
  // SIGUSR1 prints the counters from before the first bind until exit: it
  // is never left without a listener, whose absence can end the process.
  listenForStatsSignal(() => {
    if (reporting) printStats(true);
  });
  // The lab's events come from the servers' trace: its sink is set first.
  const labEvents = commandLine.lab
    ? new (await import("../lib/lab/mod.ts")).LabEvents()
    : undefined;
  await configureLogging({
    level: commandLine.logLevel,
    format: commandLine.logFormat,
    trace: commandLine.trace,
    traceSink: labEvents?.traceSink(),
    flags: OPTION_FLAGS,
  });
  const fail = async (message: string) => {
    // The line as a value, never as a template: it may hold braces.
    logger.error("{error}", { error: message });
    await Promise.all(servers.map(([, server]) => server.shutdown()));
    reporting = false;
    await stopLogging();
    return 1;
  };
  let tls: TlsTerminationOptions | undefined;
  try {
    tls = await readTlsFiles(commandLine);
  } catch (error) {
    if (!(error instanceof FlagFileError)) throw error;
    return await fail(error.message);
  }
  const instance = resolveInstance(commandLine);
  if (instance instanceof Error) return await fail(instance.message);
  if (instance !== undefined) {
    logger.info("Instance {instance}", { instance });
  }
  const started = await startServers(
    { ...commandLine, instance },
    lists,
    tls,
    servers,
  );
  if (started !== undefined) return await fail(started);
  // With --capture, a server serves once tcpdump listens, or not at all.
  for (const [, server] of servers) {
    try {
      await server.started;
    } catch (error) {
      // Only a capture makes `started` reject, with a CaptureError.
      if (!(error instanceof Error) || error.name !== "CaptureError") {
        throw error;
      }
      return await fail(error.message);
    }
  }
  // The lab writes the trace: the servers' events and its packets, in order.
  using _labLog = labEvents === undefined
    ? undefined
    : (await import("./lab_log.ts")).logLabEvents(labEvents);
  let lab: Lab | undefined;
  if (labEvents !== undefined) {
    const { startLab } = await import("../lib/lab/mod.ts");
    try {
      lab = await startLab({
        servers: servers.map(([, server]) => server),
        events: labEvents,
        bufferSize: commandLine.bufferSize,
        timeout: Math.round(commandLine.timeout * 1000),
      });
    } catch (error) {
      // A capture it cannot run is not an error: this is anything else.
      return await fail(`Cannot start the lab: ${errorMessage(error)}`);
    }
  }
  let ops: OpsServer | undefined;
  if (commandLine.httpPort !== undefined) {
    const target: BindTarget = {
      server: "http",
      transport: "tcp",
      hostname: commandLine.httpHost,
      port: commandLine.httpPort,
      portFlag: "--http-port",
    };
    const { serveOps } = await import("../lib/ops/mod.ts");
    let control: ControlOptions | undefined;
    if (commandLine.control) {
      try {
        control = await controlOptions(commandLine, lists);
      } catch (error) {
        if (!(error instanceof FlagFileError)) throw error;
        return await fail(error.message);
      }
    }
    try {
      ops = serveOps({
        hostname: target.hostname,
        port: target.port,
        servers: servers.map(([, server]) => server),
        control,
        pages: lab === undefined ? [] : [lab],
      });
    } catch (error) {
      await lab?.close();
      return await fail(describeStartError(error, target));
    }
    if (lab !== undefined) {
      if (!isLoopback(ops.addr.hostname)) {
        logger.warn(
          "The lab's page is reachable from other hosts on {address}: anyone there sees this traffic (its buttons answer loopback peers only)",
          { address: formatAddress(ops.addr) },
        );
      }
      logger.info("Open http://{address}/lab", {
        address: formatAddress({
          // A wildcard is reached through loopback; any other address as
          // bound (`[::1]` stays IPv6: 127.0.0.1 would not answer).
          hostname: ops.addr.hostname === "0.0.0.0" ||
              ops.addr.hostname === "::"
            ? "127.0.0.1"
            : ops.addr.hostname,
          port: ops.addr.port,
        }),
      });
    }
  }
  const stopped = await Promise.race([
    signal.received,
    Promise.race(servers.map(([, server]) => server.finished)),
  ]);
  // Readiness turns false first, before any listener closes.
  ops?.drain();
  if (stopped !== undefined) {
    logger.info("Received {signal}: shutting down", { signal: stopped });
    if (commandLine.drain > 0) {
      logger.info(
        ops === undefined
          ? "Draining for {seconds} s before the stop"
          : "Draining for {seconds} s: /readyz answers 503",
        { seconds: commandLine.drain },
      );
      // A second signal during the drain exits at once (see above).
      await new Promise((resolve) =>
        setTimeout(resolve, commandLine.drain * 1000)
      );
    }
  }
  // A server that stopped by itself (not by a signal) fails the program.
  const failed = stopped === undefined
    ? servers.find(([, server]) => server.error !== undefined)
    : undefined;
  if (stopped === undefined) {
    // The server logged why; the program says what it does about it.
    const [transport, server] = failed ?? servers[0]!;
    logger.error(
      "Exiting with status 1: the {transport} server on {address} stopped by itself",
      { transport, address: formatAddress(server.addr) },
    );
  }
  await Promise.all(servers.map(([, server]) => server.shutdown()));
  await printStats(false);
  // The lab's replays end with the servers; its event streams end here,
  // before the HTTP server waits for its responses to finish.
  await lab?.close();
  if (ops !== undefined) {
    // A client that stopped reading (a stalled lab page) would hold the
    // HTTP server's graceful stop forever: it gets the servers' grace, and
    // the exit closes what is left.
    const stop = await withDeadline(ops.shutdown(), DEFAULT_SHUTDOWN_GRACE);
    if (stop === "late") {
      logger.warn(
        "HTTP clients that stopped reading were still connected after {ms} ms: their connections close at exit",
        { ms: DEFAULT_SHUTDOWN_GRACE },
      );
    }
  }
  reporting = false;
  await stopLogging();
  return stopped === undefined ? 1 : 0;
}

/**
 * Whether the TCP server must be able to reset connections: only with
 * `--reset-after` (then the control API may change its N too). The
 * `node:net` path costs about 30 % more CPU per line, so nothing else takes
 * it.
 */
function resettable(commandLine: ServeCommandLine): boolean {
  return commandLine.resetAfter !== undefined;
}

/**
 * The control endpoints' options: the token read from its file (an empty
 * one is an error naming the file), and the dial allow list.
 */
async function controlOptions(
  commandLine: ServeCommandLine,
  lists: AccessLists,
): Promise<ControlOptions> {
  let token: string | undefined;
  const file = commandLine.controlTokenFile;
  if (file !== undefined) {
    token = (await readFlagFile("--control-token-file", file)).replace(
      /\r?\n$/,
      "",
    );
    if (token === "") {
      throw new FlagFileError(
        `Cannot use --control-token-file ${file}: the file is empty; put a token in it`,
      );
    }
  }
  if (lists.dialAllow === undefined) return { token };
  const { AccessList } = await import("../lib/policy/mod.ts");
  return { token, dialAllow: AccessList.parse(lists.dialAllow) };
}

/**
 * The instance name: `--instance`, or the host name when the prefix names
 * `{instance}` or `--allow-sys=hostname` is granted; an Error with the
 * one-line fix when the host name is needed but not granted.
 */
function resolveInstance(
  commandLine: ServeCommandLine,
): string | undefined | Error {
  if (commandLine.instance !== undefined) return commandLine.instance;
  const needed = commandLine.prefix.includes("{instance}");
  const granted =
    Deno.permissions.querySync({ name: "sys", kind: "hostname" }).state ===
      "granted";
  if (!needed && !granted) return undefined;
  try {
    return Deno.hostname();
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
    return new Error(
      "Cannot name the instance for {instance} in --prefix: no permission to read the host name; re-run with --allow-sys=hostname, or give --instance NAME",
    );
  }
}

/**
 * SIGUSR1 prints the counters (Linux and macOS). The listener stays until
 * the process exits: `main.ts` ends with `Deno.exit`, so it keeps nothing
 * alive.
 */
function listenForStatsSignal(handler: () => void): void {
  if (Deno.build.os === "windows") return;
  Deno.addSignalListener("SIGUSR1", handler);
}

/** The faults the command line asks of one server; none: `undefined`. */
function faultsOf(
  commandLine: ServeCommandLine,
  transport: "tcp" | "udp",
): FaultOptions | undefined {
  const { delay, drop, seed, jitter, dropBurst, faultsFor } = commandLine;
  const faults: FaultOptions = transport === "tcp"
    ? {
      delay,
      jitter,
      drop,
      dropBurst,
      faultsFor,
      bandwidth: commandLine.bandwidth,
      resetAfter: commandLine.resetAfter,
      faultConnections: commandLine.faultConnections,
      chunk: commandLine.chunk,
      chunkDelay: commandLine.chunkDelay,
      closeAfter: commandLine.closeAfter,
      halfCloseAfter: commandLine.halfCloseAfter,
      stallAfter: commandLine.stallAfter,
      banner: commandLine.banner,
    }
    : {
      delay,
      jitter,
      drop,
      dropBurst,
      faultsFor,
      duplicate: commandLine.duplicate,
    };
  const given = Object.fromEntries(
    Object.entries(faults).filter(([, value]) => value !== undefined),
  ) as FaultOptions;
  return Object.keys(given).length === 0 ? undefined : { ...given, seed };
}

/**
 * The certificates and keys of `--tls-cert` and `--tls-key`, by name, and
 * `--alpn`; `undefined` without TLS.
 */
async function readTlsFiles(
  commandLine: ServeCommandLine,
): Promise<TlsTerminationOptions | undefined> {
  const names = Object.keys(commandLine.tlsCerts);
  if (names.length === 0) return undefined;
  const certs = [];
  for (const name of names) {
    certs.push({
      names: name === "" ? [] : [name],
      cert: await readFlagFile("--tls-cert", commandLine.tlsCerts[name]!),
      key: await readFlagFile("--tls-key", commandLine.tlsKeys[name]!),
    });
  }
  return { certs, alpn: commandLine.alpn };
}

/**
 * Starts the QUIC server (`quic`, and in `all`), loaded only then; writes
 * `--cert-out`. Returns an error line on failure.
 */
async function startQuic(
  commandLine: ServeCommandLine,
  parts: {
    shared: OptionalParts & {
      hostname: string;
      prefix: string;
      instance?: string;
      raw: boolean;
      trace: boolean;
    };
    tls: TlsTerminationOptions | undefined;
    servers: [transport: "tcp" | "udp" | "quic", server: AnyEchoServer][];
  },
): Promise<string | undefined> {
  const target: BindTarget = {
    transport: "udp",
    server: "quic",
    hostname: commandLine.hostname,
    port: commandLine.quicPort,
    portFlag: commandLine.mode === "quic" ? "--port" : "--quic-port",
  };
  // Deno's QUIC listener takes one certificate: the default one.
  const certificate = parts.tls?.certs.find((cert) =>
    (cert.names ?? []).length === 0
  );
  let server: QuicEchoServer;
  try {
    const { serveQuic } = await import("../quic.ts");
    server = await serveQuic(
      await quicServerOptions({
        ...parts.shared,
        port: target.port,
        timeout: Math.round(commandLine.timeout * 1000),
        maxLine: commandLine.maxLine,
        maxConnections: commandLine.maxConnections,
        maxPerSource: commandLine.maxPerSource,
        maxStreams: commandLine.maxStreams,
        bufferSize: commandLine.quicBufferSize,
        tls: certificate === undefined
          ? undefined
          : { cert: certificate.cert, key: certificate.key },
        alpn: commandLine.alpn,
        // The streams take TCP's faults, but --reset-after: an RST is TCP's.
        faults: faultsOf({ ...commandLine, resetAfter: undefined }, "tcp"),
      }),
    );
  } catch (error) {
    return describeStartError(error, target);
  }
  parts.servers.push(["quic", server]);
  if (commandLine.certOut !== undefined) {
    try {
      await Deno.writeTextFile(commandLine.certOut, server.cert);
    } catch (error) {
      return error instanceof Deno.errors.NotCapable
        ? `Cannot write --cert-out ${commandLine.certOut}: no write permission; re-run with --allow-write=${commandLine.certOut}`
        : `Cannot write --cert-out ${commandLine.certOut}: ${
          errorMessage(error)
        }`;
    }
    logger.info("Wrote the QUIC certificate to {file}", {
      file: commandLine.certOut,
    });
  }
  return undefined;
}

/** Starts the servers the mode asks for; returns an error line on failure. */
async function startServers(
  commandLine: ServeCommandLine,
  lists: AccessLists,
  tls: TlsTerminationOptions | undefined,
  servers: [transport: "tcp" | "udp" | "quic", server: AnyEchoServer][],
): Promise<string | undefined> {
  const { mode, hostname } = commandLine;
  const shared: OptionalParts & {
    hostname: string;
    prefix: string;
    instance?: string;
    raw: boolean;
    trace: boolean;
  } = {
    hostname,
    capture: commandLine.capture
      ? { file: commandLine.captureFile }
      : undefined,
    allow: lists.allow,
    prefix: commandLine.prefix,
    instance: commandLine.instance,
    raw: commandLine.raw,
    trace: commandLine.trace,
  };
  const all = mode === "all" || mode === "lab";
  if (mode === "tcp" || all) {
    const target: BindTarget = {
      transport: "tcp",
      hostname,
      port: commandLine.tcpPort,
      portFlag: all ? "--tcp-port" : "--port",
    };
    const path = commandLine.unix;
    if (path !== undefined) target.path = path;
    const spec: TcpServerSpec = {
      ...shared,
      port: target.port,
      ...(path === undefined ? {} : { path }),
      // The library counts milliseconds; the command line, seconds.
      timeout: Math.round(commandLine.timeout * 1000),
      lifetime: Math.round(commandLine.lifetime * 1000),
      maxLine: commandLine.maxLine,
      maxConnections: commandLine.maxConnections,
      maxPerSource: commandLine.maxPerSource,
      proxyProtocol: commandLine.proxyProtocol,
      proxyFrom: lists.proxyFrom,
      tls,
      faults: faultsOf(commandLine, "tcp"),
    };
    try {
      if (path !== undefined) {
        const { clearStaleSocket } = await import(
          "../lib/serving/unix_socket.ts"
        );
        await clearStaleSocket(path);
      }
      servers.push([
        "tcp",
        commandLine.workers > 1
          ? await serveTcpWorkers(spec, commandLine.workers, {
            level: commandLine.logLevel,
            format: commandLine.logFormat,
            trace: commandLine.trace,
            flags: OPTION_FLAGS,
          })
          : resettable(commandLine)
          ? await serveResettableTcp(await tcpServerOptions(spec))
          : serveTcp(await tcpServerOptions(spec)),
      ]);
    } catch (error) {
      if (error instanceof WorkersError) {
        return `Cannot start the tcp workers: ${error.message}`;
      }
      return describeStartError(error, target);
    }
  }
  if (mode === "quic" || all) {
    const failed = await startQuic(commandLine, { shared, tls, servers });
    if (failed !== undefined) return failed;
  }
  if (mode === "udp" || all) {
    const target: BindTarget = {
      transport: "udp",
      hostname,
      port: commandLine.udpPort,
      portFlag: all ? "--udp-port" : "--port",
    };
    try {
      servers.push([
        "udp",
        serveUdp(
          await udpServerOptions({
            ...shared,
            port: target.port,
            bufferSize: commandLine.bufferSize,
            rate: commandLine.udpRate,
            loopGuard: commandLine.loopGuard,
            faults: faultsOf(commandLine, "udp"),
            maxDelayed: commandLine.maxDelayed,
          }),
        ),
      ]);
    } catch (error) {
      return describeStartError(error, target);
    }
  }
  return undefined;
}
