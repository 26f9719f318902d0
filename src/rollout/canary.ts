import type { ModelDeployment } from "../api/v1alpha1/index.js";
import { routerFor } from "../render/traffic/router.js";
import { runAnalysis, type AnalysisRun } from "./analysis-run.js";
import { loadTestPlan, loadTestRunId, loadTestStep } from "./loadtest.js";
import { noteProgress } from "./candidate.js";
import { reasons } from "./conditions.js";
import { durationMs, elapsedMs } from "./duration.js";
import { available } from "./env.js";
import { advance, wait, type Stop, type StepOutcome, type Strategy, type Traffic } from "./frame.js";
import { fitToGpuBudget, type GpuBudget } from "./gpu.js";
import { canaryReplicaCounts, podRatioWeight, type ReplicaCounts } from "./replicas.js";

type CanaryStep = NonNullable<ModelDeployment["spec"]["rollout"]["canary"]>["steps"][number];

/** The pods a canary step works with. */
export interface CanaryPods {
  /** N: the serving replica count. */
  total: number;
  /** Available canary pods. */
  available: number;
  /** A router splits requests by weight (gatewayAPI, istio); otherwise the ready-pod ratio is the weight. */
  routed: boolean;
  budget: GpuBudget;
}

/** Where the walk stands when a step runs; handlers read it and return what the step did. */
export interface StepContext {
  /** 0-based index of the step, and how many there are (index = count: promoting after the last step). */
  index: number;
  count: number;
  traffic: Traffic;
  /** Pods planned so far (an empty step leaves them as they are). */
  counts: ReplicaCounts;
  pods: CanaryPods;
  /** A `modelship promote` not used yet: it ends the current pause or analysis. */
  promote: boolean;
  /** Milliseconds since the step began. */
  sinceStepMs: number;
  /** The ModelDeployment's name and the candidate revision, for messages. */
  name: string;
  candidate: string;
  /** Folds this step's measurements into the book and judges them. */
  analyze(templates: string[]): AnalysisRun;
  /** This step's load test: waits for its result in status.loadTest, then passes or fails it. */
  loadTest(spec: NonNullable<CanaryStep["loadTest"]>): StepOutcome;
}

export interface StepResult {
  outcome: StepOutcome;
  traffic: Traffic;
  counts: ReplicaCounts;
  /** The step was ended by the promote request. */
  usedPromote?: true;
}

/**
 * Replica counts for moving the canary from `weight` to `target`, and the weight it reaches. Under a GPU cap the
 * canary may get fewer pods than its share; it is then given the traffic its available pods can carry, which lets
 * stable hand back GPUs on the next round (see gpu.ts).
 */
export function settle(
  pods: CanaryPods,
  weight: number,
  target: number,
  podRequired: boolean,
): { counts: ReplicaCounts; weight: number; reached: boolean; capped: boolean } {
  const { total: N, available: ca, budget } = pods;
  let tw = weight;
  let counts: ReplicaCounts = { canary: 0, stable: N };
  for (let round = 0; round < 4; round++) {
    const want = canaryReplicaCounts({
      total: N,
      canaryWeight: target,
      stableWeight: 100 - tw,
      trafficRouted: pods.routed,
      canaryPodRequired: podRequired,
    });
    const fit = fitToGpuBudget(want, N, 100 - tw, budget);
    counts = fit.counts;
    if (!fit.capped) {
      const reached = ca >= counts.canary;
      return { counts, weight: reached ? target : tw, reached, capped: false };
    }
    const carried = N === 0 ? 0 : Math.floor((100 * Math.min(ca, counts.canary)) / N);
    let next = Math.max(tw, Math.min(target, carried));
    // The last pod: hand over the rest with one pod short, as a maxUnavailable 1 rolling update would.
    if (target === 100 && ca >= 1 && ca >= N - 1 && ca >= counts.canary) next = 100;
    if (next === tw) return { counts, weight: tw, reached: false, capped: true };
    tw = next;
  }
  return { counts, weight: tw, reached: false, capped: true };
}

const routeOn = (t: Traffic) => t.headerRoute !== undefined || t.mirror !== undefined;

/** The step waits for canary pods (after the last step: for the full-size canary before promotion). */
function podsWait(
  s: Pick<StepContext, "index" | "count" | "pods" | "candidate">,
  counts: ReplicaCounts,
  capped: boolean,
): Stop {
  const { pods } = s;
  const [reason, message] =
    s.index >= s.count
      ? [
          reasons.promoting,
          `scaling revision ${s.candidate} to ${pods.total} replicas (${pods.available} available)`,
        ]
      : [
          reasons.waitingForReplicas,
          `step ${s.index + 1}/${s.count}: ${pods.available}/${counts.canary} canary replicas available`,
        ];
  const { budget } = pods;
  return wait({
    on: "pods",
    reason,
    message,
    ...(capped
      ? {
          maxSurge: `the canary needs more GPUs than maxSurgeGPUs ${budget.maxSurge} allows beside stable (${counts.canary} canary, ${counts.stable} stable pods of ${budget.perCanaryPod}/${budget.perStablePod} GPUs): raise spec.rollout.maxSurgeGPUs`,
        }
      : {}),
  });
}

/** Holds the traffic where it is (a pause or an analysis keeps the canary's pods for its weight). */
function hold(s: StepContext): Omit<StepResult, "outcome"> {
  const r = settle(s.pods, s.traffic.weight, s.traffic.weight, routeOn(s.traffic));
  return { traffic: { ...s.traffic, weight: r.weight }, counts: r.counts };
}

/** Turns on a header route or mirror: done once one canary pod can take the requests. */
function route(s: StepContext, traffic: Traffic, what: string): StepResult {
  const r = settle(s.pods, traffic.weight, traffic.weight, true);
  const t = { ...traffic, weight: r.weight };
  return {
    traffic: t,
    counts: r.counts,
    outcome: r.reached ? advance(what) : podsWait(s, r.counts, r.capped),
  };
}

/** One handler per canary step kind, keyed by the step's field: (the step, where the walk stands) -> result. */
export const canarySteps = {
  /** Canary pods for w first; the traffic moves to w once they are available. */
  setWeight(w: number, s: StepContext): StepResult {
    const r = settle(s.pods, s.traffic.weight, w, routeOn(s.traffic));
    return {
      traffic: { ...s.traffic, weight: r.weight },
      counts: r.counts,
      outcome: r.reached ? advance(`setWeight ${w}`) : podsWait(s, r.counts, r.capped),
    };
  },
  setHeaderRoute(step: NonNullable<CanaryStep["setHeaderRoute"]>, s: StepContext): StepResult {
    return route(s, { ...s.traffic, headerRoute: { match: step.match } }, "setHeaderRoute");
  },
  setMirror(step: NonNullable<CanaryStep["setMirror"]>, s: StepContext): StepResult {
    return route(s, { ...s.traffic, mirror: { percent: step.percent } }, `setMirror ${step.percent}`);
  },
  /** Until its duration has passed, or until promoted when it has none. */
  pause(step: NonNullable<CanaryStep["pause"]>, s: StepContext): StepResult {
    const held = hold(s);
    if (s.promote) return { ...held, outcome: advance("pause, promoted"), usedPromote: true };
    const d = step.duration;
    const left = d === undefined ? undefined : durationMs(d) - s.sinceStepMs;
    if (left !== undefined && left <= 0) return { ...held, outcome: advance(`pause ${d}`) };
    const message =
      d === undefined
        ? `paused at step ${s.index + 1}/${s.count} until promoted: run modelship promote ${s.name}`
        : `paused at step ${s.index + 1}/${s.count} for ${d}`;
    return {
      ...held,
      outcome: wait({
        on: "pause",
        reason: reasons.pausedByStep,
        message,
        ...(left !== undefined ? { forMs: left } : {}),
      }),
    };
  },
  /** Measures until every template succeeds; Failed fails the rollout, Inconclusive pauses it. */
  analysis(step: NonNullable<CanaryStep["analysis"]>, s: StepContext): StepResult {
    const held = hold(s);
    const run = s.analyze(step.templates);
    if (s.promote) return { ...held, outcome: advance("analysis, promoted"), usedPromote: true };
    switch (run.phase) {
      case "Successful":
        return { ...held, outcome: advance(`analysis: ${run.summary}`) };
      case "Failed":
        return { ...held, outcome: { kind: "fail", reason: reasons.analysisFailed, message: run.summary } };
      case "Inconclusive":
        return {
          ...held,
          outcome: wait({
            on: "pause",
            reason: reasons.analysisInconclusive,
            message: `analysis at step ${s.index + 1} is inconclusive: ${run.summary}; run modelship promote to go on or modelship abort`,
          }),
        };
      default:
        return {
          ...held,
          outcome: wait({ on: "analysis", run, message: `step ${s.index + 1}/${s.count}: ${run.summary}` }),
        };
    }
  },
  /**
   * Loads the canary's own Service with a Job (at least one canary pod, no user traffic needed) and waits
   * for its verdict: Passed goes on, Failed rolls back naming the figure and its limit (loadtest.ts).
   */
  loadTest(step: NonNullable<CanaryStep["loadTest"]>, s: StepContext): StepResult {
    const r = settle(s.pods, s.traffic.weight, s.traffic.weight, true);
    const held = { traffic: { ...s.traffic, weight: r.weight }, counts: r.counts };
    if (!r.reached) return { ...held, outcome: podsWait(s, r.counts, r.capped) };
    if (s.promote) return { ...held, outcome: advance("loadTest, promoted"), usedPromote: true };
    return { ...held, outcome: s.loadTest(step) };
  },
} satisfies { [K in keyof CanaryStep]-?: (step: NonNullable<CanaryStep[K]>, s: StepContext) => StepResult };

/** After the last step: the canary at N pods with all the traffic, then promotion. */
export function promotion(s: StepContext): StepResult {
  const r = settle(s.pods, s.traffic.weight, 100, false);
  const traffic = { ...s.traffic, weight: r.weight };
  if (r.reached && s.pods.available >= s.pods.total) {
    return { traffic, counts: r.counts, outcome: { kind: "promote", why: "all steps completed" } };
  }
  return { traffic, counts: r.counts, outcome: podsWait(s, r.counts, r.capped) };
}

export function runStep(step: CanaryStep | undefined, s: StepContext): StepResult {
  if (step === undefined) return promotion(s);
  if (step.setWeight !== undefined) return canarySteps.setWeight(step.setWeight, s);
  if (step.setHeaderRoute) return canarySteps.setHeaderRoute(step.setHeaderRoute, s);
  if (step.setMirror) return canarySteps.setMirror(step.setMirror, s);
  if (step.pause) return canarySteps.pause(step.pause, s);
  if (step.analysis) return canarySteps.analysis(step.analysis, s);
  if (step.loadTest) return canarySteps.loadTest(step.loadTest, s);
  return { traffic: s.traffic, counts: s.counts, outcome: advance("empty step") };
}

/**
 * Canary: walk spec.rollout.canary.steps, then promote. Each reconcile walks as far as the cluster allows:
 * - setWeight w: canary pods for w (see replicas.ts); traffic moves to w once those pods are available;
 * - pause: until its duration has passed, or until `modelship promote` when it has none;
 * - analysis: measurements every interval until each template succeeds, fails or turns inconclusive;
 * - setHeaderRoute / setMirror: A/B cohort or shadow copy to the canary (needs one canary pod), kept on for
 *   the following steps;
 * - after the last step the canary is scaled to N, then it becomes stable.
 * Failed pods, a failed analysis or no progress within progressDeadlineSeconds roll back (frame.ts).
 */
export const canary: Strategy = {
  role: "canary",
  stableYieldsGPUs: true,
  walk({ env, stable, cand, budget }) {
    const { ctx, book } = env;
    const steps = ctx.md.spec.rollout.canary?.steps ?? [];
    const pods: CanaryPods = {
      total: env.total,
      available: available(cand),
      routed: routerFor(ctx.md).splitsByWeight,
      budget,
    };
    let i = book.step ?? 0;
    let traffic: Traffic = {
      weight: book.weight ?? 0,
      ...(book.headerRoute ? { headerRoute: book.headerRoute } : {}),
      ...(book.mirror ? { mirror: book.mirror } : {}),
    };
    let counts: ReplicaCounts = { canary: 0, stable: pods.total };
    let promote = env.requests.promote;
    if (promote === "full" && i < steps.length) {
      env.events.push({
        type: "Normal",
        reason: "PromotedByUser",
        message: `skipping to promotion from step ${i + 1}`,
      });
      i = steps.length;
      promote = undefined;
      delete book.analysis;
    }

    let stop: Stop | undefined;
    for (let guard = 0; guard <= steps.length + 1; guard++) {
      const index = i;
      const r = runStep(steps[index], {
        index,
        count: steps.length,
        traffic,
        counts,
        pods,
        promote: promote === "step",
        sinceStepMs: elapsedMs(book.stepStartedAt, env.now),
        name: ctx.md.metadata.name,
        candidate: cand.id,
        analyze: (templates) => runAnalysis(env, index, templates),
        loadTest: (spec) =>
          loadTestStep({
            plan: loadTestPlan({
              runId: loadTestRunId(cand.id, index, book.stepStartedAt),
              step: index,
              spec,
              candidate: { id: cand.id, role: "canary" },
              stable: stable.id,
            }),
            status: ctx.md.status?.loadTest,
            sinceStepMs: elapsedMs(book.stepStartedAt, env.now),
            mdName: ctx.md.metadata.name,
            at: `step ${index + 1}/${steps.length}`,
          }),
      });
      traffic = r.traffic;
      counts = r.counts;
      if (r.usedPromote) promote = undefined;
      if (r.outcome.kind !== "advance") {
        stop = r.outcome;
        break;
      }
      env.events.push({
        type: "Normal",
        reason: "StepCompleted",
        message: `step ${i + 1}/${steps.length} (${r.outcome.what}) completed`,
      });
      i++;
      book.stepStartedAt = env.time;
      delete book.analysis;
      noteProgress(env, pods.available, true);
    }
    if (stop?.kind === "promote") return { stop, counts, traffic };
    stop ??= podsWait({ index: i, count: steps.length, pods, candidate: cand.id }, counts, false);
    if (promote === "step") {
      env.events.push({
        type: "Normal",
        reason: "PromoteIgnored",
        message: `promote ends a pause or analysis step; step ${i + 1} is waiting for canary pods (use promote --full to skip every step)`,
      });
    }

    book.step = i;
    book.weight = traffic.weight;
    if (traffic.headerRoute) book.headerRoute = traffic.headerRoute;
    if (traffic.mirror) book.mirror = traffic.mirror;
    // Without a router the Service spreads requests over every ready pod: the weight is their ratio. A
    // canary without a weight of its own (its pods only take shadow copies) stays out of the endpoint
    // Service (workloads.ts), so its weight is 0.
    const weight =
      pods.routed || traffic.weight === 0
        ? traffic.weight
        : podRatioWeight({
            canary: Math.min(pods.available, counts.canary),
            stable: Math.min(available(stable), counts.stable),
          });
    return { stop, counts, traffic: { ...traffic, weight }, stepIndex: i };
  },
};
