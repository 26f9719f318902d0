import { desiredReplicas } from "../render/plan.js";
import type { ObservedRevision, RolloutContext, RolloutDecision } from "./types.js";

const settleRequeueMs = 10_000;

/**
 * Rolling: the new revision takes the whole replica count at once and the previous stable revision keeps
 * serving until the new one is available, then it is removed. No traffic shaping, no analysis.
 *
 * Worked example: stable A (3 pods), spec changes to B.
 *   reconcile 1: plan [B stable x3, A old x3]; both Deployments run; Service selects both.
 *   B has 3 available: plan [B stable x3]; prune A; history: A Superseded, B Promoted.
 */
export function decideRolling(ctx: RolloutContext, at: Date): RolloutDecision {
  const { md, desired, observed } = ctx;
  const replicas = desiredReplicas(md.spec);
  const byId = new Map(observed.map((r) => [r.id, r]));
  const current = byId.get(desired.id);
  const previousStable = md.status?.stableRevision;
  const old = previousStable && previousStable !== desired.id ? byId.get(previousStable) : undefined;
  const available =
    current !== undefined && current.availableReplicas >= replicas && current.replicas === replicas;
  const keepOld = old !== undefined && !available;
  const prune = observed.map((r) => r.id).filter((id) => id !== desired.id && !(keepOld && id === old?.id));
  const now = at.toISOString();
  const switched = previousStable !== desired.id && available;
  const failed = current?.failed;

  const conditions: RolloutDecision["status"]["conditions"] = [
    available
      ? {
          type: "Progressing",
          status: "False",
          reason: "RolloutComplete",
          message: `revision ${desired.id} is available`,
        }
      : failed
        ? { type: "Progressing", status: "False", reason: failed.reason, message: failed.message }
        : {
            type: "Progressing",
            status: "True",
            reason: current ? "ReplicasNotAvailable" : "NewRevisionCreated",
            message: `revision ${desired.id}: ${current?.availableReplicas ?? 0}/${replicas} replicas available`,
          },
  ];
  return {
    plan: {
      revisions: [
        { role: "stable", spec: desired.spec, replicas },
        ...(keepOld && old ? [{ role: "old" as const, spec: old.spec, replicas: old.replicas }] : []),
      ],
      weights: { stable: 100, canary: 0 },
    },
    status: {
      // The stable revision moves to the new one only once it is available, so status tells what serves.
      stableRevision: available || !old ? desired.id : previousStable,
      phase: failed ? "Degraded" : available ? "Healthy" : "Progressing",
      modelVersion: available || !old ? desired.spec.model.version : old.spec.model.version,
      conditions,
      history: switched
        ? [
            ...(old ? [entry(old, "Superseded", now)] : []),
            {
              revision: desired.id,
              modelVersion: desired.spec.model.version,
              outcome: "Promoted",
              time: now,
            },
          ]
        : [],
      rollout: {},
    },
    prune,
    measure: [],
    ...(available ? {} : { requeueAfterMs: settleRequeueMs }),
    events:
      switched && old
        ? [
            {
              type: "Normal",
              reason: "RevisionPromoted",
              message: `revision ${desired.id} (model ${desired.spec.model.version}) replaced ${old.id}`,
            },
          ]
        : [],
  };
}

function entry(r: ObservedRevision, outcome: "Superseded", time: string) {
  return { revision: r.id, modelVersion: r.spec.model.version, outcome, time };
}
