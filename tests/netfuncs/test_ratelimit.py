"""ratelimit.nf: the per-source token bucket, exactly, against a Python model."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.l2 import ARP, Ether

from .nfkit import NF, ip, nf_fixtures, udp

RATE_BYTES_PER_S = 125_000
BURST_BYTES = 15_000
NS = 1_000_000_000
NANO_BURST = BURST_BYTES * NS
FILL_NS = NANO_BURST // RATE_BYTES_PER_S
PASSED, DROPPED = 0, 1


def frame_of(src: str, frame_len: int):
    """A UDP frame of exactly ``frame_len`` bytes (>= 42) from ``src``."""
    f = udp(src, "10.11.1.1", 1000, 2000, payload=b"p" * (frame_len - 42))
    assert len(f) == frame_len
    return f


program, rl = nf_fixtures("ratelimit", "rl")


def test_burst_then_drop_at_one_instant(rl):
    verdicts = [rl.send(frame_of("10.0.0.1", 1000), 5 * NS).verdict for _ in range(20)]
    assert verdicts == ["pass"] * 15 + ["drop"] * 5
    assert rl.get("buckets", (ip("10.0.0.1"),)) == (0, 5 * NS)
    assert (rl.counter("stats", PASSED), rl.counter("stats", DROPPED)) == (15, 5)


def test_refill_at_the_configured_rate(rl):
    t0 = 1 * NS
    for _ in range(15):
        rl.send(frame_of("10.0.0.1", 1000), t0)
    # 1000 bytes at 125,000 B/s take exactly 8 ms
    assert rl.send(frame_of("10.0.0.1", 1000), t0 + 7_999_999).verdict == "drop"
    assert rl.send(frame_of("10.0.0.1", 1000), t0 + 8_000_000).verdict == "pass"
    assert rl.get("buckets", (ip("10.0.0.1"),)) == (0, t0 + 8_000_000)


def test_sources_have_separate_buckets(rl):
    for _ in range(15):
        assert rl.send(frame_of("10.0.0.1", 1000), 0).verdict == "pass"
    assert rl.send(frame_of("10.0.0.1", 1000), 0).verdict == "drop"
    assert rl.send(frame_of("10.0.0.2", 1000), 0).verdict == "pass"
    assert len(rl.table("buckets")) == 2


def test_bucket_never_holds_more_than_the_burst(rl):
    rl.send(frame_of("10.0.0.1", 1500), 0)
    verdicts = [rl.send(frame_of("10.0.0.1", 1500), 3600 * NS).verdict for _ in range(12)]
    assert verdicts == ["pass"] * 10 + ["drop"] * 2


def test_non_ipv4_passes_and_is_not_policed(rl):
    for _ in range(100):
        assert rl.send(Ether() / ARP(), 0).verdict == "pass"
    assert rl.table("buckets") == {}


def test_clock_going_backwards_refills_nothing(rl):
    for _ in range(15):
        rl.send(frame_of("10.0.0.1", 1000), 10 * NS)
    assert rl.send(frame_of("10.0.0.1", 1000), 9 * NS).verdict == "drop"
    assert rl.get("buckets", (ip("10.0.0.1"),)) == (0, 10 * NS)


def model(events):
    """The token bucket of ratelimit.nf's header comment, in nano-bytes."""
    buckets, out = {}, []
    for src, _dt_ns, length, t in events:
        tokens, last = buckets.get(src, (NANO_BURST, t))
        if src in buckets and t > last:
            tokens = min(NANO_BURST, tokens + min(t - last, FILL_NS) * RATE_BYTES_PER_S)
        last = max(last, t)
        cost = length * NS
        if tokens < cost:
            out.append("drop")
            buckets[src] = (tokens, last)
        else:
            out.append("pass")
            buckets[src] = (tokens - cost, last)
    return out, buckets


@pytest.mark.slow
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["10.0.0.1", "10.0.0.2"]),
                          st.integers(-2_000_000, 30_000_000),
                          st.integers(60, 1514)), min_size=1, max_size=60))
def test_matches_the_model(program, steps):
    rl = NF(program)
    t = 10 * NS
    events = []
    for src, dt, length in steps:
        t += dt
        events.append((src, dt, length, t))
    want, buckets = model(events)
    got = [rl.send(frame_of(src, length), t).verdict for src, _, length, t in events]
    assert got == want
    assert rl.table("buckets") == {(ip(s),): v for s, v in buckets.items()}
