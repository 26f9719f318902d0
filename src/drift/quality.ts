// Model quality from (ground truth, prediction) pairs: accuracy / precision / recall / F1 for
// classification, RMSE / MAE for regression. Used for the baseline's reference quality and for concept
// drift when feedback events exist. Binary labels (0/1, true/false) with probability predictions are
// thresholded at 0.5; binary tasks report precision/recall/F1 of class "1", multi-class ones the macro
// average (classes with no predictions or no support score 0, as scikit-learn's zero_division=0).
import type { QualityMetrics } from "./profile.js";

/** Class label as a string: booleans become "1"/"0" so true/false and 1/0 labels compare equal. */
export function classLabel(v: unknown): string | undefined {
  if (typeof v === "boolean") return v ? "1" : "0";
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  if (typeof v === "string") {
    const l = v.trim().toLowerCase();
    if (l === "true") return "1";
    if (l === "false") return "0";
    return v.trim();
  }
  if (Array.isArray(v) && v.length === 1) return classLabel(v[0]);
  return undefined;
}

function numeric(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  if (Array.isArray(v) && v.length === 1) return numeric(v[0]);
  return undefined;
}

/**
 * The class a row of class probabilities predicts (its argmax index), so a classifier whose first output
 * is the probabilities (e.g. [0.1, 0.7, 0.2] -> 1) is scored against class-index labels. Undefined for
 * anything that is not 2+ probabilities summing to 1.
 */
export function probabilityClass(v: unknown): number | undefined {
  if (!Array.isArray(v) || v.length < 2) return undefined;
  let sum = 0;
  let best = 0;
  for (let i = 0; i < v.length; i++) {
    const p = v[i] as unknown;
    if (typeof p !== "number" || !(p >= 0 && p <= 1)) return undefined;
    sum += p;
    if (p > (v[best] as number)) best = i;
  }
  return Math.abs(sum - 1) <= 1e-3 ? best : undefined;
}

const MAX_CLASSES = 1000;

export interface QualityState {
  confusion: [string, string, number][];
  n: number;
  regN: number;
  sse: number;
  sae: number;
  overflow: boolean;
}

export class QualityAccumulator {
  private confusion = new Map<string, number>();
  private classes = new Set<string>();
  n = 0;
  regN = 0;
  sse = 0;
  sae = 0;
  overflow = false;

  add(truth: unknown, predicted: unknown): void {
    this.n++;
    const prediction = probabilityClass(predicted) ?? predicted;
    const t = numeric(truth);
    const p = numeric(prediction);
    if (t !== undefined && p !== undefined) {
      this.regN++;
      this.sse += (t - p) * (t - p);
      this.sae += Math.abs(t - p);
    }
    const tl = classLabel(truth);
    let pl = classLabel(prediction);
    if ((tl === "0" || tl === "1") && typeof p === "number" && !Number.isInteger(p) && p >= 0 && p <= 1)
      pl = p >= 0.5 ? "1" : "0";
    if (tl === undefined || pl === undefined) return;
    if (!this.classes.has(tl) || !this.classes.has(pl)) {
      if (this.classes.size >= MAX_CLASSES) {
        this.overflow = true;
        return;
      }
      this.classes.add(tl);
      this.classes.add(pl);
    }
    const key = `${tl}\u0000${pl}`;
    this.confusion.set(key, (this.confusion.get(key) ?? 0) + 1);
  }

  state(): QualityState {
    return {
      confusion: [...this.confusion].map(([k, c]) => {
        const [t, p] = k.split("\u0000") as [string, string];
        return [t, p, c];
      }),
      n: this.n,
      regN: this.regN,
      sse: this.sse,
      sae: this.sae,
      overflow: this.overflow,
    };
  }

  merge(s: QualityState): void {
    for (const [t, p, c] of s.confusion) {
      this.classes.add(t);
      this.classes.add(p);
      const key = `${t}\u0000${p}`;
      this.confusion.set(key, (this.confusion.get(key) ?? 0) + c);
    }
    this.n += s.n;
    this.regN += s.regN;
    this.sse += s.sse;
    this.sae += s.sae;
    this.overflow ||= s.overflow;
  }

  metrics(task: "classification" | "regression"): QualityMetrics | undefined {
    if (task === "regression") {
      if (this.regN === 0) return undefined;
      return { task, n: this.regN, rmse: Math.sqrt(this.sse / this.regN), mae: this.sae / this.regN };
    }
    return classificationMetrics(this.state().confusion);
  }
}

export function classificationMetrics(confusion: [string, string, number][]): QualityMetrics | undefined {
  let n = 0;
  let correct = 0;
  const tp = new Map<string, number>();
  const predicted = new Map<string, number>();
  const actual = new Map<string, number>();
  for (const [t, p, c] of confusion) {
    n += c;
    if (t === p) {
      correct += c;
      tp.set(t, (tp.get(t) ?? 0) + c);
    }
    predicted.set(p, (predicted.get(p) ?? 0) + c);
    actual.set(t, (actual.get(t) ?? 0) + c);
  }
  if (n === 0) return undefined;
  const classes = new Set([...predicted.keys(), ...actual.keys()]);
  const binary = [...classes].every((c) => c === "0" || c === "1");
  const scores = (c: string) => {
    const precision = (predicted.get(c) ?? 0) > 0 ? (tp.get(c) ?? 0) / predicted.get(c)! : 0;
    const recall = (actual.get(c) ?? 0) > 0 ? (tp.get(c) ?? 0) / actual.get(c)! : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { precision, recall, f1 };
  };
  let precision = 0;
  let recall = 0;
  let f1 = 0;
  if (binary) ({ precision, recall, f1 } = scores("1"));
  else {
    for (const c of classes) {
      const s = scores(c);
      precision += s.precision / classes.size;
      recall += s.recall / classes.size;
      f1 += s.f1 / classes.size;
    }
  }
  return { task: "classification", n, accuracy: correct / n, precision, recall, f1 };
}
