"""The live-frames generator sends real frames across a veth pair; a counter counts them."""

from __future__ import annotations

import struct

import pytest

from cora.errors import EnvironmentProblem, InputError
from cora.runtime.attach import xdp_attached
from cora.testbed.replay import read_frames
from cora.testbed.topology import two_node
from cora.testbed.trafficgen import MAX_FRAME_BYTES, RxCounter, TrafficGen, synthetic_flows

pytestmark = [pytest.mark.netns, pytest.mark.kernel]


@pytest.fixture(scope="module")
def bed(bcc_module):
    with two_node() as topo:
        with TrafficGen("veth0", topo.ns("gen")) as gen:
            yield topo, gen


def test_sends_exactly_n_frames_counted_on_peer(bed):
    topo, gen = bed
    with RxCounter("veth0", topo.ns("dut")) as rx:
        assert xdp_attached("veth0", topo.ns("dut")) == rx.prog_id
        frames = synthetic_flows(1, 64)
        report = gen.send(frames, count=100_000)
        assert report.frames_sent == 100_000 == gen.generated()
        assert rx.wait_for(100_000) == 100_000
        assert rx.read() == (100_000, 100_000 * 64)
    assert xdp_attached("veth0", topo.ns("dut")) is None


def test_cycles_through_frames_of_different_sizes(bed):
    topo, gen = bed
    frames = synthetic_flows(5, 64, seed=1) + synthetic_flows(3, 300, "tcp", seed=2) + \
        synthetic_flows(1, MAX_FRAME_BYTES, seed=3)
    rounds = 1000
    with RxCounter("veth0", topo.ns("dut")) as rx:
        report = gen.send(frames, count=rounds * len(frames))
        got = rx.wait_for(report.frames_sent)
        packets, nbytes = rx.read()
    assert got == packets == rounds * len(frames)
    assert nbytes == rounds * sum(len(f) for f in frames)


def test_real_trace_frames_and_skips(bed, trace_corpus):
    topo, gen = bed
    frames = read_frames(str(trace_corpus / "of10_s4810.pcap"))
    usable = [f for f in frames if 14 <= len(f) <= MAX_FRAME_BYTES]
    assert 0 < len(usable) < len(frames)  # this trace holds one 4,170-byte frame
    with RxCounter("veth0", topo.ns("dut")) as rx:
        report = gen.send(frames)  # one pass by default
        assert report.frames_sent == len(usable)
        assert report.frames_skipped == len(frames) - len(usable)
        assert rx.wait_for(len(usable)) == len(usable)
        assert rx.read()[1] == sum(len(f) for f in usable)


def test_rate_and_time_limits(bed):
    topo, gen = bed
    with RxCounter("veth0", topo.ns("dut")) as rx:
        report = gen.send(synthetic_flows(4, 64), count=30_000, rate_pps=100_000)
        # paced per 0.1 s batch: the last batch is not started before its due time
        assert report.frames_sent == 30_000 and report.calls == 3
        assert report.seconds >= 0.2
        report = gen.send(seconds=0.3, rate_pps=50_000)
        assert 0 < report.frames_sent <= 50_000 * 0.3 + 5_000
        total = 30_000 + report.frames_sent
        assert rx.wait_for(total) == total


def test_bad_inputs(bed):
    topo, gen = bed
    with pytest.raises(InputError, match="no frame between"):
        gen.send([b"\x00" * 10])
    with pytest.raises(InputError, match="rate_pps"):
        gen.send(synthetic_flows(1, 64), rate_pps=0)
    with pytest.raises(EnvironmentProblem, match="no interface eth9 in namespace"):
        TrafficGen("eth9", topo.ns("gen"))
    with pytest.raises(InputError, match="drop or pass"):
        RxCounter("veth0", topo.ns("dut"), verdict="tx")


def test_synthetic_flows():
    a = synthetic_flows(50, 128, "tcp", seed=7)
    assert a == synthetic_flows(50, 128, "tcp", seed=7)
    assert a != synthetic_flows(50, 128, "tcp", seed=8)
    assert all(len(f) == 128 and f[12:14] == b"\x08\x00" and f[23] == 6 for f in a)
    tuples = {(f[26:34], f[34:38]) for f in a}
    assert len(tuples) == 50
    u = synthetic_flows(3, 42, "udp")
    assert all(len(f) == 42 and f[23] == 17 for f in u)
    assert struct.unpack("!H", u[0][16:18])[0] == 28  # IPv4 total length of a bare UDP
    for bad in [dict(n_flows=0), dict(size_bytes=41), dict(size_bytes=MAX_FRAME_BYTES + 1),
                dict(proto="sctp")]:
        with pytest.raises(InputError):
            synthetic_flows(**{"n_flows": 1, "size_bytes": 64, **bad})


def test_replay_a_capture(bcc_module, trace_corpus):
    from cora.testbed.replay import replay
    path = str(trace_corpus / "bgp-4byte-asn.pcap")
    frames = [f for f in read_frames(path) if 14 <= len(f) <= MAX_FRAME_BYTES]
    with two_node() as topo, RxCounter("veth0", topo.ns("dut")) as rx:
        report = replay(path, "veth0", topo.ns("gen"), count=3 * len(frames))
        assert report.frames_sent == 3 * len(frames)
        assert rx.wait_for(report.frames_sent) == report.frames_sent
        assert rx.read()[1] == 3 * sum(len(f) for f in frames)
