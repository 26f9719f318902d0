// Where a drift run reads events from: a directory in the collector's layout
// (DIR/<model>/<YYYY-MM-DD>/<HH>/*.ndjson[.gz]), a single NDJSON file, the collector's export endpoint
// (GET /v1/events?model=&since=&until=), each read in chunks that end on a line boundary; or the
// Parquet archive (a directory DIR/model=<model>/date=/hour=/*.parquet, or one file), read with DuckDB.
import { createReadStream } from "node:fs";
import { mkdir, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { request } from "undici";
import type { S3Target } from "../events/archive-target.js";
import { parseArchiveKey } from "../events/parquet-layout.js";
import { hoursBetween, safeSegment } from "../events/partition.js";

export const CHUNK_BYTES = 1 << 20;

export type EventSource =
  /** The Parquet archive in a bucket (s3://bucket/prefix): the window's files are downloaded first. */
  | { kind: "s3"; url: string }
  /** The collector's NDJSON directory, or a Parquet archive directory (model=/date=/hour=). */
  | { kind: "dir"; dir: string }
  | { kind: "file"; file: string }
  /** One Parquet file of the archive. */
  | { kind: "parquet"; file: string }
  /** token: the collector's bearer token (see docs/collector.md), when it wants one. */
  | { kind: "url"; url: string; token?: string };

export function parseEventSource(value: string): EventSource {
  if (/^https?:\/\//i.test(value)) return { kind: "url", url: value };
  if (/^s3:\/\//i.test(value)) return { kind: "s3", url: value };
  if (/\.parquet$/i.test(value)) return { kind: "parquet", file: value.replace(/^file:\/\//, "") };
  if (/\.(nd)?jsonl?(\.gz)?$/i.test(value) || /\.ndjson(\.gz)?$/i.test(value))
    return { kind: "file", file: value };
  return { kind: "dir", dir: value.replace(/^file:\/\//, "") };
}

export interface Window {
  since: Date;
  until: Date;
}

/** The files of the window's hour partitions, oldest first; empty when the model has none. */
export async function windowFiles(
  dir: string,
  model: string,
  w: Window,
): Promise<{ files: string[]; modelDirFound: boolean }> {
  const base = join(dir, safeSegment(model));
  try {
    if (!(await stat(base)).isDirectory()) return { files: [], modelDirFound: false };
  } catch {
    return { files: [], modelDirFound: false };
  }
  const files: string[] = [];
  for (const { date, hour } of hoursBetween(w.since, w.until)) {
    const d = join(base, date, hour);
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      continue;
    }
    for (const n of names.sort()) if (/\.ndjson(\.gz)?$/.test(n)) files.push(join(d, n));
  }
  return { files, modelDirFound: true };
}

/**
 * The Parquet files of the window's hour partitions in an archive directory
 * (DIR/model=<model>/date=<YYYY-MM-DD>/hour=<HH>/*.parquet), oldest first; hidden files (a write in
 * progress) are left out. modelDirFound is false when the directory holds no archive for the model.
 */
export async function parquetWindowFiles(
  dir: string,
  model: string,
  w: Window,
): Promise<{ files: string[]; modelDirFound: boolean }> {
  const base = join(dir, `model=${safeSegment(model)}`);
  try {
    if (!(await stat(base)).isDirectory()) return { files: [], modelDirFound: false };
  } catch {
    return { files: [], modelDirFound: false };
  }
  const files: string[] = [];
  for (const { date, hour } of hoursBetween(w.since, w.until)) {
    const d = join(base, `date=${date}`, `hour=${hour}`);
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      continue;
    }
    for (const n of names.sort()) if (n.endsWith(".parquet") && !n.startsWith(".")) files.push(join(d, n));
  }
  return { files, modelDirFound: true };
}

/**
 * Downloads the archive files of the window's hour partitions from a bucket into dir, in the archive's
 * layout, so the directory reader takes it from there; returns how many. Disk use is the window's files.
 */
export async function stageBucketWindow(
  bucket: S3Target,
  model: string,
  w: Window,
  dir: string,
  signal?: AbortSignal,
): Promise<number> {
  const m = safeSegment(model);
  const hours = hoursBetween(w.since, w.until);
  const keys: string[] = [];
  for (const date of [...new Set(hours.map((h) => h.date))]) {
    const wanted = new Set(hours.filter((h) => h.date === date).map((h) => h.hour));
    for (const key of await bucket.list(`model=${m}/date=${date}/`)) {
      const p = parseArchiveKey(key);
      if (p && p.model === m && wanted.has(p.hour) && !p.file.startsWith(".")) keys.push(key);
    }
  }
  await mkdir(join(dir, `model=${m}`), { recursive: true });
  for (const key of keys) {
    signal?.throwIfAborted();
    const file = join(dir, key);
    await mkdir(join(file, ".."), { recursive: true });
    await bucket.download(key, file);
  }
  return keys.length;
}

export function exportUrl(base: string, model: string, w: Window): string {
  const u = new URL(base);
  if (!u.pathname.endsWith("/v1/events")) u.pathname = u.pathname.replace(/\/$/, "") + "/v1/events";
  u.searchParams.set("model", model);
  u.searchParams.set("since", w.since.toISOString());
  u.searchParams.set("until", w.until.toISOString());
  return u.toString();
}

/** Re-chunks a byte stream so every chunk but the last ends with a newline. */
export async function* lineChunks(
  stream: AsyncIterable<Buffer | string>,
  target = CHUNK_BYTES,
): AsyncGenerator<Buffer> {
  let carry: Buffer | undefined;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const piece of stream) {
    const b = typeof piece === "string" ? Buffer.from(piece) : piece;
    pending.push(b);
    pendingBytes += b.length;
    if (pendingBytes < target) continue;
    const all = Buffer.concat(carry ? [carry, ...pending] : pending);
    pending = [];
    pendingBytes = 0;
    const cut = all.lastIndexOf(10);
    if (cut < 0) {
      carry = all;
      continue;
    }
    carry = cut + 1 < all.length ? Buffer.from(all.subarray(cut + 1)) : undefined;
    yield all.subarray(0, cut + 1);
  }
  const rest = Buffer.concat(carry ? [carry, ...pending] : pending);
  if (rest.length > 0) yield rest;
}

export function openFile(file: string): Readable {
  const raw = createReadStream(file, { highWaterMark: CHUNK_BYTES });
  return file.endsWith(".gz") ? raw.pipe(createGunzip({ chunkSize: 256 * 1024 })) : raw;
}

/**
 * Opens the collector export for the window, sending the bearer token when given; throws with the status
 * and body start on a non-2xx answer.
 */
export async function openUrl(
  url: string,
  signal?: AbortSignal,
  token?: string,
): Promise<AsyncIterable<Buffer>> {
  const res = await request(url, {
    method: "GET",
    signal,
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    headersTimeout: 30_000,
    bodyTimeout: 300_000,
  });
  if (res.statusCode < 200 || res.statusCode >= 300) {
    const text = (await res.body.text()).slice(0, 300);
    throw new Error(`GET ${url} answered ${res.statusCode}: ${text}`);
  }
  return res.body;
}
