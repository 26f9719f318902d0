import { reasons, rolloutConditions } from "./conditions.js";
import { clearCandidate, historyEntry, type Env, type Rev } from "./env.js";
import { decideRolledBack } from "./steady.js";
import type { RolloutDecision } from "./types.js";

/**
 * Rolls the candidate back: all traffic to stable, the candidate scaled away, RolledBack with the reason, a
 * Warning Event and a history entry. The result equals what the next reconcile computes from the book, so
 * a repeated reconcile changes nothing.
 */
export function rollBack(
  env: Env,
  stable: Rev,
  candidate: Rev,
  reason: string,
  message: string,
): RolloutDecision {
  const user = reason === reasons.aborted;
  env.book.aborted = { revision: candidate.id, reason, message, at: env.time };
  clearCandidate(env.book);
  env.history.push(
    historyEntry(candidate, user ? "Aborted" : "RolledBack", env.time, `${reason}: ${message}`),
  );
  env.events.push({
    type: "Warning",
    reason: user ? "RolloutAborted" : "RolledBack",
    message: `revision ${candidate.id} (model ${candidate.spec.model.version}) rolled back to ${stable.id}: ${reason}: ${message}`,
  });
  return decideRolledBack(env, stable);
}

/**
 * A failure of the candidate: rolled back when spec.rollout.autoRollback is on; otherwise the rollout holds
 * where it is (Degraded, paused) for a person to abort, retry or promote past it.
 */
export function failCandidate(
  env: Env,
  stable: Rev,
  candidate: Rev,
  reason: string,
  message: string,
  hold: RolloutDecision,
): RolloutDecision {
  if (env.ctx.md.spec.rollout.autoRollback) return rollBack(env, stable, candidate, reason, message);
  if (env.book.failedReason !== reason) {
    env.events.push({
      type: "Warning",
      reason: "RolloutDegraded",
      message: `revision ${candidate.id}: ${reason}: ${message}; autoRollback is off: run modelship abort or promote`,
    });
    env.book.failedReason = reason;
  }
  const { requeueAfterMs: _r, ...rest } = hold;
  return {
    ...rest,
    measure: [],
    status: {
      ...hold.status,
      phase: "Degraded",
      conditions: rolloutConditions({
        progressing: { status: false, reason, message },
        paused: { reason, message: `${message}; autoRollback is off: run modelship abort or promote` },
      }),
    },
  };
}

/**
 * spec.monitoring.drift.action rollback: a drift verdict about the revision promoted last (the drift job ran
 * after the promotion) restores the previous stable revision, remembered in the book at promotion time.
 */
export function driftRollback(env: Env, stable: Rev): RolloutDecision | undefined {
  const { md } = env.ctx;
  const { book } = env;
  if (md.spec.monitoring?.drift?.action !== "rollback") return undefined;
  const drift = md.status?.drift;
  if (drift?.verdict !== "drift" || drift.lastRun === undefined) return undefined;
  const previous = book.previous;
  if (!previous || previous.id === stable.id || book.promotedAt === undefined) return undefined;
  if (Date.parse(drift.lastRun) <= Date.parse(book.promotedAt)) return undefined;
  const restored: Rev = {
    id: previous.id,
    spec: previous.spec,
    ...(env.ctx.observed.find((o) => o.id === previous.id)
      ? { obs: env.ctx.observed.find((o) => o.id === previous.id)! }
      : {}),
  };
  const message = `drift verdict of ${drift.lastRun}${drift.score !== undefined ? ` (score ${drift.score})` : ""}${drift.message ? `: ${drift.message}` : ""}`;
  delete book.previous;
  book.promotedRevision = restored.id;
  book.promotedAt = env.time;
  book.stable = { id: restored.id, spec: restored.spec };
  return rollBack(env, restored, stable, reasons.driftDetected, message);
}
