"""Ethernet/IPv4/TCP frames whose fields sit at the two's-complement edges of their widths,
for the signed-integer and array differential tests (hypothesis strategy and a seeded list),
and UDP frames carrying user-declared headers (VXLAN, an aggregation header) for the header
tests."""

import random

from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

#: the frame fields signed.nf reads and their widths in bits
FIELDS = {"ttl": 8, "id": 16, "sport": 16, "dport": 16, "seq": 32, "ack": 32, "flags": 8,
          "window": 16}


def edge_values(bits: int) -> list[int]:
    """Unsigned ``bits``-wide patterns at the two's-complement edges (0, 1, -1, MIN, MAX...)."""
    m = (1 << bits) - 1
    half = 1 << (bits - 1)
    return [0, 1, 2, 7, m, m - 1, m - 6, half - 1, half, half + 1, half - 2]


def tcp_frame(v: dict[str, int]) -> bytes:
    """An Ethernet/IPv4/TCP frame with the fields of :data:`FIELDS` set from ``v``."""
    pkt = (Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
           / IP(src="10.0.0.1", dst="10.0.0.2", ttl=v["ttl"], id=v["id"])
           / TCP(sport=v["sport"], dport=v["dport"], seq=v["seq"], ack=v["ack"],
                 flags=v["flags"], window=v["window"]))
    return bytes(pkt)


@st.composite
def signed_frames(draw) -> bytes:
    """One frame whose fields are edge values half of the time, any value otherwise."""
    return tcp_frame({name: draw(st.sampled_from(edge_values(bits)) |
                                 st.integers(0, (1 << bits) - 1))
                      for name, bits in FIELDS.items()})


def seeded_frames(n: int, seed: int = 12) -> list[bytes]:
    """``n`` frames as :func:`signed_frames` draws them, from a fixed seed."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        out.append(tcp_frame({name: rng.choice(edge_values(bits)) if rng.random() < 0.5
                              else rng.randrange(1 << bits) for name, bits in FIELDS.items()}))
    return out


def udp_frame(dport: int, payload: bytes, checksum: bool) -> bytes:
    """Ethernet/IPv4/UDP to ``dport`` with ``payload``; UDP checksum computed or 0."""
    udp = UDP(sport=1234, dport=dport)
    if not checksum:
        udp.chksum = 0
    return bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
                 / IP(src="10.0.0.1", dst="10.0.0.2") / udp / payload)


@st.composite
def header_frames(draw) -> bytes:
    """A UDP frame to the VXLAN port, the aggregation port or another, whose payload is a
    header (VXLAN flags 0x08 or not; inner type IPv4 or not) cut anywhere around its end."""
    dport = draw(st.sampled_from([4789, 9000, 53]))
    if dport == 4789:
        flags = draw(st.sampled_from([0x08, 0x00, 0x0C]))
        head = bytes([flags]) + draw(st.binary(min_size=7, max_size=7))
        inner = draw(st.binary(min_size=12, max_size=12)) + \
            draw(st.sampled_from([b"\x08\x00", b"\x86\xdd"]))
        payload = head + inner + draw(st.binary(max_size=8))
    else:
        payload = draw(st.binary(min_size=4, max_size=4)) + draw(
            st.lists(st.sampled_from([0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]) |
                     st.integers(0, 0xFFFFFFFF), min_size=8, max_size=8).map(
                lambda vs: b"".join(v.to_bytes(4, "big") for v in vs)))
    payload = payload[:draw(st.integers(0, len(payload)))] if draw(st.booleans()) else payload
    return udp_frame(dport, payload, draw(st.booleans()))
