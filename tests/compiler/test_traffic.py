"""Traffic splits (compiler/offload/traffic.py) and the profile's traffic fields: the flow
hash, the classifier-key analysis, partitionable state, TrafficSplit serialisation."""

from __future__ import annotations

import glob
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cora.compiler.driver import compile_file
from cora.compiler.offload.profile import (
    Profile,
    profile_from_frames,
    synthetic_profile,
    zipf_frames,
    zipf_profile,
)
from cora.compiler.offload.traffic import (
    FIVE_TUPLE,
    TrafficError,
    TrafficSplit,
    classifier_key,
    flow_bucket,
    flow_key,
    key_words,
    partitionable_state,
)

REPO = Path(__file__).resolve().parents[2]
NF = {Path(p).stem: p for p in glob.glob(str(REPO / "netfuncs" / "*.nf"))}


def _nf(name):
    return compile_file(NF[name])


def test_flow_bucket_known_values_and_range():
    # by hand from HASH_STEPS: key (1,) -> h = 1; h += h<<10 -> 1025; h ^= h>>6 -> 1041;
    # final: 1041 + 8328 = 9369; ^ (9369>>11 = 4) = 9373; + (9373<<15) = 307143837
    h = 307143837
    assert flow_bucket([1], 1 << 16) == ((h * 0x9E3779B1) & 0xFFFFFFFF) >> 16
    assert flow_bucket([1], 1) == 0
    for n in (2, 16, 256):
        assert all(0 <= flow_bucket([i, i * 7], n) < n for i in range(200))
    with pytest.raises(TrafficError):
        flow_bucket([1], 3)


def test_flow_bucket_spreads_flows():
    counts = [0] * 16
    for i in range(16_000):
        counts[flow_bucket([0x0A000000 + i, 80], 16)] += 1
    assert min(counts) > 700 and max(counts) < 1300   # 1000 expected per bucket


def test_key_words_split_wide_fields():
    assert key_words([0x1_0000_0002, 7], [64, 16]) == [1, 2, 7]
    assert key_words([5], [8]) == [5]


def test_classifier_keys_of_the_library():
    assert classifier_key(_nf("flowcount")).fields == FIVE_TUPLE
    assert classifier_key(_nf("heavyhitter")).fields == ("ipv4.saddr",)
    assert classifier_key(_nf("ratelimit")).fields == ("ipv4.saddr",)
    assert partitionable_state(_nf("flowcount"), FIVE_TUPLE) == {"flows"}
    hh = _nf("heavyhitter")
    # the sketch is indexed by hashes of the source: cells are shared between sources
    assert partitionable_state(hh, ("ipv4.saddr",)) == {"heavy"}
    assert "stats" not in partitionable_state(_nf("ratelimit"), ("ipv4.saddr",))
    assert partitionable_state(_nf("ratelimit"), ("ipv4.saddr",)) == {"buckets"}


def test_every_library_nf_has_a_key():
    for name in NF:
        p = _nf(name)
        key = classifier_key(p)
        assert key.fields and all(w <= 32 for w in key.widths)
        assert partitionable_state(p, key) <= {s.name for s in p.states}


def test_traffic_split_json_round_trip_and_checks():
    t = TrafficSplit(FIVE_TUPLE, 64, frozenset({1, 5}), ((1, 2, 3, 4, 6),))
    assert TrafficSplit.from_json(t.to_json()) == t
    with pytest.raises(TrafficError):
        TrafficSplit(FIVE_TUPLE, 64, frozenset({64}))
    with pytest.raises(TrafficError):
        TrafficSplit(("ipv4.nope",), 64)
    with pytest.raises(TrafficError):
        TrafficSplit.from_json({"key_fields": ["ipv4.saddr"]})
    with pytest.raises(TrafficError):
        TrafficSplit(("ipv4.saddr",), 64, heavy_keys=((1, 2),))


def test_paths_of_frames():
    frames = zipf_frames(50, 1.0, 200, seed=3)
    t_all = TrafficSplit(FIVE_TUPLE, 16, frozenset(range(16)))
    t_none = TrafficSplit(FIVE_TUPLE, 16)
    assert all(t_all.frame_path(f) == "nic" for _, f in frames)
    assert all(t_none.frame_path(f) == "host" for _, f in frames)
    key = flow_key(frames[0][1], FIVE_TUPLE)
    assert key is not None and TrafficSplit(FIVE_TUPLE, 16, heavy_keys=(key,)).nic_path(key)
    assert flow_key(b"\x00" * 60, FIVE_TUPLE) is None   # not IPv4: host path
    assert t_all.frame_path(b"\x00" * 60) == "host"


def test_zipf_frames_are_deterministic_and_skewed():
    a = zipf_frames(1000, 1.2, 5000, seed=7)
    assert a == zipf_frames(1000, 1.2, 5000, seed=7)
    assert a != zipf_frames(1000, 1.2, 5000, seed=8)
    prof = profile_from_frames(_nf("flowcount"), a, heavy_k=10)
    assert prof.key_fields == FIVE_TUPLE and prof.keyless_packets == 0
    assert sum(prof.bucket_packets) == 5000
    # Zipf 1.2 over 1000 flows: the top 10 flows carry about half the packets
    assert sum(p for _, p in prof.heavy_flows) > 0.4 * 5000
    assert sum(prof.bucket_flows) == len({f for _, f in a})   # distinct flows drawn


def test_profile_traffic_fields_serialise():
    prof = zipf_profile(_nf("flowcount"), n_flows=200, s=1.0, n_packets=1000, n_buckets=32,
                        heavy_k=5)
    again = Profile.from_json(prof.to_json())
    assert again.bucket_packets == prof.bucket_packets
    assert again.bucket_flows == prof.bucket_flows
    assert again.heavy_flows == prof.heavy_flows
    assert again.key_fields == prof.key_fields and again.n_buckets == 32
    assert again.block_freq == pytest.approx(prof.block_freq)
    syn = synthetic_profile(_nf("flowcount"), n_buckets=16, n_flows=160)
    assert syn.bucket_flows == [10] * 16 and sum(syn.bucket_share) == pytest.approx(1.0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=6),
       st.sampled_from([1, 2, 64, 256, 4096]))
def test_flow_bucket_is_in_range(words, n):
    assert 0 <= flow_bucket(words, n) < n
