// Chi-square test of homogeneity between baseline and window category counts, matching
// scipy.stats.chi2_contingency on the 2 x k table (Yates' correction when dof == 1, as scipy does).
import { gammaQ } from "./special.js";

/** Survival function of the chi-square distribution: Q(dof/2, x/2). */
export function chi2Sf(x: number, dof: number): number {
  if (dof <= 0) return NaN;
  return gammaQ(dof / 2, x / 2);
}

export interface Chi2Result {
  statistic: number;
  pValue: number;
  dof: number;
}

/** 2 x k contingency test; categories empty in both rows are dropped (scipy rejects zero expected counts). */
export function chi2Contingency(
  baseline: ArrayLike<number>,
  window: ArrayLike<number>,
  correction = true,
): Chi2Result | null {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < baseline.length; i++) {
    if (baseline[i]! + window[i]! > 0) {
      a.push(baseline[i]!);
      b.push(window[i]!);
    }
  }
  const ra = a.reduce((s, v) => s + v, 0);
  const rb = b.reduce((s, v) => s + v, 0);
  if (ra === 0 || rb === 0) return null;
  const total = ra + rb;
  const dof = a.length - 1;
  if (dof === 0) return { statistic: 0, pValue: 1, dof: 0 };
  let stat = 0;
  for (let j = 0; j < a.length; j++) {
    const col = a[j]! + b[j]!;
    for (const [obs0, row] of [
      [a[j]!, ra],
      [b[j]!, rb],
    ] as const) {
      const exp = (row * col) / total;
      let obs = obs0;
      if (dof === 1 && correction) {
        const diff = exp - obs;
        obs += Math.sign(diff) * Math.min(0.5, Math.abs(diff));
      }
      stat += ((obs - exp) * (obs - exp)) / exp;
    }
  }
  return { statistic: stat, pValue: chi2Sf(stat, dof), dof };
}
