import { close, closeSync, fdatasync, openSync, readFileSync, unlinkSync, write, writeSync } from "node:fs";
import { mkdir, readFile, readdir, stat, unlink } from "node:fs/promises";
import { promisify } from "node:util";
import { join } from "node:path";
import type { Logger } from "../platform/log.js";

/**
 * The disk spool: events go here first, a sender ships them and deletes acknowledged segments.
 *
 * - Write-through (mode "write-through", the logger's default): append() writes the line to the active
 *   segment at once (one write(2) into the page cache), so an event appended before its response is sent
 *   survives a kill -9 of the logger. Every syncIntervalMs the segment is fdatasync'd; a node crash can
 *   lose what was written since (one interval).
 * - Fsync (mode "fsync"): append() writes as write-through does, and commit() resolves once every line
 *   appended so far is fdatasync'd. Group commit: callers that arrive while an fdatasync runs share the
 *   next one, so a loaded logger pays one fdatasync per group, not per event.
 * - Buffered (mode "buffered"): append() adds the line to an in-memory buffer and never touches the
 *   disk; every syncIntervalMs the buffer is written with one write, then fdatasync'd. A kill -9 loses at
 *   most the events appended since the last completed write (one interval, plus the write in flight).
 * - Whatever the mode, append() drops the event (fail open) when the spool is full, and returns false.
 * - Segments are append-only files seg-<seq>.ndjson; the sender seals the active one when it has
 *   nothing older to ship and the segment's first event is its linger old (see next()).
 * - Bounded: sealed + active + buffered bytes never exceed maxBytes; the buffer alone never exceeds
 *   maxBufferBytes (disk slower than traffic): both count drops instead of growing.
 */
export interface SpoolOptions {
  dir: string;
  maxBytes: number;
  syncIntervalMs: number;
  /** When an appended event reaches the disk (see above); default "buffered". */
  mode?: SpoolMode;
  /** The older switch: true is mode "write-through"; mode wins when both are set. */
  writeThrough?: boolean;
  /** Seal the active segment at this size. */
  segmentMaxBytes?: number;
  maxBufferBytes?: number;
  log: Logger;
  onDrop?: (reason: DropReason, bytes: number) => void;
}

export type SpoolMode = "write-through" | "fsync" | "buffered";

export type DropReason = "spool_full" | "buffer_full" | "spool_error";

export interface Segment {
  seq: number;
  path: string;
  bytes: number;
  /** When its first event was buffered (ms since epoch); for the age metric. */
  firstAt: number;
}

const SEGMENT_RE = /^seg-(\d{16})\.ndjson$/;
const LOCK = "spool.lock";
export const DEFAULT_SYNC_INTERVAL_MS = 100;

function segName(seq: number): string {
  return `seg-${String(seq).padStart(16, "0")}.ndjson`;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The segment being appended to: its open fd and the fdatasync chain behind its writes (each link
 * resolves true when that fdatasync succeeded).
 */
type ActiveSegment = Segment & { fd: number; sync: Promise<boolean>; dirty: boolean };

export class Spool {
  private readonly sealed: Segment[] = [];
  private active: ActiveSegment | undefined;
  private nextSeq: number;
  private buffer: string[] = [];
  private bufferBytes = 0;
  private bufferFirstAt = 0;
  private sealedBytes = 0;
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly segmentMaxBytes: number;
  private readonly maxBufferBytes: number;
  private lastError: string | null = null;
  private inflight: { bytes: number } | undefined;
  private waiters: (() => void)[] = [];
  private dropsSinceLog = 0;
  /** fsync mode: callers of commit() waiting for the next group's fdatasync. */
  private commitWaiters: ((ok: boolean) => void)[] = [];
  private committing = false;
  /** The fdatasync of each segment being sealed: a commit must wait for those too. */
  private readonly sealing = new Set<Promise<boolean>>();
  private lastDropLog = 0;
  /** Total events dropped since start, by reason. */
  readonly drops: Record<DropReason, number> = { spool_full: 0, buffer_full: 0, spool_error: 0 };

  private constructor(
    private readonly opts: SpoolOptions,
    existing: Segment[],
  ) {
    this.sealed.push(...existing);
    this.sealedBytes = existing.reduce((n, s) => n + s.bytes, 0);
    this.nextSeq = existing.length === 0 ? 1 : Math.max(...existing.map((s) => s.seq)) + 1;
    // the sender reads a segment whole: 1 MiB keeps that transient small next to the 96 MB RSS budget
    this.segmentMaxBytes = opts.segmentMaxBytes ?? 1024 * 1024;
    this.maxBufferBytes = opts.maxBufferBytes ?? Math.min(16 * 1024 * 1024, opts.maxBytes);
  }

  /** Opens (or takes over after a crash) the spool directory; segments left by a previous run are shipped first. */
  static async open(opts: SpoolOptions): Promise<Spool> {
    await mkdir(opts.dir, { recursive: true });
    takeLock(opts.dir);
    const existing: Segment[] = [];
    for (const name of (await readdir(opts.dir)).sort()) {
      const m = SEGMENT_RE.exec(name);
      if (!m) continue;
      const path = join(opts.dir, name);
      const st = await stat(path);
      if (st.size === 0) {
        await unlink(path);
        continue;
      }
      existing.push({ seq: Number(m[1]), path, bytes: st.size, firstAt: st.mtimeMs });
    }
    if (existing.length > 0) {
      opts.log.info(
        { segments: existing.length, bytes: existing.reduce((n, s) => n + s.bytes, 0) },
        "Recovered spool segments",
      );
    }
    const spool = new Spool(opts, existing);
    spool.timer = setInterval(() => void spool.flush(), opts.syncIntervalMs);
    spool.timer.unref();
    return spool;
  }

  /** Bytes held: sealed segments, the active segment and the unsynced buffer. */
  get bytes(): number {
    return this.sealedBytes + (this.active?.bytes ?? 0) + this.bufferBytes + (this.inflight?.bytes ?? 0);
  }

  get mode(): SpoolMode {
    return this.opts.mode ?? (this.opts.writeThrough === true ? "write-through" : "buffered");
  }

  /** True when append() writes each event to disk at once (write-through and fsync). */
  get isWriteThrough(): boolean {
    return this.mode !== "buffered";
  }

  /** Whether an event of about `bytes` would be taken now (the buffered logger's answer cannot wait to know). */
  hasRoom(bytes: number): boolean {
    if (this.closed || this.bytes + bytes > this.opts.maxBytes) return false;
    return this.isWriteThrough || this.bufferBytes + bytes <= this.maxBufferBytes;
  }

  get segments(): number {
    return this.sealed.length + (this.active !== undefined ? 1 : 0);
  }

  /** Seconds since the oldest event still held was spooled; 0 when empty. */
  oldestAgeSeconds(now: number): number {
    const first =
      this.sealed[0]?.firstAt ?? this.active?.firstAt ?? (this.bufferBytes > 0 ? this.bufferFirstAt : 0);
    return first === 0 ? 0 : Math.max(0, (now - first) / 1000);
  }

  /** The last disk error, or null: the readiness check reports it. */
  get error(): string | null {
    return this.lastError;
  }

  /**
   * Adds one event (a JSON line without newline). Never waits on the disk (write-through: one write into
   * the page cache); returns false when the event was dropped.
   */
  append(line: string): boolean {
    const size = Buffer.byteLength(line) + 1;
    if (this.closed) return this.drop("spool_error", size);
    if (this.bytes + size > this.opts.maxBytes) return this.drop("spool_full", size);
    if (this.isWriteThrough) return this.writeThrough(line, size);
    if (this.bufferBytes + size > this.maxBufferBytes) return this.drop("buffer_full", size);
    if (this.bufferBytes === 0) this.bufferFirstAt = Date.now();
    this.buffer.push(line);
    this.bufferBytes += size;
    return true;
  }

  private writeThrough(line: string, size: number): boolean {
    try {
      const opened = this.active === undefined;
      if (opened) this.active = this.openSegment(Date.now());
      const seg = this.active!;
      writeSync(seg.fd, line + "\n");
      seg.bytes += size;
      seg.dirty = true;
      this.lastError = null;
      const full = seg.bytes >= this.segmentMaxBytes;
      if (full)
        this.seal().then(
          () => this.wake(),
          (err: Error) => {
            this.lastError = err.message;
            this.opts.log.error({ err, segment: seg.path }, "Failed to close spool segment");
          },
        );
      // the sender waits for a segment's linger (see next()), not for every event
      if (opened) this.wake();
      return true;
    } catch (err) {
      this.lastError = (err as Error).message;
      this.opts.log.error({ err, dir: this.opts.dir }, "Failed to write spool segment");
      return this.drop("spool_error", size);
    }
  }

  private openSegment(firstAt: number): ActiveSegment {
    const seq = this.nextSeq++;
    const path = join(this.opts.dir, segName(seq));
    const fd = openSync(path, "a");
    return { seq, path, bytes: 0, firstAt, fd, sync: Promise.resolve(true), dirty: false };
  }

  /** fdatasync behind the writes, so a slow disk never holds back the next one; resolves true when it succeeded. */
  private syncSegment(seg: ActiveSegment): Promise<boolean> {
    seg.dirty = false;
    seg.sync = seg.sync
      .then(() => fdatasyncAsync(seg.fd))
      .then(
        () => true,
        (err: Error) => {
          this.lastError = err.message;
          this.opts.log.error({ err, segment: seg.path }, "Failed to fsync spool segment");
          return false;
        },
      );
    return seg.sync;
  }

  /**
   * Resolves true once every line appended so far is fdatasync'd (false when a write or sync failed).
   * Group commit: callers arriving while an fdatasync runs wait for the next one, which covers them all.
   */
  commit(): Promise<boolean> {
    return new Promise((resolve) => {
      this.commitWaiters.push(resolve);
      if (!this.committing) void this.runCommits();
    });
  }

  private async runCommits(): Promise<void> {
    this.committing = true;
    while (this.commitWaiters.length > 0) {
      const waiters = this.commitWaiters;
      this.commitWaiters = [];
      const a = this.active;
      const syncs = [...this.sealing];
      if (a !== undefined) syncs.push(a.dirty ? this.syncSegment(a) : a.sync);
      const ok = (await Promise.all(syncs)).every((s) => s);
      for (const w of waiters) w(ok);
    }
    this.committing = false;
  }

  private drop(reason: DropReason, bytes: number): false {
    this.drops[reason]++;
    this.opts.onDrop?.(reason, bytes);
    this.dropsSinceLog++;
    const now = Date.now();
    if (now - this.lastDropLog >= 10_000) {
      this.opts.log.warn(
        { reason, dropped: this.dropsSinceLog, spoolBytes: this.bytes, maxBytes: this.opts.maxBytes },
        "Dropped inference events, spool is full (requests keep flowing)",
      );
      this.lastDropLog = now;
      this.dropsSinceLog = 0;
    }
    return false;
  }

  /** Writes and fsyncs the buffer; concurrent calls share one flush. */
  flush(): Promise<void> {
    if (this.isWriteThrough) {
      const seg = this.active;
      if (seg?.dirty) this.syncSegment(seg);
      return seg ? seg.sync.then(() => undefined) : Promise.resolve();
    }
    if (this.flushing) return this.flushing;
    if (this.bufferBytes === 0) return Promise.resolve();
    this.flushing = this.doFlush().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async doFlush(): Promise<void> {
    const lines = this.buffer;
    const size = this.bufferBytes;
    const firstAt = this.bufferFirstAt;
    this.buffer = [];
    this.bufferBytes = 0;
    const data = Buffer.from(lines.join("\n") + "\n");
    // keep the bytes counted while they are in flight, so the limit holds
    const inflight = { bytes: size };
    this.inflight = inflight;
    try {
      if (this.active === undefined) this.active = this.openSegment(firstAt);
      const seg = this.active;
      await writeAsync(seg.fd, data);
      seg.bytes += data.length;
      this.inflight = undefined;
      this.lastError = null;
      // the write is in the page cache now (a killed process loses nothing of it); the fsync that makes it
      // survive a node crash runs on, so a slow disk never holds back the next interval's write
      this.syncSegment(seg);
      if (seg.bytes >= this.segmentMaxBytes) await this.seal();
      this.wake();
    } catch (err) {
      this.lastError = (err as Error).message;
      this.opts.log.error({ err, dir: this.opts.dir }, "Failed to write spool segment");
      for (let i = 0; i < lines.length; i++) this.drop("spool_error", 0);
    } finally {
      this.inflight = undefined;
    }
  }

  private async seal(): Promise<void> {
    const a = this.active;
    if (a === undefined) return;
    this.active = undefined;
    // Counted as sealed before the awaits: otherwise appends in between see the spool smaller than it is.
    this.sealedBytes += a.bytes;
    const synced = a.dirty ? this.syncSegment(a) : a.sync;
    this.sealing.add(synced);
    try {
      await synced;
    } finally {
      this.sealing.delete(synced);
    }
    await closeAsync(a.fd);
    this.sealed.push({ seq: a.seq, path: a.path, bytes: a.bytes, firstAt: a.firstAt });
  }

  /**
   * The oldest segment to ship, sealing the active one when nothing older waits and its first event is
   * at least minAgeMs old; undefined when there is nothing to ship yet. A sender that lingers ships
   * segments of many events (one open, fsync, read, POST and unlink each), not one per event.
   */
  async next(minAgeMs = 0): Promise<Segment | undefined> {
    const a = this.active;
    if (this.sealed.length === 0 && a !== undefined && Date.now() - a.firstAt >= minAgeMs) {
      while (this.flushing !== undefined) await this.flushing;
      // no await between the check and seal() detaching the active segment: a flush cannot slip in
      await this.seal();
    }
    return this.sealed[0];
  }

  /**
   * Resolves when a segment is started or sealed, when the active segment's first event becomes
   * lingerMs old, or after maxWaitMs.
   */
  waitForData(maxWaitMs: number, lingerMs = 0): Promise<void> {
    const a = this.active;
    const wait =
      a === undefined || this.sealed.length > 0
        ? maxWaitMs
        : Math.min(maxWaitMs, Math.max(1, a.firstAt + lingerMs - Date.now()));
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve();
      };
      const t = setTimeout(done, wait);
      this.waiters.push(done);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Deletes a shipped segment. */
  async ack(seg: Segment): Promise<void> {
    const i = this.sealed.findIndex((s) => s.seq === seg.seq);
    if (i < 0) return;
    await unlink(seg.path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOENT") throw err;
    });
    this.sealed.splice(i, 1);
    this.sealedBytes -= seg.bytes;
  }

  /** Events held (sealed and active segments, buffer): what a shutdown leaves for the next start. */
  async pendingEvents(): Promise<number> {
    let n = this.buffer.length;
    const paths = this.sealed.map((s) => s.path);
    if (this.active !== undefined) paths.push(this.active.path);
    for (const path of paths) {
      const data = await readFile(path).catch(() => Buffer.alloc(0));
      for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, i + 1)) n++;
    }
    return n;
  }

  /** Flushes what is buffered and closes; segments stay on disk for the next run. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
    this.closed = true;
    if (this.active) await this.seal();
    releaseLock(this.opts.dir);
    this.wake();
  }
}

function writeAsync(fd: number, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => write(fd, data, (err) => (err ? reject(err) : resolve())));
}
const fdatasyncAsync = promisify(fdatasync);
const closeAsync = promisify(close);

/** Reads a sealed segment into lines; a torn last line (a kill during a write) is dropped. */
export async function readSegmentLines(path: string): Promise<{ lines: string[]; torn: boolean }> {
  const text = await readFile(path, "utf8");
  const lines = text.split("\n");
  const last = lines.pop() ?? "";
  return { lines: lines.filter((l) => l !== ""), torn: last !== "" };
}

/** One logger per spool dir; a lock left by a dead process (kill -9) is taken over. */
function takeLock(dir: string): void {
  const path = join(dir, LOCK);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const pid = Number(readFileSync(path, "utf8").trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) {
        throw new Error(`spool dir ${dir} is in use by process ${pid}; give each logger its own --spool-dir`);
      }
      // stale lock: remove and retry once
      try {
        const fd = openSync(path, "w");
        writeSync(fd, String(process.pid));
        closeSync(fd);
        return;
      } catch {
        continue;
      }
    }
  }
}

function releaseLock(dir: string): void {
  try {
    const path = join(dir, LOCK);
    if (readFileSync(path, "utf8").trim() === String(process.pid)) unlinkSync(path);
  } catch {
    // already gone
  }
}
