import assert from "node:assert/strict";
import { test } from "node:test";
import { revisionSpecOf } from "../render/plan.js";
import { writeBook } from "./book.js";
import { makeEnv, type Rev } from "./env.js";
import { decideRollout, type Stop, type Strategy, type Walk } from "./frame.js";
import { canaryMD } from "./testing/sim.js";
import type { ObservedRevision, UserRequests } from "./types.js";

// The frame with a stub strategy: whatever the walk says, the frame's checks and conditions follow.

const md = canaryMD([{ pause: {} }], {}, { progressDeadlineSeconds: 600 });
const spec = revisionSpecOf(md.spec);
const candSpec = { ...spec, model: { ...spec.model, version: "v2" } };
const stableObs: ObservedRevision = { id: "s1", spec, replicas: 4, readyReplicas: 4, availableReplicas: 4 };
const stable: Rev = { id: "s1", spec, obs: stableObs };
const t0 = Date.parse("2026-01-01T00:00:00Z");

const pods: Stop = { kind: "wait", wait: { on: "pods", reason: "WaitingForReplicas", message: "0/1 up" } };

/** Reconciles in a row, carrying status.rollout over, like the controller. */
class Frame {
  rollout: Record<string, unknown> = {};
  now = t0;
  events: { type: string; reason: string; message: string }[] = [];
  constructor(
    private opts: {
      role?: Strategy["role"];
      cand?: Partial<ObservedRevision>;
      autoRollback?: boolean;
    } = {},
  ) {}

  decide(stop: Stop, over: Partial<Walk> & { requests?: UserRequests; afterS?: number } = {}) {
    this.now += (over.afterS ?? 0) * 1000;
    const m = structuredClone(md);
    m.spec.rollout.autoRollback = this.opts.autoRollback ?? true;
    m.status = { stableRevision: "s1", rollout: this.rollout };
    const obs: ObservedRevision = {
      id: "c1",
      spec: candSpec,
      replicas: 1,
      readyReplicas: 0,
      availableReplicas: 0,
      ...this.opts.cand,
    };
    const env = makeEnv(
      {
        md: m,
        desired: { id: "c1", spec: candSpec },
        observed: [stableObs, obs],
        measurements: [],
        requests: over.requests ?? {},
      },
      new Date(this.now),
    );
    const strategy: Strategy = {
      role: this.opts.role ?? "canary",
      stableYieldsGPUs: true,
      walk: () => ({
        stop,
        counts: over.counts ?? { canary: 1, stable: 4 },
        traffic: over.traffic ?? { weight: 0 },
        ...(over.stepIndex !== undefined ? { stepIndex: over.stepIndex } : {}),
      }),
    };
    const d = decideRollout(env, stable, { id: "c1", spec: candSpec, obs }, strategy);
    this.rollout = writeBook(env.book);
    this.events = env.events;
    return d;
  }
}

const cond = (d: ReturnType<Frame["decide"]>, type: string) => {
  const c = d.status.conditions.find((x) => x.type === type)!;
  return c.status === "True" ? `${c.reason}: ${c.message}` : "False";
};

const rolledBack = (reason: string, message: string) =>
  `${reason}: revision c1 was rolled back (${reason}): ${message}; change the spec or run modelship retry`;

test("abort rolls back before the strategy walks", () => {
  const f = new Frame();
  f.decide(pods);
  const d = f.decide({ kind: "fail", reason: "never", message: "walked" }, { requests: { abort: "n1" } });
  assert.equal(d.status.phase, "RolledBack");
  assert.equal(cond(d, "RolledBack"), rolledBack("Aborted", "aborted with modelship abort"));
  assert.deepEqual(
    f.events.map((e) => e.reason),
    ["RolloutAborted"],
  );
});

test("waiting for pods: the wait's reason, a 5s requeue, and the progress deadline", () => {
  const f = new Frame();
  const d = f.decide(pods, { stepIndex: 0, traffic: { weight: 20, mirror: { percent: 5 } } });
  assert.equal(d.status.phase, "Progressing");
  assert.equal(d.status.currentStepIndex, 0);
  assert.equal(cond(d, "Progressing"), "WaitingForReplicas: 0/1 up");
  assert.equal(d.requeueAfterMs, 5000);
  assert.deepEqual(d.plan.weights, { stable: 80, canary: 20 });
  assert.deepEqual(d.plan.mirror, { percent: 5 });
  assert.deepEqual(
    d.plan.revisions.map((r) => `${r.role} ${r.replicas}`),
    ["stable 4", "canary 1"],
  );
  assert.equal(f.decide(pods, { afterS: 600 }).status.phase, "Progressing", "600s is not past 600s");
  const late = f.decide(pods, { afterS: 1 });
  assert.equal(late.status.phase, "RolledBack");
  assert.equal(
    cond(late, "RolledBack"),
    rolledBack("ProgressDeadlineExceeded", "0/1 canary replicas available after 600s without progress"),
  );

  const held = new Frame({ autoRollback: false, role: "preview" });
  held.decide(pods);
  const d2 = held.decide(pods, { afterS: 601 });
  assert.equal(d2.status.phase, "Degraded");
  assert.equal(
    cond(d2, "Paused"),
    "ProgressDeadlineExceeded: 0/1 preview replicas available after 600s without progress; autoRollback is off: run modelship abort or promote",
  );
  assert.equal(d2.requeueAfterMs, undefined);
});

test("waiting for GPUs: WaitingForCapacity (one Event), and the deadline does not run", () => {
  const capped: Stop = { kind: "wait", wait: { ...pods.wait, maxSurge: "raise maxSurgeGPUs" } as never };
  const f = new Frame();
  const d = f.decide(capped);
  assert.equal(cond(d, "WaitingForCapacity"), "MaxSurgeGPUs: raise maxSurgeGPUs");
  assert.deepEqual(
    f.events.map((e) => e.reason),
    ["RolloutStarted", "WaitingForCapacity"],
  );
  const later = f.decide(capped, { afterS: 3600 });
  assert.equal(later.status.phase, "Progressing");
  assert.deepEqual(f.events, [], "the Event is sent once per wait");

  const pending = new Frame({
    role: "preview",
    cand: {
      unschedulable: { reason: "Unschedulable", message: "0/7 nodes are available: 1 Insufficient cpu" },
    },
  });
  // a CPU pod that fits nowhere waits for CPU or memory, not for GPUs (GPU pods: decide.test.ts)
  assert.equal(
    cond(pending.decide(pods, { afterS: 3600 }), "WaitingForCapacity"),
    "InsufficientResources: preview pods cannot be scheduled: 0/7 nodes are available: 1 Insufficient cpu",
  );
});

test("a pause: phase Paused, one RolloutPaused Event, requeued when a timed pause ends", () => {
  const f = new Frame();
  const pause = (forMs?: number): Stop => ({
    kind: "wait",
    wait: { on: "pause", reason: "PausedByStep", message: "paused", ...(forMs ? { forMs } : {}) },
  });
  const d = f.decide(pause(60_000));
  assert.equal(d.status.phase, "Paused");
  assert.equal(cond(d, "Paused"), "PausedByStep: paused");
  assert.equal(cond(d, "Progressing"), "RolloutPaused: paused");
  assert.equal(d.requeueAfterMs, 60_000);
  assert.ok(f.events.some((e) => e.reason === "RolloutPaused"));
  assert.equal(f.decide(pause(500)).requeueAfterMs, 1000, "at least a second");
  assert.deepEqual(f.events, []);
  assert.equal(f.decide(pause()).requeueAfterMs, undefined, "until promoted: nothing to wait for");
  assert.equal(f.decide(pods).status.phase, "Progressing");
});

test("analysis and timers: measure what is due, requeue when the next measurement or the countdown is due", () => {
  const f = new Frame();
  const analysis = (due: string[], nextMs?: number): Stop => ({
    kind: "wait",
    wait: {
      on: "analysis",
      run: { phase: "Running", due, ...(nextMs ? { nextMs } : {}), summary: "s" },
      message: "measuring",
    },
  });
  const d = f.decide(analysis(["errors"]));
  assert.deepEqual(d.measure, ["errors"]);
  assert.equal(d.requeueAfterMs, 1000);
  assert.equal(cond(d, "Progressing"), "AnalysisRunning: measuring");
  assert.equal(f.decide(analysis([], 30_000)).requeueAfterMs, 30_000);
  const timer = f.decide({
    kind: "wait",
    wait: { on: "timer", reason: "WaitingForPromotion", message: "in 40s", forMs: 40_000 },
  });
  assert.equal(timer.requeueAfterMs, 40_000);
  assert.equal(timer.status.phase, "Progressing");
  assert.equal(cond(timer, "Progressing"), "WaitingForPromotion: in 40s");
});

test("failures: failed pods first, then a failed step", () => {
  const failed = { kind: "fail", reason: "AnalysisFailed", message: "errors Failed" } as const;
  const d = new Frame().decide(failed);
  assert.equal(cond(d, "RolledBack"), rolledBack("AnalysisFailed", "errors Failed"));
  const crashing = new Frame({ cand: { failed: { reason: "CrashLoopBackOff", message: "serve" } } });
  assert.equal(
    cond(crashing.decide(failed), "RolledBack"),
    rolledBack("PodsFailed", "CrashLoopBackOff: serve"),
  );
  const held = new Frame({ autoRollback: false }).decide(failed);
  assert.equal(held.status.phase, "Degraded");
  assert.deepEqual(held.measure, []);
});

test("promotion: the candidate becomes stable", () => {
  const f = new Frame({ cand: { replicas: 4, readyReplicas: 4, availableReplicas: 4 } });
  const d = f.decide({ kind: "promote", why: "all steps completed" });
  assert.equal(d.status.stableRevision, "c1");
  assert.equal(d.status.canaryRevision, undefined);
  assert.ok(f.events.some((e) => e.reason === "RolloutPromoted"));
});
