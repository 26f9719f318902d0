"""Reference statistics for the drift parity tests: reads cases as JSON on stdin, writes results as JSON.

Each case is computed with scipy (KS, chi-square, Jensen-Shannon) or with the published PSI formula,
so the TypeScript implementation can be compared side by side on the same data.
"""
import json
import sys

import numpy as np
from scipy import stats
from scipy.spatial import distance

PSI_EPSILON = 1e-4


def psi(expected, actual):
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    e = np.maximum(e / e.sum(), PSI_EPSILON)
    a = np.maximum(a / a.sum(), PSI_EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


def chi2(a, b):
    table = np.array([a, b], dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return {"statistic": 0.0, "pValue": 1.0, "dof": 0}
    res = stats.chi2_contingency(table)
    return {"statistic": float(res.statistic), "pValue": float(res.pvalue), "dof": int(res.dof)}


def main():
    cases = json.load(sys.stdin)
    out = {"ks": [], "chi2": [], "psi": [], "jsd": [], "kstwo": []}
    for c in cases.get("ks", []):
        r = stats.ks_2samp(np.asarray(c["a"], dtype=float), np.asarray(c["b"], dtype=float))
        out["ks"].append({"statistic": float(r.statistic), "pValue": float(r.pvalue)})
    for c in cases.get("chi2", []):
        out["chi2"].append(chi2(c["a"], c["b"]))
    for c in cases.get("psi", []):
        out["psi"].append(psi(c["e"], c["a"]))
    for c in cases.get("jsd", []):
        out["jsd"].append(float(distance.jensenshannon(c["p"], c["q"], base=2)))
    for c in cases.get("kstwo", []):
        out["kstwo"].append(float(stats.kstwo.sf(c["d"], c["n"])))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
