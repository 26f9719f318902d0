// Two-sample Kolmogorov-Smirnov test, matching scipy.stats.ks_2samp(method="auto", two-sided):
// exact p-values when both samples have at most 10,000 values, Smirnov's asymptotic distribution
// (kstwo with n = round(n1*n2/(n1+n2))) beyond that.
import { kolmogorovSf } from "./kolmogorov.js";

/** scipy switches from the exact to the asymptotic p-value above this sample size. */
export const KS_MAX_EXACT_N = 10000;

export interface KsResult {
  statistic: number;
  pValue: number;
  method: "exact" | "asymp";
  n1: number;
  n2: number;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** numpy's round(): halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Pr(D_{n,n} >= h/n), summing the reflection series in a Horner-like form to avoid cancellation. */
function probOutsideSquare(n: number, h: number): number {
  let P = 0;
  for (let k = Math.floor(n / h); k >= 0; k--) {
    let p1 = 1;
    for (let j = 0; j < h; j++) p1 = ((n - k * h - j) * p1) / (n + k * h + j + 1);
    P = p1 * (1 - P);
  }
  return 2 * P;
}

/**
 * 1 - Pr(paths stay strictly inside |x/m - y/n| < h/lcm), by Hodges' inside method with the
 * complementary recursion of Viehmann (arXiv 2102.08037), which stays in [0, 1] throughout.
 */
function probOutsideBand(m0: number, n0: number, g: number, h: number): number {
  const m = Math.max(m0, n0);
  const n = Math.min(m0, n0);
  const mg = m / g;
  const ng = n / g;
  let lo = 0;
  let hi = Math.min(Math.ceil(h / mg), n + 1);
  let width = hi - lo;
  const col = new Float64Array(Math.min(2 * hi + 2, n + 1)).fill(1);
  col.fill(0, lo, hi);
  for (let i = 1; i <= m; i++) {
    const prevLo = lo;
    const prevWidth = width;
    lo = Math.min(Math.max(Math.floor((ng * i - h) / mg) + 1, 0), n);
    hi = Math.min(Math.ceil((ng * i + h) / mg), n + 1);
    if (hi <= lo) return 1;
    let val = lo === 0 ? 0 : 1;
    for (let jj = 0; jj < hi - lo; jj++) {
      const j = jj + lo;
      val = (col[jj + lo - prevLo]! * i + val * j) / (i + j);
      col[jj] = val;
    }
    width = hi - lo;
    if (prevWidth > width) col.fill(1, width, width + (prevWidth - width));
  }
  return col[hi - lo - 1]!;
}

/** The p-value for statistic d of samples of sizes n1, n2 (scipy's `auto` choice of method). */
export function ks2sampPValue(
  d: number,
  n1: number,
  n2: number,
): { pValue: number; statistic: number; method: "exact" | "asymp" } {
  if (n1 <= 0 || n2 <= 0) throw new RangeError("ks2samp needs two non-empty samples");
  if (Math.max(n1, n2) <= KS_MAX_EXACT_N) {
    const g = gcd(n1, n2);
    const lcm = (n1 / g) * n2;
    const h = roundHalfEven(d * lcm);
    const dd = h / lcm;
    if (h === 0) return { pValue: 1, statistic: dd, method: "exact" };
    const p = n1 === n2 ? probOutsideSquare(n1, h) : probOutsideBand(n1, n2, g, h);
    if (Number.isFinite(p) && p >= 0 && p <= 1) return { pValue: p, statistic: dd, method: "exact" };
  }
  const m = Math.max(n1, n2);
  const n = Math.min(n1, n2);
  const en = (m * n) / (m + n);
  const p = kolmogorovSf(roundHalfEven(en), d);
  return { pValue: Math.min(1, Math.max(0, p)), statistic: d, method: "asymp" };
}

/** D from two sorted samples, computed exactly as scipy does (ECDF differences at every data point). */
export function ksStatisticSorted(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n1 = a.length;
  const n2 = b.length;
  let i = 0;
  let j = 0;
  let maxS = -Infinity;
  let minS = Infinity;
  while (i < n1 || j < n2) {
    const x = j >= n2 || (i < n1 && a[i]! <= b[j]!) ? a[i]! : b[j]!;
    while (i < n1 && a[i]! <= x) i++;
    while (j < n2 && b[j]! <= x) j++;
    const diff = i / n1 - j / n2;
    if (diff > maxS) maxS = diff;
    if (diff < minS) minS = diff;
  }
  const neg = Math.min(Math.max(-minS, 0), 1);
  return neg > maxS ? neg : maxS;
}

/** Two-sample KS test on raw samples (sorted copies are made). */
export function ks2samp(a: ArrayLike<number>, b: ArrayLike<number>): KsResult {
  const sa = Float64Array.from(a).sort();
  const sb = Float64Array.from(b).sort();
  const d = ksStatisticSorted(sa, sb);
  const r = ks2sampPValue(d, sa.length, sb.length);
  return { statistic: r.statistic, pValue: r.pValue, method: r.method, n1: sa.length, n2: sb.length };
}

/**
 * The window side of a KS test against a fixed reference sample, in memory bounded by the reference:
 * counts of window values strictly between consecutive distinct reference values and equal to each.
 * These counts determine scipy's D exactly, because the extreme ECDF differences occur at reference
 * values or at the last window value before the next reference value.
 */
export class KsGrid {
  /** Distinct reference values, ascending. */
  readonly values: Float64Array;
  /** Reference ECDF at each distinct value (count of reference values <= it). */
  readonly refCum: Float64Array;
  readonly n1: number;
  /** below[j]: window values in (values[j-1], values[j]); below[U]: above the last value. */
  readonly below: Uint32Array;
  readonly equal: Uint32Array;

  constructor(sortedReference: ArrayLike<number>) {
    const vals: number[] = [];
    const cum: number[] = [];
    for (let i = 0; i < sortedReference.length; i++) {
      const v = sortedReference[i]!;
      if (vals.length > 0 && vals[vals.length - 1] === v) cum[cum.length - 1] = i + 1;
      else {
        vals.push(v);
        cum.push(i + 1);
      }
    }
    this.values = Float64Array.from(vals);
    this.refCum = Float64Array.from(cum);
    this.n1 = sortedReference.length;
    this.below = new Uint32Array(vals.length + 1);
    this.equal = new Uint32Array(vals.length);
    const u = vals.length;
    this.lo = u ? vals[0]! : 0;
    this.hi = u ? vals[u - 1]! : 0;
    this.nb = Math.max(16, 2 * u);
    this.scale = u > 1 && this.hi > this.lo ? this.nb / (this.hi - this.lo) : 0;
    // start[b]: first value >= the lower boundary of bucket b; start[nb] = u.
    this.start = new Uint32Array(this.nb + 1);
    let j = 0;
    for (let b = 0; b <= this.nb; b++) {
      const boundary = this.lo + b / this.scale;
      while (j < u && vals[j]! < boundary) j++;
      this.start[b] = b === this.nb ? u : j;
    }
  }

  private readonly lo: number;
  private readonly hi: number;
  private readonly nb: number;
  private readonly scale: number;
  private readonly start: Uint32Array;

  /** Index of the first distinct reference value >= x (values.length when x is above them all). */
  locate(x: number): number {
    const v = this.values;
    const u = v.length;
    if (u === 0 || x > this.hi) return u;
    if (x <= this.lo) return 0;
    // A bucket lookup narrows the search to the few reference values near x, then a binary search
    // inside the bucket (exact whatever the rounding of the bucket index).
    const b = Math.min(this.nb - 1, Math.floor((x - this.lo) * this.scale));
    let lo = this.start[b]!;
    let hi = this.start[b + 1]!;
    if (lo > 0 && v[lo - 1]! >= x) lo = 0;
    if (hi < u && v[hi]! < x) hi = u;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (v[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Counts x, located at j by locate(); returns whether x equals the reference value there. */
  addAt(j: number, x: number): boolean {
    if (j < this.values.length && this.values[j] === x) {
      this.equal[j]!++;
      return true;
    }
    this.below[j]!++;
    return false;
  }

  add(x: number): void {
    this.addAt(this.locate(x), x);
  }

  merge(other: { below: ArrayLike<number>; equal: ArrayLike<number> }): void {
    for (let i = 0; i < this.below.length; i++) this.below[i]! += other.below[i]!;
    for (let i = 0; i < this.equal.length; i++) this.equal[i]! += other.equal[i]!;
  }

  get n2(): number {
    let s = 0;
    for (const c of this.below) s += c;
    for (const c of this.equal) s += c;
    return s;
  }

  /** scipy's D for (reference sample, all window values added). */
  statistic(): number {
    const n1 = this.n1;
    const n2 = this.n2;
    let maxS = -Infinity;
    let minS = Infinity;
    let winCum = 0;
    let refPrev = 0;
    for (let j = 0; j <= this.values.length; j++) {
      if (this.below[j]! > 0) {
        winCum += this.below[j]!;
        const diff = refPrev / n1 - winCum / n2;
        if (diff > maxS) maxS = diff;
        if (diff < minS) minS = diff;
      }
      if (j === this.values.length) break;
      winCum += this.equal[j]!;
      refPrev = this.refCum[j]!;
      const diff = refPrev / n1 - winCum / n2;
      if (diff > maxS) maxS = diff;
      if (diff < minS) minS = diff;
    }
    const neg = Math.min(Math.max(-minS, 0), 1);
    return neg > maxS ? neg : maxS;
  }

  test(): KsResult | null {
    const n2 = this.n2;
    if (n2 === 0 || this.n1 === 0) return null;
    const r = ks2sampPValue(this.statistic(), this.n1, n2);
    return { statistic: r.statistic, pValue: r.pValue, method: r.method, n1: this.n1, n2 };
  }
}
