// Copyright 2026 the echolab authors. MIT license.
/**
 * The second real browser for the tests: Debian's headless Firefox ESR,
 * driven over WebDriver BiDi (the W3C protocol Firefox serves on its
 * remote port) straight from Deno, with the same methods as the Chromium
 * driver of `browser.ts`. Requests to other origins are failed and
 * recorded.
 *
 * @module
 */

import { ensureCommand } from "./system_package.ts";

/** Why Firefox tests cannot run here; `undefined` when they can. */
export async function firefoxSkipped(): Promise<string | undefined> {
  return await ensureCommand("firefox-esr", "firefox-esr");
}

interface Pending {
  resolve(value: Record<string, unknown>): void;
  reject(error: Error): void;
}

/** A running headless Firefox with one tab, driven over WebDriver BiDi. */
export class Firefox implements AsyncDisposable {
  /** Requests that were blocked: URLs of other origins. */
  readonly blocked: string[] = [];
  /** Errors and console messages the page logged. */
  readonly console: string[] = [];
  #child: Deno.ChildProcess;
  #profile: string;
  #socket: WebSocket;
  #drained: Promise<void>;
  #closed: Promise<void>;
  #nextId = 1;
  #pending = new Map<number, Pending>();
  #context = "";
  #allowed: string;

  private constructor(
    parts: {
      child: Deno.ChildProcess;
      profile: string;
      socket: WebSocket;
      drained: Promise<void>;
      allowed: string;
    },
  ) {
    this.#child = parts.child;
    this.#profile = parts.profile;
    this.#socket = parts.socket;
    this.#drained = parts.drained;
    this.#allowed = parts.allowed;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#closed = promise;
    this.#socket.onclose = () => {
      for (const pending of this.#pending.values()) {
        pending.reject(new Error("Firefox went away"));
      }
      this.#pending.clear();
      resolve();
    };
    this.#socket.onmessage = (message) => {
      const data = JSON.parse(message.data as string);
      if (data.id !== undefined) {
        const pending = this.#pending.get(data.id);
        this.#pending.delete(data.id);
        if (data.type === "error") {
          pending?.reject(new Error(`${data.error}: ${data.message}`));
        } else pending?.resolve(data.result ?? {});
        return;
      }
      this.#onEvent(data.method, data.params ?? {});
    };
  }

  /**
   * Starts Firefox, allowing requests to `origin` only.
   *
   * @param origin The one origin the page may reach.
   * @param size The viewport in CSS pixels.
   */
  static async open(
    origin: string,
    size = { width: 1280, height: 800 },
  ): Promise<Firefox> {
    const temp = await new Deno.Command("mktemp", {
      args: ["-d", "-t", "echolab-firefox.XXXXXX"],
      stdout: "piped",
    }).output();
    const profile = new TextDecoder().decode(temp.stdout).trim();
    const child = new Deno.Command("firefox-esr", {
      args: [
        "--headless",
        "--no-remote",
        "--remote-debugging-port=0",
        "--profile",
        profile,
        "about:blank",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // "WebDriver BiDi listening on ws://127.0.0.1:PORT" (on stderr).
    const reader = child.stderr.pipeThrough(new TextDecoderStream())
      .getReader();
    let said = "";
    let port: string | undefined;
    while (port === undefined) {
      const { value, done } = await reader.read();
      if (done) break;
      said += value;
      port = said.match(/WebDriver BiDi listening on ws:\/\/127\.0\.0\.1:(\d+)/)
        ?.[1];
    }
    const drained = Promise.all([
      (async () => {
        while (!(await reader.read()).done) { /* discard */ }
      })(),
      child.stdout.cancel(),
    ]).then(() => {});
    if (port === undefined) {
      await Promise.all([child.status, drained]);
      throw new Error(`Firefox did not start:\n${said}`);
    }
    const socket = new WebSocket(`ws://127.0.0.1:${port}/session`);
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = reject;
    });
    const firefox = new Firefox({
      child,
      profile,
      socket,
      drained,
      allowed: origin,
    });
    await firefox.#setUp(size);
    return firefox;
  }

  async #setUp(size: { width: number; height: number }): Promise<void> {
    await this.send("session.new", { capabilities: {} });
    const tree = await this.send("browsingContext.getTree");
    this.#context = (tree.contexts as { context: string }[])[0]!.context;
    await this.send("network.addIntercept", { phases: ["beforeRequestSent"] });
    await this.send("session.subscribe", {
      events: ["network.beforeRequestSent", "log.entryAdded"],
    });
    await this.resize(size);
  }

  #onEvent(method: string, params: Record<string, unknown>): void {
    if (method === "log.entryAdded") {
      this.console.push(`${params.level}: ${params.text}`);
      return;
    }
    if (method !== "network.beforeRequestSent" || !params.isBlocked) return;
    const request = params.request as { request: string; url: string };
    if (request.url.startsWith(`${this.#allowed}/`)) {
      this.send("network.continueRequest", { request: request.request })
        .catch(() => {});
    } else {
      this.blocked.push(request.url);
      this.send("network.failRequest", { request: request.request })
        .catch(() => {});
    }
  }

  /** Sends one BiDi command and returns its result. */
  send(
    method: string,
    params: Record<string, unknown> = {},
  ): Promise<Record<string, unknown>> {
    const id = this.#nextId++;
    const { promise, resolve, reject } = Promise.withResolvers<
      Record<string, unknown>
    >();
    this.#pending.set(id, { resolve, reject });
    this.#socket.send(JSON.stringify({ id, method, params }));
    return promise;
  }

  /** Sets the viewport. */
  async resize(size: { width: number; height: number }): Promise<void> {
    await this.send("browsingContext.setViewport", {
      context: this.#context,
      viewport: size,
    });
  }

  /** Opens `url` and waits for its load event. */
  async goto(url: string): Promise<void> {
    await this.send("browsingContext.navigate", {
      context: this.#context,
      url,
      wait: "complete",
    });
  }

  /** Evaluates `expression` in the page and returns its value (as JSON). */
  async evaluate<T>(expression: string): Promise<T> {
    const result = await this.send("script.evaluate", {
      expression: `JSON.stringify(${expression}) ?? "null"`,
      target: { context: this.#context },
      awaitPromise: true,
    });
    if (result.type === "exception") {
      const details = result.exceptionDetails as { text: string };
      throw new Error(details.text);
    }
    return JSON.parse((result.result as { value: string }).value) as T;
  }

  /** Evaluates `expression` until it is truthy, at most `timeout` ms. */
  async waitUntil<T>(expression: string, timeout = 15_000): Promise<T> {
    const end = performance.now() + timeout;
    while (true) {
      const value = await this.evaluate<T>(expression);
      if (value) return value;
      if (performance.now() > end) {
        throw new Error(`timed out waiting for ${expression}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Clicks the element with this id. */
  async click(id: string): Promise<void> {
    await this.evaluate(
      `document.getElementById(${JSON.stringify(id)}).click()`,
    );
  }

  /** A PNG of the viewport. */
  async screenshot(): Promise<Uint8Array> {
    const result = await this.send("browsingContext.captureScreenshot", {
      context: this.#context,
    });
    const binary = atob(result.data as string);
    const bytes = new Uint8Array(binary.length);
    for (let index = 0; index < binary.length; index++) {
      bytes[index] = binary.charCodeAt(index);
    }
    return bytes;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.send("browser.close");
    } catch {
      // Gone already.
    }
    this.#socket.close();
    await this.#closed;
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Exited.
    }
    await this.#child.status;
    await this.#drained;
    await new Deno.Command("rm", { args: ["-rf", this.#profile] }).output();
  }
}
