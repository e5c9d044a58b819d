"""`cora stats` on a split deployment: a merged counter (firewall's ``drops``, one copy per
stage that adds to it) is shown as the sum of its copies, and the output says so."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from cora.compiler.driver import compile_file
from cora.compiler.offload.split import split
from cora.runtime.deploy import merged_counter_stages
from cora.runtime.engine import sum_entries

from .split_helpers import both_stage_plan, merged_counter_frames

REPO = Path(__file__).resolve().parents[2]
FIREWALL = str(REPO / "netfuncs" / "firewall.nf")


def test_sum_entries_adds_copies_key_by_key():
    nic = [((0,), (3,)), ((5,), (1,))]
    host = [((5,), (4,)), ((6,), (2,))]
    assert sum_entries([nic, host]) == [((0,), (3,)), ((5,), (5,)), ((6,), (2,))]
    assert sum_entries([[((1,), (2, 3))], [((1,), (4, 5))]]) == [((1,), (6, 8))]
    assert sum_entries([]) == []


def test_merged_counter_stages_from_the_deployed_shim_layout():
    program = compile_file(FIREWALL)
    result = split(program, both_stage_plan(program))
    meta = {"shim": result.layout_json(program.name)}
    assert merged_counter_stages(meta) == {"drops": ["nic", "kernel"]}
    assert merged_counter_stages({}) == {}                  # not a split deployment
    one = {"shim": {"stages": [{"stage": "kernel", "counter_copies": ["drops"]}]}}
    assert merged_counter_stages(one) == {}                 # one copy: nothing to sum


def test_stats_text_says_which_copies_were_summed(monkeypatch, capsys):
    from cora.runtime import commands, deploy

    stats = {"nf": "firewall", "prog_id": 7, "attached": True, "verdicts": {"drop": 9},
             "maps": {"drops": [{"key": [0], "value": [4]}, {"key": [5], "value": [5]}],
                      "conns": []},
             "summed_copies": {"drops": ["nic", "kernel"]}}
    monkeypatch.setattr(deploy, "read_stats", lambda dev, netns: stats)
    monkeypatch.setattr(deploy, "require_root", lambda: None)
    args = argparse.Namespace(dev="veth1", netns=None, interval=0, json=False, top=10)
    assert commands.cmd_stats(args) == 0
    out = capsys.readouterr().out
    assert "map drops: 2 entries (merged counter: sum of its copies on the nic and kernel " \
           "stages)" in out
    assert "map conns: 0 entries\n" in out
    stats["retired_copies"] = {"drops": 2}
    assert commands.cmd_stats(args) == 0
    assert "stages) (plus 2 retired copies that plan changes took off a stage)" in \
        capsys.readouterr().out


@pytest.mark.kernel
@pytest.mark.netns
def test_deployed_split_stats_sum_the_nic_and_host_copies(bcc_module):
    """Deploy firewall split so both stages count drops, send frames that each stage drops,
    and check `read_stats` on the host reports the whole NF's counter (the interpreter's),
    while each stage's own copy holds only part of it."""
    from cora.runtime.deploy import deploy_stages, read_stats, undeploy
    from cora.testbed.live_traffic import interpreter_state, wait_for_verdicts
    from cora.testbed.offload_experiment import three_node
    from cora.testbed.topology import Topology
    from cora.testbed.trafficgen import TrafficGen

    program = compile_file(FIREWALL)
    plan = both_stage_plan(program)
    frames = merged_counter_frames()
    with Topology() as topo:
        three_node(topo)
        gen_ns, nic_ns, host_ns = topo.ns("gen"), topo.ns("nic"), topo.ns("host")
        deploy_stages(program, plan, "veth1", host_ns, "veth0", nic_ns, "veth1")
        try:
            with TrafficGen("veth0", gen_ns) as gen:
                sent = gen.send(frames, count=len(frames), rate_pps=1000).frames_sent
            assert sent == len(frames)
            assert wait_for_verdicts("veth0", nic_ns, sent) == sent
            expected = interpreter_state(program, frames)["maps"]["drops"]
            assert sum(r["value"][0] for r in expected) == len(frames)

            def host_drops() -> int:
                return sum(r["value"][0] for r in read_stats("veth1", host_ns)["maps"]["drops"])
            wait_for(lambda: host_drops() == len(frames))
            host = read_stats("veth1", host_ns)
            assert host["maps"]["drops"] == expected
            assert host["summed_copies"] == {"drops": ["nic", "kernel"]}
            nic_only = read_stats("veth0", nic_ns)
            assert nic_only["summed_copies"] == {}
            nic_total = sum(r["value"][0] for r in nic_only["maps"]["drops"])
            assert 0 < nic_total < len(frames)               # each copy holds a part
        finally:
            undeploy("veth1", host_ns)


def wait_for(cond, timeout_s: float = 10.0) -> None:
    """Poll ``cond`` until true or fail at the deadline."""
    import time
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "condition not met before the deadline"
        time.sleep(0.05)
