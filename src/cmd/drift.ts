import { writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { DEFAULT_THRESHOLDS, type Thresholds } from "../drift/evaluate.js";
import { runDriftJob } from "../drift/job.js";
import { pushMetrics, writeMetricsFile } from "../drift/metrics.js";
import { CORRECTIONS, type Correction } from "../drift/multiple-testing.js";
import { summarize } from "../drift/report.js";
import { parseEventSource } from "../drift/sources.js";
import { writeDriftStatus } from "../drift/status-writer.js";
import { storeReport } from "../drift/store-report.js";
import { readTokenFile } from "../events/token.js";
import { parseDuration } from "../drift/duration.js";
import { createLogger } from "../platform/log.js";
import { onShutdown } from "../platform/shutdown.js";
import { intFlag, numberFlag, requiredFlag, stringFlag, UsageError, type Command } from "./command.js";

const usage = `Usage: modelship drift --baseline URI --events DIR|FILE|URL --model NAME --out FILE [flags]

Evaluates the window's logged inference events against a training baseline: PSI, two-sample
Kolmogorov-Smirnov and Jensen-Shannon for numeric features, chi-square, PSI and new/missing
categories for categorical ones, integrity checks, prediction drift and, with feedback events,
concept drift. Writes a JSON report and prints a short summary.

Flags:
  --baseline URI          baseline from 'modelship baseline': a path, file://, https:// or s3://
  --events DIR|FILE|URL   collector directory (DIR/<model>/<YYYY-MM-DD>/<HH>/*.ndjson[.gz]),
                          one NDJSON file, or the collector's URL (GET /v1/events); or the
                          Parquet archive (DIR/model=<model>/date=/hour=/*.parquet, one .parquet
                          file, or s3://BUCKET[/PREFIX] with AWS_* credentials), read with DuckDB
                          (docs/parquet.md)
  --model NAME            the model whose events to read
  --out FILE              where to write the JSON report
  --window DURATION       how much recent traffic to evaluate (default 1h; e.g. 30m, 6h, 1d)
  --until RFC3339         end of the window (default now)
  --psi-threshold X       PSI at or above this flags a feature (default ${DEFAULT_THRESHOLDS.psiThreshold})
  --p-value X             significance level after correction (default ${DEFAULT_THRESHOLDS.pValue})
  --correction M          holm|bonferroni|bh (default ${DEFAULT_THRESHOLDS.correction})
  --missing-rate-jump X   integrity: missing-rate increase that is flagged (default ${DEFAULT_THRESHOLDS.missingRateJump})
  --out-of-range-rate X   integrity: share outside the training range that is flagged (default: per
                          feature from the baseline's size, at least 0.01; see docs/drift.md)
  --accuracy-drop X       concept drift: accuracy drop that is flagged (default ${DEFAULT_THRESHOLDS.accuracyDrop})
  --rmse-increase X       concept drift: relative RMSE increase that is flagged (default ${DEFAULT_THRESHOLDS.rmseIncrease})
  --workers N             worker threads (default: CPU count; 0 runs inline)
  --metrics-file FILE     write Prometheus metrics in text format
  --pushgateway URL       push Prometheus metrics to a Pushgateway
  --namespace NS          with --deployment: write status.drift, the DriftDetected condition
  --deployment NAME       and an Event on this ModelDeployment
  --kubeconfig FILE       kubeconfig for the status write (default: in-cluster / KUBECONFIG)
  --report-url URL        also POST the report to the collector at URL (kept there; its address becomes
                          status.drift.reportRef)
  --report-ref URI        where the report is kept, for the status (overrides the --report-url address)
  --collector-token-file FILE  bearer token for the collector (--events URL and --report-url)
  --s3-endpoint URL       S3-compatible endpoint for an s3:// baseline or --events s3://

Exit codes: 0 the window was evaluated (verdict ok or drift), 1 it could not be (verdict error),
2 bad flags.`;

function fraction(args: Parameters<Command["run"]>[0], name: string, fallback: number): number {
  const v = numberFlag(args, name, fallback);
  if (v < 0 || v > 1) throw new UsageError(`--${name} must be between 0 and 1, got ${v}`);
  return v;
}

export const command: Command = {
  name: "drift",
  summary: "Evaluate drift of logged inference events against a baseline",
  usage,
  options: {
    baseline: { type: "string" },
    events: { type: "string" },
    model: { type: "string" },
    out: { type: "string" },
    window: { type: "string" },
    until: { type: "string" },
    "psi-threshold": { type: "string" },
    "p-value": { type: "string" },
    correction: { type: "string" },
    "missing-rate-jump": { type: "string" },
    "out-of-range-rate": { type: "string" },
    "accuracy-drop": { type: "string" },
    "rmse-increase": { type: "string" },
    workers: { type: "string" },
    "metrics-file": { type: "string" },
    pushgateway: { type: "string" },
    namespace: { type: "string" },
    deployment: { type: "string" },
    kubeconfig: { type: "string" },
    "report-ref": { type: "string" },
    "report-url": { type: "string" },
    "collector-token-file": { type: "string" },
    "s3-endpoint": { type: "string" },
  },
  async run(args) {
    const baselineUri = requiredFlag(args, "baseline");
    const events = parseEventSource(requiredFlag(args, "events"));
    const tokenFile = stringFlag(args, "collector-token-file");
    // read once at start: a job lives minutes, a rotation keeps the old token valid meanwhile
    let token: string | undefined;
    if (tokenFile !== undefined) {
      try {
        token = await readTokenFile(tokenFile);
      } catch (err) {
        throw new UsageError(`--collector-token-file: ${(err as Error).message}`);
      }
      if (events.kind === "url") events.token = token;
    }
    const model = requiredFlag(args, "model");
    const out = requiredFlag(args, "out");
    let windowMs: number;
    try {
      windowMs = parseDuration(stringFlag(args, "window") ?? "1h");
    } catch (err) {
      throw new UsageError(`--window: ${(err as Error).message}`);
    }
    const untilText = stringFlag(args, "until");
    const until = untilText === undefined ? new Date() : new Date(untilText);
    if (Number.isNaN(until.getTime()))
      throw new UsageError(`--until must be an RFC 3339 time, got "${untilText}"`);
    const correction = (stringFlag(args, "correction") ?? DEFAULT_THRESHOLDS.correction) as Correction;
    if (!CORRECTIONS.includes(correction))
      throw new UsageError(`--correction must be one of ${CORRECTIONS.join(", ")}, got "${correction}"`);
    const psiThreshold = numberFlag(args, "psi-threshold", DEFAULT_THRESHOLDS.psiThreshold);
    if (psiThreshold < 0) throw new UsageError(`--psi-threshold must be >= 0, got ${psiThreshold}`);
    const thresholds: Thresholds = {
      psiThreshold,
      pValue: fraction(args, "p-value", DEFAULT_THRESHOLDS.pValue),
      correction,
      missingRateJump: fraction(args, "missing-rate-jump", DEFAULT_THRESHOLDS.missingRateJump),
      ...(stringFlag(args, "out-of-range-rate") === undefined
        ? {}
        : { outOfRangeRate: fraction(args, "out-of-range-rate", 0) }),
      accuracyDrop: fraction(args, "accuracy-drop", DEFAULT_THRESHOLDS.accuracyDrop),
      rmseIncrease: numberFlag(args, "rmse-increase", DEFAULT_THRESHOLDS.rmseIncrease),
    };
    const workers = intFlag(args, "workers", Math.max(1, availableParallelism()), 0);
    const namespace = stringFlag(args, "namespace");
    const deployment = stringFlag(args, "deployment");
    if ((namespace === undefined) !== (deployment === undefined))
      throw new UsageError("--namespace and --deployment go together");

    const log = createLogger({ name: "drift" });
    const { signal } = onShutdown(log);
    const report = await runDriftJob({
      baselineUri,
      events,
      model,
      window: { since: new Date(until.getTime() - windowMs), until },
      thresholds,
      workers,
      log,
      now: () => new Date(),
      endpoint: stringFlag(args, "s3-endpoint"),
      env: process.env,
      signal,
    });
    const reportText = JSON.stringify(report, null, 2) + "\n";
    await writeFile(out, reportText);
    process.stdout.write(summarize(report) + "\n");
    log.info(
      { out, verdict: report.verdict, score: report.score, durationMs: report.durationMs },
      "Wrote drift report",
    );

    let failed = report.verdict === "error";
    const metricsFile = stringFlag(args, "metrics-file");
    if (metricsFile) await writeMetricsFile(report, metricsFile);
    const gateway = stringFlag(args, "pushgateway");
    if (gateway) {
      try {
        await pushMetrics(report, gateway);
      } catch (err) {
        log.error({ err, gateway }, "Failed to push metrics");
        failed = true;
      }
    }
    let reportRef = stringFlag(args, "report-ref");
    const reportUrl = stringFlag(args, "report-url");
    if (reportUrl) {
      try {
        const stored = await storeReport(reportUrl, reportText, signal, token);
        reportRef ??= stored;
        log.info({ reportRef: stored }, "Stored drift report");
      } catch (err) {
        log.error({ err, reportUrl }, "Failed to store drift report");
        failed = true;
      }
    }
    if (namespace !== undefined && deployment !== undefined) {
      try {
        await writeDriftStatus(
          report,
          {
            namespace,
            name: deployment,
            kubeconfig: stringFlag(args, "kubeconfig"),
            reportRef,
          },
          log,
          new Date(),
        );
      } catch (err) {
        log.error({ err, namespace, modelDeployment: deployment }, "Failed to write drift status");
        failed = true;
      }
    }
    return failed ? 1 : 0;
  },
};
