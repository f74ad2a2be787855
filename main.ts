#!/usr/bin/env -S deno run --allow-net=127.0.0.1 --unstable-net --v8-flags=--max-semi-space-size=4
// Copyright 2026 the echolab authors. MIT license.
/**
 * echolab's command line: `main.ts <tcp|udp|all> [flags]`; see `--help`.
 *
 * @module
 */

import { runCli } from "./cli/cli.ts";

if (import.meta.main) {
  Deno.exit(await runCli(Deno.args));
}
