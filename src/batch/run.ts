// batch: stream rows through the worker pool in large batches, predictions beside each id, rejects aside.
import { once } from "node:events";
import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { openUri } from "../fetch/download.js";
import type { Logger } from "../platform/log.js";
import { concatFeeds, splitOutputs } from "../runtime/batching.js";
import type { TensorValue } from "../runtime/datatypes.js";
import type { ModelSpec } from "../runtime/model-spec.js";
import { WorkerPool } from "../runtime/pool.js";
import { decodeV1, HttpError, rowsOf } from "../runtime/protocol.js";
import { Scheduler } from "../runtime/scheduler.js";
import { isBatchable, type Signature } from "../runtime/signature.js";
import { csvField, formatOf, parseCsvLine, type Format } from "./formats.js";
import { RowError, rowToInstance } from "./rows.js";

export interface BatchOptions {
  model: ModelSpec;
  input: string;
  output: string;
  rejects?: string;
  idField: string;
  batchSize: number;
  workers: number;
  intraOpThreads: number;
  inputFormat?: Format;
  pvcRoot: string;
  endpoint?: string;
  env: Record<string, string | undefined>;
  log: Logger;
  progressIntervalMs?: number;
}

export interface BatchSummary {
  rows: number;
  predicted: number;
  rejected: number;
  seconds: number;
  rowsPerSec: number;
}

interface Item {
  line: number;
  raw: string;
  id: unknown;
  feeds: Record<string, TensorValue>;
}

type Outcome = { item: Item; prediction: Record<string, unknown> } | { item: Item; reason: string };

/** A file written under a temporary name and renamed into place only when complete. */
class AtomicWriter {
  private tmp: string;
  private stream: WriteStream;
  constructor(private path: string) {
    this.tmp = `${path}.tmp-${process.pid}`;
    this.stream = createWriteStream(this.tmp);
  }
  async write(s: string): Promise<void> {
    if (!this.stream.write(s)) await once(this.stream, "drain");
  }
  async commit(): Promise<void> {
    this.stream.end();
    await once(this.stream, "finish");
    await rename(this.tmp, this.path);
  }
  async abort(): Promise<void> {
    this.stream.destroy();
    await rm(this.tmp, { force: true });
  }
}

async function openInput(opts: BatchOptions): Promise<Readable> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(opts.input)) return openUri(opts.input, opts);
  return createReadStream(opts.input);
}

function decodeRow(row: Record<string, unknown>, sig: Signature, idField: string, batchable: boolean) {
  try {
    return decodeV1({ instances: [rowToInstance(row, sig, idField)] }, sig, batchable).feeds;
  } catch (err) {
    if (err instanceof RowError || err instanceof HttpError) throw new RowError(err.message);
    throw err;
  }
}

export async function runBatch(opts: BatchOptions): Promise<BatchSummary> {
  const { log } = opts;
  const key = `${opts.model.name}@${opts.model.version}`;
  const { pool, models } = await WorkerPool.start({
    size: opts.workers,
    models: [{ key, path: opts.model.path }],
    settings: { intraOpThreads: opts.intraOpThreads, executionProvider: "cpu", allowCpuFallback: false },
    log,
  });
  const sig = models[0]!.signature;
  const batchable = isBatchable(sig);
  const batchSize = batchable ? opts.batchSize : 1;
  if (!batchable) log.warn({ model: key }, "Chose one row per batch: the model has a fixed first dimension");
  const scheduler = new Scheduler(pool);
  scheduler.addModel(key, {
    batchable: false,
    maxBatchSize: 1,
    maxQueueDelayMs: 0,
    maxQueue: Number.MAX_SAFE_INTEGER,
  });

  const format = opts.inputFormat ?? formatOf(opts.input);
  const outFormat = formatOf(opts.output);
  const out = new AtomicWriter(opts.output);
  const rejects = opts.rejects === undefined ? undefined : new AtomicWriter(opts.rejects);
  let csvHeader: string[] | undefined;
  let outColumns: string[] | undefined;
  let rows = 0;
  let predicted = 0;
  let rejected = 0;
  const started = performance.now();
  let lastReport = started;
  const interval = opts.progressIntervalMs ?? 5_000;

  const reject = async (line: number, reason: string, raw: string) => {
    rejected++;
    await rejects?.write(JSON.stringify({ line, reason, row: raw }) + "\n");
  };

  const predict = async (items: Item[]): Promise<Outcome[]> => {
    try {
      const r = await scheduler.submit(key, concatFeeds(items.map((i) => i.feeds)), 0);
      const parts =
        splitOutputs(
          r.outputs,
          items.map(() => 1),
        ) ?? [];
      if (parts.length !== items.length) throw new Error("model outputs do not follow the batch dimension");
      return items.map((item, i) => {
        const [value] = rowsOf(sig, parts[i]!);
        const prediction =
          sig.outputs.length === 1 ? { [sig.outputs[0]!.name]: value } : (value as Record<string, unknown>);
        return { item, prediction };
      });
    } catch (err) {
      // One bad row must not sink its batch: rerun the rows alone to find it.
      if (items.length > 1) return (await Promise.all(items.map((i) => predict([i])))).flat();
      return [
        { item: items[0]!, reason: `model rejected the row: ${(err as Error).message.split("\n")[0]}` },
      ];
    }
  };

  const writeOutcomes = async (outcomes: Outcome[]) => {
    for (const o of outcomes) {
      if ("reason" in o) {
        await reject(o.item.line, o.reason, o.item.raw);
        continue;
      }
      predicted++;
      if (outFormat === "jsonl") {
        await out.write(JSON.stringify({ [opts.idField]: o.item.id, ...o.prediction }) + "\n");
      } else {
        const flat: [string, unknown][] = [];
        for (const [name, v] of Object.entries(o.prediction)) {
          const values = Array.isArray(v) ? (v.flat(Infinity) as unknown[]) : [v];
          values.forEach((x, j) => flat.push([values.length === 1 ? name : `${name}_${j}`, x]));
        }
        if (outColumns === undefined) {
          outColumns = flat.map(([c]) => c);
          await out.write([opts.idField, ...outColumns].map(csvField).join(",") + "\n");
        }
        await out.write([o.item.id, ...flat.map(([, x]) => x)].map(csvField).join(",") + "\n");
      }
    }
    const now = performance.now();
    if (now - lastReport >= interval) {
      lastReport = now;
      log.info(
        { rows, predicted, rejected, rowsPerSec: Math.round(rows / ((now - started) / 1000)) },
        "Predicted rows so far",
      );
    }
  };

  // At most workers + 1 batches in flight: memory stays bounded whatever the input size.
  const inFlight: Promise<Outcome[]>[] = [];
  const maxInFlight = opts.workers + 1;
  let current: Item[] = [];
  const flush = async () => {
    if (current.length > 0) inFlight.push(predict(current));
    current = [];
    while (inFlight.length >= maxInFlight) await writeOutcomes(await inFlight.shift()!);
  };

  try {
    const input = await openInput(opts);
    const lines = createInterface({ input, crlfDelay: Infinity });
    let lineNo = 0;
    for await (const raw of lines) {
      lineNo++;
      if (raw.trim() === "") continue;
      let row: Record<string, unknown>;
      try {
        if (format === "csv" && csvHeader === undefined) {
          csvHeader = parseCsvLine(raw);
          continue;
        }
      } catch (err) {
        throw new Error(`the CSV header of ${opts.input} cannot be read: ${(err as Error).message}`);
      }
      rows++;
      try {
        if (format === "csv") {
          let cells: string[];
          try {
            cells = parseCsvLine(raw);
          } catch (err) {
            throw new RowError((err as Error).message);
          }
          if (cells.length !== csvHeader!.length) {
            throw new RowError(`row has ${cells.length} columns, the header has ${csvHeader!.length}`);
          }
          row = Object.fromEntries(csvHeader!.map((h, i) => [h, cells[i]]));
        } else {
          let parsed: unknown;
          try {
            parsed = JSON.parse(raw);
          } catch (err) {
            throw new RowError(`row is not valid JSON: ${(err as Error).message}`);
          }
          if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
            throw new RowError("row is not a JSON object");
          }
          row = parsed as Record<string, unknown>;
        }
        const feeds = decodeRow(row, sig, opts.idField, batchable);
        current.push({ line: lineNo, raw, id: row[opts.idField] ?? lineNo, feeds });
      } catch (err) {
        if (!(err instanceof RowError)) throw err;
        await reject(lineNo, err.message, raw);
        continue;
      }
      if (current.length >= batchSize) await flush();
    }
    await flush();
    while (inFlight.length > 0) await writeOutcomes(await inFlight.shift()!);
    await out.commit();
    await rejects?.commit();
  } catch (err) {
    await out.abort();
    await rejects?.abort();
    throw err;
  } finally {
    await pool.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const summary = { rows, predicted, rejected, seconds, rowsPerSec: rows / Math.max(seconds, 1e-9) };
  log.info({ ...summary, rowsPerSec: Math.round(summary.rowsPerSec) }, "Finished batch prediction");
  return summary;
}
