// Copyright 2026 the echolab authors. MIT license.
/**
 * A real browser for the tests: Debian's headless Chromium, driven over
 * the Chrome DevTools protocol (a WebSocket of JSON messages) straight from
 * Deno. Every request to another origin than the one allowed is failed and
 * recorded, so a page that needs anything from elsewhere shows it.
 *
 * @module
 */

import { ensureCommand } from "./system_package.ts";

/** Why browser tests cannot run here; `undefined` when they can. */
export async function browserSkipped(): Promise<string | undefined> {
  return await ensureCommand("chromium", "chromium");
}

interface Pending {
  resolve(value: Record<string, unknown>): void;
  reject(error: Error): void;
}

/** A running headless Chromium with one page, driven over DevTools. */
export class Browser implements AsyncDisposable {
  /** Requests that were blocked: URLs of other origins. */
  readonly blocked: string[] = [];
  /** Messages the page logged to its console, and its exceptions. */
  readonly console: string[] = [];
  #child: Deno.ChildProcess;
  #profile: string;
  #socket: WebSocket;
  #nextId = 1;
  #pending = new Map<number, Pending>();
  #listeners = new Map<string, ((params: Record<string, unknown>) => void)[]>();
  #allowed: string;
  #closed: Promise<void>;
  #drained: Promise<void>;

  private constructor(
    child: Deno.ChildProcess,
    profile: string,
    socket: WebSocket,
    allowed: string,
    drained: Promise<void>,
  ) {
    this.#drained = drained;
    this.#child = child;
    this.#profile = profile;
    this.#socket = socket;
    this.#allowed = allowed;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#closed = promise;
    socket.onclose = () => {
      for (const pending of this.#pending.values()) {
        pending.reject(new Error("the browser went away"));
      }
      this.#pending.clear();
      resolve();
    };
    socket.onmessage = (message) => {
      const data = JSON.parse(message.data as string);
      if (data.id !== undefined) {
        const pending = this.#pending.get(data.id);
        this.#pending.delete(data.id);
        if (data.error) {
          pending?.reject(new Error(`${data.error.message} (${data.id})`));
        } else pending?.resolve(data.result ?? {});
        return;
      }
      for (const listener of this.#listeners.get(data.method) ?? []) {
        listener(data.params ?? {});
      }
    };
  }

  /**
   * Starts Chromium and opens its page, allowing requests to `origin` only.
   *
   * @param origin The one origin the page may reach (`http://127.0.0.1:N`).
   * @param size The window: width and height in CSS pixels.
   */
  static async open(
    origin: string,
    size = { width: 1280, height: 800 },
  ): Promise<Browser> {
    const temp = await new Deno.Command("mktemp", {
      args: ["-d", "-t", "echolab-chromium.XXXXXX"],
      stdout: "piped",
    }).output();
    const profile = new TextDecoder().decode(temp.stdout).trim();
    const child = new Deno.Command("chromium", {
      args: [
        "--headless=new",
        // Root (CI) cannot use Chromium's sandbox.
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--remote-debugging-port=0",
        `--user-data-dir=${profile}`,
        `--window-size=${size.width},${size.height}`,
        "about:blank",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID".
    const reader = child.stderr.pipeThrough(new TextDecoderStream())
      .getReader();
    let said = "";
    let port: string | undefined;
    while (port === undefined) {
      const { value, done } = await reader.read();
      if (done) break;
      said += value;
      port = said.match(/DevTools listening on ws:\/\/127\.0\.0\.1:(\d+)\//)
        ?.[1];
    }
    // The rest of its stderr is drained, so that the pipe never fills.
    const drained = (async () => {
      while (!(await reader.read()).done) { /* discard */ }
    })();
    if (port === undefined) {
      await Promise.all([child.status, drained]);
      throw new Error(`Chromium did not start:\n${said}`);
    }
    const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`))
      .json() as { type: string; webSocketDebuggerUrl: string }[];
    const page = targets.find((target) => target.type === "page")!;
    const socket = new WebSocket(page.webSocketDebuggerUrl);
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = reject;
    });
    const browser = new Browser(child, profile, socket, origin, drained);
    await browser.#setUp(size);
    return browser;
  }

  async #setUp(size: { width: number; height: number }): Promise<void> {
    this.on("Fetch.requestPaused", (params) => {
      const request = params.request as { url: string };
      const requestId = params.requestId as string;
      if (request.url.startsWith(`${this.#allowed}/`)) {
        this.send("Fetch.continueRequest", { requestId }).catch(() => {});
      } else {
        this.blocked.push(request.url);
        this.send("Fetch.failRequest", {
          requestId,
          errorReason: "BlockedByClient",
        }).catch(() => {});
      }
    });
    this.on("Runtime.consoleAPICalled", (params) => {
      const args = params.args as { value?: unknown; description?: string }[];
      this.console.push(
        args.map((arg) => String(arg.value ?? arg.description)).join(" "),
      );
    });
    this.on("Runtime.exceptionThrown", (params) => {
      const details = params.exceptionDetails as {
        text: string;
        exception?: { description?: string };
      };
      this.console.push(
        `exception: ${details.exception?.description ?? details.text}`,
      );
    });
    await this.send("Fetch.enable", { patterns: [{ urlPattern: "*" }] });
    await this.send("Page.enable");
    await this.send("Runtime.enable");
    await this.resize(size);
  }

  /** Sends one DevTools command and returns its result. */
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

  /** Calls `listener` with each DevTools event named `method`. */
  on(method: string, listener: (params: Record<string, unknown>) => void) {
    const list = this.#listeners.get(method) ?? [];
    list.push(listener);
    this.#listeners.set(method, list);
  }

  /** Sets the viewport, as a phone or a desktop window. */
  async resize(size: { width: number; height: number }): Promise<void> {
    await this.send("Emulation.setDeviceMetricsOverride", {
      width: size.width,
      height: size.height,
      deviceScaleFactor: 1,
      mobile: size.width < 600,
    });
  }

  /** Opens `url` and waits for its load event. */
  async goto(url: string): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    let done = false;
    this.on("Page.loadEventFired", () => {
      if (!done) {
        done = true;
        resolve();
      }
    });
    const result = await this.send("Page.navigate", { url });
    if (result.errorText) throw new Error(`${url}: ${result.errorText}`);
    await promise;
  }

  /** Evaluates `expression` in the page and returns its value. */
  async evaluate<T>(expression: string): Promise<T> {
    const result = await this.send("Runtime.evaluate", {
      expression,
      returnByValue: true,
      awaitPromise: true,
    });
    if (result.exceptionDetails) {
      const details = result.exceptionDetails as {
        text: string;
        exception?: { description?: string };
      };
      throw new Error(details.exception?.description ?? details.text);
    }
    return (result.result as { value: T }).value;
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

  /** Clicks the element with this id, as a user's click does. */
  async click(id: string): Promise<void> {
    await this.evaluate(
      `document.getElementById(${JSON.stringify(id)}).click()`,
    );
  }

  /** A PNG of the page as shown (the whole page with `full`). */
  async screenshot(options: { full?: boolean } = {}): Promise<Uint8Array> {
    const result = await this.send("Page.captureScreenshot", {
      format: "png",
      captureBeyondViewport: options.full ?? false,
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
      await this.send("Browser.close");
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

/** A PNG's width and height, from its IHDR chunk. */
export function pngSize(png: Uint8Array): { width: number; height: number } {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const signature = [137, 80, 78, 71, 13, 10, 26, 10];
  if (!signature.every((byte, index) => png[index] === byte)) {
    throw new Error("not a PNG");
  }
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/**
 * Keeps a screenshot where a person can look at it: under
 * `${TMPDIR:-/tmp}/echolab-lab-screenshots` (the tests may not write files
 * themselves: `sh` does). Returns the path.
 */
export async function keepScreenshot(
  name: string,
  png: Uint8Array,
): Promise<string> {
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      'd="${TMPDIR:-/tmp}/echolab-lab-screenshots" && mkdir -p "$d" && cat > "$d/$1.png" && echo "$d/$1.png"',
      "sh",
      name,
    ],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(png);
  await writer.close();
  const { stdout } = await child.output();
  return new TextDecoder().decode(stdout).trim();
}
