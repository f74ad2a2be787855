// Copyright 2026 the echolab authors. MIT license.
/**
 * Captures the servers' LogTape records in memory for a test.
 *
 * @module
 */

import { configure, type LogRecord, reset } from "@logtape/logtape";
import { OPTION_FLAGS } from "../cli/command_line.ts";
import { withFlagHints } from "../cli/logging.ts";

/**
 * Records captured during a test, rendered as plain text the way the program
 * prints them (library option names turned into their flags).
 */
export interface LogCapture extends AsyncDisposable {
  /** Every record seen so far. */
  readonly records: LogRecord[];
  /** The rendered messages seen so far. */
  messages(): string[];
  /** Resolves once a message matching `pattern` was logged. */
  waitFor(pattern: RegExp): Promise<string>;
}

function render(record: LogRecord): string {
  return withFlagHints(record, OPTION_FLAGS).message.map(String).join("");
}

/** Sends every `echolab` record at `debug` and above to memory. */
export async function captureLogs(): Promise<LogCapture> {
  const records: LogRecord[] = [];
  const waiters: { pattern: RegExp; resolve: (message: string) => void }[] = [];
  await configure({
    reset: true,
    sinks: {
      memory: (record) => {
        records.push(record);
        const message = render(record);
        for (const waiter of [...waiters]) {
          if (waiter.pattern.test(message)) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve(message);
          }
        }
      },
    },
    loggers: [
      { category: ["echolab"], lowestLevel: "debug", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
  });
  return {
    records,
    messages: () => records.map(render),
    waitFor(pattern) {
      const found = records.map(render).find((message) =>
        pattern.test(message)
      );
      if (found !== undefined) return Promise.resolve(found);
      const { promise, resolve } = Promise.withResolvers<string>();
      waiters.push({ pattern, resolve });
      return promise;
    },
    [Symbol.asyncDispose]: () => reset(),
  };
}
