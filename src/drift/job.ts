// One drift run: load the baseline, stream the window's events through the worker pool, join feedback,
// evaluate, and hand back the report. Bad input becomes a report with verdict "error" and a reason.
import { openUri } from "../fetch/download.js";
import type { Logger } from "../platform/log.js";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { S3Target } from "../events/archive-target.js";
import { evaluate, type Thresholds } from "./evaluate.js";
import { splitRanges } from "./file-ranges.js";
import { DriftPool } from "./pool.js";
import type { ProcessOptions } from "./process.js";
import { parseBaseline, type Baseline } from "./profile.js";
import { REPORT_FORMAT_VERSION, REPORT_KIND, type DriftReport } from "./report.js";
import {
  exportUrl,
  lineChunks,
  openFile,
  openUrl,
  parquetWindowFiles,
  stageBucketWindow,
  windowFiles,
  type EventSource,
  type Window,
} from "./sources.js";
import { WindowState } from "./window.js";

export interface DriftJobOptions {
  baselineUri: string;
  events: EventSource;
  model: string;
  window: Window;
  thresholds: Thresholds;
  workers: number;
  log: Logger;
  now: () => Date;
  /** For s3:// baselines (S3-compatible endpoint) and credentials from the environment. */
  endpoint?: string;
  env?: Record<string, string | undefined>;
  validateFirst?: number;
  validateEvery?: number;
  signal?: AbortSignal;
}

async function readAll(stream: AsyncIterable<Buffer | string>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const p of stream) parts.push(typeof p === "string" ? Buffer.from(p) : p);
  return Buffer.concat(parts).toString("utf8");
}

export async function loadBaseline(
  uri: string,
  opts: Pick<DriftJobOptions, "endpoint" | "env">,
): Promise<Baseline> {
  let text: string;
  try {
    text = await readAll(
      await openUri(uri, { endpoint: opts.endpoint, pvcRoot: "/", env: opts.env ?? process.env }),
    );
  } catch (err) {
    throw new Error(`cannot read baseline ${uri}: ${(err as Error).message}`, { cause: err });
  }
  return parseBaseline(text, uri);
}

/** A report for a run that could not evaluate anything (unreadable baseline, unreachable events). */
export function errorReport(
  o: Pick<DriftJobOptions, "model" | "window" | "baselineUri" | "thresholds">,
  reason: string,
  now: Date,
): DriftReport {
  const th = o.thresholds;
  return {
    apiVersion: "modelship.io/v1alpha1",
    kind: REPORT_KIND,
    formatVersion: REPORT_FORMAT_VERSION,
    model: o.model,
    generatedAt: now.toISOString(),
    window: { since: o.window.since.toISOString(), until: o.window.until.toISOString() },
    baseline: { uri: o.baselineUri },
    settings: {
      psiThreshold: th.psiThreshold,
      pValue: th.pValue,
      correction: th.correction,
      missingRateJump: th.missingRateJump,
      outOfRangeRate: th.outOfRangeRate ?? "baseline-size",
      accuracyDrop: th.accuracyDrop,
      rmseIncrease: th.rmseIncrease,
    },
    verdict: "error",
    score: 0,
    reasons: [reason],
    counts: {
      lines: 0,
      events: 0,
      rows: 0,
      withoutFeatures: 0,
      failed: 0,
      feedback: 0,
      outsideWindow: 0,
      invalid: 0,
      schemaChecked: 0,
      otherTypes: 0,
    },
    features: [],
    integrity: { ok: true, issues: [], unexpectedFields: [], invalidSamples: [] },
    notEvaluated: [{ subject: "all", reason }],
  };
}

/** Streams every chunk of the window's events into the pool; returns the number of files read. */
async function stream(o: DriftJobOptions, pool: DriftPool): Promise<number> {
  const push = (chunk: Buffer, origin: string) => pool.push(chunk, origin);
  const src = o.events;
  if (src.kind === "url") {
    const url = exportUrl(src.url, o.model, o.window);
    for await (const chunk of lineChunks(await openUrl(url, o.signal, src.token))) await push(chunk, url);
    return 0;
  }
  if (src.kind === "parquet") {
    await pool.pushParquet(src.file);
    return 1;
  }
  if (src.kind === "s3") throw new Error(`${src.url}: a bucket is downloaded before it is read`);
  let files: string[];
  if (src.kind === "file") files = [src.file];
  else {
    const archived = await parquetWindowFiles(src.dir, o.model, o.window);
    if (archived.modelDirFound) {
      for (const f of archived.files) {
        o.signal?.throwIfAborted();
        await pool.pushParquet(f);
      }
      return archived.files.length;
    }
    const found = await windowFiles(src.dir, o.model, o.window);
    if (!found.modelDirFound)
      throw new Error(
        `no events directory for model "${o.model}" under ${src.dir} (expected ${src.dir}/${o.model}/YYYY-MM-DD/HH/*.ndjson, or the Parquet archive's ${src.dir}/model=${o.model}/date=YYYY-MM-DD/hour=HH/*.parquet)`,
      );
    files = found.files;
  }
  for (const f of files) {
    o.signal?.throwIfAborted();
    // Plain files are read by the workers themselves, a range each; gzip streams through this thread.
    if (f.endsWith(".gz")) for await (const chunk of lineChunks(openFile(f))) await push(chunk, f);
    else for (const r of splitRanges(f, (await stat(f)).size)) await pool.pushRange(r);
  }
  return files.length;
}

export async function runDriftJob(o: DriftJobOptions): Promise<DriftReport> {
  if (o.events.kind !== "s3") return runOn(o);
  // A bucket: the window's Parquet files are downloaded once (both passes read them), then read as a directory.
  const url = o.events.url;
  const dir = await mkdtemp(join(tmpdir(), "modelship-drift-"));
  try {
    let files: number;
    try {
      const bucket = S3Target.fromUrl(url, o.endpoint, o.env ?? process.env);
      files = await stageBucketWindow(bucket, o.model, o.window, dir, o.signal);
    } catch (err) {
      o.log.error({ err, events: url }, "Failed to download the window's archive files");
      return errorReport(o, `cannot read events from ${url}: ${(err as Error).message}`, o.now());
    }
    o.log.info({ events: url, files }, "Downloaded the window's archive files");
    return await runOn({ ...o, events: { kind: "dir", dir } });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function runOn(o: DriftJobOptions): Promise<DriftReport> {
  const started = Date.now();
  let baseline: Baseline;
  try {
    baseline = await loadBaseline(o.baselineUri, o);
  } catch (err) {
    o.log.error({ err, baseline: o.baselineUri }, "Failed to load baseline");
    return errorReport(o, (err as Error).message, o.now());
  }
  const opts: ProcessOptions = {
    since: o.window.since.getTime(),
    until: o.window.until.getTime(),
    validateFirst: o.validateFirst ?? 100,
    validateEvery: o.validateEvery ?? 1000,
  };
  const state = new WindowState(baseline);
  const pool = new DriftPool({ baseline, opts, mode: "scan" }, o.workers);
  let files = 0;
  try {
    files = await stream(o, pool);
    await pool.finish(state);
  } catch (err) {
    o.log.error({ err }, "Failed to read events");
    return errorReport(o, `cannot read events: ${(err as Error).message}`, o.now());
  } finally {
    await pool.close();
  }
  o.log.info({ model: o.model, files, ...state.counters }, "Read window events");

  let unmatched = 0;
  if (state.feedback.size > 0) {
    const truth = [...state.feedback];
    const join = new DriftPool({ baseline, opts, mode: "join", truth }, o.workers);
    const joined = new WindowState(baseline);
    try {
      await stream(o, join);
      await join.finish(joined);
    } finally {
      await join.close();
    }
    state.quality.merge(joined.quality.state());
    // The join pass counts matched feedback ids in its `feedback` counter.
    unmatched = Math.max(0, state.feedback.size - joined.counters.feedback);
    o.log.info(
      { feedback: state.feedback.size, matched: joined.counters.feedback },
      "Joined feedback to predictions",
    );
  }

  const report = evaluate({
    model: o.model,
    window: o.window,
    baselineUri: o.baselineUri,
    baseline,
    state,
    thresholds: o.thresholds,
    now: o.now(),
    files: o.events.kind === "url" ? undefined : files,
    unmatchedFeedback: unmatched,
  });
  report.durationMs = Date.now() - started;
  return report;
}
