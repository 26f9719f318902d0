// Multiple-testing corrections over a family of p-values (same results as statsmodels' multipletests).

export type Correction = "holm" | "bonferroni" | "bh";
export const CORRECTIONS: readonly Correction[] = ["holm", "bonferroni", "bh"];

/** Adjusted p-values in the input order. NaN entries are ignored and stay NaN. */
export function adjustPValues(pValues: readonly number[], method: Correction): number[] {
  const idx = pValues.map((p, i) => [p, i] as const).filter(([p]) => !Number.isNaN(p));
  const m = idx.length;
  const out = pValues.map(() => NaN);
  if (m === 0) return out;
  idx.sort((x, y) => x[0] - y[0]);
  if (method === "bonferroni") {
    for (const [p, i] of idx) out[i] = Math.min(1, p * m);
  } else if (method === "holm") {
    let running = 0;
    idx.forEach(([p, i], k) => {
      running = Math.max(running, Math.min(1, (m - k) * p));
      out[i] = running;
    });
  } else {
    let running = 1;
    for (let k = m - 1; k >= 0; k--) {
      const [p, i] = idx[k]!;
      running = Math.min(running, Math.min(1, (m / (k + 1)) * p));
      out[i] = running;
    }
  }
  return out;
}
