import { unschedulableReason } from "./gpu.js";
import { blueGreen } from "./bluegreen.js";
import { writeBook } from "./book.js";
import { canary } from "./canary.js";
import { reasons, rolloutConditions } from "./conditions.js";
import { clearCandidate, makeEnv, observedById, plannedRev, podFailure, type Env, type Rev } from "./env.js";
import { decideRollout } from "./frame.js";
import { rollBack, driftRollback } from "./rollback.js";
import { decideRolling } from "./rolling.js";
import { decideRolledBack, decideSteady } from "./steady.js";
import type { RolloutContext, RolloutDecision } from "./types.js";

/**
 * The rollout state machine: pure, (context, now) -> decision. `now` is injected so tests walk time forward;
 * everything decide() must remember between calls goes to status.rollout (the book) and comes back in ctx.
 *
 * Order of concerns: user requests (retry clears a rollback) -> a rolled-back candidate stays down -> steady
 * state (with drift rollback) -> the strategy walks the candidate (canary and blue-green as step handlers
 * inside one frame, frame.ts).
 */
export function decide(ctx: RolloutContext, now: Date): RolloutDecision {
  const env = makeEnv(ctx, now);
  const { book } = env;
  const desired: Rev = {
    ...ctx.desired,
    ...(observedById(ctx, ctx.desired.id) ? { obs: observedById(ctx, ctx.desired.id)! } : {}),
  };
  const stable = resolveStable(env, desired);

  if (book.aborted && book.aborted.revision !== desired.id) delete book.aborted; // the spec moved on
  if (env.requests.retry && book.aborted?.revision === desired.id) {
    env.events.push({
      type: "Normal",
      reason: "RolloutRetried",
      message: `retrying revision ${desired.id} from step 0 after ${book.aborted.reason}`,
    });
    delete book.aborted;
    clearCandidate(book);
  }

  let d: RolloutDecision;
  if (!stable) d = decideSteady(env, desired);
  else if (book.aborted?.revision === desired.id) d = decideRolledBack(env, stable);
  else if (stable.id === desired.id) d = driftRollback(env, stable) ?? decideSteady(env, stable);
  else {
    switch (ctx.md.spec.rollout.strategy) {
      case "canary":
        d = decideRollout(env, stable, desired, canary);
        break;
      case "blueGreen":
        d = decideRollout(env, stable, desired, blueGreen);
        break;
      default:
        d = rollingWithRollback(env, stable, desired);
    }
  }
  return finish(env, d, desired);
}

/**
 * The revision serving traffic: status.stableRevision, rendered from its Deployment's spec, else from the
 * book (its Deployment may not be in the cache yet). Undefined on a first deployment.
 */
function resolveStable(env: Env, desired: Rev): Rev | undefined {
  const id = env.ctx.md.status?.stableRevision;
  if (id === undefined) return undefined;
  const obs = observedById(env.ctx, id);
  const { book } = env;
  const spec =
    obs?.spec ??
    (book.stable?.id === id ? book.stable.spec : undefined) ??
    (book.previous?.id === id ? book.previous.spec : undefined) ??
    (id === desired.id ? desired.spec : undefined);
  if (!spec) {
    env.events.push({
      type: "Warning",
      reason: "StableRevisionLost",
      message: `stable revision ${id} is gone and its spec is unknown; deploying revision ${desired.id} directly`,
    });
    return undefined;
  }
  return { id, spec, ...(obs ? { obs } : {}) };
}

/** Rolling: the new revision at full size at once (rolling.ts); abort and failed pods roll back here. */
function rollingWithRollback(env: Env, stable: Rev, cand: Rev): RolloutDecision {
  if (env.book.candidate !== cand.id) {
    clearCandidate(env.book);
    env.book.candidate = cand.id;
  }
  if (env.requests.abort) return rollBack(env, stable, cand, reasons.aborted, "aborted with modelship abort");
  const failure = podFailure(cand);
  if (failure && env.ctx.md.spec.rollout.autoRollback) {
    return rollBack(env, stable, cand, reasons.podsFailed, `${failure.reason}: ${failure.message}`);
  }
  const d = decideRolling(env.ctx, env.now);
  // The same four conditions as the other strategies, so a RolledBack or WaitingForCapacity left from
  // before flips to False, and GPU waits show here too.
  const progressing = d.status.conditions.find((c) => c.type === "Progressing");
  const waiting = cand.obs?.unschedulable;
  d.status.conditions = rolloutConditions({
    progressing: progressing
      ? { status: progressing.status === "True", reason: progressing.reason, message: progressing.message }
      : { status: true, reason: reasons.waitingForReplicas, message: `rolling out revision ${cand.id}` },
    ...(waiting
      ? {
          waiting: {
            reason: unschedulableReason(cand.spec),
            message: `new pods cannot be scheduled: ${waiting.message}`,
          },
        }
      : {}),
  });
  if (d.status.stableRevision === cand.id) {
    env.book.promotedRevision = cand.id;
    env.book.promotedAt = env.time;
    env.book.previous = { id: stable.id, spec: stable.spec };
    clearCandidate(env.book);
  }
  return d;
}

/** Attaches the book, history and events, and keeps a replaced revision for its scale-down delay. */
function finish(env: Env, d: RolloutDecision, desired: Rev): RolloutDecision {
  const { book } = env;
  const stableId = d.status.stableRevision;
  if (stableId !== undefined) {
    const spec =
      stableId === desired.id ? desired.spec : (observedById(env.ctx, stableId)?.spec ?? book.stable?.spec);
    if (spec) book.stable = { id: stableId, spec };
  }
  let plan = d.plan;
  let prune = d.prune;
  let requeueAfterMs = d.requeueAfterMs;
  const sd = book.scaleDown;
  if (sd) {
    const left = Date.parse(sd.until) - env.now.getTime();
    const inPlan = sd.id === stableId || sd.id === d.status.canaryRevision;
    if (left <= 0 || inPlan) delete book.scaleDown;
    else {
      plan = {
        ...plan,
        revisions: [...plan.revisions, plannedRev(sd, "old", sd.replicas)].map(
          ({ role, spec, replicas }) => ({ role, spec, replicas }),
        ),
      };
      prune = prune.filter((id) => id !== sd.id);
      requeueAfterMs = Math.min(requeueAfterMs ?? left, left);
    }
  }
  return {
    ...d,
    plan,
    prune,
    ...(requeueAfterMs !== undefined ? { requeueAfterMs } : {}),
    status: {
      ...d.status,
      history: [...env.history, ...d.status.history],
      rollout: writeBook(book),
    },
    events: [...env.events, ...d.events],
  };
}

export { templatesDue } from "./due.js";
