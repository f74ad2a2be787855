// Copyright 2026 the echolab authors. MIT license.
/**
 * The reply prefix with placeholders: `{instance}`, `{peer}`, `{local}`;
 * with TLS `{sni}`, `{alpn}`, `{tls}`, `{ja4}`; from a PROXY v2 header
 * `{proxy_authority}`, `{proxy_alpn}`; and `{{` `}}` for literal braces.
 * Resolved once per TCP connection and once per UDP source, never per line.
 *
 * @module
 */

/** The placeholders a prefix may use. */
export const PREFIX_PLACEHOLDERS = [
  "instance",
  "peer",
  "local",
  "sni",
  "alpn",
  "tls",
  "ja4",
  "proxy_authority",
  "proxy_alpn",
] as const;
/** One of {@linkcode PREFIX_PLACEHOLDERS}. */
export type PrefixPlaceholder = typeof PREFIX_PLACEHOLDERS[number];

/**
 * The values of one connection's (or source's) placeholders; one missing
 * stands for the empty string.
 */
export type PrefixValues = Readonly<
  Partial<Record<Exclude<PrefixPlaceholder, "instance">, string>>
>;

type Part = string | { name: PrefixPlaceholder };

const encoder = new TextEncoder();

/**
 * Splits a prefix template into literal text and placeholders.
 *
 * @param text The template, e.g. `{instance} saw {peer}: `.
 * @returns The literal parts (strings) and placeholders, in order.
 * @throws {RangeError} On an unknown placeholder or a lone `{` or `}`, with
 * the message naming it.
 */
function parseTemplate(text: string): Part[] {
  const parts: Part[] = [];
  let literal = "";
  for (let i = 0; i < text.length; i++) {
    const character = text[i]!;
    if (character === "{" && text[i + 1] === "{") {
      literal += "{";
      i++;
    } else if (character === "}" && text[i + 1] === "}") {
      literal += "}";
      i++;
    } else if (character === "{") {
      const end = text.indexOf("}", i + 1);
      const name = end === -1 ? undefined : text.slice(i + 1, end);
      if (name === undefined || name.includes("{")) {
        throw new RangeError(
          `a lone "{" at character ${i + 1}: write {{ for a literal brace`,
        );
      }
      if (!(PREFIX_PLACEHOLDERS as readonly string[]).includes(name)) {
        throw new RangeError(
          `unknown placeholder {${name}}: use ${
            PREFIX_PLACEHOLDERS.map((known) => `{${known}}`).join(", ")
          }, and {{ or }} for a literal brace`,
        );
      }
      if (literal !== "") parts.push(literal);
      literal = "";
      parts.push({ name: name as PrefixPlaceholder });
      i = end;
    } else if (character === "}") {
      throw new RangeError(
        `a lone "}" at character ${i + 1}: write }} for a literal brace`,
      );
    } else {
      literal += character;
    }
  }
  if (literal !== "") parts.push(literal);
  return parts;
}

/**
 * A reply prefix, checked once: its placeholders are filled per connection
 * (TCP) or per source (UDP) by {@linkcode ReplyPrefix.bytes}, which returns
 * the same bytes every time when the prefix names no placeholder but
 * `{instance}`.
 *
 * @example
 * ```ts
 * import { ReplyPrefix } from "./reply_prefix.ts";
 * import { strictEqual, throws } from "node:assert/strict";
 *
 * const prefix = new ReplyPrefix("{instance} saw {peer}: ", { instance: "pod-a" });
 * const decoder = new TextDecoder();
 * strictEqual(decoder.decode(prefix.bytes({ peer: "127.0.0.1:40446" })), "pod-a saw 127.0.0.1:40446: ");
 * strictEqual(new ReplyPrefix("{{raw}} ").text, "{{raw}} ");
 * throws(() => new ReplyPrefix("{host}"), /unknown placeholder \{host\}/);
 * ```
 */
export class ReplyPrefix {
  /** The template as given. */
  readonly text: string;
  /** The instance name `{instance}` stands for, if the template uses it. */
  readonly instance: string | undefined;
  /** Whether the prefix differs per peer (any placeholder but `{instance}`). */
  readonly perPeer: boolean;
  #parts: Part[];
  #fixed: Uint8Array | undefined;

  /**
   * Checks the template and fills `{instance}`.
   *
   * @param text The template.
   * @param options `instance`: the name for `{instance}`; without it, the
   * machine's host name (`Deno.hostname()`, which needs
   * `--allow-sys=hostname`), looked up only when the template uses it.
   * @throws {RangeError} On an unknown placeholder or a lone brace.
   * @throws {Deno.errors.NotCapable} When `{instance}` needs the host name
   * and the permission is missing.
   */
  constructor(text: string, options: { instance?: string } = {}) {
    this.text = text;
    const parts = parseTemplate(text);
    const uses = (name: PrefixPlaceholder) =>
      parts.some((part) => typeof part !== "string" && part.name === name);
    this.instance = uses("instance")
      ? options.instance ?? Deno.hostname()
      : options.instance;
    // {instance} is fixed for the server's life: fold it into the text.
    this.#parts = [];
    for (const part of parts) {
      const value = typeof part !== "string" && part.name === "instance"
        ? this.instance!
        : part;
      const last = this.#parts.at(-1);
      if (typeof value === "string" && typeof last === "string") {
        this.#parts[this.#parts.length - 1] = last + value;
      } else {
        this.#parts.push(value);
      }
    }
    this.perPeer = PREFIX_PLACEHOLDERS.some((name) =>
      name !== "instance" && uses(name)
    );
    if (!this.perPeer) {
      this.#fixed = encoder.encode(
        (this.#parts[0] as string | undefined) ?? "",
      );
    }
  }

  /**
   * The prefix for one peer, as UTF-8 bytes.
   *
   * @param values The placeholders' values: `peer` as `host:port`
   * (`[::1]:40446` for IPv6), `local` the server's own address, and what
   * TLS and the PROXY header learnt.
   * @returns The bytes; for a prefix without per-peer placeholders, the
   * same array each time.
   */
  bytes(values: PrefixValues): Uint8Array {
    if (this.#fixed !== undefined) return this.#fixed;
    let text = "";
    for (const part of this.#parts) {
      text += typeof part === "string"
        ? part
        : values[part.name as keyof PrefixValues] ?? "";
    }
    return encoder.encode(text);
  }
}
