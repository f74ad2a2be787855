// Copyright 2026 the echolab authors. MIT license.
/**
 * Runs the real `main.ts` as a subprocess with real `--allow-net` flags.
 *
 * @module
 */

import { LineReader } from "../lib/serving/line_reader.ts";
import { decoder } from "./net_client.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** Deno flags for a run: the permissions under test and unstable net. */
function denoArgs(
  allowNet: string | undefined,
  args: readonly string[],
  permissions: readonly string[] = [],
) {
  return [
    "run",
    "--quiet",
    ...(allowNet === undefined ? [] : [`--allow-net=${allowNet}`]),
    ...permissions,
    "--unstable-net",
    "--no-prompt",
    MAIN,
    ...args,
  ];
}

export { freePort } from "./net_client.ts";

/** Waits until a TCP server accepts on `port` (for servers started quiet). */
export async function waitForTcp(port: number): Promise<void> {
  for (let attempt = 0;; attempt++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch (error) {
      if (attempt >= 200) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

/** Output of a finished run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `main.ts` to completion (for --help and errors). */
export async function runMain(
  args: readonly string[],
  allowNet: string | undefined = "127.0.0.1",
  permissions: readonly string[] = [],
  stdin?: string,
): Promise<CliResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: denoArgs(allowNet, args, permissions),
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const output = await child.output();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** A running `main.ts` whose stderr (the log) is read line by line. */
export class MainProcess implements AsyncDisposable {
  readonly lines: string[] = [];
  readonly status: Promise<Deno.CommandStatus>;
  #child: Deno.ChildProcess;
  #waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  #stderrDone: Promise<void>;
  #stdout: Promise<string>;

  /**
   * Starts `main.ts`; with `fileLimit`, under `ulimit -n fileLimit` (through
   * bash) to run out of file descriptors on purpose.
   */
  constructor(
    args: readonly string[],
    allowNet = "127.0.0.1",
    fileLimit?: number,
    permissions: readonly string[] = [],
  ) {
    const command = fileLimit === undefined
      ? {
        program: Deno.execPath(),
        args: denoArgs(allowNet, args, permissions),
      }
      : {
        program: "bash",
        args: [
          "-c",
          `ulimit -n ${fileLimit} && exec "$0" "$@"`,
          Deno.execPath(),
          ...denoArgs(allowNet, args, permissions),
        ],
      };
    this.#child = new Deno.Command(command.program, {
      args: command.args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    this.status = this.#child.status;
    this.#stderrDone = this.#readLines(this.#child.stderr);
    this.#stdout = new Response(this.#child.stdout).text();
  }

  async #readLines(stream: ReadableStream<Uint8Array>) {
    // echolab's own line splitter, as the servers and the client use it.
    const reader = new LineReader({ maxLine: 1 << 24 });
    const textDecoder = new TextDecoder();
    const onLine = (bytes: Uint8Array) => {
      const line = textDecoder.decode(bytes);
      this.lines.push(line);
      for (const waiter of [...this.#waiters]) {
        if (waiter.pattern.test(line)) {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    };
    for await (const chunk of stream) reader.push(chunk, onLine);
    reader.flush(onLine);
  }

  /** Resolves with the first stderr line matching `pattern`. */
  waitFor(pattern: RegExp): Promise<string> {
    const found = this.lines.find((line) => pattern.test(line));
    if (found !== undefined) return Promise.resolve(found);
    const { promise, resolve, reject } = Promise.withResolvers<string>();
    this.#waiters.push({ pattern, resolve });
    this.#stderrDone.then(() =>
      reject(
        new Error(`stderr ended without ${pattern}:\n${this.lines.join("\n")}`),
      )
    );
    return promise;
  }

  /** Waits for the start line of `transport` and returns the bound port. */
  async port(transport: "tcp" | "udp"): Promise<number> {
    const pattern = new RegExp(
      `Starting ${transport} server on (?:\\[[^\\]]+\\]|[^:\\s"]+):(\\d+)`,
    );
    const line = await this.waitFor(pattern);
    return Number(line.match(pattern)![1]);
  }

  /** The HTTP port the program says it serves (`--http-port 0` picks it). */
  async httpPort(): Promise<number> {
    const line = await this.waitFor(/Serving health and metrics/);
    return Number(line.match(/:(\d+)$/)![1]);
  }

  /**
   * The process's resident memory now, in bytes, from Linux's
   * `/proc/PID/status` (read with `cat`: Deno grants `/proc` only to -A).
   */
  async rss(): Promise<number> {
    const { stdout } = await new Deno.Command("cat", {
      args: [`/proc/${this.#child.pid}/status`],
    }).output();
    const status = decoder.decode(stdout);
    return Number(status.match(/^VmRSS:\s+(\d+) kB$/m)![1]) * 1024;
  }

  /** Sends a signal. */
  kill(signal: Deno.Signal): void {
    this.#child.kill(signal);
  }

  /** Waits for the exit and the end of its output. */
  async finished(): Promise<{ code: number; stdout: string }> {
    const [status, stdout] = await Promise.all([
      this.status,
      this.#stdout,
      this.#stderrDone,
    ]);
    return { code: status.code, stdout };
  }

  async [Symbol.asyncDispose]() {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await this.finished();
  }
}
