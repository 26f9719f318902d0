// Decides: turns a merged window state and its baseline into the report. Pure (no I/O, no clock).
import { chi2Contingency } from "./chi2.js";
import { checkIntegrity, outOfRangeLimitFor, type IntegrityThresholds } from "./integrity.js";
import { jensenShannonDistance } from "./jsd.js";
import { adjustPValues, type Correction } from "./multiple-testing.js";
import type { Baseline, CategoricalProfile, QualityMetrics } from "./profile.js";
import { psi } from "./psi.js";
import {
  REPORT_FORMAT_VERSION,
  REPORT_KIND,
  type DriftReport,
  type FeatureResult,
  type QualityResult,
} from "./report.js";
import type { FeatureWindow, WindowState } from "./window.js";

export interface Thresholds extends IntegrityThresholds {
  psiThreshold: number;
  pValue: number;
  correction: Correction;
  /** Concept drift when accuracy falls by more than this (absolute) below the baseline's. */
  accuracyDrop: number;
  /** Concept drift when RMSE grows by more than this share over the baseline's. */
  rmseIncrease: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = {
  psiThreshold: 0.2,
  pValue: 0.05,
  correction: "holm",
  missingRateJump: 0.1,
  // undefined: per feature from the baseline's size (integrity.ts, outOfRangeLimit)
  outOfRangeRate: undefined,
  accuracyDrop: 0.05,
  rmseIncrease: 0.2,
};

export interface EvaluateInput {
  model: string;
  window: { since: Date; until: Date };
  baselineUri: string;
  baseline: Baseline;
  state: WindowState;
  thresholds: Thresholds;
  now: Date;
  files?: number;
  /** Feedback events whose inference event was not found (from the join pass). */
  unmatchedFeedback?: number;
}

/** Bins for a categorical feature: the baseline's listed categories, then one "other" bucket. */
export function categoricalTable(p: CategoricalProfile, window: Map<string, number>, overflow: number) {
  const names = Object.keys(p.categories);
  const base = names.map((c) => p.categories[c]!);
  const win = names.map((c) => window.get(c) ?? 0);
  const listed = new Set(names);
  let winOther = overflow;
  const outside: { value: string; count: number }[] = [];
  for (const [c, n] of window) {
    if (!listed.has(c)) {
      winOther += n;
      outside.push({ value: c, count: n });
    }
  }
  base.push(p.otherCount);
  win.push(winOther);
  return { names, base, win, outside: outside.sort((a, b) => b.count - a.count) };
}

interface Pending {
  result: FeatureResult;
  pValue?: number;
}

function evaluateFeature(f: FeatureWindow, th: Thresholds): Pending {
  const p = f.profile;
  const present = f.count - f.missing;
  const result: FeatureResult = {
    name: f.name,
    type: p.type,
    verdict: "not_evaluated",
    count: f.count,
    present,
    missingRate: f.count ? f.missing / f.count : 0,
    baselineMissingRate: p.missingRate,
  };
  if (f.count === 0) return { result: { ...result, reason: "no rows in the window" } };
  if (p.type === "numeric") {
    const numbers = f.types.number;
    result.baselineMean = p.mean;
    if (numbers === 0) return { result: { ...result, reason: "no numeric values in the window" } };
    result.mean = f.sum / numbers;
    result.min = f.min;
    result.max = f.max;
    result.outOfRange = {
      below: f.belowMin,
      above: f.aboveMax,
      rate: (f.belowMin + f.aboveMax) / numbers,
      limit: outOfRangeLimitFor(p, present, th),
    };
    result.psi = psi(p.bins.counts, f.bins!);
    result.jensenShannon = jensenShannonDistance(p.bins.counts, f.bins!);
    const ks = f.grid!.test();
    if (!ks) return { result: { ...result, reason: "the baseline has no reference sample" } };
    result.test = {
      name: "ks",
      statistic: ks.statistic,
      pValue: ks.pValue,
      adjustedPValue: NaN,
      method: ks.method,
      n1: ks.n1,
      n2: ks.n2,
    };
    return { result, pValue: ks.pValue };
  }
  if (p.type === "string")
    return { result: { ...result, reason: "free-text feature: integrity checks only" } };
  const categories = f.categories!;
  const t = categoricalTable(p, categories, f.overflow);
  const n2 = t.win.reduce((a, b) => a + b, 0);
  if (n2 === 0) return { result: { ...result, reason: "no values in the window" } };
  result.psi = psi(t.base, t.win);
  result.jensenShannon = jensenShannonDistance(t.base, t.win);
  result.baselineCategoriesComplete = p.otherCount === 0;
  if (t.outside.length > 0) result.newCategories = t.outside.slice(0, 20);
  const n1 = t.base.reduce((a, b) => a + b, 0);
  const missingCats = t.names.filter((c, i) => t.win[i] === 0 && (t.base[i]! / n1) * n2 >= 5);
  if (missingCats.length > 0) result.missingCategories = missingCats.slice(0, 20);
  const chi = chi2Contingency(t.base, t.win);
  if (!chi) return { result: { ...result, reason: "empty contingency table" } };
  result.test = {
    name: "chi2",
    statistic: chi.statistic,
    pValue: chi.pValue,
    adjustedPValue: NaN,
    dof: chi.dof,
    n1,
    n2,
  };
  return { result, pValue: chi.pValue };
}

function decide(r: FeatureResult, th: Thresholds): void {
  if (!r.test || r.psi === undefined) return;
  const significant = r.test.adjustedPValue < th.pValue;
  const large = r.psi >= th.psiThreshold;
  r.verdict = significant && large ? "drift" : significant || large ? "warn" : "ok";
  if (r.verdict !== "ok") {
    const why = [
      large
        ? `PSI ${r.psi.toFixed(3)} >= ${th.psiThreshold}`
        : `PSI ${r.psi.toFixed(3)} < ${th.psiThreshold}`,
    ];
    why.push(
      `${r.test.name} p(adj) ${r.test.adjustedPValue.toPrecision(3)} ${significant ? "<" : ">="} ${th.pValue}`,
    );
    r.reason = why.join(", ");
  }
}

function evaluateQuality(
  base: QualityMetrics | undefined,
  win: QualityMetrics | undefined,
  th: Thresholds,
  feedback: number,
  unmatched: number,
): QualityResult | undefined {
  if (feedback === 0 && !win) return undefined;
  const q: QualityResult = {
    verdict: "not_evaluated",
    feedbackEvents: feedback,
    unmatched,
    baseline: base,
    window: win,
  };
  if (!win) return { ...q, reason: "no feedback matched an inference event in the window" };
  if (!base)
    return {
      ...q,
      reason: "the baseline has no reference quality (build it with --label-field and --prediction-field)",
    };
  if (base.task !== win.task)
    return { ...q, reason: `task mismatch: baseline ${base.task}, window ${win.task}` };
  if (base.task === "classification") {
    const drop = (base.accuracy ?? 0) - (win.accuracy ?? 0);
    q.verdict = drop > th.accuracyDrop ? "drift" : "ok";
    q.reason = `accuracy ${(win.accuracy ?? 0).toFixed(3)} vs ${(base.accuracy ?? 0).toFixed(3)} in the baseline (n=${win.n})`;
  } else {
    const ratio = (win.rmse ?? 0) / (base.rmse || Number.EPSILON) - 1;
    q.verdict = ratio > th.rmseIncrease ? "drift" : "ok";
    q.reason = `RMSE ${(win.rmse ?? 0).toPrecision(4)} vs ${(base.rmse ?? 0).toPrecision(4)} in the baseline (n=${win.n})`;
  }
  return q;
}

export function evaluate(input: EvaluateInput): DriftReport {
  const { state, baseline, thresholds: th } = input;
  state.flushNumbers();
  const pendings = state.features.map((f) => evaluateFeature(f, th));
  const predPending = state.prediction ? evaluateFeature(state.prediction, th) : undefined;
  const all = predPending ? [...pendings, predPending] : pendings;
  const tested = all.filter((p) => p.pValue !== undefined);
  const adjusted = adjustPValues(
    tested.map((p) => p.pValue!),
    th.correction,
  );
  tested.forEach((p, i) => (p.result.test!.adjustedPValue = adjusted[i]!));
  for (const p of all) decide(p.result, th);

  const integrity = checkIntegrity(state, th);
  const c = state.counters;
  const task =
    baseline.quality?.task ?? (baseline.label?.profile.type === "numeric" ? "regression" : "classification");
  const quality = evaluateQuality(
    baseline.quality,
    state.quality.n > 0 ? state.quality.metrics(task) : undefined,
    th,
    c.feedback,
    input.unmatchedFeedback ?? 0,
  );

  const features = pendings.map((p) => p.result);
  const prediction = predPending?.result;
  const evaluated = all.filter((p) => p.result.verdict !== "not_evaluated");
  const drifted = evaluated.filter((p) => p.result.verdict === "drift");
  const reasons: string[] = [];
  const notEvaluated = all
    .filter((p) => p.result.verdict === "not_evaluated")
    .map((p) => ({ subject: p.result.name, reason: p.result.reason ?? "not evaluated" }));
  if (quality?.verdict === "not_evaluated")
    notEvaluated.push({ subject: "quality", reason: quality.reason ?? "not evaluated" });

  let verdict: DriftReport["verdict"];
  if (c.events === 0 || evaluated.length === 0) {
    verdict = "error";
    if (c.events === 0) {
      reasons.push(
        `no inference events in the window (${c.lines} lines read, ${c.outsideWindow} outside the window, ${c.invalid} invalid${input.files !== undefined ? `, ${input.files} files` : ""})`,
      );
    } else
      reasons.push(
        `no feature could be evaluated (${c.events} events, ${c.withoutFeatures} without features)`,
      );
  } else {
    if (drifted.length > 0) {
      reasons.push(
        `${drifted.length} of ${evaluated.length} features drifted: ${drifted
          .map((p) => p.result.name)
          .slice(0, 5)
          .join(", ")}${drifted.length > 5 ? ", ..." : ""}`,
      );
    }
    if (integrity.length > 0)
      reasons.push(`integrity: ${integrity.length} issue(s): ${integrity[0]!.message}`);
    if (quality?.verdict === "drift") reasons.push(`concept drift: ${quality.reason}`);
    verdict = drifted.length > 0 || integrity.length > 0 || quality?.verdict === "drift" ? "drift" : "ok";
  }

  return {
    apiVersion: "modelship.io/v1alpha1",
    kind: REPORT_KIND,
    formatVersion: REPORT_FORMAT_VERSION,
    model: input.model,
    generatedAt: input.now.toISOString(),
    window: { since: input.window.since.toISOString(), until: input.window.until.toISOString() },
    baseline: { uri: input.baselineUri, createdAt: baseline.createdAt, rows: baseline.source.rows },
    settings: {
      psiThreshold: th.psiThreshold,
      pValue: th.pValue,
      correction: th.correction,
      missingRateJump: th.missingRateJump,
      outOfRangeRate: th.outOfRangeRate ?? "baseline-size",
      accuracyDrop: th.accuracyDrop,
      rmseIncrease: th.rmseIncrease,
    },
    verdict,
    score: evaluated.length ? drifted.length / evaluated.length : 0,
    reasons,
    counts: { ...c, files: input.files },
    features,
    prediction,
    integrity: {
      ok: integrity.length === 0,
      issues: integrity,
      unexpectedFields: [...state.unexpected]
        .map(([name, count]) => ({ name, count }))
        .sort((a, b) => b.count - a.count),
      invalidSamples: state.invalidSamples,
    },
    quality,
    notEvaluated,
  };
}
