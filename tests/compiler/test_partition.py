"""The CP-SAT partitioner on hand-made programs whose optimum is counted by hand.

Test models (tests/compiler/partition_helpers.py): every op 1 ns on every stage; per packet
NIC 10 ns (1 core), kernel 20 ns, user 50 ns; crossing into the kernel 5 ns + 0.5 ns/byte.
filter_program on 1 IPv4 + 3 ARP frames: bb0 (2 ops) always, bb1 (11 ops) 25%, bb2 (1 op,
drop) 75%. By hand:
  all on host:  20 + 2 + 0.25*11 + 0.75*1           = 25.5 ns host
  bb0,bb2 NIC:  host 20*0.25 + 0.25*(5 + 0.5*2) + 0.25*11 = 9.25 ns; NIC 10 + 2 + 0.75 = 12.75
  all on NIC:   host 0; NIC 10 + 2 + 2.75 + 0.75     = 15.5 ns
"""

from __future__ import annotations

import pytest

from cora.compiler.offload import baselines as bl
from cora.compiler.offload.partition import (
    KERNEL,
    NIC,
    Plan,
    Problem,
    live_in,
    plan,
    solve_problem,
)
from cora.compiler.offload.profile import profile_from_frames, synthetic_profile
from tests.compiler.partition_helpers import (
    EXHAUSTIVE_LIMIT_S,
    SOLVER,
    filter_program,
    frames,
    models,
    shim_program,
    two_state_program,
)


@pytest.fixture(scope="module")
def filt():
    p = filter_program()
    return p, profile_from_frames(p, frames(1, 3))


@pytest.mark.parametrize("rate, host_ns, nic_ns, stages", [
    (10, 0.0, 15.5, {"bb0": "nic", "bb1": "nic", "bb2": "nic"}),
    (70, 9.25, 12.75, {"bb0": "nic", "bb1": "kernel", "bb2": "nic"}),
    (100, 25.5, 0.0, {"bb0": "kernel", "bb1": "kernel", "bb2": "kernel"}),
])
def test_filter_optimum_by_hand(filt, rate, host_ns, nic_ns, stages):
    p, prof = filt
    res = plan(p, *models(), prof, rate_mpps=rate)
    assert res.optimal and res.gap == 0
    assert res.plan.block_stage == stages
    assert res.host_ns_per_packet == pytest.approx(host_ns)
    assert res.nic_ns_per_packet == pytest.approx(nic_ns)
    assert res.host_cores == pytest.approx(rate * host_ns / 1e3)
    assert res.nic_utilization == pytest.approx(rate * nic_ns / 1e3) and res.nic_utilization <= 1


def test_filter_rate_mode_by_hand(filt):
    # 1 host core: all host 1e3/25.5 = 39.2; split min(1e3/9.25, 1e3/12.75) = 78.43;
    # all NIC 1e3/15.5 = 64.5 Mpps. The split wins.
    p, prof = filt
    res = plan(p, *models(), prof, cores=1)
    assert res.mode == "rate" and res.optimal
    assert res.rate_mpps == pytest.approx(1e3 / 12.75)
    assert res.plan.block_stage == {"bb0": "nic", "bb1": "kernel", "bb2": "nic"}


def test_filter_exhaustive_and_baselines_agree_by_hand(filt):
    p, prof = filt
    pb = Problem(p, *models(), prof)
    for rate, best in ((10, 0.0), (70, 0.6475), (100, 2.55)):
        res = solve_problem(pb, rate, None, **SOLVER)
        ex = bl.exhaustive(pb, rate, time_limit_s=EXHAUSTIVE_LIMIT_S)
        assert ex.finished and ex.host_cores == pytest.approx(best)
        assert res.host_cores == pytest.approx(best)
        for b in bl.run_baselines(pb, rate).values():
            assert b.host_cores is None or b.host_cores >= res.host_cores - 1e-12
    assert bl.all_host(pb, 70).host_cores == pytest.approx(70 * 25.5 / 1e3)


def test_shim_layout_from_liveness():
    p = shim_program()
    live = live_in(p)
    assert [p.regs[r].width for r in live["bb1"]] == [32, 8]
    prof = profile_from_frames(p, frames(1, 3))
    pb = Problem(p, *models(), prof)
    assert pb.shim_bytes["bb1"] == 2 + 4 + 1
    # bb0 4 ops, bb1 4 ops: all NIC 10 + 4 + 0.25*4 + 0.75 = 15.75 ns (> 1 core at 65 Mpps);
    # split: NIC 14.75 ns, host 20*0.25 + 0.25*(5 + 0.5*7) + 0.25*4 = 8.125 ns
    res = solve_problem(pb, 65, None, **SOLVER)
    assert res.host_ns_per_packet == pytest.approx(8.125)
    assert res.plan.block_stage == {"bb0": "nic", "bb1": "kernel", "bb2": "nic"}
    (edge,) = res.plan.shim
    assert (edge["from"], edge["to"], edge["from_stage"], edge["to_stage"]) == \
        ("bb0", "bb1", "nic", "kernel")
    assert [r["bytes"] for r in edge["registers"]] == [4, 1] and edge["bytes"] == 7
    # a 6-byte shim limit forbids that crossing. Keeping bb0, bb1 on the NIC (15 ns) and
    # sending drops to the kernel costs the host 20 + 0.75*(5 + 0.5*2) + 0.75*1 = 25.25 ns
    # plus the pop of the done shim of the 0.25 the NIC passes, 0.25*(5 + 0.5*2) = 1.5:
    # 26.75 ns, more than all on host (25.75), which is the best left (by hand and by
    # exhaustive search)
    nic, kern, user = models(max_shim_bytes=6)
    pb = Problem(p, nic, kern, user, prof)
    stages = {"bb0": NIC, "bb1": NIC, "bb2": KERNEL}
    assert pb.evaluate(pb.make_plan(stages)).host_ns_per_packet == pytest.approx(26.75)
    res = solve_problem(pb, 65, None, **SOLVER)
    assert res.plan.shim == [] and set(res.plan.block_stage.values()) == {"kernel"}
    assert res.host_ns_per_packet == pytest.approx(25.75)
    ex = bl.exhaustive(pb, 65, time_limit_s=EXHAUSTIVE_LIMIT_S)
    assert ex.host_cores == pytest.approx(res.host_cores)


def test_tier_capacity_puts_the_hotter_state_in_the_fast_tier():
    # A: 2 lookups + 1 update, B: 1 lookup + 1 update per packet; 1200 bytes each; the fast
    # tier holds one of them.
    p = two_state_program()
    prof = synthetic_profile(p)
    tiers = (("FAST", 1500, 1.0), ("SLOW", 1 << 20, 50.0))
    nic, kern, user = models(tiers=tiers)
    res = plan(p, nic, kern, user, prof, rate_mpps=1)
    assert res.plan.block_stage == {"bb0": "nic"}
    assert res.plan.state_place == {"A": [("nic", "FAST")], "B": [("nic", "SLOW")]}
    # rate mode optimises NIC time as well: same choice
    res = plan(p, nic, kern, user, prof, cores=0)
    assert res.plan.state_place["A"] == [("nic", "FAST")]


def test_co_location_moves_state_with_its_blocks():
    p = two_state_program()
    prof = synthetic_profile(p)
    res = plan(p, *models(), prof, rate_mpps=200)      # NIC cannot sustain 200 Mpps
    assert res.plan.block_stage == {"bb0": "kernel"}
    assert res.plan.state_place == {"A": [("kernel", "MEM")], "B": [("kernel", "MEM")]}


def test_infeasible_nic_memory_in_words():
    p = two_state_program()
    nic, kern, user = models(tiers=(("ONLY", 2000, 1.0),))   # 2400 bytes needed
    res = plan(p, nic, kern, user, synthetic_profile(p), cores=0)
    assert res.plan is None
    assert "NIC memory" in res.infeasible_reason and "2400 bytes > 2000" in \
        res.infeasible_reason


def test_infeasible_instructions_in_words(filt):
    p, prof = filt
    nic, kern, user = models(max_instructions=4)   # bb0 alone is estimated at 6
    res = plan(p, nic, kern, user, prof, cores=0)
    assert res.plan is None and "instruction limit" in res.infeasible_reason
    # with a host it simply stays on the host
    res = plan(p, nic, kern, user, prof, rate_mpps=10)
    assert set(res.plan.block_stage.values()) == {"kernel"}


def test_infeasible_capability_and_rate_in_words(filt):
    p = two_state_program("lru_hash")
    nic, kern, user = models(map_kinds=["hash", "array"],
                             map_cost_ns={"hash": 0.0, "array": 0.0})
    res = plan(p, nic, kern, user, synthetic_profile(p), cores=0)
    assert res.plan is None and "what the NIC can run" in res.infeasible_reason
    assert "lru_hash" in res.infeasible_reason
    fp, prof = filt
    res = plan(fp, *models(), prof, rate_mpps=100, cores=1)   # host needs 2.55 cores
    assert res.plan is None
    assert "host core budget" in res.infeasible_reason and "2.550 cores > 1" in \
        res.infeasible_reason
    assert "packet rate" in res.infeasible_reason       # or a faster NIC would do


def test_warm_start_hints_and_json_round_trip(filt):
    p, prof = filt
    pb = Problem(p, *models(), prof)
    first = solve_problem(pb, 70, None, **SOLVER)
    again = Plan.from_json(first.plan.to_json())
    assert again.block_stage == first.plan.block_stage
    assert again.state_place == first.plan.state_place
    warm = solve_problem(pb, 70, None, warm_start=again, **SOLVER)
    assert warm.plan.block_stage == first.plan.block_stage and warm.optimal
    # a stale or poor hint (all host) still ends at the optimum
    stale = bl.all_host(pb, 70).plan
    stale.block_stage["gone"] = "nic"
    res = solve_problem(pb, 70, None, warm_start=stale, **SOLVER)
    assert res.host_cores == pytest.approx(first.host_cores)


def test_warm_start_sets_a_hint_for_every_block_and_state(filt):
    from cora.compiler.offload.partition import _Model
    p, prof = filt
    pb = Problem(p, *models(), prof)
    hint = pb.make_plan({"bb0": 0, "bb1": 1, "bb2": 0})
    mdl = _Model(pb, 70, None)
    mdl.hint(hint)
    proto = mdl.m.Proto()
    hinted = dict(zip(proto.solution_hint.vars, proto.solution_hint.values, strict=True))
    for lab, xs in mdl.x.items():
        stage = {"nic": 0, "kernel": 1, "user": 2}[hint.block_stage[lab]]
        for k, var in xs.items():
            assert hinted[var.Index()] == int(k == stage)
    # the hinted plan is the optimum here: the solve returns it
    res = solve_problem(pb, 70, None, warm_start=hint, **SOLVER)
    assert res.plan.block_stage == hint.block_stage


def test_argument_errors(filt):
    p, prof = filt
    with pytest.raises(ValueError):
        plan(p, *models(), prof)
    with pytest.raises(ValueError):
        plan(p, *models(), prof, rate_mpps=-1)


def test_rand_blocks_share_one_stage():
    from tests.compiler.partition_helpers import rand_program
    p = rand_program()
    prof = profile_from_frames(p, frames(1, 3))
    pb = Problem(p, *models(), prof)
    # Without the PRNG rule, bb0+bb2 on the NIC and bb1 on the host would be best at 70 Mpps
    # (as for filter_program); with it the rand blocks go together.
    for rate in (10, 70, 100):
        res = solve_problem(pb, rate, None, **SOLVER)
        assert res.plan.block_stage["bb0"] == res.plan.block_stage["bb1"]
        ex = bl.exhaustive(pb, rate, time_limit_s=EXHAUSTIVE_LIMIT_S)
        assert ex.finished and res.host_cores == pytest.approx(ex.host_cores)
        for b in bl.run_baselines(pb, rate).values():
            assert b.plan.block_stage["bb0"] == b.plan.block_stage["bb1"]
    split = pb.make_plan({"bb0": 0, "bb1": 1, "bb2": 0})
    assert "structure" in pb.evaluate(split, 70).violations


def test_read_only_state_is_replicated_on_every_reading_stage():
    # bb0 5 ops, bb1 11 ops, bb2 1 op; cfg read in bb0 and bb1, never written. At 55 Mpps
    # all on the NIC needs 10 + 5 + 0.25*11 + 0.75 = 18.5 ns (> 1 core); the split needs
    # 15.75 ns on the NIC and 20*0.25 + 0.25*(5 + 0.5*2) + 0.25*11 = 9.25 ns on the host,
    # so bb0 on the NIC and bb1 on the kernel both read cfg: one replica on each.
    from tests.compiler.partition_helpers import readonly_program
    p = readonly_program()
    prof = profile_from_frames(p, frames(1, 3))
    pb = Problem(p, *models(), prof)
    res = solve_problem(pb, 55, None, **SOLVER)
    assert res.plan.block_stage == {"bb0": "nic", "bb1": "kernel", "bb2": "nic"}
    assert res.host_ns_per_packet == pytest.approx(9.25)
    assert sorted(res.plan.state_place["cfg"]) == [("kernel", "MEM"), ("nic", "MEM")]
    js = res.plan.to_json()["states"]["cfg"]
    assert js["read_only"] and js["replicated"]
    ex = bl.exhaustive(pb, 55, time_limit_s=EXHAUSTIVE_LIMIT_S)
    assert ex.host_cores == pytest.approx(res.host_cores)
    # the same split with cfg on the NIC only is refused by the evaluator
    bad = Plan(dict(res.plan.block_stage), {"cfg": [("nic", "MEM")]})
    assert "structure" in pb.evaluate(bad, 55).violations
