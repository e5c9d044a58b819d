"""Partition benchmark: cora's CP-SAT plan vs the baselines for every NF, both NICs, several rates.

    .venv/bin/python bench/partition.py [--rates 1 5 10 20 40 80 120] [--traces DIR] [--json]
                                        [--time-limit 2] [--workers 2]

For every NF in netfuncs/ and every NIC model (agilio, bluefield2) it profiles the NF on the
frames of every readable capture in ``--traces`` (reference interpreter), then for every
rate prints host cores of cora's plan and of each baseline (all_host, greedy, state_split,
traffic_split), cores saved vs all-on-host, the CP-SAT solve time, and whether cora's plan
equals the exhaustive optimum where exhaustive search finishes (programs of at most
``--exhaustive-max-blocks`` blocks, ``--exhaustive-seconds`` each). It ends with the issue's
bars: never worse than any baseline, equal to exhaustive wherever it finished, every solve
under 2 s.

All core and load figures are MODELLED (stage models in compiler/offload/models; no NIC hardware
here). Solve times are measured on this machine.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from pathlib import Path

from cora.settings import traces_dir

ROOT = Path(__file__).resolve().parent.parent


def _frames(traces: str) -> tuple[list, int, int]:
    from cora.errors import CoraError
    from cora.testbed.replay import read_pcap
    frames, ok, bad = [], 0, 0
    for f in sorted(glob.glob(str(Path(traces) / "*.pcap*"))):
        try:
            frames += read_pcap(f)
            ok += 1
        except CoraError:
            bad += 1
    return frames, ok, bad


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rates", type=float, nargs="+", default=[1, 5, 10, 20, 40, 80, 120])
    ap.add_argument("--nics", nargs="+", default=["agilio", "bluefield2"])
    ap.add_argument("--traces", default=str(traces_dir()),
                    help="folder of captures (default: the CORA_TRACES setting)")
    ap.add_argument("--nf", nargs="*", default=None, help="NF files (default netfuncs/*.nf)")
    ap.add_argument("--time-limit", type=float, default=2.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--exhaustive-max-blocks", type=int, default=200)
    ap.add_argument("--exhaustive-seconds", type=float, default=10.0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--insns", action="store_true",
                    help="instead: the partitioner's instruction estimate vs clang's eBPF "
                         "instruction count of every whole NF (needs bcc; nothing is loaded)")
    args = ap.parse_args(argv)
    if args.insns:
        return insns(args)

    from cora.compiler.driver import compile_file
    from cora.compiler.offload import baselines as bl
    from cora.compiler.offload.partition import Problem, solve_problem
    from cora.compiler.offload.profile import profile_from_frames
    from cora.compiler.offload.stage_model import available_models, load_model

    frames, ok, bad = _frames(args.traces)
    kernel = load_model("xdp")
    user = load_model("user") if "user" in available_models() else None
    nfs = args.nf or sorted(glob.glob(str(ROOT / "netfuncs" / "*.nf")))
    rows = []
    for nf in nfs:
        program = compile_file(nf)
        profile = profile_from_frames(program, frames)
        for nic_name in args.nics:
            pb = Problem(program, load_model(nic_name), kernel, user, profile)
            for rate in args.rates:
                res = solve_problem(pb, rate, None, args.time_limit, args.workers)
                base = bl.run_baselines(pb, rate)
                ex = None
                if len(pb.labels) <= args.exhaustive_max_blocks:
                    ex = bl.exhaustive(pb, rate, None, max_leaves=10**7,
                                       time_limit_s=args.exhaustive_seconds)
                ah = base["all_host"].host_cores
                row = {"nf": program.name, "nic": nic_name, "rate_mpps": rate,
                       "blocks": len(pb.labels), "cora": res.host_cores,
                       "nic_utilization": res.nic_utilization,
                       "optimal": res.optimal, "gap": res.gap,
                       "solve_seconds": res.solve_seconds,
                       **{k: v.host_cores for k, v in base.items()},
                       "saved_cores": None if ah is None or res.host_cores is None
                       else ah - res.host_cores,
                       "exhaustive": None if ex is None or not ex.finished else ex.host_cores,
                       "exhaustive_status": "skipped" if ex is None else
                       ("finished" if ex.finished else "gave up"),
                       "exhaustive_seconds": None if ex is None else ex.seconds}
                rows.append(row)
                if not args.json:
                    _print_row(row, first=len(rows) == 1)
    bars = _bars(rows)
    if args.json:
        json.dump({"modelled": True, "frames": len(frames), "captures": ok,
                   "unreadable_captures": bad, "rows": rows, "bars": bars}, sys.stdout,
                  indent=1)
        sys.stdout.write("\n")
    else:
        print(f"\nprofile: {len(frames)} frames from {ok} captures in {args.traces} "
              f"({bad} unreadable skipped); host cores and NIC load are MODELLED (stage "
              "models, no NIC hardware); solve times measured here")
        for k, v in bars.items():
            print(f"{k}: {v}")
    return 0


def insns(args) -> int:
    """Print, per NF: IR ops, estimate_insns, clang's eBPF instructions, their ratio."""
    import os

    import bcc

    from cora.compiler.driver import compile_file
    from cora.compiler.offload.partition import estimate_insns
    from cora.targets import get_target

    cflags = ["-Wno-unused-label", "-Wno-unused-variable", "-Wno-unused-function",
              "-Wno-compare-distinct-pointer-types"]
    nfs = args.nf or sorted(glob.glob(str(ROOT / "netfuncs" / "*.nf")))
    print(f"{'nf':<12}{'IR ops':>7}{'estimate':>9}{'eBPF':>7}{'eBPF/estimate':>14}")
    ratios = []
    for nf in nfs:
        program = compile_file(nf)
        artifact = get_target("xdp").generate(program)
        src = artifact.files["prog.c"]
        devnull = os.open(os.devnull, os.O_WRONLY)
        saved = os.dup(2)
        os.dup2(devnull, 2)          # clang's warnings
        try:
            b = bcc.BPF(text=src, cflags=cflags, debug=0)
            n = len(b.dump_func(artifact.entry.encode())) // 8
            b.cleanup()
        finally:
            os.dup2(saved, 2)
            os.close(devnull)
            os.close(saved)
        ops = [op for _, op in program.ops()]
        est = estimate_insns(ops)
        ratios.append(n / est)
        print(f"{program.name:<12}{len(ops):>7}{est:>9}{n:>7}{n / est:>14.2f}")
    print(f"eBPF/estimate from {min(ratios):.2f} to {max(ratios):.2f} (<= 1: the estimate "
          "is not below clang's count; measured with clang via bcc on this machine)")
    return 0


def _fmt(x, w=7, d=3):
    return f"{'-':>{w}}" if x is None else f"{x:>{w}.{d}f}"


def _print_row(r: dict, first: bool) -> None:
    if first:
        print(f"{'nf':<12}{'nic':<11}{'Mpps':>5} {'cora':>7} {'all_host':>8} {'greedy':>7} "
              f"{'st_split':>8} {'tr_split':>8} {'saved':>7} {'saved%':>6} {'NICload':>7} "
              f"{'solve_s':>7} {'opt':>4}  exhaustive")
    ah = r["all_host"]
    pct = None if not ah or r["saved_cores"] is None else 100 * r["saved_cores"] / ah
    if r["exhaustive_status"] == "finished":
        exs = "= cora" if abs(r["exhaustive"] - r["cora"]) < 1e-9 else \
            f"DIFFERS {r['exhaustive']:.4f}"
        exs += f" ({r['exhaustive_seconds']:.1f} s)"
    else:
        exs = r["exhaustive_status"]
    print(f"{r['nf']:<12}{r['nic']:<11}{r['rate_mpps']:>5g} {_fmt(r['cora'])} "
          f"{_fmt(ah, 8)} {_fmt(r['greedy'])} {_fmt(r['state_split'], 8)} "
          f"{_fmt(r['traffic_split'], 8)} {_fmt(r['saved_cores'])} {_fmt(pct, 6, 1)} "
          f"{_fmt(r['nic_utilization'])} {_fmt(r['solve_seconds'], 7, 3)} "
          f"{'yes' if r['optimal'] else 'no':>4}  {exs}", flush=True)


def _bars(rows: list[dict]) -> dict:
    worse = []
    for r in rows:
        for k in ("all_host", "greedy", "state_split", "traffic_split"):
            if r[k] is not None and (r["cora"] is None or r["cora"] > r[k] + 1e-9):
                worse.append(f"{r['nf']}/{r['nic']}/{r['rate_mpps']:g} vs {k}")
    ex_rows = [r for r in rows if r["exhaustive_status"] == "finished"]
    ex_diff = [f"{r['nf']}/{r['nic']}/{r['rate_mpps']:g}" for r in ex_rows
               if abs(r["exhaustive"] - r["cora"]) > 1e-9]
    slow = [f"{r['nf']}/{r['nic']}/{r['rate_mpps']:g}" for r in rows if r["solve_seconds"] >= 2]
    return {
        "never worse than any baseline": "yes" if not worse else f"NO: {worse}",
        "equals exhaustive where it finished": (f"yes ({len(ex_rows)} of {len(rows)} cases "
                                                 "finished)") if not ex_diff
        else f"NO: {ex_diff}",
        "every solve under 2 s": (f"yes (max {max(r['solve_seconds'] for r in rows):.3f} s)"
                                  if not slow else f"NO: {slow}"),
        "all proved optimal": "yes" if all(r["optimal"] for r in rows) else "no",
    }


if __name__ == "__main__":
    sys.exit(main())
