// Prometheus metrics for a drift run. A CronJob is not scraped, so the registry is written as a text
// file (for node-exporter's textfile collector or a sidecar) and/or pushed to a Pushgateway.
import { writeFile } from "node:fs/promises";
import { Gauge } from "prom-client";
import { request } from "undici";
import { createRegistry } from "../platform/metrics.js";
import type { DriftReport } from "./report.js";

export function driftRegistry(report: DriftReport) {
  const registry = createRegistry("drift", { defaultMetrics: false });
  const model = report.model;
  const verdict = new Gauge({
    name: "modelship_drift_verdict",
    help: "1 for the verdict of the last run (ok, drift, error)",
    labelNames: ["model", "verdict"],
    registers: [registry],
  });
  for (const v of ["ok", "drift", "error"]) verdict.set({ model, verdict: v }, report.verdict === v ? 1 : 0);
  new Gauge({
    name: "modelship_drift_score",
    help: "Share of evaluated features that drifted",
    labelNames: ["model"],
    registers: [registry],
  }).set({ model }, report.score);
  new Gauge({
    name: "modelship_drift_last_run_timestamp_seconds",
    help: "When the last drift run finished",
    labelNames: ["model"],
    registers: [registry],
  }).set({ model }, Date.parse(report.generatedAt) / 1000);
  const events = new Gauge({
    name: "modelship_drift_window_events",
    help: "Events in the evaluated window by kind",
    labelNames: ["model", "kind"],
    registers: [registry],
  });
  for (const k of ["events", "rows", "failed", "invalid", "feedback", "outsideWindow"] as const)
    events.set({ model, kind: k }, report.counts[k]);
  const psi = new Gauge({
    name: "modelship_drift_feature_psi",
    help: "Population Stability Index per feature",
    labelNames: ["model", "feature"],
    registers: [registry],
  });
  const p = new Gauge({
    name: "modelship_drift_feature_p_value",
    help: "Adjusted p-value of the feature's two-sample test",
    labelNames: ["model", "feature", "test"],
    registers: [registry],
  });
  const drifted = new Gauge({
    name: "modelship_drift_feature_drifted",
    help: "1 when the feature's verdict is drift",
    labelNames: ["model", "feature"],
    registers: [registry],
  });
  for (const f of [...report.features, ...(report.prediction ? [report.prediction] : [])]) {
    if (f.psi !== undefined && Number.isFinite(f.psi)) psi.set({ model, feature: f.name }, f.psi);
    if (f.test) p.set({ model, feature: f.name, test: f.test.name }, f.test.adjustedPValue);
    drifted.set({ model, feature: f.name }, f.verdict === "drift" ? 1 : 0);
  }
  new Gauge({
    name: "modelship_drift_integrity_issues",
    help: "Integrity issues found in the window",
    labelNames: ["model"],
    registers: [registry],
  }).set({ model }, report.integrity.issues.length);
  const q = report.quality?.window;
  if (q) {
    const g = new Gauge({
      name: "modelship_drift_quality",
      help: "Model quality on feedback in the window",
      labelNames: ["model", "metric"],
      registers: [registry],
    });
    for (const k of ["accuracy", "precision", "recall", "f1", "rmse", "mae"] as const)
      if (q[k] !== undefined) g.set({ model, metric: k }, q[k]);
  }
  return registry;
}

export async function writeMetricsFile(report: DriftReport, file: string): Promise<void> {
  await writeFile(file, await driftRegistry(report).metrics());
}

export async function pushMetrics(report: DriftReport, gateway: string): Promise<void> {
  const registry = driftRegistry(report);
  const url = `${gateway.replace(/\/$/, "")}/metrics/job/modelship-drift/model/${encodeURIComponent(report.model)}`;
  const res = await request(url, {
    method: "PUT",
    body: await registry.metrics(),
    headers: { "content-type": registry.contentType },
  });
  await res.body.dump();
  if (res.statusCode >= 300) throw new Error(`Pushgateway ${url} answered ${res.statusCode}`);
}
