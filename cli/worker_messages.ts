// Copyright 2026 the echolab authors. MIT license.
/**
 * The messages between the program and its `--workers` accept loops: every
 * request carries an id, and every reply names the request it answers.
 *
 * @module
 */

import type { TcpServerSpec } from "./server_options.ts";
import type { StatsSnapshot } from "../lib/serving/server_stats.ts";
import type { LoggingOptions } from "./logging.ts";

/** Server options as they cross to a worker: plain data. */
export type WorkerServerOptions = TcpServerSpec;

/** Logging options as they cross to a worker (stderr is the worker's own). */
export type WorkerLogging = Omit<LoggingOptions, "writer">;

/**
 * What the program asks a worker.
 *
 * @example
 * ```ts
 * import type { WorkerRequest } from "./worker_messages.ts";
 *
 * const request: WorkerRequest = { id: 1, type: "stats" };
 * console.log(request.type);
 * ```
 */
export type WorkerRequest =
  | {
    /** Matches the reply to this request. */
    id: number;
    /** Start serving with these options and this logging. */
    type: "start";
    /** The server's options. */
    options: WorkerServerOptions;
    /** How the worker logs. */
    logging: WorkerLogging;
  }
  | {
    /** Matches the reply to this request. */
    id: number;
    /** Report the counters now. */
    type: "stats";
  }
  | {
    /** Matches the reply to this request. */
    id: number;
    /** Stop gracefully, then report the counters. */
    type: "shutdown";
  };

/**
 * What a worker answers; `id` is the id of the request answered.
 *
 * @example
 * ```ts
 * import type { WorkerReply } from "./worker_messages.ts";
 *
 * const reply: WorkerReply = { id: 1, type: "started" };
 * console.log(reply.id);
 * ```
 */
export type WorkerReply =
  | {
    /** The request answered. */
    id: number;
    /** Serving. */
    type: "started";
  }
  | {
    /** The request answered. */
    id: number;
    /** Could not start. */
    type: "failed";
    /** Why, in one line. */
    message: string;
  }
  | {
    /** The request answered. */
    id: number;
    /** The counters now. */
    type: "stats";
    /** The counters; `undefined` when the worker never served. */
    stats: StatsSnapshot | undefined;
  }
  | {
    /** The request answered. */
    id: number;
    /** Stopped gracefully. */
    type: "stopped";
    /** The final counters; `undefined` when the worker never served. */
    stats: StatsSnapshot | undefined;
  };
