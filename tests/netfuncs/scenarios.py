"""Timed frame sequences that drive each NF through its stateful paths (new state, replies,
rewrites, expiry, full policies, attacks), for differential runs of the engines.

Each scenario is a list of ``(timestamp_ns, frame_bytes)`` in time order; timestamps are
whole microseconds so that any pcap flavour keeps them exactly.
"""

from __future__ import annotations

import struct
from pathlib import Path

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import ARP, Dot1Q, Ether

from .nfkit import NF, compile_nf, icmp, tcp, udp

S = 1_000_000_000
MS = 1_000_000
BASE = 1_700_000_000 * S            # a realistic epoch time, as in a capture


def _b(frame) -> bytes:
    return bytes(frame)


def flowcount() -> list[tuple[int, bytes]]:
    out = []
    for i in range(200):
        t = BASE + i * MS
        out.append((t, _b(tcp(f"10.0.0.{i % 7 + 1}", "10.0.1.1", 1000 + i % 13, 80, "A",
                                payload=b"x" * (i % 50)))))
        out.append((t, _b(udp("10.0.0.9", f"10.0.2.{i % 5 + 1}", 5353, 53))))
    out.append((BASE + S, _b(Ether() / Dot1Q(vlan=3) / IP(src="10.0.0.1", dst="10.0.0.2") / TCP())))
    out.append((BASE + S, _b(tcp("10.0.0.1", "10.0.0.2", 1, 2, frag=5))))
    out.append((BASE + S, _b(tcp("10.0.0.1", "10.0.0.2", 1, 2))[:14 + 20 + 10]))
    out.append((BASE + S, _b(Ether() / ARP())))
    return out


def firewall() -> list[tuple[int, bytes]]:
    out = []
    t = BASE
    for i in range(40):
        inside, outside = f"10.11.1.{i + 1}", f"10.11.0.{i % 5 + 2}"
        out.append((t, _b(tcp(inside, outside, 40000 + i, 5201, "S"))))
        out.append((t + 1000, _b(tcp(outside, inside, 5201, 40000 + i, "SA"))))
        out.append((t + 2000, _b(udp(inside, outside, 30000 + i, 9000))))
        out.append((t + 3000, _b(udp(outside, inside, 9000, 30000 + i))))
        out.append((t + 4000, _b(udp("10.11.0.99", inside, 9000, 30000 + i))))       # PORT
        out.append((t + 5000, _b(tcp(outside, inside, 50000 + i, (22, 80, 443, 8080)[i % 4],
                                     "S"))))
        t += 10 * MS
    out.append((t, _b(icmp("10.11.1.1", "10.11.0.2", 8, 9))))
    out.append((t, _b(icmp("10.11.0.2", "10.11.1.1", 0, 9))))
    out.append((t, _b(icmp("10.11.0.2", "10.11.1.1", 0, 10))))
    out.append((t, _b(icmp("10.11.0.2", "10.11.1.1", 3, 0, code=4))))
    out.append((t, _b(tcp("10.11.1.1", "10.11.0.2", 40000, 5201, "FA"))))
    out.append((t, _b(tcp("10.11.0.2", "10.11.1.1", 5201, 40000, "FA"))))
    out.append((t + 11 * S, _b(tcp("10.11.0.2", "10.11.1.1", 5201, 40000, "A"))))   # closed
    out.append((t + 11 * S, _b(tcp("10.11.1.2", "10.11.0.3", 40001, 5201, "R"))))
    out.append((t + 12 * S, _b(tcp("10.11.0.3", "10.11.1.2", 5201, 40001, "A"))))   # after RST
    out.append((t + 40 * S, _b(udp("10.11.0.2", "10.11.1.1", 9000, 30000))))       # expired
    out.append((t + 40 * S, _b(eth_gre("10.11.0.2", "10.11.1.1"))))
    out.append((t + 40 * S, _b(udp("10.11.0.2", "10.11.1.1", 53, 4000, frag=9))))
    return out


def eth_gre(src: str, dst: str):
    return Ether() / IP(src=src, dst=dst, proto=47) / (b"\x00" * 24)


def nat() -> list[tuple[int, bytes]]:
    """Outbound flows, then replies to the ports the NF allocated (learned by running the
    outbound frames through the reference interpreter), stray inbound, and a re-binding."""
    out = []
    t = BASE
    for i in range(60):
        inside = f"10.11.1.{i % 10 + 1}"
        remote = f"198.51.100.{i % 3 + 1}"
        out.append((t, _b(tcp(inside, remote, 40000 + i, 443, "S"))))
        out.append((t, _b(udp(inside, remote, 50000 + i, 53))))
        t += MS
    oracle = NF(compile_nf("nat"))
    replies = []
    for ts, frame in out:
        p = Ether(oracle.send(frame, ts).frame)
        l4 = p[TCP] if TCP in p else p[UDP]
        reply = Ether(src=p[Ether].dst, dst=p[Ether].src) / IP(src=p[IP].dst, dst=p[IP].src)
        if TCP in p:
            reply = reply / TCP(sport=l4.dport, dport=l4.sport, flags="SA")
        else:
            reply = reply / UDP(sport=l4.dport, dport=l4.sport) / b"answer"
        replies.append((t, _b(reply)))
        t += 1000
    out += replies
    out.append((t, _b(udp("203.0.113.5", "10.11.0.1", 53, 20000))))
    out.append((t, _b(icmp("10.11.1.1", "198.51.100.1"))))
    out.append((t, _b(tcp("198.51.100.1", "10.11.0.1", 50000, 22, "S"))))
    # expired, still its own
    out.append((t + 31 * S, _b(udp("10.11.1.2", "198.51.100.2", 50001, 53))))
    return out


def lb() -> list[tuple[int, bytes]]:
    out = []
    t = BASE
    for i in range(150):
        client = f"192.0.2.{i % 100 + 1}"
        out.append((t, _b(tcp(client, "10.11.0.100", 10000 + i, 80, "S"))))
        out.append((t, _b(udp(client, "10.11.0.100", 20000 + i, 53))))
        t += MS
    for i in range(150):
        client = f"192.0.2.{i % 100 + 1}"
        for backend in ("10.11.2.1", "10.11.2.2", "10.11.2.3", "10.11.2.4"):
            out.append((t, _b(tcp(backend, client, 80, 10000 + i, "SA"))))
        t += MS
    out.append((t, _b(tcp("192.0.2.1", "10.11.0.100", 1, 81, "S"))))
    return out


def ratelimit() -> list[tuple[int, bytes]]:
    out = []
    t = BASE
    for i in range(600):
        src = f"10.0.0.{i % 3 + 1}"
        out.append((t, _b(udp(src, "10.11.1.1", 1, 2, payload=b"r" * (100 + (i * 37) % 1400)))))
        t += (i % 7) * MS // 2
    return out


def heavyhitter() -> list[tuple[int, bytes]]:
    out = []
    t = BASE
    for i in range(720):
        out.append((t, _b(udp("10.0.0.1", "10.11.1.1", 1, 2, payload=b"h" * 1458))))
        if i % 4 == 0:
            out.append((t, _b(udp(f"10.0.1.{i % 200 + 1}", "10.11.1.1", 1, 2))))
        t += 10_000
    return out


def synguard() -> list[tuple[int, bytes]]:
    out = [(BASE, _b(tcp("192.0.2.1", "10.11.1.80", 40000, 80, "A")))]
    t = BASE + S
    for i in range(1100):
        out.append((t + i * 1000, _b(tcp(f"172.16.{i // 250}.{1 + i % 250}", "10.11.1.80",
                                         1024 + i, 80, "S"))))
    t += 2 * MS
    for i in range(30):
        out.append((t + i * 1000, _b(tcp("192.0.2.1", "10.11.1.80", 41000 + i, 80, "S"))))
    out.append((t + 20 * S, _b(tcp("172.16.0.1", "10.11.1.80", 1, 80, "S"))))
    return out


SCENARIOS = {"flowcount": flowcount, "firewall": firewall, "nat": nat, "lb": lb,
             "ratelimit": ratelimit, "heavyhitter": heavyhitter, "synguard": synguard}


def write_pcap(path: Path, records: list[tuple[int, bytes]]) -> None:
    """Write a nanosecond-resolution classic pcap (magic 0xa1b23c4d, LINKTYPE_ETHERNET)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1))
        for ts, frame in records:
            f.write(struct.pack("<IIII", ts // S, ts % S, len(frame), len(frame)))
            f.write(frame)
