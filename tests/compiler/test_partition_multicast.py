"""`cora plan` with NFs that multicast (``mcast G`` on a ``devmap`` group): the stage models'
``multicast`` capability. Host kernel XDP and BlueField-2 (Linux XDP on its Arm cores) hold
devmaps and multicast; the Agilio refuses it with the nfp reason, so its plans keep the
multicast blocks and groups on the host."""

from __future__ import annotations

from pathlib import Path

import pytest

from cora.compiler.driver import compile_file
from cora.compiler.offload.nic_checks import unsupported
from cora.compiler.offload.partition import Problem, solve_problem
from cora.compiler.offload.profile import profile_from_frames, synthetic_profile
from cora.compiler.offload.split import split
from cora.compiler.offload.stage_model import ModelError, load_model, model_from_dict
from cora.runtime.engine import InterpEngine
from cora.runtime.stages import StagePipeline

REPO = Path(__file__).resolve().parents[2]
MULTICAST = str(REPO / "tests" / "targets" / "nf" / "multicast.nf")


@pytest.fixture(scope="module")
def program():
    return compile_file(MULTICAST)


def _mcast_blocks(program) -> set[str]:
    return {b.label for b in program.blocks if any(op.opcode == "mcast" for op in b.ops)}


def _frames() -> list[bytes]:
    """UDP to ports 9-13 (both multicast arms, redirect, drop, default multicast) and ARP."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import ARP, Ether

    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    out = [bytes(eth / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1000 + i, dport=port))
           for i, port in enumerate([9, 10, 11, 12, 13, 9, 10, 14] * 4)]
    out.append(bytes(eth / ARP()))
    return [f.ljust(64, b"\0") for f in out]


def test_capability_per_model(program):
    xdp, bf2, agilio = load_model("xdp"), load_model("bluefield2"), load_model("agilio")
    assert xdp.multicast and bf2.multicast and not agilio.multicast
    assert xdp.holds_kind("devmap") and not agilio.holds_kind("devmap")
    for m in (xdp, bf2, agilio):
        assert m.source_of("multicast")                 # every capability has a source
    mcast = [op for b in program.blocks for op in b.ops if op.opcode == "mcast"]
    assert mcast and all(xdp.supports_op(op, program) for op in mcast)
    assert not any(agilio.supports_op(op, program) for op in mcast)
    # charged as one helper call (bpf_redirect_map)
    assert xdp.op_ns(mcast[0]) == xdp.op_cost_ns["helper"]


def test_agilio_refuses_multicast_with_the_reason(program):
    reasons = unsupported(program, "agilio", _mcast_blocks(program))
    assert any("multicast(workers)" in r and "devmap" in r for r in reasons), reasons
    assert not any("multicast(" in r for r in unsupported(program, "bluefield2"))


def test_a_model_claiming_multicast_needs_a_source():
    data = dict(__import__("tomllib").loads(
        (REPO / "compiler" / "offload" / "models" / "xdp.toml").read_text()))
    data["sources"] = {k: v for k, v in data["sources"].items() if k != "multicast"}
    with pytest.raises(ModelError, match="multicast"):
        model_from_dict(data, "mine.toml")


@pytest.mark.parametrize("nic", ["agilio", "bluefield2"])
def test_plan_places_multicast_blocks_where_they_can_run(program, nic):
    pb = Problem(program, load_model(nic), load_model("xdp"), load_model("user"),
                 synthetic_profile(program))
    res = solve_problem(pb, 10.0, None, 2.0, 1)
    assert res.plan is not None and res.optimal, res.reason
    stages = {res.plan.block_stage[lab] for lab in _mcast_blocks(program)}
    places = {s for name in ("workers", "others") for s, _ in res.plan.state_place[name]}
    if nic == "agilio":
        assert stages == {"kernel"} and places == {"kernel"}
    else:                        # BlueField-2 runs the whole NF (0 host cores at 10 Mpps)
        assert stages == {"nic"} and "nic" in places and res.host_cores == 0


@pytest.mark.parametrize("nic", ["agilio", "bluefield2"])
def test_planned_split_equals_the_whole_nf(program, nic):
    """Stage by stage in the interpreter, the planned split (measured profile) gives the
    whole NF's verdict and frame on every frame, and the same final state."""
    frames = _frames()
    prof = profile_from_frames(program, frames)
    pb = Problem(program, load_model(nic), load_model("xdp"), load_model("user"), prof)
    res = solve_problem(pb, 10.0, None, 2.0, 1)
    assert res.plan is not None
    plan = res.plan.to_json()
    split(program, plan)                                   # the plan splits
    whole = InterpEngine(program)
    with StagePipeline(program, plan, xdp_engine="interp") as pipe:
        verdicts = []
        for f in frames:
            want, got = whole.run(f, 0), pipe.run(f, 0)
            assert (got.verdict, got.frame) == (want.verdict, want.frame)
            verdicts.append(got.verdict)
        assert pipe.dump_state() == whole.dump_state()
    assert verdicts.count("multicast") >= 8
