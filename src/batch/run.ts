// batch: stream one shard's rows through the worker pool in large batches, predictions beside each
// id, rejects aside with the reason; then record the shard's part, and the last shard puts the run
// together.
import type pg from "pg";
import { performance } from "node:perf_hooks";
import type { Logger } from "../platform/log.js";
import { concatFeeds, splitOutputs } from "../runtime/batching.js";
import type { TensorValue } from "../runtime/datatypes.js";
import type { ModelSpec } from "../runtime/model-spec.js";
import { ModelLoadError, WorkerPool } from "../runtime/pool.js";
import { decodeV1, HttpError, rowsOf } from "../runtime/protocol.js";
import { Scheduler } from "../runtime/scheduler.js";
import { isBatchable, type Signature } from "../runtime/signature.js";
import { PermanentError } from "./errors.js";
import { FileInput } from "./file-input.js";
import { FileOutput } from "./file-output.js";
import type { Format } from "./formats.js";
import type { InputRecord, Prediction, PredictionOutput, Rejection, RowInput } from "./io.js";
import { companions, localPath } from "./paths.js";
import { RowError, rowToInstance } from "./rows.js";
import { BlockCounter, type Shard } from "./shard.js";
import { SqlInput } from "./sql-input.js";
import { SqlOutput } from "./sql-output.js";
import { parseTableName } from "./sql.js";
import type { PartSummary, RunSummary } from "./summary.js";

export type InputSpec =
  { file: string; format?: Format } | { sql: { query: string; connection: pg.ClientConfig } };

export type OutputSpec =
  { file: string; rejects?: string } | { sql: { table: string; connection: pg.ClientConfig } };

export interface BatchOptions {
  model: ModelSpec;
  input: InputSpec;
  output: OutputSpec;
  /** The row field (or SQL column) copied beside each prediction. */
  idField: string;
  batchSize: number;
  workers: number;
  intraOpThreads: number;
  /** Names the run: every shard of one run gives the same id; a repeated run replaces its output. */
  runId: string;
  shard: Shard;
  /** No retry follows a failure of this attempt: it is recorded as the shard's final word. */
  finalAttempt: boolean;
  pvcRoot: string;
  endpoint?: string;
  env: Record<string, string | undefined>;
  log: Logger;
  progressIntervalMs?: number;
  now?: () => Date;
}

export interface BatchSummary {
  /** This shard's rows. */
  rows: number;
  predicted: number;
  rejected: number;
  seconds: number;
  rowsPerSec: number;
  part: PartSummary;
  /** The whole run's summary, when this shard was the last to finish (it finalised the run). */
  run?: RunSummary;
}

/** A failed shard: what it recorded, and the run's summary if its failure completed the run. */
export class BatchError extends Error {
  override name = "BatchError";
  constructor(
    readonly failure: Error,
    readonly permanent: boolean,
    /** Recorded as the shard's final failure (no retry left, or nothing a retry can fix). */
    readonly final: boolean,
    readonly part: PartSummary,
    readonly run?: RunSummary,
  ) {
    super(failure.message);
  }
}

interface Entry {
  record: InputRecord;
  id: unknown;
  idText: string;
  feeds?: Record<string, TensorValue>;
  reason?: string;
}

type Outcome = { entry: Entry; values: Record<string, unknown> } | { entry: Entry; reason: string };

function decodeRow(row: Record<string, unknown>, sig: Signature, idField: string, batchable: boolean) {
  try {
    return decodeV1({ instances: [rowToInstance(row, sig, idField)] }, sig, batchable).feeds;
  } catch (err) {
    if (err instanceof RowError || err instanceof HttpError) throw new RowError(err.message);
    throw err;
  }
}

/** The output, built from the spec (nothing is opened yet). */
function makeOutput(opts: BatchOptions): PredictionOutput {
  const o = opts.output;
  if ("sql" in o) {
    let table;
    try {
      table = parseTableName(o.sql.table);
    } catch (err) {
      throw new PermanentError(`spec.batch.output.sql.table: ${(err as Error).message}`);
    }
    return new SqlOutput({
      table,
      connection: o.sql.connection,
      idField: opts.idField,
      runId: opts.runId,
      shard: opts.shard,
      log: opts.log,
    });
  }
  const rejects = o.rejects ?? companions(o.file).rejects;
  const local = (uri: string) => {
    try {
      return localPath(uri, opts.pvcRoot);
    } catch (err) {
      throw new PermanentError((err as Error).message);
    }
  };
  return new FileOutput({
    output: o.file,
    rejects,
    outputPath: local(o.file),
    rejectsPath: local(rejects),
    summaryPath: local(companions(o.file).summary),
    idField: opts.idField,
    runId: opts.runId,
    shard: opts.shard,
    log: opts.log,
  });
}

async function openInput(opts: BatchOptions, blockRows: number): Promise<RowInput> {
  const i = opts.input;
  if ("sql" in i) {
    return SqlInput.open({
      query: i.sql.query,
      idColumn: opts.idField,
      connection: i.sql.connection,
      shard: opts.shard,
      fetchRows: Math.max(blockRows, 500),
    });
  }
  return FileInput.open({
    uri: i.file,
    ...(i.format ? { format: i.format } : {}),
    shard: opts.shard,
    blockRows,
    pvcRoot: opts.pvcRoot,
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    env: opts.env,
  });
}

export async function runBatch(opts: BatchOptions): Promise<BatchSummary> {
  const { log, shard, runId } = opts;
  const now = opts.now ?? (() => new Date());
  const startedAt = now().toISOString();
  const started = performance.now();
  const key = `${opts.model.name}@${opts.model.version}`;
  // the block size must be the same in every shard of a run: the batch size is (one Job template)
  const blockRows = opts.batchSize;
  let rows = 0;
  let predicted = 0;
  let rejected = 0;
  const counter = new BlockCounter(blockRows);
  let blockDealt = false;
  const partOf = (outcome: "Succeeded" | "Failed", message?: string): PartSummary => ({
    runId,
    shard: shard.index,
    shards: shard.count,
    outcome,
    rows,
    predicted,
    rejected,
    startedAt,
    finishedAt: now().toISOString(),
    ...(message !== undefined ? { message } : {}),
    ...(blockDealt && outcome === "Succeeded" ? { blocks: counter.result() } : {}),
  });

  let output: PredictionOutput | undefined;
  let input: RowInput | undefined;
  let pool: WorkerPool | undefined;
  try {
    output = makeOutput(opts);
    input = await openInput(opts, blockRows);
    let sig: Signature;
    try {
      const loaded = await WorkerPool.start({
        size: opts.workers,
        models: [{ key, path: opts.model.path }],
        settings: { intraOpThreads: opts.intraOpThreads, executionProvider: "cpu", allowCpuFallback: false },
        log,
      });
      pool = loaded.pool;
      sig = loaded.models[0]!.signature;
    } catch (err) {
      if (err instanceof ModelLoadError)
        throw new PermanentError(`failed to load model ${err.key}: ${err.message}`);
      throw err;
    }
    const batchable = isBatchable(sig);
    const batchSize = batchable ? opts.batchSize : 1;
    if (!batchable)
      log.warn({ model: key }, "Chose one row per batch: the model has a fixed first dimension");
    const scheduler = new Scheduler(pool);
    scheduler.addModel(key, {
      batchable: false,
      maxBatchSize: 1,
      maxQueueDelayMs: 0,
      maxQueue: Number.MAX_SAFE_INTEGER,
    });
    await output.open(sig.outputs, input.idType);

    let lastReport = started;
    const interval = opts.progressIntervalMs ?? 5_000;

    const predict = async (entries: Entry[]): Promise<Outcome[]> => {
      try {
        const r = await scheduler.submit(key, concatFeeds(entries.map((e) => e.feeds!)), 0);
        const parts =
          splitOutputs(
            r.outputs,
            entries.map(() => 1),
          ) ?? [];
        if (parts.length !== entries.length)
          throw new Error("model outputs do not follow the batch dimension");
        return entries.map((entry, i) => {
          const [value] = rowsOf(sig, parts[i]!);
          const values =
            sig.outputs.length === 1 ? { [sig.outputs[0]!.name]: value } : (value as Record<string, unknown>);
          return { entry, values };
        });
      } catch (err) {
        // One bad row must not sink its batch: rerun the rows alone to find it.
        if (entries.length > 1) return (await Promise.all(entries.map((e) => predict([e])))).flat();
        return [
          { entry: entries[0]!, reason: `model rejected the row: ${(err as Error).message.split("\n")[0]}` },
        ];
      }
    };

    /** A chunk's outcomes in record order: its rows that failed to decode keep their place. */
    const run = async (chunk: Entry[]): Promise<Outcome[]> => {
      const ok = chunk.filter((e) => e.reason === undefined);
      const done = ok.length > 0 ? await predict(ok) : [];
      let k = 0;
      return chunk.map((e) => (e.reason !== undefined ? { entry: e, reason: e.reason } : done[k++]!));
    };

    const writeOutcomes = async (outcomes: Outcome[]) => {
      const preds: Prediction[] = [];
      const rejs: Rejection[] = [];
      for (const o of outcomes) {
        const { record } = o.entry;
        if (record.block !== undefined) counter.add(record.block, !("reason" in o));
        if ("reason" in o) {
          rejected++;
          rejs.push({
            line: record.line,
            ...(o.entry.id !== undefined ? { id: o.entry.id } : {}),
            reason: o.reason,
            input: record.raw ?? JSON.stringify(record.row ?? null),
          });
        } else {
          preds.push({ id: o.entry.id, idText: o.entry.idText, ordinal: predicted++, values: o.values });
        }
      }
      await output!.write(preds, rejs);
      const t = performance.now();
      if (t - lastReport >= interval) {
        lastReport = t;
        log.info(
          { rows, predicted, rejected, rowsPerSec: Math.round(rows / ((t - started) / 1000)) },
          "Predicted rows so far",
        );
      }
    };

    // At most workers + 1 chunks in flight: memory stays bounded whatever the input size.
    const inFlight: Promise<Outcome[]>[] = [];
    const maxInFlight = opts.workers + 1;
    let current: Entry[] = [];
    let decoded = 0;
    const flush = async () => {
      if (current.length > 0) inFlight.push(run(current));
      current = [];
      decoded = 0;
      while (inFlight.length >= maxInFlight) await writeOutcomes(await inFlight.shift()!);
    };

    for await (const record of input.records()) {
      rows++;
      if (record.block !== undefined) blockDealt = true;
      const row = record.row;
      // a file row without the id field is named by its line; an unreadable row has no id
      const id =
        row === undefined
          ? undefined
          : "sql" in opts.input
            ? row[opts.idField]
            : (row[opts.idField] ?? record.line);
      const idText = record.idText ?? (typeof id === "string" ? id : (JSON.stringify(id) ?? ""));
      const entry: Entry = { record, id, idText };
      if (record.error !== undefined || row === undefined) {
        entry.reason = record.error ?? "row could not be read";
      } else {
        try {
          entry.feeds = decodeRow(row, sig, opts.idField, batchable);
          decoded++;
        } catch (err) {
          if (!(err instanceof RowError)) throw err;
          entry.reason = err.message;
        }
      }
      current.push(entry);
      if (decoded >= batchSize || current.length >= 4 * batchSize) await flush();
    }
    await flush();
    while (inFlight.length > 0) await writeOutcomes(await inFlight.shift()!);

    const part = partOf("Succeeded");
    await output.commit(part);
    const summary = await output.finalize();
    const seconds = (performance.now() - started) / 1000;
    const result: BatchSummary = {
      rows,
      predicted,
      rejected,
      seconds,
      rowsPerSec: rows / Math.max(seconds, 1e-9),
      part,
      ...(summary ? { run: summary } : {}),
    };
    log.info(
      {
        runId,
        shard: shard.index,
        shards: shard.count,
        rows,
        predicted,
        rejected,
        rowsPerSec: Math.round(result.rowsPerSec),
      },
      "Finished batch prediction",
    );
    return result;
  } catch (err) {
    const cause = err instanceof Error ? err : new Error(String(err));
    const permanent = cause instanceof PermanentError;
    const final = permanent || opts.finalAttempt;
    await output?.abort().catch(() => {});
    const part = partOf("Failed", cause.message);
    let summary: RunSummary | undefined;
    if (final && output) {
      try {
        await output.recordFailure(part);
        summary = await output.finalize();
      } catch (e) {
        log.warn({ err: (e as Error).message }, "Failed to record the shard's failure");
      }
    }
    throw new BatchError(cause, permanent, final, part, summary);
  } finally {
    await input?.close().catch(() => {});
    await pool?.close();
    await output?.close().catch(() => {});
  }
}
