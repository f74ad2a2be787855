// Copyright 2026 the echolab authors. MIT license.
/**
 * Items that wait until their time, on one timer: the UDP server's delayed
 * replies, however many, cost one runtime timer and a heap entry each.
 *
 * @module
 */

interface Entry<T> {
  due: number;
  order: number;
  item: T;
}

/**
 * A queue of items ordered by due time (equal times in arrival order); the
 * handler gets each item at its time, one after another.
 *
 * @example
 * ```ts
 * import { DelayQueue } from "./_delay_queue.ts";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const seen: string[] = [];
 * const queue = new DelayQueue<string>(async (item) => { seen.push(item); });
 * queue.add("late", 20);
 * queue.add("early", 5);
 * await new Promise((resolve) => setTimeout(resolve, 40));
 * deepStrictEqual(seen, ["early", "late"]);
 * ```
 */
export class DelayQueue<T> {
  #heap: Entry<T>[] = [];
  #handle: (item: T) => Promise<void>;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerDue = Infinity;
  #order = 0;
  #running = false;

  /**
   * Creates the queue.
   *
   * @param handle Called with each item at its time.
   */
  constructor(handle: (item: T) => Promise<void>) {
    this.#handle = handle;
  }

  /** Items waiting. */
  get size(): number {
    return this.#heap.length;
  }

  /**
   * Adds an item due after `milliseconds`.
   *
   * @param item The item.
   * @param milliseconds How long it waits.
   */
  add(item: T, milliseconds: number): void {
    this.#push({
      due: performance.now() + milliseconds,
      order: this.#order++,
      item,
    });
    this.#schedule();
  }

  /**
   * Hands over every item now, in order.
   *
   * @returns Once the handler is done with all of them.
   */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerDue = Infinity;
    while (this.#heap.length > 0) await this.#handle(this.#pop().item);
  }

  #schedule(): void {
    if (this.#running) return;
    const next = this.#heap[0];
    if (next === undefined || next.due >= this.#timerDue) return;
    clearTimeout(this.#timer);
    this.#timerDue = next.due;
    this.#timer = setTimeout(
      () => this.#run(),
      Math.max(0, next.due - performance.now()),
    );
  }

  async #run(): Promise<void> {
    this.#timer = undefined;
    this.#timerDue = Infinity;
    this.#running = true;
    try {
      while (this.#heap.length > 0 && this.#heap[0]!.due <= performance.now()) {
        await this.#handle(this.#pop().item);
      }
    } finally {
      this.#running = false;
      this.#schedule();
    }
  }

  #before(a: Entry<T>, b: Entry<T>): boolean {
    return a.due < b.due || (a.due === b.due && a.order < b.order);
  }

  #push(entry: Entry<T>): void {
    const heap = this.#heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  #pop(): Entry<T> {
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      while (true) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && this.#before(heap[left]!, heap[smallest]!)) {
          smallest = left;
        }
        if (
          right < heap.length && this.#before(heap[right]!, heap[smallest]!)
        ) smallest = right;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
        i = smallest;
      }
    }
    return top;
  }
}
