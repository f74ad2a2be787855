// Copyright 2026 the echolab authors. MIT license.
/**
 * The body of one `--workers` accept loop: a Deno worker that serves TCP on a
 * shared port (`SO_REUSEPORT`) with its own logging, and answers the
 * program's requests (see `worker_messages.ts`), each reply carrying the id
 * of its request.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { errorMessage } from "../lib/serving/errors.ts";
import type { EchoServer } from "../lib/serving/server.ts";
import { serveTcp } from "../tcp.ts";
import { configureLogging, stopLogging } from "./logging.ts";
import { tcpServerOptions } from "./server_options.ts";
import type { WorkerReply, WorkerRequest } from "./worker_messages.ts";

let server: EchoServer | undefined;
let stopping: Promise<void> | undefined;

function reply(message: WorkerReply): void {
  self.postMessage(message);
}

self.onmessage = async (event: MessageEvent<WorkerRequest>) => {
  const request = event.data;
  const id = request.id;
  switch (request.type) {
    case "start": {
      await configureLogging(request.logging);
      try {
        server = serveTcp({
          ...await tcpServerOptions(request.options),
          reusePort: true,
        });
        reply({ id, type: "started" });
      } catch (error) {
        reply({ id, type: "failed", message: errorMessage(error) });
      }
      break;
    }
    case "stats":
      reply({ id, type: "stats", stats: server?.stats() });
      break;
    case "shutdown":
      stopping ??= (async () => {
        await server?.shutdown();
        await stopLogging();
      })();
      await stopping;
      reply({ id, type: "stopped", stats: server?.stats() });
      break;
  }
};
