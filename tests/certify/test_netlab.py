"""The namespace bottleneck: the TBF limits the rate, the delay bridge adds the delay."""

import os

import pytest
from pyroute2 import netns

from cora.certify.netlab import Bottleneck, flow


@pytest.mark.netns
@pytest.mark.slow
def test_bottleneck_rate_and_delay_with_cubic():
    prefix = f"ccn{os.getpid() % 100000}"
    with Bottleneck(5, 30, 1.0, prefix=prefix) as bed:
        assert all(n in netns.listnetns() for n in bed.ns.values())
        r = flow(bed, "cubic", seconds=3, port=5311)
    assert not any(n.startswith(prefix) for n in netns.listnetns())  # always deleted
    assert 2.5 < r["throughput_mbit"] <= 5.2          # TBF rate 5 Mbit/s
    assert 30.0 <= r["min_rtt_ms"] < 60.0              # 30 ms delay stage (+ bridge cost)
    assert r["rtt_ms_mean"] > r["min_rtt_ms"]          # cubic builds a queue at the TBF
    assert r["samples"] > 5


@pytest.mark.netns
def test_namespaces_deleted_on_error():
    prefix = f"cce{os.getpid() % 100000}"
    with pytest.raises(RuntimeError):
        with Bottleneck(5, 5, 1.0, prefix=prefix):
            raise RuntimeError("boom")
    assert not any(n.startswith(prefix) for n in netns.listnetns())


@pytest.mark.netns
@pytest.mark.slow
def test_two_flows_share_the_bottleneck_and_the_rate_follows_a_schedule():
    from cora.certify.netlab import echo_rtts, flows, jain_index
    prefix = f"ccf{os.getpid() % 100000}"
    with Bottleneck(8, 20, 1.0, prefix=prefix) as bed:
        rtts = echo_rtts(bed, count=10, interval_s=0.02)
        # both flows run and are measured; the rate is 2 Mbit/s for the whole measured part
        rs = flows(bed, ["cubic", "cubic"], seconds=3, port=5321,
                   rate_schedule=[(0.0, 2.0)])
    assert not any(n.startswith(prefix) for n in netns.listnetns())
    assert len(rtts) >= 8 and min(rtts) >= 20.0          # the bridge's delay, measured
    assert [r["port"] for r in rs] == [5321, 5322]
    total = sum(r["throughput_mbit"] for r in rs)
    assert 0.5 < total <= 2.2                             # the changed rate, not the 8 Mbit/s
    assert all(r["throughput_mbit"] > 0 for r in rs) and all(r["samples"] > 3 for r in rs)
    assert 0.5 <= jain_index([r["throughput_mbit"] for r in rs]) <= 1.0
    assert all(len(r["series"]["t_s"]) == len(r["series"]["rtt_ms"]) for r in rs)
