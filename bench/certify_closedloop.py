"""Closed-loop bound vs sampled maximum, per step (queue_safety region), relational vs interval.

For each shipped policy: the queue_safety region (w0 in [0.5, 1.5] BDP, p in [0, 0.05], buffer
3 BDP, 5 RTTs) is certified with the relational closed loop (cora.certify.closedloop) and with
the interval one (one box per step); for each step the table gives the largest queue bound over
the relational certificate's boxes, the interval bound over the same boxes, both bounds for the
whole region as one box, and the largest queue over sampled trajectories of the shared model
(w0, p uniform; the random-loss fraction equal to p every round, as in the certified model;
and, for comparison, drawn independently per round in [0, 0.05]).
Writes --json (default bench/results/certify_closedloop.json) and --png.
Usage: .venv/bin/python bench/certify_closedloop.py [--samples N] [--json F] [--png F]
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402

import numpy as np  # noqa: E402

from cora.certify import absint, closedloop  # noqa: E402
from cora.certify.nn import load_policy, shipped_policy  # noqa: E402
from cora.certify.properties import PROPERTIES, QS_BUFFER, QS_STEPS, QS_WMIN, check_property  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


def per_step(net, samples: int, seed: int) -> dict:
    prop = PROPERTIES["queue_safety"]
    rel = check_property(net, "queue_safety", loop="relational")
    itv = check_property(net, "queue_safety", loop="interval")
    lo, hi = rel["_certificate"].proven_boxes
    if len(lo) == 0:
        lo, hi = prop.lo[None], prop.hi[None]
    rb = closedloop.relational_bounds(net, lo[:, 0], hi[:, 0], lo[:, 1], hi[:, 1], QS_STEPS,
                                      QS_BUFFER, QS_WMIN)
    ib = absint.closed_loop_bounds(net, lo[:, 0], hi[:, 0], lo[:, 1], hi[:, 1], QS_STEPS,
                                   QS_BUFFER, QS_WMIN)
    one = [np.array([v]) for v in (prop.lo[0], prop.hi[0], prop.lo[1], prop.hi[1])]
    rb1 = closedloop.relational_bounds(net, *one, QS_STEPS, QS_BUFFER, QS_WMIN)
    ib1 = absint.closed_loop_bounds(net, *one, QS_STEPS, QS_BUFFER, QS_WMIN)
    rng = np.random.default_rng(seed)
    w0 = rng.uniform(prop.lo[0], prop.hi[0], samples)
    p = rng.uniform(prop.lo[1], prop.hi[1], samples)
    wmin = rng.uniform(0, QS_WMIN, samples)
    fixed = absint.closed_loop_concrete(net, w0, p, QS_STEPS, QS_BUFFER, w_min=wmin)
    indep = absint.closed_loop_concrete(net, w0, rng.uniform(0, 0.05, (QS_STEPS + 1, samples)),
                                        QS_STEPS, QS_BUFFER, w_min=wmin)
    for k in ("_certificate",):
        rel.pop(k), itv.pop(k)
    return {"certificate_relational": rel, "certificate_interval": itv,
            "boxes": int(len(lo)),
            "relational_q_hi": rb["q_hi"].max(1).round(4).tolist(),
            "interval_q_hi_same_boxes": ib["q_hi"].max(1).round(4).tolist(),
            "relational_q_hi_one_box": rb1["q_hi"][:, 0].round(4).tolist(),
            "interval_q_hi_one_box": ib1["q_hi"][:, 0].round(4).tolist(),
            "sampled_max_q": fixed["q"].max(1).round(4).tolist(),
            "sampled_max_q_independent_loss": indep["q"].max(1).round(4).tolist()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--json", default=str(ROOT / "bench" / "results" / "certify_closedloop.json"))
    ap.add_argument("--png", default=str(ROOT / "bench" / "results" / "certify_closedloop.png"))
    a = ap.parse_args()
    out = {"date_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
           "command": "bench/certify_closedloop.py " + f"--samples {a.samples} --seed {a.seed}",
           "policies": {}}
    for kind in ("certified", "performance"):
        out["policies"][kind] = r = per_step(load_policy(shipped_policy(kind)), a.samples, a.seed)
        rel, itv = r["certificate_relational"], r["certificate_interval"]
        print(f"{kind}: queue_safety relational proven {rel['proven_fraction']:.4f} "
              f"on {rel['boxes']} boxes analysed ({r['boxes']} proven); interval "
              f"{itv['proven_fraction']:.4f} on {itv['boxes']}")
        print(f"  {'step':>4s} {'relational':>10s} {'interval':>9s} | {'rel 1 box':>9s} "
              f"{'int 1 box':>9s} | {'sampled max':>11s} {'(indep. loss)':>13s}   queue, BDPs")
        for t in range(QS_STEPS + 1):
            print(f"  {t:4d} {r['relational_q_hi'][t]:10.3f} "
                  f"{r['interval_q_hi_same_boxes'][t]:9.3f} |"
                  f" {r['relational_q_hi_one_box'][t]:9.3f} {r['interval_q_hi_one_box'][t]:9.3f} |"
                  f" {r['sampled_max_q'][t]:11.3f} {r['sampled_max_q_independent_loss'][t]:13.3f}")
    pathlib.Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(a.json).write_text(json.dumps(out, indent=1))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for ax, (kind, r) in zip(axes, out["policies"].items(), strict=True):
        t = range(QS_STEPS + 1)
        ax.plot(t, r["relational_q_hi"], "o-", label=f"relational bound ({r['boxes']} boxes)")
        ax.plot(t, r["interval_q_hi_same_boxes"], "s--", label="interval bound (same boxes)")
        ax.plot(t, r["relational_q_hi_one_box"], "^:", label="relational, one box")
        ax.plot(t, r["sampled_max_q"], "k.-", label="sampled max")
        ax.axhline(2.0, color="r", lw=0.8, label="limit 2 BDP")
        ax.set_title(f"{kind} policy, queue_safety")
        ax.set_xlabel("step (RTT)")
        ax.set_ylim(0, 3.1)
    axes[0].set_ylabel("queue bound, BDPs")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(a.png, dpi=110)
    print(f"wrote {a.json} and {a.png}")


if __name__ == "__main__":
    main()
