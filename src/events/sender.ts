import type { Logger } from "../platform/log.js";
import type { EventMetrics } from "./metrics.js";
import { RejectedBatchError, type Sink } from "./sink.js";
import { readSegmentLines, type Spool } from "./spool.js";

export interface SenderOptions {
  batchMaxEvents?: number;
  batchMaxBytes?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** How long an idle sender waits for new data before looking again. */
  pollMs?: number;
  /** The active segment is shipped once its first event is this old (or it is full). */
  lingerMs?: number;
}

/** Events reach the sink within about this; meanwhile they gather into one segment and one batch. */
export const DEFAULT_LINGER_MS = 200;

/** While draining on shutdown, the longest wait between attempts at a failing sink. */
const DRAIN_RETRY_MS = 250;

/** Exponential backoff with full jitter, capped: attempt 0 -> up to initial, then doubling. */
export function backoffMs(attempt: number, initialMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Splits lines into batches bounded by count and bytes (a single huge line is its own batch). */
export function batches(lines: string[], maxEvents: number, maxBytes: number): string[][] {
  const out: string[][] = [];
  let cur: string[] = [];
  let bytes = 0;
  for (const l of lines) {
    const size = l.length + 1;
    if (cur.length > 0 && (cur.length >= maxEvents || bytes + size > maxBytes)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(l);
    bytes += size;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/**
 * Ships spool segments to the sink, oldest first, and deletes each one once every batch of it was
 * acknowledged: at-least-once, the receiver de-duplicates by event id. A failing sink is retried with
 * backoff for as long as it takes; the spool bounds what waits meanwhile.
 */
export class Sender {
  private stopped = false;
  /** Shutting down: a failing sink is retried at a short interval, so the drain deadline is used in full. */
  private draining = false;
  private running: Promise<void> | undefined;
  private wakeSleep: (() => void) | undefined;

  constructor(
    private readonly spool: Spool,
    private readonly sink: Sink,
    private readonly log: Logger,
    private readonly metrics: EventMetrics,
    private readonly opts: SenderOptions = {},
  ) {}

  start(): void {
    this.running ??= this.loop();
  }

  /** Stops after the current attempt; unshipped segments stay on disk for the next run. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeSleep?.();
    await this.running;
  }

  /** Ships everything spooled so far (used on shutdown); false when the deadline passed first. */
  async drain(deadlineMs: number): Promise<boolean> {
    const end = Date.now() + deadlineMs;
    this.draining = true;
    // a sender asleep in a long backoff retries now
    this.wakeSleep?.();
    await this.spool.flush();
    for (;;) {
      if ((await this.spool.next()) === undefined && this.spool.bytes === 0) return true;
      if (Date.now() >= end) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.wakeSleep = undefined;
        resolve();
      };
      const t = setTimeout(done, ms);
      this.wakeSleep = done;
    });
  }

  private async loop(): Promise<void> {
    const maxEvents = this.opts.batchMaxEvents ?? 500;
    const maxBytes = this.opts.batchMaxBytes ?? 1024 * 1024;
    const initial = this.opts.backoffInitialMs ?? 200;
    const max = this.opts.backoffMaxMs ?? 10_000;
    let failures = 0;
    let lastFailLog = 0;
    const linger = this.opts.lingerMs ?? DEFAULT_LINGER_MS;
    while (!this.stopped) {
      const seg = await this.spool.next(this.draining ? 0 : linger);
      if (seg === undefined) {
        await this.spool.waitForData(this.opts.pollMs ?? 250, linger);
        continue;
      }
      let lines: string[];
      try {
        const read = await readSegmentLines(seg.path);
        lines = read.lines;
        if (read.torn) this.log.warn({ segment: seg.path }, "Skipped torn last line of spool segment");
      } catch (err) {
        this.log.error({ err, segment: seg.path }, "Failed to read spool segment, skipping it");
        await this.spool.ack(seg).catch(() => undefined);
        continue;
      }
      for (const batch of batches(lines, maxEvents, maxBytes)) {
        while (!this.stopped) {
          try {
            await this.sink.send(batch);
            this.metrics.sinkEvents.inc({ sink: this.sink.name, result: "ok" }, batch.length);
            if (failures > 0) this.log.info({ sink: this.sink.name, failures }, "Reconnected to sink");
            failures = 0;
            break;
          } catch (err) {
            if (err instanceof RejectedBatchError) {
              this.metrics.sinkEvents.inc({ sink: this.sink.name, result: "rejected" }, batch.length);
              this.log.error({ err, events: batch.length }, "Sink rejected a batch, dropped it");
              break;
            }
            this.metrics.sinkEvents.inc({ sink: this.sink.name, result: "error" }, batch.length);
            this.metrics.sinkRetries.inc({ sink: this.sink.name });
            const now = Date.now();
            if (failures === 0 || now - lastFailLog > 30_000) {
              this.log.warn(
                { err: (err as Error).message, sink: this.sink.name, spoolBytes: this.spool.bytes },
                "Failed to ship events, retrying with backoff",
              );
              lastFailLog = now;
            }
            const wait = backoffMs(failures++, initial, max, Math.random);
            await this.sleep(this.draining ? Math.min(wait, DRAIN_RETRY_MS) : wait);
          }
        }
        if (this.stopped) return;
      }
      await this.spool.ack(seg);
    }
  }
}
