"""heavyhitter.nf: count-min estimates, the threshold report, and the three actions."""

from __future__ import annotations

import pytest
from scapy.layers.inet import IP
from scapy.layers.l2 import ARP, Ether

from .nfkit import NF, checksums_valid, compile_nf, ip, program_fixture, udp

THRESHOLD = 1_000_000
DSCP_LE = 1


def frame_of(src: str, frame_len: int = 1500):
    f = udp(src, "10.11.1.1", 1000, 2000, payload=b"h" * (frame_len - 42))
    assert len(f) == frame_len
    return bytes(f)


program = program_fixture("heavyhitter")


def test_source_is_reported_and_marked_once_over_the_threshold(program):
    hh = NF(program)
    frame = frame_of("10.0.0.1")
    needed = -(-THRESHOLD // 1500)                       # 667 frames reach 1,000,500 bytes
    for i in range(needed - 1):
        out = hh.send(frame, i)
        assert out.verdict == "pass" and out.frame == frame
    assert hh.table("heavy") == {}
    out = hh.send(frame, 10_000)
    assert out.verdict == "pass"
    assert out.pkt[IP].tos >> 2 == DSCP_LE and out.pkt[IP].tos & 3 == 0
    assert checksums_valid(out.frame)
    assert hh.table("heavy") == {(ip("10.0.0.1"),): (needed * 1500, 10_000)}
    hh.send(frame, 20_000)
    # the estimate follows the bytes; the first crossing time stays
    assert hh.get("heavy", (ip("10.0.0.1"),)) == ((needed + 1) * 1500, 10_000)


@pytest.mark.slow
def test_small_sources_are_not_reported_and_estimates_never_undercount(program):
    hh = NF(program)
    sent = {}
    for i in range(300):
        src = f"10.0.{i % 50}.{1 + i % 7}"
        frame = frame_of(src, 100 + i)
        sent[src] = sent.get(src, 0) + len(frame)
        assert hh.send(frame, i).frame == frame
    assert hh.table("heavy") == {}
    # a heavy source among them is found with an estimate >= its true byte count
    big = frame_of("10.9.9.9")
    for i in range(700):
        hh.send(big, 1000 + i)
    (key, (estimate, _)), = hh.table("heavy").items()
    assert key == (ip("10.9.9.9"),)
    assert estimate >= 700 * 1500


def test_drop_action(tmp_path):
    hh = NF(compile_nf("heavyhitter", tmp_path,
                       consts={"ACTION": "ACTION_DROP", "THRESHOLD_BYTES": "10_000"}))
    verdicts = [hh.send(frame_of("10.0.0.1", 1000), i).verdict for i in range(12)]
    assert verdicts == ["pass"] * 9 + ["drop"] * 3
    assert hh.send(frame_of("10.0.0.2", 1000), 99).verdict == "pass"
    assert hh.get("heavy", (ip("10.0.0.1"),)) == (12_000, 9)


def test_report_only_action(tmp_path):
    hh = NF(compile_nf("heavyhitter", tmp_path,
                       consts={"ACTION": "ACTION_REPORT", "THRESHOLD_BYTES": "10_000"}))
    for i in range(12):
        frame = frame_of("10.0.0.1", 1000)
        out = hh.send(frame, i)
        assert out.verdict == "pass" and out.frame == frame
    assert hh.get("heavy", (ip("10.0.0.1"),)) == (12_000, 9)


def test_full_report_map_still_acts(tmp_path):
    hh = NF(compile_nf("heavyhitter", tmp_path,
                       consts={"ACTION": "ACTION_DROP", "THRESHOLD_BYTES": "1000"},
                       replace={"state heavy: map<ip4, Report>[1024]":
                                "state heavy: map<ip4, Report>[2]"}))
    for src in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        assert hh.send(frame_of(src, 1000), 0).verdict == "drop"
    assert len(hh.table("heavy")) == 2


def test_non_ipv4_passes(program):
    hh = NF(program)
    arp = bytes(Ether() / ARP())
    for _ in range(10):
        assert hh.send(arp).frame == arp
    assert hh.table("heavy") == {}
