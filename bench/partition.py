"""Partition benchmark: cora's plans vs the baselines, every NF x both NICs x 1-160 Mpps.

    .venv/bin/python bench/partition.py [--rates 1 10 20 ...] [--mixes zipf captures]
        [--zipf-s 1.1] [--zipf-flows 100000] [--zipf-packets 20000] [--json OUT.json]
        [--plot OUT.png] [--time-limit 2] [--workers 1]

Two traffic mixes per NF (each profiled by the reference interpreter, flow groups included):

- ``zipf``: ``--zipf-packets`` packets drawn from ``--zipf-flows`` flows with Zipf(s) flow
  popularity (P(rank k) ~ k^-s; s = 1.1 and 100,000 flows by default;
  :func:`cora.compiler.offload.profile.zipf_frames`: 2/3 TCP ACK, 1/3 UDP), addressed to
  the NF's configured prefixes and ports (:data:`NF_TARGETS`).
- ``captures``: every readable capture of ``--traces`` (CORA_TRACES), its IPv4 frames
  rewritten to the same configured prefixes and ports (addresses mapped by a fixed hash, so
  a flow stays a flow).

For every case: host cores of cora and each baseline (all_host, greedy, state_split,
traffic_split, heavy_split: the heuristic "heavy flows on the NIC, the rest on the host"
(:func:`cora.compiler.offload.partition.heavy_split_candidate`, also the solver's warm start
and fallback, so cora is never above it; reported on its own so that what CP-SAT adds over it
shows); exhaustive on programs of at most ``--exhaustive-max-blocks`` blocks, which
enumerates flow-group splits only for tiny group counts, so here it covers plans without a
split), cores saved vs all-on-host, whether cora beats the best baseline and by how much,
CP-SAT solve time (one worker: deterministic) and optimality gap. The summary also lists
where cora does NOT beat the best baseline and why.

All core and load figures are MODELLED (stage models in compiler/offload/models; no NIC
hardware here). Solve times are measured on this machine (shared, loaded: see the README).
"""

from __future__ import annotations

import argparse
import glob
import ipaddress
import json
import statistics
import sys
import zlib
from pathlib import Path

from cora.settings import shown_path, traces_dir

ROOT = Path(__file__).resolve().parent.parent
BASELINE_NAMES = ("all_host", "greedy", "state_split", "traffic_split", "heavy_split")

#: where each NF's traffic goes, from its source (netfuncs/*.nf): ``src_net`` rewrites
#: source addresses into the NF's inside prefix (firewall, nat: ``const INSIDE``);
#: ``dst``/``dport`` a service (lb: ``services`` (10.11.0.100, 80, tcp) and (…, 53, udp)).
#: NFs without configured addresses (flowcount, heavyhitter, ratelimit, synguard) keep the
#: generated or captured addresses.
NF_TARGETS: dict[str, dict] = {
    "firewall": {"src_net": "10.11.1.0/24"},
    "nat": {"src_net": "10.11.1.0/24"},
    "lb": {"dst": "10.11.0.100", "dport": {6: 80, 17: 53}},
}


# ---------------------------------------------------------------------------- traffic mixes

def _csum(hdr: bytes) -> int:
    s = sum(int.from_bytes(hdr[i:i + 2], "big") for i in range(0, len(hdr), 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def retarget(frame: bytes, target: dict) -> bytes:
    """``frame`` with its IPv4 addresses/ports moved to ``target`` (:data:`NF_TARGETS`);
    the IPv4 header checksum is recomputed (L4 checksums are left as they are: no NF in the
    library checks them). Non-IPv4 frames are returned unchanged."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[14] >> 4 != 4:
        return frame
    b = bytearray(frame)
    ihl = (b[14] & 0xF) * 4
    if "src_net" in target:
        net = ipaddress.ip_network(target["src_net"])
        host = zlib.crc32(bytes(b[26:30])) % (net.num_addresses - 2) + 1
        b[26:30] = int(net[host]).to_bytes(4, "big")
    if "dst" in target:
        b[30:34] = int(ipaddress.ip_address(target["dst"])).to_bytes(4, "big")
        port = target.get("dport", {}).get(b[23])
        l4 = 14 + ihl
        if port is not None and len(b) >= l4 + 4:
            b[l4 + 2:l4 + 4] = port.to_bytes(2, "big")
    b[24:26] = b"\0\0"
    if len(b) >= 14 + ihl:
        b[24:26] = _csum(bytes(b[14:14 + ihl])).to_bytes(2, "big")
    return bytes(b)


def capture_frames(traces: str) -> tuple[list, int, int]:
    """Frames of every readable capture in ``traces``: (frames, captures read, unreadable)."""
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


def _profile(program, frames):
    """The interpreter profile of ``frames``, flow groups included (classifier key of the
    program, 256 buckets, top 4,096 heavy flows: cora.compiler.offload.profile defaults)."""
    from cora.compiler.offload.profile import profile_from_frames
    return profile_from_frames(program, frames)


# ------------------------------------------------------------------------------------ run

def run_case(pb, rate: float, args) -> dict:
    """cora, every baseline and (small programs) exhaustive at one rate."""
    from cora.compiler.offload import baselines as bl
    from cora.compiler.offload.partition import (
        heavy_split_candidate,
        result_figures,
        solve_problem,
    )
    res = solve_problem(pb, rate, None, args.time_limit, args.workers, explain=False)
    base = bl.run_baselines(pb, rate)
    heavy = heavy_split_candidate(pb, rate, None)
    row = {"heavy_split": None if heavy is None else
           result_figures(pb, heavy, rate, None)["host_cores"],
           "rate_mpps": rate, "blocks": len(pb.labels), "cora": res.host_cores,
           "nic_utilization": res.nic_utilization, "nic_path_share": res.nic_path_share,
           "split": res.plan is not None and res.plan.traffic is not None,
           "optimal": res.optimal, "gap": res.gap, "solve_seconds": res.solve_seconds,
           **{k: v.host_cores for k, v in base.items()}}
    ex = None
    if len(pb.labels) <= args.exhaustive_max_blocks:
        ex = bl.exhaustive(pb, rate, None, max_leaves=10**6,
                           time_limit_s=args.exhaustive_seconds)
    row["exhaustive"] = None if ex is None or not ex.finished else ex.host_cores
    row["exhaustive_status"] = "skipped" if ex is None else \
        ("finished" if ex.finished else "gave up")
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rates", type=float, nargs="+",
                    default=[1, 10, 20, 40, 60, 80, 100, 120, 140, 160])
    ap.add_argument("--nics", nargs="+", default=["agilio", "bluefield2"])
    ap.add_argument("--mixes", nargs="+", default=["zipf", "captures"],
                    choices=["zipf", "captures"])
    ap.add_argument("--traces", default=str(traces_dir()),
                    help="folder of captures (default: the CORA_TRACES setting)")
    ap.add_argument("--nf", nargs="*", default=None, help="NF files (default netfuncs/*.nf)")
    ap.add_argument("--zipf-s", type=float, default=1.1)
    ap.add_argument("--zipf-flows", type=int, default=100_000)
    ap.add_argument("--zipf-packets", type=int, default=20_000)
    ap.add_argument("--time-limit", type=float, default=2.0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--exhaustive-max-blocks", type=int, default=25)
    ap.add_argument("--exhaustive-seconds", type=float, default=3.0)
    ap.add_argument("--json", default=None, metavar="OUT.json", help="write every row here")
    ap.add_argument("--plot", default=None, metavar="OUT.png",
                    help="host cores vs rate, every NF x NIC: OUT_<mix>.png per mix")
    ap.add_argument("--insns", action="store_true",
                    help="instead: the partitioner's instruction estimate vs clang's eBPF "
                         "instruction count of every whole NF (needs bcc; nothing is loaded)")
    ap.add_argument("--memory-bound", action="store_true",
                    help="instead: the NIC-memory-bound Zipf scenario (analytic flow groups "
                         "over --mb-flows active flows, per-flow maps sized to them)")
    ap.add_argument("--mb-flows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--mb-s", type=float, nargs="+", default=[0.9, 1.1, 1.3])
    ap.add_argument("--mb-rates", type=float, nargs="+", default=[10, 40])
    ap.add_argument("--table-from", default=None, metavar="IN.json",
                    help="instead: print the README/docs markdown tables of a recorded run "
                         "(--json output of either scenario)")
    args = ap.parse_args(argv)
    if args.table_from:
        return print_tables(json.loads(Path(args.table_from).read_text())["rows"])
    if args.insns:
        return insns(args)
    if args.memory_bound:
        return memory_bound(args)

    from cora.compiler.driver import compile_file
    from cora.compiler.offload.partition import Problem
    from cora.compiler.offload.stage_model import available_models, load_model

    kernel = load_model("xdp")
    user = load_model("user") if "user" in available_models() else None
    nfs = args.nf or sorted(glob.glob(str(ROOT / "netfuncs" / "*.nf")))
    mixes: dict[str, list] = {}
    info: dict[str, str] = {}
    if "zipf" in args.mixes:
        from cora.compiler.offload.profile import zipf_frames
        mixes["zipf"] = zipf_frames(args.zipf_flows, args.zipf_s, args.zipf_packets)
        info["zipf"] = (f"Zipf s={args.zipf_s:g} over {args.zipf_flows:,} flows, "
                        f"{args.zipf_packets:,} packets")
    if "captures" in args.mixes:
        frames, ok, bad = capture_frames(args.traces)
        mixes["captures"] = frames
        info["captures"] = (f"{len(frames):,} frames of {ok} captures in {shown_path(args.traces)} "
                            f"({bad} unreadable skipped), rewritten per NF")
    rows: list[dict] = []
    _warm_up(nfs[0], kernel, user, args)
    for nf in nfs:
        program = compile_file(nf)
        target = NF_TARGETS.get(program.name, {})
        for mix, frames in mixes.items():
            fr = [(ts, retarget(f, target)) for ts, f in
                  (x if isinstance(x, tuple) else (0, x) for x in frames)]
            profile = _profile(program, fr)
            for nic_name in args.nics:
                pb = Problem(program, load_model(nic_name), kernel, user, profile)
                for rate in args.rates:
                    row = {"nf": program.name, "nic": nic_name, "mix": mix,
                           "flow_groups": pb.traffic_ok, **run_case(pb, rate, args)}
                    rows.append(row)
                    _print_row(row, first=len(rows) == 1)
    summary = summarise(rows)
    print()
    print(f"mixes: {'; '.join(f'{k}: {v}' for k, v in info.items())}")
    print("host cores and NIC load are MODELLED (stage models, no NIC hardware); solve "
          "times measured here (one CP-SAT worker)")
    for k, v in summary.items():
        print(f"{k}: {v}")
    if args.json:
        Path(args.json).write_text(json.dumps({"modelled": True, "mixes": info, "rows": rows,
                                               "summary": summary}, indent=1) + "\n")
    if args.plot:
        stem = Path(args.plot)
        for mix in mixes:
            out = stem.with_name(f"{stem.stem}_{mix}{stem.suffix or '.png'}")
            plot(rows, str(out), mix, info[mix])
            print(f"plot: {shown_path(out)}")
    return 0


def memory_bound(args) -> int:
    """The NIC-memory-bound regime of Cora (arXiv 2410.22229): many active flows, Zipf(s)
    popularity, per-flow state for every active flow. Per NF, NIC, flow count, s and rate:
    host cores of cora and every baseline (MODELLED).

    Scenario figures: block/edge frequencies from a 5,000-packet Zipf(s) mix over 10,000
    flows (interpreter profile); flow groups ANALYTIC over ``--mb-flows`` flows
    (:func:`cora.compiler.offload.profile.zipf_flow_groups`: 256 buckets, top 4,096 flows as
    heavy candidates, grouped by rank); every partitionable (per-flow) map's capacity raised
    to the active flow count (the operator sizes per-flow state to the flows; assumption);
    the NIC's heavy table: 4,096 entries of 16 B in its fastest tier
    (partition.HEAVY_TABLE_ENTRIES); NIC tiers, entry limits and costs: the stage models."""
    from cora.compiler.driver import compile_file
    from cora.compiler.offload.partition import Problem
    from cora.compiler.offload.profile import zipf_flow_groups, zipf_profile
    from cora.compiler.offload.stage_model import load_model

    kernel, user = load_model("xdp"), load_model("user")
    nfs = args.nf or sorted(glob.glob(str(ROOT / "netfuncs" / "*.nf")))
    _warm_up(nfs[0], kernel, user, args)
    rows = []
    for nf in nfs:
        for s in args.mb_s:
            for flows in args.mb_flows:
                program = compile_file(nf)
                prof = zipf_profile(program, 10_000, s, 5_000)
                probe = Problem(program, load_model(args.nics[0]), kernel, user, prof)
                for st in program.states:
                    if st.name in probe.partitionable:
                        st.capacity = max(st.capacity, flows)
                try:
                    zipf_flow_groups(prof, flows, s)
                except ValueError as e:
                    print(f"{program.name}: skipped ({e})")
                    break
                for nic_name in args.nics:
                    pb = Problem(program, load_model(nic_name), kernel, user, prof)
                    for rate in args.mb_rates:
                        row = {"nf": program.name, "nic": nic_name, "mix": "memory_bound",
                               "flows": flows, "zipf_s": s, "flow_groups": pb.traffic_ok,
                               **run_case(pb, rate, args)}
                        rows.append(row)
                        _print_row(row, first=len(rows) == 1)
    summary = summarise(rows)
    print()
    print("memory-bound scenario: analytic Zipf flow groups, per-flow maps sized to the "
          "flows; host cores MODELLED; solve times measured here (machine shared, loaded)")
    for k, v in summary.items():
        print(f"{k}: {v}")
    if args.json:
        Path(args.json).write_text(json.dumps({"modelled": True, "scenario": "memory_bound",
                                               "rows": rows, "summary": summary},
                                              indent=1) + "\n")
    return 0


def _warm_up(nf: str, kernel, user, args) -> None:
    """One solve whose time is not reported: OR-tools' first solve in a process pays its
    one-off set-up (about 1 s here), which is no part of any plan's solve time."""
    from cora.compiler.driver import compile_file
    from cora.compiler.offload.partition import Problem, solve_problem
    from cora.compiler.offload.profile import synthetic_profile
    from cora.compiler.offload.stage_model import load_model
    program = compile_file(nf)
    pb = Problem(program, load_model(args.nics[0]), kernel, user, synthetic_profile(program))
    solve_problem(pb, 1.0, None, args.time_limit, args.workers, explain=False)


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
        print(f"{'nf':<12}{'nic':<11}{'mix':<9}{'Mpps':>5} {'cora':>7} {'all_host':>8} "
              f"{'greedy':>7} {'st_split':>8} {'tr_split':>8} {'heavy':>7} {'saved%':>6} "
              f"{'share':>5} "
              f"{'solve_s':>7} {'gap':>5}  exhaustive", flush=True)
    ah = r["all_host"]
    pct = None if not ah or r["cora"] is None else 100 * (ah - r["cora"]) / ah
    ex = r["exhaustive_status"]
    if ex == "finished":
        ex = "= cora" if abs(r["exhaustive"] - r["cora"]) < 1e-9 else \
            f"{r['exhaustive']:.3f}"
    print(f"{r['nf']:<12}{r['nic']:<11}{r['mix']:<9}{r['rate_mpps']:>5g} {_fmt(r['cora'])} "
          f"{_fmt(ah, 8)} {_fmt(r['greedy'])} {_fmt(r['state_split'], 8)} "
          f"{_fmt(r['traffic_split'], 8)} {_fmt(r.get('heavy_split'))} {_fmt(pct, 6, 1)} "
          f"{_fmt(r['nic_path_share'], 5, 2)} {_fmt(r['solve_seconds'], 7, 3)} "
          f"{_fmt(r['gap'], 5, 3)}  {ex}", flush=True)


def _best_baseline(r: dict) -> float | None:
    vals = [r[k] for k in BASELINE_NAMES if r[k] is not None]
    return min(vals) if vals else None


def why_not_better(r: dict) -> str:
    """Why cora does not beat the best baseline in row ``r`` (a tie or no plan)."""
    best = _best_baseline(r)
    if r["cora"] is None:
        return "no feasible plan at all"
    if r["cora"] <= 1e-12 and best is not None and best <= 1e-12:
        return "a baseline also puts everything on the NIC (0 host cores)"
    if r["all_host"] is not None and r["cora"] >= r["all_host"] - 1e-9:
        return "nothing can be offloaded at this rate (the optimum is all-on-host)"
    return "a baseline finds an optimal plan too"


def _vs_heavy(rows: list[dict]) -> str:
    """Cases where cora needs fewer host cores than the heavy-flows heuristic, and by how
    much (the heuristic is the solver's fallback: cora is never above it)."""
    both = [r for r in rows if r.get("heavy_split") is not None and r["cora"] is not None]
    below = [(r["heavy_split"] - r["cora"]) / r["heavy_split"] for r in both
             if r["heavy_split"] > 0 and r["cora"] < r["heavy_split"] * (1 - 1e-9)]
    if not both:
        return "no case has a heavy-flows plan"
    return (f"{len(below)} of {len(both)} cases with a heavy-flows plan"
            + (f", by median {100 * statistics.median(below):.1f}%, max "
               f"{100 * max(below):.1f}% fewer host cores" if below else ""))


def print_tables(rows: list[dict]) -> int:
    """Markdown tables of a recorded run (MODELLED cores, measured solve times): per NF, NIC
    and mix the curve's landmarks (rate mixes) and, for every run, the solver's record
    (cases proved optimal, largest gap, solve seconds)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["nf"], r["nic"], r["mix"]), []).append(r)
    if any(r["mix"] != "memory_bound" for r in rows):
        print("| NF | NIC | mix | highest rate at 0 host cores (Mpps) | host cores at 60 Mpps: "
              "cora / best baseline / all-host | at 80 Mpps | cases cora < best baseline | "
              "largest saving vs best baseline |")
        print("|---|---|---|---|---|---|---|---|")
        for (nf, nic, mix), rs in sorted(groups.items()):
            if mix == "memory_bound":
                continue
            zero = [r["rate_mpps"] for r in rs if r["cora"] is not None and r["cora"] <= 1e-12]

            def at(rate: float, rs: list[dict] = rs) -> str:
                r = next((x for x in rs if x["rate_mpps"] == rate), None)
                if r is None or r["cora"] is None:
                    return "-"
                best = _best_baseline(r)
                return (f"{r['cora']:.2f}{'*' if r['split'] else ''} / "
                        f"{'-' if best is None else f'{best:.2f}'} / {r['all_host']:.2f}")
            wins = [(_best_baseline(r) or 0) - r["cora"] for r in rs if r["cora"] is not None
                    and _best_baseline(r) is not None
                    and r["cora"] < _best_baseline(r) - 1e-9 * max(1, _best_baseline(r))]
            print(f"| {nf} | {nic} | {mix} | {max(zero) if zero else '-':g} | {at(60)} | "
                  f"{at(80)} | {len(wins)} of {len(rs)} | {max(wins, default=0):.2f} cores |"
                  if zero else
                  f"| {nf} | {nic} | {mix} | - | {at(60)} | {at(80)} | {len(wins)} of "
                  f"{len(rs)} | {max(wins, default=0):.2f} cores |")
        print()
    print("| NF | NIC | mix | cases | proved optimal | largest gap | solve s median / max |")
    print("|---|---|---|---|---|---|---|")
    for (nf, nic, mix), rs in sorted(groups.items()):
        done = [r for r in rs if r["cora"] is not None]
        gaps = [r["gap"] or 0 for r in done]
        secs = [r["solve_seconds"] for r in rs]
        print(f"| {nf} | {nic} | {mix} | {len(rs)} | {sum(1 for r in done if r['optimal'])} | "
              f"{max(gaps, default=0):.2f} | {statistics.median(secs):.2f} / {max(secs):.2f} |")
    return 0


def summarise(rows: list[dict]) -> dict:
    """The issue's figures over ``rows``: savings, wins vs the best baseline, solve times,
    gaps, exhaustive agreement and the cases cora does not win, with reasons."""
    worse = [r for r in rows for k in BASELINE_NAMES
             if r[k] is not None and (r["cora"] is None or r["cora"] > r[k] + 1e-9)]
    ex_rows = [r for r in rows if r["exhaustive_status"] == "finished"]
    ex_above = [r for r in ex_rows if r["exhaustive"] + 1e-9 < r["cora"]]
    saved = [100 * (r["all_host"] - r["cora"]) / r["all_host"] for r in rows
             if r["cora"] is not None and r["all_host"]]
    wins, ties = [], []
    for r in rows:
        best = _best_baseline(r)
        if r["cora"] is not None and best is not None and r["cora"] < best - 1e-9 * max(1, best):
            wins.append(r)
        else:
            ties.append(r)
    ratio = [(_best_baseline(r) - r["cora"]) / _best_baseline(r) for r in wins]
    # savings vs the best baseline's savings, where both are partial
    mult = [(r["all_host"] - r["cora"]) / (r["all_host"] - _best_baseline(r)) for r in wins
            if r["all_host"] and r["all_host"] - _best_baseline(r) > 1e-9]
    gaps = [r["gap"] for r in rows if r["cora"] is not None and not r["optimal"]]
    reasons: dict[str, int] = {}
    for r in ties:
        w = why_not_better(r)
        reasons[w] = reasons.get(w, 0) + 1
    out = {
        "cases": len(rows),
        "never worse than any baseline": "yes" if not worse else
        f"NO: {[(r['nf'], r['nic'], r['mix'], r['rate_mpps']) for r in worse][:10]}",
        "cores saved vs all-on-host (%)": (
            f"median {statistics.median(saved):.1f}, max {max(saved):.1f}" if saved else "-"),
        "cora beats the best baseline": f"{len(wins)} of {len(rows)} cases "
        f"({100 * len(wins) / max(1, len(rows)):.0f}%)",
        "by (fewer host cores than the best baseline, %)": (
            f"median {100 * statistics.median(ratio):.1f}, max {100 * max(ratio):.1f}"
            if ratio else "-"),
        "cora's savings / best baseline's savings (where the baseline saves anything)": (
            f"median {statistics.median(mult):.2f}x, max {max(mult):.2f}x" if mult else "-"),
        "plans with a traffic split": sum(1 for r in rows if r["split"]),
        "cora below the heavy-flows heuristic (heavy_split)": _vs_heavy(rows),
        "optimality gap where not proved": (
            f"{len(gaps)} cases, median {statistics.median(gaps):.2f}, max {max(gaps):.2f}"
            if gaps else "none"),
        "cases cora does not beat the best baseline, by reason": reasons,
        "solve seconds": f"median {statistics.median(r['solve_seconds'] for r in rows):.3f}, "
                         f"max {max(r['solve_seconds'] for r in rows):.3f}",
        "every solve under 2 s": "yes" if all(r["solve_seconds"] < 2 for r in rows) else "NO",
        "all proved optimal (gap 0)": "yes" if all(r["optimal"] and (r["gap"] or 0) == 0
                                                   for r in rows if r["cora"] is not None)
        else "no",
        "exhaustive (plans without a split) never below cora": (
            f"yes ({len(ex_rows)} cases finished)" if not ex_above else
            f"NO: {[(r['nf'], r['nic'], r['rate_mpps']) for r in ex_above]}"),
        "exhaustive equals cora where cora's plan has no split": (
            "yes" if all(abs(r["exhaustive"] - r["cora"]) < 1e-9 for r in ex_rows
                         if not r["split"]) else "NO"),
    }
    return out


def plot(rows: list[dict], path: str, mix: str, desc: str) -> None:
    """Host cores vs rate for cora and every baseline: one panel per NF x NIC (``mix``)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sel = [r for r in rows if r["mix"] == mix]
    nfs = sorted({r["nf"] for r in sel})
    nics = sorted({r["nic"] for r in sel})
    fig, axes = plt.subplots(len(nics), len(nfs), figsize=(3.1 * len(nfs), 2.9 * len(nics)),
                             squeeze=False, sharex=True)
    styles = {"cora": dict(lw=2.4, marker="o", ms=3, zorder=5),
              "all_host": dict(lw=1, ls="--", color="grey"),
              "greedy": dict(lw=1.2, marker="."), "state_split": dict(lw=1.2, marker="."),
              "traffic_split": dict(lw=1.2, marker=".")}
    for i, nic in enumerate(nics):
        for j, nf in enumerate(nfs):
            ax = axes[i][j]
            rs = sorted((r for r in sel if r["nf"] == nf and r["nic"] == nic),
                        key=lambda r: r["rate_mpps"])
            for name in ("all_host", "greedy", "state_split", "traffic_split", "cora"):
                pts = [(r["rate_mpps"], r[name]) for r in rs if r[name] is not None]
                if pts:
                    ax.plot(*zip(*pts, strict=True), label=name, **styles[name])
            ax.set_title(f"{nf} / {nic}", fontsize=9)
            ax.grid(alpha=0.3)
            if j == 0:
                ax.set_ylabel("host cores (modelled)")
            if i == len(nics) - 1:
                ax.set_xlabel("Mpps")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"cora vs baselines: host cores vs rate ({desc}; modelled)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
