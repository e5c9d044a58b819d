"""The INA wire protocol: round trips, checked lengths and fields, and a parser that never
crashes on arbitrary bytes (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cora.ina import protocol as P
from cora.ina.ps import SlotPool
from cora.ina.worker import encode_chunks


def test_sizes_fit_a_1500_byte_mtu():
    assert P.HEADER_BYTES == 20 and P.PACKET_BYTES == 20 + 4 * P.K
    assert 20 + 8 + P.PACKET_BYTES <= 1500 < 20 + 8 + P.HEADER_BYTES + 4 * 2 * P.K


@settings(deadline=None)  # the machine is shared: no per-example time limit
@given(job=st.integers(0, 0xFFFF), slot=st.integers(0, P.MAX_SLOTS - 1), copy=st.integers(0, 1),
       offset=st.integers(0, 2**32 - 1), total=st.integers(1, 2**32 - 1),
       n=st.integers(1, P.MAX_WORKERS), data=st.data(),
       flags=st.integers(0, 31), values=st.lists(st.integers(-2**31, 2**31 - 1), max_size=P.K))
def test_round_trip(job, slot, copy, offset, total, n, data, flags, values):
    w = data.draw(st.integers(0, n - 1))
    wire = P.encode(job, slot, copy, offset, total, w, n, np.array(values, np.int32), flags=flags)
    assert len(wire) == P.PACKET_BYTES
    p = P.decode(wire)
    assert (p.job, p.slot, p.copy, p.offset, p.total, p.worker, p.n_workers, p.flags) == \
        (job, slot, copy, offset, total, w, n, flags)
    expect = np.zeros(P.K, np.int32)
    expect[:len(values)] = values
    assert np.array_equal(p.values, expect) and p.encode() == wire


def test_vectorised_encoding_matches_single_packets():
    q = np.arange(-300, 3 * P.K - 300, dtype=np.int32)[:-5]
    recs = encode_chunks(q, job=9, worker=1, n_workers=3, slots=2)
    assert recs.shape == (3,)
    for c in range(3):
        chunk = q[c * P.K:(c + 1) * P.K]
        assert recs[c].tobytes() == P.encode(9, c % 2, (c // 2) % 2, c * P.K, q.size, 1, 3, chunk)
    many = P.decode_many(recs.tobytes())
    assert np.array_equal(many["values"].ravel()[:q.size], q)


@pytest.mark.parametrize("bad, what", [
    (dict(job=70000), "job id"), (dict(slot=P.MAX_SLOTS), "slot"), (dict(copy=2), "copy"),
    (dict(n_workers=0), "worker count"), (dict(worker=3), "worker id"),
    (dict(total=0), "total"), (dict(flags=0x20), "flag"),
])
def test_encode_rejects_out_of_range_fields(bad, what):
    args = dict(job=1, slot=0, copy=0, offset=0, total=10, worker=0, n_workers=3, values=None)
    args.update(bad)
    with pytest.raises(ValueError, match=what):
        P.encode(**args)


def test_encode_rejects_wrong_values():
    with pytest.raises(ValueError, match="int32"):
        P.encode(1, 0, 0, 0, 1, 0, 1, np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="at most"):
        P.encode(1, 0, 0, 0, 1, 0, 1, np.zeros(P.K + 1, np.int32))


GOOD = P.encode(1, 2, 1, 512, 1000, 0, 2, np.arange(P.K, dtype=np.int32))


@pytest.mark.parametrize("data", [b"", GOOD[:-1], GOOD + b"\0", GOOD[:P.HEADER_BYTES],
                                  b"\0" * P.PACKET_BYTES])
def test_decode_rejects_lengths_and_garbage(data):
    with pytest.raises(P.MalformedPacket):
        P.decode(data)


@pytest.mark.parametrize("offset, value", [(0, 0x00), (2, 2), (3, 0x80), (11, 1), (9, 0),
                                           (9, P.MAX_WORKERS + 1), (8, 2), (16, 0)])
def test_decode_rejects_each_bad_field(offset, value):
    buf = bytearray(GOOD)
    buf[offset] = value
    if offset == 16:  # total = 0
        buf[16:20] = b"\0\0\0\0"
    with pytest.raises(P.MalformedPacket):
        P.decode(bytes(buf))


def _pool() -> SlotPool:
    pool = SlotPool(8)
    pool.allocate(1, 4, 2)
    return pool


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2 * P.PACKET_BYTES))
def test_arbitrary_bytes_never_crash_parser_or_aggregator(data):
    try:
        P.decode(data)
    except P.MalformedPacket:
        pass
    for out, _ in _pool().handle(data, ("10.0.0.1", 1)):
        P.decode(out)  # whatever the aggregator sends is well formed


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, P.PACKET_BYTES - 1), st.integers(0, 255)),
                min_size=1, max_size=6))
def test_mutated_packets_never_crash_parser_or_aggregator(mutations):
    buf = bytearray(GOOD)
    for i, b in mutations:
        buf[i] = b
    try:
        P.decode(bytes(buf))
    except P.MalformedPacket:
        pass
    pool = _pool()
    for _ in range(2):  # twice: the second is a duplicate or retransmission
        for out, _ in pool.handle(bytes(buf), ("10.0.0.1", 1)):
            P.decode(out)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, P.HEADER_BYTES - 1), st.integers(0, 255)),
                max_size=4), st.integers(-2, 2))
def test_fast_header_parser_agrees_with_the_vectorised_decoder(mutations, extra):
    buf = bytearray(GOOD)
    for i, b in mutations:
        buf[i] = b
    data = bytes(buf[:len(buf) + extra]) if extra < 0 else bytes(buf) + bytes(extra)
    try:
        rec = P.decode_many(data, 1)[0]
    except P.MalformedPacket:
        with pytest.raises(P.MalformedPacket):
            P.parse_header(data)
        return
    slot, copy = P.split_slot(int(rec["slot"]))
    assert P.parse_header(data) == (int(rec["flags"]), int(rec["job"]), slot, copy,
                                    int(rec["worker"]), int(rec["n_workers"]),
                                    int(rec["error"]), int(rec["offset"]), int(rec["total"]))
    assert np.array_equal(P.values_of(data), rec["values"])
