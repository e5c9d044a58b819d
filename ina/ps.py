"""The reference aggregator in user space: the parameter-server baseline and the executable
specification of the aggregation NF (docs/ina.md, "Aggregator semantics").

:class:`SlotPool` is the whole data-plane logic as a pure function of packets
(:meth:`SlotPool.handle`: one datagram in, a list of (datagram, destination) out); it keeps,
like the switch of SwitchML (Sapio et al., NSDI'21) and of ATP (Lao et al., NSDI'21),
per pool slot two copies (the shadow-copy bit) each with a worker bitmap, a contribution
count, the chunk offset and K int32 partial sums. :class:`Aggregator` runs a pool behind a
UDP socket (a plain socket loop in one thread) and a small JSON control plane on another UDP
port that allocates slots to jobs.

Semantics of one packet ``(job, slot s, copy v, worker w, offset, total, values)``:

1. The job must be allocated (else ERR_UNKNOWN_JOB), with the same worker count
   (ERR_BAD_WORKER) and ``s`` inside its pool (ERR_BAD_SLOT); errors go back to the sender.
2. ``seen = bitmap[v][s] has w``; then bit w of ``bitmap[1-v][s]`` is cleared (worker w
   has moved on, so it no longer needs the other copy's result).
3. Not seen, copy complete with the same offset, and the slot's other copy still being
   summed (count > 0): a late duplicate of a finished chunk (a worker uses copy v again
   only after the other copy's result, so nobody can start copy v anew now) -> the result
   again, to the sender only. (Without the last condition, a new chunk with the same offset
   and total, e.g. the next call on a tensor of the same size, would get the old result.)
4. Not seen, count 0: a new chunk starts in this copy: offset/total/values are taken from
   the packet, the overflow bit cleared, bit w set, count = 1.
5. Not seen, count > 0: offset and total must equal the copy's (else ERR_SIZE_MISMATCH to
   every worker of the job); values are added elementwise in int32 with wrap-around, and the
   copy's overflow bit is set (sticky) when any addition overflows int32; bit w set, count+1.
   With FLAG_OR the chunk's reduction is bitwise OR instead (never overflows); the first
   contribution fixes the copy's reduction and a later one with the other reduction gets
   ERR_OP_MISMATCH, to every worker of the job.
6. When count reaches n_workers the result (FLAG_RESULT, plus FLAG_OVERFLOW if set) goes to
   every worker of the job (the NF's multicast), count returns to 0 and the values stay as
   the shadow copy.
7. Seen and count 0 (complete): a retransmission -> the result to the sender only.
   Seen and count > 0: a duplicate while the chunk is still being summed -> dropped.

A result packet is the triggering packet rewritten: its worker field is the worker whose
packet produced it. Packets with FLAG_RESULT or FLAG_ERROR sent to the aggregator, and
malformed datagrams, are dropped and counted.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field

import numpy as np

from cora.ina import protocol as P

_I32_MIN = np.iinfo(np.int32).min
_I32_MAX = np.iinfo(np.int32).max


class PoolExhausted(Exception):
    """A job asked for more slots than the pool has free (the message says how many)."""


@dataclass
class _Job:
    base: int
    slots: int
    n_workers: int
    addrs: dict[int, tuple] = field(default_factory=dict)  # worker id -> last source address


class SlotPool:
    """The aggregator's state: ``pool_slots`` slots x 2 copies, shared by jobs.

    Args:
        pool_slots: slots in the whole pool (each K int32 values per copy: 2 KiB of sums).
    Raises:
        ValueError: pool_slots outside 1..MAX_SLOTS.
    """

    def __init__(self, pool_slots: int = 1024):
        if not 1 <= pool_slots <= P.MAX_SLOTS:
            raise ValueError(f"pool size {pool_slots} outside 1..{P.MAX_SLOTS}")
        self.pool_slots = pool_slots
        self.jobs: dict[int, _Job] = {}
        self._free = np.ones(pool_slots, bool)
        self.bitmap = np.zeros((2, pool_slots), np.uint32)
        self.count = np.zeros((2, pool_slots), np.int32)
        self.offset = np.zeros((2, pool_slots), np.int64)
        self.total = np.zeros((2, pool_slots), np.int64)
        self.overflow = np.zeros((2, pool_slots), bool)
        self.done = np.zeros((2, pool_slots), bool)
        self.op_or = np.zeros((2, pool_slots), bool)
        self.values = np.zeros((2, pool_slots, P.K), np.int32)
        self.stats = {"packets": 0, "malformed": 0, "ignored": 0, "results": 0,
                      "retransmitted_results": 0, "duplicates_dropped": 0, "errors": 0}
        self._lock = threading.Lock()

    # -- control plane --------------------------------------------------------------------
    def allocate(self, job: int, slots: int, n_workers: int) -> int:
        """Give ``job`` a contiguous range of ``slots`` pool slots for ``n_workers`` workers.

        Returns:
            the base pool index of the job's range.
        Raises:
            ValueError: bad job id / slots / worker count, or the job exists already.
            PoolExhausted: no free contiguous range of that size (the message gives the free
            count and the largest free range).
        """
        if not 0 <= job <= 0xFFFF:
            raise ValueError(f"job id {job} outside 0..65535")
        if not 1 <= n_workers <= P.MAX_WORKERS:
            raise ValueError(f"worker count {n_workers} outside 1..{P.MAX_WORKERS}")
        if slots < 1:
            raise ValueError(f"a job needs at least 1 slot, not {slots}")
        with self._lock:
            if job in self.jobs:
                raise ValueError(f"job {job} already has {self.jobs[job].slots} slots: "
                                 "free it first")
            base, largest = self._find_range(slots)
            if base is None:
                raise PoolExhausted(
                    f"job {job} asks for {slots} slots but only {int(self._free.sum())} of "
                    f"{self.pool_slots} are free (largest free range {largest})")
            self._free[base:base + slots] = False
            for arr in (self.bitmap, self.count, self.offset, self.total):
                arr[:, base:base + slots] = 0
            self.overflow[:, base:base + slots] = False
            self.done[:, base:base + slots] = False
            self.jobs[job] = _Job(base, slots, n_workers)
            return base

    def _find_range(self, slots: int) -> tuple[int | None, int]:
        run = largest = 0
        for i, free in enumerate(self._free):
            run = run + 1 if free else 0
            largest = max(largest, run)
            if run == slots:
                return i - slots + 1, largest
        return None, largest

    def free(self, job: int) -> None:
        """Return ``job``'s slots to the pool. Raises KeyError: no such job."""
        with self._lock:
            j = self.jobs.pop(job)
            self._free[j.base:j.base + j.slots] = True

    # -- data plane -----------------------------------------------------------------------
    def handle(self, data: bytes, addr: tuple) -> list[tuple[bytes, tuple]]:
        """Process one datagram from ``addr``; returns the datagrams to send (bytes, address).

        Never raises for any input bytes (malformed ones are counted and dropped).
        """
        with self._lock:
            self.stats["packets"] += 1
            try:
                flags, job_id, slot, v, w, n, _, offset, total = P.parse_header(data)
            except P.MalformedPacket:
                self.stats["malformed"] += 1
                return []
            if flags & (P.FLAG_RESULT | P.FLAG_ERROR):
                self.stats["ignored"] += 1
                return []
            job = self.jobs.get(job_id)
            if job is None:
                return [self._error(data, P.ERR_UNKNOWN_JOB, addr)]
            if n != job.n_workers:
                return [self._error(data, P.ERR_BAD_WORKER, addr)]
            if slot >= job.slots:
                return [self._error(data, P.ERR_BAD_SLOT, addr)]
            job.addrs[w] = addr
            is_or = bool(flags & P.FLAG_OR)
            p = job.base + slot
            bit = 1 << w
            bitmap = int(self.bitmap[v, p])
            seen = bool(bitmap & bit)
            # the slot's other copy still being summed: no worker can start copy v anew
            other_busy = int(self.count[1 - v, p]) > 0
            self.bitmap[1 - v, p] &= ~np.uint32(bit)
            count = int(self.count[v, p])
            same_chunk = int(self.offset[v, p]) == offset and int(self.total[v, p]) == total
            if not seen:
                if count == 0 and self.done[v, p] and same_chunk and other_busy:
                    return [(self._result(data, p, v), addr)]
                vals = P.values_of(data)
                if count == 0:
                    self.offset[v, p], self.total[v, p] = offset, total
                    self.values[v, p] = vals
                    self.overflow[v, p] = False
                    self.done[v, p] = False
                    self.op_or[v, p] = is_or
                else:
                    if not same_chunk:
                        return [self._error(data, P.ERR_SIZE_MISMATCH, a)
                                for a in job.addrs.values()]
                    if is_or != self.op_or[v, p]:
                        return [self._error(data, P.ERR_OP_MISMATCH, a)
                                for a in job.addrs.values()]
                if count and is_or:
                    self.values[v, p] |= vals.astype(np.int32)
                elif count:
                    s = self.values[v, p].astype(np.int64) + vals
                    if s.min() < _I32_MIN or s.max() > _I32_MAX:
                        self.overflow[v, p] = True
                    self.values[v, p] = s.astype(np.int32)  # wraps, like an i32 add
                self.bitmap[v, p] = bitmap | bit
                count += 1
                if count == job.n_workers:
                    self.count[v, p] = 0
                    self.done[v, p] = True
                    out = self._result(data, p, v, multicast=True)
                    self.stats["results"] += 1
                    return [(out, a) for a in job.addrs.values()]
                self.count[v, p] = count
                return []
            if count == 0 and same_chunk:
                return [(self._result(data, p, v), addr)]
            self.stats["duplicates_dropped"] += 1
            return []

    def _result(self, data: bytes, p: int, v: int, multicast: bool = False) -> bytes:
        """The result datagram: the triggering packet with flags and values rewritten."""
        if not multicast:
            self.stats["retransmitted_results"] += 1
        flags = (P.FLAG_RESULT | (P.FLAG_OVERFLOW if self.overflow[v, p] else 0)
                 | (P.FLAG_OR if self.op_or[v, p] else 0) | (data[3] & P.FLAG_RETRANSMIT))
        return (data[:3] + bytes((flags,)) + data[4:P.HEADER_BYTES]
                + self.values[v, p].astype(">i4").tobytes())

    def _error(self, data: bytes, code: int, addr) -> tuple[bytes, tuple]:
        self.stats["errors"] += 1
        return (data[:3] + bytes((P.FLAG_ERROR,)) + data[4:10] + bytes((code,))
                + data[11:P.HEADER_BYTES] + bytes(4 * P.K), addr)


class Aggregator:
    """A :class:`SlotPool` served over UDP: data plane on ``port``, control on ``port + 1``.

    Control requests are one JSON object per datagram: ``{"op": "alloc", "job": J,
    "slots": S, "workers": N}`` -> ``{"ok": true, "base": B}`` or ``{"error": "..."}``;
    ``{"op": "free", "job": J}``; ``{"op": "stats"}`` -> the pool's counters.
    Use as a context manager (starts one thread, stops and closes the sockets on exit).

    Args:
        host: address to bind (the switch's address on the testbed; 127.0.0.1 in tests).
        port: data-plane UDP port (0: any free port; read ``.port`` after start).
        pool_slots: see :class:`SlotPool`.
    Raises:
        OSError: cannot bind.
    """

    def __init__(self, host: str = "0.0.0.0", port: int = P.UDP_PORT, pool_slots: int = 1024):
        self.pool = SlotPool(pool_slots)
        for attempt in range(50):  # port 0: find a free pair (port, port + 1)
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.ctl = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                self.sock.bind((host, port))
                self.port = self.sock.getsockname()[1]
                self.ctl.bind((host, self.port + 1))
                break
            except OSError:
                self.sock.close()
                self.ctl.close()
                if port or attempt == 49:
                    raise
        P.set_socket_buffers(self.sock, 16 << 20)
        self.control_port = self.port + 1
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def serve_forever(self) -> None:
        """The data-plane loop (returns when :meth:`stop` is called)."""
        self.sock.settimeout(0.2)
        handle, send = self.pool.handle, self.sock.sendto
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                continue
            for out, dst in handle(data, addr):
                try:
                    send(out, dst)
                except OSError:
                    pass  # a worker's address gone: like a dropped frame

    def _serve_control(self) -> None:
        self.ctl.settimeout(0.2)
        while not self._stop.is_set():
            try:
                data, addr = self.ctl.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            self.ctl.sendto(json.dumps(self.control(data)).encode(), addr)

    def control(self, data: bytes) -> dict:
        """Answer one control request (see the class docstring); never raises."""
        try:
            req = json.loads(data)
            op = req["op"]
            if op == "alloc":
                base = self.pool.allocate(int(req["job"]), int(req["slots"]),
                                          int(req["workers"]))
                return {"ok": True, "base": base}
            if op == "free":
                self.pool.free(int(req["job"]))
                return {"ok": True}
            if op == "stats":
                return {"ok": True, "stats": dict(self.pool.stats),
                        "free_slots": int(self.pool._free.sum())}
            return {"error": f"unknown control op {op!r}"}
        except KeyError as exc:
            return {"error": f"no such job or missing field {exc}"}
        except (ValueError, TypeError, PoolExhausted) as exc:
            return {"error": str(exc)}

    def start(self) -> Aggregator:
        """Start the data-plane and control threads; returns self."""
        for target in (self.serve_forever, self._serve_control):
            t = threading.Thread(target=target, daemon=True, name="ina-aggregator")
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        """Stop the threads and close both sockets (idempotent)."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout=2.0)
        self._threads.clear()
        self.sock.close()
        self.ctl.close()

    def __enter__(self) -> Aggregator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """``python -m cora.ina.ps --host H [--port P] [--pool-slots S]``: run an aggregator
    until SIGTERM/SIGINT (the testbed starts it in the switch namespace)."""
    import argparse
    import signal

    ap = argparse.ArgumentParser(prog="python -m cora.ina.ps", description=main.__doc__)
    ap.add_argument("--host", default="0.0.0.0")
    ap.add_argument("--port", type=int, default=P.UDP_PORT)
    ap.add_argument("--pool-slots", type=int, default=1024)
    args = ap.parse_args(argv)
    try:
        agg = Aggregator(args.host, args.port, args.pool_slots)
    except (OSError, ValueError) as exc:
        print(f"error: cannot start the aggregator: {exc}", flush=True)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with agg:
        print(f"ready {args.host}:{agg.port}", flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
