// Copyright 2026 the echolab authors. MIT license.
/**
 * The command line program: parse, start, wait for a signal, stop, flush.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import config from "../deno.json" with { type: "json" };
import type { AccessList } from "../lib/access_list.ts";
import { formatAddress } from "../lib/address.ts";
import type { EchoServer } from "../lib/server.ts";
import { serveTcp } from "../tcp.ts";
import { serveUdp } from "../udp.ts";
import {
  type CommandLine,
  OPTION_FLAGS,
  parseAccessList,
  parseCommandLine,
  type ServeCommandLine,
} from "./command_line.ts";
import { FlagFileError, readFlagFile } from "./flag_file.ts";
import { configureLogging, flushLogging, stopLogging } from "./logging.ts";
import { send } from "./send_command.ts";
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
  let allow: AccessList | undefined;
  try {
    commandLine = parseCommandLine(args);
    if (commandLine.action === "serve" && commandLine.allow !== undefined) {
      allow = await parseAccessList(commandLine.allow);
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
  if (commandLine.action === "send") return await send(commandLine);
  return await serve(commandLine, allow);
}

async function serve(
  commandLine: ServeCommandLine,
  allow: AccessList | undefined,
): Promise<number> {
  // Signal listeners come first: until they exist, a signal kills outright.
  using signal = new ShutdownSignal((name) => {
    logger.warn("Received {signal} again: exiting at once", { signal: name });
    flushLogging();
    Deno.exit(name === "SIGINT" ? 130 : 143);
  });
  const servers: [transport: "tcp" | "udp", server: EchoServer][] = [];
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
  await configureLogging({
    level: commandLine.logLevel,
    format: commandLine.logFormat,
    trace: commandLine.trace,
    flags: OPTION_FLAGS,
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
      reporting = false;
      await stopLogging();
      return 1;
    }
  }
  const started = await startServers(commandLine, allow, tls, servers);
  if (started !== undefined) {
    logger.error(started);
    await Promise.all(servers.map(([, server]) => server.shutdown()));
    reporting = false;
    await stopLogging();
    return 1;
  }
  const stopped = await Promise.race([
    signal.received,
    Promise.race(servers.map(([, server]) => server.finished)),
  ]);
  if (stopped !== undefined) {
    logger.info("Received {signal}: shutting down", { signal: stopped });
  }
  await Promise.all(servers.map(([, server]) => server.shutdown()));
  await printStats(false);
  reporting = false;
  await stopLogging();
  return 0;
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

/** Starts the servers the mode asks for; returns an error line on failure. */
async function startServers(
  commandLine: ServeCommandLine,
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
              flags: OPTION_FLAGS,
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
