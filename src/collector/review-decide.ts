// The review queue's decisions, pure over (items, now): what state an item is in, which items a claim takes,
// whether a label is accepted, and which item makes room when a model's queue is full.

export interface ReviewClaim {
  reviewer: string;
  /** RFC 3339; after it the item is pending again (a reviewer who crashed gives it back by doing nothing). */
  until: string;
}

export interface ReviewLabel {
  value: number | string | boolean | unknown[];
  reviewer: string;
  at: string;
  /** The id of the feedback event the label was written as. */
  feedbackId: string;
}

/** One prediction waiting for a human: what the model saw and said, and why it was marked. */
export interface ReviewItem {
  eventId: string;
  model: string;
  modelVersion?: string;
  /** The inference event's source, which its feedback event repeats. */
  source: string;
  revision: string;
  /** The inference event's time. */
  time: string;
  queuedAt: string;
  topProbability: number;
  threshold: number;
  /** The batch rows below the threshold. */
  rows: number[];
  /** The marked rows' features (when the deployment declares a feature schema) and predictions. */
  features?: Record<string, unknown>[];
  predictions?: unknown[];
  /** The request's input tensors, when there are no features and they are small. */
  inputs?: unknown[];
  claim?: ReviewClaim;
  label?: ReviewLabel;
}

export type ReviewState = "pending" | "claimed" | "labeled";
export const REVIEW_STATES: readonly ReviewState[] = ["pending", "claimed", "labeled"];

export function itemState(item: ReviewItem, now: Date): ReviewState {
  if (item.label !== undefined) return "labeled";
  if (item.claim !== undefined && Date.parse(item.claim.until) > now.getTime()) return "claimed";
  return "pending";
}

/**
 * Claims up to `count` pending items for `reviewer`, lowest confidence first (ties: oldest first), and
 * returns them; items whose claim expired count as pending. Mutates the claimed items.
 */
export function claimItems(
  items: Iterable<ReviewItem>,
  reviewer: string,
  count: number,
  now: Date,
  leaseMs: number,
): ReviewItem[] {
  const pending = [...items]
    .filter((i) => itemState(i, now) === "pending")
    .sort((a, b) => a.topProbability - b.topProbability || a.queuedAt.localeCompare(b.queuedAt));
  const until = new Date(now.getTime() + leaseMs).toISOString();
  const taken = pending.slice(0, count);
  for (const i of taken) i.claim = { reviewer, until };
  return taken;
}

/**
 * Whether `reviewer` may label the item now: an error naming why not, or undefined. A label needs no claim
 * (a queue of one reviewer works without), but another reviewer's live claim blocks it; an item already
 * labeled takes the same label again (a retried request) and refuses a different one.
 */
export function labelRefusal(
  item: ReviewItem,
  reviewer: string,
  value: ReviewLabel["value"],
  now: Date,
): { status: 409; error: string } | undefined {
  if (item.label !== undefined) {
    if (JSON.stringify(item.label.value) === JSON.stringify(value)) return undefined;
    return {
      status: 409,
      error: `event ${item.eventId} was labeled ${JSON.stringify(item.label.value)} by ${item.label.reviewer} already`,
    };
  }
  if (itemState(item, now) === "claimed" && item.claim!.reviewer !== reviewer)
    return {
      status: 409,
      error: `event ${item.eventId} is claimed by ${item.claim!.reviewer} until ${item.claim!.until}; claim other items, or wait until then`,
    };
  return undefined;
}

/**
 * Which item leaves a full queue so a new one fits: the oldest labeled item (its feedback event is stored
 * already), else the oldest pending one. Undefined when every item is claimed: the new item is dropped.
 */
export function evictionCandidate(items: Iterable<ReviewItem>, now: Date): ReviewItem | undefined {
  let labeled: ReviewItem | undefined;
  let pending: ReviewItem | undefined;
  for (const i of items) {
    const s = itemState(i, now);
    if (s === "labeled" && (labeled === undefined || i.queuedAt < labeled.queuedAt)) labeled = i;
    if (s === "pending" && (pending === undefined || i.queuedAt < pending.queuedAt)) pending = i;
  }
  return labeled ?? pending;
}
