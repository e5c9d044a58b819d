"""The worker library: fixed-point quantisation, chunking, a sliding window of slots,
retransmission on timeout and reassembly (docs/ina.md, "Worker").

Quantisation is a fixed scale, as in SwitchML (Sapio et al., NSDI'21: floats are scaled by
a factor and rounded to int32 before aggregation; a per-block exponent agreed from all
workers' maxima would need one more exchange per block, left out here):
``q = rint(x * 2**frac_bits)`` (numpy's rint:
round half to even), and the sum comes back as ``sum(q) * 2**-frac_bits``. The integers are
exact: every worker gets ``numpy.sum`` of all workers' ``q`` (as int32), bit for bit.

Chunk ``c`` (K values from element ``c*K``) uses job-relative slot ``c % slots``; each use of
a slot flips its shadow-copy bit, across calls too (the first use of a slot after the job's
allocation has copy 0): the worker remembers, per (aggregator, job, worker, slots), the
next copy bit of every slot. A worker sends chunk ``c + slots`` only after the result of
chunk ``c`` came back, so at most ``slots`` chunks are outstanding (the window). After a
failed call that memory is dropped: free and re-allocate the job before the next call;
after re-allocating a job, call :func:`forget` in every worker process.
"""

from __future__ import annotations

import errno
import json
import socket
import time

import numpy as np

from cora.ina import lhc
from cora.ina import protocol as P


class InaError(Exception):
    """All-reduce failed: aggregator error reply, timeout, refused, or bad configuration."""


class InaTimeout(InaError):
    """No progress for ``timeout_s``: the aggregator is missing or a worker has stopped."""


class InaOverflow(InaError):
    """An int32 sum overflowed in the aggregator (``chunks``: the chunk offsets affected)."""

    def __init__(self, msg: str, offsets: list[int]):
        super().__init__(msg)
        self.offsets = offsets


_I32_MAX = float(np.iinfo(np.int32).max)
_I32_MIN = float(np.iinfo(np.int32).min)
#: (aggregator, job, worker, slots) -> next shadow-copy bit of every slot (see the module doc)
_NEXT_COPY: dict[tuple, np.ndarray] = {}
#: floor of the adaptive retransmission timeout (s); RFC 6298 uses 1 s for TCP over the
#: Internet, a testbed of veths needs far less.
MIN_RTO_S = 0.2
#: the UDP port the workers of the in-kernel aggregator (netfuncs/ina/ina.nf) send from and
#: receive results on: the NF multicasts one result frame to every worker port, addressed to
#: 255.255.255.255 and to the sender's source port, so every worker must use the same port
RESULT_PORT = P.UDP_PORT + 2


def quantize(array: np.ndarray, frac_bits: int = 16) -> np.ndarray:
    """Float tensor -> int32 fixed point ``rint(x * 2**frac_bits)``, any shape kept.

    Args:
        array: any floating dtype (float16/32/64; wider floats are rounded to float64
            first), finite, ``|x| * 2**frac_bits <= 2**31 - 1``.
        frac_bits: 0..30 fractional bits (scale 2**frac_bits).
    Returns:
        int32 array of the same shape.
    Raises:
        ValueError: not a floating dtype, NaN/Inf, or a value that does not fit int32 at that
        scale (the message names the first such element, in C order).
    """
    a = np.asarray(array)
    if not np.issubdtype(a.dtype, np.floating):
        raise ValueError(f"quantize takes a floating dtype (float16/32/64), not {a.dtype}")
    if not 0 <= frac_bits <= 30:
        raise ValueError(f"frac_bits {frac_bits} outside 0..30")
    if not np.isfinite(a).all():
        i = int(np.argmax(~np.isfinite(a).ravel()))
        raise ValueError(f"element {i} is {a.ravel()[i]}: NaN/Inf cannot be aggregated")
    scaled = np.rint(a.astype(np.float64) * (2.0 ** frac_bits))
    if a.size and np.abs(scaled).max() > _I32_MAX:
        i = int(np.argmax(np.abs(scaled).ravel() > _I32_MAX))
        raise ValueError(f"element {i} = {a.ravel()[i]} does not fit int32 with frac_bits="
                         f"{frac_bits} (|x| must be < {2.0 ** (31 - frac_bits)}): use fewer "
                         "fractional bits")
    return scaled.astype(np.int32)


def dequantize(q: np.ndarray, frac_bits: int = 16, dtype=np.float64) -> np.ndarray:
    """int32 sums -> floats ``q * 2**-frac_bits`` in ``dtype`` (exact in float64)."""
    return (np.asarray(q, np.float64) * (2.0 ** -frac_bits)).astype(dtype)


def allocate(aggregator: tuple[str, int], job: int, slots: int, n_workers: int,
             timeout_s: float = 2.0, op: str = "alloc") -> dict:
    """Ask the aggregator's control plane (UDP ``port + 1``) for ``slots`` slots for ``job``.

    Args:
        aggregator: (host, data-plane port). op: "alloc", "free" or "stats".
    Returns:
        the reply (``{"ok": True, "base": B}`` for alloc).
    Raises:
        InaError: refusal (the aggregator's message, e.g. not enough free slots) or no reply.
    """
    host, port = aggregator
    req = {"op": op, "job": job, "slots": slots, "workers": n_workers}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout_s)
        try:
            s.sendto(json.dumps(req).encode(), (host, port + 1))
            reply = json.loads(s.recvfrom(65536)[0])
        except (TimeoutError, ConnectionRefusedError):
            raise InaError(f"no aggregator control plane at {host}:{port + 1} "
                           f"(no reply within {timeout_s} s)") from None
    if "error" in reply:
        raise InaError(f"aggregator refused {op} for job {job}: {reply['error']}")
    return reply


def forget(job: int | None = None) -> None:
    """Drop this process's memory of the slots' shadow-copy bits and of the last union
    sizes ("auto") (of ``job``, or of all jobs): call it when the job is re-allocated (a
    fresh allocation starts at copy 0)."""
    for key in [k for k in _NEXT_COPY if job is None or k[1] == job]:
        del _NEXT_COPY[key]
    for key in [k for k in _LAST_UNION if job is None or k[1] == job]:
        del _LAST_UNION[key]


def _result_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype :func:`allreduce` returns for input ``dtype``: floats keep theirs; bool and
    integers of at most 16 bits give int32 (their sum need not fit their own width); 32-bit
    and wider integers give int64 for unsigned 32/64-bit (the int32 sum may be negative) and
    their own dtype otherwise."""
    if np.issubdtype(dtype, np.floating):
        return dtype
    if dtype == np.bool_ or dtype.itemsize <= 2:
        return np.dtype(np.int32)
    if np.issubdtype(dtype, np.unsignedinteger):
        return np.dtype(np.int64)
    return dtype


def _to_int32(array: np.ndarray, frac_bits: int) -> np.ndarray:
    """The flat, C-contiguous int32 vector that :func:`allreduce` aggregates for ``array``
    (any shape, any memory layout): floats quantised (:func:`quantize`), bool as 0/1,
    integers as they are (each value must fit int32).

    Raises:
        TypeError: not a numpy array, or a dtype with no integer sum (complex, object,
            strings, datetimes). ValueError: NaN/Inf, a value that does not fit int32 (after
            scaling, for floats), 2**32 or more elements.
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"allreduce takes a numpy array, not {type(array).__name__} "
                        "(convert with np.asarray(x))")
    dt = array.dtype
    if not (np.issubdtype(dt, np.floating) or np.issubdtype(dt, np.integer) or dt == np.bool_):
        raise TypeError(f"allreduce sums real numbers: floating, integer or bool arrays, not "
                        f"{dt}")
    if array.size >= 2**32:
        raise ValueError(f"{array.size} elements: the protocol's offsets are u32")
    flat = np.ravel(array)  # C order; copies a non-contiguous view
    if np.issubdtype(dt, np.floating):
        return quantize(flat, frac_bits)
    if dt != np.bool_ and dt.itemsize >= 4 and flat.size:
        lo, hi = flat.min(), flat.max()
        if lo < _I32_MIN or hi > _I32_MAX:
            i = int(np.argmax((flat < _I32_MIN) | (flat > _I32_MAX)))
            raise ValueError(f"element {i} = {flat[i]} does not fit int32 (the aggregator sums "
                             f"int32): integer input must lie in [-2**31, 2**31 - 1]")
    return np.ascontiguousarray(flat, dtype=np.int32)


def allreduce(array: np.ndarray, job: int, worker: int, n_workers: int,
              aggregator: tuple[str, int], slots: int = 64, frac_bits: int = 16,
              retransmit_s: float = 0.2, timeout_s: float = 5.0,
              stats: dict | None = None, compress: str = "none",
              sketch_cells: int | None = None, seed: int = 0,
              result_port: int | None = None) -> np.ndarray:
    """Sum ``array`` over the job's ``n_workers`` workers through the aggregator.

    Every worker calls this with an array of the same size (and, to get the same dtype back,
    the same dtype); each gets the sum.

    Args:
        array: a numpy array of any shape, size and memory layout (non-contiguous views are
            copied): floating (quantised with ``frac_bits``, see :func:`quantize`), integer
            (each value must fit int32; summed as is) or bool (summed as 0/1). An empty array
            returns an empty result at once without any traffic: every worker of the job
            must then pass an empty array too (a worker with elements would wait for the
            empty one and end with :class:`InaTimeout`).
        job, worker, n_workers: the job id, this worker's id (0..n_workers-1), the count.
        aggregator: (host, UDP port) of the aggregator's data plane.
        slots: the window: outstanding chunks, at most the job's allocation (same on every
            worker).
        retransmit_s: the initial retransmission timeout: a chunk without a result for that
            long is sent again (flagged FLAG_RETRANSMIT). Then the timeout follows the
            RTT of chunks sent once (RFC 6298: SRTT + 4 RTTVAR, Karn's rule), at least
            MIN_RTO_S and at most 16 retransmit_s, and doubles per unanswered
            retransmission of a chunk (up to 16x).
        timeout_s: no result at all for this long ends the call with :class:`InaTimeout`.
        stats: if given, filled with ``packets_sent``, ``retransmissions``, ``results``,
            ``malformed``, ``duplicates`` (results for chunks no longer outstanding) and
            ``send_drops`` (sends refused by the local queue, ENOBUFS), summed over rounds;
            and ``bytes_a``, ``bytes_b``, ``bytes_fallback``, ``bytes_total``: UDP payload
            bytes this worker sent in the bitmap round (with the sketch in one-round LHC),
            the value round and the fallback round (retransmissions included; 1,044 per
            packet); ``mode`` (what ran), ``union`` (u), ``sketch_cells``, ``unresolved``.
        compress: "none" (dense, one round); "union" (round A ORs the support bitmaps, round
            B sums the values at the union's u positions densely); "lhc" (lossless
            homomorphic compression, :mod:`cora.ina.lhc`: round A ORs the bitmaps, round B
            sums count sketches of ``lhc.sketch_cells(u)`` cells, then peeling; with
            ``sketch_cells`` given, the sketch of that many cells is sent in round A with
            the bitmap, one round); "auto": "union" unless the previous call of this job,
            worker and size found a union over 90% of the elements, then "none" (decided
            from the shared union, so every worker decides the same). Stalled peeling and
            int32 overflow of a sketch cell fall back to dense rounds over the unresolved
            positions / the union: every mode returns the dense sum.
        sketch_cells: one-round LHC: the sketch size (a multiple of 3, the same on every
            worker), e.g. ``lhc.sketch_cells(expected union size)``.
        seed: the sketch's hash seed (the same on every worker).
        result_port: None: send from an ephemeral port and receive only the aggregator's
            datagrams to it (a connected socket; the user-space aggregator answers each worker
            at its own address). A port number (e.g. :data:`RESULT_PORT`): send from and
            receive on that port of every local address, broadcasts included, keeping only
            datagrams from the aggregator's host and port and of this job: needed by the
            in-kernel aggregator, which multicasts one broadcast-addressed result to every
            worker. Several jobs' workers in one namespace share the port (SO_REUSEADDR):
            every answer of the NF is broadcast-addressed, so each of their sockets gets
            it and keeps its own job's.
    Returns:
        a C-contiguous array of the input's shape: for floats, ``dequantize(sum of
        quantised, frac_bits)`` in the input's dtype; for integers and bool, the int32 sums
        as int32 (inputs of at most 16 bits, bool), int64 (uint32, uint64) or the input's
        dtype (int32, int64).
    Raises:
        TypeError: not a numpy array; complex, object, string or datetime dtype.
        ValueError: NaN/Inf (never summed), a value too large for int32 (after scaling).
        InaOverflow: an int32 sum overflowed (all chunks still complete, so every worker
        raises it). InaTimeout: no progress for ``timeout_s``. InaError: an
        error reply (unknown job, size mismatch across workers, ...), nothing listening, or
        a ``result_port`` outside 1..65535 or that cannot be bound (held by another socket).
    """
    if isinstance(array, np.generic):  # a numpy scalar: a 0-d array
        array = np.asarray(array)
    q = _to_int32(array, frac_bits)
    if compress not in COMPRESS_MODES:
        raise ValueError(f"compress={compress!r}: use one of {', '.join(COMPRESS_MODES)}")
    if sketch_cells is not None and (compress != "lhc" or sketch_cells < 3
                                     or sketch_cells % 3):
        raise ValueError(f"sketch_cells={sketch_cells}: a positive multiple of 3, only with "
                         "compress='lhc'")
    result_dtype = _result_dtype(array.dtype)
    if q.size == 0:
        if stats is not None:
            stats.update(mode=compress, packets_sent=0, retransmissions=0, results=0,
                         bytes_a=0, bytes_b=0, bytes_fallback=0, bytes_total=0)
        return np.zeros(array.shape, result_dtype)
    if compress == "none":
        out = _allreduce_int32(q, job, worker, n_workers, aggregator, slots,
                               retransmit_s, timeout_s, stats, result_port)
        if stats is not None:
            stats.update(mode="none", bytes_a=stats["packets_sent"] * P.PACKET_BYTES,
                         bytes_b=0, bytes_fallback=0,
                         bytes_total=stats["packets_sent"] * P.PACKET_BYTES)
    else:
        rounds = _Rounds(job, worker, n_workers, aggregator, slots, retransmit_s, timeout_s,
                         result_port)
        try:
            out = _compressed(q, compress, sketch_cells, seed, rounds)
        finally:
            if stats is not None:
                stats.update(rounds.stats)
    out = out.reshape(array.shape)
    if np.issubdtype(result_dtype, np.floating):
        return dequantize(out, frac_bits, result_dtype)
    return out.astype(result_dtype, copy=False)


COMPRESS_MODES = ("none", "union", "lhc", "auto")
#: "auto" sends densely when the previous call's union covered more than this fraction
AUTO_DENSE_FRACTION = 0.9
_LAST_UNION: dict[tuple, float] = {}  # (aggregator, job, worker, size) -> union fraction


class _Rounds:
    """The reduction rounds of one compressed all-reduce, with per-phase byte counts."""

    def __init__(self, job: int, worker: int, n_workers: int, aggregator: tuple[str, int],
                 slots: int, retransmit_s: float, timeout_s: float,
                 result_port: int | None = None):
        self.args = (job, worker, n_workers, aggregator, slots, retransmit_s, timeout_s)
        self.result_port = result_port
        self.stats: dict = {"bytes_a": 0, "bytes_b": 0, "bytes_fallback": 0,
                            "bytes_total": 0, "packets_sent": 0, "retransmissions": 0,
                            "results": 0, "malformed": 0, "duplicates": 0, "send_drops": 0}

    def reduce(self, vec: np.ndarray, phase: str, or_chunks: int = 0
               ) -> tuple[np.ndarray, list[int]]:
        st: dict = {}
        try:
            return _reduce_int32(vec, *self.args, st, or_chunks, self.result_port)
        finally:
            for k, v in st.items():
                self.stats[k] += v
            b = st.get("packets_sent", 0) * P.PACKET_BYTES
            self.stats["bytes_" + phase] += b
            self.stats["bytes_total"] += b

    def dense(self, vec: np.ndarray, phase: str) -> np.ndarray:
        out, overflowed = self.reduce(vec, phase)
        if overflowed:
            job = self.args[0]
            raise InaOverflow(f"int32 overflow in the aggregated sum of job {job} "
                              f"({phase} round, {len(overflowed)} chunk(s))", overflowed)
        return out


def _compressed(q: np.ndarray, mode: str, hint: int | None, seed: int, rounds: _Rounds
                ) -> np.ndarray:
    """The compressed all-reduce of a flat int32 tensor (see :func:`allreduce`)."""
    n = q.size
    job, worker, _, aggregator, *_ = rounds.args
    key = (aggregator, job, worker, n)
    st = rounds.stats
    if mode == "auto":
        dense = _LAST_UNION.get(key, 0.0) > AUTO_DENSE_FRACTION
        mode = "none" if dense else "union"
        if dense:
            st["mode"] = "auto:none"
            out = rounds.dense(q, "b")
            _LAST_UNION[key] = 1.0  # stays dense until forgotten: a dense round sees no union
            return out
        st["mode"] = "auto:union"
    else:
        st["mode"] = mode
    nz = np.flatnonzero(q)
    words = lhc.pack_bitmap(q != 0)
    n_words = words.size
    if mode == "lhc" and hint is not None:
        # one round: bitmap chunks (OR) then sketch chunks (add), and a flag cell
        pad = -(-n_words // P.K) * P.K
        m = hint
        local = lhc.encode_sketch(nz, q[nz], m, seed)
        too_big = bool(local.size and (local.min() < _I32_MIN or local.max() > _I32_MAX))
        vec = np.zeros(pad + m + 1, np.int32)
        vec[:n_words] = words
        vec[pad:pad + m] = local.astype(np.int32)  # wraps when too_big: then discarded
        vec[-1] = too_big
        res, overflowed = rounds.reduce(vec, "a", or_chunks=pad // P.K)
        union = np.flatnonzero(lhc.unpack_bitmap(res[:n_words], n))
        sketch = res[pad:pad + m]
        sketch_ok = not overflowed and res[-1] == 0
    else:
        res, _ = rounds.reduce(words, "a", or_chunks=-(-n_words // P.K))
        union = np.flatnonzero(lhc.unpack_bitmap(res, n))
    u = union.size
    st["union"] = u
    _LAST_UNION[key] = u / n
    out = np.zeros(n, np.int32)
    if u == 0:
        return out
    if mode == "union":
        out[union] = rounds.dense(q[union], "b")
        return out
    if hint is None:
        m = lhc.sketch_cells(u)
        local = lhc.encode_sketch(nz, q[nz], m, seed)
        too_big = bool(local.min() < _I32_MIN or local.max() > _I32_MAX)
        vec = np.append(local.astype(np.int32), np.int32(too_big))
        res, overflowed = rounds.reduce(vec, "b")
        sketch = res[:m]
        sketch_ok = not overflowed and res[-1] == 0
    st["sketch_cells"] = m
    if not sketch_ok:  # a sketch cell overflowed int32: the union's values densely
        st["unresolved"] = u
        out[union] = rounds.dense(q[union], "fallback")
        return out
    values, resolved = lhc.peel(sketch, union, seed)
    left = union[~resolved]
    st["unresolved"] = left.size
    if left.size:  # peeling stalled: the same positions on every worker, sent densely
        values[~resolved] = rounds.dense(q[left], "fallback")
    if values.min() < _I32_MIN or values.max() > _I32_MAX:
        raise InaOverflow(f"int32 overflow in the aggregated sum of job {job}: "
                          f"{int((values < _I32_MIN).sum() + (values > _I32_MAX).sum())} "
                          "element(s) of the sum do not fit int32", [])
    out[union] = values
    return out


def encode_chunks(q: np.ndarray, job: int, worker: int, n_workers: int, slots: int,
                  first_copy: np.ndarray | None = None, or_chunks: int = 0) -> np.ndarray:
    """All packets of a flat int32 tensor at once (vectorised).

    Args:
        first_copy: per slot (shape (slots,)), the copy bit of the slot's first use in this
            call (default all 0).
        or_chunks: the first ``or_chunks`` chunks carry FLAG_OR (OR-reduced bitmaps).
    Returns:
        a PACKET_DTYPE array of shape (ceil(n/K),); chunk c in slot c % slots, copy
        first_copy[c % slots] ^ ((c // slots) % 2), the last chunk zero-padded.
    """
    total = q.size
    n_chunks = -(-total // P.K)
    # validate the scalar fields once through the single-packet encoder
    P.encode(job, min(slots, P.MAX_SLOTS) - 1, 0, 0, total, worker, n_workers, None)
    recs = np.zeros(n_chunks, P.PACKET_DTYPE)
    c = np.arange(n_chunks)
    recs["magic"] = P.MAGIC
    recs["version"] = P.VERSION
    recs["job"] = job
    recs["flags"][:or_chunks] = P.FLAG_OR
    first = np.zeros(slots, np.int64) if first_copy is None else first_copy.astype(np.int64)
    recs["slot"] = (c % slots) | (((first[c % slots] ^ (c // slots)) & 1) << 15)
    recs["worker"] = worker
    recs["n_workers"] = n_workers
    recs["offset"] = c * P.K
    recs["total"] = total
    padded = np.zeros(n_chunks * P.K, np.int32)
    padded[:total] = q
    recs["values"] = padded.reshape(n_chunks, P.K)
    return recs


def _allreduce_int32(q: np.ndarray, job: int, worker: int, n_workers: int,
                     aggregator: tuple[str, int], slots: int, retransmit_s: float,
                     timeout_s: float, stats: dict | None,
                     result_port: int | None = None) -> np.ndarray:
    out, overflowed = _reduce_int32(q, job, worker, n_workers, aggregator, slots,
                                    retransmit_s, timeout_s, stats, result_port=result_port)
    if overflowed:
        raise InaOverflow(f"int32 overflow in the aggregated sum of job {job} in "
                          f"{len(overflowed)} chunk(s) (first at element {overflowed[0]}): "
                          "use fewer fractional bits or smaller values", overflowed)
    return out


def _reduce_int32(q: np.ndarray, job: int, worker: int, n_workers: int,
                  aggregator: tuple[str, int], slots: int, retransmit_s: float,
                  timeout_s: float, stats: dict | None, or_chunks: int = 0,
                  result_port: int | None = None) -> tuple[np.ndarray, list[int]]:
    """One reduction round of a flat int32 vector: (result, offsets of overflowed chunks)."""
    if not 1 <= slots <= P.MAX_SLOTS:
        raise ValueError(f"slots {slots} outside 1..{P.MAX_SLOTS}")
    key = (aggregator, job, worker, slots)
    first_copy = _NEXT_COPY.pop(key, np.zeros(slots, np.int64))  # dropped unless we succeed
    recs = encode_chunks(q, job, worker, n_workers, slots, first_copy, or_chunks)
    chunk_copy = (recs["slot"] >> 15).astype(np.int64)
    n_chunks = recs.shape[0]
    window = min(slots, n_chunks)
    wire = recs.tobytes()
    size = P.PACKET_BYTES
    result = np.zeros((n_chunks, P.K), np.int32)
    done = np.zeros(n_chunks, bool)
    overflowed: list[int] = []
    outstanding: dict[int, int] = {}      # slot -> chunk
    sent_at: dict[int, float] = {}        # slot -> last send time
    tries: dict[int, int] = {}            # slot -> retransmissions of its current chunk
    rto = [retransmit_s]                  # the retransmission timeout (RFC 6298 estimator)
    srtt: list = [None, 0.0]              # smoothed RTT, RTT variation (s)
    st = {"packets_sent": 0, "retransmissions": 0, "results": 0, "malformed": 0,
          "duplicates": 0, "send_drops": 0}
    host, port = aggregator
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        P.set_socket_buffers(sock, 4 << 20)
        if result_port is None:
            sock.connect((host, port))  # only the aggregator's datagrams are received
        else:  # broadcast results of the in-kernel aggregator: filtered below
            if not 1 <= result_port <= 65535:
                raise InaError(f"result_port {result_port} outside 1..65535")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("", result_port))
            except OSError as exc:
                raise InaError(f"cannot receive results on UDP port {result_port}: "
                               f"{exc.strerror}") from None
        agg_addr = (socket.gethostbyname(host), port)

        def send(c: int, retransmit: bool = False) -> None:
            pkt = wire[c * size:(c + 1) * size]
            if retransmit:
                pkt = pkt[:3] + bytes([pkt[3] | P.FLAG_RETRANSMIT]) + pkt[4:]
                st["retransmissions"] += 1
            try:
                sock.sendto(pkt, agg_addr)
            except ConnectionRefusedError:
                raise InaError(f"nothing listens at the aggregator {host}:{port} "
                               "(ICMP port unreachable)") from None
            except OSError as exc:
                if exc.errno not in (errno.ENOBUFS, errno.EAGAIN):
                    raise InaError(f"cannot send to the aggregator {host}:{port}: "
                                   f"{exc.strerror}") from None
                st["send_drops"] += 1  # the local queue is full: a drop, the timer covers it
            else:
                st["packets_sent"] += 1
            s = c % slots
            sent_at[s] = time.monotonic()
            tries[s] = tries.get(s, -1) + 1 if retransmit else 0

        def due(s: int) -> float:
            # the retransmission timeout doubles per unanswered retransmission, up to 16x
            return sent_at[s] + rto[0] * (1 << min(tries[s], 4))

        for c in range(window):
            outstanding[c % slots] = c
            send(c)
        last_progress = time.monotonic()
        got_any = False
        while outstanding:
            now = time.monotonic()
            if now - last_progress > timeout_s:
                missing = sorted(outstanding.values())
                if not got_any:
                    why = (f"no answer from the aggregator at {host}:{port} within {timeout_s} s:"
                           " it is not running or not reachable, or another worker of job "
                           f"{job} never started (only complete chunks are answered)")
                else:
                    more = "..." if len(missing) > 4 else ""
                    why = (f"no result for {timeout_s} s with {int(done.sum())} of {n_chunks} "
                           f"chunks done and chunks {missing[:4]}{more}"
                           f" outstanding: another worker of job {job} has probably stopped")
                raise InaTimeout(f"allreduce of job {job} (worker {worker}/{n_workers}): {why}")
            next_due = min(due(s) for s in outstanding)
            if next_due <= now:
                for s, c in outstanding.items():
                    if due(s) <= now:
                        send(c, retransmit=True)
                continue
            sock.settimeout(max(min(next_due, last_progress + timeout_s) - now, 1e-4))
            try:
                data, src = sock.recvfrom(4096)
            except TimeoutError:
                continue
            except ConnectionRefusedError:
                raise InaError(f"nothing listens at the aggregator {host}:{port} "
                               "(ICMP port unreachable)") from None
            if src != agg_addr:
                continue  # (unconnected socket) not from the aggregator
            got_any = True
            try:
                flags, rjob, slot, copy, _, _, code, offset, _ = P.parse_header(data)
            except P.MalformedPacket:
                st["malformed"] += 1
                continue
            if rjob != job:
                st["duplicates"] += 1   # another job's answer (multicast to every worker)
                continue
            if flags & P.FLAG_ERROR:
                raise InaError(f"aggregator error for job {job} (worker {worker}): "
                               f"{P.ERROR_TEXT.get(code, f'error code {code}')}")
            hit = outstanding.get(slot)
            if (not flags & P.FLAG_RESULT or rjob != job or hit is None
                    or offset != hit * P.K or copy != chunk_copy[hit]):
                st["duplicates"] += 1   # a late duplicate result of an earlier chunk
                continue
            c = hit
            if tries[slot] == 0:  # Karn: RTT samples only from chunks sent once
                sample = time.monotonic() - sent_at[slot]
                if srtt[0] is None:
                    srtt[0], srtt[1] = sample, sample / 2
                else:
                    srtt[1] = 0.75 * srtt[1] + 0.25 * abs(srtt[0] - sample)
                    srtt[0] = 0.875 * srtt[0] + 0.125 * sample
                rto[0] = min(max(srtt[0] + 4 * srtt[1], MIN_RTO_S), retransmit_s * 16)
            result[c] = P.values_of(data)
            done[c] = True
            st["results"] += 1
            if flags & P.FLAG_OVERFLOW:
                overflowed.append(c * P.K)
            last_progress = time.monotonic()
            del outstanding[slot]
            if c + slots < n_chunks:  # the slot's next chunk (chunks finish out of order)
                outstanding[slot] = c + slots
                send(c + slots)
    finally:
        sock.close()
        if stats is not None:
            stats.update(st)
    uses = np.bincount(np.arange(n_chunks) % slots, minlength=slots)
    _NEXT_COPY[key] = first_copy ^ (uses & 1)
    return result.ravel()[:q.size].copy(), overflowed
