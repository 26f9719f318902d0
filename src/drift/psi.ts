// Population Stability Index over matching bins (Yurdakul 2018):
//   PSI = sum_i (a_i - e_i) * ln(a_i / e_i)
// with e_i the baseline share and a_i the window share of bin i. A share below PSI_EPSILON is raised
// to PSI_EPSILON (no renormalisation) so that empty bins contribute a large but finite term.

export const PSI_EPSILON = 1e-4;

export function psi(
  expectedCounts: ArrayLike<number>,
  actualCounts: ArrayLike<number>,
  epsilon = PSI_EPSILON,
): number {
  if (expectedCounts.length !== actualCounts.length) throw new RangeError("psi: bin count mismatch");
  let te = 0;
  let ta = 0;
  for (let i = 0; i < expectedCounts.length; i++) {
    te += expectedCounts[i]!;
    ta += actualCounts[i]!;
  }
  if (te === 0 || ta === 0) return NaN;
  let s = 0;
  for (let i = 0; i < expectedCounts.length; i++) {
    const e = Math.max(expectedCounts[i]! / te, epsilon);
    const a = Math.max(actualCounts[i]! / ta, epsilon);
    s += (a - e) * Math.log(a / e);
  }
  return s;
}
