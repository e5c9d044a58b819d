"""Read a packet capture into ``(timestamp_ns, frame_bytes)`` records (pcap replay).

Shared by ``cora run`` (frames in order, ``now()`` = the record's timestamp), ``cora bench``,
``cora plan --profile``, the demo and the traffic generator. Only Ethernet captures are
accepted, because every cora program starts at an Ethernet header (XDP's view of a frame).

Formats: classic pcap in either byte order, micro- or nanosecond timestamps (magic numbers
0xa1b2c3d4 / 0xa1b23c4d, libpcap ``pcap-savefile(5)``), and pcapng (read by dpkt; its
timestamps go through a float, exact to about 1 us).

Reading is streamed and checked as it goes (:func:`iter_pcap`), never the whole file first:
only a regular file is opened (a FIFO, /dev/zero or a directory is refused without reading;
:mod:`cora.inputs`), at most :data:`MAX_PCAP_BYTES`; then the magic, the version and the link
type of the file header, and each record's header, its captured length and its presence in
full. Captured lengths are checked as libpcap checks them (``sf-pcap.c``): above
:data:`MAX_SNAPLEN_BYTES` (libpcap's largest snapshot length for Ethernet) a record is
corrupt; above the file header's own snapshot length it is accepted (tcpdump's test captures
have such records) and, unlike libpcap, kept whole. A bad record stops the read with one
line naming the file and the record number (dpkt's reader would silently return a short
frame). Header parsing uses dpkt's header classes.

Link type: as libpcap does (``LT_LINKTYPE``), only the low 16 bits of the file header's
link-type field name the link type; the upper bits carry optional FCS-length information
(pcap-savefile(5)), which is ignored here: frames are returned exactly as captured.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO, Literal

import dpkt

from cora.errors import InputError

#: LINKTYPE_ETHERNET (www.tcpdump.org/linktypes.html)
LINKTYPE_ETHERNET = 1
#: libpcap's MAXIMUM_SNAPLEN (pcap-int.h): libpcap refuses a record whose captured length
#: is larger (``invalid packet capture length``), and so does cora
MAX_SNAPLEN_BYTES = 262_144
#: largest capture read (bytes): the records are held in memory as Python bytes
MAX_PCAP_BYTES = 1 << 30

_PCAP_MAGICS = {
    # magic as read big-endian -> (little-endian file?, nanosecond timestamps?)
    dpkt.pcap.TCPDUMP_MAGIC: (False, False),
    dpkt.pcap.TCPDUMP_MAGIC_NANO: (False, True),
    dpkt.pcap.PMUDPCT_MAGIC: (True, False),
    dpkt.pcap.PMUDPCT_MAGIC_NANO: (True, True),
}
_PCAPNG_MAGIC = 0x0A0D0D0A


def _linktype_name(linktype: int) -> str:
    for name in dir(dpkt.pcap):
        if name.startswith("DLT_") and getattr(dpkt.pcap, name) == linktype:
            return name[4:]
    return "unknown"


def _not_ethernet(path: Path, linktype: int) -> InputError:
    return InputError(f"{path}: link type {linktype} ({_linktype_name(linktype)}) is not "
                      "Ethernet (link type 1); cora runs on Ethernet frames only: re-capture "
                      "on an Ethernet interface")


def _read_exactly(fh: BinaryIO, n: int, path: Path) -> bytes:
    try:
        return fh.read(n)
    except OSError as exc:
        raise InputError(f"cannot read pcap {path}: {exc.strerror or exc}") from None


def iter_pcap(path: str | Path, max_bytes: int = MAX_PCAP_BYTES
              ) -> Iterator[tuple[int, bytes]]:
    """Stream the records of an Ethernet capture, checking each as it is read.

    Args:
        path: a pcap or pcapng file (a regular file).
        max_bytes: largest file read (default :data:`MAX_PCAP_BYTES`).
    Yields:
        ``(timestamp_ns, frame_bytes)`` in file order; ``timestamp_ns`` is the record's
        capture time in integer ns since the epoch; ``frame_bytes`` the captured bytes
        (``caplen`` of them, possibly fewer than the original frame, possibly empty).
    Raises:
        InputError (one line naming the file, and the record number for a bad record):
            missing/unreadable file, not a regular file, over ``max_bytes``, not a capture,
            unsupported version, link type other than Ethernet, a record longer than the
            snapshot length, or a record cut short by the end of the file.
    """
    from cora.inputs import open_regular

    path = Path(path)
    with open_regular(path, "pcap", max_bytes) as fh:
        head = _read_exactly(fh, 4, path)
        if len(head) < 4:
            raise InputError(f"{path}: not a pcap file (too short for a header)")
        magic_be = int.from_bytes(head, "big")
        if magic_be == _PCAPNG_MAGIC:
            fh.seek(0)
            yield from _iter_pcapng(fh, path, max_bytes)
            return
        if magic_be not in _PCAP_MAGICS:
            raise InputError(f"{path}: not a pcap or pcapng file (magic 0x{magic_be:08x})")
        yield from _iter_classic(fh, path, head, magic_be, max_bytes)


def _iter_classic(fh: BinaryIO, path: Path, head: bytes, magic_be: int, max_bytes: int
                  ) -> Iterator[tuple[int, bytes]]:
    little, nano = _PCAP_MAGICS[magic_be]
    fhdr_cls = dpkt.pcap.LEFileHdr if little else dpkt.pcap.FileHdr
    phdr_cls = dpkt.pcap.LEPktHdr if little else dpkt.pcap.PktHdr
    raw = head + _read_exactly(fh, fhdr_cls.__hdr_len__ - 4, path)
    if len(raw) < fhdr_cls.__hdr_len__:
        raise InputError(f"{path}: truncated pcap file header")
    fhdr = fhdr_cls(raw)
    if fhdr.v_major != dpkt.pcap.PCAP_VERSION_MAJOR:
        raise InputError(f"{path}: pcap version {fhdr.v_major}.{fhdr.v_minor} is not "
                         f"supported (version {dpkt.pcap.PCAP_VERSION_MAJOR}.x is)")
    linktype = fhdr.linktype & 0xFFFF
    if linktype != LINKTYPE_ETHERNET:
        raise _not_ethernet(path, linktype)
    unit_ns = 1 if nano else 1000
    hlen = phdr_cls.__hdr_len__
    offset, record = fhdr_cls.__hdr_len__, 0
    while True:
        raw = _read_exactly(fh, hlen, path)
        if not raw:
            return
        record += 1
        if len(raw) < hlen:
            raise InputError(f"{path}: truncated pcap: record {record} header cut short at "
                             f"byte {offset}")
        ph = phdr_cls(raw)
        offset += hlen
        if ph.caplen > MAX_SNAPLEN_BYTES:
            raise InputError(f"{path}: record {record} at byte {offset - hlen} claims "
                             f"{ph.caplen} captured bytes, more than any capture holds "
                             f"({MAX_SNAPLEN_BYTES}): the file is corrupt")
        if offset + ph.caplen > max_bytes:
            raise InputError(f"{path}: record {record} goes past the "
                             f"{max_bytes / (1 << 20):g} MiB cora reads")
        frame = _read_exactly(fh, ph.caplen, path)
        if len(frame) < ph.caplen:
            raise InputError(f"{path}: truncated pcap: record {record} claims {ph.caplen} "
                             f"bytes, only {len(frame)} left")
        offset += ph.caplen
        yield ph.tv_sec * 1_000_000_000 + ph.tv_usec * unit_ns, frame


def _iter_pcapng(fh: BinaryIO, path: Path, max_bytes: int) -> Iterator[tuple[int, bytes]]:
    """pcapng through dpkt's reader (which reads block by block from ``fh``, and ``fh`` is a
    regular file of at most ``max_bytes``), with the same checks per record."""
    bad = (ValueError, struct.error, dpkt.dpkt.UnpackError, dpkt.dpkt.NeedData, EOFError)
    fh.seek(8)
    order: Literal["little", "big"] = (
        "little" if fh.read(4) == b"\x4d\x3c\x2b\x1a" else "big")  # byte-order magic
    fh.seek(0)
    try:
        reader = dpkt.pcapng.Reader(fh)
    except bad as exc:
        raise InputError(f"{path}: unreadable pcapng header ({exc})") from None
    linktype = reader.datalink() & 0xFFFF
    if linktype != LINKTYPE_ETHERNET:
        raise _not_ethernet(path, linktype)
    records = iter(reader)
    record = 0
    while True:
        record += 1
        try:
            ts, buf = next(records)
        except StopIteration:
            break
        except bad as exc:
            raise InputError(f"{path}: pcapng record {record} is unreadable or cut short "
                             f"({exc or type(exc).__name__})") from None
        if len(buf) > MAX_SNAPLEN_BYTES:
            raise InputError(f"{path}: pcapng record {record} holds {len(buf)} bytes, more "
                             f"than any capture holds ({MAX_SNAPLEN_BYTES}): the file is "
                             "corrupt")
        ns = int(ts * 10**9) if isinstance(ts, Decimal) else round(ts * 1e9)
        yield ns, bytes(buf)
    if not _ends_on_a_block(fh, order):
        raise InputError(f"{path}: truncated pcapng: the last block (after record "
                         f"{record - 1}) is cut short")


def _ends_on_a_block(fh: BinaryIO, order: Literal["little", "big"]) -> bool:
    """True if the file ends with a whole pcapng block: every block ends with a copy of its
    total length (pcapng spec, section 3.1), so the last 4 bytes give the last block's length,
    which its first 8 bytes must repeat. (dpkt's reader stops silently at a short tail.)"""
    size = fh.seek(0, 2)
    if size < 12:
        return False
    fh.seek(size - 4)
    length = int.from_bytes(fh.read(4), order)
    if length < 12 or length > size or length % 4:
        return False
    fh.seek(size - length + 4)
    return int.from_bytes(fh.read(4), order) == length


def read_pcap(path: str | Path, max_bytes: int = MAX_PCAP_BYTES) -> list[tuple[int, bytes]]:
    """Every record of an Ethernet capture (see :func:`iter_pcap`, which this collects).

    Returns:
        ``[(timestamp_ns, frame_bytes), ...]`` in file order.
    Raises:
        InputError: as :func:`iter_pcap` (one line naming the file and the bad record).
    """
    return list(iter_pcap(path, max_bytes))


def read_frames(path: str | Path) -> list[bytes]:
    """Only the frames of :func:`read_pcap` (bytes, file order). Raises as it does."""
    return [frame for _, frame in read_pcap(path)]


def replay(path: str | Path, ifname: str, netns: str | None = None, count: int | None = None,
           rate_pps: float | None = None, seconds: float | None = None):
    """Send a capture's frames out of ``ifname`` (in ``netns``) with the live-frames
    generator, cycling through them in file order (see
    :meth:`cora.testbed.trafficgen.TrafficGen.send` for count/rate/seconds; by default one
    pass). Timestamps are not reproduced: the pace is ``rate_pps`` or as fast as possible.

    Returns:
        :class:`cora.testbed.trafficgen.SendReport`.

    Raises:
        InputError: unreadable capture, no sendable frame, more frames than the generator
            holds (4,096).
        EnvironmentProblem / KernelError: as TrafficGen does.
    """
    from cora.testbed.trafficgen import TrafficGen
    frames = read_frames(path)
    with TrafficGen(ifname, netns) as gen:
        return gen.send(frames, count=count, rate_pps=rate_pps, seconds=seconds)
