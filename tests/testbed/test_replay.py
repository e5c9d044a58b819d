"""pcap reading on real captures and on bad files."""

from __future__ import annotations

import struct

import dpkt
import pytest

from cora.errors import InputError
from cora.settings import trace_files
from cora.testbed.replay import MAX_SNAPLEN_BYTES, iter_pcap, read_frames, read_pcap

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


def _record(frame: bytes, caplen: int | None = None, sec: int = 1) -> bytes:
    n = len(frame) if caplen is None else caplen
    return struct.pack("<IIII", sec, 0, n, max(n, len(frame))) + frame


def _header(linktype: int = 1, snaplen: int = 65535, major: int = 2) -> bytes:
    return struct.pack("<IHHiIII", 0xA1B2C3D4, major, 4, 0, 0, snaplen, linktype)


FRAME = b"\x02" * 60


@pytest.mark.parametrize("content,match", [
    (b"", "too short"),
    (b"hello, this is not a capture at all", "not a pcap"),
    (_pcap(linktype=113), "link type 113 .*LINUX_SLL.* not Ethernet"),
    (_pcap(cut=5), "truncated pcap: record 1"),
    (_pcap()[:30], "truncated pcap: record 1 header"),
    (_header() + _record(FRAME) + _record(FRAME)[:30],
     r"truncated pcap: record 2 claims 60 bytes, only 14 left"),
    (_header() + _record(FRAME) + _record(FRAME)[:9], r"record 2 header cut short at byte 100"),
    (_header() + _record(FRAME) + _record(b"", caplen=0xFFFFFFF0),
     rf"record 2 at byte 100 claims {0xFFFFFFF0} captured bytes, more than any capture holds "
     rf"\({MAX_SNAPLEN_BYTES}\)"),
    (_header(linktype=105) + _record(FRAME), r"link type 105 \(IEEE802_11\) is not Ethernet"),
    (_header(major=3) + _record(FRAME), r"pcap version 3.4 is not supported"),
    (_header()[:20], r"truncated pcap file header"),
])
def test_bad_files_one_clear_line(tmp_path, content, match):
    p = tmp_path / "bad.pcap"
    p.write_bytes(content)
    with pytest.raises(InputError, match=match) as info:
        read_pcap(p)
    assert "\n" not in info.value.message and str(p) in info.value.message


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="cannot read pcap .*no such file"):
        read_pcap(tmp_path / "nope.pcap")


def test_fcs_bits_in_linktype_are_ethernet(trace_corpus):
    # tcpdump's fuzzed captures carry junk in the upper link-type bits; libpcap reads them
    # as Ethernet (LT_LINKTYPE keeps the low 16 bits), and so do we.
    path = str(trace_corpus / "heapoverflow-tcp_print.pcap")
    with open(path, "rb") as f:
        assert dpkt.pcap.Reader(f).datalink() == 0x30000001
    assert len(read_pcap(path)) == 1


def test_streamed_record_by_record(tmp_path):
    """The good records before a bad one are yielded before the bad one is read: the file is
    checked as it is read, not loaded first."""
    p = tmp_path / "later-bad.pcap"
    p.write_bytes(_header() + _record(FRAME, sec=1) + _record(FRAME, sec=2)
                  + _record(b"", caplen=MAX_SNAPLEN_BYTES + 1))
    it = iter_pcap(p)
    assert next(it) == (1_000_000_000, FRAME)
    assert next(it) == (2_000_000_000, FRAME)
    with pytest.raises(InputError, match="record 3"):
        next(it)


def _pcapng(frames: list[bytes], linktype: int = 1) -> bytes:
    import io
    buf = io.BytesIO()
    w = dpkt.pcapng.Writer(buf, linktype=linktype)
    for i, f in enumerate(frames):
        w.writepkt(f, ts=1000 + i)
    return buf.getvalue()


def test_pcapng_supported_and_checked(tmp_path):
    good = tmp_path / "good.pcapng"
    good.write_bytes(_pcapng([FRAME, FRAME[:20]]))
    assert read_pcap(good) == [(1000_000_000_000, FRAME), (1001_000_000_000, FRAME[:20])]
    for cut in (1, 7, 30):
        bad = tmp_path / f"cut{cut}.pcapng"
        bad.write_bytes(good.read_bytes()[:-cut])
        with pytest.raises(InputError, match="truncated pcapng|pcapng record 2 is unreadable"):
            read_pcap(bad)
    other = tmp_path / "wifi.pcapng"
    other.write_bytes(_pcapng([FRAME], linktype=105))
    with pytest.raises(InputError, match="link type 105"):
        read_pcap(other)
    junk = tmp_path / "junk.pcapng"
    junk.write_bytes(good.read_bytes()[:12])
    with pytest.raises(InputError, match="unreadable pcapng header"):
        read_pcap(junk)
