"""flowcount.nf: issue 2 section 7 semantics, frame by frame and on real captures."""

from __future__ import annotations

import struct

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Dot1Q, Ether

from cora.settings import traces_dir
from cora.testbed.replay import read_pcap

from .nfkit import NF, compile_nf, eth, ip, nf_fixtures, nf_path, tcp, udp

TRACES = traces_dir()


program, nf = nf_fixtures("flowcount", "nf")


def key(src, dst, sport, dport, proto):
    return (ip(src), ip(dst), sport, dport, proto)


def test_tcp_and_udp_frames_are_counted_per_flow(nf):
    a = tcp("10.0.0.1", "10.0.0.2", 1234, 80, payload=b"hello")
    b = udp("10.0.0.1", "10.0.0.3", 5353, 53)
    for frame in (a, a, b):
        out = nf.send(frame)
        assert out.verdict == "pass"
        assert out.frame == bytes(frame)
    flows = nf.table("flows")
    assert flows == {
        key("10.0.0.1", "10.0.0.2", 1234, 80, 6): (2, 2 * len(a)),
        key("10.0.0.1", "10.0.0.3", 5353, 53, 17): (1, len(b)),
    }


def test_bytes_count_the_whole_frame(nf):
    frame = tcp("10.0.0.1", "10.0.0.2", 1, 2, payload=b"z" * 1000)
    nf.send(frame)
    (value,) = nf.table("flows").values()
    assert value == (1, 14 + 20 + 20 + 1000)


def test_ip_options_shift_the_l4_header(nf):
    frame = eth() / IP(src="10.0.0.1", dst="10.0.0.2", options=b"\x01\x01\x01\x00") / \
        TCP(sport=7, dport=9)
    assert bytes(frame)[14] & 0x0F == 6
    nf.send(frame)
    assert list(nf.table("flows")) == [key("10.0.0.1", "10.0.0.2", 7, 9, 6)]


def _not_counted(nf, frame):
    raw = bytes(frame)
    out = nf.send(raw)
    assert out.verdict == "pass"
    assert out.frame == raw
    assert nf.table("flows") == {}


def test_vlan_tagged_ipv4_is_not_counted(nf):
    _not_counted(nf, Ether() / Dot1Q(vlan=5) / IP(src="10.0.0.1", dst="10.0.0.2") / TCP())


@pytest.mark.parametrize("frame", [
    Ether() / ARP(),
    Ether() / IPv6() / TCP(),
    eth() / IP(src="10.0.0.1", dst="10.0.0.2") / ICMP(),
    eth() / IP(src="10.0.0.1", dst="10.0.0.2", proto=47) / (b"\x00" * 20),
], ids=["arp", "ipv6-tcp", "icmp", "gre"])
def test_other_protocols_are_not_counted(nf, frame):
    _not_counted(nf, frame)


def test_fragment_with_offset_is_not_counted(nf):
    _not_counted(nf, tcp("10.0.0.1", "10.0.0.2", 1, 2, frag=3))


def test_first_fragment_is_counted(nf):
    nf.send(tcp("10.0.0.1", "10.0.0.2", 1, 2, flags="S", frag=0))
    frame = eth() / IP(src="10.0.0.1", dst="10.0.0.2", flags="MF") / UDP(sport=3, dport=4) / b"a"
    nf.send(frame)
    assert len(nf.table("flows")) == 2


def test_short_or_bad_ipv4_headers_are_not_counted(nf):
    full = bytes(tcp("10.0.0.1", "10.0.0.2", 1, 2))
    _not_counted(nf, full[:14 + 19])                              # IPv4 header cut short
    ihl4 = bytearray(full)
    ihl4[14] = 0x44                                               # IHL 4 < 5
    _not_counted(nf, bytes(ihl4))
    ihl15 = bytearray(full)
    ihl15[14] = 0x4F                                              # IHL 15: 60 bytes, not there
    _not_counted(nf, bytes(ihl15[:14 + 50]))


def test_truncated_l4_headers_are_not_counted(nf):
    t = bytes(tcp("10.0.0.1", "10.0.0.2", 1, 2))
    _not_counted(nf, t[:14 + 20 + 19])
    u = bytes(udp("10.0.0.1", "10.0.0.2", 1, 2, payload=b""))
    _not_counted(nf, u[:14 + 20 + 7])
    # exactly complete headers are counted
    nf.send(t[:14 + 20 + 20])
    nf.send(u[:14 + 20 + 8])
    assert len(nf.table("flows")) == 2


def test_full_map_counts_no_new_flow(tmp_path):
    """on_full skip, checked on a copy with capacity 3 (the shipped NF has 65,536)."""
    assert "map<Flow, Counts>[65536] on_full skip" in nf_path("flowcount").read_text()
    small = NF(compile_nf("flowcount", tmp_path,
                          replace={"[65536] on_full skip": "[3] on_full skip"}))
    frames = [udp("10.0.0.1", "10.0.0.2", 1000 + i, 53) for i in range(5)]
    for f in frames:
        assert small.send(f).verdict == "pass"
    small.send(frames[0])                      # an old flow keeps counting
    flows = small.table("flows")
    assert len(flows) == 3
    assert flows[key("10.0.0.1", "10.0.0.2", 1000, 53, 17)][0] == 2
    assert key("10.0.0.1", "10.0.0.2", 1003, 53, 17) not in flows


# ---------------------------------------------------------------- real captures vs a model

def model_flows(frames: list[bytes]) -> dict[tuple, list[int]]:
    """Issue 2 section 7, written independently of the NF, on raw bytes."""
    flows: dict[tuple, list[int]] = {}
    for f in frames:
        if len(f) < 14 + 20 or f[12:14] != b"\x08\x00":
            continue
        ihl = f[14] & 0x0F
        if ihl < 5 or len(f) < 14 + ihl * 4:
            continue
        if struct.unpack("!H", f[20:22])[0] & 0x1FFF:
            continue
        proto = f[23]
        l4 = 14 + ihl * 4
        need = {6: 20, 17: 8}.get(proto)
        if need is None or len(f) < l4 + need:
            continue
        sport, dport = struct.unpack("!HH", f[l4:l4 + 4])
        k = (int.from_bytes(f[26:30], "big"), int.from_bytes(f[30:34], "big"), sport, dport,
             proto)
        if k not in flows:
            if len(flows) >= 65536:
                continue
            flows[k] = [0, 0]
        flows[k][0] += 1
        flows[k][1] += len(f)
    return flows


def _ethernet_traces():
    out = []
    for p in sorted(TRACES.glob("*.pcap*")):
        try:
            recs = read_pcap(p)
        except Exception:               # not Ethernet or unreadable: cora run refuses it too
            continue
        out.append((p.name, [f for _, f in recs if len(f) >= 14]))
    return out


@pytest.mark.slow
def test_real_captures_match_the_model(program):
    assert TRACES.is_dir(), f"the tcpdump traces are missing: {TRACES} (set CORA_TRACES)"
    traces = _ethernet_traces()
    assert len(traces) > 50
    counted_traces = 0
    for name, frames in traces:
        nf = NF(program)
        for f in frames:
            assert nf.send(f).verdict == "pass", name
        got = nf.table("flows")
        want = {k: tuple(v) for k, v in model_flows(frames).items()}
        assert got == want, name
        counted_traces += bool(want)
    assert counted_traces > 20
