"""pcap reading on real captures and on bad files."""

from __future__ import annotations

import struct

import dpkt
import pytest

from cora.errors import InputError
from cora.settings import trace_files
from cora.testbed.replay import read_frames, read_pcap

TRACES = [str(p) for p in trace_files()]

# explicit MACs: scapy would otherwise resolve them by ARP on a real interface
MAC_A, MAC_B = "02:00:00:00:00:01", "02:00:00:00:00:02"


def test_traces_present():
    assert len(TRACES) > 100


@pytest.mark.parametrize("path", TRACES[::9])
def test_matches_dpkt(path):
    recs = read_pcap(path)
    with open(path, "rb") as f:
        ref = list(dpkt.pcap.Reader(f))
    assert [b for _, b in recs] == [bytes(b) for _, b in ref]
    for (ts_ns, _), (ts, _) in zip(recs, ref, strict=True):
        assert isinstance(ts_ns, int)
        assert abs(ts_ns - float(ts) * 1e9) < 1e3  # dpkt's float is the approximate one


def test_all_real_traces_read():
    total = 0
    for path in TRACES:
        recs = read_pcap(path)
        total += len(recs)
        assert all(isinstance(f, bytes) for _, f in recs)
    assert total > 1000


def _pcap(linktype=1, magic=0xA1B2C3D4, records=((1, 5, b"\x11" * 20),), cut=0):
    out = struct.pack(">IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)
    for sec, frac, frame in records:
        out += struct.pack(">IIII", sec, frac, len(frame), len(frame)) + frame
    return out[:len(out) - cut] if cut else out


def test_timestamps_exact_micro_and_nano(tmp_path):
    p = tmp_path / "us.pcap"
    p.write_bytes(_pcap(records=((1700000000, 123456, b"a" * 14),)))
    assert read_pcap(p) == [(1700000000_123456000, b"a" * 14)]
    p = tmp_path / "ns.pcap"
    p.write_bytes(_pcap(magic=0xA1B23C4D, records=((1700000000, 123456789, b"b" * 14),)))
    assert read_pcap(p) == [(1700000000_123456789, b"b" * 14)]
    assert read_frames(p) == [b"b" * 14]


@pytest.mark.slow
def test_scapy_written_little_endian(tmp_path):
    from scapy.all import IP, UDP, Ether, wrpcap
    pkts = [Ether(src=MAC_A, dst=MAC_B) / IP(dst="10.0.0.1") / UDP(dport=i) for i in range(3)]
    for i, pkt in enumerate(pkts):
        pkt.time = 1000 + i
    p = tmp_path / "s.pcap"
    wrpcap(str(p), pkts)
    recs = read_pcap(p)
    assert [f for _, f in recs] == [bytes(x) for x in pkts]
    assert [t for t, _ in recs] == [1000_000_000_000, 1001_000_000_000, 1002_000_000_000]


@pytest.mark.parametrize("content,match", [
    (b"", "too short"),
    (b"hello, this is not a capture at all", "not a pcap"),
    (_pcap(linktype=113), "link type 113 .*LINUX_SLL.* not Ethernet"),
    (_pcap(cut=5), "truncated pcap: record 1"),
    (_pcap()[:30], "truncated pcap: record 1 header"),
])
def test_bad_files_one_clear_line(tmp_path, content, match):
    p = tmp_path / "bad.pcap"
    p.write_bytes(content)
    with pytest.raises(InputError, match=match) as info:
        read_pcap(p)
    assert "\n" not in info.value.message and str(p) in info.value.message


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="cannot read pcap .*No such file"):
        read_pcap(tmp_path / "nope.pcap")


def test_fcs_bits_in_linktype_are_ethernet(trace_corpus):
    # tcpdump's fuzzed captures carry junk in the upper link-type bits; libpcap reads them
    # as Ethernet (LT_LINKTYPE keeps the low 16 bits), and so do we.
    path = str(trace_corpus / "heapoverflow-tcp_print.pcap")
    with open(path, "rb") as f:
        assert dpkt.pcap.Reader(f).datalink() == 0x30000001
    assert len(read_pcap(path)) == 1
