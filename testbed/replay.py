"""Read a packet capture into ``(timestamp_ns, frame_bytes)`` records (pcap replay).

Shared by ``cora run`` (frames in order, ``now()`` = the record's timestamp), ``cora bench``
and the traffic generator. Only Ethernet captures are accepted, because every cora program
starts at an Ethernet header (XDP's view of a frame).

Formats: classic pcap in either byte order, micro- or nanosecond timestamps (magic numbers
0xa1b2c3d4 / 0xa1b23c4d, libpcap ``pcap-savefile(5)``), and pcapng (read by dpkt; its
timestamps go through a float, exact to about 1 us). Header parsing uses dpkt's header
classes; records are read here so that a truncated record is noticed (dpkt's reader would
silently return a short frame).

Link type: as libpcap does (``LT_LINKTYPE``), only the low 16 bits of the file header's
link-type field name the link type; the upper bits carry optional FCS-length information
(pcap-savefile(5)), which is ignored here: frames are returned exactly as captured.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import dpkt

from cora.errors import InputError

#: LINKTYPE_ETHERNET (www.tcpdump.org/linktypes.html)
LINKTYPE_ETHERNET = 1

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


def read_pcap(path: str | Path) -> list[tuple[int, bytes]]:
    """Read every record of an Ethernet capture.

    Args:
        path: a pcap or pcapng file.

    Returns:
        ``[(timestamp_ns, frame_bytes), ...]`` in file order; ``timestamp_ns`` is the
        record's capture time in integer ns since the epoch; ``frame_bytes`` the captured
        bytes (``caplen`` of them, possibly fewer than the original frame, possibly empty).

    Raises:
        InputError: missing/unreadable file, not a capture, link type other than Ethernet,
            or a record cut short by the end of the file (one line naming the file).
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise InputError(f"cannot read pcap {path}: {exc.strerror}") from None
    if len(data) < 4:
        raise InputError(f"{path}: not a pcap file (too short for a header)")
    magic_be = int.from_bytes(data[:4], "big")
    if magic_be == _PCAPNG_MAGIC:
        return _read_pcapng(path)
    if magic_be not in _PCAP_MAGICS:
        raise InputError(f"{path}: not a pcap or pcapng file (magic 0x{magic_be:08x})")
    little, nano = _PCAP_MAGICS[magic_be]
    fhdr_cls = dpkt.pcap.LEFileHdr if little else dpkt.pcap.FileHdr
    phdr_cls = dpkt.pcap.LEPktHdr if little else dpkt.pcap.PktHdr
    if len(data) < fhdr_cls.__hdr_len__:
        raise InputError(f"{path}: truncated pcap file header")
    fhdr = fhdr_cls(data[:fhdr_cls.__hdr_len__])
    linktype = fhdr.linktype & 0xFFFF
    if linktype != LINKTYPE_ETHERNET:
        raise _not_ethernet(path, linktype)
    unit_ns = 1 if nano else 1000
    records: list[tuple[int, bytes]] = []
    off = fhdr_cls.__hdr_len__
    hlen = phdr_cls.__hdr_len__
    while off < len(data):
        if off + hlen > len(data):
            raise InputError(f"{path}: truncated pcap: record {len(records) + 1} header cut "
                             f"short at byte {off}")
        ph = phdr_cls(data[off:off + hlen])
        off += hlen
        if off + ph.caplen > len(data):
            raise InputError(f"{path}: truncated pcap: record {len(records) + 1} claims "
                             f"{ph.caplen} bytes, only {len(data) - off} left")
        records.append((ph.tv_sec * 1_000_000_000 + ph.tv_usec * unit_ns,
                        data[off:off + ph.caplen]))
        off += ph.caplen
    return records


def _read_pcapng(path: Path) -> list[tuple[int, bytes]]:
    try:
        with open(path, "rb") as f:
            reader = dpkt.pcapng.Reader(f)
            linktype = reader.datalink() & 0xFFFF
            if linktype != LINKTYPE_ETHERNET:
                raise _not_ethernet(path, linktype)
            out = []
            for ts, buf in reader:
                ns = int(ts * 10**9) if isinstance(ts, Decimal) else round(ts * 1e9)
                out.append((ns, bytes(buf)))
            return out
    except InputError:
        raise
    except (ValueError, dpkt.dpkt.UnpackError, dpkt.dpkt.NeedData, EOFError) as exc:
        raise InputError(f"{path}: unreadable pcapng ({exc})") from None


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
