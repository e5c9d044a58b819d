"""Hypothesis strategies for Ethernet frames: well-formed stacks, VLAN tags, IPv4 options,
fragments, IPv6, TCP/UDP/ICMP, and truncated or corrupted variants of them (scapy builds)."""

from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import Raw

macs = st.sampled_from(["02:00:00:00:00:01", "02:00:00:00:00:02", "ff:ff:ff:ff:ff:ff",
                        "00:11:22:33:44:55"])
ip4s = st.sampled_from(["10.0.0.1", "10.1.2.3", "192.168.1.9", "172.16.0.5", "8.8.8.8",
                        "10.11.1.20", "203.0.113.7"])
ip6s = st.sampled_from(["2001:db8::1", "2001:db8::2", "fe80::1", "::1"])
ports = st.sampled_from([0, 22, 53, 80, 443, 1024, 40000, 65535]) | st.integers(0, 65535)


@st.composite
def l4(draw, v6=False):
    kind = draw(st.sampled_from(["tcp", "udp", "icmp", "raw"] if not v6 else ["tcp", "udp", "raw"]))
    if kind == "tcp":
        return TCP(sport=draw(ports), dport=draw(ports), flags=draw(st.integers(0, 255)),
                   seq=draw(st.integers(0, 2**32 - 1)))
    if kind == "udp":
        return UDP(sport=draw(ports), dport=draw(ports))
    if kind == "icmp":
        return ICMP(type=draw(st.sampled_from([0, 8, 3])), id=draw(st.integers(0, 65535)),
                    seq=draw(st.integers(0, 65535)))
    return Raw(b"\x01\x02")


@st.composite
def frames(draw):
    """bytes of one frame, sometimes malformed."""
    eth = Ether(src=draw(macs), dst=draw(macs))
    if draw(st.booleans()):
        eth = eth / Dot1Q(vlan=draw(st.integers(0, 4095)), prio=draw(st.integers(0, 7)))
    if draw(st.integers(0, 3)) == 0:
        pkt = (eth / IPv6(src=draw(ip6s), dst=draw(ip6s), hlim=draw(st.integers(0, 255)))
               / draw(l4(v6=True)))
    else:
        opts = b"\x01" * draw(st.sampled_from([0, 0, 4, 8, 40]))
        ip = IP(src=draw(ip4s), dst=draw(ip4s), ttl=draw(st.integers(0, 255)), options=opts,
                frag=draw(st.sampled_from([0, 0, 0, 1, 100])), flags=draw(st.integers(0, 7)),
                id=draw(st.integers(0, 65535)))
        pkt = eth / ip / draw(l4())
    pkt = pkt / Raw(draw(st.binary(max_size=40)))
    raw = bytearray(bytes(pkt))
    mode = draw(st.integers(0, 9))
    if mode == 0:  # truncate anywhere
        raw = raw[:draw(st.integers(0, len(raw)))]
    elif mode == 1 and len(raw) > 20:  # corrupt a header byte (IHL, lengths, protocol ...)
        i = draw(st.integers(12, min(len(raw) - 1, 70)))
        raw[i] = draw(st.integers(0, 255))
    elif mode == 2:  # zero UDP/TCP checksum or padding
        raw += bytes(draw(st.integers(0, 30)))
    return bytes(raw)


def sample_frames(count: int) -> list[bytes]:
    """``count`` frames drawn from :func:`frames` for a coverage check (not a property test).

    Hypothesis's ``.example()`` is the only public way to draw outside ``@given``, and it warns
    that it is meant for interactive use; a coverage check wants exactly that (a batch of typical
    frames, no shrinking), and the list of 300 frames is too large for one ``@given`` example
    buffer. The warning is silenced here, in one place, instead of in every test run.
    """
    import warnings

    from hypothesis.errors import NonInteractiveExampleWarning

    strategy = frames()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonInteractiveExampleWarning)
        return [strategy.example() for _ in range(count)]
