"""cora INA as a PyTorch DistributedDataParallel communication hook (docs/ina.md, section 10).

::

    import torch.distributed as dist
    from cora.ina.ddp import InaHookState, ina_hook, setup_job

    dist.init_process_group("gloo")                      # torchrun's env:// rendezvous
    state = InaHookState(aggregator=("10.212.0.254", 47000), job=1, compress="union")
    setup_job(state)                                     # rank 0 allocates, then a barrier
    model = torch.nn.parallel.DistributedDataParallel(net)
    model.register_comm_hook(state, ina_hook)

Every gradient bucket DDP hands to the hook is summed by the INA aggregator
(:func:`cora.ina.allreduce`, dense or compressed) instead of gloo, and divided by the worker
count; gloo (torch.distributed) still does everything else (rendezvous, DDP's start-up
broadcast, barriers).

**Quantisation, the same on every worker.** One bucket is all-reduced in two rounds:

1. a *header* round: one packet (K = 256 int32) in which each worker sets a one-hot entry
   for the binary exponent ``E_w`` of its largest magnitude (``max|x| < 2**E_w``, from
   ``frexp``), flags for non-finite values and for an exponent beyond the window, and a
   fingerprint of the bucket's size. The sum gives every worker the same ``E = max E_w``;
2. the *values* round: ``q = rint(x * 2**f)`` with ``f = 30 - E - ceil(log2 N)`` (so each
   ``|q| < 2**(30 - ceil(log2 N))`` and the sum of N of them stays below ``2**30``: an
   int32 sum never overflows), summed exactly by the aggregator, and the average is
   ``sum(q) * 2**-f / N`` in float64, cast to the bucket's dtype.

This is SwitchML's block exponent (Sapio et al., NSDI'21: a scaling factor agreed from the
workers' maxima) with one block per bucket; the agreement costs one packet and one round
trip. Every worker holds the same integers, the same ``f`` and the same N, so the averaged
bucket is **bit-identical on every worker** (not merely close). The absolute error per
element is at most ``N * 2**-(f+1)``, i.e. ``2**(E - 31 + ceil(log2 N))`` relative to the
bucket's largest magnitude ``2**E`` before averaging: about 1e-9 of the largest gradient for
N = 4. Values below that resolution are rounded to zero (which also makes them sparse for
``compress="union"/"lhc"``).

**Edge cases.** An empty bucket is returned as is without any traffic (every worker has the
same bucket layout). A bucket that is zero on every worker comes back zero after the header
round. NaN or Inf in any worker's bucket: every worker learns it from the header round and,
with ``nonfinite="raise"`` (default), raises :class:`InaNonFinite` (so DDP's backward fails on
every worker, never a wrong sum); with ``nonfinite="propagate"`` every worker gets a bucket of
NaN, like a float all-reduce (for loss scalers that skip such steps). Different bucket sizes
across workers: :class:`cora.ina.InaError` on every worker (from the size fingerprint). A dead
peer or a missing aggregator: :class:`cora.ina.InaTimeout` after ``timeout_s``, never a hang.
Float dtypes: float16, bfloat16, float32, float64; anything else raises ``TypeError``.

torch is imported only inside the functions of this module (``cora.ina`` itself does not
need torch).
"""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cora.ina import protocol as P
from cora.ina.worker import COMPRESS_MODES, InaError, allocate, allreduce, dequantize, quantize

#: the header round's exponent window: entry i of the one-hot stands for E = EXP_MIN + i;
#: a bucket whose largest magnitude is below 2**EXP_MIN counts as EXP_MIN (its elements are
#: then quantised against 2**EXP_MIN: values below about 2**(EXP_MIN-31) become 0).
EXP_MIN = -160
#: exponents in the window (EXP_MIN .. EXP_MIN + EXP_SLOTS - 1 = 79: gradients of 2**79 and
#: more are refused as too large).
EXP_SLOTS = 240
_SIZE_BYTES = 4          # the size fingerprint: 4 bytes of numel, each with its square
_AT_SIZE = EXP_SLOTS     # 240..243 bytes of numel, 244..247 their squares
_AT_NONFINITE = EXP_SLOTS + 2 * _SIZE_BYTES   # 248: workers with NaN/Inf
_AT_TOO_LARGE = _AT_NONFINITE + 1             # 249: workers with |x| >= 2**(EXP_MIN+240)
assert _AT_TOO_LARGE < P.K
NONFINITE_MODES = ("raise", "propagate")


class InaNonFinite(InaError):
    """A worker's gradient bucket held NaN or Inf (raised on every worker)."""


@dataclass
class InaHookState:
    """The communication hook's state: where and how to all-reduce (one per DDP model).

    Args:
        aggregator: (host, UDP data-plane port) of the INA aggregator.
        job: job id, the same on every worker; :func:`setup_job` allocates it.
        slots: the window (outstanding chunks) and the job's slot allocation.
        compress: "none" (dense INA), "union", "lhc" or "auto" (see :func:`cora.ina.allreduce`).
        rank, world_size: this worker's rank and the worker count; None: from
            torch.distributed's default process group.
        timeout_s: no progress for this long raises :class:`cora.ina.InaTimeout`.
        nonfinite: "raise" or "propagate" (see the module docstring).
        asynchronous: run the all-reduces on one background thread, in bucket order, so
            backward goes on meanwhile (DDP waits for the futures); False: in the hook.
    Attributes:
        stats: totals over all buckets of this worker: ``buckets``, ``bytes_total`` (UDP
            payload sent, both rounds, retransmissions included), ``retransmissions``,
            ``comm_s`` (seconds inside the all-reduces).
    """

    aggregator: tuple[str, int]
    job: int
    slots: int = 64
    compress: str = "none"
    rank: int | None = None
    world_size: int | None = None
    timeout_s: float = 5.0
    nonfinite: str = "raise"
    asynchronous: bool = True
    stats: dict = field(default_factory=lambda: {"buckets": 0, "bytes_total": 0,
                                                 "retransmissions": 0, "comm_s": 0.0})
    _pool: ThreadPoolExecutor | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.compress not in COMPRESS_MODES:
            raise ValueError(f"compress={self.compress!r}: use one of "
                             f"{', '.join(COMPRESS_MODES)}")
        if self.nonfinite not in NONFINITE_MODES:
            raise ValueError(f"nonfinite={self.nonfinite!r}: use 'raise' or 'propagate'")

    def resolve(self) -> tuple[int, int]:
        """(rank, world size), from torch.distributed when not given."""
        if self.rank is None or self.world_size is None:
            import torch.distributed as dist

            if not dist.is_initialized():
                raise InaError("InaHookState needs rank and world_size, or an initialised "
                               "torch.distributed process group")
            self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        if not 1 <= self.world_size <= P.MAX_WORKERS or not 0 <= self.rank < self.world_size:
            raise InaError(f"rank {self.rank} of {self.world_size} workers: INA supports 1.."
                           f"{P.MAX_WORKERS} workers")
        return self.rank, self.world_size

    def close(self) -> None:
        """Stop the background thread (pending all-reduces finish first)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def setup_job(state: InaHookState, free_first: bool = False) -> None:
    """Allocate the state's job on the aggregator from rank 0, then a torch.distributed
    barrier, so no worker sends before the slots exist.

    Args:
        free_first: rank 0 frees the job first (ignoring "no such job"), e.g. between runs.
    Raises:
        InaError: the aggregator refused (e.g. not enough free slots) or did not answer.
    """
    import torch.distributed as dist

    from cora.ina.worker import forget

    rank, n = state.resolve()
    forget(state.job)
    error = ""
    if rank == 0:
        try:
            if free_first:
                try:
                    allocate(state.aggregator, state.job, state.slots, n, op="free")
                except InaError:
                    pass
            allocate(state.aggregator, state.job, state.slots, n)
        except InaError as exc:
            error = str(exc)
    flag = [error]
    dist.broadcast_object_list(flag, src=0)   # every rank fails alike, none waits forever
    if flag[0]:
        raise InaError(flag[0])


def _header(x: np.ndarray) -> tuple[np.ndarray, int | None]:
    """The header round's int32 vector (shape (K,)) of one worker's float64 bucket, and the
    worker's exponent E (None: all zero or not finite)."""
    h = np.zeros(P.K, np.int32)
    n = x.size
    for i in range(_SIZE_BYTES):
        b = (n >> (8 * i)) & 0xFF
        h[_AT_SIZE + i], h[_AT_SIZE + _SIZE_BYTES + i] = b, b * b
    if not np.isfinite(x).all():
        h[_AT_NONFINITE] = 1
        return h, None
    peak = float(np.abs(x).max()) if n else 0.0
    if peak == 0.0:
        return h, None
    e = max(math.frexp(peak)[1], EXP_MIN)     # peak < 2**e
    if e >= EXP_MIN + EXP_SLOTS:
        h[_AT_TOO_LARGE] = 1
        return h, None
    h[e - EXP_MIN] = 1
    return h, e


def frac_bits_for(exponent: int, n_workers: int) -> int:
    """Fractional bits ``f = 30 - E - ceil(log2 N)`` for a block whose magnitudes are all
    below ``2**E``: N quantised values then sum to less than 2**30 (no int32 overflow)."""
    return 30 - exponent - math.ceil(math.log2(n_workers))


def allreduce_mean(x: np.ndarray, state: InaHookState) -> np.ndarray:
    """The average over the job's workers of a flat float64 array, through INA (the
    hook's work, without torch; every worker calls it with the same size).

    Args:
        x: float64, shape (n,), n >= 0.
    Returns:
        float64, shape (n,): ``sum(q) * 2**-f / N`` (see the module docstring), identical
        on every worker.
    Raises:
        InaNonFinite: some worker's values hold NaN/Inf and ``nonfinite="raise"``.
        InaError: sizes differ across workers, a magnitude of 2**79 or more, aggregator
        errors. InaTimeout: a worker or the aggregator stopped.
    """
    rank, n = state.resolve()
    if x.size == 0:
        return x.copy()
    kw: dict[str, Any] = dict(job=state.job, worker=rank, n_workers=n,
                              aggregator=state.aggregator, slots=state.slots,
                              timeout_s=state.timeout_s)
    t0 = time.perf_counter()
    st_h: dict = {}
    st_v: dict = {}
    try:
        h, _ = _header(x)
        hs = allreduce(h, stats=st_h, **kw)
        size_b = hs[_AT_SIZE:_AT_SIZE + _SIZE_BYTES].astype(np.int64)
        size_b2 = hs[_AT_SIZE + _SIZE_BYTES:_AT_SIZE + 2 * _SIZE_BYTES].astype(np.int64)
        # all sizes equal iff, per byte, N * sum(b^2) == sum(b)^2 (Cauchy-Schwarz)
        if (n * size_b2 != size_b * size_b).any():
            raise InaError(f"job {state.job}: the workers' gradient buckets differ in size "
                           f"(this worker's has {x.size} elements)")
        if hs[_AT_NONFINITE]:
            if state.nonfinite == "propagate":
                return np.full(x.size, np.nan)
            raise InaNonFinite(f"job {state.job}: {int(hs[_AT_NONFINITE])} of {n} workers "
                               "have NaN/Inf gradients in this bucket: not aggregated")
        if hs[_AT_TOO_LARGE]:
            raise InaError(f"job {state.job}: a gradient magnitude of 2**"
                           f"{EXP_MIN + EXP_SLOTS} or more cannot be aggregated")
        present = np.flatnonzero(hs[:EXP_SLOTS])
        if present.size == 0:                 # zero on every worker
            return np.zeros(x.size)
        f = frac_bits_for(EXP_MIN + int(present[-1]), n)
        q = quantize(np.ldexp(x, f), 0)       # rint(x * 2**f): exact power-of-two scaling
        s = allreduce(q, compress=state.compress, stats=st_v, **kw)
        return dequantize(s, f) / n
    finally:
        with state._lock:
            st = state.stats
            st["buckets"] += 1
            st["comm_s"] += time.perf_counter() - t0
            for d in (st_h, st_v):
                st["bytes_total"] += d.get("bytes_total", 0)
                st["retransmissions"] += d.get("retransmissions", 0)


_FLOAT_DTYPES = ("torch.float16", "torch.bfloat16", "torch.float32", "torch.float64")


def ina_hook(state: InaHookState, bucket):  # no annotations: DDP checks them against its own
    """The DDP communication hook (``model.register_comm_hook(state, ina_hook)``).

    Args:
        state: an :class:`InaHookState`.
        bucket: a ``torch.distributed.GradBucket`` (its flat ``buffer()``: any float dtype).
    Returns:
        a ``torch.futures.Future`` of the averaged bucket (same shape and dtype), completed
        on the state's background thread (or at once when ``state.asynchronous`` is False);
        on failure its ``wait()`` (and DDP's backward) raises a ``RuntimeError`` whose text
        holds the hook's exception, type and message (e.g. ``InaTimeout: ...``).
    Raises:
        TypeError: a non-float bucket.
    """
    import torch

    buf = bucket.buffer()
    if str(buf.dtype) not in _FLOAT_DTYPES:
        raise TypeError(f"the INA hook all-reduces float gradients, not {buf.dtype}")
    fut: Any = torch.futures.Future()
    if buf.numel() == 0:
        fut.set_result(buf)
        return fut
    x = buf.detach().to(device="cpu", dtype=torch.float64).numpy().ravel().copy()

    def work() -> None:
        try:
            avg = allreduce_mean(x, state)
            out = torch.from_numpy(avg).to(dtype=buf.dtype, device=buf.device)
            fut.set_result(out.view(buf.shape))
        except BaseException as exc:  # delivered through the future, raised by DDP
            fut.set_exception(exc)

    if state.asynchronous:
        with state._lock:
            if state._pool is None:
                state._pool = ThreadPoolExecutor(1, thread_name_prefix="cora-ina-ddp")
            pool = state._pool
        pool.submit(work)
    else:
        work()
    # set_exception only makes Python's wait() raise (the C++ side, DDP's reducer, would see
    # the exception object as the value); a callback that re-raises it marks the chained
    # future as failed for C++ too, so DDP raises the error's text from backward
    return fut.then(_unwrap)


def _unwrap(fut: Any) -> Any:
    return fut.wait()
