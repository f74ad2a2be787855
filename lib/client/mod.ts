// Copyright 2026 the echolab authors. MIT license.
/**
 * The client: `sendMessages` sends lines or datagrams to an echo server
 * and matches each reply to its message.
 *
 * @example
 * ```ts ignore
 * import { sendMessages } from "./mod.ts";
 *
 * const summary = await sendMessages({ transport: "tcp", hostname: "127.0.0.1", port: 8000, messages: ["hello"] });
 * ```
 *
 * @module
 */

export * from "./client.ts";
export * from "./dial.ts";
export type { TlsPeerInfo } from "./_tls_client.ts";
