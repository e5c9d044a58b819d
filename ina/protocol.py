"""The in-network aggregation (INA) wire protocol, defined once (see docs/ina.md).

One aggregation packet is the payload of one UDP datagram (port :data:`UDP_PORT`): a 20-byte
header and :data:`K` int32 values, all in network byte order (big-endian)::

    off size field       meaning
      0   2  magic       0xC0A9 (anything else is not an INA packet)
      2   1  version     1
      3   1  flags       FLAG_OVERFLOW 0x01, FLAG_RESULT 0x02, FLAG_RETRANSMIT 0x04,
                         FLAG_ERROR 0x08, FLAG_OR 0x10 (the chunk is OR-reduced,
                         not added: LHC support bitmaps; the other bits must be 0)
      4   2  job         job id (the aggregator's control plane allocates its slots)
      6   2  slot        bit 15: the shadow-copy bit (which of the slot's two copies);
                         bits 0-14: the pool index, relative to the job's own pool
      8   1  worker      worker id, 0 .. n_workers-1
      9   1  n_workers   number of workers of the job, 1 .. MAX_WORKERS
     10   1  error       ERR_* code when FLAG_ERROR is set, else 0
     11   1  reserved    0
     12   4  offset      index (in int32 elements) of the chunk's first value in the tensor
     16   4  total       number of int32 elements of the whole tensor
     20 4*K  values      K signed 32-bit integers (the last chunk is zero-padded)

K = 256: the largest power of two whose packet fits a 1,500-byte MTU (IPv4 20 + UDP 8 +
header 20 + 4 K = 1,072 bytes; K = 512 would need 2,096). A power of two keeps the
aggregator's per-slot array (``i32[256]``, 1 KiB, plus its bitmap) a fixed, aligned size and
its loops bounded by a constant for the NF to come; the frame carries 1,024 value bytes in
1,086 bytes (Ethernet header 14 included; a veth has no CRC), 94.3% of the link.

Decoding is vectorised with numpy structured dtypes: :func:`decode` parses one packet,
:func:`decode_many` a batch of equal-length packets. Every length and field is checked:
malformed input raises :class:`MalformedPacket` (a ``ValueError``), never anything else.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

MAGIC = 0xC0A9
VERSION = 1
#: int32 values per packet (see the module docstring for why 256).
K = 256
#: default UDP port of the aggregator's data plane; the control plane listens on PORT + 1.
UDP_PORT = 47000
CONTROL_PORT = UDP_PORT + 1
#: the worker bitmap is one u32 per slot copy in the aggregator.
MAX_WORKERS = 32
#: the pool index is 15 bits (bit 15 of the slot field is the shadow-copy bit).
MAX_SLOTS = 1 << 15

FLAG_OVERFLOW = 0x01
FLAG_RESULT = 0x02
FLAG_RETRANSMIT = 0x04
FLAG_ERROR = 0x08
#: the reduction of the chunk is bitwise OR (support bitmaps of lossless homomorphic
#: compression, Li et al., MLSys'24, arXiv 2402.07529) instead of int32 addition.
FLAG_OR = 0x10
_KNOWN_FLAGS = FLAG_OVERFLOW | FLAG_RESULT | FLAG_RETRANSMIT | FLAG_ERROR | FLAG_OR
_UNKNOWN_FLAGS = 0xFF & ~_KNOWN_FLAGS
_COPY_BIT = 0x8000

ERR_NONE = 0
ERR_UNKNOWN_JOB = 1
ERR_BAD_WORKER = 2
ERR_SIZE_MISMATCH = 3
ERR_BAD_SLOT = 4
ERR_OP_MISMATCH = 5
#: one line per error code, for the worker's exception message.
ERROR_TEXT = {
    ERR_UNKNOWN_JOB: "the aggregator has no slots allocated for this job",
    ERR_BAD_WORKER: "worker id or worker count disagrees with the job's allocation",
    ERR_SIZE_MISMATCH: "the workers' tensors differ in size (or chunk offsets disagree)",
    ERR_BAD_SLOT: "slot index outside the job's allocation",
    ERR_OP_MISMATCH: "the workers' contributions to a chunk disagree on the reduction "
                     "(OR vs add)",
}

HEADER_DTYPE = np.dtype([
    ("magic", ">u2"), ("version", "u1"), ("flags", "u1"), ("job", ">u2"), ("slot", ">u2"),
    ("worker", "u1"), ("n_workers", "u1"), ("error", "u1"), ("reserved", "u1"),
    ("offset", ">u4"), ("total", ">u4"),
])
HEADER_BYTES = HEADER_DTYPE.itemsize  # 20
PACKET_DTYPE = np.dtype(HEADER_DTYPE.descr + [("values", ">i4", (K,))])
PACKET_BYTES = PACKET_DTYPE.itemsize  # 1044
assert HEADER_BYTES == 20 and PACKET_BYTES == 20 + 4 * K


class MalformedPacket(ValueError):
    """A datagram that is not a well-formed INA packet (wrong length, magic, version, flags,
    reserved bits or field range)."""


@dataclass(frozen=True)
class Packet:
    """One decoded INA packet.

    Attributes:
        job: job id (0..65535). slot: pool index (0..32767, job-relative). copy: the
        shadow-copy bit (0 or 1). offset: first element index of the chunk. total: elements
        in the whole tensor. worker: worker id. n_workers: 1..MAX_WORKERS. flags: FLAG_*
        bits. error: ERR_* code. values: int32 array of shape (K,) (host byte order).
    """

    job: int
    slot: int
    copy: int
    offset: int
    total: int
    worker: int
    n_workers: int
    flags: int
    error: int = ERR_NONE
    values: np.ndarray | None = None

    @property
    def is_result(self) -> bool:
        return bool(self.flags & FLAG_RESULT)

    @property
    def overflow(self) -> bool:
        return bool(self.flags & FLAG_OVERFLOW)

    def encode(self) -> bytes:
        """The packet's wire bytes (see :func:`encode`)."""
        return encode(self.job, self.slot, self.copy, self.offset, self.total, self.worker,
                      self.n_workers, self.values, flags=self.flags, error=self.error)


def _check_ranges(job: int, slot: int, copy: int, offset: int, total: int, worker: int,
                  n_workers: int, flags: int, error: int) -> None:
    if not 0 <= job <= 0xFFFF:
        raise ValueError(f"job id {job} outside 0..65535")
    if not 0 <= slot < MAX_SLOTS:
        raise ValueError(f"slot {slot} outside 0..{MAX_SLOTS - 1}")
    if copy not in (0, 1):
        raise ValueError(f"shadow-copy bit must be 0 or 1, not {copy}")
    if not 1 <= n_workers <= MAX_WORKERS:
        raise ValueError(f"worker count {n_workers} outside 1..{MAX_WORKERS}")
    if not 0 <= worker < n_workers:
        raise ValueError(f"worker id {worker} outside 0..{n_workers - 1}")
    if not (0 <= offset < 2**32 and 0 < total < 2**32):
        raise ValueError(f"offset {offset} / total {total} do not fit u32 (total >= 1)")
    if flags & ~_KNOWN_FLAGS or not 0 <= flags <= 0xFF:
        raise ValueError(f"unknown flag bits in 0x{flags:x}")
    if not 0 <= error <= 0xFF:
        raise ValueError(f"error code {error} outside 0..255")


def encode(job: int, slot: int, copy: int, offset: int, total: int, worker: int,
           n_workers: int, values: np.ndarray | None, flags: int = 0,
           error: int = ERR_NONE) -> bytes:
    """Encode one packet.

    Args:
        values: up to K int32-representable integers (shape (n,), n <= K; zero-padded to K),
            or None for all zeros.
    Returns:
        PACKET_BYTES (1044) bytes.
    Raises:
        ValueError: a field out of range, or values longer than K / not int32.
    """
    _check_ranges(job, slot, copy, offset, total, worker, n_workers, flags, error)
    rec = np.zeros(1, PACKET_DTYPE)
    rec["magic"] = MAGIC
    rec["version"] = VERSION
    rec["flags"] = flags
    rec["job"] = job
    rec["slot"] = slot | (_COPY_BIT if copy else 0)
    rec["worker"] = worker
    rec["n_workers"] = n_workers
    rec["error"] = error
    rec["offset"] = offset
    rec["total"] = total
    if values is not None:
        v = np.asarray(values)
        if v.ndim != 1 or v.shape[0] > K:
            raise ValueError(f"a packet carries at most {K} values, not shape {v.shape}")
        if v.dtype != np.int32:
            raise ValueError(f"packet values must be int32, not {v.dtype}")
        rec["values"][0, : v.shape[0]] = v
    return rec.tobytes()


def decode_many(data: bytes | bytearray | memoryview, count: int | None = None
                ) -> np.ndarray:
    """Parse ``count`` back-to-back packets (all PACKET_BYTES long) in one numpy pass.

    Returns:
        a structured array of PACKET_DTYPE, shape (count,), in wire byte order (read fields
        as usual; ``slot`` still carries the copy bit: use :func:`split_slot`).
    Raises:
        MalformedPacket: the length is not count x PACKET_BYTES, or any packet has a wrong
        magic/version, unknown flag bits, a non-zero reserved byte, worker count 0 or over
        MAX_WORKERS, a worker id >= worker count, or total 0.
    """
    buf = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    n = buf.size // PACKET_BYTES if count is None else count
    if buf.size != n * PACKET_BYTES or n == 0:
        what = "a whole number of" if count is None else str(count)
        raise MalformedPacket(f"{buf.size} bytes is not {what} INA packets of "
                              f"{PACKET_BYTES} bytes")
    recs = buf.view(PACKET_DTYPE)
    bad = ((recs["magic"] != MAGIC) | (recs["version"] != VERSION)
           | ((recs["flags"] & _UNKNOWN_FLAGS) != 0) | (recs["reserved"] != 0)
           | (recs["n_workers"] == 0) | (recs["n_workers"] > MAX_WORKERS)
           | (recs["worker"] >= recs["n_workers"]) | (recs["total"] == 0))
    if bad.any():
        i = int(np.argmax(bad))
        r = recs[i]
        raise MalformedPacket(
            f"packet {i}: magic 0x{int(r['magic']):04x} version {int(r['version'])} flags "
            f"0x{int(r['flags']):02x} reserved {int(r['reserved'])} worker {int(r['worker'])}"
            f"/{int(r['n_workers'])} total {int(r['total'])}: not a valid INA packet")
    return recs


_HEADER = struct.Struct(">HBBHHBBBBII")
_VALUES_DTYPE = np.dtype(">i4")


def parse_header(data: bytes | bytearray | memoryview) -> tuple[int, ...]:
    """Check one datagram and parse its header without numpy (the per-packet fast path).

    Returns:
        ``(flags, job, slot, copy, worker, n_workers, error, offset, total)``; the values are
        ``values_of(data)``.
    Raises:
        MalformedPacket: exactly when :func:`decode_many` would.
    """
    if len(data) != PACKET_BYTES:
        raise MalformedPacket(f"{len(data)} bytes is not an INA packet of {PACKET_BYTES} bytes")
    (magic, version, flags, job, slot, worker, n_workers, error, reserved, offset,
     total) = _HEADER.unpack_from(data)
    if (magic != MAGIC or version != VERSION or flags & _UNKNOWN_FLAGS or reserved
            or not 1 <= n_workers <= MAX_WORKERS or worker >= n_workers or total == 0):
        raise MalformedPacket(
            f"magic 0x{magic:04x} version {version} flags 0x{flags:02x} reserved {reserved} "
            f"worker {worker}/{n_workers} total {total}: not a valid INA packet")
    return (flags, job, slot & (_COPY_BIT - 1), slot >> 15, worker, n_workers, error, offset,
            total)


def values_of(data: bytes | bytearray | memoryview) -> np.ndarray:
    """The K values of a checked packet as a read-only big-endian int32 view, shape (K,)."""
    return np.frombuffer(data, _VALUES_DTYPE, count=K, offset=HEADER_BYTES)


def set_socket_buffers(sock, nbytes: int) -> None:
    """Ask for ``nbytes`` of receive and send buffer on a UDP socket; as root the
    net.core.rmem_max/wmem_max caps (about 200 KiB by default: under a hundred 1-KiB
    datagrams, less than a few workers' windows) are bypassed with SO_RCVBUFFORCE/
    SO_SNDBUFFORCE, otherwise the capped request stands."""
    import socket

    # SO_RCVBUFFORCE = 33, SO_SNDBUFFORCE = 32 (asm-generic/socket.h; Python lacks names)
    for force, plain in ((33, socket.SO_RCVBUF), (32, socket.SO_SNDBUF)):
        try:
            sock.setsockopt(socket.SOL_SOCKET, force, nbytes)
        except PermissionError:
            sock.setsockopt(socket.SOL_SOCKET, plain, nbytes)


def split_slot(slot_field: np.ndarray | int) -> tuple:
    """(pool index, shadow-copy bit) of a wire ``slot`` field (arrays work elementwise)."""
    return slot_field & (_COPY_BIT - 1), (slot_field >> 15) & 1


def decode(data: bytes | bytearray | memoryview) -> Packet:
    """Parse one datagram into a :class:`Packet` (values converted to host-order int32).

    Raises:
        MalformedPacket: see :func:`decode_many`.
    """
    rec = decode_many(data, 1)[0]
    slot, copy = split_slot(int(rec["slot"]))
    return Packet(job=int(rec["job"]), slot=slot, copy=copy, offset=int(rec["offset"]),
                  total=int(rec["total"]), worker=int(rec["worker"]),
                  n_workers=int(rec["n_workers"]), flags=int(rec["flags"]),
                  error=int(rec["error"]), values=rec["values"].astype(np.int32))
