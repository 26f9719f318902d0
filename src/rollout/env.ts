import type { HistoryEntry } from "../api/v1alpha1/index.js";
import {
  desiredReplicas,
  type PlannedRevision,
  type RenderPlan,
  type RevisionRole,
  type RevisionSpec,
} from "../render/plan.js";
import { readBook, type Book } from "./book.js";
import type { ObservedRevision, RolloutContext, RolloutDecision, UserRequests } from "./types.js";

/** A revision decide() reasons about: its id, the spec it renders from, and its Deployment if one exists. */
export interface Rev {
  id: string;
  spec: RevisionSpec;
  obs?: ObservedRevision;
}

/** Requests not acted on yet. promote "full" skips every remaining step; "step" ends the current one. */
export interface NewRequests {
  promote?: "step" | "full";
  abort: boolean;
  retry: boolean;
}

/** Everything one decide() call works with; `book`, `events` and `history` are its mutable outputs. */
export interface Env {
  ctx: RolloutContext;
  now: Date;
  time: string;
  book: Book;
  /** N: replicas of the serving revision (spec.replicas, written by the autoscaler when there is one). */
  total: number;
  requests: NewRequests;
  events: RolloutDecision["events"];
  history: HistoryEntry[];
}

/** A planned revision with its id, so pruning can tell what the plan keeps. */
export interface Planned extends PlannedRevision {
  id: string;
}

export function makeEnv(ctx: RolloutContext, now: Date): Env {
  const book = readBook(ctx.md.status?.rollout);
  return {
    ctx,
    now,
    time: now.toISOString(),
    book,
    total: desiredReplicas(ctx.md.spec),
    requests: takeRequests(ctx.requests, book),
    events: [],
    history: [],
  };
}

/**
 * Each request annotation holds a fresh nonce; a value differs from the one recorded as handled exactly once,
 * so a request acts once however often reconcile runs. A request that arrives when nothing can use it (promote
 * on a healthy deployment) is consumed too, so it cannot skip a pause of a later rollout.
 */
export function takeRequests(req: UserRequests, book: Book): NewRequests {
  const handled = { ...(book.handled ?? {}) };
  const fresh = (k: "promote" | "abort" | "retry") => {
    const v = req[k];
    if (v === undefined || v === "" || v === handled[k]) return false;
    handled[k] = v;
    return true;
  };
  const promoteValue = req.promote;
  const out: NewRequests = {
    ...(fresh("promote")
      ? { promote: promoteValue?.startsWith("full:") ? ("full" as const) : ("step" as const) }
      : {}),
    abort: fresh("abort"),
    retry: fresh("retry"),
  };
  book.handled = handled;
  return out;
}

export function observedById(ctx: RolloutContext, id: string): ObservedRevision | undefined {
  return ctx.observed.find((o) => o.id === id);
}

export function plannedRev(rev: Rev, role: RevisionRole, replicas: number): Planned {
  return { id: rev.id, role, spec: rev.spec, replicas };
}

export function renderPlan(
  planned: Planned[],
  weights: RenderPlan["weights"],
  extra: Pick<RenderPlan, "headerRoute" | "mirror" | "loadTest"> = {},
): RenderPlan {
  return {
    revisions: planned.map(({ role, spec, replicas }) => ({ role, spec, replicas })),
    weights,
    ...(extra.headerRoute ? { headerRoute: extra.headerRoute } : {}),
    ...(extra.mirror ? { mirror: extra.mirror } : {}),
    ...(extra.loadTest ? { loadTest: extra.loadTest } : {}),
  };
}

/** Observed revisions the plan does not keep: their Deployments may go. */
export function pruneExcept(ctx: RolloutContext, planned: Planned[]): string[] {
  const keep = new Set(planned.map((p) => p.id));
  return ctx.observed.map((o) => o.id).filter((id) => !keep.has(id));
}

/** Forgets the step state of a candidate (after promotion, rollback or when the spec moved on). */
export function clearCandidate(book: Book): void {
  for (const k of [
    "candidate",
    "step",
    "stepStartedAt",
    "weight",
    "headerRoute",
    "mirror",
    "progressAt",
    "progressAvailable",
    "analysis",
    "previewReadyAt",
    "promoteRequested",
    "pausedReason",
    "failedReason",
  ] as const) {
    delete book[k];
  }
}

export function historyEntry(
  rev: Rev,
  outcome: HistoryEntry["outcome"],
  time: string,
  reason?: string,
): HistoryEntry {
  return {
    revision: rev.id,
    modelVersion: rev.spec.model.version,
    outcome,
    ...(reason ? { reason: reason.slice(0, 256) } : {}),
    time,
  };
}

export function available(rev: Rev): number {
  return rev.obs?.availableReplicas ?? 0;
}

/** A candidate failure that is not just a wait for capacity (Pending pods also end in a Deployment deadline). */
export function podFailure(rev: Rev): { reason: string; message: string } | undefined {
  if (!rev.obs?.failed) return undefined;
  if (rev.obs.unschedulable) return undefined;
  return rev.obs.failed;
}
