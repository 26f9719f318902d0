import { unschedulableReason } from "./gpu.js";
import { reasons, rolloutConditions } from "./conditions.js";
import {
  available,
  clearCandidate,
  historyEntry,
  plannedRev,
  pruneExcept,
  renderPlan,
  type Env,
  type Rev,
} from "./env.js";
import type { RolloutDecision } from "./types.js";

const settleRequeueMs = 10_000;

/**
 * Only the stable revision runs and takes all traffic: the first deployment, the state after a promotion, and
 * every reconcile of a healthy deployment. The first time the revision is fully available it is recorded as
 * Promoted (a first deployment has nothing to roll out from).
 */
export function decideSteady(env: Env, stable: Rev): RolloutDecision {
  const { book, total } = env;
  clearCandidate(book);
  const ready = available(stable) >= total && stable.obs !== undefined;
  if (ready && book.promotedRevision !== stable.id) {
    env.history.push(historyEntry(stable, "Promoted", env.time));
    env.events.push({
      type: "Normal",
      reason: "RevisionAvailable",
      message: `revision ${stable.id} (model ${stable.spec.model.version}) is available`,
    });
    book.promotedRevision = stable.id;
    book.promotedAt = env.time;
  }
  const failed = stable.obs?.failed;
  const waiting = stable.obs?.unschedulable;
  const planned = [plannedRev(stable, "stable", total)];
  return {
    plan: renderPlan(planned, { stable: 100, canary: 0 }),
    status: {
      stableRevision: stable.id,
      phase: ready ? "Healthy" : failed && !waiting ? "Degraded" : "Progressing",
      modelVersion: stable.spec.model.version,
      conditions: rolloutConditions({
        progressing: ready
          ? { status: false, reason: reasons.rolloutComplete, message: `revision ${stable.id} is available` }
          : failed && !waiting
            ? { status: false, reason: failed.reason, message: failed.message }
            : {
                status: true,
                reason: reasons.waitingForReplicas,
                message: `revision ${stable.id}: ${available(stable)}/${total} replicas available`,
              },
        ...(waiting
          ? { waiting: { reason: unschedulableReason(stable.spec), message: waiting.message } }
          : {}),
      }),
      history: [],
      rollout: {},
    },
    prune: pruneExcept(env.ctx, planned),
    measure: [],
    ...(ready ? {} : { requeueAfterMs: settleRequeueMs }),
    events: [],
  };
}

/**
 * The candidate was rolled back or aborted: stable takes all traffic and the candidate is scaled away, until the
 * spec changes (a new candidate) or someone asks to `retry`.
 */
export function decideRolledBack(env: Env, stable: Rev): RolloutDecision {
  const aborted = env.book.aborted!;
  clearCandidate(env.book);
  const planned = [plannedRev(stable, "stable", env.total)];
  const message = `revision ${aborted.revision} was rolled back (${aborted.reason}): ${aborted.message}; change the spec or run modelship retry`;
  return {
    plan: renderPlan(planned, { stable: 100, canary: 0 }),
    status: {
      stableRevision: stable.id,
      phase: "RolledBack",
      modelVersion: stable.spec.model.version,
      conditions: rolloutConditions({
        progressing: { status: false, reason: aborted.reason, message },
        rolledBack: { reason: aborted.reason, message },
      }),
      history: [],
      rollout: {},
    },
    prune: pruneExcept(env.ctx, planned),
    measure: [],
    ...(available(stable) >= env.total ? {} : { requeueAfterMs: settleRequeueMs }),
    events: [],
  };
}
