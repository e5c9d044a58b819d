"""``cora plan``: partition an NF between a SmartNIC and the host (CP-SAT), with baselines.

``cora plan X.nf (--nic agilio|bluefield2 | --nic-model NIC.toml) (--rate MPPS | --cores N |
--sweep A:B[:STEP] [--plot FILE.png]) [--profile IN.pcap] [--time-limit S] [--workers N]
[--warm-start PLAN.json] [--out PLAN.json] [--json]``

``--nic-model`` reads a user's own NIC description (the stage-model TOML format of
docs/offload.md, checked by :func:`cora.compiler.offload.stage_model.load_model`).
``--sweep`` prints the host-cores-vs-rate curve of cora and every baseline (``--plot`` draws
it with matplotlib). With ``--profile``, a warning names how much of the program the capture
left unexecuted (:data:`COVERAGE_WARN_SHARE`).

Every figure is predicted by the stage models (``cora.compiler.offload.stage_model``): there is
no NIC hardware here, and the output says so. ``--json`` prints one object::

    {"plan": {...}, "host_cores": X, "nic_utilization": U,
     "baselines": {"all_host": X, "greedy": X, "state_split": X, "traffic_split": X},
     "optimal": true|false, "gap": G, "solve_seconds": S, ...extra keys}

``plan`` is :meth:`cora.compiler.offload.partition.Plan.to_json` (block -> stage, state -> stage and
tier, per crossing edge the ordered shim registers), complete for a later code generator.
"""

from __future__ import annotations

import math
import sys

from cora.argtypes import UsageError
from cora.errors import CoraError, InputError
from cora.jsonout import dumps

NICS = ("agilio", "bluefield2")
# exhaustive search is tried on programs of at most this many reachable blocks
EXHAUSTIVE_MAX_BLOCKS = 120
# ... and enumerates traffic splits only with at most this many flow groups
EXHAUSTIVE_MAX_GROUPS = 10


#: the most host cores a plan may need and still be called feasible: more than any single
#: host has (the largest x86 servers have a few hundred cores, e.g. 2 x 192-core AMD EPYC
#: 9965 = 384 cores). A modelled plan needing more is reported as infeasible for any real
#: host, never as a plan.
MAX_HOST_CORES = 1024
#: lowest --rate accepted, in Mpps: one packet a second (below it the cost model's integer
#: scaling underflows)
MIN_RATE_MPPS = 1e-6
#: longest CP-SAT time limit accepted, in seconds
MAX_TIME_LIMIT_S = 3600.0
#: most CP-SAT worker threads accepted
MAX_WORKERS = 64
#: warn when a --profile capture executes fewer than this share of the program's blocks or
#: of its ops: the plan then places the rest by cost alone, as if it never ran
COVERAGE_WARN_SHARE = 0.5
#: most rates one --sweep may ask for
MAX_SWEEP_POINTS = 200
#: --sweep step when none is given, Mpps
SWEEP_STEP_MPPS = 10.0


def register(sub) -> None:
    """Add ``cora plan`` to the top-level argparse ``sub``-parsers."""
    from cora.argtypes import add_json_flag, add_nf_argument, integer, number

    p = sub.add_parser("plan", help="partition an NF between a SmartNIC and the host "
                                    "(CP-SAT; modelled figures)",
                       description="Partition an NF between a SmartNIC and the host with CP-SAT: "
                                   "the fewest host cores at a rate (--rate), or the highest "
                                   "rate within a core budget (--cores). Every figure is "
                                   "MODELLED by the stage models; a plan needing more than "
                                   f"{MAX_HOST_CORES:,} host cores is reported infeasible.")
    add_nf_argument(p)
    nic = p.add_mutually_exclusive_group(required=True)
    nic.add_argument("--nic", choices=NICS, help="SmartNIC stage model shipped with cora")
    nic.add_argument("--nic-model", default=None, metavar="NIC.toml",
                     help="your own SmartNIC description (stage-model TOML, docs/offload.md)")
    p.add_argument("--rate", type=number(MIN_RATE_MPPS, unit="Mpps"), default=None,
                   metavar="MPPS", help=f"target rate in Mpps (at least {MIN_RATE_MPPS:g}: one "
                                        "packet a second): minimise host cores at it")
    p.add_argument("--cores", type=number(0, MAX_HOST_CORES), default=None, metavar="N",
                   help=f"host core budget, 0 to {MAX_HOST_CORES:,} (alone: maximise the rate "
                        "within it)")
    p.add_argument("--sweep", default=None, metavar="A:B[:STEP]",
                   help="instead of one plan: host cores of cora and every baseline at rates A "
                        f"to B Mpps (every STEP, default {SWEEP_STEP_MPPS:g})")
    p.add_argument("--plot", default=None, metavar="FILE.png",
                   help="with --sweep: draw the curves to this PNG (matplotlib)")
    p.add_argument("--profile", default=None, metavar="IN.pcap",
                   help="capture whose frames weight the costs (default: synthetic, every "
                        "branch 50/50)")
    p.add_argument("--time-limit", type=number(0, MAX_TIME_LIMIT_S, low_open=True, unit="s"),
                   default=2.0, metavar="S",
                   help=f"CP-SAT time budget of the plan in seconds, all its solves together "
                        f"(above 0, at most {MAX_TIME_LIMIT_S:g})")
    p.add_argument("--workers", type=integer(1, MAX_WORKERS), default=2, metavar="N",
                   help=f"CP-SAT worker threads (1 to {MAX_WORKERS})")
    p.add_argument("--warm-start", default=None, metavar="PLAN.json",
                   help="a previous plan (the --out file or --json output) as a solver hint")
    p.add_argument("--out", default=None, metavar="PLAN.json",
                   help="write the JSON document to this file as well")
    add_json_flag(p)
    p.set_defaults(func=cmd_plan)


def beyond_any_host(host_cores: float | None, rate_mpps: float | None) -> str | None:
    """Why a modelled plan cannot run on any real host, or None if it can.

    Args:
        host_cores: the plan's host cores (modelled); None when there is no plan.
        rate_mpps: the rate the plan is for, in Mpps.

    Returns:
        one line naming the cores needed and the cap :data:`MAX_HOST_CORES`, or None.
    """
    if host_cores is None or host_cores <= MAX_HOST_CORES:
        return None
    cores = ("unboundedly many" if not math.isfinite(host_cores) else
             f"{host_cores:,.0f}" if host_cores < 1e15 else f"{host_cores:.3g}")
    rate = f" at {rate_mpps:g} Mpps" if rate_mpps is not None and math.isfinite(rate_mpps) else ""
    return (f"the best plan needs {cores} host cores{rate} (modelled), more than any real "
            f"host has (cora's cap: {MAX_HOST_CORES:,} cores); lower --rate")


def _num(x: float | None, digits: int = 4):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return None
    return round(float(x), digits)


def _load_warm_start(path: str):
    """Read a previous plan with the same reader as ``cora compile --plan``."""
    from cora.compiler.offload.partition import Plan
    from cora.compiler.offload.split import load_plan_file
    try:
        doc = load_plan_file(path)
    except InputError as exc:
        raise InputError(f"--warm-start: {exc.message}") from None
    doc = doc.get("plan", doc)
    try:
        return Plan.from_json(doc)
    except (KeyError, TypeError, AttributeError, ValueError):
        raise InputError(f"{path}: not a cora plan (expected the output of cora plan --json)") \
            from None


def _models(nic_name: str | None, nic_file: str | None = None):
    """(nic, kernel, user) stage models; ``nic_file``: a user's NIC model TOML.

    Raises:
        InputError: the NIC file cannot be read, is malformed, fails the model check, or
            does not describe a NIC (one line each).
    """
    from pathlib import Path

    from cora.compiler.offload.stage_model import ModelError, available_models, load_model
    if nic_file is not None:
        if not nic_file.endswith(".toml"):
            raise InputError(f"--nic-model {nic_file}: expected a .toml stage-model file")
        try:
            nic = load_model(Path(nic_file))
        except ModelError as exc:
            raise InputError(f"--nic-model: {exc.message}") from None
        if nic.kind != "nic":
            raise InputError(f"--nic-model {nic_file}: kind is {nic.kind!r}, a NIC model "
                             "needs kind = \"nic\"")
    else:
        nic = load_model(str(nic_name))
    kernel = load_model("xdp")
    user = load_model("user") if "user" in available_models() else None
    return nic, kernel, user


def profile_coverage(program, profile) -> dict:
    """How much of ``program`` the profile executed.

    Returns:
        ``{"blocks", "executed_blocks", "ops", "executed_ops", "block_share", "op_share"}``
        (shares in [0, 1]; reachable blocks only).
    """
    order = program.topological_blocks()
    bf = profile.block_freq
    ran = [b for b in order if bf.get(b.label, 0.0) > 0]
    ops = sum(len(b.ops) for b in order)
    ran_ops = sum(len(b.ops) for b in ran)
    return {"blocks": len(order), "executed_blocks": len(ran), "ops": ops,
            "executed_ops": ran_ops, "block_share": len(ran) / max(1, len(order)),
            "op_share": ran_ops / max(1, ops)}


def coverage_warning(cov: dict, source: str) -> str | None:
    """One warning line when the profile left much of the program unexecuted, else None."""
    if min(cov["block_share"], cov["op_share"]) >= COVERAGE_WARN_SHARE:
        return None
    return (f"the profile ({source}) executes {cov['executed_blocks']} of {cov['blocks']} "
            f"blocks ({100 * cov['op_share']:.0f}% of ops): code it never ran weighs nothing "
            "in the plan (frequency 0), so where it lands is arbitrary and packets taking "
            "it in production may cost more than predicted; profile on a capture of the "
            "production traffic (tcpdump -w on the link the NF will serve, long enough to "
            "see every protocol and flow mix) and pass it as --profile")


def parse_sweep(text: str) -> list[float]:
    """``A:B[:STEP]`` -> rates in Mpps: A, the multiples of STEP between A and B, then B.

    Raises:
        UsageError: not of that form, A not below B, a rate below :data:`MIN_RATE_MPPS`,
            STEP not positive, or more than :data:`MAX_SWEEP_POINTS` rates.
    """
    parts = text.split(":")
    bad = UsageError(f"--sweep: expected A:B or A:B:STEP in Mpps (e.g. 1:160), not {text!r}")
    if len(parts) not in (2, 3):
        raise bad
    try:
        nums = [float(x) for x in parts]
    except ValueError:
        raise bad from None
    if not all(math.isfinite(x) for x in nums):
        raise bad
    lo, hi = nums[0], nums[1]
    step = nums[2] if len(nums) == 3 else SWEEP_STEP_MPPS
    if lo < MIN_RATE_MPPS or hi <= lo or step <= 0:
        raise UsageError(f"--sweep {text}: need {MIN_RATE_MPPS:g} <= A < B and STEP > 0")
    if (hi - lo) / step + 2 > MAX_SWEEP_POINTS:
        raise UsageError(f"--sweep {text}: more than {MAX_SWEEP_POINTS} rates; use a larger "
                         "STEP")
    rates = [lo]
    k = math.floor(lo / step) + 1
    while k * step < hi - 1e-9:
        rates.append(k * step)
        k += 1
    rates.append(hi)
    return rates


def _stage_summary(program, plan) -> list[dict]:
    """Per stage: blocks (topological order), op count and NF source lines covered."""
    from cora.compiler.offload.partition import STAGES
    out = []
    order = program.topological_blocks()
    for stage in STAGES:
        blocks = [b for b in order if plan.block_stage.get(b.label) == stage]
        lines = sorted({op.span.line for b in blocks for op in b.ops if op.span is not None})
        out.append({"stage": stage, "blocks": [b.label for b in blocks],
                    "ops": sum(len(b.ops) for b in blocks),
                    "source_lines": _ranges(lines)})
    return out


def _ranges(nums: list[int]) -> str:
    parts, i = [], 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        parts.append(str(nums[i]) if i == j else f"{nums[i]}-{nums[j]}")
        i = j + 1
    return ",".join(parts)


def cmd_plan(args) -> int:
    """Solve the partition, run the baselines, print the plan and the figures."""
    from cora.compiler import compile_file
    from cora.compiler.offload import baselines as bl
    from cora.compiler.offload.partition import PartitionError, Problem, solve_problem
    from cora.compiler.offload.profile import profile_from_frames, synthetic_profile

    sweep = parse_sweep(args.sweep) if args.sweep is not None else None
    if sweep is not None and (args.rate is not None or args.cores is not None):
        raise UsageError("--sweep replaces --rate and --cores; give one of them")
    if args.plot is not None and sweep is None:
        raise UsageError("--plot needs --sweep A:B (it draws the sweep's curves)")
    if sweep is None and args.rate is None and args.cores is None:
        raise UsageError("give a target rate (--rate MPPS), a host core budget (--cores N) "
                         "or a sweep (--sweep A:B)")

    program = compile_file(args.nf)
    warm = _load_warm_start(args.warm_start) if args.warm_start else None
    nic, kernel, user = _models(args.nic, args.nic_model)
    args.nic = nic.name
    coverage = None
    if args.profile:
        from cora.testbed.replay import read_pcap
        frames = read_pcap(args.profile)
        if not frames:
            raise InputError(f"{args.profile}: no frames to profile")
        profile = profile_from_frames(program, frames)
        profile_desc = f"{args.profile}, {profile.packets} frames through the interpreter"
        coverage = profile_coverage(program, profile)
        warning = coverage_warning(coverage, args.profile)
        if warning is not None:
            sys.stderr.write(f"cora: warning: {warning}\n")
    else:
        profile = synthetic_profile(program)
        profile_desc = "synthetic (every branch 50/50)"
    try:
        pb = Problem(program, nic, kernel, user, profile)
    except PartitionError as exc:
        raise CoraError(str(exc)) from None
    if sweep is not None:
        return _sweep(args, program, pb, sweep, profile_desc, coverage)
    res = solve_problem(pb, args.rate, args.cores, args.time_limit, args.workers, warm)
    base = bl.run_baselines(pb, args.rate, args.cores)
    ex = None
    if len(pb.labels) <= EXHAUSTIVE_MAX_BLOCKS:
        ex = bl.exhaustive(pb, args.rate, args.cores, max_leaves=20_000,
                           time_limit_s=min(3.0, args.time_limit),
                           max_groups=EXHAUSTIVE_MAX_GROUPS)
    all_host = base["all_host"].host_cores
    doc = {
        "plan": None if res.plan is None else res.plan.to_json(),
        "host_cores": _num(res.host_cores, 6),
        "nic_utilization": _num(res.nic_utilization, 6),
        "baselines": {k: _num(v.host_cores, 6) for k, v in base.items()},
        "optimal": bool(res.optimal),
        "gap": _num(res.gap, 6),
        "solve_seconds": round(res.solve_seconds, 4),
        "modelled": True,
        "note": "figures predicted by stage models; no NIC hardware on this machine",
        "nf": args.nf, "nic": args.nic, "mode": res.mode,
        "rate_mpps": _num(res.rate_mpps, 6), "cores_budget": args.cores,
        "host_ns_per_packet": _num(res.host_ns_per_packet, 4),
        "nic_ns_per_packet": _num(res.nic_ns_per_packet, 4),
        "status": res.status,
        "infeasible": res.infeasible_reason,
        "user_stage": user is not None,
        "profile": profile_desc,
        "profile_coverage": coverage,
        "nic_path_share": _num(res.nic_path_share, 6),
        "cores_saved_vs_all_host": None if res.host_cores is None or all_host is None
        else _num(all_host - res.host_cores, 6),
        "baseline_details": {k: {"host_cores": _num(v.host_cores, 6),
                                 "nic_utilization": _num(v.nic_utilization, 6),
                                 "rate_mpps": _num(v.rate_mpps, 6),
                                 "host_ns_per_packet": _num(v.host_ns_per_packet, 4),
                                 "nic_ns_per_packet": _num(v.nic_ns_per_packet, 4)}
                             for k, v in base.items()},
        "exhaustive": None if ex is None else {
            "finished": ex.finished, "assignments": ex.assignments, "nodes": ex.nodes,
            "host_cores": _num(ex.host_cores, 6) if ex.finished else None,
            "rate_mpps": _num(ex.rate_mpps, 6) if ex.finished else None,
            "seconds": round(ex.seconds, 3),
            "covers_traffic_splits": not pb.traffic_ok or
            pb.n_buckets + len(pb.heavy_keys) <= EXHAUSTIVE_MAX_GROUPS},
    }
    period = _nic_clock_period(program, pb, res.plan)
    doc["host_clock_period_ns"] = period   # None: no now() on the NIC, or the NIC's own clock
    beyond = beyond_any_host(res.host_cores, res.rate_mpps)
    doc["real_host_feasible"] = res.plan is not None and beyond is None
    if beyond is not None:
        doc["plan"], doc["infeasible"] = None, beyond
    text = dumps(doc, "the plan's figures", indent=1) + "\n"
    if args.out:
        try:
            with open(args.out, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            raise InputError(f"cannot write {args.out}: {exc.strerror}") from None
    if args.json:
        sys.stdout.write(text)
        return 0 if doc["real_host_feasible"] else 1
    if beyond is not None:
        raise CoraError(beyond)
    if res.plan is None:
        raise CoraError(res.infeasible_reason or f"no plan found ({res.status})")
    _print_text(args, program, pb, res, base, ex, doc, user is not None)
    return 0


def _nic_clock_period(program, pb, plan) -> int | None:
    """The NIC model's host-fed clock period (ns) when ``plan`` runs a ``now()`` on the NIC
    (:attr:`cora.compiler.offload.stage_model.StageModel.host_clock_period_ns`), else None."""
    from cora.compiler.offload.partition import NIC
    period = pb.stages[NIC].model.host_clock_period_ns
    if plan is None or period is None:
        return None
    on_nic = any(plan.block_stage.get(b.label) == "nic" and
                 any(op.opcode == "now" for op in b.ops) for b in program.blocks)
    return period if on_nic else None


def _print_text(args, program, pb, res, base, ex, doc, has_user: bool) -> None:
    w = sys.stdout.write
    target = (f"{args.rate:g} Mpps" if args.rate is not None else
              f"the highest rate on {args.cores:g} host cores")
    if args.rate is not None and args.cores is not None:
        target += f" within {args.cores:g} host cores"
    w(f"cora plan: {program.name} on {args.nic} + host, target {target}\n")
    w("MODELLED figures: predicted by the stage models (cora.compiler.offload.stage_model: "
      f"{args.nic}, xdp{', user' if has_user else ''}); there is no NIC hardware here.\n")
    if not has_user:
        w("(no user-space stage model found: the user stage is not used)\n")
    w(f"profile: {doc['profile']}\n\n")
    w("plan (stage of each block, in topological order):\n")
    for s in _stage_summary(program, res.plan):
        if not s["blocks"]:
            continue
        w(f"  {s['stage']:<6} {len(s['blocks']):3d} blocks {s['ops']:4d} ops   NF lines "
          f"{s['source_lines'] or '-'}\n")
        w(f"         {' '.join(s['blocks'])}\n")
    ts = res.plan.traffic
    if ts is None:
        w("traffic: every packet takes the plan above (no flow split)\n")
    else:
        w(f"traffic split on ({', '.join(ts.key_fields)}): {len(ts.nic_buckets)} of "
          f"{ts.n_buckets} flow buckets and {len(ts.heavy_keys)} heavy flows take the NIC "
          f"path ({100 * (res.nic_path_share or 0):.1f}% of packets); the rest run the whole "
          "NF on the host\n")
    w("state:\n")
    for name, places in res.plan.state_place.items():
        desc = ", ".join(f"{st} ({tier})" for st, tier in places)
        kind = pb.states[name].kind
        rep = "" if len(places) < 2 else ("  [counter: a copy per stage, summed]"
                                          if name in pb.merged else "  [read-only, replicated]")
        w(f"  {name:<14} {kind:<12} {pb.state_bytes[name]:>10} bytes  on {desc}{rep}\n")
    if res.plan.shim:
        w("metadata shim per crossing edge (resume block id u16, then registers):\n")
        for e in res.plan.shim:
            regs = ", ".join(f"%{r['name']}:u{r['width']}" for r in e["registers"]) or "-"
            w(f"  {e['from']} -> {e['to']} ({e['from_stage']} -> {e['to_stage']}): "
              f"{e['bytes']} bytes: {regs}\n")
    else:
        w("metadata shim: none (no crossing edge)\n")
    period = doc["host_clock_period_ns"]
    if period is not None:
        w(f"clock: now() on the NIC reads the host-fed clock, written by the host every "
          f"{period / 1e6:g} ms (`cora deploy --plan` starts the feeder): the NIC's time lags "
          f"the host's by up to that\n")
    w("\npredicted (modelled):\n")
    w(f"  host: {res.host_ns_per_packet:.2f} ns/packet, {res.host_cores:.4f} cores at "
      f"{res.rate_mpps:g} Mpps\n")
    w(f"  NIC:  {res.nic_ns_per_packet:.2f} ns/packet, utilisation {res.nic_utilization:.3f}\n")
    w(f"  solver: CP-SAT {res.status}, optimal {'yes' if res.optimal else 'no'}, gap "
      f"{res.gap:.4f}, {res.solve_seconds:.3f} s\n")
    rate = "the rate above" if res.mode == "cores" else "their own highest rate"
    w(f"\nbaselines (same cost model; host cores at {rate}):\n")
    for name, b in base.items():
        if b.host_cores is None:
            w(f"  {name:<14} no feasible plan\n")
            continue
        extra = f", {b.rate_mpps:.3f} Mpps" if res.mode == "rate" else ""
        w(f"  {name:<14} {b.host_cores:.4f} cores, NIC utilisation "
          f"{b.nic_utilization:.3f}{extra}\n")
    if ex is None:
        w(f"  {'exhaustive':<14} not tried ({len(pb.labels)} blocks > "
          f"{EXHAUSTIVE_MAX_BLOCKS})\n")
    elif ex.finished and ex.plan is None:
        w(f"  {'exhaustive':<14} no feasible plan\n")
    elif ex.finished:
        if res.mode == "cores":
            same = abs(ex.host_cores - res.host_cores) < 1e-9
            fig = f"{ex.host_cores:.4f} cores"
        else:
            same = abs(ex.rate_mpps - res.rate_mpps) <= 1e-9 * max(1.0, res.rate_mpps)
            fig = f"{ex.rate_mpps:.3f} Mpps"
        scope = "" if not pb.traffic_ok or \
            pb.n_buckets + len(pb.heavy_keys) <= EXHAUSTIVE_MAX_GROUPS else \
            ", plans without a traffic split only"
        w(f"  {'exhaustive':<14} {fig} (branch and bound: {ex.nodes} nodes, "
          f"{ex.assignments} complete assignments, {ex.seconds:.2f} s{scope})"
          f"{'  = cora' if same else ''}\n")
    else:
        w(f"  {'exhaustive':<14} gave up after {ex.nodes} nodes "
          f"({ex.seconds:.2f} s)\n")
    ah = base["all_host"]
    if res.mode == "cores" and ah.host_cores:
        saved = ah.host_cores - res.host_cores
        w(f"\ncores saved vs all-on-host: {saved:.4f} ({100 * saved / ah.host_cores:.1f}%)\n")
    elif res.mode == "rate" and ah.rate_mpps is not None and ah.rate_mpps < MIN_RATE_MPPS:
        w(f"\nrate vs all-on-host: {res.rate_mpps:.3f} Mpps; all-on-host reaches under "
          f"{MIN_RATE_MPPS:g} Mpps on {args.cores:g} cores\n")
    elif res.mode == "rate" and ah.rate_mpps and math.isfinite(res.rate_mpps):
        w(f"\nrate vs all-on-host: {res.rate_mpps:.3f} vs {ah.rate_mpps:.3f} Mpps "
          f"({100 * (res.rate_mpps / ah.rate_mpps - 1):+.1f}%)\n")


def _sweep(args, program, pb, rates: list[float], profile_desc: str,
           coverage: dict | None) -> int:
    """Print (or --json) host cores of cora and every baseline at each rate; --plot."""
    from cora.compiler.offload import baselines as bl
    from cora.compiler.offload.partition import solve_problem

    rows = []
    for rate in rates:
        res = solve_problem(pb, rate, None, args.time_limit, args.workers, explain=False)
        base = bl.run_baselines(pb, rate)
        row = {"rate_mpps": rate, "cora": _num(res.host_cores, 6),
               "nic_path_share": _num(res.nic_path_share, 4),
               "optimal": bool(res.optimal), "solve_seconds": round(res.solve_seconds, 4)}
        row.update({k: _num(v.host_cores, 6) for k, v in base.items()})
        rows.append(row)
    names = ["cora", *bl.BASELINES]
    if args.plot:
        _plot(args.plot, program.name, args.nic, rows, names)
    doc = {"nf": args.nf, "nic": args.nic, "modelled": True, "profile": profile_desc,
           "profile_coverage": coverage, "sweep": rows,
           "note": "host cores predicted by stage models; no NIC hardware on this machine; "
                   "null: no feasible plan at that rate"}
    if args.json:
        sys.stdout.write(dumps(doc, "the sweep", indent=1) + "\n")
        return 0
    w = sys.stdout.write
    w(f"cora plan --sweep: {program.name} on {args.nic} + host; host cores (MODELLED, stage "
      f"models; no NIC hardware here); profile: {profile_desc}\n")
    w(f"{'Mpps':>8} " + " ".join(f"{n:>13}" for n in names) + f" {'NIC share':>9}\n")
    for r in rows:
        cells = " ".join(f"{'-':>13}" if r[n] is None else f"{r[n]:>13.3f}" for n in names)
        share = "-" if r["nic_path_share"] is None else f"{r['nic_path_share']:.2f}"
        w(f"{r['rate_mpps']:>8g} {cells} {share:>9}\n")
    w("-: no feasible plan at that rate; NIC share: packets taking the NIC path in cora's plan\n")
    if args.plot:
        w(f"plot: {args.plot}\n")
    return 0


def _plot(path: str, nf: str, nic: str, rows: list[dict], names: list[str]) -> None:
    """Host cores vs rate, one line per planner, to ``path`` (PNG, matplotlib Agg)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for n in names:
        pts = [(r["rate_mpps"], r[n]) for r in rows if r[n] is not None]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts],
                    marker="o" if n == "cora" else ".", lw=2.2 if n == "cora" else 1.2,
                    label=n, zorder=3 if n == "cora" else 2)
    ax.set_xlabel("rate (Mpps)")
    ax.set_ylabel("host cores (modelled)")
    ax.set_title(f"{nf} on {nic} + host: host cores vs rate")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=110)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
