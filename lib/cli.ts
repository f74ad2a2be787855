// Copyright 2026 the echolab authors. MIT license.
/**
 * The command line program: parse, start, wait for a signal, stop, flush.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import config from "../deno.json" with { type: "json" };
import { serveTcp } from "../tcp.ts";
import { serveUdp } from "../udp.ts";
import type { AccessList } from "./access_list.ts";
import {
  type CommandLine,
  parseAccessList,
  parseCommandLine,
} from "./command_line.ts";
import { type BindTarget, describeStartError, UsageError } from "./errors.ts";
import { FlagFileError, readFlagFile } from "./flag_file.ts";
import { formatAddress } from "./address.ts";
import { logStats } from "./stats_report.ts";
import { send } from "./send_command.ts";
import { configureLogging, flushLogging, stopLogging } from "./logging.ts";
import type { EchoServer } from "./server.ts";
import { ShutdownSignal } from "./shutdown_signal.ts";
import { serveTcpWorkers, WorkersError } from "./tcp_workers.ts";
import { USAGE } from "./usage.ts";

type TcpWorkers = Awaited<ReturnType<typeof serveTcpWorkers>>;

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
  let allow: AccessList | undefined;
  try {
    commandLine = parseCommandLine(args);
    if (commandLine.allow !== undefined) {
      allow = await parseAccessList(commandLine.allow);
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    Deno.stderr.writeSync(
      encoder.encode(`echolab: ${error.message} (see --help)\n`),
    );
    return 2;
  }
  if (commandLine.action === "help") {
    Deno.stdout.writeSync(encoder.encode(USAGE));
    return 0;
  }
  if (commandLine.action === "version") {
    Deno.stdout.writeSync(encoder.encode(`echolab ${VERSION}\n`));
    return 0;
  }
  if (commandLine.mode === "send") return await send(commandLine);
  return await serve(commandLine, allow);
}

async function serve(
  commandLine: CommandLine,
  allow: AccessList | undefined,
): Promise<number> {
  // Signal listeners come first: until they exist, SIGTERM kills outright.
  using signal = new ShutdownSignal((name) => {
    logger.warn("Received {signal} again: exiting at once", { signal: name });
    flushLogging();
    Deno.exit(name === "SIGINT" ? 130 : 143);
  });
  await configureLogging({
    level: commandLine.logLevel,
    format: commandLine.logFormat,
    trace: commandLine.trace,
  });
  let tls: { cert: string; key: string } | undefined;
  if (commandLine.tlsCert !== undefined && commandLine.tlsKey !== undefined) {
    try {
      tls = {
        cert: await readFlagFile("--tls-cert", commandLine.tlsCert),
        key: await readFlagFile("--tls-key", commandLine.tlsKey),
      };
    } catch (error) {
      if (!(error instanceof FlagFileError)) throw error;
      logger.error(error.message);
      await stopLogging();
      return 1;
    }
  }
  const servers: [transport: "tcp" | "udp", server: EchoServer][] = [];
  const started = await startServers(commandLine, allow, tls, servers);
  if (started !== undefined) {
    logger.error(started);
    await Promise.all(servers.map(([, server]) => server.shutdown()));
    await stopLogging();
    return 1;
  }
  const printStats = async (refresh: boolean) => {
    for (const [transport, server] of servers) {
      const stats = refresh && "refreshStats" in server
        ? await (server as TcpWorkers).refreshStats()
        : server.stats();
      logStats(transport, formatAddress(server.addr), stats);
    }
  };
  const statsSignal = listenForStatsSignal(() => printStats(true));
  try {
    const stopped = await Promise.race([
      signal.received,
      Promise.race(servers.map(([, server]) => server.finished)),
    ]);
    if (stopped !== undefined) {
      logger.info("Received {signal}: shutting down", { signal: stopped });
    }
    await Promise.all(servers.map(([, server]) => server.shutdown()));
  } finally {
    statsSignal?.();
  }
  await printStats(false);
  await stopLogging();
  return 0;
}

/** SIGUSR1 prints the counters while running (Linux and macOS). */
function listenForStatsSignal(handler: () => void): (() => void) | undefined {
  if (Deno.build.os === "windows") return undefined;
  Deno.addSignalListener("SIGUSR1", handler);
  return () => Deno.removeSignalListener("SIGUSR1", handler);
}

/** Starts the servers the mode asks for; returns an error line on failure. */
async function startServers(
  commandLine: CommandLine,
  allow: AccessList | undefined,
  tls: { cert: string; key: string } | undefined,
  servers: [transport: "tcp" | "udp", server: EchoServer][],
): Promise<string | undefined> {
  const { mode, hostname } = commandLine;
  const targets: BindTarget[] = [];
  if (mode !== "udp") {
    targets.push({
      transport: "tcp",
      hostname,
      port: commandLine.tcpPort,
      portFlag: mode === "all" ? "--tcp-port" : "--port",
    });
  }
  if (mode !== "tcp") {
    targets.push({
      transport: "udp",
      hostname,
      port: commandLine.udpPort,
      portFlag: mode === "all" ? "--udp-port" : "--port",
    });
  }
  for (const target of targets) {
    try {
      const tcpOptions = {
        hostname,
        port: target.port,
        timeout: commandLine.timeout,
        lifetime: commandLine.lifetime,
        maxLine: commandLine.maxLine,
        maxConnections: commandLine.maxConnections,
        maxPerSource: commandLine.maxPerSource,
        allow,
        prefix: commandLine.prefix,
        raw: commandLine.raw,
        trace: commandLine.trace,
        tls,
      };
      servers.push([
        target.transport,
        target.transport === "tcp"
          ? commandLine.workers > 1
            ? await serveTcpWorkers(tcpOptions, commandLine.workers, {
              level: commandLine.logLevel,
              format: commandLine.logFormat,
              trace: commandLine.trace,
            })
            : serveTcp(tcpOptions)
          : serveUdp({
            hostname,
            port: target.port,
            bufferSize: commandLine.bufferSize,
            allow,
            rate: commandLine.udpRate,
            loopGuard: commandLine.loopGuard,
            prefix: commandLine.prefix,
            raw: commandLine.raw,
            trace: commandLine.trace,
          }),
      ]);
    } catch (error) {
      if (error instanceof WorkersError) {
        return `Cannot start the tcp workers: ${error.message}`;
      }
      return describeStartError(error, target);
    }
  }
  return undefined;
}
