"""Helpers shared by the interpreter and pass tests: the trace corpus's records, an
independent flowcount oracle, hypothesis strategies for well-formed packets, and the observable
behaviour of a program under the reference interpreter."""

from __future__ import annotations

import functools
import ipaddress
import struct

from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_NOP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import Raw

from cora.compiler.interp import Interpreter
from cora.settings import trace_files
from cora.testbed.replay import read_pcap

#: Explicit MAC addresses for every scapy Ether(): without them scapy resolves the destination
#: MAC by ARP / neighbour discovery on the host's network, which a test must never do.
MACS = {"src": "02:00:00:00:00:01", "dst": "02:00:00:00:00:02"}


@functools.lru_cache(maxsize=1)
def trace_records() -> list[tuple[str, list[tuple[int, bytes]]]]:
    """(file name, [(timestamp_ns, frame)]) for every capture of the shared trace set."""
    return [(p.name, read_pcap(p)) for p in trace_files()]


def flowcount_oracle(frames: list[bytes]) -> dict[tuple, tuple[int, int]]:
    """flowcount semantics of issue 2 section 7, written from the issue's text with struct
    (independent of cora.compiler.ir.headers): key (saddr, daddr, sport, dport, proto) ->
    (packets, bytes); a new flow is not counted once 65,536 flows exist."""
    flows: dict[tuple, tuple[int, int]] = {}
    for f in frames:
        if len(f) < 14 or f[12:14] != b"\x08\x00":        # Ethernet + IPv4 only (no VLAN)
            continue
        ip = f[14:]
        if len(ip) < 20 or ip[0] & 0x0F < 5:
            continue
        hl = (ip[0] & 0x0F) * 4
        if struct.unpack_from("!H", ip, 6)[0] & 0x1FFF:   # non-first fragment
            continue
        proto, l4 = ip[9], ip[hl:]
        if not ((proto == 6 and len(l4) >= 20) or (proto == 17 and len(l4) >= 8)):
            continue
        saddr, daddr = struct.unpack_from("!II", ip, 12)
        sport, dport = struct.unpack_from("!HH", l4, 0)
        key = (saddr, daddr, sport, dport, proto)
        if key in flows:
            p, b = flows[key]
            flows[key] = (p + 1, b + len(f))
        elif len(flows) < 65536:
            flows[key] = (1, len(f))
    return flows


def mac_str(v: int) -> str:
    return ":".join(f"{b:02x}" for b in v.to_bytes(6, "big"))


def ip4_str(v: int) -> str:
    return str(ipaddress.IPv4Address(v))


def ip6_str(v: int) -> str:
    return str(ipaddress.IPv6Address(v))


@st.composite
def packet_specs(draw):
    """A well-formed packet as a dict of scapy constructor arguments per layer."""
    v6 = draw(st.booleans())
    l4 = draw(st.sampled_from(["tcp", "udp"] if v6 else ["tcp", "udp", "icmp"]))
    u = lambda bits: draw(st.integers(0, 2**bits - 1))  # noqa: E731
    spec = {Ether: {"dst": mac_str(u(48)), "src": mac_str(u(48))}}
    if draw(st.booleans()):
        spec[Dot1Q] = {"vlan": u(12), "prio": u(3), "dei": u(1)}
    if v6:
        spec[IPv6] = {"src": ip6_str(u(128)), "dst": ip6_str(u(128)), "hlim": u(8), "tc": u(8),
                      "fl": u(20)}
    else:
        spec[IP] = {"src": ip4_str(u(32)), "dst": ip4_str(u(32)), "ttl": u(8), "id": u(16),
                    "tos": u(8), "flags": draw(st.sampled_from([0, 2])), "frag": 0,
                    "options": [IPOption_NOP()] * draw(st.integers(0, 8))}
    if l4 == "tcp":
        spec[TCP] = {"sport": u(16), "dport": u(16), "seq": u(32), "ack": u(32),
                     "flags": u(8), "window": u(16), "urgptr": u(16),
                     "options": draw(st.sampled_from([[], [("MSS", 1460)],
                                                      [("NOP", None), ("WScale", 7)]]))}
    elif l4 == "udp":
        spec[UDP] = {"sport": u(16), "dport": u(16)}
        if draw(st.integers(0, 4)) == 0:
            spec[UDP]["chksum"] = 0                          # "no checksum"
    else:
        spec[ICMP] = {"type": draw(st.sampled_from([0, 8])), "code": u(8), "id": u(16),
                      "seq": u(16)}
    spec[Raw] = {"load": draw(st.binary(max_size=48))}
    return spec


def build(spec) -> bytes:
    """Bytes of the packet described by ``spec``; scapy computes every checksum left unset."""
    pkt = None
    for layer, kw in spec.items():
        pkt = layer(**kw) if pkt is None else pkt / layer(**kw)
    return bytes(pkt)


def behaviour(program, frames) -> tuple[list, dict]:
    """(verdict, port, frame) per frame and the final state, from a fresh interpreter."""
    it = Interpreter(program)
    out = []
    for ts, frame in frames:
        r = it.run(frame, ts)
        out.append((r.verdict, r.port, r.frame))
    return out, it.dump_state()
