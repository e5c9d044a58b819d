"""Ethernet/IPv4/TCP frames whose fields sit at the two's-complement edges of their widths,
for the signed-integer and array differential tests (hypothesis strategy and a seeded list)."""

import random

from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP
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
