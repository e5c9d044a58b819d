"""Certified-trained vs performance-only policy vs Cubic / BBR-like / Vegas-like (SIMULATED).

All figures come from the fluid simulator of cora.certify.sim over Genet's ranges
(0.1-100 Mbps, 2-200 ms, 0.2-3 BDP buffer, 0-5 % random loss): mean utilisation, 10th
percentile utilisation, mean per-environment p95 queueing delay, mean loss rate; and, for the
two learned policies, the proven fraction of every property (DeepPoly, 2048-box budget), its
minimum over properties (the worst-case property satisfaction) and the ratio of the minima.
Usage: .venv/bin/python bench/certify_sim.py [--envs N] [--steps T] [--seed S] [--json]
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402

import numpy as np  # noqa: E402

from cora.certify.evaluate import evaluate  # noqa: E402
from cora.certify.nn import load_policy, shipped_policy  # noqa: E402
from cora.certify.properties import PROPERTIES, check_property  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--envs", type=int, default=512)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--certified", default=shipped_policy("certified"))
    ap.add_argument("--performance", default=shipped_policy("performance"))
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    pols = {"certified": load_policy(a.certified), "perf-only": load_policy(a.performance)}
    perf = evaluate(pols, a.envs, a.steps, a.seed, baselines=True)
    noisy = evaluate(pols, a.envs, a.steps, a.seed, baselines=True, delay_noise=0.1)
    certs = {k: {p: check_property(n, p) for p in PROPERTIES} for k, n in pols.items()}
    for c in certs.values():
        for r in c.values():
            r.pop("_certificate")
    if a.json:
        print(json.dumps({"performance": perf, "performance_rtt_noise_10pct": noisy,
                          "certificates": certs}))
        return
    print(f"SIMULATED: {a.envs} environments x {a.steps} RTTs, Genet ranges, seed {a.seed}")
    print(f"{'controller':12s} {'util':>6s} {'p10 util':>9s} {'p95 qdelay ms':>14s} {'loss':>7s}"
          f"   | with 10% RTT noise: {'util':>6s} {'p95 qdelay':>10s}")
    for k, r in perf.items():
        n = noisy[k]
        print(f"{k:12s} {r['utilisation']:6.3f} {r['p10_utilisation']:9.3f} "
              f"{r['p95_queue_delay_ms']:14.1f} {r['loss_rate']:7.4f}   | {'':20s}"
              f"{n['utilisation']:6.3f} {n['p95_queue_delay_ms']:10.1f}")
    print()
    print(f"{'property':14s} {'certified':>10s} {'perf-only':>10s}   "
          "(proven fraction; worst violation bound)")
    for p in PROPERTIES:
        c, q = certs["certified"][p], certs["perf-only"][p]
        print(f"{p:14s} {c['proven_fraction']:10.3f} {q['proven_fraction']:10.3f}   "
              f"({c['worst_violation']:.3g} vs {q['worst_violation']:.3g})")
    mc = np.mean([certs["certified"][p]["proven_fraction"] for p in PROPERTIES])
    mp = np.mean([certs["perf-only"][p]["proven_fraction"] for p in PROPERTIES])
    wc = min(certs["certified"][p]["proven_fraction"] for p in PROPERTIES)
    wp = min(certs["perf-only"][p]["proven_fraction"] for p in PROPERTIES)
    print(f"mean proven fraction: certified {mc:.3f} vs perf-only {mp:.3f} "
          f"(ratio {mc / max(mp, 1e-9):.2f}x)")
    argc = min(PROPERTIES, key=lambda p: certs["certified"][p]["proven_fraction"])
    argp = min(PROPERTIES, key=lambda p: certs["perf-only"][p]["proven_fraction"])
    print(f"worst property:       certified {wc:.3f} ({argc}) vs perf-only {wp:.3f} ({argp})"
          f" (ratio {wc / wp:.2f}x)" if wp > 0 else
          f"worst property:       certified {wc:.3f} ({argc}) vs perf-only {wp:.3f} ({argp})")
    du = perf["certified"]["utilisation"] / perf["perf-only"]["utilisation"] - 1
    dq = perf["certified"]["p95_queue_delay_ms"] / perf["perf-only"]["p95_queue_delay_ms"] - 1
    print(f"certified vs perf-only: utilisation {100 * du:+.2f} %, "
          f"p95 queueing delay {100 * dq:+.1f} %")


if __name__ == "__main__":
    main()
