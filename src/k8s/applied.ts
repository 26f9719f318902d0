import { createHash } from "node:crypto";
import { canonicalJSON } from "../render/canonical-json.js";
import { isSubset } from "./subset.js";

/**
 * A hash of the object the controller last applied, kept on the object. isSubset alone cannot see a field
 * the new render leaves out (a Service selector key dropped: the live map still holds every desired key),
 * so a write is skipped only when the live object carries the hash of this very render and still holds
 * every desired field (nobody changed it since).
 */
export const APPLIED_HASH_ANNOTATION = "modelship.io/applied-hash";

type Obj = { metadata?: { annotations?: Record<string, string> } & Record<string, unknown> } & Record<
  string,
  unknown
>;

/** The desired object with the hash of its content (computed without the annotation itself). */
export function withAppliedHash<T extends Obj>(desired: T): T {
  const hash = createHash("sha256").update(canonicalJSON(desired)).digest("hex").slice(0, 16);
  return {
    ...desired,
    metadata: {
      ...desired.metadata,
      annotations: { ...desired.metadata?.annotations, [APPLIED_HASH_ANNOTATION]: hash },
    },
  };
}

/** Whether applying `desired` (from withAppliedHash) would change nothing on `live`. */
export function isApplied(desired: Obj, live: Obj): boolean {
  const want = desired.metadata?.annotations?.[APPLIED_HASH_ANNOTATION];
  return (
    want !== undefined &&
    live.metadata?.annotations?.[APPLIED_HASH_ANNOTATION] === want &&
    isSubset(desired, live)
  );
}
