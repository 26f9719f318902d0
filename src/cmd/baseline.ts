import { readFile, writeFile } from "node:fs/promises";
import yaml from "js-yaml";
import { FeatureSchema } from "../events/schema.js";
import { buildBaseline, DEFAULTS } from "../drift/baseline-builder.js";
import { formatOf, readTable } from "../drift/table-reader.js";
import { createLogger } from "../platform/log.js";
import { intFlag, requiredFlag, stringFlag, UsageError, type Command } from "./command.js";

const usage = `Usage: modelship baseline --data FILE --out FILE [flags]

Profiles training (or validation) data for drift detection: per feature its type, quantile bins,
a bounded reference sample, category frequencies, missing rate and range; model outputs and labels
when named, and reference quality when both are.

Flags:
  --data FILE               training data: .csv (header row) or .jsonl/.ndjson, optionally .gz
  --out FILE                where to write the baseline JSON
  --schema FILE             feature types (JSON or YAML): [{name, type}] or {features: [...]}
                            with type numeric|categorical|boolean|string; others are inferred
  --label-field NAME        the ground-truth column
  --prediction-field NAME   the model-output column
  --sample-size N           reference sample per numeric feature (default ${DEFAULTS.sampleSize})
  --bins N                  quantile bins per numeric feature (default ${DEFAULTS.bins})
  --top-k N                 categories kept per categorical feature (default ${DEFAULTS.topK})`;

async function readSchema(file: string): Promise<FeatureSchema> {
  let raw: unknown;
  try {
    raw = yaml.load(await readFile(file, "utf8"));
  } catch (err) {
    throw new UsageError(`--schema ${file}: ${(err as Error).message}`);
  }
  const list = Array.isArray(raw) ? raw : (raw as { features?: unknown } | null)?.features;
  const r = FeatureSchema.safeParse(list);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new UsageError(
      `--schema ${file}: ${i?.path.join(".") || "(root)"}: ${i?.message ?? "invalid"}; expected [{name, type: numeric|categorical|boolean|string}]`,
    );
  }
  return r.data;
}

export const command: Command = {
  name: "baseline",
  summary: "Profile training data into a drift baseline",
  usage,
  options: {
    data: { type: "string" },
    out: { type: "string" },
    schema: { type: "string" },
    "label-field": { type: "string" },
    "prediction-field": { type: "string" },
    "sample-size": { type: "string" },
    bins: { type: "string" },
    "top-k": { type: "string" },
  },
  async run(args) {
    const log = createLogger({ name: "baseline" });
    const data = requiredFlag(args, "data");
    const out = requiredFlag(args, "out");
    let format;
    try {
      format = formatOf(data);
    } catch (err) {
      throw new UsageError(`--data: ${(err as Error).message}`);
    }
    const schemaFile = stringFlag(args, "schema");
    const schema = schemaFile === undefined ? undefined : await readSchema(schemaFile);
    const opts = {
      sampleSize: intFlag(args, "sample-size", DEFAULTS.sampleSize, 1),
      bins: intFlag(args, "bins", DEFAULTS.bins, 1),
      topK: intFlag(args, "top-k", DEFAULTS.topK, 1),
      labelField: stringFlag(args, "label-field"),
      predictionField: stringFlag(args, "prediction-field"),
      schema,
    };
    try {
      const baseline = await buildBaseline(
        () => readTable(data, format),
        { file: data.split("/").pop()!, format },
        opts,
      );
      await writeFile(out, JSON.stringify(baseline) + "\n");
      log.info(
        {
          out,
          rows: baseline.source.rows,
          features: Object.keys(baseline.features).length,
          quality: baseline.quality,
        },
        "Wrote baseline",
      );
      return 0;
    } catch (err) {
      log.error({ err, data }, "Failed to build baseline");
      process.stderr.write(`modelship baseline: ${(err as Error).message}\n`);
      return 1;
    }
  },
};
