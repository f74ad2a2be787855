// Copyright 2026 the echolab authors. MIT license.
/**
 * The body of one `--workers` accept loop: a Deno worker that serves TCP on a
 * shared port (`SO_REUSEPORT`) with its own logging, and answers the main
 * thread's `stats` and `shutdown` messages.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { AccessList } from "./access_list.ts";
import {
  configureLogging,
  type LoggingOptions,
  stopLogging,
} from "./logging.ts";
import { serveTcp, type TcpServerOptions } from "../tcp.ts";
import type { EchoServer } from "./server.ts";

/** What the main thread sends a worker. */
export type WorkerRequest =
  | {
    type: "start";
    options: Omit<TcpServerOptions, "allow"> & { allow?: string };
    logging: Omit<LoggingOptions, "writer">;
  }
  | { type: "stats" }
  | { type: "shutdown" };

let server: EchoServer | undefined;

self.onmessage = async (event: MessageEvent<WorkerRequest>) => {
  const request = event.data;
  if (request.type === "start") {
    await configureLogging(request.logging);
    const { allow, ...options } = request.options;
    try {
      server = serveTcp({
        ...options,
        allow: allow === undefined ? undefined : AccessList.parse(allow),
        reusePort: true,
      });
      self.postMessage({ type: "started" });
    } catch (error) {
      self.postMessage({ type: "failed", message: String(error) });
    }
  } else if (request.type === "stats") {
    self.postMessage({ type: "stats", stats: server?.stats() });
  } else {
    await server?.shutdown();
    const stats = server?.stats();
    await stopLogging();
    self.postMessage({ type: "stopped", stats });
  }
};
