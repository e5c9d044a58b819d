"""Traffic-split plans (issue 9 item 1) and the lexicographic max-rate mode (item 3).

Test models (tests/compiler/partition_helpers.py): every op 1 ns, NIC 10 ns per packet on one
core, kernel 20 ns, user 50 ns. flowcount's ``flows`` map is split by flow (its key is the
5-tuple the classifier hashes); its entries are 32 bytes. The flow groups are set by hand on
a synthetic profile: a skewed mix where bucket 1 and one heavy flow carry most packets.
"""

from __future__ import annotations

import json

import pytest

from cora.compiler import compile_file
from cora.compiler.offload import baselines as bl
from cora.compiler.offload.partition import Plan, Problem, plan, solve_problem
from cora.compiler.offload.profile import profile_from_frames, synthetic_profile
from cora.compiler.offload.traffic import FIVE_TUPLE, TrafficSplit
from cora.settings import REPO_ROOT as ROOT
from tests.compiler.partition_helpers import (
    EXHAUSTIVE_LIMIT_S,
    KINDS,
    SOLVER,
    filter_program,
    frames,
    models,
)

FLOWCOUNT = ROOT / "netfuncs" / "flowcount.nf"
HEAVY = (0x0A000001, 0x0A000002, 6, 1234, 80)


def skewed(program, packets, flows, heavy=()):
    """A synthetic profile of ``program`` with flow groups over the 5-tuple:
    ``packets``/``flows`` per bucket, ``heavy`` ((key, packets), ...) inside them."""
    prof = synthetic_profile(program)
    prof.key_fields = FIVE_TUPLE
    prof.bucket_packets = [float(p) for p in packets]
    prof.bucket_flows = list(flows)
    prof.heavy_flows = list(heavy)
    prof.n_buckets = len(packets)
    prof.keyless_packets = 0.0
    return prof


def flow_bucket(key, n_buckets: int) -> int:
    """The bucket of a 5-tuple key (values) among ``n_buckets``."""
    return TrafficSplit(FIVE_TUPLE, n_buckets).bucket(key)


@pytest.fixture(scope="module")
def flowcount():
    return compile_file(str(FLOWCOUNT))


def _small_nic(entries: int):
    """Test models whose NIC (4 cores) memory holds ``entries`` flowcount entries (32 bytes
    each)."""
    return models(cores=4, tiers=(("MEM", entries * 32, 0.0),))


def _four_bucket_profile(program):
    b = flow_bucket(HEAVY, 4)
    packets = [5.0, 5.0, 5.0, 5.0]
    packets[b] += 60.0                      # the heavy flow
    packets[(b + 1) % 4] += 20.0            # a hot bucket of many small flows
    flows = [40, 40, 40, 40]
    return skewed(program, packets, flows, [(HEAVY, 60.0)])


def test_skewed_profile_chooses_a_traffic_split_that_beats_every_baseline(flowcount):
    # NIC memory for 60 flows: the whole map (65,536 entries) does not fit, so without a
    # split nothing touching it can be offloaded; hash-order buckets (Cora's traffic-based
    # split) fit one bucket; cora takes the hot bucket and the heavy flow.
    prof = _four_bucket_profile(flowcount)
    pb = Problem(flowcount, *_small_nic(60), prof)
    res = solve_problem(pb, 20, None, **SOLVER)
    assert res.optimal and res.gap == 0
    ts = res.plan.traffic
    assert ts is not None and HEAVY in ts.heavy_keys
    assert 0 < res.nic_path_share < 1
    base = bl.run_baselines(pb, 20)
    best = min(b.host_cores for b in base.values() if b.host_cores is not None)
    # strictly better than every baseline; by little here, since the frames the NIC ends
    # with pass still run the host's program (its per-packet cost and the done shim's pop)
    # and flowcount's own work per frame is small next to that
    assert res.host_cores < 0.97 * best, (res.host_cores, {k: v.host_cores
                                                           for k, v in base.items()})
    # the evaluation of the extracted plan is the solver's figure
    ev = pb.evaluate(res.plan, 20)
    assert ev.feasible and ev.host_ns_per_packet == pytest.approx(res.host_ns_per_packet)


def test_plan_json_round_trip_keeps_the_split(flowcount):
    pb = Problem(flowcount, *_small_nic(60), _four_bucket_profile(flowcount))
    res = solve_problem(pb, 20, None, **SOLVER)
    doc = json.loads(json.dumps(res.plan.to_json()))
    again = Plan.from_json(doc)
    assert again.traffic == res.plan.traffic
    assert pb.evaluate(again, 20).host_units == pb.evaluate(res.plan, 20).host_units


def test_above_nic_saturation_part_of_the_traffic_goes_to_the_host(flowcount):
    # Memory is plentiful and the NIC's hash map calls are dear (1 us): the NIC (one core)
    # saturates. Just past that point the plan keeps the NIC busy with half
    # the flows instead of jumping to all-on-host, and beats every plan without a split.
    prof = skewed(flowcount, [25.0] * 4, [10] * 4)
    pb = Problem(flowcount, *models(map_cost_ns={k: 1000.0 if k == "hash" else 0.0
                                                 for k in KINDS}), prof)
    all_nic = solve_problem(pb, 1, None, **SOLVER)
    assert all_nic.host_cores == 0 and all_nic.plan.traffic is None
    rate = 1.05 * 1e3 / all_nic.nic_ns_per_packet           # 5% above NIC saturation
    res = solve_problem(pb, rate, None, **SOLVER)
    no_split = solve_problem(pb, rate, None, traffic=False, **SOLVER)
    ah = bl.all_host(pb, rate).host_cores
    assert res.plan.traffic is not None and 0 < res.nic_path_share < 1
    assert res.host_cores < no_split.host_cores
    # (the NIC-path frames still run the host's program: per-packet cost and done shim)
    assert 0 < res.host_cores < ah
    assert res.nic_utilization <= 1 + 1e-9


@pytest.mark.parametrize("rate", [5, 20, 40, 60, 90])
def test_traffic_plans_equal_the_exhaustive_optimum(flowcount, rate):
    # two buckets and one heavy flow: exhaustive enumerates every subset (8) at every
    # monotone block assignment
    b = flow_bucket(HEAVY, 2)
    packets, flows = [10.0, 10.0], [30, 30]
    packets[b] += 70.0
    prof = skewed(flowcount, packets, flows, [(HEAVY, 70.0)])
    pb = Problem(flowcount, *_small_nic(31), prof)
    res = solve_problem(pb, rate, None, **SOLVER)
    ex = bl.exhaustive(pb, rate, None, time_limit_s=EXHAUSTIVE_LIMIT_S)
    assert ex.finished
    assert (res.host_cores is None) == (ex.host_cores is None)
    if res.host_cores is not None:
        assert res.optimal
        assert pb.evaluate(res.plan, rate).host_units == pb.evaluate(ex.plan, rate).host_units


def test_exhaustive_covers_the_split_space(flowcount):
    # the plan exhaustive finds at 20 Mpps is itself a split (it searched the flow groups)
    b = flow_bucket(HEAVY, 2)
    packets = [10.0, 10.0]
    packets[b] += 70.0
    prof = skewed(flowcount, packets, [30, 30], [(HEAVY, 70.0)])
    pb = Problem(flowcount, *_small_nic(20), prof)      # no bucket (30 flows) fits
    ex = bl.exhaustive(pb, 20, None, time_limit_s=EXHAUSTIVE_LIMIT_S)
    assert ex.finished and ex.plan.traffic is not None
    assert ex.plan.traffic.heavy_keys == (HEAVY,)


def test_no_flow_groups_no_split(flowcount):
    prof = synthetic_profile(flowcount)
    prof.bucket_packets, prof.bucket_flows = [], []
    pb = Problem(flowcount, *models(), prof)
    assert not pb.traffic_ok
    res = solve_problem(pb, 150, None, **SOLVER)
    assert res.plan.traffic is None


def test_max_rate_is_lexicographic():
    # filter_program, 2 host cores: all on host reaches 2e3/25.5 = 78.43 Mpps and so does
    # the split bb0,bb2 on the NIC (NIC-bound 1e3/12.75 = 78.43 Mpps) with 9.25 host ns
    # instead of 25.5: the rate ties, the second solve takes the fewer host cores.
    p = filter_program()
    prof = profile_from_frames(p, frames(1, 3))
    res = plan(p, *models(), prof, cores=2, **SOLVER)
    assert res.mode == "rate" and res.optimal
    assert res.rate_mpps == pytest.approx(1e3 / 12.75)
    assert res.host_ns_per_packet == pytest.approx(9.25)
    assert res.host_cores == pytest.approx(res.rate_mpps * 9.25 / 1e3)
    pb = Problem(p, *models(), prof)
    ex = bl.exhaustive(pb, None, 2, time_limit_s=EXHAUSTIVE_LIMIT_S)
    assert ex.finished and ex.rate_mpps == pytest.approx(res.rate_mpps)
    assert ex.host_cores == pytest.approx(res.host_cores)


@pytest.mark.parametrize("cores", [0.5, 1, 3])
def test_max_rate_with_traffic_equals_exhaustive(flowcount, cores):
    b = flow_bucket(HEAVY, 2)
    packets = [10.0, 10.0]
    packets[b] += 70.0
    prof = skewed(flowcount, packets, [30, 30], [(HEAVY, 70.0)])
    pb = Problem(flowcount, *_small_nic(31), prof)
    res = solve_problem(pb, None, cores, **SOLVER)
    ex = bl.exhaustive(pb, None, cores, time_limit_s=EXHAUSTIVE_LIMIT_S)
    assert ex.finished and res.optimal
    assert res.rate_mpps == pytest.approx(ex.rate_mpps)
    assert res.host_cores == pytest.approx(ex.host_cores)


def test_alike_buckets_as_one_class_stay_exact(flowcount):
    # three alike buckets (one integer variable in the model) and one different: CP-SAT's
    # optimum equals exhaustive's over all 16 subsets
    prof = skewed(flowcount, [30.0, 30.0, 30.0, 10.0], [10, 10, 10, 2])
    pb = Problem(flowcount, *models(cores=2, map_cost_ns={k: 100.0 if k == "hash" else 0.0
                                                          for k in KINDS},
                                    tiers=(("MEM", 25 * 32, 0.0),)), prof)
    res = solve_problem(pb, 45, None, **SOLVER)
    ex = bl.exhaustive(pb, 45, None, time_limit_s=EXHAUSTIVE_LIMIT_S)
    assert ex.finished and res.optimal
    assert pb.evaluate(res.plan, 45).host_units == pb.evaluate(ex.plan, 45).host_units
