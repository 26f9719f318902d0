import type { AnalysisTemplate } from "../api/v1alpha1/index.js";
import type { z } from "zod";
import type { MeasurementRecord } from "./book.js";
import type { AnalysisMeasurement } from "./types.js";

type Template = z.output<typeof AnalysisTemplate>;

export type AnalysisPhase = "Running" | "Successful" | "Failed" | "Inconclusive";

/**
 * Judges one measurement against a template's thresholds:
 * - no value (no traffic, no series, NaN from 0/0) -> Inconclusive;
 * - value > max -> Failed;
 * - value > maxRelativeToStable x stable's value -> Failed (stable 0 means any positive value fails;
 *   pair it with max to tolerate noise); no stable value when only the relative threshold is set -> Inconclusive;
 * - otherwise Successful.
 */
export function judgeMeasurement(t: Template, m: AnalysisMeasurement): MeasurementRecord {
  const base = {
    template: m.template,
    time: m.time,
    ...(m.value !== undefined && Number.isFinite(m.value) ? { value: m.value } : {}),
    ...(m.stableValue !== undefined && Number.isFinite(m.stableValue) ? { stableValue: m.stableValue } : {}),
  };
  const v = base.value;
  if (v === undefined) return { ...base, phase: "Inconclusive", message: "no data for the candidate" };
  if (t.max !== undefined && v > t.max) {
    return { ...base, phase: "Failed", message: `${fmt(v)} > max ${fmt(t.max)}` };
  }
  if (t.maxRelativeToStable !== undefined) {
    const s = base.stableValue;
    if (s === undefined) {
      if (t.max === undefined) return { ...base, phase: "Inconclusive", message: "no data for stable" };
    } else if (v > t.maxRelativeToStable * s) {
      return {
        ...base,
        phase: "Failed",
        message: `${fmt(v)} > ${fmt(t.maxRelativeToStable)} x stable ${fmt(s)}`,
      };
    }
  }
  return { ...base, phase: "Successful", message: "within thresholds" };
}

/**
 * A template's verdict from its measurements so far (Argo's AnalysisRun rules): Failed once failures exceed
 * failureLimit, Inconclusive once measurements without data exceed inconclusiveLimit, Successful after
 * `count` measurements that crossed neither limit, Running until then.
 */
export function templatePhase(t: Template, records: MeasurementRecord[]): AnalysisPhase {
  const failed = records.filter((r) => r.phase === "Failed").length;
  const inconclusive = records.filter((r) => r.phase === "Inconclusive").length;
  if (failed > t.failureLimit) return "Failed";
  if (inconclusive > t.inconclusiveLimit) return "Inconclusive";
  if (records.length >= t.count) return "Successful";
  return "Running";
}

/** Several templates together: any Failed fails, then any Inconclusive, then Running until all succeed. */
export function combinePhases(phases: AnalysisPhase[]): AnalysisPhase {
  if (phases.includes("Failed")) return "Failed";
  if (phases.includes("Inconclusive")) return "Inconclusive";
  if (phases.includes("Running")) return "Running";
  return "Successful";
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toPrecision(4);
}
