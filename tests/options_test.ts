// Copyright 2026 the echolab authors. MIT license.
import { throws } from "node:assert/strict";
import { serveOps } from "../lib/ops/mod.ts";
import { serveTcp, type TcpServerOptions } from "../tcp.ts";
import { serveUdp, type UdpServerOptions } from "../udp.ts";

Deno.test("options: serveTcp checks every option when called, naming it", () => {
  const cases: [TcpServerOptions, RegExp][] = [
    [
      { maxLine: -1 },
      /^RangeError: Cannot start the tcp server: maxLine must be an integer from 1 to 1073741824: got -1$/,
    ],
    [
      { timeout: 1.5 },
      /^RangeError: Cannot start the tcp server: timeout must be an integer from 0 to 2147483647: got 1.5$/,
    ],
    [
      { lifetime: -1 },
      /^RangeError: Cannot start the tcp server: lifetime must be an integer from 0 to 2147483647: got -1$/,
    ],
    [
      { port: 65_536 },
      /^RangeError: Cannot start the tcp server: port must be an integer from 0 to 65535: got 65536$/,
    ],
    [
      { maxConnections: -1 },
      /^RangeError: Cannot start the tcp server: maxConnections must be an integer from 0 to 1000000: got -1$/,
    ],
    [
      { maxPerSource: 2 ** 40 },
      /^RangeError: Cannot start the tcp server: maxPerSource must be an integer from 0 to 1000000: got 1099511627776$/,
    ],
    [
      { shutdownGrace: -5 },
      /^RangeError: Cannot start the tcp server: shutdownGrace must be an integer from 0 to 2147483647: got -5$/,
    ],
    [
      { timeout: "10" as unknown as number },
      /^TypeError: Cannot start the tcp server: timeout must be a number: got string$/,
    ],
    [
      { raw: 1 as unknown as boolean },
      /^TypeError: Cannot start the tcp server: raw must be true or false: got number$/,
    ],
    [
      { faults: { delay: 5 } as unknown as TcpServerOptions["faults"] },
      /^TypeError: Cannot start the tcp server: faults must be an object with describe\(\), tcp\(\) \(missing describe\)$/,
    ],
    [
      { prefix: "{nope}" },
      /^RangeError: .*\{nope\}/,
    ],
  ];
  for (const [options, message] of cases) {
    throws(() => serveTcp({ port: 0, ...options }), message);
  }
});

Deno.test("options: serveUdp and serveOps check their options when called", () => {
  const cases: [UdpServerOptions, RegExp][] = [
    [
      { bufferSize: 0 },
      /^RangeError: Cannot start the udp server: bufferSize must be an integer from 1 to 65507: got 0$/,
    ],
    [
      { rate: -1 },
      /^RangeError: Cannot start the udp server: rate must be an integer from 0 to 1000000000: got -1$/,
    ],
    [
      { maxDelayed: 0 },
      /^RangeError: Cannot start the udp server: maxDelayed must be an integer from 1 to 1073741824: got 0$/,
    ],
    [
      { loopGuard: "no" as unknown as boolean },
      /^TypeError: Cannot start the udp server: loopGuard must be true or false: got string$/,
    ],
    [
      { allow: "127.0.0.1" as unknown as UdpServerOptions["allow"] },
      /^TypeError: Cannot start the udp server: allow must be an object with allows\(\) \(missing allows\)$/,
    ],
  ];
  for (const [options, message] of cases) {
    throws(() => serveUdp({ port: 0, ...options }), message);
  }
  throws(
    () => serveOps({ port: -1, servers: [] }),
    /^RangeError: Cannot start the ops server: port must be an integer from 0 to 65535: got -1$/,
  );
  throws(
    () =>
      serveOps({
        port: 0,
        servers: 5 as unknown as Parameters<typeof serveOps>[0]["servers"],
      }),
    /^TypeError: Cannot start the ops server: servers must be an array of running servers/,
  );
});
