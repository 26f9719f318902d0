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


def report(baseline_file, events_file):
    """Recomputes a drift report's statistics from the raw files: the baseline JSON and an NDJSON file."""
    with open(baseline_file) as f:
        base = json.load(f)
    values = {name: [] for name in base["features"]}
    with open(events_file) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            ev = json.loads(line)
            if ev.get("type") != "io.modelship.inference.v1":
                continue
            for row in ev["data"].get("features") or []:
                for name in values:
                    v = row.get(name)
                    if v is not None:
                        values[name].append(v)
    out = {}
    for name, prof in base["features"].items():
        vals = values[name]
        if prof["type"] == "numeric":
            x = np.asarray([v for v in vals if isinstance(v, (int, float)) and not isinstance(v, bool)], dtype=float)
            if len(x) == 0:
                continue
            edges = np.asarray(prof["bins"]["edges"], dtype=float)
            counts = np.bincount(np.searchsorted(edges, x, side="right"), minlength=len(edges) + 1)
            r = stats.ks_2samp(np.asarray(prof["sample"]["values"], dtype=float), x)
            out[name] = {
                "psi": psi(prof["bins"]["counts"], counts),
                "jsd": float(distance.jensenshannon(prof["bins"]["counts"], counts, base=2)),
                "statistic": float(r.statistic),
                "pValue": float(r.pvalue),
            }
        elif prof["type"] in ("categorical", "boolean"):
            cats = list(prof["categories"].keys())
            conv = [("true" if v else "false") if isinstance(v, bool) else str(v) for v in vals]
            win = [sum(1 for v in conv if v == c) for c in cats]
            other = len(conv) - sum(win)
            b = [prof["categories"][c] for c in cats] + [prof["otherCount"]]
            w = win + [other]
            res = chi2(b, w)
            out[name] = {"psi": psi(b, w), "jsd": float(distance.jensenshannon(b, w, base=2)), "statistic": res["statistic"], "pValue": res["pValue"]}
    return out


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "report":
        json.dump(report(sys.argv[2], sys.argv[3]), sys.stdout)
        return
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
