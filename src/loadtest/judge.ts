// The load test's verdict: the candidate's figures against the step's thresholds and against stable's.
// Pure, shared by the Job (which writes the verdict into status.loadTest) and the rollout step (which acts on it).
import type { z } from "zod";
import type { LoadTest, LoadTestFigures } from "../api/v1alpha1/index.js";

export type LoadTestSpec = z.output<typeof LoadTest>;
export type Thresholds = Pick<
  LoadTestSpec,
  "maxP50Ms" | "maxP99Ms" | "maxErrorRate" | "maxMemoryMiB" | "maxP99RatioToStable" | "maxMemoryRatioToStable"
>;

export interface Verdict {
  verdict: "Passed" | "Failed";
  /** Each figure over its limit, e.g. "candidate p99 312 ms > maxP99Ms 250". */
  failures: string[];
  /** The failures joined, or the figures when it passed. */
  message: string;
}

/** A figure as people read it, to three significant digits: 312, 31.2, 4.2, 0.0123. */
export function fmt(x: number): string {
  if (Math.abs(x) >= 100) return String(Math.round(x));
  return String(Number(x.toPrecision(3)));
}

/** Whether stable must be measured too: only a threshold relative to it needs it. */
export function comparesWithStable(t: Thresholds): boolean {
  return t.maxP99RatioToStable !== undefined || t.maxMemoryRatioToStable !== undefined;
}

/**
 * Judges the figures; a figure a threshold needs but the test could not measure (no request answered, no
 * memory metric on the pods) fails the test with that said, so a broken measurement never passes silently.
 *
 *   judge({ maxP99Ms: 250 }, { p99Ms: 312, ... }) -> Failed, "candidate p99 312 ms > maxP99Ms 250"
 */
export function judge(t: Thresholds, candidate: LoadTestFigures, stable?: LoadTestFigures): Verdict {
  const failures: string[] = [];
  const over = (
    value: number | undefined,
    limit: number | undefined,
    what: string,
    unit: string,
    field: string,
    missing: string,
  ) => {
    if (limit === undefined) return;
    if (value === undefined)
      failures.push(`candidate ${what} not measured (${missing}) but ${field} is ${fmt(limit)}`);
    else if (value > limit) failures.push(`candidate ${what} ${fmt(value)}${unit} > ${field} ${fmt(limit)}`);
  };
  const noAnswer = "no request was answered";
  const noMemory = "no modelship_process_process_resident_memory_bytes on its pods' /metrics";
  over(candidate.errorRate, t.maxErrorRate, "error rate", "", "maxErrorRate", noAnswer);
  over(candidate.p50Ms, t.maxP50Ms, "p50", " ms", "maxP50Ms", noAnswer);
  over(candidate.p99Ms, t.maxP99Ms, "p99", " ms", "maxP99Ms", noAnswer);
  over(candidate.memoryMiB, t.maxMemoryMiB, "memory", " MiB", "maxMemoryMiB", noMemory);

  const ratio = (
    value: number | undefined,
    base: number | undefined,
    limit: number | undefined,
    what: string,
    unit: string,
    field: string,
  ) => {
    if (limit === undefined) return;
    if (value === undefined || base === undefined) {
      const side = value === undefined ? "candidate" : "stable";
      failures.push(`${side} ${what} not measured but ${field} is ${fmt(limit)}`);
    } else if (value > limit * base) {
      failures.push(
        `candidate ${what} ${fmt(value)}${unit} > ${field} ${fmt(limit)} x stable's ${fmt(base)}${unit}`,
      );
    }
  };
  ratio(candidate.p99Ms, stable?.p99Ms, t.maxP99RatioToStable, "p99", " ms", "maxP99RatioToStable");
  ratio(
    candidate.memoryMiB,
    stable?.memoryMiB,
    t.maxMemoryRatioToStable,
    "memory",
    " MiB",
    "maxMemoryRatioToStable",
  );

  if (failures.length > 0) return { verdict: "Failed", failures, message: failures.join("; ") };
  return { verdict: "Passed", failures, message: summary(candidate, stable) };
}

/** "candidate p50 3.1 ms, p99 8.2 ms, 0/300 errors, memory 95 MiB; stable ..." */
export function summary(candidate: LoadTestFigures, stable?: LoadTestFigures): string {
  const side = (name: string, f: LoadTestFigures) =>
    [
      `${name} p50 ${f.p50Ms === undefined ? "-" : fmt(f.p50Ms)} ms`,
      `p99 ${f.p99Ms === undefined ? "-" : fmt(f.p99Ms)} ms`,
      `${f.errors}/${f.requests} errors`,
      ...(f.memoryMiB !== undefined ? [`memory ${fmt(f.memoryMiB)} MiB`] : []),
    ].join(", ");
  return [side("candidate", candidate), ...(stable ? [side("stable", stable)] : [])].join("; ");
}
