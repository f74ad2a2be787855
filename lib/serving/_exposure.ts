// Copyright 2026 the echolab authors. MIT license.
/**
 * The start-up warning for servers bound beyond loopback.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { AddressFilter } from "./stages.ts";
import { isLoopback } from "./loopback.ts";
import { formatAddress } from "./address.ts";

/**
 * Warns when a server is bound to an address other machines can reach.
 *
 * @param logger The server's logger.
 * @param address Where the server is bound.
 * @param allow The `--allow` list, if any, to say who may use it.
 * @returns Whether the address is reachable from the network.
 *
 * @example
 * ```ts
 * import { getLogger } from "@logtape/logtape";
 * import { warnIfReachable } from "./_exposure.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(warnIfReachable(getLogger(["echolab"]), { hostname: "127.0.0.1", port: 8000 }), false);
 * ```
 */
export function warnIfReachable(
  logger: Logger,
  address: { hostname: string; port: number },
  allow?: AddressFilter,
): boolean {
  if (isLoopback(address.hostname)) return false;
  logger.warn(
    "The server on {address} is reachable from the network: {who} may use it (restrict with {option}, or bind {hostOption} 127.0.0.1)",
    {
      address: formatAddress(address),
      who: allow === undefined ? "anyone" : `only ${allow.ranges.join(", ")}`,
      option: "allow",
      hostOption: "hostname",
    },
  );
  return true;
}
