import { connectionFromDir } from "../batch/connection.js";
import { PermanentError } from "../batch/errors.js";
import { BatchError, runBatch, type InputSpec, type OutputSpec } from "../batch/run.js";
import { checkShard } from "../batch/shard.js";
import { finishedRun, runningRun } from "../batch/status-patch.js";
import { BatchStatusWriter } from "../batch/status-writer.js";
import { createLogger, type Logger } from "../platform/log.js";
import { parseModelFlag } from "../runtime/model-spec.js";
import { intFlag, requiredFlag, stringFlag, UsageError, type Command, type ParsedArgs } from "./command.js";

/** Exit status of a failure no retry can fix; the batch Job's pod failure policy fails the run on it. */
export const EXIT_PERMANENT = 3;

/** An integer flag that a Kubernetes field reference may leave empty (an annotation not set yet). */
function countFlag(args: ParsedArgs, name: string, fallback: number): number {
  return stringFlag(args, name) === "" ? fallback : intFlag(args, name, fallback, 0);
}

function either(args: ParsedArgs, a: string, b: string): "a" | "b" {
  const hasA = stringFlag(args, a) !== undefined;
  const hasB = stringFlag(args, b) !== undefined;
  if (hasA === hasB) throw new UsageError(`give exactly one of --${a} and --${b}`);
  return hasA ? "a" : "b";
}

async function reportStatus(
  args: ParsedArgs,
  log: Logger,
  write: (w: BatchStatusWriter) => Promise<void>,
): Promise<void> {
  const namespace = stringFlag(args, "namespace");
  const name = stringFlag(args, "deployment");
  if (namespace === undefined || name === undefined) return;
  let writer: BatchStatusWriter | undefined;
  try {
    writer = await BatchStatusWriter.create(
      { namespace, name, kubeconfig: stringFlag(args, "kubeconfig") },
      log,
    );
    await write(writer);
  } catch (err) {
    // the predictions are written either way; a status that cannot be written is logged, not fatal
    log.warn(
      { err: (err as Error).message, namespace, modelDeployment: name },
      "Failed to write batch status",
    );
  } finally {
    await writer?.close();
  }
}

export const command: Command = {
  name: "batch",
  summary: "Run batch predictions over a JSONL or CSV file or a SQL query",
  usage: [
    "Usage: modelship batch --model NAME=PATH (--input FILE|URI | --input-sql QUERY)",
    "                       (--output FILE|URI | --output-table TABLE) [flags]",
    "",
    "Streams rows through onnxruntime worker threads in large batches and writes one prediction per row",
    "beside its id: to JSONL (CSV when --output ends in .csv), or to a PostgreSQL table. Rows that cannot",
    "be predicted go to the rejects (NAME.rejects.jsonl beside the output, or TABLE_rejects) with the reason.",
    "A row gives each model input by name, or (single input of shape [-1,F]) its F other fields in order.",
    "With --shards N, run N processes (pods) with --shard-index 0..N-1 and one --run-id: each scores its",
    "share, and the last to finish puts the run's output together and writes its summary.",
    "",
    "  --model NAME=PATH         the ONNX model",
    "  --input FILE|URI          .jsonl/.ndjson or .csv; URIs as in fetch (https, s3, gs, pvc, file)",
    "  --input-sql QUERY         a SELECT on PostgreSQL, read in a read-only transaction",
    "  --input-connection DIR    the input database: a mounted Secret (uri, or host, port, dbname, user,",
    "                            password, sslmode); default: the PGHOST, PGUSER, ... environment",
    "  --output FILE|URI         a file, file:// or pvc://CLAIM/path (written in full or not at all)",
    "  --output-table TABLE      a PostgreSQL [schema.]table, created if missing; TABLE_rejects and",
    "                            TABLE_runs beside it; a repeated run id replaces its rows",
    "  --output-connection DIR   the output database (default: --input-connection)",
    "  --rejects FILE|URI        rejected rows as JSONL {line, id, reason, row} (default: beside --output)",
    "  --id-field NAME           the field or column copied to each prediction (default id; for a file,",
    "                            the line number when absent)",
    "  --run-id ID               names the run (default: local- and the time)",
    "  --shards N                shards of the run (default 1)",
    "  --shard-index N           this process's shard, 0..N-1 (default 0)",
    "  --shard-retries N         retries this shard gets (the Job's backoffLimitPerIndex; default 0)",
    "  --shard-failures N        how often this shard failed before (default 0): a failure with no",
    "                            retry left is recorded as the shard's final word",
    "  --batch-size N            rows per inference batch (default 1024; every shard of a run the same)",
    "  --input-format F          jsonl | csv (default: from the input's extension)",
    "  --workers N               inference worker threads (default 1)",
    "  --intra-op-threads N      onnxruntime threads per worker, 0 = one per core (default 0)",
    "  --endpoint URL            S3-compatible endpoint for s3:// input",
    "  --pvc-root DIR            where claims are mounted (default /mnt/pvc)",
    "  --namespace NS            with --deployment: write status.batch.lastRun and an Event",
    "  --deployment NAME         on this ModelDeployment",
    "  --kubeconfig FILE         kubeconfig for the status write (default: in-cluster / KUBECONFIG)",
    "",
    "Exit status: 0 done, 1 failed (worth a retry), 2 bad flags, 3 failed for good (bad SQL, a table",
    "that cannot be written, a wrong password, a model that does not load).",
  ].join("\n"),
  options: {
    model: { type: "string" },
    input: { type: "string" },
    "input-sql": { type: "string" },
    "input-connection": { type: "string" },
    output: { type: "string" },
    "output-table": { type: "string" },
    "output-connection": { type: "string" },
    "id-field": { type: "string" },
    "batch-size": { type: "string" },
    rejects: { type: "string" },
    "input-format": { type: "string" },
    workers: { type: "string" },
    "intra-op-threads": { type: "string" },
    endpoint: { type: "string" },
    "pvc-root": { type: "string" },
    "run-id": { type: "string" },
    shards: { type: "string" },
    "shard-index": { type: "string" },
    "shard-retries": { type: "string" },
    "shard-failures": { type: "string" },
    namespace: { type: "string" },
    deployment: { type: "string" },
    kubeconfig: { type: "string" },
  },
  async run(args) {
    let model;
    try {
      model = parseModelFlag(requiredFlag(args, "model"));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const inputFormat = stringFlag(args, "input-format");
    if (inputFormat !== undefined && inputFormat !== "jsonl" && inputFormat !== "csv") {
      throw new UsageError(`--input-format must be jsonl or csv, got "${inputFormat}"`);
    }
    if ((stringFlag(args, "namespace") === undefined) !== (stringFlag(args, "deployment") === undefined))
      throw new UsageError("--namespace and --deployment go together");
    let shard;
    try {
      shard = checkShard(countFlag(args, "shard-index", 0), intFlag(args, "shards", 1, 1));
    } catch (err) {
      throw new UsageError(`--shard-index/--shards: ${(err as Error).message}`);
    }
    const retries = countFlag(args, "shard-retries", 0);
    const failures = countFlag(args, "shard-failures", 0);
    const given = stringFlag(args, "run-id");
    // the shards of one run find each other by its id: invented ones would never meet
    if (!given && shard.count > 1) throw new UsageError("--run-id is required with --shards above 1");
    const runId = given || `local-${new Date().toISOString().replace(/[:.]/g, "-")}`;

    const log = createLogger({ name: "batch" });
    let inputConnection, outputConnection;
    try {
      inputConnection = connectionFromDir(stringFlag(args, "input-connection"));
      outputConnection =
        stringFlag(args, "output-connection") !== undefined
          ? connectionFromDir(stringFlag(args, "output-connection"))
          : inputConnection;
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const input: InputSpec =
      either(args, "input", "input-sql") === "a"
        ? { file: requiredFlag(args, "input"), ...(inputFormat ? { format: inputFormat } : {}) }
        : { sql: { query: requiredFlag(args, "input-sql"), connection: inputConnection } };
    const rejects = stringFlag(args, "rejects");
    const output: OutputSpec =
      either(args, "output", "output-table") === "a"
        ? { file: requiredFlag(args, "output"), ...(rejects ? { rejects } : {}) }
        : { sql: { table: requiredFlag(args, "output-table"), connection: outputConnection } };

    const startedAt = new Date().toISOString();
    await reportStatus(args, log, (w) => w.running(runningRun(runId, shard.count, startedAt)));
    try {
      const s = await runBatch({
        model,
        input,
        output,
        idField: stringFlag(args, "id-field") ?? "id",
        batchSize: intFlag(args, "batch-size", 1024, 1),
        workers: intFlag(args, "workers", 1, 1),
        intraOpThreads: intFlag(args, "intra-op-threads", 0, 0),
        runId,
        shard,
        finalAttempt: failures >= retries,
        pvcRoot: stringFlag(args, "pvc-root") ?? "/mnt/pvc",
        endpoint: stringFlag(args, "endpoint"),
        env: process.env,
        log,
      });
      process.stdout.write(
        `rows ${s.rows} predicted ${s.predicted} rejected ${s.rejected} in ${s.seconds.toFixed(2)} s (${Math.round(s.rowsPerSec)} rows/s)\n`,
      );
      if (s.run) {
        const run = s.run;
        process.stdout.write(
          `run ${run.runId}: ${run.outcome}, rows ${run.rows} predicted ${run.predicted} rejected ${run.rejected} over ${run.shards} shard(s); output ${run.output}, rejects ${run.rejects}\n`,
        );
        await reportStatus(args, log, (w) => w.finished(finishedRun(run), new Date()));
      }
      return 0;
    } catch (err) {
      const e = err instanceof BatchError ? err : undefined;
      const cause = e?.failure ?? (err as Error);
      const permanent = e?.permanent ?? cause instanceof PermanentError;
      log.error(
        { err: cause.message, runId, shard: shard.index, permanent, final: e?.final ?? true },
        "Failed batch prediction",
      );
      process.stderr.write(`modelship batch: failed: ${cause.message}\n`);
      if (e?.final) {
        const lastRun = finishedRun(
          e.run ?? {
            runId,
            outcome: "Failed",
            shards: shard.count,
            startedAt,
            finishedAt: new Date().toISOString(),
            message: `shard ${shard.index} of ${shard.count}: ${cause.message}`,
          },
        );
        await reportStatus(args, log, (w) => w.finished(lastRun, new Date()));
      }
      return permanent ? EXIT_PERMANENT : 1;
    }
  },
};
