"""allreduce through the user-space aggregator on loopback: bit-exact sums, bad input,
overflow, and errors (dead worker, missing aggregator) that end within a deadline."""

from __future__ import annotations

import socket
import threading

import numpy as np
import pytest

from cora.ina import InaError, InaOverflow, InaTimeout, allocate, allreduce, forget, quantize
from cora.ina import protocol as P
from cora.ina.ps import Aggregator
from cora.ina.worker import encode_chunks

from .workers import run_threads

DEADLINE_S = 30.0  # a generous bound on "ends": a hang would be caught, not a timing figure


def run_workers(arrays, addr, job=1, n_workers=None, **kw):
    """Run one allreduce per array in threads; returns (results, exceptions) per worker and
    fails the test if any thread is still running after DEADLINE_S."""
    n = n_workers or len(arrays)
    return run_threads(lambda i: allreduce(arrays[i], job=job, worker=i, n_workers=n,
                                           aggregator=addr, **kw), len(arrays), DEADLINE_S)


@pytest.fixture
def agg():
    forget()  # a fresh aggregator: slots start at copy 0
    with Aggregator("127.0.0.1", 0, pool_slots=64) as a:
        yield a


def test_float_sum_is_bit_exact_on_every_worker(agg):
    addr = ("127.0.0.1", agg.port)
    allocate(addr, 1, 8, 3)
    rng = np.random.default_rng(7)
    xs = [rng.standard_normal((37, 101)).astype(np.float32) for _ in range(3)]  # not x K
    res, errs = run_workers(xs, addr, slots=8, frac_bits=20)
    assert errs == [None] * 3
    q_sum = np.sum([quantize(x, 20) for x in xs], axis=0, dtype=np.int32)
    expect = (q_sum.astype(np.float64) * 2.0**-20).astype(np.float32)
    for r in res:
        assert r.shape == (37, 101) and r.dtype == np.float32
        assert np.array_equal(r, expect)


def test_int32_sum_and_two_jobs_sharing_the_aggregator(agg):
    addr = ("127.0.0.1", agg.port)
    allocate(addr, 1, 4, 2)
    allocate(addr, 2, 4, 2)
    xs = [np.arange(5000, dtype=np.int32) * (i + 1) for i in range(2)]
    ys = [np.full(700, -3 - i, np.int32) for i in range(2)]
    out = {}

    def job2():
        out["y"] = run_workers(ys, addr, job=2, slots=4)

    t = threading.Thread(target=job2)
    t.start()
    res, errs = run_workers(xs, addr, job=1, slots=4)
    t.join(DEADLINE_S)
    assert errs == [None, None] and out["y"][1] == [None, None]
    for r in res:
        assert np.array_equal(r, xs[0] + xs[1])
    for r in out["y"][0]:
        assert np.array_equal(r, ys[0] + ys[1])


def test_a_job_asking_for_too_many_slots_is_refused(agg):
    addr = ("127.0.0.1", agg.port)
    allocate(addr, 1, 60, 2)
    with pytest.raises(InaError, match="asks for 5 slots but only 4 of 64 are free"):
        allocate(addr, 2, 5, 2)


def test_overflow_is_reported_on_every_worker(agg):
    addr = ("127.0.0.1", agg.port)
    allocate(addr, 1, 4, 2)
    xs = [np.array([2**31 - 1] + [0] * 600, np.int32), np.array([1] + [0] * 600, np.int32)]
    _, errs = run_workers(xs, addr, slots=4)
    for e in errs:
        assert isinstance(e, InaOverflow) and e.offsets == [0]
        assert "overflow" in str(e)


def test_mismatched_sizes_end_with_a_clear_error(agg):
    addr = ("127.0.0.1", agg.port)
    allocate(addr, 1, 4, 2)
    _, errs = run_workers([np.zeros(1000, np.float32), np.zeros(1200, np.float32)], addr,
                          slots=4, timeout_s=2.0)
    assert all(isinstance(e, InaError) for e in errs)
    assert any("differ in size" in str(e) for e in errs)


def test_unknown_job_is_an_error_not_a_hang(agg):
    _, errs = run_workers([np.zeros(10, np.float32)], ("127.0.0.1", agg.port), job=42)
    assert isinstance(errs[0], InaError) and "no slots allocated" in str(errs[0])


def test_dead_worker_ends_with_a_timeout(agg):
    addr = ("127.0.0.1", agg.port)
    allocate(addr, 1, 4, 3)
    # three workers in the job, only two run
    _, errs = run_workers([np.ones(3000, np.float32)] * 2, addr, n_workers=3, slots=4,
                          retransmit_s=0.05, timeout_s=1.0)
    for e in errs:
        assert isinstance(e, InaTimeout) and "another worker of job 1 never started" in str(e)


def test_worker_dying_mid_way_ends_with_a_timeout(agg):
    addr = ("127.0.0.1", agg.port)
    allocate(addr, 1, 4, 3)
    q = np.ones(3000, np.int32)
    # worker 2 sends its first window (4 chunks) and then dies
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for rec in encode_chunks(q, job=1, worker=2, n_workers=3, slots=4)[:4]:
            s.sendto(rec.tobytes(), addr)
    _, errs = run_workers([q, q], addr, n_workers=3, slots=4, retransmit_s=0.05,
                          timeout_s=1.0)
    for e in errs:
        assert isinstance(e, InaTimeout) and "4 of 12 chunks done" in str(e)
        assert "another worker of job 1 has probably stopped" in str(e)


def test_missing_aggregator_ends_with_a_clear_error():
    # nothing bound: the kernel answers ICMP port unreachable
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        free_port = s.getsockname()[1]
    _, errs = run_workers([np.ones(10, np.float32)], ("127.0.0.1", free_port), timeout_s=1.0)
    assert isinstance(errs[0], InaError) and "nothing listens" in str(errs[0])
    # a silent aggregator (bound, never answers)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        _, errs = run_workers([np.ones(10, np.float32)], s.getsockname(), timeout_s=1.0,
                              retransmit_s=0.05)
    assert isinstance(errs[0], InaTimeout) and "no answer from the aggregator" in str(errs[0])
    with pytest.raises(InaError, match="no aggregator control plane"):
        allocate(("127.0.0.1", free_port), 1, 1, 1, timeout_s=0.5)


@pytest.mark.parametrize("array, exc, msg", [
    (np.array([1.0, np.nan], np.float32), ValueError, "NaN"),
    (np.array([1.0, np.inf]), ValueError, "NaN/Inf"),
    (np.array([[0.0, -np.inf]], np.float16)[:, ::-1], ValueError, "element 0 is -inf"),
    (np.array([1e6]), ValueError, "does not fit int32"),
    (np.array([0, 2**31], np.int64), ValueError, "element 1 = 2147483648 does not fit int32"),
    (np.array([2**32], np.uint64), ValueError, "does not fit int32"),
    (np.zeros(3, np.complex64), TypeError, "complex64"),
    (np.array(["a"]), TypeError, "real numbers"),
    (np.array([1, None], dtype=object), TypeError, "object"),
    ([1.0, 2.0], TypeError, "numpy array"),
])
def test_bad_input_is_refused_before_sending(array, exc, msg):
    # nothing listens on the port: a refusal after sending would say "nothing listens"
    with pytest.raises(exc, match=msg):
        allreduce(array, job=1, worker=0, n_workers=1, aggregator=("127.0.0.1", P.UDP_PORT))


@pytest.mark.parametrize("make, result_dtype", [
    (lambda r, i: r.standard_normal((3, 4, 5)).astype(np.float16), np.float16),
    (lambda r, i: r.standard_normal((40, 30)).astype(np.float32)[::2, 1::3], np.float32),
    (lambda r, i: np.asfortranarray(r.standard_normal((7, 300))), np.float64),
    (lambda r, i: np.array(r.standard_normal()), np.float64),  # 0-d
    (lambda r, i: np.float32(r.standard_normal()), np.float32),  # a numpy scalar
    (lambda r, i: r.integers(-128, 128, 1000).astype(np.int8), np.int32),
    (lambda r, i: r.integers(0, 2**16, (10, 100)).astype(np.uint16)[:, ::3], np.int32),
    (lambda r, i: r.integers(-2**28, 2**28, 999).astype(np.int64), np.int64),
    (lambda r, i: r.integers(0, 2**28, 999).astype(np.uint32), np.int64),
    (lambda r, i: r.integers(0, 2**28, 999).astype(np.uint64)[::-1], np.int64),
    (lambda r, i: r.random(513) < 0.5, np.int32),
])
def test_any_dtype_shape_and_layout_is_summed_exactly(agg, make, result_dtype):
    addr = ("127.0.0.1", agg.port)
    allocate(addr, 1, 4, 2)
    rng = np.random.default_rng(11)
    xs = [make(rng, i) for i in range(2)]
    res, errs = run_workers(xs, addr, slots=4, timeout_s=5.0)
    assert errs == [None, None]
    if np.issubdtype(xs[0].dtype, np.floating):
        q = np.sum([quantize(x) for x in xs], axis=0, dtype=np.int32)
        expect = (q.astype(np.float64) * 2.0**-16).astype(result_dtype)
    else:
        expect = np.sum([x.astype(np.int64) for x in xs], axis=0).astype(result_dtype)
    for r in res:
        assert r.dtype == result_dtype and r.shape == xs[0].shape and r.flags.c_contiguous
        assert np.array_equal(r, expect)


def test_empty_arrays_give_an_empty_sum_without_traffic():
    # no aggregator at all: an empty tensor needs none
    st: dict = {}
    for x, dt in ((np.zeros((0, 3), np.float32), np.float32), (np.zeros(0, np.uint8), np.int32)):
        out = allreduce(x, job=1, worker=0, n_workers=2, aggregator=("127.0.0.1", 9), stats=st)
        assert out.shape == x.shape and out.dtype == dt and st["packets_sent"] == 0


def test_an_empty_worker_among_full_ones_ends_with_a_timeout(agg):
    addr = ("127.0.0.1", agg.port)
    allocate(addr, 1, 4, 2)
    res, errs = run_workers([np.zeros(0, np.float32), np.ones(100, np.float32)], addr,
                            slots=4, timeout_s=1.0, retransmit_s=0.05)
    assert errs[0] is None and res[0].size == 0
    assert isinstance(errs[1], InaTimeout) and "never started" in str(errs[1])


def _die_mid_step(port: int) -> None:
    """Worker 2 of a 3-worker job: all-reduces a large tensor (it never finishes: the test
    kills this process while it waits for its first window's results)."""
    allreduce(np.ones(100_000, np.int32), job=1, worker=2, n_workers=3,
              aggregator=("127.0.0.1", port), slots=4, timeout_s=60.0)


def test_a_worker_process_killed_mid_step_makes_the_others_fail_not_hang(agg):
    import multiprocessing as mp
    import time

    addr = ("127.0.0.1", agg.port)
    allocate(addr, 1, 4, 3)
    proc = mp.get_context("fork").Process(target=_die_mid_step, args=(agg.port,))
    proc.start()
    try:
        end = time.monotonic() + DEADLINE_S
        while agg.pool.stats["packets"] < 4 and time.monotonic() < end:  # its first window
            time.sleep(0.01)
        assert agg.pool.stats["packets"] >= 4, "the dying worker never sent its first window"
        proc.kill()  # SIGKILL: no cleanup, no goodbye packet
        proc.join(DEADLINE_S)
        assert proc.exitcode is not None and proc.exitcode < 0
        q = np.ones(100_000, np.int32)
        _, errs = run_workers([q, q], addr, n_workers=3, slots=4, retransmit_s=0.05,
                              timeout_s=1.0)
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join()
    n_chunks = -(-100_000 // P.K)
    for e in errs:
        assert isinstance(e, InaTimeout), e
        assert f"4 of {n_chunks} chunks done" in str(e)
        assert "another worker of job 1 has probably stopped" in str(e)


def test_consecutive_calls_continue_the_shadow_copies(agg):
    addr = ("127.0.0.1", agg.port)
    allocate(addr, 1, 3, 2)
    for size in (1, 5 * 256 + 3, 2, 4 * 256):  # slots used 1, 2, 1 and 1 times by turns
        xs = [np.arange(size, dtype=np.int32) + i for i in range(2)]
        res, errs = run_workers(xs, addr, slots=3, timeout_s=2.0)
        assert errs == [None, None]
        assert all(np.array_equal(r, xs[0] + xs[1]) for r in res)


class LossyProxy:
    """A UDP relay between workers and the aggregator that drops and duplicates datagrams
    (seeded), both ways: one upstream socket per worker address, so the aggregator still
    sees each worker at its own address."""

    def __init__(self, upstream: tuple[str, int], drop: float, dup: float, seed: int):
        import random
        import selectors

        self.upstream, self.drop, self.dup = upstream, drop, dup
        self.rng = random.Random(seed)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.addr = self.sock.getsockname()
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.sock, selectors.EVENT_READ, None)
        self.up: dict[tuple, socket.socket] = {}
        self.stop = threading.Event()
        self.counts = {"dropped": 0, "duplicated": 0}
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def _relay(self, sock: socket.socket, data: bytes, dst) -> None:
        r = self.rng.random()
        if r < self.drop:
            self.counts["dropped"] += 1
            return
        for _ in range(2 if r < self.drop + self.dup else 1):
            sock.sendto(data, dst)
        if r < self.drop + self.dup:
            self.counts["duplicated"] += 1

    def run(self) -> None:
        import selectors

        while not self.stop.is_set():
            for key, _ in self.sel.select(0.1):
                data, src = key.fileobj.recvfrom(4096)
                if key.data is None:  # from a worker
                    if src not in self.up:
                        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                        u.bind(("127.0.0.1", 0))
                        self.up[src] = u
                        self.sel.register(u, selectors.EVENT_READ, src)
                    self._relay(self.up[src], data, self.upstream)
                else:  # from the aggregator, back to that worker
                    self._relay(self.sock, data, key.data)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        for s in [self.sock, *self.up.values()]:
            s.close()


@pytest.mark.parametrize("seed", [1, 2])
def test_drops_and_duplicates_both_ways_still_give_exact_sums(agg, seed):
    allocate(("127.0.0.1", agg.port), 1, 8, 3)
    proxy = LossyProxy(("127.0.0.1", agg.port), drop=0.05, dup=0.05, seed=seed)
    try:
        rng = np.random.default_rng(seed)
        xs = [rng.integers(-1000, 1000, 20_000, dtype=np.int32) for _ in range(3)]
        res, errs = run_workers(xs, proxy.addr, slots=8, retransmit_s=0.05)
    finally:
        proxy.close()
    assert errs == [None] * 3
    assert proxy.counts["dropped"] > 0 and proxy.counts["duplicated"] > 0
    for r in res:
        assert np.array_equal(r, xs[0] + xs[1] + xs[2])


def test_consecutive_calls_of_the_same_size_each_get_their_own_sum(agg):
    # one chunk in one slot: calls 1 and 3 use the same copy with the same offset and
    # total; the third must not be answered with the first's result as a "late duplicate"
    addr = ("127.0.0.1", agg.port)
    allocate(addr, 1, 1, 2)
    for k in range(4):
        xs = [np.full(100, k * 10 + i, np.int32) for i in range(2)]
        res, errs = run_workers(xs, addr, slots=1, timeout_s=2.0)
        assert errs == [None, None]
        assert all(np.array_equal(r, xs[0] + xs[1]) for r in res), k


def test_result_port_receives_on_a_fixed_port_and_ignores_other_jobs():
    """result_port (the in-kernel aggregator's multicast): the worker sends from and receives
    on that port, unconnected, and keeps only its own job's answers from the aggregator:
    another job's error reply and a datagram from elsewhere, both arriving while it waits
    for its partner, change nothing."""
    import time

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    xs = [np.arange(3 * P.K + 5, dtype=np.int32), np.full(3 * P.K + 5, 7, np.int32)]
    with Aggregator("127.0.0.1", 0, pool_slots=16) as agg:
        addr = ("127.0.0.1", agg.port)
        allocate(addr, 41, 4, 2)
        out: list = [None, None]
        errors: list = [None, None]

        def run(i: int) -> None:
            try:
                out[i] = allreduce(xs[i], job=41, worker=i, n_workers=2, aggregator=addr,
                                   slots=4, result_port=port if i == 0 else None)
            except Exception as exc:  # inspected below
                errors[i] = exc

        t0 = threading.Thread(target=run, args=(0,), daemon=True)
        t0.start()
        deadline = time.monotonic() + DEADLINE_S
        bound = f":{port:04X}"
        while time.monotonic() < deadline:   # until worker 0 holds the port (/proc/net/udp)
            with open("/proc/net/udp") as f:
                if any(line.split()[1].endswith(bound) for line in f.readlines()[1:]):
                    break
        err = P.encode(42, 0, 0, 0, 1, 0, 2, None, flags=P.FLAG_ERROR)
        agg.sock.sendto(err, ("127.0.0.1", port))      # another job's error: ignored
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
            other.sendto(err, ("127.0.0.1", port))     # not from the aggregator: ignored
        t1 = threading.Thread(target=run, args=(1,), daemon=True)
        t1.start()
        t0.join(DEADLINE_S)
        t1.join(DEADLINE_S)
    assert errors == [None, None]
    assert np.array_equal(out[0], xs[0] + xs[1]) and np.array_equal(out[1], xs[0] + xs[1])


@pytest.mark.parametrize("bad", ["out_of_range", "held"])
def test_result_port_that_cannot_be_used_is_one_ina_error(bad):
    """A result_port outside 1..65535, or one another socket holds without SO_REUSEADDR,
    ends the call with one InaError naming the port, not Python's OverflowError/OSError."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder, \
            Aggregator("127.0.0.1", 0, pool_slots=16) as agg:
        holder.bind(("", 0))
        port = 70000 if bad == "out_of_range" else holder.getsockname()[1]
        addr = ("127.0.0.1", agg.port)
        allocate(addr, 43, 4, 1)
        with pytest.raises(InaError, match=str(port)):
            allreduce(np.arange(5, dtype=np.int32), job=43, worker=0, n_workers=1,
                      aggregator=addr, slots=4, result_port=port, timeout_s=2.0)
