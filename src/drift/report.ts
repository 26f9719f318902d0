// The drift report: its types (documented in docs/drift.md) and the short human summary.
import type { QualityMetrics } from "./profile.js";
import type { WindowCounters } from "./window.js";

export const REPORT_KIND = "DriftReport";
export const REPORT_FORMAT_VERSION = 1;

export type Verdict = "ok" | "drift" | "error";
export type FeatureVerdict = "ok" | "warn" | "drift" | "not_evaluated";

export interface TestResult {
  name: "ks" | "chi2";
  statistic: number;
  pValue: number;
  /** After the multiple-testing correction over every test in the report. */
  adjustedPValue: number;
  method?: "exact" | "asymp";
  dof?: number;
  /** Sample sizes: the baseline reference and the window. */
  n1: number;
  n2: number;
}

export interface FeatureResult {
  name: string;
  type: string;
  verdict: FeatureVerdict;
  reason?: string;
  /** Rows in the window, present values, and missing ones. */
  count: number;
  present: number;
  missingRate: number;
  baselineMissingRate: number;
  psi?: number;
  jensenShannon?: number;
  test?: TestResult;
  mean?: number;
  baselineMean?: number;
  min?: number;
  max?: number;
  /** Values below/above the baseline's range, their share, and the share that is flagged. */
  outOfRange?: { below: number; above: number; rate: number; limit: number };
  newCategories?: { value: string; count: number }[];
  /** True when the baseline lists every category it saw (so "new" really means never seen). */
  baselineCategoriesComplete?: boolean;
  missingCategories?: string[];
}

export interface IntegrityIssue {
  kind:
    | "missing_field"
    | "unexpected_field"
    | "type_change"
    | "out_of_range"
    | "missing_rate_jump"
    | "invalid_events";
  field?: string;
  message: string;
}

export interface QualityResult {
  verdict: FeatureVerdict;
  reason?: string;
  baseline?: QualityMetrics;
  window?: QualityMetrics;
  feedbackEvents: number;
  /** Feedback whose inference event was not found in the window. */
  unmatched: number;
}

export interface DriftReport {
  apiVersion: "modelship.io/v1alpha1";
  kind: typeof REPORT_KIND;
  formatVersion: typeof REPORT_FORMAT_VERSION;
  model: string;
  generatedAt: string;
  window: { since: string; until: string };
  baseline: { uri: string; createdAt?: string; rows?: number };
  settings: {
    psiThreshold: number;
    pValue: number;
    correction: string;
    missingRateJump: number;
    /** The --out-of-range-rate given, or "baseline-size": a limit per feature (features[].outOfRange.limit). */
    outOfRangeRate: number | "baseline-size";
    accuracyDrop: number;
    rmseIncrease: number;
  };
  verdict: Verdict;
  /** Share of evaluated features (and the prediction) whose verdict is drift, 0..1. */
  score: number;
  reasons: string[];
  counts: WindowCounters & { files?: number };
  features: FeatureResult[];
  prediction?: FeatureResult;
  integrity: {
    ok: boolean;
    issues: IntegrityIssue[];
    unexpectedFields: { name: string; count: number }[];
    invalidSamples: string[];
  };
  quality?: QualityResult;
  notEvaluated: { subject: string; reason: string }[];
  durationMs?: number;
}

const fmt = (x: number | undefined, digits = 3): string =>
  x === undefined || Number.isNaN(x) ? "-" : x.toPrecision(digits);

/** A few lines for a terminal or a job log. */
export function summarize(r: DriftReport): string {
  const lines: string[] = [];
  lines.push(
    `Drift report for ${r.model}, ${r.window.since} .. ${r.window.until}: ${r.verdict.toUpperCase()} (score ${fmt(r.score)})`,
  );
  lines.push(
    `  events ${r.counts.events}, rows ${r.counts.rows}, failed ${r.counts.failed}, invalid ${r.counts.invalid}, feedback ${r.counts.feedback}`,
  );
  for (const reason of r.reasons) lines.push(`  - ${reason}`);
  const shown = [...r.features, ...(r.prediction ? [r.prediction] : [])]
    .filter((f) => f.verdict === "drift" || f.verdict === "warn")
    .sort((a, b) => (b.psi ?? 0) - (a.psi ?? 0))
    .slice(0, 10);
  if (shown.length > 0) {
    lines.push("  feature                      verdict  psi      p(adj)");
    for (const f of shown) {
      lines.push(
        `  ${f.name.padEnd(28).slice(0, 28)} ${f.verdict.padEnd(8)} ${fmt(f.psi).padEnd(8)} ${fmt(f.test?.adjustedPValue)}`,
      );
    }
  }
  for (const n of r.notEvaluated.slice(0, 5)) lines.push(`  not evaluated: ${n.subject}: ${n.reason}`);
  return lines.join("\n");
}
