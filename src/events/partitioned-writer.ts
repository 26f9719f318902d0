import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, unlink, writeFile, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzip as gzipCb } from "node:zlib";
import type { Logger } from "../platform/log.js";
import { partitionKey, type Partition } from "./partition.js";

const gzip = promisify(gzipCb);

/**
 * Append-only NDJSON segments under DIR/<model>/<YYYY-MM-DD>/<HH>/. write() resolves only after the
 * bytes are fsynced. A segment is rotated at segmentMaxBytes or segmentMaxAgeMs (and when idle); with
 * gzip, rotation compresses it to a temp file, fsyncs, renames it to *.ndjson.gz and then removes the
 * plain file, so a reader sees every line exactly once at any moment (it prefers the plain file while
 * both exist).
 */
export interface PartitionedWriterOptions {
  dir: string;
  gzip?: boolean;
  segmentMaxBytes?: number;
  segmentMaxAgeMs?: number;
  idleCloseMs?: number;
  log: Logger;
  /** Called with a segment's final path (.ndjson or .ndjson.gz) once it is closed for good. */
  onClosed?: (path: string) => void;
}

interface Active {
  path: string;
  fh: FileHandle;
  bytes: number;
  openedAt: number;
  lastWriteAt: number;
}

export class PartitionedWriter {
  private readonly active = new Map<string, Active>();
  private chain: Promise<unknown> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  private seq = 0;
  private readonly tag = `${process.pid}-${randomBytes(3).toString("hex")}`;
  /** Bytes written since start (before compression). */
  bytesWritten = 0;

  constructor(private readonly opts: PartitionedWriterOptions) {
    this.timer = setInterval(() => void this.serial(() => this.rotateDue(Date.now())), 5_000);
    this.timer.unref();
  }

  /** Runs fn after every earlier write/rotation: one writer, no interleaved appends. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Appends the lines to their partitions and fsyncs them all before resolving. */
  write(items: { partition: Partition; line: string }[]): Promise<void> {
    return this.serial(async () => {
      const groups = new Map<string, { partition: Partition; lines: string[] }>();
      for (const it of items) {
        const key = partitionKey(it.partition);
        let g = groups.get(key);
        if (!g) groups.set(key, (g = { partition: it.partition, lines: [] }));
        g.lines.push(it.line);
      }
      const touched: Active[] = [];
      for (const [key, g] of groups) {
        const seg = await this.segment(key, g.partition);
        const data = Buffer.from(g.lines.join("\n") + "\n");
        await seg.fh.write(data);
        seg.bytes += data.length;
        seg.lastWriteAt = Date.now();
        this.bytesWritten += data.length;
        touched.push(seg);
      }
      await Promise.all(touched.map((s) => s.fh.datasync()));
      const max = this.opts.segmentMaxBytes ?? 64 * 1024 * 1024;
      for (const [key, seg] of this.active) if (seg.bytes >= max) await this.rotate(key);
    });
  }

  private async segment(key: string, p: Partition): Promise<Active> {
    const existing = this.active.get(key);
    if (existing) return existing;
    const dir = join(this.opts.dir, p.model, p.date, p.hour);
    await mkdir(dir, { recursive: true });
    const now = Date.now();
    const path = join(dir, `${now}-${this.tag}-${this.seq++}.ndjson`);
    const fh = await open(path, "a");
    // the new file's directory entry must survive a crash too
    await syncDir(dir);
    const seg: Active = { path, fh, bytes: 0, openedAt: now, lastWriteAt: now };
    this.active.set(key, seg);
    return seg;
  }

  private async rotateDue(now: number): Promise<void> {
    const maxAge = this.opts.segmentMaxAgeMs ?? 15 * 60_000;
    const idle = this.opts.idleCloseMs ?? 60_000;
    for (const [key, seg] of [...this.active]) {
      if (now - seg.openedAt >= maxAge || now - seg.lastWriteAt >= idle) await this.rotate(key);
    }
  }

  private async rotate(key: string): Promise<void> {
    const seg = this.active.get(key);
    if (!seg) return;
    this.active.delete(key);
    await seg.fh.close();
    if (!this.opts.gzip || seg.bytes === 0) {
      if (seg.bytes > 0) this.opts.onClosed?.(seg.path);
      return;
    }
    let final = seg.path;
    try {
      const gz = await gzip(await readFile(seg.path));
      const tmp = `${seg.path}.gz.tmp`;
      await writeFile(tmp, gz);
      const fh = await open(tmp, "r+");
      await fh.datasync();
      await fh.close();
      await rename(tmp, `${seg.path}.gz`);
      await syncDir(join(seg.path, ".."));
      await unlink(seg.path);
      final = `${seg.path}.gz`;
    } catch (err) {
      // the plain segment is intact; it stays as it is
      this.opts.log.error({ err, segment: seg.path }, "Failed to compress segment");
    }
    this.opts.onClosed?.(final);
  }

  /** Closes the open segments of these partitions without compressing them: they are about to be deleted. */
  forget(keys: ReadonlySet<string>): Promise<void> {
    return this.serial(async () => {
      for (const key of keys) {
        const seg = this.active.get(key);
        if (!seg) continue;
        this.active.delete(key);
        await seg.fh.close();
      }
    });
  }

  /** Rotates (and compresses) every open segment. */
  close(): Promise<void> {
    clearInterval(this.timer);
    return this.serial(async () => {
      for (const key of [...this.active.keys()]) await this.rotate(key);
    });
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } catch {
    // some filesystems refuse fsync on directories; the data itself is synced
  } finally {
    await fh.close();
  }
}
