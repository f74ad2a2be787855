// Copyright 2026 the echolab authors. MIT license.
/**
 * The control endpoints of the HTTP port: faults, health and readiness
 * changed at run time, and probes from inside (`/control/dial`). Off unless
 * asked for; loopback peers only, or a bearer token; every change logged
 * at warning and counted, every refusal counted and logged throttled.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { formatAddress } from "../serving/address.ts";
import { isLoopback, isLoopbackName } from "../serving/loopback.ts";
import { type AnyEchoServer, echoKind } from "../serving/server.ts";
import type { AddressFilter } from "../serving/stages.ts";
import { ThrottledReporter } from "../serving/throttled_reporter.ts";
import { digest, equal } from "./_control_auth.ts";
import {
  checkFaults,
  FAULT_OPTION_NAMES,
  type FaultOptions,
  faults,
} from "../faults/faults.ts";
import { dialRequest } from "./_control_dial.ts";

/** Options of the control endpoints. */
export interface ControlOptions {
  /**
   * Every control request must carry `Authorization: Bearer TOKEN`, from any
   * peer. Without it, only loopback peers may call.
   *
   * @default {undefined}
   */
  token?: string;
  /**
   * The networks `/control/dial` may reach; without it, `/control/dial`
   * answers 404.
   *
   * @default {undefined}
   */
  dialAllow?: AddressFilter;
}

/** What the control endpoints change on the HTTP port itself. */
export interface ControlTarget {
  /** Sets what `/healthz` answers. */
  setHealthy(healthy: boolean): void;
  /** Sets what `/readyz` answers (draining still wins). */
  setReady(ready: boolean): void;
}

const logger = getLogger(["echolab", "control"]);

/** An answer, with the line a log or a 400 gives. */
export class ControlError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/**
 * The control endpoints of one HTTP port.
 *
 * @example
 * ```ts ignore
 * const control = new Control({ token }, servers, ops);
 * const response = await control.handle(request, peer);
 * ```
 */
export class Control {
  /** Refused calls (no token, a wrong one, or a peer not on loopback). */
  denied = 0;
  /** Changes by kind: `faults`, `health`, `ready`. */
  readonly changes: Record<string, number> = {};
  #options: ControlOptions;
  #servers: readonly AnyEchoServer[];
  #target: ControlTarget;
  #refusals = new ThrottledReporter();
  #token: Promise<Uint8Array> | undefined;

  /**
   * Sets the endpoints up.
   *
   * @param options The token and the dial allow list.
   * @param servers The echo servers whose faults are steered.
   * @param target The HTTP port's health and readiness.
   */
  constructor(
    options: ControlOptions,
    servers: readonly AnyEchoServer[],
    target: ControlTarget,
  ) {
    this.#options = options;
    this.#servers = servers;
    this.#target = target;
    if (options.token !== undefined) this.#token = digest(options.token);
  }

  /**
   * Answers a request under `/control/`.
   *
   * @param request The request.
   * @param peer Who sent it.
   * @returns The answer.
   */
  async handle(request: Request, peer: Deno.NetAddr): Promise<Response> {
    const path = new URL(request.url).pathname;
    const who = formatAddress(peer);
    const route = this.#route(path);
    if (route === undefined) return text(404, "not found");
    const refusal = await this.#refuse(request, peer);
    if (refusal !== undefined) {
      this.denied++;
      this.#refusals.log(
        logger,
        "warning",
        "control denied",
        "Control: refused {method} {path} from {peer}: {reason}",
        { method: request.method, path, peer: who, reason: refusal.reason },
      );
      return refusal.response;
    }
    if (!route.methods.includes(request.method)) {
      return new Response("method not allowed", {
        status: 405,
        headers: {
          "content-type": "text/plain",
          allow: route.methods.join(", "),
        },
      });
    }
    try {
      return await route.run(request, who);
    } catch (error) {
      if (error instanceof ControlError) {
        return text(error.status, error.message);
      }
      throw error;
    }
  }

  #route(path: string):
    | {
      methods: string[];
      run: (request: Request, who: string) => Promise<Response>;
    }
    | undefined {
    switch (path) {
      case "/control/faults":
        return {
          methods: ["GET", "PUT", "DELETE"],
          run: (request, who) => this.#faults(request, who),
        };
      case "/control/health":
        return {
          methods: ["PUT"],
          run: (request, who) => this.#flag(request, who, "healthy"),
        };
      case "/control/ready":
        return {
          methods: ["PUT"],
          run: (request, who) => this.#flag(request, who, "ready"),
        };
      case "/control/dial":
        if (this.#options.dialAllow === undefined) return undefined;
        return {
          methods: ["POST"],
          run: (request, who) => this.#dial(request, who),
        };
    }
    return undefined;
  }

  /** Why a call may not go on: no or wrong token, or not on loopback. */
  async #refuse(
    request: Request,
    peer: Deno.NetAddr,
  ): Promise<{ reason: string; response: Response } | undefined> {
    if (this.#token !== undefined) {
      const given = /^Bearer (.+)$/.exec(
        request.headers.get("authorization") ?? "",
      )?.[1];
      if (
        given !== undefined &&
        equal(await digest(given), await this.#token)
      ) {
        return undefined;
      }
      return {
        reason: given === undefined ? "no token" : "wrong token",
        response: new Response("unauthorized", {
          status: 401,
          headers: {
            "content-type": "text/plain",
            "www-authenticate": "Bearer",
          },
        }),
      };
    }
    if (isLoopback(peer.hostname)) {
      // Asked by a browser for another site's name that points here (DNS
      // rebinding): that site's page must not steer the server.
      const name = new URL(request.url).hostname;
      if (isLoopbackName(name)) return undefined;
      return {
        reason: "not a loopback name",
        response: text(
          403,
          `forbidden: without a control token only requests to a loopback address or localhost may call, not ${name}`,
        ),
      };
    }
    return {
      reason: "not a loopback peer",
      response: text(
        403,
        "forbidden: without a control token only loopback peers may call",
      ),
    };
  }

  /** The faults in force, per transport served. */
  #state(): Record<string, unknown> {
    const state: Record<string, unknown> = {};
    let seed: unknown;
    for (const server of this.#servers) {
      const options = server.faults;
      state[echoKind(server)] = options === undefined ? {} : Object.fromEntries(
        Object.entries(options).filter(([name]) => name !== "seed"),
      );
      seed ??= options?.seed;
    }
    if (seed !== undefined) state.seed = seed;
    return state;
  }

  async #faults(request: Request, who: string): Promise<Response> {
    if (request.method === "GET") return Response.json(this.#state());
    if (request.method === "DELETE") {
      for (const server of this.#servers) server.setFaults(undefined);
      this.#changed("faults", "Control: faults cleared by {peer}", {
        peer: who,
      });
      return Response.json(this.#state());
    }
    const body = await json(request);
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw new ControlError(
        400,
        'Cannot set faults: the body must be an object such as {"tcp": {"delay": 100}}',
      );
    }
    const { seed, ...transports } = body as Record<string, unknown>;
    const plans = new Map<string, ReturnType<typeof faults>>();
    for (const [transport, given] of Object.entries(transports)) {
      if (transport !== "tcp" && transport !== "udp" && transport !== "quic") {
        throw new ControlError(
          400,
          `Cannot set faults: unknown key ${
            JSON.stringify(transport)
          } (tcp, udp, quic or seed)`,
        );
      }
      if (
        !this.#servers.some((server) => echoKind(server) === transport)
      ) {
        throw new ControlError(
          400,
          `Cannot set faults: this process serves no ${transport}`,
        );
      }
      if (typeof given !== "object" || given === null || Array.isArray(given)) {
        throw new ControlError(
          400,
          `Cannot set faults: ${transport} must be an object of fault options`,
        );
      }
      const options = { ...given } as Record<string, unknown>;
      for (const name of Object.keys(options)) {
        if (!FAULT_OPTION_NAMES.includes(name)) {
          throw new ControlError(
            400,
            `Cannot set faults: unknown option ${transport}.${name}`,
          );
        }
      }
      if (options.seed === undefined && seed !== undefined) options.seed = seed;
      if (transport === "quic" && options.resetAfter !== undefined) {
        throw new ControlError(
          400,
          "Cannot set faults: resetAfter is TCP's (an RST), not QUIC's (quic)",
        );
      }
      try {
        // QUIC's streams take TCP's faults (its datagrams, UDP's among them).
        checkFaults(
          options as FaultOptions,
          transport === "quic" ? "tcp" : transport,
        );
        plans.set(transport, faults(options as FaultOptions));
      } catch (error) {
        if (!(error instanceof RangeError || error instanceof TypeError)) {
          throw error;
        }
        throw new ControlError(400, `${error.message} (${transport})`);
      }
    }
    // All checked: now every transport named changes, or none did.
    for (const server of this.#servers) {
      const plan = plans.get(echoKind(server));
      if (plan !== undefined) server.setFaults(plan);
    }
    this.#changed("faults", "Control: faults set by {peer}: {faults}", {
      peer: who,
      faults: [...plans].map(([transport, plan]) =>
        `${transport} ${plan.describe()}`
      ).join("; "),
    });
    return Response.json(this.#state());
  }

  async #flag(
    request: Request,
    who: string,
    name: "healthy" | "ready",
  ): Promise<Response> {
    const body = await json(request);
    const value = (body as Record<string, unknown> | null)?.[name];
    if (
      typeof body !== "object" || body === null ||
      Object.keys(body).length !== 1 || typeof value !== "boolean"
    ) {
      throw new ControlError(
        400,
        `Cannot set ${
          name === "healthy" ? "health" : "readiness"
        }: the body must be {"${name}": true} or {"${name}": false}`,
      );
    }
    if (name === "healthy") this.#target.setHealthy(value);
    else this.#target.setReady(value);
    const what = name === "healthy" ? "health" : "ready";
    this.#changed(what, `Control: ${what} set by {peer}: ${name}={value}`, {
      peer: who,
      value,
    });
    return Response.json({ [name]: value });
  }

  async #dial(request: Request, who: string): Promise<Response> {
    return await dialRequest(await json(request), {
      who,
      allow: this.#options.dialAllow!,
      fail: (status, message) => new ControlError(status, message),
    });
  }

  #changed(
    what: string,
    template: string,
    properties: Record<string, unknown>,
  ) {
    this.changes[what] = (this.changes[what] ?? 0) + 1;
    logger.warn(template, properties);
  }
}

async function json(request: Request): Promise<unknown> {
  try {
    return await request.json();
  } catch {
    throw new ControlError(400, "Cannot read the body: not JSON");
  }
}

function text(status: number, body: string): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain" },
  });
}
