import { combinePhases, judgeMeasurement, templatePhase, type AnalysisPhase } from "./analysis.js";
import { durationMs, elapsedMs } from "./duration.js";
import type { Env } from "./env.js";

export interface AnalysisRun {
  phase: AnalysisPhase;
  /** Templates to measure now. */
  due: string[];
  /** When the next measurement falls due. */
  nextMs?: number;
  summary: string;
}

/** Step index the blue-green pre-promotion analysis is kept under. */
export const blueGreenAnalysisStep = -1;

/**
 * Advances the analysis of `step`: folds the controller's measurements into the book (once each, by template
 * and time, so handing the same ones in again changes nothing), judges them, and says what to measure next.
 * Measurements are due at once when the step starts, then every template's interval.
 */
export function runAnalysis(env: Env, step: number, names: string[]): AnalysisRun {
  const { book, ctx } = env;
  if (!book.analysis || book.analysis.step !== step) {
    book.analysis = { step, startedAt: env.time, results: [] };
  }
  const run = book.analysis;
  const defined = ctx.md.spec.rollout.analysis ?? [];
  const missing = names.filter((n) => !defined.some((a) => a.name === n));
  if (missing.length) {
    // The API checks canary steps' names; blueGreen.analysis is not cross-checked, so say it here.
    return {
      phase: "Inconclusive",
      due: [],
      summary: `analysis template ${missing.join(", ")} is not in spec.rollout.analysis: add it or fix the name`,
    };
  }
  const templates = names.map((n) => defined.find((a) => a.name === n)!);
  const started = Date.parse(run.startedAt);
  const phaseOf = (name: string) => {
    const t = templates.find((x) => x.name === name)!;
    return templatePhase(
      t,
      run.results.filter((r) => r.template === name),
    );
  };
  for (const m of ctx.measurements) {
    const t = templates.find((x) => x.name === m.template);
    if (!t) continue;
    if (Date.parse(m.time) < started) continue;
    if (run.results.some((r) => r.template === m.template && r.time === m.time)) continue;
    // A template that reached its verdict takes no more measurements.
    if (phaseOf(t.name) !== "Running") continue;
    run.results.push(judgeMeasurement(t, m));
  }
  const phases = templates.map((t) => phaseOf(t.name));
  const due: string[] = [];
  let nextMs: number | undefined;
  templates.forEach((t, i) => {
    if (phases[i] !== "Running") return;
    const mine = run.results.filter((r) => r.template === t.name);
    const last = mine.at(-1);
    const wait = last ? durationMs(t.interval) - elapsedMs(last.time, env.now) : 0;
    if (wait <= 0) due.push(t.name);
    const next = wait <= 0 ? durationMs(t.interval) : wait;
    nextMs = nextMs === undefined ? next : Math.min(nextMs, next);
  });
  const phase = combinePhases(phases);
  const summary = templates
    .map((t, i) => {
      const mine = run.results.filter((r) => r.template === t.name);
      const failed = mine.filter((r) => r.phase === "Failed").length;
      const last = mine.at(-1);
      return `${t.name} ${phases[i]} (${mine.length}/${t.count} measured, ${failed} failed${last ? `, last: ${last.message}` : ""})`;
    })
    .join("; ");
  return {
    phase,
    due: phase === "Running" ? due : [],
    ...(phase === "Running" && nextMs !== undefined ? { nextMs } : {}),
    summary,
  };
}
