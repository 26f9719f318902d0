import type { ModelDeploymentSpec } from "../api/v1alpha1/index.js";
import { canonicalJSON } from "../render/canonical-json.js";
import { revisionSpecOf, type RevisionSpec } from "../render/plan.js";
import type { KeptRevision } from "../render/revisions-configmap.js";
import { requestAnnotations } from "./types.js";

/** Set by `modelship rollback` on the ModelDeployment: which kept revision its spec was set back to. */
export const rolledBackToAnnotation = "modelship.io/rolled-back-to";

/** The spec fields a revision is made of (revisionSpecOf), in the ModelDeployment's own shape. */
const podFields = [
  "model",
  "additionalModels",
  "runtime",
  "resources",
  "scheduling",
  "logging",
  "podMetadata",
] as const;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * The RFC 7386 JSON merge patch that turns `from` into `to`; undefined when they are equal. Objects are
 * merged key by key (a key `to` lacks becomes null, which deletes it); arrays and scalars are replaced whole.
 */
export function mergePatchBetween(from: unknown, to: unknown): Json | undefined {
  if (to === undefined) return from === undefined ? undefined : null;
  if (isObject(from) && isObject(to)) {
    const out: Record<string, Json> = {};
    for (const k of new Set([...Object.keys(from), ...Object.keys(to)])) {
      const d = mergePatchBetween(from[k], to[k]);
      if (d !== undefined) out[k] = d;
    }
    return Object.keys(out).length > 0 ? out : undefined;
  }
  return canonicalJSON(from) === canonicalJSON(to) ? undefined : (JSON.parse(JSON.stringify(to)) as Json);
}

export interface RollbackPatch {
  /** The merge patch for the ModelDeployment. */
  patch: { metadata: Record<string, unknown>; spec?: Record<string, Json> };
  /** The spec fields it changes (e.g. spec.model), empty when the spec already describes the revision. */
  changed: string[];
}

/**
 * The JSON merge patch `modelship rollback` sends: the kept revision's spec written back into the fields
 * revisionSpecOf reads (so the controller renders the same revision again and the rollout strategy walks to
 * it), the rolled-back-to annotation, and with `promoteNonce` a promote request that skips every step.
 * `resourceVersion` makes the write fail with a conflict if the object changed since it was read.
 */
export function rollbackPatch(
  current: ModelDeploymentSpec,
  target: KeptRevision,
  opts: { resourceVersion?: string; promoteNonce?: string } = {},
): RollbackPatch {
  const now = revisionSpecOf(current);
  const want: RevisionSpec = target.spec;
  const spec: Record<string, Json> = {};
  for (const f of podFields) {
    const d = mergePatchBetween(now[f], want[f]);
    if (d !== undefined) spec[f] = d;
  }
  const changed = Object.keys(spec).map((k) => `spec.${k}`);
  // The monitoring fields a revision carries: feedback, and review (absent from revisions made without it).
  const monitoring: Record<string, Json> = {};
  if (now.feedback !== want.feedback) monitoring.feedback = { enabled: want.feedback };
  const review = mergePatchBetween(now.review, want.review);
  if (review !== undefined) monitoring.review = review;
  for (const k of Object.keys(monitoring)) changed.push(`spec.monitoring.${k}`);
  if (Object.keys(monitoring).length > 0) spec.monitoring = monitoring;
  return {
    patch: {
      metadata: {
        ...(opts.resourceVersion ? { resourceVersion: opts.resourceVersion } : {}),
        annotations: {
          [rolledBackToAnnotation]: target.id,
          ...(opts.promoteNonce ? { [requestAnnotations.promote]: opts.promoteNonce } : {}),
        },
      },
      ...(changed.length > 0 ? { spec } : {}),
    },
    changed,
  };
}
