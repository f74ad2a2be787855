// Copyright 2026 the echolab authors. MIT license.
import { deepStrictEqual } from "node:assert/strict";
import {
  checkLayers,
  formatViolation,
  importViolations,
  type ModuleGraph,
  startViolations,
} from "../tools/check_layers.ts";

const ROOT = "file:///p/";

function code(path: string, isDynamic = false) {
  return { specifier: path, code: { specifier: ROOT + path }, isDynamic };
}

function typeOnly(path: string) {
  return { specifier: path, type: { specifier: ROOT + path } };
}

Deno.test("layers: echolab's own module graph keeps every rule", async () => {
  deepStrictEqual(
    await checkLayers(new URL("..", import.meta.url).pathname),
    [],
  );
});

Deno.test("layers: the check names each import that breaks a rule", () => {
  const graph: ModuleGraph = {
    modules: [
      {
        specifier: ROOT + "lib/faults/faults.ts",
        dependencies: [
          code("lib/serving/address.ts"),
          code("deno.json"),
          code("cli/cli.ts"),
          typeOnly("udp.ts"),
          code("lib/capture/mod.ts", true),
          code("lib/proxy/_tls_stream.ts"),
          code("lib/faults/_tcp_faults.ts"),
          { specifier: "npm:ipaddr.js", code: { specifier: "npm:ipaddr.js" } },
        ],
      },
      {
        specifier: ROOT + "lib/client/client.ts",
        dependencies: [code("lib/proxy/proxy_header.ts")],
      },
      {
        specifier: ROOT + "cli/cli.ts",
        dependencies: [
          code("lib/serving/_backoff.ts"),
          code("lib/serving/address.ts"),
        ],
      },
      {
        specifier: ROOT + "tcp.ts",
        dependencies: [code("lib/serving/_backoff.ts"), code("cli/x.ts")],
      },
    ],
  };
  deepStrictEqual(
    importViolations(graph, ROOT).map(formatViolation),
    [
      'cli/cli.ts: imports "lib/serving/_backoff.ts" (_backoff.ts is private to lib/serving/)',
      'lib/faults/faults.ts: imports "cli/cli.ts" (lib/ imports only lib/)',
      'lib/faults/faults.ts: imports "lib/capture/mod.ts" (lib/faults/ imports only lib/serving/ and what it declares: lib/policy/)',
      'lib/faults/faults.ts: imports "lib/proxy/_tls_stream.ts" (lib/faults/ imports only lib/serving/ and what it declares: lib/policy/)',
      'lib/faults/faults.ts: imports "udp.ts" (lib/ imports only lib/)',
      'tcp.ts: imports "cli/x.ts" (tcp.ts imports only lib/)',
    ],
  );
});

Deno.test("layers: a core entry may import optional parts only by type or on use", () => {
  const graph: ModuleGraph = {
    modules: [
      {
        specifier: ROOT + "tcp.ts",
        dependencies: [
          code("lib/serving/stages.ts"),
          typeOnly("lib/faults/mod.ts"),
          code("lib/proxy/mod.ts", true),
        ],
      },
      {
        specifier: ROOT + "lib/serving/stages.ts",
        dependencies: [code("lib/policy/mod.ts")],
      },
      {
        specifier: ROOT + "lib/policy/mod.ts",
        dependencies: [{
          specifier: "ipaddr.js",
          code: { specifier: "npm:ipaddr.js@2.5.0" },
        }],
      },
    ],
  };
  deepStrictEqual(startViolations(graph, ROOT, "tcp.ts").map(formatViolation), [
    'tcp.ts: loads "lib/policy/mod.ts" (a core entry loads no optional part at start)',
    'tcp.ts: loads "npm:ipaddr.js@2.5.0" (a core entry loads no optional part at start)',
  ]);
  deepStrictEqual(startViolations(graph, ROOT, "udp.ts"), []);
});
