import type { LoadTestStatus } from "../api/v1alpha1/index.js";
import { comparesWithStable, judge } from "../loadtest/judge.js";
import { loadTestJobName } from "../render/loadtest-job.js";
import type { LoadTestPlan } from "../render/plan.js";
import { reasons } from "./conditions.js";
import { durationMs } from "./duration.js";
import { advance, wait, type StepOutcome } from "./frame.js";

type LoadTest = LoadTestPlan["spec"];

/** The plan of one run: what the Job is rendered from, with the deadline the step holds it to. */
export function loadTestPlan(p: Omit<LoadTestPlan, "deadlineSeconds">): LoadTestPlan {
  return { ...p, deadlineSeconds: Math.ceil(loadTestDeadlineMs(p.spec) / 1000) };
}

/** Time for the Job's pod to be scheduled, pull its image and start, on top of the load itself. */
const startAllowanceMs = 10 * 60_000;

/**
 * The run a load-test step waits for: revision, step and when the step began, so a result from an earlier
 * try of the same revision and step (before a retry) is never taken for this one.
 *
 *   loadTestRunId("fb4a3823d0", 2, "2026-01-01T00:00:00.000Z") -> "fb4a3823d0.2.1767225600"
 */
export function loadTestRunId(revision: string, step: number, startedAt: string | undefined): string {
  const t = Date.parse(startedAt ?? "");
  return `${revision}.${step < 0 ? "preview" : step}.${Number.isNaN(t) ? 0 : Math.floor(t / 1000)}`;
}

/** How long a run may take before the step stops waiting for it: each side's load, and time to start. */
export function loadTestDeadlineMs(spec: LoadTest): number {
  return (comparesWithStable(spec) ? 2 : 1) * durationMs(spec.duration) + startAllowanceMs;
}

/**
 * The load-test step, once the candidate's pods are available: wait for this run's result in
 * status.loadTest (the Job writes it), then pass, or fail with the figure and its limit. A run that could
 * not measure (phase Error), or no result by the deadline, pauses the rollout for a person, as an
 * inconclusive analysis does: the candidate was not shown to be bad.
 *
 *   status { phase: Completed, candidate: { p99Ms: 312 } }, maxP99Ms 250
 *     -> fail LoadTestFailed "loadTest: candidate p99 312 ms > maxP99Ms 250"
 */
export function loadTestStep(s: {
  plan: LoadTestPlan;
  /** status.loadTest as the cluster has it now. */
  status: LoadTestStatus | undefined;
  sinceStepMs: number;
  mdName: string;
  /** Where the rollout stands, for messages: "step 3/5" or "pre-promotion". */
  at: string;
}): StepOutcome {
  const { plan } = s;
  const result = s.status?.runId === plan.runId ? s.status : undefined;
  const job = `Job ${loadTestJobName(s.mdName, plan.runId)}`;
  const inconclusive = (why: string) =>
    wait({
      on: "pause",
      reason: reasons.loadTestInconclusive,
      message: `${s.at}: ${why}; run modelship promote ${s.mdName} to go on without it or modelship abort ${s.mdName}`,
    });
  if (result?.phase === "Error" || (result?.phase === "Completed" && !result.candidate)) {
    return inconclusive(`the load test could not run: ${result.message ?? "no figures"} (${job})`);
  }
  if (result?.phase !== "Completed" || !result.candidate) {
    const deadline = plan.deadlineSeconds * 1000;
    if (s.sinceStepMs > deadline) {
      return inconclusive(`no load-test result after ${Math.round(deadline / 60_000)}m: see ${job}`);
    }
    return wait({
      on: "loadTest",
      plan,
      message: `${s.at}: load test of the ${plan.candidate.role} at ${plan.spec.rate}/s for ${plan.spec.duration} (${job})`,
    });
  }
  const v = judge(plan.spec, result.candidate, result.stable);
  if (v.verdict === "Failed") {
    return { kind: "fail", reason: reasons.loadTestFailed, message: `loadTest: ${v.message}` };
  }
  return advance(`loadTest: ${v.message}`);
}
