// One timed drift run in its own process (so peak RSS is this run's alone). Prints a JSON line.
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { DEFAULT_THRESHOLDS } from "../../src/drift/evaluate.js";
import { runDriftJob } from "../../src/drift/job.js";
import { parseEventSource } from "../../src/drift/sources.js";
import { createLogger } from "../../src/platform/log.js";

const { values } = parseArgs({
  options: {
    baseline: { type: "string" },
    events: { type: "string" },
    model: { type: "string" },
    until: { type: "string" },
    window: { type: "string" },
    workers: { type: "string" },
    out: { type: "string" },
  },
});
const until = new Date(values.until!);
const windowMs = Number(values.window) * 1000;
const started = performance.now();
const report = await runDriftJob({
  baselineUri: values.baseline!,
  events: parseEventSource(values.events!),
  model: values.model ?? "bench",
  window: { since: new Date(until.getTime() - windowMs), until },
  thresholds: DEFAULT_THRESHOLDS,
  workers: Number(values.workers ?? 2),
  log: createLogger({ name: "bench", level: "warn" }),
  now: () => until,
});
const seconds = (performance.now() - started) / 1000;
if (values.out) writeFileSync(values.out, JSON.stringify(report));
process.stdout.write(
  JSON.stringify({
    events: report.counts.events,
    seconds,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    verdict: report.verdict,
    invalid: report.counts.invalid,
  }) + "\n",
);
