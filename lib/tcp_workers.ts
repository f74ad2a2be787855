// Copyright 2026 the echolab authors. MIT license.
/**
 * `--workers N`: N TCP accept loops on one port, one on the main thread and
 * the rest in Deno workers, sharing the port with `SO_REUSEPORT` (Linux).
 *
 * @module
 */

import { serveTcp, type TcpServerOptions } from "../tcp.ts";
import type { LoggingOptions } from "./logging.ts";
import type { EchoServer } from "./server.ts";
import { mergeStats, type StatsSnapshot } from "./server_stats.ts";
import type { WorkerRequest } from "./tcp_worker.ts";

/** echolab's own files, which a worker must be allowed to read to load. */
const ECHOLAB_ROOT = new URL("..", import.meta.url);
const NEEDS_READ_ACCESS =
  `--workers loads its workers from echolab's files in ${ECHOLAB_ROOT.pathname}: re-run with --allow-read=${ECHOLAB_ROOT.pathname}`;

/** The workers could not start; the message says why, in one line. */
export class WorkersError extends Error {
  /**
   * Creates the error.
   *
   * @param message One line for the user.
   */
  constructor(message: string) {
    super(message);
    this.name = "WorkersError";
  }
}

/** Milliseconds a worker gets to stop gracefully before it is terminated. */
const WORKER_STOP_GRACE = 2500;

interface WorkerReply {
  type: "started" | "failed" | "stats" | "stopped";
  message?: string;
  stats?: StatsSnapshot;
}

/**
 * Starts `count` TCP accept loops sharing one port. The first runs here and
 * binds first (so port 0 becomes a real port the others then share); each
 * other one is a Deno worker with its own logging configured like this
 * thread's. Limits such as `maxConnections` apply to each loop on its own.
 *
 * @param options The server options, as for {@linkcode serveTcp}.
 * @param count How many accept loops.
 * @param logging How the workers configure their logging.
 * @returns One server standing for all loops: `stats()` sums what the
 * workers last reported, `shutdown()` stops them all.
 *
 * @example
 * ```ts ignore
 * import { serveTcpWorkers } from "./tcp_workers.ts";
 *
 * await using server = await serveTcpWorkers({ port: 0 }, 2, { level: "info", format: "text" });
 * ```
 */
export async function serveTcpWorkers(
  options: TcpServerOptions,
  count: number,
  logging: Omit<LoggingOptions, "writer">,
): Promise<EchoServer<"tcp"> & { refreshStats(): Promise<StatsSnapshot> }> {
  // Loading a worker's module needs read access to it: check first, so the
  // user gets one line instead of the worker's uncaught error.
  const workerModule = new URL("./tcp_worker.ts", import.meta.url);
  if (
    count > 1 && workerModule.protocol === "file:" &&
    Deno.permissions.querySync({ name: "read", path: ECHOLAB_ROOT }).state !==
      "granted"
  ) {
    throw new WorkersError(NEEDS_READ_ACCESS);
  }
  const main = serveTcp({ ...options, reusePort: true });
  const workers: {
    worker: Worker;
    replies: WorkerReply[];
    waiters: ((reply: WorkerReply) => void)[];
  }[] = [];
  const next = (entry: (typeof workers)[number]) =>
    new Promise<WorkerReply>((resolve) => {
      const queued = entry.replies.shift();
      if (queued !== undefined) resolve(queued);
      else entry.waiters.push(resolve);
    });
  const workerStats: (StatsSnapshot | undefined)[] = [];
  try {
    for (let i = 1; i < count; i++) {
      const worker = new Worker(workerModule, { type: "module" });
      const entry = {
        worker,
        replies: [] as WorkerReply[],
        waiters: [] as ((reply: WorkerReply) => void)[],
      };
      const deliver = (reply: WorkerReply) => {
        const waiter = entry.waiters.shift();
        if (waiter !== undefined) waiter(reply);
        else entry.replies.push(reply);
      };
      worker.onmessage = (event: MessageEvent<WorkerReply>) =>
        deliver(event.data);
      worker.onerror = (event: ErrorEvent) => {
        // Handled here: report it as a failed start, not a crash.
        event.preventDefault();
        deliver({ type: "failed", message: event.message });
      };
      workers.push(entry);
      const request: WorkerRequest = {
        type: "start",
        options: {
          ...options,
          port: main.addr.port,
          allow: options.allow?.ranges.join(","),
        },
        logging,
      };
      worker.postMessage(request);
      const reply = await next(entry);
      if (reply.type !== "started") {
        const message = reply.message ?? "a worker failed to start";
        throw new WorkersError(
          /read access/.test(message) ? NEEDS_READ_ACCESS : message,
        );
      }
    }
  } catch (error) {
    for (const { worker } of workers) worker.terminate();
    await main.shutdown();
    throw error;
  }

  let stopping: Promise<void> | undefined;
  const stop = async () => {
    const stopped = Promise.all(workers.map(async (entry, i) => {
      entry.worker.postMessage({ type: "shutdown" } satisfies WorkerRequest);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const reply = await Promise.race([
        next(entry),
        new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), WORKER_STOP_GRACE);
        }),
      ]);
      clearTimeout(timer);
      if (reply?.stats) workerStats[i] = reply.stats;
      entry.worker.terminate();
    }));
    await Promise.all([main.shutdown(), stopped]);
  };
  const combined = () =>
    mergeStats([main.stats(), ...workerStats.filter((s) => s !== undefined)]);
  const shutdown = () => {
    stopping ??= stop();
    return stopping;
  };
  return {
    addr: main.addr,
    finished: main.finished,
    shutdown,
    stats: combined,
    async refreshStats() {
      await Promise.all(workers.map(async (entry, i) => {
        entry.worker.postMessage({ type: "stats" } satisfies WorkerRequest);
        const reply = await next(entry);
        if (reply.stats) workerStats[i] = reply.stats;
      }));
      return combined();
    },
    [Symbol.asyncDispose]: shutdown,
  };
}
