// Copyright 2026 the echolab authors. MIT license.
/**
 * Every default of the servers, in one place: the seed's behaviour. The
 * servers, the command line and `--help` all read them from here.
 *
 * @example
 * ```ts
 * import { DEFAULT_TCP_PORT, DEFAULT_UDP_PORT } from "./defaults.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * strictEqual(DEFAULT_TCP_PORT, 8000);
 * strictEqual(DEFAULT_UDP_PORT, 6000);
 * ```
 *
 * @module
 */

/** Default bind address: loopback only. */
export const DEFAULT_HOSTNAME = "127.0.0.1";
/** Default TCP port, as in the seed. */
export const DEFAULT_TCP_PORT = 8000;
/** Default UDP port, as in the seed. */
export const DEFAULT_UDP_PORT = 6000;
/** Default idle timeout in seconds, as in the seed. */
export const DEFAULT_TIMEOUT = 10;
/** Default bytes kept per datagram, as in the seed's 5-byte buffer. */
export const DEFAULT_BUFFER_SIZE = 5;
/** The text before each echoed line, as in the seed. */
export const DEFAULT_PREFIX = "received msg: ";
/** Default cap on one line, in bytes. */
export const DEFAULT_MAX_LINE = 65_536;
/** The largest UDP payload over IPv4 (65,535 - 8 - 20 bytes). */
export const MAX_DATAGRAM_SIZE = 65_507;
/**
 * Default milliseconds a graceful TCP shutdown waits for pending writes
 * before it closes connections by force.
 */
export const DEFAULT_SHUTDOWN_GRACE = 2000;
/** The longest injected delay, in milliseconds. */
export const MAX_DELAY = 60_000;
/** The largest fault seed. */
export const MAX_SEED = 0xffff_ffff;
