"""Lock-step handover of plan changes between the emulated NIC and the host (issue 11,
"State entries and counts lost: 0" across stages): flowcount split over an emulated NIC
namespace and the host, live frames from the generator the whole time, and plan changes in
both directions: all on the host -> a cut (the NIC parses, the host counts: a new shim the
old host version does not know) -> all on the NIC (the flow table moved host -> NIC) -> all
on the host (moved NIC -> host). Afterwards every generated frame was seen once by the first
stage and the flow table (every entry, every packet and byte count) equals the reference
interpreter's over the same frame sequence. Without the handover the host runs the frames of
the gap between the two stage commits with the wrong version (the NIC -> host move loses
their counts)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from .split_helpers import change_plan, split_daemon

REPO = Path(__file__).resolve().parents[2]
FLOWCOUNT = REPO / "netfuncs" / "flowcount.nf"

pytestmark = [pytest.mark.kernel, pytest.mark.netns, pytest.mark.slow]



def test_plan_changes_between_stages_lose_no_frame_and_no_count(bcc_module, tmp_path):
    from cora.compiler import compile_file
    from cora.compiler.offload.partition import Plan
    from cora.compiler.offload.split import cut_plan, split
    from cora.runtime.deploy import read_stats
    from cora.testbed.live_traffic import BackgroundTraffic, interpreter_state, wait_for_verdicts
    from cora.testbed.trafficgen import synthetic_flows

    program = compile_file(FLOWCOUNT)
    n = len(program.topological_blocks())
    # the first cut whose NIC stage leaves the flow table on the host: a shim crosses
    cut = next(k for k in range(1, n) if [st.stage for st in split(program, cut_plan(
        program, k)).stages] == ["nic", "kernel"] and "flows" in split(
        program, cut_plan(program, k)).stages[1].owned_states)
    plans = [("cut", Plan.from_json(cut_plan(program, cut))),
             ("nic", Plan.from_json(cut_plan(program, n))), ("host", None)]
    frames = synthetic_flows(40, seed=21) + synthetic_flows(20, proto="tcp", seed=22)
    with split_daemon(FLOWCOUNT, tmp_path) as (d, gen_ns, nic_ns, host_ns):
        all_host = d.replanner.current
        decisions = []
        with BackgroundTraffic("veth0", gen_ns, frames, rate_pps=10_000,
                               chunk=20) as traffic:  # no gap: 2 ms apart
            for label, plan in plans:
                decisions.append((label, change_plan(d, traffic, plan or all_host, label, 500)))
            traffic.wait_generated(traffic.gen.generated() + 1000)
            sent = traffic.stop()
        seen = wait_for_verdicts("veth0", nic_ns, sent)
        assert seen == sent, f"{sent} frames generated, {seen} seen by the first stage"
        live = {**read_stats("veth0", nic_ns)["maps"], **read_stats("veth1", host_ns)["maps"]}
        expected = interpreter_state(program, traffic.sequence(sent))["maps"]["flows"]
        assert len(expected) == len(frames)
        got = {str(e["key"]): e["value"] for e in live["flows"]}
        short = [e for e in expected if got.get(str(e["key"])) != e["value"]]
        assert not short, (f"{len(short)} of {len(expected)} flows differ from the "
                           f"interpreter, e.g. {short[0]} vs {got.get(str(short[0]['key']))}")
        assert live["flows"] == expected
        for label, dec in decisions:
            assert dec.drain_ms is not None and dec.handover_ms is not None, label
            assert dec.latency_ms is not None and len(dec.commit_ms) == 2, label
        # the gaps were not empty: the host's dispatcher ran frames of the new plan (and
        # frames of the old one, handed on before the NIC's replace)
        assert all(dec.handover_frames[1] > 0 for _, dec in decisions), decisions
        print("handover frames (old, new):", [dec.handover_frames for _, dec in decisions])


def test_an_interrupted_handover_keeps_forwarding_and_undeploy_removes_it(bcc_module):
    """A daemon killed between the dispatcher's engage and the host commit: the dispatcher
    stays attached and keeps running every frame (its prog array is pinned, so it outlives
    the process's fds), and ``cora undeploy`` detaches it with the rest."""
    import subprocess

    from cora.compiler import compile_file
    from cora.compiler.offload.split import cut_plan, split
    from cora.runtime.deploy import deploy_stages, undeploy
    from cora.runtime.handover import Handover, new_tag
    from cora.runtime.swap import prepare_swap
    from cora.testbed.live_traffic import BackgroundTraffic, wait_for_verdicts
    from cora.testbed.offload_experiment import three_node
    from cora.testbed.topology import Topology
    from cora.testbed.trafficgen import synthetic_flows

    program = compile_file(FLOWCOUNT)
    plan = cut_plan(program, 0)  # every block on the host, a pass-through NIC
    host_prog = split(program, plan).stages[-1].program
    with Topology() as topo:
        three_node(topo)
        gen_ns, nic_ns, host_ns = topo.ns("gen"), topo.ns("nic"), topo.ns("host")
        try:
            deploy_stages(program, plan, "veth1", host_ns, "veth0", nic_ns)
            with prepare_swap("veth1", host_ns, host_prog) as prep:
                h = Handover("veth1", host_ns, new_tag(), prep.loaded.prog_fd)
                h.engage()
                h.close()  # the process dies here: only the pins and the attachment remain
            with BackgroundTraffic("veth0", gen_ns, synthetic_flows(30, seed=5),
                                   rate_pps=5_000, chunk=50) as traffic:
                traffic.wait_generated(600)
                sent = traffic.stop()
            # every frame ran through the dispatcher into the (old) host version
            assert wait_for_verdicts("veth1", host_ns, sent) == sent
            attached = subprocess.run(["ip", "-n", host_ns, "link", "show", "veth1"],
                                      capture_output=True, text=True, check=True).stdout
            assert "xdp" in attached
            undeploy("veth1", host_ns)
            attached = subprocess.run(["ip", "-n", host_ns, "link", "show", "veth1"],
                                      capture_output=True, text=True, check=True).stdout
            assert "xdp" not in attached, attached
        finally:
            with contextlib.suppress(Exception):
                undeploy("veth1", host_ns)
            with contextlib.suppress(Exception):
                undeploy("veth0", nic_ns)
