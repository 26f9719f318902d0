import { readdir, rm, rmdir } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../platform/log.js";
import { ModelshipEvent } from "../events/schema.js";
import { eventKeys, partitionKey, partitionOf, safeSegment, type Partition } from "../events/partition.js";
import { PartitionedWriter } from "../events/partitioned-writer.js";
import { segmentFiles, segmentLines, subdirs } from "./read.js";
import { REPORTS_DIR } from "./reports.js";
import { REVIEW_DIR } from "./review-queue.js";

export interface IngestResult {
  accepted: number;
  duplicates: number;
  invalid: number;
  /** Events older than the retention period: acknowledged, not stored. */
  expired: number;
  /** The first few validation errors, for the sender's log. */
  errors: string[];
}

export interface EventStoreOptions {
  dir: string;
  gzip?: boolean;
  log: Logger;
  /** How many partitions' id sets stay in memory; an evicted one is re-read from disk when touched. */
  dedupePartitions?: number;
  segmentMaxBytes?: number;
  segmentMaxAgeMs?: number;
  /** Events older than this are not stored, and older partitions are deleted by deleteExpired(). */
  retentionMs?: number;
  now?: () => number;
  /** Called with each segment's final path once it is closed (the Parquet archive's hook). */
  onSegmentClosed?: (path: string) => void;
  /** Called with the events of each ingest that were stored (not duplicates), once durable (the review queue's hook). */
  onStored?: (events: ModelshipEvent[]) => Promise<void>;
}

/** What one retention pass deleted. */
export interface RetentionResult {
  partitions: number;
  segments: number;
}

/** The start of a partition's hour (ms), from its directory names; NaN when they are not a date and hour. */
export function partitionStart(date: string, hour: string): number {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || !/^\d{2}$/.test(hour)) return NaN;
  return Date.parse(`${date}T${hour}:00:00Z`);
}

/**
 * The collector's store: validated events, de-duplicated by id within their partition (an event always
 * maps to the same partition, by its own time), written durably before ingest() resolves. Ingests run
 * one at a time so two copies of one event in concurrent batches cannot both be written.
 */
export class EventStore {
  private readonly writer: PartitionedWriter;
  private readonly ids = new Map<string, Set<string>>();
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: EventStoreOptions) {
    this.writer = new PartitionedWriter({
      dir: opts.dir,
      gzip: opts.gzip ?? false,
      log: opts.log,
      ...(opts.segmentMaxBytes !== undefined ? { segmentMaxBytes: opts.segmentMaxBytes } : {}),
      ...(opts.segmentMaxAgeMs !== undefined ? { segmentMaxAgeMs: opts.segmentMaxAgeMs } : {}),
      ...(opts.onSegmentClosed !== undefined ? { onClosed: opts.onSegmentClosed } : {}),
    });
  }

  get bytesWritten(): number {
    return this.writer.bytesWritten;
  }

  /** Runs fn after every earlier ingest or retention pass: the store has one writer. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private cutoff(): number {
    const retention = this.opts.retentionMs;
    return retention === undefined ? -Infinity : (this.opts.now ?? Date.now)() - retention;
  }

  ingest(lines: string[]): Promise<IngestResult> {
    return this.serial(() => this.doIngest(lines));
  }

  private async doIngest(lines: string[]): Promise<IngestResult> {
    const result: IngestResult = { accepted: 0, duplicates: 0, invalid: 0, expired: 0, errors: [] };
    const cutoff = this.cutoff();
    const items: { partition: Partition; line: string; id: string; key: string; event: ModelshipEvent }[] =
      [];
    const batchIds = new Set<string>();
    for (const line of lines) {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        this.invalid(result, "line is not JSON");
        continue;
      }
      const parsed = ModelshipEvent.safeParse(value);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        this.invalid(result, `${issue?.path.join(".") || "event"}: ${issue?.message}`);
        continue;
      }
      const e = parsed.data;
      if (Date.parse(e.time) < cutoff) {
        result.expired++;
        continue;
      }
      const partition = partitionOf(e.subject, e.time);
      const key = partitionKey(partition);
      const seen = await this.idsOf(key, partition);
      if (seen.has(e.id) || batchIds.has(`${key}\n${e.id}`)) {
        result.duplicates++;
        continue;
      }
      batchIds.add(`${key}\n${e.id}`);
      items.push({ partition, line, id: e.id, key, event: e });
    }
    if (items.length > 0) {
      await this.writer.write(items);
      for (const it of items) this.ids.get(it.key)?.add(it.id);
      await this.opts.onStored?.(items.map((it) => it.event));
    }
    result.accepted = items.length;
    return result;
  }

  private invalid(result: IngestResult, message: string): void {
    result.invalid++;
    if (result.errors.length < 5) result.errors.push(message);
  }

  /** The ids already stored in a partition, read from its files on first touch (also after a restart). */
  private async idsOf(key: string, p: Partition): Promise<Set<string>> {
    const cached = this.ids.get(key);
    if (cached) {
      // refresh LRU position
      this.ids.delete(key);
      this.ids.set(key, cached);
      return cached;
    }
    const set = new Set<string>();
    for (const file of await segmentFiles(join(this.opts.dir, p.model, p.date, p.hour))) {
      for await (const line of segmentLines(file)) {
        const k = eventKeys(line);
        if (k) set.add(k.id);
      }
    }
    this.ids.set(key, set);
    const max = this.opts.dedupePartitions ?? 48;
    while (this.ids.size > max) {
      const oldest = this.ids.keys().next().value as string;
      this.ids.delete(oldest);
    }
    return set;
  }

  /**
   * Deletes every partition whose hour ended before now - retention: whole directories, after closing
   * any segment still open in them. Runs between ingests, so no write lands in a partition being deleted.
   */
  deleteExpired(): Promise<RetentionResult> {
    return this.serial(async () => {
      const cutoff = this.cutoff();
      const result: RetentionResult = { partitions: 0, segments: 0 };
      for (const model of await this.models()) {
        const modelDir = join(this.opts.dir, model);
        for (const date of await subdirs(modelDir)) {
          const expired = (await subdirs(join(modelDir, date))).filter(
            (hour) => partitionStart(date, hour) + 3_600_000 <= cutoff,
          );
          if (expired.length === 0) continue;
          const keys = new Set(expired.map((hour) => partitionKey({ model, date, hour })));
          await this.writer.forget(keys);
          for (const hour of expired) {
            const dir = join(modelDir, date, hour);
            result.segments += (await readdir(dir)).filter((n) => /\.ndjson(\.gz)?$/.test(n)).length;
            await rm(dir, { recursive: true, force: true });
            result.partitions++;
          }
          for (const k of keys) this.ids.delete(k);
          await removeIfEmpty(join(modelDir, date));
        }
        await removeIfEmpty(modelDir);
      }
      return result;
    });
  }

  /** Models with stored events. */
  async models(): Promise<string[]> {
    return (await subdirs(this.opts.dir)).filter((d) => d !== REPORTS_DIR && d !== REVIEW_DIR);
  }

  /**
   * Streams the stored lines of a model whose event time is in [since, until), partition by partition,
   * optionally only one event type. Lines are yielded as they were received.
   */
  async *read(model: string, since: Date, until: Date, type?: string): AsyncGenerator<string> {
    const root = join(this.opts.dir, safeSegment(model));
    const fromHour = Math.floor(since.getTime() / 3_600_000);
    const toHour = Math.floor(until.getTime() / 3_600_000);
    for (const date of await subdirs(root)) {
      const day = Date.parse(`${date}T00:00:00Z`) / 3_600_000;
      if (!(day + 23 >= fromHour && day <= toHour)) continue;
      for (const hour of await subdirs(join(root, date))) {
        const h = Math.floor(Date.parse(`${date}T${hour}:00:00Z`) / 3_600_000);
        if (!(h >= fromHour && h <= toHour)) continue;
        for (const file of await segmentFiles(join(root, date, hour))) {
          for await (const line of segmentLines(file)) {
            let e: { time?: unknown; type?: unknown };
            try {
              e = JSON.parse(line) as typeof e;
            } catch {
              continue;
            }
            const t = typeof e.time === "string" ? Date.parse(e.time) : NaN;
            if (!(t >= since.getTime() && t < until.getTime())) continue;
            if (type !== undefined && e.type !== type) continue;
            yield line;
          }
        }
      }
    }
  }

  close(): Promise<void> {
    return this.writer.close();
  }
}

async function removeIfEmpty(dir: string): Promise<void> {
  try {
    await rmdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "ENOTEMPTY" && code !== "EEXIST" && code !== "ENOENT") throw err;
  }
}
