"""Certification speed: seconds per property for the shipped 2x64 policy (measured here).

Prints, per property, the wall-clock seconds of `check_property` (median of 3 runs) for the
float network in the DeepPoly and interval domains and for the Q16 fixed-point network, with
the proven fraction. Target from the issue: < 1 s per property for a 2x64 policy.
Usage: .venv/bin/python bench/certify_speed.py [MODEL.npz] [--json]
"""

import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from cora.certify.nn import load_policy  # noqa: E402
from cora.certify.nn import shipped_policy as shipped  # noqa: E402
from cora.certify.properties import PROPERTIES, check_property  # noqa: E402
from cora.certify.quant import quantize  # noqa: E402


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    path = args[0] if args else shipped("certified")
    net = load_policy(path)
    variants = {"float/deeppoly": (net, "deeppoly"), "float/interval": (net, "interval"),
                "q16/deeppoly": (quantize(net), "deeppoly")}
    rows = []
    for prop in PROPERTIES:
        row = {"property": prop}
        for label, (n, dom) in variants.items():
            secs, r = [], None
            for _ in range(3):
                t0 = time.perf_counter()
                r = check_property(n, prop, dom)
                secs.append(time.perf_counter() - t0)
            row[label] = {"seconds": round(float(np.median(secs)), 3),
                          "proven_fraction": r["proven_fraction"], "boxes": r["boxes"]}
        rows.append(row)
    if "--json" in sys.argv:
        print(json.dumps({"model": path, "load_avg_1min": os.getloadavg()[0], "rows": rows}))
        return
    sizes = "x".join(str(w.shape[0]) for w in net.weights[:-1])
    print(f"model {os.path.basename(path)} (hidden {sizes}), budget 2048 boxes, "
          f"1-min load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    head = f"{'property':14s}" + "".join(f"{v:>28s}" for v in variants)
    print(head + "\n" + "-" * len(head))
    for row in rows:
        cells = "".join(f"{row[v]['seconds']:9.3f} s  proven {row[v]['proven_fraction']:.3f}"
                        for v in variants)
        print(f"{row['property']:14s}{cells}")
    worst = max(row[v]["seconds"] for row in rows for v in variants)
    print(f"slowest property: {worst:.3f} s (target < 1 s)")


if __name__ == "__main__":
    main()
