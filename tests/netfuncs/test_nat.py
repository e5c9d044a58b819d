"""nat.nf: source NAT with per-flow port allocation, reverse translation, valid checksums."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP

from cora.compiler.ir import semantics as sem

from .nfkit import NF, checksums_valid, compile_nf, eth, icmp, ip, nf_fixtures, tcp, udp

PUBLIC = "10.11.0.1"
PORT_MIN, PORT_COUNT = 20000, 8192
IN1, IN2 = "10.11.1.10", "10.11.1.20"
REMOTE = "198.51.100.7"
S = 1_000_000_000
# stats indices (nat.nf STAT_* constants)
OUT, IN, NEW, NO_PORT, NO_BINDING, UNTRANSLATABLE = range(6)


program, nat = nf_fixtures("nat", "nat")


def first_candidate(src, dst, sport, dport, proto):
    """PORT_MIN + hash(5-tuple) mod PORT_COUNT, with cora's hash (seed 0)."""
    h = sem.hash32(0, [(ip(src), 32), (ip(dst), 32), (sport, 16), (dport, 16), (proto, 8)])
    return PORT_MIN + h % PORT_COUNT


def test_outbound_tcp_is_translated_with_valid_checksums(nat):
    frame = tcp(IN1, REMOTE, 40000, 443, "S", payload=b"hello")
    out = nat.send(frame, t := 1 * S)
    assert out.verdict == "pass"
    p = out.pkt
    assert p[IP].src == PUBLIC and p[IP].dst == REMOTE
    port = p[TCP].sport
    assert port == first_candidate(IN1, REMOTE, 40000, 443, 6)
    assert p[TCP].dport == 443 and bytes(p[TCP].payload) == b"hello"
    assert checksums_valid(out.frame)
    assert nat.table("nat_out") == {(ip(IN1), ip(REMOTE), 40000, 443, 6): (port,)}
    assert nat.table("nat_in") == {(6, port): (ip(IN1), 40000, ip(REMOTE), 443, t)}
    assert [nat.counter("stats", i) for i in (OUT, NEW)] == [1, 1]


def test_flow_keeps_its_port_and_replies_are_translated_back(nat):
    a = nat.send(tcp(IN1, REMOTE, 40000, 443, "S"), 0).pkt
    b = nat.send(tcp(IN1, REMOTE, 40000, 443, "A"), 1 * S).pkt
    assert a[TCP].sport == b[TCP].sport
    port = a[TCP].sport
    reply = tcp(REMOTE, PUBLIC, 443, port, "SA", payload=b"world")
    out = nat.send(reply, 2 * S)
    assert out.verdict == "pass"
    p = out.pkt
    assert (p[IP].src, p[IP].dst, p[TCP].sport, p[TCP].dport) == (REMOTE, IN1, 443, 40000)
    assert checksums_valid(out.frame)
    assert nat.get("nat_in", (6, port))[-1] == 2 * S         # last use refreshed
    assert nat.counter("stats", IN) == 1 and nat.counter("stats", NEW) == 1


def test_udp_translation_and_zero_checksum(nat):
    out = nat.send(udp(IN1, REMOTE, 5000, 53), 0)
    assert checksums_valid(out.frame) and out.pkt[UDP].chksum != 0
    port = out.pkt[UDP].sport
    reply = eth() / IP(src=REMOTE, dst=PUBLIC) / UDP(sport=53, dport=port, chksum=0) / b"answer"
    back = nat.send(reply, 1)
    assert back.verdict == "pass"
    assert (back.pkt[IP].dst, back.pkt[UDP].dport) == (IN1, 5000)
    assert back.pkt[UDP].chksum == 0                         # "no checksum" stays none
    assert checksums_valid(back.frame)


def test_each_flow_gets_its_own_port(nat):
    ports = set()
    for i, src in enumerate([IN1, IN2, "10.11.1.30", "10.11.1.40"]):
        for dport in (80, 443):
            p = nat.send(tcp(src, REMOTE, 40000, dport, "S"), i).pkt
            assert p[IP].src == PUBLIC and PORT_MIN <= p[TCP].sport < PORT_MIN + PORT_COUNT
            ports.add(p[TCP].sport)
    assert len(ports) == 8
    assert len(nat.table("nat_in")) == 8 and len(nat.table("nat_out")) == 8


def test_return_traffic_must_come_from_the_remote_endpoint(nat):
    port = nat.send(udp(IN1, REMOTE, 5000, 53), 0).pkt[UDP].sport
    before = nat.counter("stats", NO_BINDING)
    assert nat.send(udp("203.0.113.9", PUBLIC, 53, port), 1).verdict == "drop"   # other host
    assert nat.send(udp(REMOTE, PUBLIC, 54, port), 1).verdict == "drop"          # other port
    assert nat.send(tcp(REMOTE, PUBLIC, 53, port, "A"), 1).verdict == "drop"     # other proto
    assert nat.counter("stats", NO_BINDING) == before + 3


def test_inbound_outside_the_nat_range_passes_untouched(nat):
    frame = tcp(REMOTE, PUBLIC, 50000, 22, "S")
    out = nat.send(frame)
    assert out.verdict == "pass" and out.frame == bytes(frame)
    frame = tcp(REMOTE, PUBLIC, 50000, PORT_MIN + PORT_COUNT, "S")
    assert nat.send(frame).frame == bytes(frame)
    assert nat.send(tcp(REMOTE, PUBLIC, 50000, PORT_MIN, "S")).verdict == "drop"


def test_untranslatable_and_internal_traffic(nat):
    assert nat.send(icmp(IN1, REMOTE)).verdict == "drop"
    assert nat.send(udp(IN1, REMOTE, 1, 2, frag=10)).verdict == "drop"
    assert nat.counter("stats", UNTRANSLATABLE) == 2
    internal = tcp(IN1, IN2, 1, 2)
    assert nat.send(internal).frame == bytes(internal)
    transit = tcp("192.0.2.1", REMOTE, 1, 2)
    out = nat.send(transit)
    assert out.verdict == "pass" and out.frame == bytes(transit)
    assert nat.table("nat_in") == {}


def test_expired_binding_is_not_used_for_return_traffic(nat):
    port = nat.send(udp(IN1, REMOTE, 5000, 53), 0).pkt[UDP].sport
    assert nat.send(udp(REMOTE, PUBLIC, 53, port), 30 * S).verdict == "pass"
    assert nat.send(udp(REMOTE, PUBLIC, 53, port), 61 * S).verdict == "drop"


def test_port_exhaustion_and_reuse_after_timeout(tmp_path):
    """A copy with 2 ports and 2 probes: the third flow finds no port until one expires."""
    nat = NF(compile_nf("nat", tmp_path, consts={"PORT_COUNT": "2", "PROBES": "2"}))
    p1 = nat.send(udp(IN1, REMOTE, 1, 53), 0).pkt[UDP].sport
    p2 = nat.send(udp(IN1, REMOTE, 2, 53), 0).pkt[UDP].sport
    assert {p1, p2} == {PORT_MIN, PORT_MIN + 1}
    assert nat.send(udp(IN1, REMOTE, 3, 53), 1 * S).verdict == "drop"
    assert nat.counter("stats", NO_PORT) == 1
    # flow 1 stays active, flow 2 idles out; flow 3 then takes flow 2's port
    nat.send(udp(IN1, REMOTE, 1, 53), 20 * S)
    out = nat.send(udp(IN1, REMOTE, 3, 53), 40 * S)
    assert out.verdict == "pass" and out.pkt[UDP].sport == p2
    # flow 2 comes back: its old port is taken, no other port is free
    assert nat.send(udp(IN1, REMOTE, 2, 53), 41 * S).verdict == "drop"
    # replies for flow 3 go to flow 3
    back = nat.send(udp(REMOTE, PUBLIC, 53, p2), 42 * S).pkt
    assert back[UDP].dport == 3


def test_tcp_bindings_live_longer_than_udp(nat):
    port = nat.send(tcp(IN1, REMOTE, 40000, 443, "S"), 0).pkt[TCP].sport
    assert nat.send(tcp(REMOTE, PUBLIC, 443, port, "A"), 200 * S).verdict == "pass"
    assert nat.send(tcp(REMOTE, PUBLIC, 443, port, "A"), 501 * S).verdict == "drop"


flows = st.lists(st.tuples(st.sampled_from(["10.11.1.1", "10.11.1.2", "10.11.1.3"]),
                           st.integers(1024, 65535),
                           st.sampled_from(["198.51.100.1", "198.51.100.2", "203.0.113.7"]),
                           st.sampled_from([53, 80, 443, 8080]),
                           st.sampled_from(["tcp", "udp"])),
                 min_size=1, max_size=30, unique=True)


@pytest.fixture(scope="module")
def crowded_program(tmp_path_factory):
    """A copy with 48 public ports: 30 flows then collide often and probing matters."""
    return compile_nf("nat", tmp_path_factory.mktemp("nat"), consts={"PORT_COUNT": "48"})


@pytest.mark.slow
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flows)
def test_translation_is_one_to_one_and_reversible(crowded_program, flows):
    """Any set of concurrent flows: distinct public ports per protocol (or a NO_PORT drop when
    all probes are taken), valid checksums both ways, and every reply lands on the inside
    endpoint of its own flow."""
    nat = NF(crowded_program)
    mk = {"tcp": lambda s, d, sp, dp: tcp(s, d, sp, dp, "PA", payload=b"q"),
          "udp": lambda s, d, sp, dp: udp(s, d, sp, dp)}
    public = {}
    for i, (src, sport, dst, dport, proto) in enumerate(flows):
        no_port = nat.counter("stats", NO_PORT)
        out = nat.send(mk[proto](src, dst, sport, dport), i * 1000)
        if out.verdict == "drop":
            assert nat.counter("stats", NO_PORT) == no_port + 1
            continue
        assert out.verdict == "pass" and checksums_valid(out.frame)
        p = out.pkt
        l4 = p[TCP] if proto == "tcp" else p[UDP]
        assert p[IP].src == PUBLIC and (p[IP].dst, l4.dport) == (dst, dport)
        assert PORT_MIN <= l4.sport < PORT_MIN + 48
        assert (proto, l4.sport) not in public
        public[(proto, l4.sport)] = (src, sport, dst, dport)
    for (proto, port), (src, sport, dst, dport) in public.items():
        back = nat.send(mk[proto](dst, PUBLIC, dport, port), 10**6)
        assert back.verdict == "pass" and checksums_valid(back.frame)
        l4 = back.pkt[TCP] if proto == "tcp" else back.pkt[UDP]
        assert (back.pkt[IP].src, back.pkt[IP].dst, l4.sport, l4.dport) == (dst, src, dport, sport)
