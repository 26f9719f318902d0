// Integrity checks on a window: fields gone missing, unexpected fields (a rename shows as one of each),
// type changes, values outside the training range, missing-rate jumps, events that break the schema.
import type { FeatureProfile } from "./profile.js";
import type { IntegrityIssue } from "./report.js";
import type { FeatureWindow, WindowState } from "./window.js";

export interface IntegrityThresholds {
  /** Flag when the window's missing rate exceeds the baseline's by more than this (absolute). */
  missingRateJump: number;
  /**
   * Flag when more than this share of present values lies outside the baseline's [min, max]; undefined:
   * a limit per feature from the baseline's size (outOfRangeLimit).
   */
  outOfRangeRate?: number;
}

/** The floor of the size-based limit: the fixed default before it depended on the baseline's size. */
export const MIN_OUT_OF_RANGE_RATE = 0.01;
/** The size-based limit is exceeded by chance alone in at most this share of honest windows. */
export const OUT_OF_RANGE_ALPHA = 0.01;

/**
 * The default out-of-range limit for a feature whose baseline range came from n values, in a window of
 * m values: when window and training data come from one continuous distribution, the share of the
 * distribution outside the range of n training values is Beta(2, n - 1) (mean 2 / (n + 1)), so the
 * number of the m window values outside it is beta-binomial BB(m, 2, n - 1). The limit is the smallest
 * rate q / m with P(K > q) <= alpha, and never below 1%. With n = 188, m = 188 that is 4.8%: two values
 * outside (1.1%) are chance, not an integrity break. A baseline of at most one value gives 1 (no limit).
 */
export function outOfRangeLimit(n: number, m: number, alpha = OUT_OF_RANGE_ALPHA): number {
  if (m <= 0) return MIN_OUT_OF_RANGE_RATE;
  if (n <= 1) return 1;
  const beta = n - 1;
  // pmf(0) = E[(1 - U)^m] = n (n - 1) / ((n + m) (n + m - 1)); pmf(k+1) / pmf(k) = (m-k)(k+2) / ((k+1)(m-k+beta-1))
  let pmf = (n / (n + m)) * ((n - 1) / (n + m - 1));
  let cdf = pmf;
  let q = 0;
  while (cdf < 1 - alpha && q < m) {
    pmf *= ((m - q) * (q + 2)) / ((q + 1) * (m - q + beta - 1));
    cdf += pmf;
    q++;
  }
  return Math.max(MIN_OUT_OF_RANGE_RATE, q / m);
}

/** The out-of-range limit that applies to a numeric feature: the flag's, or the size-based default. */
export function outOfRangeLimitFor(p: FeatureProfile, present: number, th: IntegrityThresholds): number {
  return th.outOfRangeRate ?? outOfRangeLimit(p.count - p.missing, present);
}

function expectedKind(p: FeatureProfile): "number" | "boolean" | "string" {
  if (p.type === "numeric") return "number";
  if (p.type === "boolean") return "boolean";
  return "string";
}

/** Values of an unexpected JSON type; numbers in a categorical feature pass (codes are often numeric). */
export function typeMismatches(f: FeatureWindow): number {
  const t = f.types;
  switch (expectedKind(f.profile)) {
    case "number":
      return t.string + t.boolean + t.other;
    case "boolean":
      return t.string + t.number + t.other;
    default:
      return t.boolean + t.other;
  }
}

/** The window's integrity findings; the caller (evaluate) has counted queued numbers (flushNumbers). */
export function checkIntegrity(state: WindowState, th: IntegrityThresholds): IntegrityIssue[] {
  const issues: IntegrityIssue[] = [];
  const rows = state.counters.rows;
  for (const f of state.features) {
    const p = f.profile;
    const present = f.count - f.missing;
    if (rows > 0 && present === 0 && p.missingRate < 1) {
      issues.push({
        kind: "missing_field",
        field: f.name,
        message: `${f.name} is absent from all ${rows} rows (baseline missing rate ${(p.missingRate * 100).toFixed(1)}%)`,
      });
      continue;
    }
    if (f.count > 0) {
      const rate = f.missing / f.count;
      if (present > 0 && rate - p.missingRate > th.missingRateJump) {
        issues.push({
          kind: "missing_rate_jump",
          field: f.name,
          message: `${f.name} missing rate ${(rate * 100).toFixed(1)}% vs ${(p.missingRate * 100).toFixed(1)}% in the baseline`,
        });
      }
    }
    const bad = typeMismatches(f);
    if (bad > 0) {
      const t = f.types;
      issues.push({
        kind: "type_change",
        field: f.name,
        message: `${f.name} expected ${expectedKind(p)} values, got ${bad} of another type (number ${t.number}, string ${t.string}, boolean ${t.boolean}, other ${t.other})`,
      });
    }
    if (p.type === "numeric" && present > 0) {
      const out = f.belowMin + f.aboveMax;
      const limit = outOfRangeLimitFor(p, present, th);
      if (out / present > limit) {
        issues.push({
          kind: "out_of_range",
          field: f.name,
          message: `${f.name}: ${out} of ${present} values (${((out / present) * 100).toFixed(1)}%) outside the baseline range [${p.min}, ${p.max}] (limit ${(limit * 100).toFixed(1)}%)`,
        });
      }
    }
  }
  for (const [name, count] of [...state.unexpected].sort((a, b) => b[1] - a[1])) {
    issues.push({
      kind: "unexpected_field",
      field: name,
      message: `${name} is not in the baseline (seen in ${count} rows)`,
    });
  }
  if (state.counters.invalid > 0) {
    issues.push({
      kind: "invalid_events",
      message: `${state.counters.invalid} lines are not valid InferenceEvent v1 events (first: ${state.invalidSamples[0] ?? "?"})`,
    });
  }
  return issues;
}
