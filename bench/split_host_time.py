"""Host XDP time per frame of deployed traffic-split plans under Zipf traffic, measured and
modelled side by side.

For each NF: the cut puts as many blocks on the NIC as a traffic split allows (the last valid
nic | kernel cut); a series of traffic splits sends a growing share of the packets down the
NIC path: the k buckets carrying most packets (k = 0 .. n_buckets), and one split with only the
heaviest flows as exact keys. Each plan is deployed on the gen -> nic -> host namespace
testbed (:mod:`cora.testbed.traffic_split`: the emulated NIC stage runs the flow classifier;
the control plane fills its maps), the same Zipf frames are sent for real, and printed:

- measured: the host XDP program's run time per offered frame (BPF run-time statistics,
  ``run_time_ns / frames``; the statistics add two clock reads per run), median of
  ``--repeats`` runs (the plans alternate in each round, so machine load hits all alike);
- modelled: what the planner predicts for the plan with the stage models
  (:meth:`cora.compiler.offload.partition.Problem.evaluate` of the cut with the split, on
  the frames' profile; xdp model for the host): host-path share x the whole NF + NIC-path
  share x (the cut's host part, or the host program's per-packet cost and the done shim's
  pop for a frame the NIC finished).

The NIC is emulated by an XDP program on a veth: its speed is not a SmartNIC's. Traffic:
:func:`cora.compiler.offload.profile.zipf_frames` (``--flows`` flows, Zipf ``--zipf``,
4096 frame templates cycled, 64-byte IPv4 TCP/UDP frames, seed 1).

Usage: ``python bench/split_host_time.py [--nf flowcount] [--count N] [--pps R]
[--repeats 3] [--json]`` (needs root: namespaces and XDP).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
N_BUCKETS = 64
TEMPLATES = 4096
DEFAULT_NFS = ("flowcount", "ratelimit")


def deepest_cut(program, fields: tuple[str, ...]) -> dict:
    """The valid nic | kernel cut with the most blocks on the NIC under a traffic split."""
    from cora.compiler.offload.split import SplitError, cut_plan, split
    from cora.compiler.offload.traffic import TrafficSplit

    t = TrafficSplit(fields, N_BUCKETS).to_json()
    for i in range(len(program.topological_blocks()), -1, -1):
        plan = dict(cut_plan(program, i), traffic=t)
        try:
            split(program, plan)
        except SplitError:
            continue
        return plan
    raise SystemExit(f"{program.name}: no valid cut")


def splits_by_share(profile, fields, heavy_n: int) -> list[tuple[str, object]]:
    """(label, TrafficSplit): top-k buckets by packets for growing k, and heavy keys only."""
    from cora.compiler.offload.traffic import TrafficSplit

    order = sorted(range(N_BUCKETS), key=lambda b: -profile.bucket_packets[b])
    out = []
    for k in (0, 2, 8, 16, 32, 48, N_BUCKETS):
        out.append((f"top {k} buckets", TrafficSplit(fields, N_BUCKETS,
                                                     frozenset(order[:k]))))
    heavy = tuple(k for k, _ in profile.heavy_flows[:heavy_n])
    out.append((f"{heavy_n} heavy keys", TrafficSplit(fields, N_BUCKETS, frozenset(), heavy)))
    return out


def modelled_host_ns(program, plan: dict, traffic, frames: list[bytes], nic: str) -> dict:
    """What the planner predicts for this plan: :meth:`Problem.evaluate` of the cut with the
    traffic split, on the profile of ``frames`` (its flow buckets are the split's), with the
    stage models (``nic``, xdp for the host). Every frame the NIC passes runs the host's
    program (per-packet cost and the done shim's pop), as the planner charges it. Returns
    ``{"nic_share": share of frames taking the NIC path, "host_ns_per_frame": ...}``."""
    from cora.compiler.offload.partition import Plan, Problem
    from cora.compiler.offload.profile import profile_from_frames
    from cora.compiler.offload.stage_model import load_model

    pb = Problem(program, load_model(nic), load_model("xdp"), load_model("user"),
                 profile_from_frames(program, frames, n_buckets=N_BUCKETS))
    cut = Plan.from_json({"blocks": plan["blocks"], "states": {}, "shim": []})
    stages = {lab: 0 if cut.block_stage.get(lab) == "nic" else 1 for lab in pb.labels}
    split = pb.make_traffic(traffic.nic_buckets, traffic.heavy_keys)
    ev = pb.evaluate(pb.make_plan(stages, None, split))
    share = sum(traffic.frame_path(f) == "nic" for f in frames) / len(frames)
    return {"nic_share": share, "host_ns_per_frame": ev.host_ns_per_packet}


def fit(rows: list[dict]) -> dict:
    """Least-squares lines ``ns = intercept + slope x NIC share`` of the measured and the
    modelled host ns/frame over ``rows``, and Pearson's r between measured and modelled."""
    import numpy as np

    x = np.array([r["nic_share"] for r in rows])
    ym = np.array([r["measured_host_ns_per_frame"] for r in rows])
    yp = np.array([r["modelled_host_ns_per_frame"] for r in rows])
    sm, im = np.polyfit(x, ym, 1)
    sp, ip = np.polyfit(x, yp, 1)
    r = float(np.corrcoef(ym, yp)[0, 1]) if ym.std() and yp.std() else float("nan")
    return {"measured_slope_ns": round(float(sm), 2), "measured_intercept_ns": round(float(im), 2),
            "modelled_slope_ns": round(float(sp), 2), "modelled_intercept_ns": round(float(ip), 2),
            "pearson_r": round(r, 4)}


def main(argv=None) -> int:
    """Run every plan of every NF on the testbed and print the table (or JSON)."""
    from cora.compiler.driver import compile_file
    from cora.compiler.offload.profile import profile_from_frames, zipf_frames
    from cora.compiler.offload.traffic import classifier_key
    from cora.testbed.offload_experiment import three_node
    from cora.testbed.topology import Topology
    from cora.testbed.traffic_split import run_traffic_split

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nf", action="append", help="NF in netfuncs/ (repeatable; default: "
                    + ", ".join(DEFAULT_NFS) + ")")
    ap.add_argument("--nic", default="bluefield2", choices=("agilio", "bluefield2"),
                    help="NIC model for the modelled column")
    ap.add_argument("--flows", type=int, default=10_000)
    ap.add_argument("--zipf", type=float, default=1.1, help="Zipf parameter s")
    ap.add_argument("--heavy", type=int, default=64, help="heavy keys of the heavy-only plan")
    ap.add_argument("--count", type=int, default=100_000, help="frames sent per run")
    ap.add_argument("--pps", type=float, default=100_000, help="send rate, frames/s")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    frames = [f for _, f in zipf_frames(args.flows, args.zipf, TEMPLATES, seed=1)]
    rows = []
    for nf in args.nf or DEFAULT_NFS:
        program = compile_file(str(REPO / "netfuncs" / f"{nf}.nf"))
        fields = classifier_key(program).fields
        profile = profile_from_frames(program, frames, n_buckets=N_BUCKETS)
        plan = deepest_cut(program, fields)
        cases = splits_by_share(profile, fields, args.heavy)
        measured: dict[str, list[float]] = {label: [] for label, _ in cases}
        with Topology() as topo:
            three_node(topo)
            for _ in range(max(1, args.repeats)):
                for label, t in cases:
                    p = dict(plan, traffic=t.to_json())
                    run = run_traffic_split(program, p, topo, frames, args.count, args.pps, t)
                    if run.nic_frames != run.frames_sent:
                        print(f"warning: {nf} {label}: {run.frames_sent - run.nic_frames} "
                              "frames lost before the NIC stage", file=sys.stderr)
                    measured[label].append(run.host_ns_per_frame)
        nic_blocks = sum(1 for s in plan["blocks"].values() if s == "nic")
        for label, t in cases:
            runs = sorted(measured[label])
            m = modelled_host_ns(program, plan, t, frames, args.nic)
            rows.append({"nf": nf, "plan": label, "nic_blocks": nic_blocks,
                         "blocks": len(plan["blocks"]), "nic_share": round(m["nic_share"], 4),
                         "measured_host_ns_per_frame": round(runs[len(runs) // 2], 2),
                         "measured_runs": [round(x, 2) for x in measured[label]],
                         "modelled_host_ns_per_frame": round(m["host_ns_per_frame"], 2)})
    fits = {nf: fit([r for r in rows if r["nf"] == nf]) for nf in dict.fromkeys(
        r["nf"] for r in rows)}
    meta = {"zipf_s": args.zipf, "flows": args.flows, "templates": TEMPLATES,
            "n_buckets": N_BUCKETS, "count": args.count, "pps": args.pps,
            "repeats": args.repeats, "nic_model": args.nic}
    if args.json:
        json.dump({"config": meta, "rows": rows, "fits": fits}, sys.stdout, indent=1)
        print()
        return 0
    print(f"Host XDP time per frame under Zipf traffic (s={args.zipf}, {args.flows} flows, "
          f"{TEMPLATES} templates, {args.count} frames at {args.pps:.0f} pps, median of "
          f"{args.repeats}); measured = BPF run-time stats of the host program; modelled = "
          f"stage models (xdp; NIC {args.nic}). Emulated NIC (XDP on veth).")
    hdr = (f"{'NF':<10} {'plan':<16} {'NIC share':>9} {'measured ns':>11} "
           f"{'modelled ns':>11}")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print(f"{r['nf']:<10} {r['plan']:<16} {r['nic_share']:>9.3f} "
              f"{r['measured_host_ns_per_frame']:>11.1f} {r['modelled_host_ns_per_frame']:>11.1f}")
    for nf, f in fits.items():
        print(f"{nf}: measured = {f['measured_intercept_ns']:.1f} "
              f"{f['measured_slope_ns']:+.1f} x NIC share ns (model: "
              f"{f['modelled_intercept_ns']:.1f} {f['modelled_slope_ns']:+.1f} x share); "
              f"correlation measured vs modelled r = {f['pearson_r']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
