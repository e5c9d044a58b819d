"""Looseness of cora's bounds against the exact answer on networks small enough to enumerate.

For random 1-input ReLU networks the exact output range over an interval is computed by
enumerating the linear regions (cora.certify.absint.exact_bounds_1d); the table gives the mean
and worst ratio of bound width to exact width for the interval and DeepPoly domains, and the
same with input splitting into 8 pieces. Usage: .venv/bin/python bench/certify_looseness.py
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from cora.certify import absint  # noqa: E402
from cora.certify.nn import init_mlp  # noqa: E402


def split_bounds(net, lo, hi, domain, pieces):
    edges = np.linspace(lo, hi, pieces + 1)
    lower, upper = absint.output_bounds(net, edges[:-1, None], edges[1:, None], domain)
    return lower.min(), upper.max()


def main():
    rng = np.random.default_rng(0)
    print("exact = enumeration of linear regions; ratio = bound width / exact width (1.0 = exact)")
    print(f"{'net':10s} {'regions':>8s} {'interval':>18s} {'deeppoly':>18s} "
          f"{'deeppoly, 8 splits':>20s}")
    for hidden in [(8,), (16, 16), (32, 32), (64, 64)]:
        ratios = {"interval": [], "deeppoly": [], "split": []}
        regions = []
        for _ in range(50):
            net = init_mlp(1, hidden, 1, rng, out_scale=1.0)
            lo = rng.uniform(-2, 1)
            hi = lo + rng.uniform(0.1, 2)
            emin, emax, n = absint.exact_bounds_1d(net, lo, hi)
            w = emax[0] - emin[0]
            if w < 1e-9:
                continue
            regions.append(n - 1)
            for d in ("interval", "deeppoly"):
                lower, upper = absint.output_bounds(net, np.array([lo]), np.array([hi]), d)
                ratios[d].append((upper[0] - lower[0]) / w)
            lower, upper = split_bounds(net, lo, hi, "deeppoly", 8)
            ratios["split"].append((upper - lower) / w)
        name = "1x" + "x".join(map(str, hidden))
        cells = "".join(f"{np.mean(ratios[k]):8.2f} (max {np.max(ratios[k]):6.1f})"
                        for k in ("interval", "deeppoly", "split"))
        print(f"{name:10s} {np.mean(regions):8.1f} {cells}")


if __name__ == "__main__":
    main()
