// Copyright 2026 the echolab authors. MIT license.
/**
 * A real browser for the tests: Debian's headless Chromium, driven over
 * the Chrome DevTools protocol (a WebSocket of JSON messages) straight from
 * Deno. Every request to another origin than the one allowed is failed and
 * recorded, so a page that needs anything from elsewhere shows it.
 *
 * @module
 */

import {
  fromBase64,
  launchBrowser,
  openSocket,
  PageDriver,
} from "./page_driver.ts";
import { ensureCommand } from "./system_package.ts";

/** Why browser tests cannot run here; `undefined` when they can. */
export async function browserSkipped(): Promise<string | undefined> {
  return await ensureCommand("chromium", "chromium");
}

/** A running headless Chromium with one page, driven over DevTools. */
export class Browser extends PageDriver {
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
    const process = await launchBrowser(
      "chromium",
      (profile) => [
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
      /DevTools listening on ws:\/\/127\.0\.0\.1:(\d+)\//,
    );
    const targets = await (await fetch(
      `http://127.0.0.1:${process.port}/json/list`,
    )).json() as { type: string; webSocketDebuggerUrl: string }[];
    const page = targets.find((target) => target.type === "page")!;
    const browser = new Browser(
      process,
      await openSocket(page.webSocketDebuggerUrl),
      origin,
    );
    await browser.#setUp(size);
    return browser;
  }

  async #setUp(size: { width: number; height: number }): Promise<void> {
    this.on("Fetch.requestPaused", (params) => {
      const request = params.request as { url: string };
      const requestId = params.requestId as string;
      (this.allows(request.url)
        ? this.send("Fetch.continueRequest", { requestId })
        : this.send("Fetch.failRequest", {
          requestId,
          errorReason: "BlockedByClient",
        })).catch(() => {});
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
    this.on("Page.loadEventFired", () => resolve());
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

  /** A PNG of the page as shown (the whole page with `full`). */
  async screenshot(options: { full?: boolean } = {}): Promise<Uint8Array> {
    const result = await this.send("Page.captureScreenshot", {
      format: "png",
      captureBeyondViewport: options.full ?? false,
    });
    return fromBase64(result.data as string);
  }

  protected quit(): Promise<unknown> {
    return this.send("Browser.close");
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
