// Which predictions go to human review: those whose top class probability is below a threshold, of which
// a sample is marked. Pure: the sample is drawn from the event id, so a replayed exchange marks the same.
import type { EventTensor, ReviewMark } from "./schema.js";

/** spec.monitoring.review as serve and the logger receive it (--review-threshold and friends). */
export interface ReviewRule {
  /** Rows whose top probability is below this are low-confidence. */
  threshold: number;
  /** Fraction of low-confidence events marked, drawn from the event id. */
  sampleRate: number;
  /** The output tensor of class probabilities: one row of per-class probabilities per prediction. */
  output: string;
}

/** FNV-1a of the id, as a number in [0, 1): the same id always draws the same. */
export function idDraw(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) / 2 ** 32;
}

/**
 * The top probability of each row of a probabilities tensor: the max over a row of [N, k] (k >= 2) values,
 * or for one probability per row ([N] or [N, 1], a binary classifier's P(class 1)) max(p, 1 - p).
 * Undefined when the tensor holds no data or anything that is not a probability.
 *
 * Worked example: [[0.7, 0.2, 0.1], [0.4, 0.35, 0.25]] -> [0.7, 0.4]; [0.9, 0.45] (binary) -> [0.9, 0.55].
 */
export function topProbabilities(t: EventTensor): number[] | undefined {
  if (t.data === undefined) return undefined;
  const flat: number[] = [];
  const walk = (v: unknown): boolean => {
    if (Array.isArray(v)) return v.every(walk);
    if (typeof v !== "number" || !(v >= 0 && v <= 1)) return false;
    flat.push(v);
    return true;
  };
  if (!walk(t.data) || flat.length === 0) return undefined;
  const rows = t.shape.length === 0 ? 1 : (t.shape[0] ?? 0);
  if (rows === 0 || flat.length % rows !== 0) return undefined;
  const per = flat.length / rows;
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    if (per === 1) {
      const p = flat[r]!;
      out.push(Math.max(p, 1 - p));
      continue;
    }
    let max = 0;
    for (let i = r * per; i < (r + 1) * per; i++) max = Math.max(max, flat[i]!);
    out.push(max);
  }
  return out;
}

/**
 * The review mark of an answered request, or undefined when it is not marked: its probabilities output is
 * absent or not probabilities, every row is sure enough, or the sample left it out. A batch is marked when
 * any row is below the threshold; `rows` lists those rows and `topProbability` is the lowest.
 */
export function reviewMark(
  outputs: readonly EventTensor[],
  rule: ReviewRule,
  eventId: string,
): ReviewMark | undefined {
  const t = outputs.find((o) => o.name === rule.output);
  const tops = t === undefined ? undefined : topProbabilities(t);
  if (tops === undefined) return undefined;
  const rows: number[] = [];
  let lowest = 1;
  tops.forEach((p, i) => {
    if (p < rule.threshold) {
      rows.push(i);
      lowest = Math.min(lowest, p);
    }
  });
  if (rows.length === 0) return undefined;
  if (rule.sampleRate < 1 && idDraw(eventId) >= rule.sampleRate) return undefined;
  return {
    reason: "low_confidence",
    topProbability: Math.round(lowest * 1e6) / 1e6,
    threshold: rule.threshold,
    rows,
  };
}

/** Reads --review-threshold, --review-sample-rate and --review-output; throws naming the bad flag. */
export function parseReviewRule(
  threshold: string | undefined,
  sampleRate: string | undefined,
  output: string | undefined,
): ReviewRule | undefined {
  if (threshold === undefined) {
    if (sampleRate !== undefined || output !== undefined)
      throw new Error("--review-sample-rate and --review-output need --review-threshold");
    return undefined;
  }
  const th = Number(threshold);
  if (!(th > 0 && th <= 1))
    throw new Error(`--review-threshold must be a probability in (0, 1], e.g. 0.6, got "${threshold}"`);
  const rate = sampleRate === undefined ? 1 : Number(sampleRate);
  if (!(rate > 0 && rate <= 1))
    throw new Error(`--review-sample-rate must be in (0, 1], got "${sampleRate}"`);
  if (output !== undefined && output === "")
    throw new Error("--review-output must name the probabilities output tensor");
  return { threshold: th, sampleRate: rate, output: output ?? "probabilities" };
}
