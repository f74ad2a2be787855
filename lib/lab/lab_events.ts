// Copyright 2026 the echolab authors. MIT license.
/**
 * The lab's events: packets and the servers' own events, held a moment so
 * that they come out in time order, the last ones kept, and sent to each
 * browser as server-sent events through a bounded queue of its own, so
 * that a slow browser loses events (counted) and never slows the echo.
 *
 * @module
 */

/** A packet, as the lab shows it. */
export interface LabPacket {
  /** `packet`. */
  type: "packet";
  /** `tcp`, `udp`, `quic` (a QUIC packet in a UDP datagram) or `icmp`. */
  protocol: "tcp" | "udp" | "quic" | "icmp";
  /** Sender, `host:port` (a host alone for ICMP). */
  from: string;
  /** Receiver, `host:port` (a host alone for ICMP). */
  to: string;
  /** The words of the text diagram (`[SYN] seq 0 win 65495`). */
  text: string;
  /** TCP flags. */
  flags?: string[];
  /** TCP sequence number, relative to the sender's first. */
  seq?: number;
  /** TCP acknowledgement, relative to the receiver's first. */
  ack?: number;
  /** Payload bytes (a QUIC packet's own length). */
  len: number;
  /** QUIC: the packet type (`Initial`, `Handshake`, `1-RTT`, ...). */
  quic?: string;
  /** ICMP: what the error says, and the datagram it quotes. */
  icmp?: { description: string; protocol: string; from: string; to: string };
}

/** A server's own event (a `--trace` line), as the lab shows it. */
export interface LabServerEvent {
  /** `server`. */
  type: "server";
  /** The server: `tcp`, `udp` or `quic`. */
  transport: "tcp" | "udp" | "quic";
  /**
   * What happened, the trace line's first word: `accepted`, `read`,
   * `wrote`, `FIN`, `RST`, `timeout`, `closed`, `datagram`, `reply`, ...
   */
  event: string;
  /** The client, `host:port`, when the event has one. */
  peer?: string;
  /** The trace line, without its time and transport. */
  text: string;
  /** A UDP datagram cut to the buffer: received and kept sizes. */
  truncated?: { size: number; kept: number };
  /** `closed`: who closed first, `client` or `server`. */
  who?: string;
}

/** A line the lab itself writes into the session (a replay starting). */
export interface LabNote {
  /** `note`. */
  type: "note";
  /** The words. */
  text: string;
}

/** One event of the lab. */
export type LabEvent = (LabPacket | LabServerEvent | LabNote) & {
  /** Counts up from 1 in the order events are released. */
  id: number;
  /** When it happened, in milliseconds since the Unix epoch. */
  at: number;
};

/** What {@linkcode LabEvents.add} takes: an event without its id. */
export type NewLabEvent = (LabPacket | LabServerEvent | LabNote) & {
  at: number;
};

/**
 * The parts of a LogTape record the lab reads: a `LogRecord` is one, so
 * the sink goes straight into LogTape's configuration.
 */
export interface TraceRecord {
  /** The template, as logged. */
  readonly rawMessage: string | TemplateStringsArray;
  /** The message: text and values, alternating. */
  readonly message: readonly unknown[];
  /** The values by name. */
  readonly properties: Record<string, unknown>;
}

/** Options of {@linkcode LabEvents}. */
export interface LabEventsOptions {
  /**
   * Events kept for a browser that comes later; older ones are dropped
   * and counted.
   *
   * @default {2000}
   */
  limit?: number;
  /**
   * Milliseconds an event waits before it is released, so that packets
   * (tcpdump hands them over a little late) come out in time order with
   * the servers' events.
   *
   * @default {150}
   */
  hold?: number;
  /**
   * Bytes of events waiting for one browser at most (beyond what its
   * connection's socket buffers hold); past it, new ones are dropped for
   * that browser and counted.
   *
   * @default {1048576}
   */
  queueBytes?: number;
}

/** The default of {@linkcode LabEventsOptions.limit}. */
export const DEFAULT_LAB_EVENTS = 2000;
const encoder = new TextEncoder();

/** One browser's stream. */
class Subscriber {
  queue: string[] = [];
  bytes = 0;
  lost = 0;
  wake: (() => void) | undefined;
  closed = false;
}

/**
 * The lab's event store and its server-sent event streams.
 *
 * @example
 * ```ts
 * import { LabEvents } from "./lab_events.ts";
 * import { strictEqual } from "node:assert/strict";
 *
 * const events = new LabEvents({ hold: 0 });
 * events.add({ type: "note", text: "hello", at: Date.now() });
 * strictEqual(events.kept, 1);
 * events.close();
 * ```
 */
export class LabEvents {
  #limit: number;
  #hold: number;
  #queue: number;
  #held: NewLabEvent[] = [];
  #events: LabEvent[] = [];
  #nextId = 1;
  #droppedOld = 0;
  #droppedSlow = 0;
  #subscribers = new Set<Subscriber>();
  #followers = new Set<(event: LabEvent) => void>();
  #timer: ReturnType<typeof setInterval> | undefined;

  /**
   * Makes an empty store.
   *
   * @param options The limits.
   */
  constructor(options: LabEventsOptions = {}) {
    this.#limit = options.limit ?? DEFAULT_LAB_EVENTS;
    this.#hold = options.hold ?? 150;
    this.#queue = options.queueBytes ?? 1024 * 1024;
  }

  /** The most events kept. */
  get limit(): number {
    return this.#limit;
  }

  /** Events kept now. */
  get kept(): number {
    return this.#events.length;
  }

  /** Events dropped because newer ones came past the limit. */
  get droppedOld(): number {
    return this.#droppedOld;
  }

  /** Events dropped for browsers that did not keep up, added up. */
  get droppedSlow(): number {
    return this.#droppedSlow;
  }

  /** Browsers connected now. */
  get subscribers(): number {
    return this.#subscribers.size;
  }

  /**
   * Adds one event; it is released once it has been held.
   *
   * @param event The event and its time.
   */
  add(event: NewLabEvent): void {
    if (this.#hold <= 0) {
      this.#release([event]);
      return;
    }
    this.#held.push(event);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#tick(), 25);
      Deno.unrefTimer(this.#timer!);
    }
  }

  /**
   * A LogTape sink for the `echolab.trace` logger: each server event
   * becomes a lab event at the time it is logged (the servers must trace
   * without holding events back, that is without a capture of their own;
   * their `packet` lines are skipped: the lab captures packets itself).
   *
   * @returns The sink.
   */
  traceSink(): (record: TraceRecord) => void {
    return (record: TraceRecord) => {
      const event = serverEvent(record);
      if (event !== undefined) this.add(event);
    };
  }

  /**
   * Calls `listener` with each event as it is released, in time order (the
   * program writes them to its log this way, packets among the servers'
   * events).
   *
   * @param listener Called once per event; it must not throw.
   * @returns Stops the calls when disposed.
   */
  follow(listener: (event: LabEvent) => void): Disposable {
    this.#followers.add(listener);
    return { [Symbol.dispose]: () => this.#followers.delete(listener) };
  }

  /**
   * Sends a message to every browser (not kept): the counters.
   *
   * @param name The server-sent event's name.
   * @param data Its data, as JSON.
   */
  broadcast(name: string, data: unknown): void {
    const message = `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const subscriber of this.#subscribers) {
      this.#offer(subscriber, message, 1);
    }
  }

  /**
   * A server-sent event stream for one browser: `first` (its settings),
   * then every kept event, then the new ones as they come.
   *
   * @param first Sent first as the `config` event.
   * @returns The stream, to answer `GET` with.
   */
  subscribe(first: unknown): ReadableStream<Uint8Array> {
    const subscriber = new Subscriber();
    const backlog = [
      `retry: 2000\nevent: config\ndata: ${JSON.stringify(first)}\n\n`,
      this.#droppedOld > 0
        ? `event: dropped\ndata: ${
          JSON.stringify({ older: this.#droppedOld })
        }\n\n`
        : "",
      ...this.#events.map(message),
    ].join("");
    subscriber.queue.push(backlog);
    subscriber.bytes = backlog.length;
    this.#subscribers.add(subscriber);
    const leave = () => {
      subscriber.closed = true;
      subscriber.wake?.();
      this.#subscribers.delete(subscriber);
    };
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        while (subscriber.queue.length === 0 && !subscriber.closed) {
          await new Promise<void>((resolve) => subscriber.wake = resolve);
          subscriber.wake = undefined;
        }
        if (subscriber.closed && subscriber.queue.length === 0) {
          controller.close();
          return;
        }
        let text = subscriber.queue.join("");
        subscriber.queue.length = 0;
        subscriber.bytes = 0;
        if (subscriber.lost > 0) {
          text += `event: lost\ndata: ${
            JSON.stringify({ events: subscriber.lost })
          }\n\n`;
          subscriber.lost = 0;
        }
        controller.enqueue(encoder.encode(text));
      },
      cancel: leave,
    }, { highWaterMark: 0 });
  }

  /**
   * Releases every held event and ends every stream.
   */
  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#flush(Infinity);
    for (const subscriber of this.#subscribers) {
      subscriber.closed = true;
      subscriber.wake?.();
    }
    this.#subscribers.clear();
  }

  #tick(): void {
    this.#flush(Date.now() - this.#hold);
    if (this.#held.length === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #flush(before: number): void {
    if (this.#held.length === 0) return;
    this.#held.sort((a, b) => a.at - b.at);
    let count = 0;
    while (count < this.#held.length && this.#held[count]!.at <= before) {
      count++;
    }
    this.#release(this.#held.splice(0, count));
  }

  #release(events: NewLabEvent[]): void {
    if (events.length === 0) return;
    const messages: string[] = [];
    for (const event of events) {
      const released = { id: this.#nextId++, ...event } as LabEvent;
      this.#events.push(released);
      messages.push(message(released));
      for (const listener of this.#followers) listener(released);
    }
    const over = this.#events.length - this.#limit;
    if (over > 0) {
      this.#events.splice(0, over);
      this.#droppedOld += over;
    }
    const text = messages.join("");
    for (const subscriber of this.#subscribers) {
      this.#offer(subscriber, text, messages.length);
    }
  }

  #offer(subscriber: Subscriber, text: string, count: number): void {
    if (subscriber.bytes + text.length > this.#queue) {
      // This browser is behind: it loses these, and is told how many.
      subscriber.lost += count;
      this.#droppedSlow += count;
      return;
    }
    subscriber.queue.push(text);
    subscriber.bytes += text.length;
    subscriber.wake?.();
  }
}

function message(event: LabEvent): string {
  return `event: lab\ndata: ${JSON.stringify(event)}\n\n`;
}

/** The trace line's time and transport, before the event's own words. */
const TRACE_PREFIX = /^\+\S+ s \S+ /;

/** A `--trace` record as a lab event; `undefined` for a packet line. */
function serverEvent(record: TraceRecord): NewLabEvent | undefined {
  const properties = record.properties;
  const transport = properties.transport;
  if (transport !== "tcp" && transport !== "udp" && transport !== "quic") {
    return undefined;
  }
  const raw = typeof record.rawMessage === "string"
    ? record.rawMessage
    : record.rawMessage.join("{}");
  const template = raw.replace(/^\+\{elapsed\} s \{transport\} /, "");
  const word = template.split(/[ :]/, 1)[0]!;
  if (word === "packet") return undefined;
  let text = "";
  record.message.forEach((part, index) => {
    text += index % 2 === 0 ? part as string : String(part);
  });
  const event: NewLabEvent = {
    type: "server",
    transport,
    event: word === "{unit}" ? "opened" : word,
    text: text.replace(TRACE_PREFIX, ""),
    at: performance.timeOrigin + performance.now(),
  };
  if (typeof properties.peer === "string") event.peer = properties.peer;
  if (typeof properties.who === "string") event.who = properties.who;
  const size = properties.size ?? properties.bytes;
  if (
    word === "datagram" && typeof size === "number" &&
    typeof properties.kept === "number" && properties.kept < size
  ) {
    event.truncated = { size, kept: properties.kept };
  }
  return event;
}
