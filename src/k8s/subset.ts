/**
 * True when every field of `desired` has the same value in `live`. Fields only in `live` (defaults the API
 * server filled in, status, other managers' fields) are ignored; lists must match in length and element-wise.
 * This is how a resync decides that an apply would change nothing, so a steady state makes no write calls.
 */
export function isSubset(desired: unknown, live: unknown): boolean {
  if (desired === undefined) return true;
  if (desired === null || typeof desired !== "object") return sameScalar(desired, live);
  if (Array.isArray(desired)) {
    if (!Array.isArray(live) || live.length !== desired.length) return false;
    return desired.every((d, i) => isSubset(d, live[i]));
  }
  if (live === null || typeof live !== "object" || Array.isArray(live)) return false;
  const l = live as Record<string, unknown>;
  return Object.entries(desired as Record<string, unknown>).every(([k, v]) => isSubset(v, l[k]));
}

function sameScalar(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  // The API server may answer a quantity or an int-or-string in the other form ("1" vs 1).
  return (
    (typeof a === "number" || typeof a === "string") &&
    (typeof b === "number" || typeof b === "string") &&
    String(a) === String(b)
  );
}
