import { canonicalJSON } from "../render/canonical-json.js";
import type { RevisionSpec } from "../render/plan.js";
import { newestFirst, readKeptRevisions, type KeptRevision } from "../render/revisions-configmap.js";
import { readBook } from "./book.js";
import type { RolloutStatus } from "./types.js";
import { table } from "./view.js";

/** The revision a decision leaves promoted: the stable one, once the book records its promotion. */
export interface Promotion {
  id: string;
  spec: RevisionSpec;
  at: string;
}

export function promotionOf(
  status: Pick<RolloutStatus, "stableRevision" | "rollout">,
): Promotion | undefined {
  const id = status.stableRevision;
  const book = readBook(status.rollout);
  if (id === undefined || book.promotedRevision !== id || book.promotedAt === undefined) return undefined;
  if (book.stable?.id !== id) return undefined;
  return { id, spec: book.stable.spec, at: book.promotedAt };
}

/**
 * The kept revisions after a decision: the promoted revision first, then up to `limit` earlier ones, newest
 * first. A revision promoted again (a rollback to it) moves to the front with its new time; an older entry
 * with the same spec under another id (the controller's image changed, so its hash did) is dropped, since
 * writing that spec back renders the new id anyway. The promotion time comes from the book, not the clock,
 * so every reconcile of the same decision computes the same history (no writes on a resync).
 */
export function nextRevisionHistory(
  kept: KeptRevision[],
  promoted: Promotion | undefined,
  limit: number,
): KeptRevision[] {
  const older = [...kept].sort(newestFirst);
  if (!promoted) return older.slice(0, limit + 1);
  const spec = canonicalJSON(promoted.spec);
  const rest = older.filter((k) => k.id !== promoted.id && canonicalJSON(k.spec) !== spec);
  return [
    {
      id: promoted.id,
      modelVersion: promoted.spec.model.version,
      promotedAt: promoted.at,
      spec: promoted.spec,
    },
    ...rest.slice(0, limit),
  ];
}

/** The cached `<name>-revisions` ConfigMap, as far as the history reads it. */
export interface KeptRevisionsObject {
  metadata?: { ownerReferences?: { uid: string }[] };
  data?: unknown;
}

/**
 * What the controller renders into `<name>-revisions`: the cached ConfigMap's entries plus this decision's
 * promotion. A ConfigMap another owner left (a ModelDeployment of the same name deleted a moment ago) is not
 * this one's history.
 */
export function keptRevisionsAfter(
  live: KeptRevisionsObject | undefined,
  ownerUid: string | undefined,
  status: Pick<RolloutStatus, "stableRevision" | "rollout">,
  limit: number,
): KeptRevision[] {
  const ours = live?.metadata?.ownerReferences?.some((r) => r.uid === ownerUid) === true;
  const data = ours ? (live?.data as Record<string, string> | undefined) : undefined;
  return nextRevisionHistory(readKeptRevisions(data), promotionOf(status), limit);
}

/** `--to-revision`: an exact id, or a prefix of exactly one kept id (like a git hash). */
export function findKeptRevision(kept: KeptRevision[], ref: string): KeptRevision | undefined {
  const exact = kept.find((k) => k.id === ref);
  if (exact) return exact;
  const matches = ref.length >= 4 ? kept.filter((k) => k.id.startsWith(ref)) : [];
  return matches.length === 1 ? matches[0] : undefined;
}

/** The kept revisions as `modelship status` and `modelship rollback` list them. Pure. */
export function formatKeptRevisions(
  kept: KeptRevision[],
  stableRevision: string | undefined,
  target: { name: string; namespace: string },
): string[] {
  if (kept.length === 0) return [];
  const rows = [...kept]
    .sort(newestFirst)
    .map((k) => [
      `  ${k.id}`,
      k.modelVersion,
      k.promotedAt,
      k.id === stableRevision ? "stable" : "rollback target",
    ]);
  return [
    ...table(["  REVISION", "MODEL VERSION", "PROMOTED", "STATE"], rows),
    `  roll back with: modelship rollback ${target.name} -n ${target.namespace} --to-revision REVISION`,
  ];
}
