// Copyright 2026 the echolab authors. MIT license.
/**
 * `POST /control/dial`: the body checked, the target checked against the
 * allow list, then `dial` from this instance.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { formatAddress } from "../serving/address.ts";
import type { AddressFilter } from "../serving/stages.ts";
import { parseIp } from "../policy/ip_address.ts";
import { dial, type DialResult, MAX_DIAL_COUNT } from "../client/dial.ts";

const logger = getLogger(["echolab", "control"]);

/**
 * Answers one dial request.
 *
 * @returns The results, or throws what `fail` makes (400, 403).
 */
export async function dialRequest(
  given: unknown,
  context: {
    who: string;
    allow: AddressFilter;
    fail: (status: number, message: string) => Error;
  },
): Promise<Response> {
  const body = given as Record<string, unknown> | null;
  const bad = (message: string) => context.fail(400, `Cannot dial: ${message}`);
  if (typeof body !== "object" || body === null) {
    throw bad("the body must be an object");
  }
  const { transport, host, port, message, count, timeout } = body;
  if (transport !== "tcp" && transport !== "udp") {
    throw bad('transport must be "tcp" or "udp"');
  }
  if (typeof host !== "string" || parseIp(host) === undefined) {
    throw bad(
      `host must be an IPv4 or IPv6 address: got ${JSON.stringify(host)}`,
    );
  }
  if (
    !Number.isSafeInteger(port) || (port as number) < 1 ||
    (port as number) > 65_535
  ) {
    throw bad(
      `port must be an integer from 1 to 65535: got ${JSON.stringify(port)}`,
    );
  }
  if (message !== undefined && typeof message !== "string") {
    throw bad("message must be a string");
  }
  if (
    count !== undefined &&
    !(Number.isSafeInteger(count) && (count as number) >= 1 &&
      (count as number) <= MAX_DIAL_COUNT)
  ) {
    throw bad(
      `count must be an integer from 1 to ${MAX_DIAL_COUNT}: got ${
        JSON.stringify(count)
      }`,
    );
  }
  if (
    timeout !== undefined &&
    !(Number.isSafeInteger(timeout) && (timeout as number) >= 1 &&
      (timeout as number) <= 60_000)
  ) {
    throw bad(
      `timeout must be an integer from 1 to 60000 (milliseconds): got ${
        JSON.stringify(timeout)
      }`,
    );
  }
  const target = formatAddress({ hostname: host, port: port as number });
  if (!context.allow.allows(host)) {
    throw context.fail(
      403,
      `forbidden: ${host} is not in the dial allow list (--dial-allow)`,
    );
  }
  let results: DialResult[];
  try {
    results = await dial({
      transport,
      hostname: host,
      port: port as number,
      message: message as string | undefined,
      count: count as number | undefined,
      timeout: timeout as number | undefined,
    });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
    throw context.fail(
      403,
      `forbidden: no permission to reach ${target}; re-run with --allow-net=${target}`,
    );
  }
  logger.info("Control: dial by {peer} to {transport} {target}: {outcomes}", {
    peer: context.who,
    transport,
    target,
    outcomes: results.map((result) => result.outcome).join(", "),
  });
  return Response.json({ results });
}
