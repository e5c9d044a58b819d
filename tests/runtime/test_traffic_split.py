"""Issue 9 item 1 (split side): plans with a traffic split stay equivalent to the whole NF.

For every NF in netfuncs/ and every capture of the corpus (``CORA_TRACES``), the stages of a
traffic-split NF (flow classifier + NIC part of the cut on ``nic``; the whole NF for host-path
packets and the rest of the cut for NIC-path packets on ``kernel``), run in sequence in the
interpreter, give the same verdict and output frame on every frame as the unsplit NF, and the
union of the NIC and host copies of every partitionable map (and every other map) equals the
whole NF's state after each capture. Bucket sets: none, all, the even buckets, and the even
buckets plus the corpus' heaviest flows as exact keys.
"""

from __future__ import annotations

from collections import Counter

import pytest

from cora.compiler.driver import compile_file
from cora.compiler.ir import SHIM_DONE
from cora.compiler.offload.split import (
    BUCKETS_STATE,
    HEAVY_STATE,
    HOST_PATH_RESUME,
    SplitError,
    cut_plan,
    split,
)
from cora.compiler.offload.traffic import (
    TrafficSplit,
    classifier_key,
    partitionable_state,
)
from cora.runtime.engine import InterpEngine
from tests.params import nf_params

from .split_helpers import N_BUCKETS, NFS, REPO, corpus, heaviest_keys, traffic_cuts, traffic_splits
from .split_helpers import compare as _compare


def test_flowcount_split_layout():
    program = compile_file(str(REPO / "netfuncs" / "flowcount.nf"))
    t = TrafficSplit(classifier_key(program).fields, N_BUCKETS, frozenset({3}), ((1, 2, 3, 4, 6),))
    all_nic = dict(cut_plan(program, 10_000), traffic=t.to_json())
    nic, kernel = split(program, all_nic).stages
    assert (nic.stage, kernel.stage) == ("nic", "kernel")
    assert nic.owned_states == ["flows"] and kernel.host_copies == ["flows"]
    assert nic.classifier_states == [BUCKETS_STATE, HEAVY_STATE]
    # the kernel stage holds the whole NF: every block of the program, resumable at the entry
    labels = {b.label for b in kernel.program.blocks}
    assert {b.label for b in program.topological_blocks()} <= labels
    assert kernel.resumes[program.blocks[0].label] == HOST_PATH_RESUME
    decl = {s.name: s for s in nic.program.states}
    assert decl[BUCKETS_STATE].init == (((3,), (1,)),)
    assert decl[HEAVY_STATE].init == (((1, 2, 3, 4, 6), (1,)),)


def test_the_classifier_fits_both_nic_models():
    from cora.compiler.offload.split import classifier_program, nic_stage_problems
    from cora.compiler.offload.stage_model import load_model

    for nf in NFS:
        program = compile_file(nf)
        t = TrafficSplit(classifier_key(program).fields, 256, frozenset({1}), heavy_capacity=4096)
        cls = classifier_program(program, t)
        ops = {op.opcode for _, op in cls.ops()}
        assert {"mul", "map.lookup", "shim.push"} <= ops and "hash" not in ops
        result = split(program, {"blocks": {b.label: "kernel" for b in program.blocks},
                                 "states": {}, "shim": [], "traffic": t.to_json()})
        for nic in ("agilio", "bluefield2"):
            assert nic_stage_problems(result, load_model(nic)) == [], (nf, nic)


def test_unpartitionable_written_state_refused_on_the_nic():
    program = compile_file(str(REPO / "netfuncs" / "heavyhitter.nf"))
    t = TrafficSplit(("ipv4.saddr",), N_BUCKETS)
    assert partitionable_state(program, t.key_fields) == {"heavy"}
    with pytest.raises(SplitError, match="sketch .* not partitionable"):
        split(program, dict(cut_plan(program, 10_000), traffic=t.to_json()))
    three = {"blocks": {b.label: "user" for b in program.blocks}, "states": {}, "shim": [],
             "traffic": t.to_json()}
    with pytest.raises(SplitError, match="nic and kernel only"):
        split(program, three)
    with pytest.raises(SplitError, match="traffic split"):
        split(program, dict(cut_plan(program, 0), traffic={"key_fields": ["ipv4.x"],
                                                           "n_buckets": 16}))


def test_ir_classifier_agrees_with_the_profile_hash():
    """The NIC stage (classifier in IR, run by the interpreter) sends exactly the frames
    TrafficSplit.frame_path (Python) calls "host" to the host with resume id 0."""
    program = compile_file(str(REPO / "netfuncs" / "flowcount.nf"))
    fields = classifier_key(program).fields
    for t in (TrafficSplit(fields, N_BUCKETS, frozenset({0, 5, 9})),
              TrafficSplit(fields, 1, frozenset(), heaviest_keys(str(REPO / "netfuncs" /
                                                                 "flowcount.nf")))):
        nic = split(program, dict(cut_plan(program, 10_000), traffic=t.to_json())).stages[0]
        eng = InterpEngine(nic.program)
        seen = Counter()
        for _, frames in corpus():
            for ts, f in frames[:200]:
                if len(f) < 14:
                    continue
                out = eng.run(f, ts)
                resume = int.from_bytes(out.frame[:2], "big")
                path = "host" if resume == HOST_PATH_RESUME else "nic"
                assert resume in (HOST_PATH_RESUME, SHIM_DONE)
                assert path == t.frame_path(f), (t, f.hex())
                seen[path] += 1
        assert seen["host"] and seen["nic"], seen


@pytest.mark.slow
@pytest.mark.parametrize("nf", nf_params(NFS))
def test_traffic_split_equals_the_whole_nf(nf):
    program = compile_file(nf)
    total = 0
    for traffic in traffic_splits(nf):
        for plan in traffic_cuts(program, traffic):
            n, bad = _compare(nf, plan, "interp")
            total += n
            assert not bad, (sorted(traffic.nic_buckets), bad[:3])
    assert total >= 2500 * len(traffic_splits(nf))


def test_compile_plan_with_a_traffic_split(tmp_path):
    import json

    from .cli_run import cora, one_line_error

    program = compile_file(str(REPO / "netfuncs" / "flowcount.nf"))
    t = TrafficSplit(classifier_key(program).fields, N_BUCKETS, frozenset({2}))
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"plan": dict(cut_plan(program, 10_000), traffic=t.to_json())}))
    out = tmp_path / "out"
    cora("compile", REPO / "netfuncs" / "flowcount.nf", "--plan", plan, "-o", out, check=True)
    layout = json.loads((out / "shim.json").read_text())
    assert TrafficSplit.from_json(layout["traffic"]) == t
    assert layout["host_path_resume_id"] == HOST_PATH_RESUME
    assert [s["host_copies"] for s in layout["stages"]] == [[], ["flows"]]
    assert BUCKETS_STATE in (out / "nic.c").read_text()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(dict(cut_plan(program, 0), traffic={"key_fields": ["ipv4.saddr"],
                                                                  "n_buckets": 3})))
    err = one_line_error(cora("compile", REPO / "netfuncs" / "flowcount.nf", "--plan", bad,
                              "-o", tmp_path / "o2"))
    assert "power of two" in err and len(err.strip().splitlines()) == 1
