"""testbed/ref_flowcount.c (the hand-written reference) against a pure-Python reading of
issue 2, section 7."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from cora.runtime import bpf_syscall as bs
from cora.runtime.testrun import MAX_XDP_TEST_FRAME_BYTES
from cora.settings import trace_files
from cora.testbed import ref_flowcount
from cora.testbed.replay import read_frames

pytestmark = pytest.mark.kernel

ROOT = Path(__file__).resolve().parents[2]
TRACES = [str(p) for p in trace_files()]
CAPACITY = 65536

# explicit MACs: scapy would otherwise resolve them by ARP on a real interface
MAC_A, MAC_B = "02:00:00:00:00:01", "02:00:00:00:00:02"




def oracle(frames: list[bytes], capacity: int = CAPACITY) -> dict:
    """flowcount, written straight from the spec, on whole frames."""
    flows: dict = {}
    for f in frames:
        if len(f) < 14 + 20 or f[12:14] != b"\x08\x00":
            continue
        ihl = f[14] & 0x0F
        if ihl < 5:
            continue
        if struct.unpack("!H", f[20:22])[0] & 0x1FFF:
            continue
        proto = f[23]
        l4 = 14 + 4 * ihl
        need = {6: 20, 17: 8}.get(proto)
        if need is None or len(f) < l4 + need:
            continue
        key = struct.unpack("!II", f[26:34]) + struct.unpack("!HH", f[l4:l4 + 4]) + (proto,)
        if key in flows:
            packets, nbytes = flows[key]
            flows[key] = (packets + 1, nbytes + len(f))
        elif len(flows) < capacity:
            flows[key] = (1, len(f))
    return flows


def runnable(frames):
    return [f for f in frames if 14 <= len(f) <= MAX_XDP_TEST_FRAME_BYTES]


@pytest.fixture(scope="module")
def ref(bcc_module):
    with ref_flowcount.load_reference() as r:
        yield r


def clear(ref):
    for k, _ in bs.map_items(ref.flows_fd, 16, 16):
        bs.map_delete(ref.flows_fd, k)


@pytest.mark.parametrize("name", ["of10_s4810.pcap", "babel_update_oobr.pcap",
                                  "bgp-4byte-asn.pcap", "isakmp4500.pcap", "print-flags.pcap",
                                  "gso-ipv4.pcap", "dcb_ets.pcap"])
def test_real_trace_matches_oracle(ref, name, trace_corpus):
    frames = runnable(read_frames(str(trace_corpus / name)))
    clear(ref)
    ref_flowcount.run_through(ref, frames)
    want = oracle(frames)
    assert want, "trace chosen to have counted flows"
    assert ref.flows() == want


@pytest.mark.slow
def test_all_traces_as_one_stream(ref):
    frames = runnable([f for p in TRACES for f in read_frames(p)])
    clear(ref)
    ran = ref_flowcount.run_through(ref, frames)
    assert ran == len(frames) > 1000
    want = oracle(frames)
    assert len(want) > 100
    assert ref.flows() == want


def test_reference_flows_fresh_map_and_key_form(bcc_module):
    from scapy.all import IP, TCP, UDP, Ether
    eth = Ether(src=MAC_A, dst=MAC_B)
    frames = [bytes(eth / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1234, dport=80)),
              bytes(eth / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1234, dport=80)
                    / (b"x" * 100)),
              bytes(eth / IP(src="10.0.0.2", dst="10.0.0.1") / UDP(sport=53, dport=999))]
    got = ref_flowcount.reference_flows(frames)
    assert got == {(167772161, 167772162, 1234, 80, 6): (2, len(frames[0]) + len(frames[1])),
                   (167772162, 167772161, 53, 999, 17): (1, len(frames[2]))}


def test_edge_cases(ref):
    from scapy.all import ICMP, IP, TCP, UDP, Dot1Q, Ether
    base = Ether(src=MAC_A, dst=MAC_B) / IP(src="1.2.3.4", dst="5.6.7.8")
    tcp = bytes(base / TCP(sport=1, dport=2))
    cases = {
        "tcp": tcp,
        "udp": bytes(base / UDP(sport=3, dport=4)),
        "udp_short": bytes(base / UDP(sport=3, dport=4))[:14 + 20 + 7],
        "tcp_short": tcp[:14 + 20 + 19],
        "ip_short": tcp[:14 + 19],
        "ihl4": tcp[:14] + bytes([0x44]) + tcp[15:],
        "ihl6_options": bytes(Ether(src=MAC_A, dst=MAC_B) / IP(src="1.2.3.4", dst="5.6.7.8",
                                           options=b"\x01\x01\x01\x00") / TCP(sport=9, dport=9)),
        "frag_offset": bytes(base / UDP(sport=5, dport=6))[:20] + b"\x00\x01" +
        bytes(base / UDP(sport=5, dport=6))[22:],
        "mf_flag_first_fragment": bytes(Ether(src=MAC_A, dst=MAC_B)
                                        / IP(src="1.2.3.4", dst="5.6.7.8", flags="MF")
                                        / UDP(sport=7, dport=8)),
        "vlan": bytes(Ether(src=MAC_A, dst=MAC_B) / Dot1Q(vlan=5) / IP() / UDP()),
        "icmp": bytes(base / ICMP()),
        "not_ip": bytes(Ether(src=MAC_A, dst=MAC_B, type=0x86DD) / (b"\x60" + b"\x00" * 60)),
        "ip_version_6_in_0800": tcp[:14] + bytes([0x65]) + tcp[15:],
    }
    clear(ref)
    frames = list(cases.values()) * 2
    ref_flowcount.run_through(ref, frames)
    got = ref.flows()
    assert got == oracle(frames)
    # tcp and the version-6 copy share a key; then udp, MF first fragment, IPv4 options
    assert {(k[2], k[3]): v[0] for k, v in got.items()} == {(1, 2): 4, (3, 4): 2, (7, 8): 2,
                                                           (9, 9): 2}


@pytest.mark.slow
def test_full_map_does_not_insert_new_flows(ref):
    from scapy.all import IP, UDP, Ether
    clear(ref)
    try:
        existing = bytes(Ether(src=MAC_A, dst=MAC_B) / IP(src="10.1.0.0", dst="10.9.9.9")
                         / UDP(sport=1, dport=1))
        ref_flowcount.run_through(ref, [existing])
        filler = struct.pack("=QQ", 0, 0)
        for i in range(1, CAPACITY):
            bs.map_update(ref.flows_fd, struct.pack("!IIHHB3x", i, 0, 0, 0, 17), filler,
                          bs.BPF_NOEXIST)
        new = bytes(Ether(src=MAC_A, dst=MAC_B) / IP(src="10.2.0.0", dst="10.9.9.9")
                    / UDP(sport=2, dport=2))
        ref_flowcount.run_through(ref, [new, existing, new])
        got = ref.flows()
        assert len(got) == CAPACITY
        assert got[(0x0A010000, 0x0A090909, 1, 1, 17)] == (2, 2 * len(existing))
        assert (0x0A020000, 0x0A090909, 2, 2, 17) not in got
    finally:
        clear(ref)
