"""Lossless homomorphic compression: the codec (bitmaps, count sketch, peeling) against the
dense integer sum for any density, forced stalls, and the compressed all-reduce modes over
the user-space aggregator on loopback with 4 workers, with and without datagram loss."""

from __future__ import annotations

import random
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cora.ina import InaError, InaOverflow, allocate, allreduce, forget, lhc
from cora.ina.ps import Aggregator

from .workers import run_threads

DEADLINE_S = 60.0
N = 4


def sparse(rng, n, density, lo=-2**20, hi=2**20):
    keep = rng.random(n) < density
    return np.where(keep, rng.integers(lo, hi, n), 0).astype(np.int32)


def union_sum(xs, m, seed=0):
    """(union positions, aggregated sketch, dense int64 sum) of the workers' tensors."""
    union = np.flatnonzero(np.bitwise_or.reduce([x != 0 for x in xs]))
    sk = np.zeros(m, np.int64)
    for x in xs:
        nz = np.flatnonzero(x)
        sk += lhc.encode_sketch(nz, x[nz], m, seed)
    return union, sk, np.sum(xs, axis=0, dtype=np.int64)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 3000), density=st.sampled_from([0.0, 0.001, 0.05, 0.3, 1.0]),
       workers=st.integers(1, 5), seed=st.integers(0, 2**32 - 1), rs=st.integers(0, 2**31))
def test_peeling_recovers_the_dense_sum_or_reports_what_it_could_not(n, density, workers,
                                                                     seed, rs):
    rng = np.random.default_rng(rs)
    xs = [sparse(rng, n, density) for _ in range(workers)]
    union, _, dense = union_sum(xs, 3)
    m = lhc.sketch_cells(union.size)
    if union.size == 0:
        assert m == 0
        return
    assert m % 3 == 0 and m >= union.size / lhc.LOAD
    union, sk, dense = union_sum(xs, m, seed)
    values, resolved = lhc.peel(sk, union, seed)
    # what peeling resolves is always exact; the rest is exactly the fallback's set
    assert np.array_equal(values[resolved], dense[union][resolved])
    assert (values[~resolved] == 0).all()


def test_peeling_at_load_075_resolves_everything_for_large_unions():
    rng = np.random.default_rng(3)
    for n, d in [(200_000, 0.01), (50_000, 0.3), (20_000, 1.0)]:
        xs = [sparse(rng, n, d) for _ in range(N)]
        union, _, _ = union_sum(xs, 3)
        union, sk, dense = union_sum(xs, lhc.sketch_cells(union.size), seed=11)
        values, resolved = lhc.peel(sk, union, 11)
        assert resolved.all() and np.array_equal(values, dense[union])


def test_an_undersized_sketch_stalls_and_leaves_exact_partial_results():
    rng = np.random.default_rng(5)
    xs = [sparse(rng, 5000, 0.1) for _ in range(N)]
    union, _, _ = union_sum(xs, 3)
    union, sk, dense = union_sum(xs, 3 * (union.size // 6), seed=2)  # load ~2: stalls
    values, resolved = lhc.peel(sk, union, 2)
    assert not resolved.all()
    assert np.array_equal(values[resolved], dense[union][resolved])


@given(st.lists(st.booleans(), min_size=0, max_size=200))
def test_bitmap_round_trip_and_or_is_union(bits):
    mask = np.array(bits, bool)
    words = lhc.pack_bitmap(mask)
    assert words.dtype == np.int32 and words.size == -(-mask.size // 32)
    assert np.array_equal(lhc.unpack_bitmap(words, mask.size), mask)
    other = mask[::-1].copy()
    assert np.array_equal(lhc.unpack_bitmap(words | lhc.pack_bitmap(other), mask.size),
                          mask | other)


def test_cells_are_distinct_per_position_and_signs_are_plus_minus_one():
    cells, signs = lhc.cells_and_signs(np.arange(10_000), 300, seed=9)
    assert (cells[:, 0] < 100).all() and ((cells[:, 1] >= 100) & (cells[:, 1] < 200)).all()
    assert (cells[:, 2] >= 200).all() and (cells[:, 2] < 300).all()
    assert set(np.unique(signs)) == {-1, 1}
    again, _ = lhc.cells_and_signs(np.arange(10_000), 300, seed=9)
    assert np.array_equal(cells, again)  # deterministic: every worker hashes alike


def test_bad_sketch_sizes_are_refused():
    with pytest.raises(ValueError, match="multiple of 3"):
        lhc.cells_and_signs(np.arange(3), 10)
    with pytest.raises(ValueError, match="would not peel"):
        lhc.sketch_cells(10, load=0.9)


# -- end to end over the user-space aggregator on loopback --------------------------------

class LossyAggregator(Aggregator):
    """The reference aggregator dropping a fraction of the datagrams it receives and of
    those it sends (seeded), to exercise retransmission and the shadow copies."""

    def __init__(self, loss: float, seed: int = 1):
        super().__init__("127.0.0.1", 0, pool_slots=64)
        self.loss, self.rng, self.dropped = loss, random.Random(seed), 0
        inner = self.pool.handle

        def handle(data, addr):
            if self.rng.random() < self.loss:
                self.dropped += 1
                return []
            out = []
            for item in inner(data, addr):
                if self.rng.random() < self.loss:
                    self.dropped += 1
                else:
                    out.append(item)
            return out

        self.pool.handle = handle  # type: ignore[method-assign]


def run(xs, addr, **kw):
    stats: list[dict] = [{} for _ in xs]
    results, errors = run_threads(
        lambda i: allreduce(xs[i], job=1, worker=i, n_workers=len(xs), aggregator=addr,
                            slots=16, stats=stats[i], **kw), len(xs), DEADLINE_S)
    return results, errors, stats


@pytest.fixture(params=[0.0, 0.02], ids=["no-loss", "2%-loss"])
def agg(request):
    forget()
    with LossyAggregator(request.param) as a:
        allocate(("127.0.0.1", a.port), 1, 16, N)
        yield a


@pytest.mark.parametrize("density", [0.0, 0.01, 0.2, 1.0])
def test_every_mode_gives_every_worker_the_dense_sum(agg, density):
    addr = ("127.0.0.1", agg.port)
    rng = np.random.default_rng(int(density * 1000))
    xs = [sparse(rng, 20_000, density) for _ in range(N)]
    expect = np.sum(xs, axis=0, dtype=np.int32)
    u = int(np.count_nonzero(np.bitwise_or.reduce([x != 0 for x in xs])))
    cases = [dict(compress="none"), dict(compress="union"), dict(compress="lhc"),
             dict(compress="auto"),
             dict(compress="lhc", sketch_cells=lhc.sketch_cells(max(u, 1))),   # one round
             dict(compress="lhc", sketch_cells=3 * max(u // 6, 1))]            # undersized
    for kw in cases:
        res, errs, stats = run(xs, addr, **kw)
        assert errs == [None] * N, kw
        for r in res:
            assert r.dtype == np.int32 and np.array_equal(r, expect), kw
        if kw["compress"] != "none" and kw["compress"] != "auto":
            assert all(s["union"] == u for s in stats)
        if kw.get("sketch_cells") == 3 * max(u // 6, 1) and u > 20:
            assert all(s["unresolved"] > 0 and s["bytes_fallback"] > 0 for s in stats)
    if agg.loss:
        assert agg.dropped > 0


def test_float_input_and_any_shape(agg):
    addr = ("127.0.0.1", agg.port)
    rng = np.random.default_rng(8)
    xs = [np.where(rng.random((30, 70)) < 0.05, rng.standard_normal((30, 70)), 0)
          .astype(np.float32) for _ in range(N)]
    res, errs, _ = run(xs, addr, compress="lhc")
    dense, errs2, _ = run(xs, addr, compress="none")
    assert errs == [None] * N and errs2 == [None] * N
    for r in res:
        assert r.shape == (30, 70) and r.dtype == np.float32 and np.array_equal(r, dense[0])


def test_sketch_cell_overflow_falls_back_to_the_exact_dense_union_sum(agg):
    addr = ("127.0.0.1", agg.port)
    # large values: sketch cells (sums of several +-values) overflow int32 locally or in
    # the aggregator, while every element's sum fits
    rng = np.random.default_rng(4)
    xs = [sparse(rng, 4000, 0.5, lo=2**28, hi=2**29) for _ in range(N)]
    expect = np.sum(xs, axis=0, dtype=np.int64)
    assert expect.max() < 2**31
    res, errs, stats = run(xs, addr, compress="lhc", sketch_cells=30)
    assert errs == [None] * N
    for r, s in zip(res, stats, strict=True):
        assert np.array_equal(r, expect.astype(np.int32))
        assert s["unresolved"] == s["union"] and s["bytes_fallback"] > 0


def test_a_sum_that_overflows_int32_is_reported_in_every_mode(agg):
    addr = ("127.0.0.1", agg.port)
    xs = [np.array([2**30] + [0] * 999, np.int32)] * N
    for mode in ("union", "lhc"):
        _, errs, _ = run(xs, addr, compress=mode)
        assert all(isinstance(e, InaOverflow) for e in errs), (mode, errs)


def test_bad_compress_arguments_are_refused_before_sending():
    x = np.zeros(10, np.int32)
    with pytest.raises(ValueError, match="compress='zip'"):
        allreduce(x, 1, 0, 1, ("127.0.0.1", 9), compress="zip")
    with pytest.raises(ValueError, match="multiple of 3"):
        allreduce(x, 1, 0, 1, ("127.0.0.1", 9), compress="lhc", sketch_cells=10)


def test_workers_disagreeing_on_the_mode_get_an_error_not_a_hang():
    forget()
    errors: list = [None, None]
    with Aggregator("127.0.0.1", 0, pool_slots=8) as a:
        addr = ("127.0.0.1", a.port)
        allocate(addr, 2, 4, 2)

        def one(i, mode):
            try:
                allreduce(np.ones(100, np.int32), job=2, worker=i, n_workers=2,
                          aggregator=addr, slots=4, compress=mode, timeout_s=2.0)
            except Exception as exc:  # inspected below
                errors[i] = exc

        ts = [threading.Thread(target=one, args=(0, "union"), daemon=True),
              threading.Thread(target=one, args=(1, "none"), daemon=True)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(DEADLINE_S)
        assert not any(t.is_alive() for t in ts)
    assert all(isinstance(e, InaError) for e in errors), errors


def test_sketch_cells_are_exact_for_large_terms_and_many_collisions():
    # large terms force the two-halves bincount path; compare with exact np.add.at
    rng = np.random.default_rng(21)
    pos = np.arange(300_000)
    vals = rng.integers(-2**40, 2**40, pos.size)
    m = 300
    cells, signs = lhc.cells_and_signs(pos, m, seed=4)
    ref = np.zeros(m, np.int64)
    np.add.at(ref, cells.ravel(), (signs * vals[:, None]).ravel())
    assert np.array_equal(lhc.encode_sketch(pos, vals, m, seed=4), ref)


def test_auto_decides_alike_on_every_worker_from_the_shared_union(agg):
    addr = ("127.0.0.1", agg.port)
    rng = np.random.default_rng(30)
    dense = [rng.integers(1, 100, 5000).astype(np.int32) for _ in range(N)]
    sparse_xs = [sparse(rng, 5000, 0.01) for _ in range(N)]
    modes = []
    for xs in (sparse_xs, dense, dense, sparse_xs):
        res, errs, stats = run(xs, addr, compress="auto")
        assert errs == [None] * N
        assert all(np.array_equal(r, np.sum(xs, axis=0, dtype=np.int32)) for r in res)
        assert len({s["mode"] for s in stats}) == 1  # the same decision on every worker
        modes.append(stats[0]["mode"])
    # first call: no history -> union; a full union makes the next call dense, which
    # then stays dense (a dense round learns no union) until forget()
    assert modes == ["auto:union", "auto:union", "auto:none", "auto:none"]


@pytest.mark.parametrize("mode", ["lhc", "union"])
def test_different_sizes_across_workers_are_a_clear_error_in_compressed_modes(agg, mode):
    addr = ("127.0.0.1", agg.port)
    xs = [np.ones(1000 + 200 * i, np.int32) for i in range(N)]
    _, errs, _ = run(xs, addr, compress=mode, timeout_s=2.0)
    assert all(isinstance(e, InaError) for e in errs), errs
    assert any("differ in size" in str(e) for e in errs), errs
