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
/** The QUIC server's default port (UDP). */
export const DEFAULT_QUIC_PORT = 4433;
/** The ALPN protocol the QUIC server offers by default. */
export const DEFAULT_QUIC_ALPN = "echolab";
/** QUIC streams a client may have open at once, per direction, by default. */
export const DEFAULT_MAX_STREAMS = 100;
/** Default idle timeout in milliseconds: 10 s, as in the seed. */
export const DEFAULT_TIMEOUT = 10_000;
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
/** Default milliseconds a client waits for each UDP reply. */
export const DEFAULT_WAIT = 1000;
/** The longest line a TCP server may be asked to take: 1 GiB. */
export const MAX_LINE_LIMIT = 1 << 30;
/** The most connections (at once, or per source) a limit may name. */
export const MAX_CONNECTIONS_LIMIT = 1_000_000;
/** The largest count a rate or a fault's N may be. */
export const MAX_COUNT = 1_000_000_000;
/** The longest duration in milliseconds a timer can wait (about 24 days). */
export const MAX_DURATION = 2_147_483_647;
/** The most bytes of delayed UDP replies a limit may name: 1 GiB. */
export const MAX_DELAYED_LIMIT = 1 << 30;
/** Default most bytes of UDP replies waiting out a delay at once: 1 MiB. */
export const DEFAULT_MAX_DELAYED = 1024 * 1024;
/** Default port of the side HTTP port (health, metrics). */
export const DEFAULT_HTTP_PORT = 9090;
/** The longest mean burst of losses (`dropBurst`). */
export const MAX_BURST = 1000;
/** The highest bandwidth a limit may name: 1 GB/s. */
export const MAX_BANDWIDTH = 1_000_000_000;
