"""Issue 9: a plan for the Agilio model whose NIC stage calls now() runs on the testbed
with the host-fed clock (cora.runtime.clock_feed).

ratelimit's Agilio plan puts the heavy sources' token buckets on the NIC, where now() reads
``cora_nic_clock``. Deployed on the emulated NIC + host (three namespaces), the deploy
starts the feeder; the clock map then advances at the model's period, frames sent for real
are policed on the NIC with it (drops decided there, every bucket stamped with a fed time),
and `undeploy` ends the feeder. Exact per-frame agreement with the interpreter is tested
with the frame's time as the clock (tests/compiler/test_partition_agilio.py); live frames
have no such time to replay.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cora.cli import main
from cora.compiler.driver import compile_file
from cora.compiler.offload.partition import Problem, solve_problem
from cora.compiler.offload.profile import profile_from_frames, zipf_frames
from cora.compiler.offload.stage_model import load_model
from tests.runtime.split_helpers import wait_until

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.kernel
@pytest.mark.netns
def test_deployed_agilio_plan_polices_on_the_nic_with_a_fed_clock(bcc_module, capsys):
    from cora.runtime import clock_feed
    from cora.runtime.deploy import deploy_stages, read_stats, undeploy
    from cora.testbed.offload_experiment import three_node
    from cora.testbed.topology import Topology
    from cora.testbed.trafficgen import TrafficGen

    program = compile_file(str(REPO / "netfuncs" / "ratelimit.nf"))
    frames = zipf_frames(300, 1.1, 1500, seed=5)
    pb = Problem(program, load_model("agilio"), load_model("xdp"), load_model("user"),
                 profile_from_frames(program, frames))
    res = solve_problem(pb, 10, None, time_limit_s=5, workers=1, explain=False)
    assert res.plan is not None and res.plan.state_place["buckets"][0][0] == "nic"
    plan = res.plan.to_json()
    period_ns = load_model("agilio").host_clock_period_ns
    assert period_ns is not None
    with Topology(prefix=None) as topo:
        three_node(topo)
        nic_ns, host_ns, gen_ns = topo.ns("nic"), topo.ns("host"), topo.ns("gen")
        t0 = time.monotonic_ns()
        dep = deploy_stages(program, plan, "veth1", host_ns, "veth0", nic_ns, "veth1")
        feed = dep["nic"]["clock_feed"]
        try:
            assert feed["period_ns"] == period_ns
            assert clock_feed.is_feeder(feed["pid"], feed["map"])
            v0 = clock_feed.read_clock(feed["map"])
            assert v0 is not None and v0 >= t0
            # the feeder moves the clock on (at least 5 periods within the deadline)
            wait_until(lambda: (clock_feed.read_clock(feed["map"]) or 0)
                       > v0 + 5 * period_ns, "the clock to advance", 10.0)
            with TrafficGen("veth0", gen_ns) as gen:
                gen.send([f for _, f in frames], count=len(frames), rate_pps=20_000)
            wait_until(lambda: sum(read_stats("veth0", nic_ns)["verdicts"].values())
                       >= len(frames), "every frame at the NIC", 10.0)
            t1 = time.monotonic_ns()
            nic = read_stats("veth0", nic_ns)
            # heavy sources outrun 1 Mbit/s: the NIC drops, deciding with its fed clock
            assert nic["verdicts"].get("drop", 0) > 0
            stamps = [r["value"][1] for r in nic["maps"]["buckets"]]
            assert stamps and all(t0 <= s <= t1 for s in stamps)
            assert len({s for s in stamps}) > 1           # the clock moved during the run
            # `cora stats` on either side reports the clock and its feeder
            for d, ns in (("veth0", nic_ns), ("veth1", host_ns)):
                clock = read_stats(d, ns)["host_clock"]
                assert clock["feeder_running"] and clock["feeder_pid"] == feed["pid"]
                assert clock["now_ns"] is not None and clock["age_ms"] is not None
            # a feeder that dies is reported, and the clock stands still
            assert clock_feed.stop(feed["pid"], feed["map"])
            wait_until(lambda: not read_stats("veth0", nic_ns)["host_clock"]["feeder_running"],
                       "the stopped feeder to be reported", 10.0)
            assert main(["stats", "--dev", "veth0", "--netns", nic_ns]) == 0
            out = capsys.readouterr().out
            assert "host-fed NIC clock (every 1 ms)" in out and "feeder NOT running" in out
        finally:
            undeploy("veth1", host_ns)
        wait_until(lambda: not clock_feed.is_feeder(feed["pid"]), "the feeder to end", 10.0)


def test_a_new_clock_map_starts_at_the_time_it_is_made():
    """deploy_stages and the daemon's plan changes seed a new clock map with the time, so
    frames before the feeder's first tick do not read 0."""
    from cora.compiler.offload.split import CLOCK_STATE, split
    from cora.runtime.clock_feed import seed_clock

    program = compile_file(str(REPO / "netfuncs" / "ratelimit.nf"))
    frames = zipf_frames(300, 1.1, 1500, seed=5)
    pb = Problem(program, load_model("agilio"), load_model("xdp"), load_model("user"),
                 profile_from_frames(program, frames))
    res = solve_problem(pb, 10, None, time_limit_s=5, workers=1, explain=False)
    nic = next(st for st in split(program, res.plan).stages if st.stage == "nic")
    assert nic.clock_state == CLOCK_STATE and nic.program.state(CLOCK_STATE).init == ()
    t0 = time.monotonic_ns()
    seed_clock(nic.program, nic.clock_state)
    ((key, (value,)),) = nic.program.state(CLOCK_STATE).init
    assert key == (0,) and t0 <= value <= time.monotonic_ns()
    seed_clock(nic.program, None)          # no clock: nothing to do
