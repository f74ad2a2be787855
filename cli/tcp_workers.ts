// Copyright 2026 the echolab authors. MIT license.
/**
 * `--workers N`: N TCP accept loops on one port, one on the main thread and
 * the rest in Deno workers, sharing the port with `SO_REUSEPORT` (Linux).
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { EchoServer, RefreshableStats } from "../lib/serving/server.ts";
import { mergeStats, type StatsSnapshot } from "../lib/serving/server_stats.ts";
import { serveTcp } from "../tcp.ts";
import { tcpServerOptions, type TcpServerSpec } from "./server_options.ts";
import type {
  WorkerLogging,
  WorkerReply,
  WorkerRequest,
} from "./worker_messages.ts";

/** echolab's own files, which a worker must be allowed to read to load. */
const ECHOLAB_ROOT = new URL("..", import.meta.url);
const NEEDS_READ_ACCESS =
  `--workers loads its workers from echolab's files in ${ECHOLAB_ROOT.pathname}: re-run with --allow-read=${ECHOLAB_ROOT.pathname}`;

/** Milliseconds a worker gets to stop gracefully before it is terminated. */
const WORKER_STOP_GRACE = 2500;
/** Milliseconds a worker gets to report its counters. */
const WORKER_STATS_WAIT = 1000;

const logger = getLogger(["echolab", "workers"]);

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

/** A request in flight: settled by the reply with its id. */
interface Pending {
  resolve(reply: WorkerReply): void;
  reject(error: Error): void;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K>
  : never;

/** Distributes a request's type to its reply's type. */
type ReplyTo<Type extends WorkerRequest["type"]> = Extract<
  WorkerReply,
  {
    type: Type extends "start" ? "started" | "failed"
      : Type extends "stats" ? "stats"
      : "stopped";
  }
>;

/** One worker and the requests waiting for its replies, matched by id. */
class WorkerChannel {
  readonly index: number;
  /** The counters the worker last reported. */
  stats: StatsSnapshot | undefined;
  /** Whether the worker answered `start` with `started`. */
  started = false;
  #worker: Worker;
  #nextId = 1;
  #pending = new Map<number, Pending>();
  #failure: Error | undefined;

  constructor(index: number, module: URL) {
    this.index = index;
    this.#worker = new Worker(module, { type: "module" });
    this.#worker.onmessage = (event: MessageEvent<WorkerReply>) => {
      const reply = event.data;
      const pending = this.#pending.get(reply.id);
      if (pending === undefined) return;
      this.#pending.delete(reply.id);
      pending.resolve(reply);
    };
    this.#worker.onerror = (event: ErrorEvent) => {
      // Handled here: the worker is gone, its requests fail with the reason.
      event.preventDefault();
      if (this.started) {
        logger.error("Worker {index} failed: {error}", {
          index,
          error: event.message,
        });
      }
      this.#fail(new WorkersError(event.message));
    };
  }

  /** Sends a request; settles with the reply that carries its id. */
  request<Type extends WorkerRequest["type"]>(
    request: DistributiveOmit<Extract<WorkerRequest, { type: Type }>, "id">,
    timeout: number,
  ): Promise<ReplyTo<Type>> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    const { promise, resolve, reject } = Promise.withResolvers<WorkerReply>();
    const timer = setTimeout(() => {
      this.#pending.delete(id);
      reject(
        new WorkersError(
          `worker ${this.index} did not answer "${request.type}" within ${timeout} ms`,
        ),
      );
    }, timeout);
    this.#pending.set(id, { resolve, reject });
    this.#worker.postMessage({ ...request, id } as WorkerRequest);
    return promise.finally(() => clearTimeout(timer)) as Promise<
      ReplyTo<Type>
    >;
  }

  /** Ends the worker now; requests still waiting fail. */
  terminate(): void {
    this.#worker.terminate();
    this.#fail(new WorkersError(`worker ${this.index} was stopped`));
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const { reject } of pending) reject(error);
  }
}

/**
 * Several TCP accept loops on one port, standing as one server: `stats()`
 * sums what the workers last reported, {@linkcode TcpWorkers.refreshStats}
 * asks them first.
 */
export interface TcpWorkers extends EchoServer<"tcp">, RefreshableStats {
  /**
   * Asks every worker for its counters, then sums them with this thread's.
   *
   * @returns The sum; a worker that does not answer counts with its last
   * report.
   */
  refreshStats(): Promise<StatsSnapshot>;
}

/**
 * Starts `count` TCP accept loops sharing one port. The first runs here and
 * binds first (so port 0 becomes a real port the others then share); each
 * other one is a Deno worker with its own logging configured like this
 * thread's. Limits such as `maxConnections` apply to each loop on its own.
 *
 * @param spec The server, as the command line describes it.
 * @param count How many accept loops.
 * @param logging How the workers configure their logging.
 * @returns One server standing for all loops.
 *
 * @example
 * ```ts ignore
 * import { serveTcpWorkers } from "./tcp_workers.ts";
 *
 * await using server = await serveTcpWorkers({ port: 0 }, 2, { level: "info", format: "text" });
 * ```
 */
export async function serveTcpWorkers(
  spec: TcpServerSpec,
  count: number,
  logging: WorkerLogging,
): Promise<TcpWorkers> {
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
  const main = serveTcp({
    ...await tcpServerOptions(spec),
    reusePort: true,
  });
  const workers: WorkerChannel[] = [];
  try {
    for (let i = 1; i < count; i++) {
      const worker = new WorkerChannel(i, workerModule);
      workers.push(worker);
      const reply = await worker.request<"start">({
        type: "start",
        options: { ...spec, port: main.addr.port },
        logging,
      }, 30_000).catch((error: Error) => ({
        type: "failed" as const,
        message: error.message,
      }));
      if (reply.type === "failed") {
        throw new WorkersError(
          /read access/.test(reply.message) ? NEEDS_READ_ACCESS : reply.message,
        );
      }
      worker.started = true;
    }
  } catch (error) {
    for (const worker of workers) worker.terminate();
    await main.shutdown();
    throw error;
  }

  const stopWorker = async (worker: WorkerChannel) => {
    try {
      const reply = await worker.request<"shutdown">(
        { type: "shutdown" },
        WORKER_STOP_GRACE,
      );
      worker.stats = reply.stats ?? worker.stats;
    } catch (error) {
      logger.warn("Stopped worker {index} by force: {error}", {
        index: worker.index,
        error: (error as Error).message,
      });
    }
    worker.terminate();
  };
  let stopping: Promise<void> | undefined;
  const shutdown = () => {
    stopping ??= Promise.all([main.shutdown(), ...workers.map(stopWorker)])
      .then(() => {});
    return stopping;
  };
  const combined = () =>
    mergeStats([
      main.stats(),
      ...workers.flatMap((worker) => worker.stats ?? []),
    ]);
  return {
    addr: main.addr,
    started: main.started,
    finished: main.finished,
    get error() {
      return main.error;
    },
    get faults() {
      return main.faults;
    },
    setFaults() {
      throw new TypeError(
        "Cannot change the faults of --workers at run time: run one accept loop",
      );
    },
    shutdown,
    stats: combined,
    async refreshStats() {
      await Promise.all(workers.map(async (worker) => {
        try {
          const reply = await worker.request<"stats">(
            { type: "stats" },
            WORKER_STATS_WAIT,
          );
          worker.stats = reply.stats ?? worker.stats;
        } catch {
          // Stopped, or too busy to answer: its last report stands.
        }
      }));
      return combined();
    },
    [Symbol.asyncDispose]: shutdown,
  };
}
