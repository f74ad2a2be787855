// Copyright 2026 the echolab authors. MIT license.
/**
 * What the two browser drivers share: starting a headless browser with a
 * throw-away profile, a WebSocket of JSON commands answered by id (the
 * Chrome DevTools protocol and WebDriver BiDi both work so), waiting on the
 * page, and closing everything.
 *
 * @module
 */

/** A headless browser process, started. */
export interface BrowserProcess {
  child: Deno.ChildProcess;
  /** Its throw-away profile directory, removed at the end. */
  profile: string;
  /** The port its remote protocol listens on. */
  port: number;
  /** Settles once its stderr has been read to the end. */
  drained: Promise<void>;
}

/**
 * Starts `command` with a fresh profile (`args` gets its path) and waits
 * for the line `listening` on stderr, whose first group is the port.
 */
export async function launchBrowser(
  command: string,
  args: (profile: string) => string[],
  listening: RegExp,
): Promise<BrowserProcess> {
  const temp = await new Deno.Command("mktemp", {
    args: ["-d", "-t", `echolab-${command}.XXXXXX`],
    stdout: "piped",
  }).output();
  const profile = new TextDecoder().decode(temp.stdout).trim();
  const child = new Deno.Command(command, {
    args: args(profile),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream())
    .getReader();
  let said = "";
  let port: string | undefined;
  while (port === undefined) {
    const { value, done } = await reader.read();
    if (done) break;
    said += value;
    port = said.match(listening)?.[1];
  }
  // The rest of its stderr is drained, so that the pipe never fills.
  const drained = (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })();
  if (port === undefined) {
    await Promise.all([child.status, drained]);
    await new Deno.Command("rm", { args: ["-rf", profile] }).output();
    throw new Error(`${command} did not start:\n${said}`);
  }
  return { child, profile, port: Number(port), drained };
}

/** Opens a WebSocket and waits until it is open. */
export async function openSocket(url: string): Promise<WebSocket> {
  const socket = new WebSocket(url);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  return socket;
}

interface Pending {
  resolve(value: Record<string, unknown>): void;
  reject(error: Error): void;
}

/** A page in a headless browser, driven over its remote protocol. */
export abstract class PageDriver implements AsyncDisposable {
  /** Requests that were blocked: URLs of other origins. */
  readonly blocked: string[] = [];
  /** Messages and errors the page logged. */
  readonly console: string[] = [];
  /** The one origin the page may reach. */
  protected readonly allowed: string;
  #process: BrowserProcess;
  #socket: WebSocket;
  #closed: Promise<void>;
  #nextId = 1;
  #pending = new Map<number, Pending>();
  #listeners = new Map<string, ((params: Record<string, unknown>) => void)[]>();

  /** Takes over a started browser and its protocol's socket. */
  protected constructor(
    process: BrowserProcess,
    socket: WebSocket,
    allowed: string,
  ) {
    this.#process = process;
    this.#socket = socket;
    this.allowed = allowed;
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
      if (data.id === undefined) {
        for (const listener of this.#listeners.get(data.method) ?? []) {
          listener(data.params ?? {});
        }
        return;
      }
      const pending = this.#pending.get(data.id);
      this.#pending.delete(data.id);
      // DevTools: `error: { message }`; BiDi: `type: "error"`, `message`.
      if (data.type === "error" || typeof data.error === "object") {
        pending?.reject(
          new Error(data.message ?? data.error?.message ?? "failed"),
        );
      } else pending?.resolve(data.result ?? {});
    };
  }

  /** Sends one command and returns its result. */
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

  /** Calls `listener` with each event named `method`. */
  on(
    method: string,
    listener: (params: Record<string, unknown>) => void,
  ): void {
    const list = this.#listeners.get(method) ?? [];
    list.push(listener);
    this.#listeners.set(method, list);
  }

  /** Records a blocked request; `true` when `url` is the page's origin. */
  protected allows(url: string): boolean {
    if (url.startsWith(`${this.allowed}/`)) return true;
    this.blocked.push(url);
    return false;
  }

  /** Evaluates `expression` in the page and returns its value. */
  abstract evaluate<T>(expression: string): Promise<T>;

  /** A PNG of the page as shown. */
  abstract screenshot(): Promise<Uint8Array>;

  /** Asks the browser to quit. */
  protected abstract quit(): Promise<unknown>;

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

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.quit();
    } catch {
      // Gone already.
    }
    this.#socket.close();
    await this.#closed;
    try {
      this.#process.child.kill("SIGKILL");
    } catch {
      // Exited.
    }
    await this.#process.child.status;
    await this.#process.drained;
    await new Deno.Command("rm", { args: ["-rf", this.#process.profile] })
      .output();
  }
}

/** Bytes from base64, as both protocols send screenshots. */
export function fromBase64(data: string): Uint8Array {
  const binary = atob(data);
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) {
    bytes[index] = binary.charCodeAt(index);
  }
  return bytes;
}
