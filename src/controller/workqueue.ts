import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export interface WorkQueueOptions {
  baseDelayMs: number;
  maxDelayMs: number;
  registry?: Registry;
  /** Injected for tests. */
  now?: () => number;
}

/**
 * A work queue keyed by object key, as in client-go: a key is queued at most once however many events
 * arrive, is processed by one worker at a time (events during processing re-queue it once afterwards),
 * failed keys back off exponentially per key, and addAfter schedules a later visit.
 */
export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly addedAt = new Map<string, number>();
  private waiters: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;
  private readonly now: () => number;
  private readonly m?: {
    depth: Gauge;
    adds: Counter;
    retries: Counter;
    wait: Histogram;
  };

  constructor(private readonly o: WorkQueueOptions) {
    this.now = o.now ?? Date.now;
    if (o.registry) {
      const registers = [o.registry];
      this.m = {
        depth: new Gauge({
          name: "modelship_workqueue_depth",
          help: "Keys waiting to be reconciled",
          registers,
        }),
        adds: new Counter({
          name: "modelship_workqueue_adds_total",
          help: "Keys added to the work queue",
          registers,
        }),
        retries: new Counter({
          name: "modelship_workqueue_retries_total",
          help: "Keys re-queued after an error",
          registers,
        }),
        wait: new Histogram({
          name: "modelship_workqueue_wait_seconds",
          help: "Time a key waited in the queue before a worker took it",
          buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60],
          registers,
        }),
      };
    }
  }

  get length(): number {
    return this.queue.length;
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.m?.adds.inc();
    this.dirty.add(key);
    if (this.processing.has(key)) return; // done() re-queues it
    this.push(key);
  }

  private push(key: string): void {
    this.addedAt.set(key, this.now());
    const w = this.waiters.shift();
    if (w) {
      this.take(key);
      w(key);
      return;
    }
    this.queue.push(key);
    this.m?.depth.set(this.queue.length);
  }

  /** Visit key after delayMs, unless an earlier visit is already scheduled. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    const at = this.now() + delayMs;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  /** Re-queue after a failure with per-key exponential backoff. */
  addRateLimited(key: string): number {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    const delay = Math.min(this.o.maxDelayMs, this.o.baseDelayMs * 2 ** (n - 1));
    this.m?.retries.inc();
    this.addAfter(key, delay);
    return delay;
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  private take(key: string): void {
    this.dirty.delete(key);
    this.processing.add(key);
    const t = this.addedAt.get(key);
    if (t !== undefined) this.m?.wait.observe((this.now() - t) / 1000);
  }

  /** Waits for the next key; undefined once shut down. */
  get(): Promise<string | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.queue.shift();
    if (key !== undefined) {
      this.m?.depth.set(this.queue.length);
      this.take(key);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) this.push(key);
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const w of this.waiters) w(undefined);
    this.waiters = [];
  }

  get busy(): number {
    return this.processing.size;
  }
}
