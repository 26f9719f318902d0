// Integrity checks on a window: fields gone missing, unexpected fields (a rename shows as one of each),
// type changes, values outside the training range, missing-rate jumps, events that break the schema.
import type { FeatureProfile } from "./profile.js";
import type { IntegrityIssue } from "./report.js";
import type { FeatureWindow, WindowState } from "./window.js";

export interface IntegrityThresholds {
  /** Flag when the window's missing rate exceeds the baseline's by more than this (absolute). */
  missingRateJump: number;
  /** Flag when more than this share of present values lies outside the baseline's [min, max]. */
  outOfRangeRate: number;
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
      if (out / present > th.outOfRangeRate) {
        issues.push({
          kind: "out_of_range",
          field: f.name,
          message: `${f.name}: ${out} of ${present} values (${((out / present) * 100).toFixed(1)}%) outside the baseline range [${p.min}, ${p.max}]`,
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
