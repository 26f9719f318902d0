"""Reference pipeline for the Parquet drift bench: pandas.read_parquet + scipy on the same archive files.

Reads only the window's rows and the feature columns (pyarrow, column pruning), then computes per feature
what `modelship drift` computes: KS against the baseline's reference sample and PSI on its bins for
numeric features, chi-square and PSI for categorical ones. Prints one JSON line: events, seconds, peak RSS.
"""
import json
import resource
import sys
import time

import numpy as np
import pandas as pd
from scipy import stats

PSI_EPSILON = 1e-4
PREFIX = "feature_"


def psi(e, a):
    e = np.maximum(np.asarray(e, float) / np.sum(e), PSI_EPSILON)
    a = np.maximum(np.asarray(a, float) / np.sum(a), PSI_EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


def main():
    baseline_file, files = sys.argv[1], sys.argv[2:]
    start = time.perf_counter()
    with open(baseline_file) as f:
        base = json.load(f)
    names = list(base["features"])
    columns = {n: [] for n in names}
    events = 0
    wanted = ["type", "row_index", "row_count"] + [PREFIX + n for n in names]
    for path in files:
        df = pd.read_parquet(path, columns=wanted)
        df = df[df["type"] == "io.modelship.inference.v1"]
        events += int((df["row_index"] == 0).sum())
        df = df[df["row_index"] < df["row_count"]]
        for n in names:
            columns[n].append(df[PREFIX + n].to_numpy())
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
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"events": events, "seconds": seconds, "peakRssMb": peak_kb / 1024, "features": results}))


if __name__ == "__main__":
    main()
