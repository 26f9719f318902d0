"""Reference pipeline for the drift bench: pandas.read_json(lines=True) + scipy on the same files.

Reads the window's NDJSON files in chunks (the whole file at once does not fit in memory), keeps the
feature columns, then computes per feature what `modelship drift` computes: KS against the baseline's
reference sample and PSI on its bins for numeric features, chi-square and PSI for categorical ones.
Prints one JSON line: events, seconds, peak RSS.
"""
import json
import resource
import sys
import time

import numpy as np
import pandas as pd
from scipy import stats

PSI_EPSILON = 1e-4


def psi(e, a):
    e = np.maximum(np.asarray(e, float) / np.sum(e), PSI_EPSILON)
    a = np.maximum(np.asarray(a, float) / np.sum(a), PSI_EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


def statistics(base, columns):
    """Per feature, what `modelship drift` computes: KS and PSI (numeric), chi-square and PSI (categorical)."""
    results = {}
    for n, prof in base["features"].items():
        values = np.concatenate(columns[n]) if columns[n] else np.asarray([])
        if prof["type"] == "numeric":
            x = values.astype(float)
            x = x[~np.isnan(x)]
            edges = np.asarray(prof["bins"]["edges"], float)
            counts = np.bincount(np.searchsorted(edges, x, side="right"), minlength=len(edges) + 1)
            r = stats.ks_2samp(np.asarray(prof["sample"]["values"], float), x)
            results[n] = {"psi": psi(prof["bins"]["counts"], counts), "ks": float(r.statistic), "p": float(r.pvalue)}
        else:
            cats = list(prof["categories"])
            s = pd.Series(values).astype(str).value_counts()
            w = [int(s.get(c, 0)) for c in cats]
            w.append(int(s.sum()) - sum(w))
            b = [prof["categories"][c] for c in cats] + [prof["otherCount"]]
            t = np.asarray([b, w], float)
            t = t[:, t.sum(axis=0) > 0]
            chi = stats.chi2_contingency(t)
            results[n] = {"psi": psi(b, w), "chi2": float(chi.statistic), "p": float(chi.pvalue)}
    return results


def main():
    baseline_file, files = sys.argv[1], sys.argv[2:]
    start = time.perf_counter()
    with open(baseline_file) as f:
        base = json.load(f)
    names = list(base["features"])
    columns = {n: [] for n in names}
    events = 0
    for path in files:
        for chunk in pd.read_json(path, lines=True, chunksize=200_000, dtype=False):
            chunk = chunk[chunk["type"] == "io.modelship.inference.v1"]
            rows = pd.DataFrame([r for feats in chunk["data"].map(lambda d: d.get("features") or []) for r in feats])
            events += len(chunk)
            for n in names:
                if n in rows:
                    columns[n].append(rows[n].to_numpy())
    results = statistics(base, columns)
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"events": events, "seconds": seconds, "peakRssMb": peak_kb / 1024, "features": results}))


if __name__ == "__main__":
    main()
