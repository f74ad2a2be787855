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

import {
  fromBase64,
  launchBrowser,
  openSocket,
  PageDriver,
} from "./page_driver.ts";
import { ensureCommand } from "./system_package.ts";

/** Why Firefox tests cannot run here; `undefined` when they can. */
export async function firefoxSkipped(): Promise<string | undefined> {
  return await ensureCommand("firefox-esr", "firefox-esr");
}

/** A running headless Firefox with one tab, driven over WebDriver BiDi. */
export class Firefox extends PageDriver {
  #context = "";

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
    const process = await launchBrowser(
      "firefox-esr",
      (profile) => [
        "--headless",
        "--no-remote",
        "--remote-debugging-port=0",
        "--profile",
        profile,
        "about:blank",
      ],
      /WebDriver BiDi listening on ws:\/\/127\.0\.0\.1:(\d+)/,
    );
    const firefox = new Firefox(
      process,
      await openSocket(`ws://127.0.0.1:${process.port}/session`),
      origin,
    );
    await firefox.#setUp(size);
    return firefox;
  }

  async #setUp(size: { width: number; height: number }): Promise<void> {
    this.on("log.entryAdded", (params) => {
      this.console.push(`${params.level}: ${params.text}`);
    });
    this.on("network.beforeRequestSent", (params) => {
      if (!params.isBlocked) return;
      const request = params.request as { request: string; url: string };
      this.send(
        this.allows(request.url)
          ? "network.continueRequest"
          : "network.failRequest",
        { request: request.request },
      ).catch(() => {});
    });
    await this.send("session.new", { capabilities: {} });
    const tree = await this.send("browsingContext.getTree");
    this.#context = (tree.contexts as { context: string }[])[0]!.context;
    await this.send("network.addIntercept", { phases: ["beforeRequestSent"] });
    await this.send("session.subscribe", {
      events: ["network.beforeRequestSent", "log.entryAdded"],
    });
    await this.resize(size);
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

  /** A PNG of the viewport. */
  async screenshot(): Promise<Uint8Array> {
    const result = await this.send("browsingContext.captureScreenshot", {
      context: this.#context,
    });
    return fromBase64(result.data as string);
  }

  protected quit(): Promise<unknown> {
    return this.send("browser.close");
  }
}
