// How raw cells (CSV text, JSON values) become typed observations, shared by baseline and drift so a
// value is read the same way on both sides.

export type Observed =
  | { kind: "missing" }
  | { kind: "number"; value: number }
  | { kind: "boolean"; value: boolean }
  | { kind: "string"; value: string }
  | { kind: "other" };

const MISSING_TEXT = new Set(["", "na", "nan", "null", "n/a", "none"]);
const NUMBER_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A CSV cell: empty / NA / NaN / null / N/A / None are missing, numbers and true/false are typed. */
export function observeText(cell: string): Observed {
  const t = cell.trim();
  if (MISSING_TEXT.has(t.toLowerCase())) return { kind: "missing" };
  if (NUMBER_TEXT.test(t)) return { kind: "number", value: Number(t) };
  const l = t.toLowerCase();
  if (l === "true" || l === "false") return { kind: "boolean", value: l === "true" };
  return { kind: "string", value: t };
}

/** A JSON value: null / absent are missing; NaN never occurs in JSON. */
export function observeJson(v: unknown): Observed {
  if (v === null || v === undefined) return { kind: "missing" };
  if (typeof v === "number") return Number.isFinite(v) ? { kind: "number", value: v } : { kind: "missing" };
  if (typeof v === "boolean") return { kind: "boolean", value: v };
  if (typeof v === "string") return { kind: "string", value: v };
  return { kind: "other" };
}

export function observe(cell: unknown, fromText: boolean): Observed {
  return fromText && typeof cell === "string" ? observeText(cell) : observeJson(cell);
}

/** The category string for a value of a categorical / boolean feature. */
export function categoryOf(o: Observed): string | undefined {
  switch (o.kind) {
    case "string":
      return o.value;
    case "number":
      return String(o.value);
    case "boolean":
      return o.value ? "true" : "false";
    default:
      return undefined;
  }
}

/** Index of the bin that holds x for interior edges (bin i: edges[i-1] <= x < edges[i]). */
export function binOf(edges: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A small, fast, seeded PRNG (mulberry32), so baselines are reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** numpy's default (linear) quantile of a sorted array. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  const frac = pos - lo;
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * frac;
}
