"""The reference aggregator's semantics (the specification of the NF to come): bitmap
against duplicates, shadow copies for retransmissions, overflow, errors, slot allocation."""

from __future__ import annotations

import numpy as np
import pytest

from cora.ina import protocol as P
from cora.ina.ps import PoolExhausted, SlotPool

A = [("10.0.0.1", 1), ("10.0.0.2", 2), ("10.0.0.3", 3)]


def pkt(w, values, slot=0, copy=0, offset=0, total=P.K, n=3, job=1, flags=0):
    return P.encode(job, slot, copy, offset, total, w, n, np.asarray(values, np.int32),
                    flags=flags)


def make(n=3, slots=2):
    pool = SlotPool(16)
    pool.allocate(1, slots, n)
    return pool


def test_sum_goes_to_every_worker_once_all_contributed():
    pool = make()
    assert pool.handle(pkt(0, [1, 2]), A[0]) == []
    assert pool.handle(pkt(1, [10, 20]), A[1]) == []
    out = pool.handle(pkt(2, [100, -200]), A[2])
    assert sorted(a for _, a in out) == A
    for data, _ in out:
        r = P.decode(data)
        assert r.is_result and not r.overflow and list(r.values[:3]) == [111, -178, 0]


def test_duplicate_contribution_is_not_added_twice():
    pool = make()
    pool.handle(pkt(0, [1]), A[0])
    assert pool.handle(pkt(0, [1], flags=P.FLAG_RETRANSMIT), A[0]) == []
    pool.handle(pkt(1, [1]), A[1])
    out = pool.handle(pkt(2, [1]), A[2])
    assert P.decode(out[0][0]).values[0] == 3


def test_retransmission_after_completion_gets_the_shadow_copy_to_the_sender_only():
    pool = make()
    for w in range(3):
        pool.handle(pkt(w, [w + 1]), A[w])
    # worker 0 starts the slot's next chunk in the other copy; worker 2 lost the result
    assert pool.handle(pkt(0, [7], copy=1, offset=2 * P.K, total=3 * P.K), A[0]) == []
    out = pool.handle(pkt(2, [3], flags=P.FLAG_RETRANSMIT), A[2])
    assert [a for _, a in out] == [A[2]]
    r = P.decode(out[0][0])
    assert r.is_result and r.values[0] == 6 and r.copy == 0 and r.flags & P.FLAG_RETRANSMIT


def test_copy_is_reused_after_both_copies_turned_over():
    pool = make(n=2, slots=1)
    tot = 3 * P.K
    for c, copy in ((0, 0), (1, 1), (2, 0)):
        pool.handle(pkt(0, [c + 1], copy=copy, offset=c * P.K, total=tot, n=2), A[0])
        out = pool.handle(pkt(1, [10], copy=copy, offset=c * P.K, total=tot, n=2), A[1])
        assert len(out) == 2 and P.decode(out[0][0]).values[0] == c + 11


def test_int32_overflow_is_flagged_not_silent():
    pool = make(n=2)
    big = 2**31 - 1
    pool.handle(pkt(0, [big, 5], n=2), A[0])
    out = pool.handle(pkt(1, [1, 5], n=2), A[1])
    r = P.decode(out[0][0])
    assert r.overflow and r.values[1] == 10


def test_errors_go_back_clearly():
    pool = make()
    r = P.decode(pool.handle(pkt(0, [1], job=2), A[0])[0][0])
    assert r.flags & P.FLAG_ERROR and r.error == P.ERR_UNKNOWN_JOB
    r = P.decode(pool.handle(pkt(0, [1], n=4), A[0])[0][0])
    assert r.error == P.ERR_BAD_WORKER
    r = P.decode(pool.handle(pkt(0, [1], slot=5), A[0])[0][0])
    assert r.error == P.ERR_BAD_SLOT
    pool.handle(pkt(0, [1], total=P.K), A[0])
    out = pool.handle(pkt(1, [1], total=2 * P.K), A[1])
    assert {P.decode(d).error for d, _ in out} == {P.ERR_SIZE_MISMATCH}
    assert {a for _, a in out} == {A[0], A[1]}


def test_jobs_share_the_pool_and_an_oversized_request_is_refused():
    pool = SlotPool(10)
    assert pool.allocate(1, 4, 2) == 0
    assert pool.allocate(2, 6, 3) == 4
    with pytest.raises(PoolExhausted, match="asks for 1 slots but only 0 of 10 are free"):
        pool.allocate(3, 1, 2)
    pool.free(1)
    with pytest.raises(PoolExhausted, match="5 slots but only 4 of 10"):
        pool.allocate(3, 5, 2)
    assert pool.allocate(3, 4, 2) == 0
    with pytest.raises(ValueError, match="already"):
        pool.allocate(2, 1, 3)
    # the two jobs' slot 0 are different pool slots: no interference
    pool.handle(pkt(0, [1], job=3, n=2), A[0])
    pool.handle(pkt(0, [5], job=2, n=3), A[0])
    out = pool.handle(pkt(1, [2], job=3, n=2), A[1])
    assert P.decode(out[0][0]).values[0] == 3


def test_or_reduction_of_bitmap_chunks_and_its_retransmission():
    pool = make()
    words = [np.array([1, 0, -2**31], np.int32), np.array([2, 0, 1], np.int32),
             np.array([1, 8, 0], np.int32)]
    for w in range(2):
        assert pool.handle(pkt(w, words[w], flags=P.FLAG_OR), A[w]) == []
    out = pool.handle(pkt(2, words[2], flags=P.FLAG_OR), A[2])
    assert sorted(a for _, a in out) == A
    for data, _ in out:
        r = P.decode(data)
        assert r.is_result and r.flags & P.FLAG_OR and not r.overflow
        assert list(r.values[:3]) == [3, 8, -2**31 + 1]
    # a retransmission of the finished OR chunk gets the shadow copy's result again
    again = pool.handle(pkt(1, words[1], flags=P.FLAG_OR | P.FLAG_RETRANSMIT), A[1])
    assert len(again) == 1 and list(P.decode(again[0][0]).values[:3]) == [3, 8, -2**31 + 1]
    # the next use of the slot (other copy) is an ordinary sum: the reduction is per chunk
    pool.handle(pkt(0, [5], copy=1), A[0])
    pool.handle(pkt(1, [6], copy=1), A[1])
    r = P.decode(pool.handle(pkt(2, [7], copy=1), A[2])[0][0])
    assert r.values[0] == 18 and not r.flags & P.FLAG_OR


def test_contributions_disagreeing_on_the_reduction_are_an_error_to_every_worker():
    pool = make()
    pool.handle(pkt(0, [1], flags=P.FLAG_OR), A[0])
    out = pool.handle(pkt(1, [1]), A[1])
    assert sorted(a for _, a in out) == A[:2]  # the workers the pool has heard from
    for data, _ in out:
        r = P.decode(data)
        assert r.flags & P.FLAG_ERROR and r.error == P.ERR_OP_MISMATCH
