import { runBatch } from "../batch/run.js";
import { createLogger } from "../platform/log.js";
import { parseModelFlag } from "../runtime/model-spec.js";
import { ModelLoadError } from "../runtime/pool.js";
import { intFlag, requiredFlag, stringFlag, UsageError, type Command } from "./command.js";

export const command: Command = {
  name: "batch",
  summary: "Run batch predictions over a JSONL or CSV file",
  usage: [
    "Usage: modelship batch --model NAME=PATH --input FILE|URI --output FILE [flags]",
    "",
    "Streams rows through onnxruntime worker threads in large batches and writes one prediction per row",
    "beside its id (JSONL, or CSV when --output ends in .csv). Malformed rows go to --rejects with the reason.",
    "A row gives each model input by name, or (single input of shape [-1,F]) its F other fields in order.",
    "",
    "  --model NAME=PATH      the ONNX model",
    "  --input FILE|URI       .jsonl/.ndjson or .csv; URIs as in fetch (https, s3, gs, pvc, file)",
    "  --output FILE          where predictions go (written to a temp file, renamed when complete)",
    "  --id-field NAME        the row field copied to each prediction (default id; the line number if absent)",
    "  --batch-size N         rows per inference batch (default 1024)",
    "  --rejects FILE         JSONL of rejected rows: {line, reason, row}",
    "  --input-format F       jsonl | csv (default: from the input's extension)",
    "  --workers N            inference worker threads (default 1)",
    "  --intra-op-threads N   onnxruntime threads per worker, 0 = one per core (default 0)",
    "  --endpoint URL         S3-compatible endpoint for s3:// input",
    "  --pvc-root DIR         where claims are mounted (default /mnt/pvc)",
  ].join("\n"),
  options: {
    model: { type: "string" },
    input: { type: "string" },
    output: { type: "string" },
    "id-field": { type: "string" },
    "batch-size": { type: "string" },
    rejects: { type: "string" },
    "input-format": { type: "string" },
    workers: { type: "string" },
    "intra-op-threads": { type: "string" },
    endpoint: { type: "string" },
    "pvc-root": { type: "string" },
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
    const log = createLogger({ name: "batch" });
    try {
      const s = await runBatch({
        model,
        input: requiredFlag(args, "input"),
        output: requiredFlag(args, "output"),
        rejects: stringFlag(args, "rejects"),
        idField: stringFlag(args, "id-field") ?? "id",
        batchSize: intFlag(args, "batch-size", 1024, 1),
        workers: intFlag(args, "workers", 1, 1),
        intraOpThreads: intFlag(args, "intra-op-threads", 0, 0),
        inputFormat,
        pvcRoot: stringFlag(args, "pvc-root") ?? "/mnt/pvc",
        endpoint: stringFlag(args, "endpoint"),
        env: process.env,
        log,
      });
      process.stdout.write(
        `rows ${s.rows} predicted ${s.predicted} rejected ${s.rejected} in ${s.seconds.toFixed(2)} s (${Math.round(s.rowsPerSec)} rows/s)\n`,
      );
      return 0;
    } catch (err) {
      const what = err instanceof ModelLoadError ? `failed to load model ${err.key}` : "failed";
      log.error({ err: (err as Error).message }, "Failed batch prediction");
      process.stderr.write(`modelship batch: ${what}: ${(err as Error).message}\n`);
      return 1;
    }
  },
};
