import type { HeaderRoute, RevisionSpec } from "../render/plan.js";

/** One analysis measurement as the state machine judged it, kept so `modelship status` can show it. */
export interface MeasurementRecord {
  template: string;
  time: string;
  value?: number;
  stableValue?: number;
  phase: "Successful" | "Failed" | "Inconclusive";
  message: string;
}

/** A revision the state machine may need to render again after its Deployment is gone. */
export interface RememberedRevision {
  id: string;
  spec: RevisionSpec;
}

/**
 * The rollout's bookkeeping, kept in status.rollout between reconciles. decide() reads it, returns the next
 * one, and never depends on anything else it wrote, so a lost status write only repeats a step.
 */
export interface Book {
  /** The candidate revision the step fields refer to. */
  candidate?: string;
  /** Index of the current canary step; steps.length = promoting. */
  step?: number;
  stepStartedAt?: string;
  /** Percent of traffic the canary has been given (the last setWeight it reached). */
  weight?: number;
  headerRoute?: HeaderRoute;
  mirror?: { percent: number };
  /** When the candidate last made progress (started, a step completed, more pods available). */
  progressAt?: string;
  /** Available candidate pods at progressAt. */
  progressAvailable?: number;
  /** The running analysis: which step (-1 = blue-green pre-promotion), when it began, what it measured. */
  analysis?: { step: number; startedAt: string; results: MeasurementRecord[] };
  /** Blue-green: when the preview revision became fully available. */
  previewReadyAt?: string;
  /** Blue-green: `promote` was asked for before the preview was ready. */
  promoteRequested?: boolean;
  /** A candidate that was rolled back or aborted; it stays down until the spec changes or `retry`. */
  aborted?: { revision: string; reason: string; message: string; at: string };
  /** The stable revision before the last promotion: the target of a drift rollback. */
  previous?: RememberedRevision;
  /** The revision last recorded as Promoted, and when (or when it was restored by a rollback). */
  promotedRevision?: string;
  promotedAt?: string;
  /** The stable revision's spec, so it renders even before its Deployment shows in the cache. */
  stable?: RememberedRevision;
  /** A replaced revision kept serving nothing until `until` (blue-green scaleDownDelaySeconds). */
  scaleDown?: RememberedRevision & { until: string; replicas: number };
  /** Request nonces already acted on, so each promote/abort/retry happens once. */
  handled?: { promote?: string; abort?: string; retry?: string };
  /** Whether the last decision was waiting for capacity (to emit the event once). */
  waitingForCapacity?: boolean;
  /** Reason of the last pause, to emit the event once. */
  pausedReason?: string;
  /** Reason of the failure the rollout holds at (autoRollback off), to emit the event once. */
  failedReason?: string;
}

/** Reads status.rollout into a fresh copy (decide() mutates its copy, never the context). */
export function readBook(raw: Record<string, unknown> | undefined): Book {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) return {};
  const book = structuredClone(raw) as Book;
  if (book.step !== undefined && (!Number.isInteger(book.step) || book.step < 0)) delete book.step;
  if (book.weight !== undefined && !(book.weight >= 0 && book.weight <= 100)) delete book.weight;
  if (book.analysis !== undefined && !Array.isArray(book.analysis.results)) delete book.analysis;
  return book;
}

/** The book as a plain record for status.rollout, without undefined fields. */
export function writeBook(book: Book): Record<string, unknown> {
  return JSON.parse(JSON.stringify(book)) as Record<string, unknown>;
}
