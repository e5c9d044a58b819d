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
