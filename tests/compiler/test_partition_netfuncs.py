"""The partitioner on the NF library with the real stage models and a real-capture profile.

Bars (issue 3): cora's plan is never worse than any baseline, equals the exhaustive optimum
where exhaustive search finishes, and is proved optimal (solve times are printed by
bench/partition.py, not asserted here). Every plan is checked independently of the
partitioner's own evaluator: monotone stages on every CFG edge, every state access on the
state's stage (or a replica of read-only state, or one copy per stage of a merged
counter), tier capacities, what each stage can run.
"""

from __future__ import annotations

import glob
from pathlib import Path

import pytest

from cora.compiler.driver import compile_file
from cora.compiler.offload import baselines as bl
from cora.compiler.offload.partition import STAGES, Problem, solve_problem
from cora.compiler.offload.profile import profile_from_frames
from cora.compiler.offload.stage_model import available_models, load_model, state_mem_bytes
from cora.errors import CoraError
from cora.settings import traces_dir
from cora.testbed.replay import read_pcap
from tests.compiler.partition_helpers import EXHAUSTIVE_LIMIT_S, SOLVER
from tests.params import nf_params

ROOT = Path(__file__).resolve().parents[2]
NETFUNCS = sorted(glob.glob(str(ROOT / "netfuncs" / "*.nf")))
TRACES = traces_dir()
# exhaustive search (branch and bound) is run on every NF and must finish on these small ones
EXHAUSTIVE_MUST_FINISH = {"flowcount", "heavyhitter", "ratelimit", "lb"}
RATES = (5, 40, 80)


@pytest.fixture(scope="module")
def trace_frames():
    frames = []
    for f in sorted(TRACES.glob("*.pcap"))[:60]:
        try:
            frames += read_pcap(f)
        except CoraError:       # malformed captures are part of the corpus
            continue
    assert len(frames) > 200
    return frames


@pytest.fixture(scope="module")
def stage_models():
    user = load_model("user") if "user" in available_models() else None
    return {n: load_model(n) for n in ("agilio", "bluefield2")}, load_model("xdp"), user


def check_plan(pb: Problem, plan) -> None:
    """Independent checks of a plan's structure (not via Problem.evaluate)."""
    program = pb.program
    idx = {s: i for i, s in enumerate(STAGES)}
    bs = plan.block_stage
    assert set(bs) == {b.label for b in program.topological_blocks()}
    for b in program.topological_blocks():
        for s in b.successors():
            assert idx[bs[s]] >= idx[bs[b.label]], f"edge {b.label}->{s} goes backwards"
        model = pb.stages[idx[bs[b.label]]].model
        if bs[b.label] == "nic" and b.label in pb.inplace_alt:
            assert bs[pb.inplace_alt[b.label]] == "nic"    # split runs it as that insert
            continue
        # under a heavy-flow split the NIC holds some LRU maps as hash maps
        kinds = pb.nic_kinds if bs[b.label] == "nic" and plan.traffic is not None else None
        for op in b.ops:
            assert model.supports_op(op, program, kinds), \
                f"{op.opcode} in {b.label} on {bs[b.label]}"
            st = op.state
            if st is not None:
                stages = {p[0] for p in plan.state_place[st]}
                assert bs[b.label] in stages, f"{op.opcode} on {st} away from its stage"
    written = {w for _, op in program.ops() for w in op.state_writes()}
    used: dict[tuple[str, str], int] = {}
    for name, places in plan.state_place.items():
        if name in written and name not in pb.merged:
            assert len(places) == 1, f"written state {name} replicated"
        # merged counters (docs/offload.md) keep at most one copy per stage, summed on read
        assert len({stage for stage, _ in places}) == len(places), f"{name}: two copies on a stage"
        for stage, tier in places:
            nbytes = state_mem_bytes(program.state(name))
            if stage == "nic" and plan.traffic is not None and name in pb.partitionable:
                # the NIC holds the entries of its flow groups' flows only
                flows = pb.traffic_figures(plan.traffic)[1]
                nbytes = min(program.state(name).capacity, flows) * pb.entry_bytes[name]
            used[(stage, tier)] = used.get((stage, tier), 0) + nbytes
    for (stage, tier), nbytes in used.items():
        t = pb.stages[idx[stage]].model.tier(tier)
        assert nbytes <= t.mem_bytes, f"{stage} tier {tier} over capacity"
    crossings = {(e["from"], e["to"]) for e in plan.shim}
    assert crossings == {(u, v) for u, v in pb.edges if idx[bs[v]] > idx[bs[u]]}
    for e in plan.shim:
        assert e["bytes"] == 2 + sum(r["bytes"] for r in e["registers"])
        for side in (e["from_stage"], e["to_stage"]):
            assert e["bytes"] <= pb.stages[idx[side]].max_shim


@pytest.mark.slow
@pytest.mark.parametrize("nf", nf_params(NETFUNCS))
def test_library_plans_meet_the_bars(nf, trace_frames, stage_models):
    nics, kernel, user = stage_models
    program = compile_file(nf)
    profile = profile_from_frames(program, trace_frames)
    for nic_name, nic in nics.items():
        pb = Problem(program, nic, kernel, user, profile)
        for rate in RATES:
            res = solve_problem(pb, rate, None, **SOLVER)
            assert res.plan is not None and res.optimal and res.gap == 0, (nic_name, rate)
            check_plan(pb, res.plan)
            assert res.nic_utilization <= 1 + 1e-12
            assert pb.evaluate(res.plan, rate).feasible
            for name, b in bl.run_baselines(pb, rate).items():
                assert b.plan is not None, name        # all_host at least is feasible
                check_plan(pb, b.plan)
                assert res.host_cores <= b.host_cores + 1e-12, (nic_name, rate, name)
            # a known answer where exhaustive search must finish (its leaf limit bounds it);
            # elsewhere it is only compared when it happens to finish
            must = program.name in EXHAUSTIVE_MUST_FINISH
            ex = bl.exhaustive(pb, rate, time_limit_s=EXHAUSTIVE_LIMIT_S if must else 10)
            assert ex.finished or program.name not in EXHAUSTIVE_MUST_FINISH
            if ex.finished:
                check_plan(pb, ex.plan)
                if pb.traffic_ok and pb.n_buckets + len(pb.heavy_keys) > 10:
                    # too many flow groups: exhaustive searched plans without a split only
                    # (from the baselines' plans, which may split): the optimum of that
                    # space, or a baseline below it; cora's plan may beat both
                    ns = solve_problem(pb, rate, None, traffic=False, **SOLVER)
                    assert ex.host_cores <= ns.host_cores + 1e-12, (nic_name, rate)
                    if ex.plan.traffic is None:
                        assert ns.host_cores == pytest.approx(ex.host_cores, abs=1e-12), \
                            (nic_name, rate)
                    assert res.host_cores <= ex.host_cores + 1e-12
                else:
                    assert res.host_cores == pytest.approx(ex.host_cores, abs=1e-12), \
                        (nic_name, rate)
        # rate mode: the highest rate on one host core is at least every baseline's
        res = solve_problem(pb, None, 1.0, **SOLVER)
        assert res.optimal
        check_plan(pb, res.plan)
        for name, b in bl.run_baselines(pb, None, 1.0).items():
            assert res.rate_mpps >= b.rate_mpps - 1e-9, (nic_name, name)


@pytest.mark.parametrize("nf", NETFUNCS, ids=lambda p: Path(p).stem)
def test_costs_agree_with_the_stage_models_prediction(nf, stage_models):
    """All on the host kernel (or all on the NIC) costs what cora.compiler.offload.stage_model
    predicts for the whole program on that stage (docs/offload.md formula), up to the 1e-4 ns
    rounding of each term."""
    from cora.compiler.offload.partition import NIC, UNITS_PER_NS
    from cora.compiler.offload.profile import synthetic_profile
    from cora.compiler.offload.stage_model import predict_ns_per_packet
    nics, kernel, user = stage_models
    program = compile_file(nf)
    prof = synthetic_profile(program)
    tol = 2 * len(program.blocks) / UNITS_PER_NS
    pb = Problem(program, nics["bluefield2"], kernel, user, prof)
    host = bl.complete_host(pb, set())
    assert set(host.values()) == {1}          # the host kernel runs every library NF
    ev = pb.evaluate(pb.make_plan(host))
    assert ev.host_ns_per_packet == pytest.approx(
        predict_ns_per_packet(program, kernel, prof.block_freq), abs=tol)
    nic_plan = pb.make_plan({lab: NIC for lab in pb.labels})
    ev = pb.evaluate(nic_plan)
    assert ev.feasible                        # BlueField-2 holds every library NF
    assert ev.host_units == 0
    tiers = {name: places[0][1] for name, places in nic_plan.state_place.items()}
    assert ev.nic_ns_per_packet == pytest.approx(
        predict_ns_per_packet(program, nics["bluefield2"], prof.block_freq, tiers), abs=tol)
