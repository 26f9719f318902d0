// Jensen-Shannon distance (base 2, so in [0, 1]) between two binned distributions, as
// scipy.spatial.distance.jensenshannon(p, q, base=2) computes it on raw counts.

function relEntr(x: number, y: number): number {
  if (x > 0 && y > 0) return x * Math.log(x / y);
  return x === 0 && y >= 0 ? 0 : Infinity;
}

export function jensenShannonDistance(p: ArrayLike<number>, q: ArrayLike<number>): number {
  let sp = 0;
  let sq = 0;
  for (let i = 0; i < p.length; i++) {
    sp += p[i]!;
    sq += q[i]!;
  }
  if (sp === 0 || sq === 0) return NaN;
  let js = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i]! / sp;
    const qi = q[i]! / sq;
    const m = (pi + qi) / 2;
    js += relEntr(pi, m) + relEntr(qi, m);
  }
  return Math.sqrt(Math.max(js / 2 / Math.LN2, 0));
}
