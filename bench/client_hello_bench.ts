// Copyright 2026 the echolab authors. MIT license.
// `deno bench --allow-read bench/client_hello_bench.ts`: what echolab's
// ClientHello reader adds to each TLS connection, alone: reading the
// records of real ClientHellos (FoxIO's JA4 test captures) and their JA4.
import { ja4, readClientHello } from "../lib/tls/mod.ts";

const table: { hellos: { capture: string; hello: string }[] } = JSON.parse(
  await Deno.readTextFile(
    new URL("../tests/fixtures/client_hellos.json", import.meta.url),
  ),
);

for (const { capture, hello } of table.hellos.slice(0, 4)) {
  const bytes = Uint8Array.from(
    hello.match(/../g)!.map((pair) => parseInt(pair, 16)),
  );
  Deno.bench({
    name: `read the ClientHello and its JA4 (${capture}, ${bytes.length} B)`,
    group: "client hello",
    fn() {
      const result = readClientHello(bytes);
      if (result.status !== "complete") throw new Error(result.status);
      ja4(result.hello);
    },
  });
}
