"""A merged counter survives the plan changes that take it off a stage (the runtime
experiment's ``drops[PORT]`` 1,400 vs 4,000): firewall split over an emulated NIC namespace
and the host under live traffic, frames dropped on either stage, and the daemon's plan
changes all on the host -> drops on both stages -> all on the NIC (the host's copy leaves)
-> both -> all on the host (the NIC's copy leaves, with the host copy retired earlier).
Each retired copy is kept (``retired/<state>/<prog id>`` with a stage that keeps the
counter) and ``read_stats`` adds it in, so the final counter equals the reference
interpreter's over the same frame sequence. Without the retired copies the counts of the
stage the counter left are lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from .split_helpers import both_stage_plan, change_plan, merged_counter_frames, split_daemon

REPO = Path(__file__).resolve().parents[2]
FIREWALL = REPO / "netfuncs" / "firewall.nf"

pytestmark = [pytest.mark.kernel, pytest.mark.netns, pytest.mark.slow]



def test_plan_changes_keep_the_counts_of_a_merged_counters_retired_copies(bcc_module,
                                                                          tmp_path):
    from cora.compiler import compile_file
    from cora.compiler.offload.partition import Plan
    from cora.compiler.offload.split import cut_plan
    from cora.runtime.deploy import RETIRED_DIR, read_stats
    from cora.runtime.pins import deployment_dir
    from cora.testbed.live_traffic import BackgroundTraffic, interpreter_state, wait_for_verdicts

    program = compile_file(FIREWALL)
    n = len(program.topological_blocks())
    both = Plan.from_json(both_stage_plan(program))
    nic = Plan.from_json(cut_plan(program, n))
    frames = merged_counter_frames()
    with split_daemon(FIREWALL, tmp_path) as (d, gen_ns, nic_ns, host_ns):
        all_host = d.replanner.current
        kept_with_nic = False
        plans = [("both", both), ("nic", nic), ("both", both), ("host", all_host)]
        with BackgroundTraffic("veth0", gen_ns, frames, rate_pps=5_000, chunk=16) as traffic:
            for label, plan in plans:
                change_plan(d, traffic, plan, label, 300)
                summed = read_stats("veth1", host_ns)["summed_copies"]
                # the host's metadata follows the plan in place (not the deployed one)
                assert summed == ({"drops": ["nic", "kernel"]} if label == "both"
                                  else {}), (label, summed)
                if label == "nic":  # the host's copy left: kept with the NIC stage
                    kept_with_nic = (deployment_dir("veth0", nic_ns) / RETIRED_DIR
                                     / "drops").is_dir()
            traffic.wait_generated(traffic.gen.generated() + 300)
            sent = traffic.stop()
        seen = wait_for_verdicts("veth0", nic_ns, sent)
        assert seen == sent, f"{sent} frames generated, {seen} seen by the first stage"
        expected = interpreter_state(program, traffic.sequence(sent))["maps"]["drops"]
        assert sum(r["value"][0] for r in expected) == sent  # every frame is a drop
        host = read_stats("veth1", host_ns)
        assert host["maps"]["drops"] == expected
        # both retired copies (the host's, then the NIC's) sit with the host now
        assert kept_with_nic
        assert host["retired_copies"] == {"drops": 2}, host["retired_copies"]
        assert not (deployment_dir("veth0", nic_ns) / RETIRED_DIR / "drops").exists()
