"""The offload testbed experiment (cora.testbed.offload_experiment) end to end, small: both
deployments see every frame, agree on verdicts, and the run-time statistics count exactly
the frames that reached the host. (Figures are printed by bench/offload_testbed.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from cora.compiler.driver import compile_file
from cora.compiler.offload.split import SplitError, cut_plan, split

REPO = Path(__file__).resolve().parents[2]


def _frames() -> list[bytes]:
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.l2 import Ether

    out = []
    for i in range(32):   # inside -> outside (pass), outside -> inside:9999 (dropped)
        src, dst, dport = (("10.11.1.5", "198.51.100.7", 5000 + i) if i % 2 == 0 else
                           ("203.0.113.9", "10.11.1.5", 9999))
        l4 = TCP(sport=10000 + i, dport=dport, flags="S") if i % 4 < 2 else \
            UDP(sport=10000 + i, dport=dport)
        out.append(bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
                         / IP(src=src, dst=dst) / l4).ljust(64, b"\0"))
    return out


@pytest.mark.kernel
@pytest.mark.netns
def test_split_and_all_host_deployments_measure_the_same_traffic(bcc_module):
    from cora.testbed.offload_experiment import run_experiment

    program = compile_file(str(REPO / "netfuncs" / "firewall.nf"))
    n = len(program.topological_blocks())
    plan = next(cut_plan(program, i) for i in range(n - 1, 0, -1) if _two_stages(program, i))
    res = run_experiment(program, plan, "bluefield2", 1.0, _frames(), count=3200,
                         rate_pps=50_000)
    s, h = res["split"], res["all_host"]
    assert s.stages == ["nic", "kernel"] and h.stages == ["kernel"]
    assert s.frames_sent == h.frames_sent == 3200
    assert s.nic_frames == h.nic_frames == 3200           # the NIC side saw every frame
    assert s.host_run_cnt == s.host_frames and h.host_run_cnt == h.host_frames
    assert h.host_frames == 3200 and s.host_frames <= 3200
    drops = s.nic_verdicts["drop"] + s.host_verdicts["drop"]
    assert drops == h.host_verdicts["drop"] == 1600        # same verdicts either way
    assert s.host_ns_per_packet > 0 and h.host_ns_per_packet > 0
    assert res["modelled"]["all_host_ns"] > 0


def _two_stages(program, i) -> bool:
    try:
        return len(split(program, cut_plan(program, i)).stages) == 2
    except SplitError:
        return False
