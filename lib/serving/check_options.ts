// Copyright 2026 the echolab authors. MIT license.
/**
 * Options checked when a server is started, each failure a `RangeError` or
 * `TypeError` that names the option: `Cannot start the tcp server: maxLine
 * must be an integer from 1 to 1073741824: got -1`.
 *
 * @module
 */

/**
 * Checks the options of one server; every method lets `undefined` pass (the
 * default applies).
 *
 * @example
 * ```ts
 * import { OptionChecker } from "./check_options.ts";
 * import { throws } from "node:assert/strict";
 *
 * const check = new OptionChecker("the tcp server");
 * throws(
 *   () => check.integer("maxLine", -1, 1, 1024),
 *   /^RangeError: Cannot start the tcp server: maxLine must be an integer from 1 to 1024: got -1$/,
 * );
 * ```
 */
export class OptionChecker {
  #what: string;

  /**
   * Checks for one server.
   *
   * @param what The server, as the messages name it (`the tcp server`).
   */
  constructor(what: string) {
    this.#what = what;
  }

  #fail(kind: "range" | "type", message: string): never {
    const text = `Cannot start ${this.#what}: ${message}`;
    throw kind === "range" ? new RangeError(text) : new TypeError(text);
  }

  /**
   * Checks an integer from `min` to `max`.
   *
   * @param name The option.
   * @param value Its value.
   * @param min The least allowed.
   * @param max The most allowed.
   */
  integer(name: string, value: unknown, min: number, max: number): void {
    if (value === undefined) return;
    if (typeof value !== "number") {
      this.#fail("type", `${name} must be a number: got ${typeof value}`);
    }
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      this.#fail(
        "range",
        `${name} must be an integer from ${min} to ${max}: got ${value}`,
      );
    }
  }

  /**
   * Checks `true` or `false`.
   *
   * @param name The option.
   * @param value Its value.
   */
  boolean(name: string, value: unknown): void {
    if (value !== undefined && typeof value !== "boolean") {
      this.#fail("type", `${name} must be true or false: got ${typeof value}`);
    }
  }

  /**
   * Checks a string.
   *
   * @param name The option.
   * @param value Its value.
   */
  string(name: string, value: unknown): void {
    if (value !== undefined && typeof value !== "string") {
      this.#fail("type", `${name} must be a string: got ${typeof value}`);
    }
  }

  /**
   * Checks an object with these methods (a plan made by an optional part).
   *
   * @param name The option.
   * @param value Its value.
   * @param methods The methods it must have.
   */
  object(name: string, value: unknown, methods: readonly string[]): void {
    if (value === undefined) return;
    const missing = typeof value !== "object" || value === null
      ? methods[0]
      : methods.find((method) =>
        typeof (value as Record<string, unknown>)[method] !== "function"
      );
    if (missing !== undefined) {
      this.#fail(
        "type",
        `${name} must be an object with ${
          methods.map((method) => `${method}()`).join(", ")
        } (missing ${missing})`,
      );
    }
  }
}

/**
 * Checks what every server takes, the same way for both.
 *
 * @param check The server's checker.
 * @param options Its options.
 *
 * @example
 * ```ts
 * import { checkServerOptions, OptionChecker } from "./check_options.ts";
 * import { throws } from "node:assert/strict";
 *
 * throws(() => checkServerOptions(new OptionChecker("the udp server"), { port: 70000 }), RangeError);
 * ```
 */
export function checkServerOptions(
  check: OptionChecker,
  options: {
    hostname?: unknown;
    port?: unknown;
    prefix?: unknown;
    instance?: unknown;
    raw?: unknown;
    allow?: unknown;
    trace?: unknown;
    capture?: unknown;
  },
): void {
  check.string("hostname", options.hostname);
  check.integer("port", options.port, 0, 65_535);
  check.string("prefix", options.prefix);
  check.string("instance", options.instance);
  check.boolean("raw", options.raw);
  check.object("allow", options.allow, ["allows"]);
  check.boolean("trace", options.trace);
  check.object("capture", options.capture, ["start"]);
}
