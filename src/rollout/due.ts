import type { ModelDeployment } from "../api/v1alpha1/index.js";
import { runAnalysis, blueGreenAnalysisStep } from "./analysis-run.js";
import { readBook } from "./book.js";
import type { Env } from "./env.js";

/**
 * The analysis templates the controller should measure before calling decide() now, read from the book that
 * the last decision wrote (the same list that decision returned as `measure`, aged to `now`).
 */
export function templatesDue(md: ModelDeployment, now: Date): string[] {
  const book = readBook(md.status?.rollout);
  const run = book.analysis;
  if (!run) return [];
  const names =
    run.step === blueGreenAnalysisStep
      ? md.spec.rollout.blueGreen?.analysis?.templates
      : md.spec.rollout.canary?.steps[run.step]?.analysis?.templates;
  if (!names) return [];
  const env = {
    ctx: { md, measurements: [], observed: [], requests: {}, desired: undefined as never },
    now,
    time: now.toISOString(),
    book,
    total: 0,
    requests: { abort: false, retry: false },
    events: [],
    history: [],
  } satisfies Env;
  return runAnalysis(env, run.step, names).due;
}
