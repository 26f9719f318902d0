// The collector's Parquet archive: every closed NDJSON segment is also written as one Parquet file
// (src/events/parquet-archive.ts) under <archive>/model=/date=/hour=/, one at a time, converted on a
// worker thread of its own (archive-worker.ts) so the event loop keeps taking events meanwhile.
// A marker file beside the segment (<stem>.archived) records that it is done, so a restart archives
// exactly the segments that were not, and a crash mid-write leaves no partial file (rename or one PUT).
// With mode "move" the NDJSON segment is deleted once archived and its hour ended over an hour ago; a
// retention pass deletes archive partitions by age or count.
import { readdir, rm, stat, writeFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import type { Worker } from "node:worker_threads";
import { Counter, Gauge, type Registry } from "prom-client";
import type { Logger } from "../platform/log.js";
import type { Partition } from "../events/partition.js";
import {
  archiveKey,
  expiredPartitions,
  hourStart,
  parseArchiveKey,
  segmentStem,
  type ArchiveRetention,
} from "../events/parquet-layout.js";
import type { ArchiveTarget } from "../events/archive-target.js";
import type { SegmentConversion } from "../events/parquet-archive.js";
import { startWorker } from "../platform/worker-thread.js";
import type { ArchiveWorkerInit, ConvertReply, ConvertRequest } from "./archive-worker.js";
import { segmentFiles, subdirs } from "./read.js";
import { REPORTS_DIR } from "./reports.js";

export type ArchiveMode = "copy" | "move";

/** In move mode a segment stays until this long after its hour ended (late retries are still de-duplicated). */
export const MOVE_AFTER_MS = 3_600_000;
const MARKER = ".archived";

export interface CollectorArchiveOptions {
  /** The collector's --data-dir. */
  dataDir: string;
  target: ArchiveTarget;
  mode: ArchiveMode;
  retention: ArchiveRetention;
  /** How often the move and retention pass runs. */
  intervalMs: number;
  registry: Registry;
  log: Logger;
  now?: () => number;
  /** DuckDB's memory cap for a conversion (it spills beyond it); default 256MB. */
  memoryLimit?: string;
}

/** A segment's partition from its path under the data directory. */
export function segmentPartition(dataDir: string, segment: string): Partition | undefined {
  // resolved: the store joins paths (./data/x becomes data/x), the flag may be relative
  const rel = relative(resolve(dataDir), resolve(segment));
  const m = /^([^/.][^/]*)\/(\d{4}-\d{2}-\d{2})\/(\d{2})\/[^/]+\.ndjson(\.gz)?$/.exec(rel);
  if (!m) return undefined;
  return { model: m[1]!, date: m[2]!, hour: m[3]! };
}

function markerOf(segment: string): string {
  return join(segment, "..", segmentStem(segment) + MARKER);
}

export class CollectorArchive {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private draining: Promise<void> | undefined;
  private pass: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly segments: Counter<"result">;
  private readonly events: Counter;
  private readonly bytes: Counter;
  private readonly pending: Gauge;
  private readonly deleted: Counter<"what">;

  private constructor(
    private readonly o: CollectorArchiveOptions,
    private readonly converter: Converter,
  ) {
    const registers = [o.registry];
    this.segments = new Counter({
      name: "modelship_collector_archive_segments_total",
      help: "Closed segments written to the Parquet archive (result=ok) or that failed and will be retried (result=error).",
      labelNames: ["result"],
      registers,
    });
    this.events = new Counter({
      name: "modelship_collector_archive_events_total",
      help: "Events written to the Parquet archive.",
      registers,
    });
    this.bytes = new Counter({
      name: "modelship_collector_archive_bytes_total",
      help: "Parquet bytes written to the archive.",
      registers,
    });
    this.pending = new Gauge({
      name: "modelship_collector_archive_pending_segments",
      help: "Closed segments waiting to be archived.",
      registers,
    });
    this.deleted = new Counter({
      name: "modelship_collector_archive_deleted_total",
      help: "Archive files deleted by --archive-retention-* (what=parquet) and NDJSON segments deleted after archiving (what=ndjson, --archive-mode move).",
      labelNames: ["what"],
      registers,
    });
  }

  static async open(o: CollectorArchiveOptions): Promise<CollectorArchive> {
    // only the worker loads DuckDB's native module, and only a collector with --archive starts one
    return new CollectorArchive(o, await Converter.start(o.memoryLimit ?? "256MB"));
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  /**
   * Queues every existing segment not archived yet (all are closed: call this before the store opens new
   * ones), then runs the move and retention pass now and every interval.
   */
  async start(): Promise<void> {
    for (const segment of await this.unarchived()) this.segmentClosed(segment);
    void this.runOnce();
    this.timer = setInterval(() => void this.runOnce(), this.o.intervalMs);
    this.timer.unref();
  }

  /** The store's hook: a segment was rotated and will not be written again. */
  segmentClosed(segment: string): void {
    if (this.stopped || this.queued.has(segment)) return;
    this.queued.add(segment);
    this.queue.push(segment);
    this.pending.set(this.queue.length);
    this.draining ??= this.drain().finally(() => (this.draining = undefined));
  }

  /** Resolves when every queued segment has been tried once. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    for (;;) {
      const segment = this.queue.shift();
      this.pending.set(this.queue.length);
      if (segment === undefined || this.stopped) return;
      try {
        await this.archive(segment);
      } catch (err) {
        this.segments.inc({ result: "error" });
        this.o.log.error({ err, segment, archive: this.o.target.location }, "Failed to archive segment");
      } finally {
        this.queued.delete(segment);
      }
    }
  }

  private async archive(segment: string): Promise<void> {
    const partition = segmentPartition(this.o.dataDir, segment);
    if (!partition) return;
    // a plain segment rotated to .gz meanwhile is read from there (segmentLines does)
    const size = (await sizeOf(segment)) ?? (await sizeOf(`${segment}.gz`));
    if (size === undefined) return;
    if (size === 0) {
      await writeFile(markerOf(segment), "empty\n");
      return;
    }
    const key = archiveKey(partition, segment);
    const started = Date.now();
    const out: { conversion?: SegmentConversion } = {};
    let stored;
    try {
      stored = await this.o.target.store(key, async (file) => {
        out.conversion = await this.converter.convert(segment, file);
      });
    } catch (err) {
      // deleted by retention between closing and archiving: nothing to do
      if (!(await exists(segment)) && !(await exists(`${segment}.gz`))) return;
      throw err;
    }
    await writeFile(markerOf(segment), key + "\n");
    const c = out.conversion!;
    this.segments.inc({ result: "ok" });
    this.events.inc(c.events);
    this.bytes.inc(stored.bytes);
    this.o.log.info(
      { segment, key, events: c.events, rows: c.rows, bytes: stored.bytes, ms: Date.now() - started },
      "Archived segment as Parquet",
    );
    if (c.skipped > 0)
      this.o.log.warn({ segment, skipped: c.skipped }, "Left unreadable lines out of the archive");
  }

  /** Segments under the data directory without an archived marker, oldest partition first. */
  private async unarchived(): Promise<string[]> {
    const out: string[] = [];
    for (const { dir } of await this.partitionDirs()) {
      const names = new Set(await readdir(dir).catch(() => [] as string[]));
      for (const f of await segmentFiles(dir)) if (!names.has(segmentStem(f) + MARKER)) out.push(f);
    }
    return out;
  }

  private async partitionDirs(): Promise<{ dir: string; partition: Partition }[]> {
    const out: { dir: string; partition: Partition }[] = [];
    for (const model of await subdirs(this.o.dataDir)) {
      if (model === REPORTS_DIR) continue;
      for (const date of await subdirs(join(this.o.dataDir, model)))
        for (const hour of await subdirs(join(this.o.dataDir, model, date)))
          out.push({ dir: join(this.o.dataDir, model, date, hour), partition: { model, date, hour } });
    }
    return out;
  }

  /** One move and retention pass; a pass still running is awaited instead of starting another. */
  runOnce(): Promise<void> {
    this.pass ??= this.doPass().finally(() => (this.pass = undefined));
    return this.pass;
  }

  private async doPass(): Promise<void> {
    try {
      if (this.o.mode === "move") await this.moveArchived();
      await this.applyRetention();
    } catch (err) {
      this.o.log.error({ err, archive: this.o.target.location }, "Failed to apply archive retention");
    }
  }

  /** Deletes archived NDJSON segments whose hour ended more than MOVE_AFTER_MS ago. */
  private async moveArchived(): Promise<void> {
    const cutoff = this.now() - MOVE_AFTER_MS;
    let deleted = 0;
    for (const { dir, partition } of await this.partitionDirs()) {
      if (hourStart(partition) + 3_600_000 > cutoff) continue;
      const names = new Set(await readdir(dir).catch(() => [] as string[]));
      for (const f of await segmentFiles(dir)) {
        const marker = segmentStem(f) + MARKER;
        if (!names.has(marker) || this.queued.has(f)) continue;
        await rm(f, { force: true });
        await rm(join(dir, marker), { force: true });
        deleted++;
      }
    }
    if (deleted > 0) {
      this.deleted.inc({ what: "ndjson" }, deleted);
      this.o.log.info({ segments: deleted }, "Deleted archived NDJSON segments");
    }
  }

  private async applyRetention(): Promise<void> {
    const r = this.o.retention;
    if (r.maxAgeMs === undefined && r.maxPartitions === undefined) return;
    const byPartition = new Map<string, { model: string; date: string; hour: string; keys: string[] }>();
    for (const key of await this.o.target.list()) {
      const p = parseArchiveKey(key);
      if (!p) continue;
      const id = `${p.model}/${p.date}/${p.hour}`;
      const entry = byPartition.get(id) ?? { model: p.model, date: p.date, hour: p.hour, keys: [] };
      entry.keys.push(key);
      byPartition.set(id, entry);
    }
    const expired = expiredPartitions([...byPartition.values()], r, this.now());
    const keys = expired.flatMap((p) => p.keys);
    if (keys.length === 0) return;
    await this.o.target.remove(keys);
    this.deleted.inc({ what: "parquet" }, keys.length);
    this.o.log.info(
      { partitions: expired.length, files: keys.length, archive: this.o.target.location },
      "Deleted expired archive partitions",
    );
  }

  /** Finishes the segment being archived (the rest are archived after the next start) and closes DuckDB. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.draining;
    await this.pass;
    await this.converter.close();
  }
}

async function exists(path: string): Promise<boolean> {
  return (await sizeOf(path)) !== undefined;
}

/** A file's size; undefined when it is gone. */
async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}

const fromSources = import.meta.url.endsWith(".ts");
const workerUrl = new URL(fromSources ? "./archive-worker.ts" : "./archive-worker.js", import.meta.url);

/** The conversion thread: one request at a time in order; a crash fails what is in flight, and is restarted. */
class Converter {
  private readonly pending = new Map<
    number,
    { resolve: (c: SegmentConversion) => void; reject: (e: Error) => void }
  >();
  private nextId = 1;
  private closing = false;
  private closed: Promise<void> | undefined;

  private constructor(
    private worker: Worker,
    private readonly init: ArchiveWorkerInit,
  ) {
    this.attach(worker);
  }

  static async start(memoryLimit: string): Promise<Converter> {
    const init: ArchiveWorkerInit = { memoryLimit };
    const c = new Converter(startWorker(workerUrl, { name: "archive", workerData: init }), init);
    await c.ready();
    return c;
  }

  private ready(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onMessage = (m: ConvertReply) => {
        if (m.id !== 0) return;
        this.worker.off("message", onMessage);
        if ("fatal" in m) reject(new Error(`the archive's DuckDB did not open: ${m.fatal}`));
        else resolve();
      };
      this.worker.on("message", onMessage);
      this.worker.once("error", reject);
    });
  }

  private attach(worker: Worker): void {
    // the collector's servers keep the process alive; a thread converting nothing should not
    worker.unref();
    worker.on("message", (m: ConvertReply) => {
      if (m.id === 0) return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if ("error" in m) p.reject(new Error(m.error));
      else if ("conversion" in m) p.resolve(m.conversion);
    });
    worker.on("exit", (code) => {
      const err = new Error(`the archive's conversion thread exited (code ${code})`);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      // the failed segment is archived at the next start (no marker); a fresh thread takes the next ones
      if (!this.closing) {
        this.worker = startWorker(workerUrl, { name: "archive", workerData: this.init });
        this.attach(this.worker);
      }
    });
  }

  convert(segment: string, file: string): Promise<SegmentConversion> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, segment, file } satisfies ConvertRequest);
    });
  }

  /** Idempotent: a second stop of the archive waits for the same exit. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.closing = true;
      const exited = new Promise((r) => this.worker.once("exit", r));
      this.worker.postMessage({ close: true });
      const timer = setTimeout(() => void this.worker.terminate(), 10_000);
      await exited;
      clearTimeout(timer);
    })();
    return this.closed;
  }
}
