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
from pandas_ref import statistics  # the same statistics as the NDJSON reference

PREFIX = "feature_"


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
    results = statistics(base, columns)
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"events": events, "seconds": seconds, "peakRssMb": peak_kb / 1024, "features": results}))


if __name__ == "__main__":
    main()
