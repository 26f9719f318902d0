import { z } from "zod";
import { cronSchedule, dnsLabel, duration, uri, uriRule } from "./common.js";
import { withRules } from "./rules.js";

export const Logging = z
  .object({
    enabled: z
      .boolean()
      .default(true)
      .describe("Run the inference logger sidecar that records every request."),
    sampleRate: z
      .number()
      .min(0)
      .max(1)
      .default(1)
      .describe("Fraction of successful requests logged; errors always are."),
    redact: z
      .array(z.string().max(256))
      .max(64)
      .optional()
      .describe("Field paths replaced by a redaction marker, e.g. features.ssn or request.inputs.email."),
    headers: z.array(z.string().max(256)).max(32).optional().describe("Request headers copied into events."),
    maxPayloadBytes: z
      .number()
      .int()
      .min(1024)
      .max(16777216)
      .default(65536)
      .describe("Larger inputs/outputs are truncated in the event, with a marker."),
    sink: z
      .string()
      .max(1024)
      .optional()
      .describe(
        "Where events go: http://collector:9090, file:///dir or stdout:. Defaults to the controller's.",
      ),
  })
  .describe("Inference event logging.");

export const Drift = withRules(
  z.object({
    schedule: cronSchedule,
    baselineUri: uri.describe("Training-data profile written by `modelship baseline`."),
    window: duration.default("1h").describe("How much recent traffic each run evaluates."),
    psiThreshold: z.number().min(0).max(10).default(0.2).describe("PSI above this flags a feature."),
    pValue: z
      .number()
      .min(0)
      .max(1)
      .default(0.05)
      .describe("Significance level after multiple-testing correction."),
    action: z
      .enum(["alert", "rollback"])
      .default("alert")
      .describe("alert: condition, event, metric; rollback: also roll back to the previous revision."),
    timeZone: z.string().max(64).optional(),
  }),
  [
    uriRule("baselineUri", "spec.monitoring.drift.baselineUri", (d) => d.baselineUri),
    {
      cel: "self.pValue > 0.0",
      check: (d) => d.pValue > 0,
      message: "spec.monitoring.drift.pValue must be > 0 (e.g. 0.05)",
      field: ["pValue"],
    },
  ],
).describe("Scheduled drift evaluation against a training baseline.");

export const Review = withRules(
  z.object({
    threshold: z
      .number()
      .min(0)
      .max(1)
      .describe(
        "A prediction whose top class probability is below this is marked for human review (e.g. 0.6).",
      ),
    sampleRate: z
      .number()
      .min(0)
      .max(1)
      .default(1)
      .describe("Fraction of the low-confidence predictions that are marked (the rest are not queued)."),
    output: z
      .string()
      .min(1)
      .max(256)
      .default("probabilities")
      .describe("The output tensor holding the class probabilities, one row per prediction."),
  }),
  [
    {
      cel: "self.threshold > 0.0 && self.threshold <= 1.0",
      check: (r) => r.threshold > 0 && r.threshold <= 1,
      message:
        "spec.monitoring.review.threshold must be a probability in (0, 1], e.g. 0.6: predictions less sure than this are reviewed",
      field: ["threshold"],
    },
    {
      cel: "self.sampleRate > 0.0",
      check: (r) => r.sampleRate > 0,
      message:
        "spec.monitoring.review.sampleRate must be > 0 (1 queues every low-confidence prediction); remove spec.monitoring.review to turn review off",
      field: ["sampleRate"],
    },
  ],
).describe(
  "Human review: low-confidence predictions are marked in their events and queued in the collector; a reviewer's label becomes a feedback event.",
);

export const Monitoring = z
  .object({
    drift: Drift.optional(),
    review: Review.optional(),
    feedback: z
      .object({ enabled: z.boolean().default(false).describe("Accept ground truth at POST /v2/feedback.") })
      .optional(),
  })
  .describe("Model health monitoring.");

/**
 * A PostgreSQL table as an unquoted name means it: lower-case letters, digits and _, optionally
 * schema-qualified. 55 characters per part leave room for the _rejects suffix within PostgreSQL's 63.
 */
export const sqlTablePattern = /^[a-z_][a-z0-9_]{0,54}([.][a-z_][a-z0-9_]{0,54})?$/;

const connectionSecret = (field: string) =>
  dnsLabel(field).describe(
    "Secret holding the PostgreSQL connection: the key uri (postgresql://user:password@host:5432/db), or the keys host, port, dbname, user, password and sslmode (what CloudNativePG's and Crunchy PGO's app Secrets hold).",
  );

export const BatchSqlInput = z
  .object({
    query: z
      .string()
      .min(1)
      .max(65536)
      .describe(
        "A SELECT (or VALUES) whose rows are scored, each row giving the model inputs by name or as feature columns. It runs in a read-only transaction.",
      ),
    connectionSecret: connectionSecret("spec.batch.input.sql.connectionSecret"),
    idColumn: z
      .string()
      .min(1)
      .max(63)
      .default("id")
      .describe("The column copied beside each prediction; shards split the rows on it. Must not be null."),
  })
  .describe("Rows from a SQL query on PostgreSQL.");

export const BatchSqlOutput = withRules(
  z.object({
    table: z
      .string()
      .min(1)
      .max(111)
      .describe(
        "Where predictions go (created if missing): one row per prediction with run_id and the id column; TABLE_rejects and TABLE_runs beside it. A run that is repeated replaces its rows.",
      ),
    connectionSecret: connectionSecret("spec.batch.output.sql.connectionSecret")
      .optional()
      .describe("The output database's Secret; defaults to spec.batch.input.sql.connectionSecret."),
  }),
  [
    {
      // a rule rather than a pattern: the API server then says what a name may hold, not a regular expression
      cel: `self.table.matches('${sqlTablePattern.source}')`,
      check: (o) => sqlTablePattern.test(o.table),
      message:
        "spec.batch.output.sql.table must be TABLE or SCHEMA.TABLE in lower-case letters, digits and _ (at most 55 each)",
      field: ["table"],
    },
  ],
).describe("Predictions written to a PostgreSQL table.");

export const Batch = withRules(
  z.object({
    schedule: cronSchedule,
    inputUri: uri
      .optional()
      .describe("JSONL or CSV rows to score (https, s3, gs, pvc or file); or input.sql."),
    input: z.object({ sql: BatchSqlInput }).optional().describe("Rows from a database instead of inputUri."),
    outputUri: uri
      .optional()
      .describe(
        "Where predictions go: pvc://CLAIM/path or file:// (tests); rejected rows beside it (NAME.rejects.jsonl), and the run's summary (NAME.summary.json). Or output.sql.",
      ),
    output: z
      .object({ sql: BatchSqlOutput })
      .optional()
      .describe("Predictions to a database table instead of outputUri."),
    credentialsSecret: dnsLabel("spec.batch.credentialsSecret")
      .optional()
      .describe(
        "Secret whose keys become environment variables of the batch container (e.g. AWS_ACCESS_KEY_ID for an s3:// or gs:// inputUri). Defaults to spec.model.credentialsSecret.",
      ),
    timeZone: z.string().max(64).optional(),
    batchSize: z.number().int().min(1).max(65536).default(256),
    shards: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(1)
      .describe(
        "Pods a run is split over (an Indexed Job's completions); each scores its share and the last to finish writes the run's summary.",
      ),
    parallelism: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .optional()
      .describe("How many shards run at once (default: all of them)."),
    retriesPerShard: z
      .number()
      .int()
      .min(0)
      .max(10)
      .default(2)
      .describe("How often a failed shard is retried, alone (the Job's backoffLimitPerIndex)."),
    activeDeadlineSeconds: z
      .number()
      .int()
      .min(60)
      .max(604800)
      .default(3600)
      .describe("A run still going after this long is stopped and counted as failed."),
  }),
  [
    {
      cel: "has(self.inputUri) != has(self.input)",
      check: (b) => (b.inputUri === undefined) !== (b.input === undefined),
      message: "spec.batch needs exactly one input: inputUri (a JSONL or CSV file) or input.sql (a query)",
    },
    {
      cel: "has(self.outputUri) != has(self.output)",
      check: (b) => (b.outputUri === undefined) !== (b.output === undefined),
      message: "spec.batch needs exactly one output: outputUri (a file on a claim) or output.sql (a table)",
    },
    uriRule("inputUri", "spec.batch.inputUri", (b) => b.inputUri),
    {
      cel: "!has(self.outputUri) || self.outputUri.startsWith('pvc://') || self.outputUri.startsWith('file://')",
      check: (b) =>
        b.outputUri === undefined || b.outputUri.startsWith("pvc://") || b.outputUri.startsWith("file://"),
      message: "spec.batch.outputUri must be pvc://CLAIM/path (or file:// in tests)",
      field: ["outputUri"],
    },
    {
      cel: "!has(self.output) || has(self.output.sql.connectionSecret) || has(self.input)",
      check: (b) =>
        b.output === undefined || b.output.sql.connectionSecret !== undefined || b.input !== undefined,
      message:
        "spec.batch.output.sql.connectionSecret is required when the input is not SQL (it defaults to input.sql.connectionSecret)",
      field: ["output"],
    },
    {
      cel: "!has(self.parallelism) || self.parallelism <= self.shards",
      check: (b) => b.parallelism === undefined || b.parallelism <= b.shards,
      message:
        "spec.batch.parallelism must be <= spec.batch.shards (more pods than shards would have nothing to do)",
      field: ["parallelism"],
    },
  ],
).describe("Scheduled batch prediction.");
