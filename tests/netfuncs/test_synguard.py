"""synguard.nf: detection windows, the attack hold time, known sources, per-source SYN limit."""

from __future__ import annotations

import pytest
from scapy.layers.l2 import ARP, Ether

from .nfkit import NF, compile_nf, ip, tcp, udp

S = 1_000_000_000
SERVER = "10.11.1.80"
SYN, DROP_UNKNOWN, DROP_RATE, ATTACK = range(4)


@pytest.fixture(scope="module")
def small_program(tmp_path_factory):
    """A copy with a 20-SYN threshold and 3 SYNs per source, to keep frame counts small."""
    return compile_nf("synguard", tmp_path_factory.mktemp("synguard"),
                      consts={"SYN_THRESHOLD": "20", "SRC_SYN_LIMIT": "3"})


@pytest.fixture
def sg(small_program):
    return NF(small_program)


def syn(src, dst=SERVER, sport=40000):
    return tcp(src, dst, sport, 80, "S")


def flood(sg, n, t, dst=SERVER):
    """n SYNs from n distinct spoofed sources at time t; returns their verdicts."""
    return [sg.send(syn(f"172.16.{i // 250}.{1 + i % 250}", dst), t).verdict for i in range(n)]


def test_peacetime_syns_pass_and_acks_make_sources_known(sg):
    assert sg.send(syn("192.0.2.1"), 1 * S).verdict == "pass"
    assert sg.send(tcp("192.0.2.1", SERVER, 40000, 80, "A"), 2 * S).verdict == "pass"
    assert sg.table("known") == {(ip("192.0.2.1"),): (2 * S,)}
    # SYN-ACK, RST and RST-ACK do not make a source known
    for flags in ("SA", "R", "RA"):
        sg.send(tcp("192.0.2.2", SERVER, 40000, 80, flags), 3 * S)
    assert (ip("192.0.2.2"),) not in sg.table("known")
    assert sg.get("dst_windows", (ip(SERVER),)) == (1 * S, 1, 0)


def test_known_record_is_refreshed_at_most_once_per_second(sg):
    for t in (2 * S, 2 * S + S // 2, 3 * S - 1):
        sg.send(tcp("192.0.2.1", SERVER, 40000, 80, "A"), t)
    assert sg.get("known", (ip("192.0.2.1"),)) == (2 * S,)
    sg.send(tcp("192.0.2.1", SERVER, 40000, 80, "A"), 3 * S)
    assert sg.get("known", (ip("192.0.2.1"),)) == (3 * S,)


def test_flood_turns_on_mitigation_for_unknown_sources(sg):
    verdicts = flood(sg, 25, 5 * S)
    assert verdicts == ["pass"] * 20 + ["drop"] * 5          # the 21st SYN crosses
    assert sg.get("dst_windows", (ip(SERVER),)) == (5 * S, 25, 15 * S)
    assert sg.counter("stats", SYN) == 25
    assert sg.counter("stats", DROP_UNKNOWN) == 5
    assert sg.counter("stats", ATTACK) == 1
    # other destinations are not affected
    assert sg.send(syn("172.16.9.9", "10.11.1.81"), 5 * S).verdict == "pass"


def test_known_sources_pass_at_a_limited_rate_during_an_attack(sg):
    sg.send(tcp("192.0.2.1", SERVER, 40000, 80, "A"), 1 * S)      # known from peacetime
    flood(sg, 21, 5 * S)
    verdicts = [sg.send(syn("192.0.2.1", sport=41000 + i), 5 * S + i).verdict for i in range(5)]
    assert verdicts == ["pass"] * 3 + ["drop"] * 2
    assert sg.counter("stats", DROP_RATE) == 2
    # next window of that source: allowed again
    assert sg.send(syn("192.0.2.1", sport=42000), 6 * S + 10).verdict == "pass"


def test_acks_during_an_attack_do_not_make_sources_known(sg):
    flood(sg, 21, 5 * S)
    sg.send(tcp("198.51.100.1", SERVER, 40000, 80, "A"), 5 * S + 1)
    assert (ip("198.51.100.1"),) not in sg.table("known")
    assert sg.send(syn("198.51.100.1"), 5 * S + 2).verdict == "drop"


def test_attack_ends_after_the_hold_time(sg):
    flood(sg, 21, 5 * S)
    assert sg.send(syn("192.0.2.99"), 14 * S).verdict == "drop"
    assert sg.send(syn("192.0.2.99"), 15 * S).verdict == "pass"


def test_syns_spread_over_windows_do_not_trigger(sg):
    for w in range(5):
        assert flood(sg, 20, 10 * S + w * S) == ["pass"] * 20
    assert sg.counter("stats", ATTACK) == 0


def test_known_records_expire_after_an_hour(sg):
    sg.send(tcp("192.0.2.1", SERVER, 40000, 80, "A"), 1 * S)
    t = 1 * S + 3600 * S + 1
    flood(sg, 21, t)
    assert sg.send(syn("192.0.2.1"), t).verdict == "drop"
    assert sg.counter("stats", DROP_UNKNOWN) == 2


def test_non_syn_and_non_tcp_always_pass(sg):
    flood(sg, 30, 5 * S)
    for frame in (tcp("172.16.0.1", SERVER, 1, 80, "A"), tcp("172.16.0.1", SERVER, 1, 80, "R"),
                  udp("172.16.0.1", SERVER, 1, 80), Ether() / ARP()):
        out = sg.send(frame, 5 * S)
        assert out.verdict == "pass" and out.frame == bytes(frame)


@pytest.mark.slow
def test_shipped_thresholds():
    """The shipped NF: 1,000 SYNs in a window pass, the 1,001st turns mitigation on."""
    sg = NF(compile_nf("synguard"))
    verdicts = flood(sg, 1001, 3 * S)
    assert verdicts.count("pass") == 1000 and verdicts[-1] == "drop"
    assert sg.get("dst_windows", (ip(SERVER),)) == (3 * S, 1001, 13 * S)
