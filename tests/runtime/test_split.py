"""Issue 3, "Split programs are equivalent to the whole": for every NF in netfuncs/ and every
capture of the trace corpus (``CORA_TRACES``), the stages of a split NF run in sequence give
the same verdict and output bytes on every frame, and the same state (the union of the
stages' maps) after every capture, as the interpreter on the unsplit NF.

Plans: those the partitioner produces (agilio and bluefield2 at 2 and 10 Mpps, synthetic
profile), and forced cut plans (a topological order of the blocks cut after block i: nic |
kernel, kernel | user, and nic | kernel | user).
- every valid nic | kernel cut of every NF and four three-stage cuts, stages run in the
  interpreter (checks the split: shim push/pop, resume dispatch, done shims, state
  placement) -- fast;
- per NF, the partitioner's multi-stage plans, one nic | kernel cut and one three-stage cut
  with the nic and kernel stages as real XDP programs (BPF_PROG_TEST_RUN) and the user stage
  in the interpreter -- checks the generated C of the shim ops.
State is reset between captures, as a fresh `cora run` starts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cora.compiler.driver import compile_file
from cora.compiler.ir.text import parse_program, print_program
from cora.compiler.ir.verify import verify
from cora.compiler.offload.split import SplitError, cut_plan, nic_stage_problems, split
from tests.params import nf_params

from .split_helpers import NFS, REPO, TRACES
from .split_helpers import compare as _compare


def _valid_cuts(program, stages=("nic", "kernel")) -> list[int]:
    cuts = []
    for i in range(1, len(program.topological_blocks())):
        try:
            r = split(program, cut_plan(program, i, stages))
        except SplitError:
            continue
        if len(r.stages) == 2:
            cuts.append(i)
    return cuts


def _three_stage_plans(program, limit: int) -> list[dict]:
    order = [b.label for b in program.topological_blocks()]
    plans = []
    for i in range(1, len(order) - 1):
        for j in range(i + 1, len(order)):
            plan = {"blocks": {lab: "nic" if k < i else "kernel" if k < j else "user"
                               for k, lab in enumerate(order)}, "states": {}, "shim": []}
            try:
                if len(split(program, plan).stages) == 3:
                    plans.append(plan)
            except SplitError:
                continue
            if len(plans) >= limit:
                return plans
    return plans


def _planner_plans(program) -> list[dict]:
    """The partitioner's plans for agilio and bluefield2 at 2 and 10 Mpps (distinct)."""
    from cora.compiler.offload.partition import Problem, solve_problem
    from cora.compiler.offload.profile import synthetic_profile
    from cora.compiler.offload.stage_model import load_model

    kernel, user = load_model("xdp"), load_model("user")
    profile = synthetic_profile(program)
    seen, out = set(), []
    for nic in ("agilio", "bluefield2"):
        pb = Problem(program, load_model(nic), kernel, user, profile)
        for rate in (2.0, 10.0):
            res = solve_problem(pb, rate, None, 2.0, 2, None)
            assert res.plan is not None, (program.name, nic, rate, res.infeasible_reason)
            key = tuple(sorted(res.plan.block_stage.items()))
            if key not in seen:
                seen.add(key)
                out.append(res.plan.to_json())
    return out


def test_the_corpus_is_there():
    assert len(TRACES) >= 200
    assert len(NFS) >= 7


def test_stage_programs_round_trip_and_verify():
    program = compile_file(str(REPO / "netfuncs" / "lb.nf"))
    for i in _valid_cuts(program)[:3]:
        for st in split(program, cut_plan(program, i)).stages:
            text = print_program(st.program)
            again = parse_program(text)
            verify(again)
            assert print_program(again) == text
            ops = [op.opcode for b in st.program.blocks for op in b.ops]
            assert ("shim.pop" in ops) == (not st.first)
            assert ("shim.push" in ops) == (not st.final)


@pytest.mark.slow
def test_bad_plans_are_refused():
    program = compile_file(str(REPO / "netfuncs" / "lb.nf"))
    order = [b.label for b in program.topological_blocks()]
    back = {lab: "kernel" for lab in order}
    back[order[-1]] = "nic"
    with pytest.raises(SplitError, match="goes back"):
        split(program, {"blocks": back, "states": {}, "shim": []})
    missing = {lab: "kernel" for lab in order[1:]}
    with pytest.raises(SplitError, match="no stage for block"):
        split(program, {"blocks": missing, "states": {}, "shim": []})
    bad_cuts = [i for i in range(1, len(order)) if i not in _valid_cuts(program)]
    assert bad_cuts, "lb has cuts that split a written state"
    with pytest.raises(SplitError):
        split(program, cut_plan(program, bad_cuts[0]))


def test_single_stage_plan_is_the_whole_program():
    program = compile_file(str(REPO / "netfuncs" / "flowcount.nf"))
    for stage in ("nic", "kernel", "user"):
        plan = {"blocks": {b.label: stage for b in program.blocks}, "states": {}, "shim": []}
        (only,) = split(program, plan).stages
        assert only.first and only.final and only.stage == stage
        assert [b.label for b in only.program.blocks] == \
            [b.label for b in program.blocks if b in program.topological_blocks()]
        assert not any(op.opcode.startswith("shim.") for _, op in only.program.ops())


def test_nic_stage_checked_against_its_model():
    from cora.compiler.offload.stage_model import load_model

    program = compile_file(str(REPO / "netfuncs" / "lb.nf"))
    all_nic = {"blocks": {b.label: "nic" for b in program.blocks}, "states": {}, "shim": []}
    result = split(program, all_nic)
    assert nic_stage_problems(result, load_model("bluefield2")) == []
    agilio = nic_stage_problems(result, load_model("agilio"))
    assert any("lru_hash conns" in p for p in agilio), agilio   # Agilio: array/hash only
    kernel_only = split(program, {"blocks": {b.label: "kernel" for b in program.blocks},
                                  "states": {}, "shim": []})
    assert nic_stage_problems(kernel_only, load_model("agilio")) == []


@pytest.mark.slow
@pytest.mark.parametrize("nf", nf_params(NFS))
def test_every_cut_in_the_interpreter(nf):
    program = compile_file(nf)
    # (kernel | user cuts split exactly as nic | kernel ones: in the interpreter they would
    # repeat the same runs; the kernel test below runs a user stage)
    plans = [cut_plan(program, i) for i in _valid_cuts(program)]
    plans += _three_stage_plans(program, limit=4)
    plans += [p for p in _planner_plans(program) if len(split(program, p).stages) > 1]
    assert len(plans) >= 3, f"{nf}: too few valid cuts to test"
    total = 0
    for plan in plans:
        n, bad = _compare(nf, plan, "interp")
        total += n
        assert not bad, (sorted(set(plan["blocks"].values())), bad[:3])
    assert total >= 2500 * len(plans)


@pytest.mark.kernel
@pytest.mark.slow
@pytest.mark.parametrize("nf", NFS, ids=lambda p: Path(p).stem)
def test_stages_in_the_kernel(nf, bcc_module):
    program = compile_file(nf)
    plans = [p for p in _planner_plans(program) if len(split(program, p).stages) > 1]
    cuts = _valid_cuts(program)
    assert cuts, f"{nf}: no valid nic|kernel cut"
    plans.append(cut_plan(program, cuts[len(cuts) // 2]))
    plans += _three_stage_plans(program, limit=1)
    for plan in plans:
        n, bad = _compare(nf, plan, "kernel")
        assert not bad, (sorted(set(plan["blocks"].values())), bad[:3])
        assert n > 2500


def test_merged_counter_has_a_copy_per_stage():
    """A counter the NF only adds to (firewall's ``drops``) may be added to on two stages:
    each stage holds its own copy and the NF's counter is their sum (as a percpu_array's is
    the sum over CPUs); the stages agree with the whole NF on every frame and on the summed
    counter after every capture (interpreter)."""
    from cora.compiler.offload.stage_model import mergeable_counters

    nf = str(REPO / "netfuncs" / "firewall.nf")
    program = compile_file(nf)
    assert mergeable_counters(program) == ["drops"]
    both = []
    for i in _valid_cuts(program):
        result = split(program, cut_plan(program, i))
        copies = [st.counter_copies for st in result.stages]
        if copies == [["drops"], ["drops"]]:
            both.append(i)
            nic, kernel = result.stages
            assert "drops" not in nic.owned_states + kernel.owned_states
            assert any(op.opcode == "atomic_add" for _, op in nic.program.ops())
    assert both, "no cut puts drops on both stages"
    # the early cuts: only the drop counter on the NIC (conns, an lru_map, stays on the host),
    # which is what an Agilio can hold
    early = split(program, cut_plan(program, both[0])).stages[0]
    assert [s.name for s in early.program.states] == ["drops"]
    # one cut: the stages agree with the whole NF (frames and summed counters)
    n, bad = _compare(nf, cut_plan(program, both[0]), "interp")
    assert not bad, bad[:3]
    assert n > 2500


def test_a_counter_that_is_read_stays_on_one_stage():
    """A state the NF reads (flowcount's ``flows``: presence and values) is never split
    into copies: a cut through its accessors is refused."""
    program = compile_file(str(REPO / "netfuncs" / "flowcount.nf"))
    for i in range(1, len(program.topological_blocks())):
        try:
            result = split(program, cut_plan(program, i))
        except SplitError as exc:
            assert "several stages" in str(exc) or "reference" in str(exc), exc
            continue
        assert all(not st.counter_copies for st in result.stages)
