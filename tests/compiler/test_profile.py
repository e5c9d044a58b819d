"""Traffic profiles: block/edge counts from the interpreter and the synthetic profile."""

from __future__ import annotations

import glob
from pathlib import Path

import pytest

from cora.compiler.driver import compile_file
from cora.compiler.interp import CountingInterpreter, Interpreter
from cora.compiler.offload.profile import profile_from_frames, synthetic_profile
from tests.compiler.ir_examples import flowcount_ir
from tests.compiler.partition_helpers import filter_program, frames

NETFUNCS = sorted(glob.glob(str(Path(__file__).resolve().parents[2] / "netfuncs" / "*.nf")))


def _conservation(program, prof):
    """Every block's count = sum of its in-edges (entry: packets) = sum of out-edges
    (unless it returns)."""
    bc, ec = prof.block_count, prof.edge_count
    order = program.topological_blocks()
    entry = order[0].label
    assert bc.get(entry, 0) == pytest.approx(prof.packets_basis)
    for b in order:
        n = bc.get(b.label, 0)
        if b.label != entry:
            assert n == pytest.approx(sum(v for (x, y), v in ec.items() if y == b.label))
        if b.successors():
            assert n == pytest.approx(sum(v for (x, y), v in ec.items() if x == b.label))


def test_filter_counts_known_by_hand():
    p = filter_program()
    prof = profile_from_frames(p, frames(1, 3))
    assert prof.packets == 4
    assert prof.block_freq == {"bb0": 1.0, "bb1": 0.25, "bb2": 0.75}
    assert prof.edge_freq == {("bb0", "bb1"): 0.25, ("bb0", "bb2"): 0.75}
    _conservation(p, prof)


def test_flowcount_state_access_counts():
    p = flowcount_ir()
    # 3 IPv4/UDP frames: the first inserts (lookup + update), the next two update in place
    # (lookup + 2 ref.load + 2 ref.store, plus ref.found). 1 ARP frame touches nothing.
    prof = profile_from_frames(p, [(i, f) for i, f in enumerate(frames(3, 1))])
    ops = {"map.lookup": 3, "ref.found": 3, "map.update": 1, "ref.load": 4, "ref.store": 4}
    assert prof.state_count["flows"] == sum(ops.values())
    assert prof.state_access["flows"] == pytest.approx(sum(ops.values()) / 4)
    _conservation(p, prof)


def test_counting_interpreter_runs_exactly_as_the_reference():
    p = compile_file(NETFUNCS[0])
    fr = frames(5, 2)
    plain, counted = Interpreter(p), CountingInterpreter(p)
    for i, f in enumerate(fr):
        a, b = plain.run(f, now_ns=i), counted.run(f, now_ns=i)
        assert (a.verdict, a.port, a.frame, a.touched) == (b.verdict, b.port, b.frame, b.touched)
    assert plain.dump_state() == counted.dump_state()


@pytest.mark.parametrize("nf", NETFUNCS, ids=lambda p: Path(p).stem)
def test_netfuncs_profiles_conserve_packets(nf):
    p = compile_file(nf)
    prof = profile_from_frames(p, frames(4, 2))
    _conservation(p, prof)
    assert all(0 <= f <= 1 for f in prof.block_freq.values())
    syn = synthetic_profile(p)
    _conservation(p, syn)
    # the returning blocks' frequencies sum to 1 (every packet ends exactly once)
    rets = [b.label for b in p.topological_blocks() if not b.successors()]
    assert sum(syn.block_freq.get(r, 0) for r in rets) == pytest.approx(1.0)
    assert sum(prof.block_freq.get(r, 0) for r in rets) == pytest.approx(1.0)


def test_synthetic_profile_splits_branches_evenly():
    prof = synthetic_profile(filter_program())
    assert prof.block_freq == {"bb0": 1.0, "bb1": 0.5, "bb2": 0.5}
    assert prof.source == "synthetic"
    js = prof.to_json()
    assert js["edge_freq"] == {"bb0->bb1": 0.5, "bb0->bb2": 0.5}
