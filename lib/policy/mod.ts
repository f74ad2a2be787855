// Copyright 2026 the echolab authors. MIT license.
/**
 * Who may use a server: `AccessList`, CIDR ranges parsed with ipaddr.js,
 * for the `allow` option of both servers and `proxyProtocol({ from })`.
 * Loaded only by those who use it.
 *
 * @example
 * ```ts
 * import { AccessList } from "./mod.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const list = AccessList.parse("127.0.0.0/8");
 * strictEqual(list.allows("127.0.0.9"), true);
 * strictEqual(list.allows("192.0.2.1"), false);
 * ```
 *
 * @module
 */

export * from "./access_list.ts";
export * from "./ip_address.ts";
