import { reasons } from "./conditions.js";
import { clearCandidate, historyEntry, type Env, type Rev } from "./env.js";

/**
 * Starts the bookkeeping for `candidate`, or restarts it from step 0 when the spec moved on mid-rollout (the
 * candidate in progress is recorded as Superseded and scaled away by the new plan).
 */
export function startCandidate(env: Env, stable: Rev, candidate: Rev): void {
  const { book } = env;
  if (book.candidate === candidate.id) return;
  const previous = book.candidate;
  if (previous !== undefined && previous !== stable.id) {
    const spec = env.ctx.observed.find((o) => o.id === previous)?.spec;
    if (spec)
      env.history.push(
        historyEntry({ id: previous, spec }, "Superseded", env.time, "the spec changed mid-rollout"),
      );
    env.events.push({
      type: "Normal",
      reason: "RolloutRestarted",
      message: `the spec changed mid-rollout: revision ${previous} replaced by ${candidate.id}, starting again from step 0`,
    });
  } else {
    env.events.push({
      type: "Normal",
      reason: reasons.rolloutStarted,
      message: `rolling out revision ${candidate.id} (model ${candidate.spec.model.version}) over ${stable.id}`,
    });
  }
  clearCandidate(book);
  book.candidate = candidate.id;
  book.step = 0;
  book.stepStartedAt = env.time;
  book.weight = 0;
  book.progressAt = env.time;
  book.progressAvailable = 0;
}

/** Records progress (more candidate pods available, or a step done) for the progress deadline. */
export function noteProgress(env: Env, candidateAvailable: number, stepDone: boolean): void {
  const { book } = env;
  if (stepDone || candidateAvailable > (book.progressAvailable ?? 0)) {
    book.progressAt = env.time;
    book.progressAvailable = candidateAvailable;
  }
}

/** Milliseconds the candidate has gone without progress. */
export function sinceProgressMs(env: Env): number {
  const at = env.book.progressAt;
  return at === undefined ? 0 : env.now.getTime() - Date.parse(at);
}

/** Emits RolloutPaused once per pause. */
export function notePause(env: Env, reason: string | undefined, message: string): void {
  if (reason === undefined) {
    delete env.book.pausedReason;
    return;
  }
  if (env.book.pausedReason === reason) return;
  env.book.pausedReason = reason;
  env.events.push({ type: "Normal", reason: "RolloutPaused", message });
}

/** Emits WaitingForCapacity once per wait. */
export function noteCapacity(env: Env, waiting: { reason: string; message: string } | undefined): void {
  if (!waiting) {
    delete env.book.waitingForCapacity;
    return;
  }
  if (env.book.waitingForCapacity) return;
  env.book.waitingForCapacity = true;
  env.events.push({ type: "Warning", reason: "WaitingForCapacity", message: waiting.message });
}
