"""A thin ctypes wrapper over the Linux ``bpf(2)`` system call.

bcc loads programs and maps but has no Python wrapper for ``BPF_PROG_TEST_RUN`` and none for
pinning or reading objects by file descriptor alone; this module fills that gap with the
smallest possible layer: each function fills the ``union bpf_attr`` member its command reads,
calls ``syscall(__NR_bpf, cmd, &attr, sizeof attr)`` and turns a failure into
:class:`cora.errors.KernelError` carrying the errno text and, where the user can act, what
to do.

Sources for every constant and layout: the kernel UAPI header ``include/uapi/linux/bpf.h``
(Linux 6.x), ``enum bpf_cmd``, ``union bpf_attr``, ``struct bpf_map_info``,
``struct bpf_prog_info`` and ``struct xdp_md``; x86_64 syscall table (``__NR_bpf`` = 321).
The kernel accepts an attr or info struct shorter than its own (it zero-extends), so only the
leading fields used here are declared.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, overload

from cora.errors import EnvironmentProblem, KernelError

# --- constants (include/uapi/linux/bpf.h) --------------------------------------------------
_NR_BPF = {"x86_64": 321, "aarch64": 280}

BPF_MAP_LOOKUP_ELEM = 1
BPF_MAP_UPDATE_ELEM = 2
BPF_MAP_DELETE_ELEM = 3
BPF_MAP_GET_NEXT_KEY = 4
BPF_OBJ_PIN = 6
BPF_OBJ_GET = 7
BPF_PROG_TEST_RUN = 10
BPF_PROG_GET_FD_BY_ID = 13
BPF_MAP_GET_FD_BY_ID = 14
BPF_OBJ_GET_INFO_BY_FD = 15

#: map update flags
BPF_ANY = 0
BPF_NOEXIST = 1
BPF_EXIST = 2

#: BPF_PROG_TEST_RUN flags
BPF_F_TEST_RUN_ON_CPU = 1
BPF_F_TEST_XDP_LIVE_FRAMES = 2

#: XDP verdicts (enum xdp_action)
XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT = 0, 1, 2, 3, 4
XDP_ACTION_NAMES = {0: "aborted", 1: "drop", 2: "pass", 3: "tx", 4: "redirect"}

#: enum bpf_map_type values whose lookups return one value per possible CPU
BPF_MAP_TYPE_PERCPU_HASH = 5
BPF_MAP_TYPE_PERCPU_ARRAY = 6
BPF_MAP_TYPE_LRU_PERCPU_HASH = 10
BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE = 21
PERCPU_MAP_TYPES = frozenset({BPF_MAP_TYPE_PERCPU_HASH, BPF_MAP_TYPE_PERCPU_ARRAY,
                              BPF_MAP_TYPE_LRU_PERCPU_HASH, BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE})

#: Room left for XDP programs that grow the frame with bpf_xdp_adjust_head/tail.
DATA_OUT_HEADROOM_BYTES = 256

_BPF_OBJ_NAME_LEN = 16


# --- union bpf_attr members -----------------------------------------------------------------
class _MapElemAttr(ctypes.Structure):
    _fields_ = [("map_fd", ctypes.c_uint32), ("_pad", ctypes.c_uint32),
                ("key", ctypes.c_uint64), ("value", ctypes.c_uint64),  # value or next_key
                ("flags", ctypes.c_uint64)]


class _ObjAttr(ctypes.Structure):
    _fields_ = [("pathname", ctypes.c_uint64), ("bpf_fd", ctypes.c_uint32),
                ("file_flags", ctypes.c_uint32), ("path_fd", ctypes.c_int32),
                ("_pad", ctypes.c_uint32)]


class _TestRunAttr(ctypes.Structure):
    _fields_ = [("prog_fd", ctypes.c_uint32), ("retval", ctypes.c_uint32),
                ("data_size_in", ctypes.c_uint32), ("data_size_out", ctypes.c_uint32),
                ("data_in", ctypes.c_uint64), ("data_out", ctypes.c_uint64),
                ("repeat", ctypes.c_uint32), ("duration", ctypes.c_uint32),
                ("ctx_size_in", ctypes.c_uint32), ("ctx_size_out", ctypes.c_uint32),
                ("ctx_in", ctypes.c_uint64), ("ctx_out", ctypes.c_uint64),
                ("flags", ctypes.c_uint32), ("cpu", ctypes.c_uint32),
                ("batch_size", ctypes.c_uint32), ("_pad", ctypes.c_uint32)]


class _GetIdAttr(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint32), ("next_id", ctypes.c_uint32),
                ("open_flags", ctypes.c_uint32)]


class _InfoAttr(ctypes.Structure):
    _fields_ = [("bpf_fd", ctypes.c_uint32), ("info_len", ctypes.c_uint32),
                ("info", ctypes.c_uint64)]


class _MapInfo(ctypes.Structure):
    _fields_ = [("type", ctypes.c_uint32), ("id", ctypes.c_uint32),
                ("key_size", ctypes.c_uint32), ("value_size", ctypes.c_uint32),
                ("max_entries", ctypes.c_uint32), ("map_flags", ctypes.c_uint32),
                ("name", ctypes.c_char * _BPF_OBJ_NAME_LEN), ("ifindex", ctypes.c_uint32)]


class _ProgInfo(ctypes.Structure):
    _fields_ = [("type", ctypes.c_uint32), ("id", ctypes.c_uint32),
                ("tag", ctypes.c_uint8 * 8),
                ("jited_prog_len", ctypes.c_uint32), ("xlated_prog_len", ctypes.c_uint32),
                ("jited_prog_insns", ctypes.c_uint64), ("xlated_prog_insns", ctypes.c_uint64),
                ("load_time", ctypes.c_uint64), ("created_by_uid", ctypes.c_uint32),
                ("nr_map_ids", ctypes.c_uint32), ("map_ids", ctypes.c_uint64),
                ("name", ctypes.c_char * _BPF_OBJ_NAME_LEN), ("ifindex", ctypes.c_uint32)]


class XdpMd(ctypes.Structure):
    """``struct xdp_md`` (include/uapi/linux/bpf.h), the XDP context passed as ``ctx_in``."""

    _fields_ = [("data", ctypes.c_uint32), ("data_end", ctypes.c_uint32),
                ("data_meta", ctypes.c_uint32), ("ingress_ifindex", ctypes.c_uint32),
                ("rx_queue_index", ctypes.c_uint32), ("egress_ifindex", ctypes.c_uint32)]


# --- results ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TestRunResult:
    """One ``BPF_PROG_TEST_RUN`` call.

    Attributes:
        retval: the program's return value (for XDP the verdict, see ``XDP_ACTION_NAMES``).
        data_out: the frame as the program left it (bytes; empty in live-frames mode).
        duration_ns: the kernel's average run time per repetition in ns (``attr.test.duration``,
            total time divided by ``repeat``; includes the test harness's per-run overhead).
    """

    __test__ = False  # not a pytest test class despite its name

    retval: int
    data_out: bytes
    duration_ns: int


@dataclass(frozen=True)
class MapInfo:
    """What ``BPF_OBJ_GET_INFO_BY_FD`` says about a map (``struct bpf_map_info``).

    Attributes: type (``enum bpf_map_type``), id, key_size and value_size (bytes),
    max_entries, map_flags, name (at most 15 characters, the kernel truncates), ifindex.
    """

    type: int
    id: int
    key_size: int
    value_size: int
    max_entries: int
    map_flags: int
    name: str
    ifindex: int

    @property
    def percpu(self) -> bool:
        """True if lookups of this map return one value per possible CPU."""
        return self.type in PERCPU_MAP_TYPES


@dataclass(frozen=True)
class ProgInfo:
    """What ``BPF_OBJ_GET_INFO_BY_FD`` says about a program (``struct bpf_prog_info``).

    Attributes: type (``enum bpf_prog_type``, 6 = XDP), id, tag (8 bytes, hex), name (at most
    15 characters), map_ids (ids of the maps the program uses), xlated_prog_len and
    jited_prog_len (bytes).
    """

    type: int
    id: int
    tag: str
    name: str
    map_ids: tuple[int, ...]
    xlated_prog_len: int
    jited_prog_len: int


# --- the syscall --------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


@lru_cache(maxsize=1)
def _nr_bpf() -> int:
    machine = platform.machine()
    try:
        return _NR_BPF[machine]
    except KeyError:
        raise EnvironmentProblem(f"bpf(2) syscall number unknown for machine {machine!r}; "
                                 "cora supports x86_64 and aarch64") from None


_HINTS = {
    errno.EPERM: "run as root (bpf needs CAP_BPF/CAP_SYS_ADMIN)",
    errno.EACCES: "run as root (bpf needs CAP_BPF/CAP_SYS_ADMIN)",
    errno.EBADF: "the file descriptor is not an open bpf object",
    errno.ENOSPC: "the map is full or the output buffer too small",
    errno.E2BIG: "the map is full",
    errno.ENOMEM: "the kernel could not allocate memory",
}


def _bpf(cmd: int, attr: ctypes.Structure, what: str, hints: dict[int, str] | None = None) -> int:
    """Issue ``bpf(cmd, &attr, sizeof attr)``; returns its non-negative result.

    Raises:
        KernelError: the syscall failed; message names ``what``, the errno text and a hint.
    """
    ret = _libc().syscall(ctypes.c_long(_nr_bpf()), ctypes.c_int(cmd), ctypes.byref(attr),
                          ctypes.c_uint(ctypes.sizeof(attr)))
    if ret < 0:
        err = ctypes.get_errno()
        raise _kernel_error(what, err, hints)
    return ret


def bpf_call(cmd: int, attr: ctypes.Structure, what: str,
             hints: dict[int, str] | None = None) -> int:
    """Issue any bpf(2) command with a caller-built ``union bpf_attr`` member (for commands
    this module has no wrapper for, e.g. BPF_PROG_LOAD with ``prog_flags``).

    Args:
        cmd: ``enum bpf_cmd`` value; attr: a ctypes structure laid out as the command's
        ``bpf_attr`` member; what: what is being done, for the error message; hints:
        errno -> advice for the user, overriding the defaults.

    Returns:
        the syscall's non-negative result (a new fd for commands that create one).

    Raises:
        KernelError: the syscall failed (message: what, errno text, hint; ``.errno`` set).
    """
    return _bpf(cmd, attr, what, hints)


def _kernel_error(what: str, err: int, hints: dict[int, str] | None = None) -> KernelError:
    hint = (hints or {}).get(err) or _HINTS.get(err)
    msg = f"{what}: {os.strerror(err)} ({errno.errorcode.get(err, err)})"
    if hint:
        msg += f"; {hint}"
    return KernelError(msg, errno=err)


def _addr(buf) -> int:
    return ctypes.addressof(buf) if buf is not None else 0


# --- BPF_PROG_TEST_RUN --------------------------------------------------------------------
_TEST_RUN_HINTS = {
    errno.EINVAL: ("the kernel rejected the test run (an XDP frame must be at least 14 bytes "
                   "and fit one page, about 3.5 KB, unless the program supports frags)"),
    errno.ENOTSUPP if hasattr(errno, "ENOTSUPP") else 524: "this program type has no test run",
}


def prog_test_run(prog_fd: int, data: bytes, repeat: int = 1, data_out_size: int | None = None,
                  ctx_in: bytes | None = None, flags: int = 0, batch_size: int = 0
                  ) -> TestRunResult:
    """Run a loaded program on one frame in the kernel (``BPF_PROG_TEST_RUN``, bpf cmd 10).

    Args:
        prog_fd: fd of a loaded program (XDP, TC, ...).
        data: the input frame (bytes; XDP needs at least 14).
        repeat: how many times the kernel runs it (0 and 1 both mean once); ``duration_ns``
            is the average over the repetitions.
        data_out_size: bytes of output buffer; default ``2 * len(data) + 256`` so programs
            that grow the frame with ``bpf_xdp_adjust_head/tail`` fit. 0 = no output buffer.
        ctx_in: raw context bytes (for XDP a ``struct xdp_md``, see :class:`XdpMd`), or None.
        flags: ``BPF_F_TEST_*`` flags.
        batch_size: frames per batch in live-frames mode (0 = kernel default, 64).

    Returns:
        :class:`TestRunResult`; ``data_out`` holds exactly the bytes the kernel reported.

    Raises:
        KernelError: the kernel refused (bad fd, frame too short or too long, ...).
    """
    data_in = ctypes.create_string_buffer(bytes(data), len(data)) if data else None
    if data_out_size is None:
        data_out_size = 2 * len(data) + DATA_OUT_HEADROOM_BYTES
    data_out = ctypes.create_string_buffer(data_out_size) if data_out_size else None
    ctx = ctypes.create_string_buffer(bytes(ctx_in), len(ctx_in)) if ctx_in else None
    attr = _TestRunAttr(prog_fd=prog_fd, data_size_in=len(data),
                        data_size_out=data_out_size if data_out else 0,
                        data_in=_addr(data_in), data_out=_addr(data_out),
                        repeat=max(0, int(repeat)),
                        ctx_size_in=len(ctx_in) if ctx_in else 0, ctx_in=_addr(ctx),
                        flags=flags, batch_size=batch_size)
    _bpf(BPF_PROG_TEST_RUN, attr, f"BPF_PROG_TEST_RUN on program fd {prog_fd} "
         f"({len(data)}-byte frame)", _TEST_RUN_HINTS)
    out = b""
    if data_out is not None:
        out = data_out.raw[:min(attr.data_size_out, data_out_size)]
    return TestRunResult(retval=attr.retval, data_out=out, duration_ns=attr.duration)


def xdp_live_frames(prog_fd: int, frame: bytes, ingress_ifindex: int, repeat: int,
                    batch_size: int = 0, rx_queue_index: int = 0) -> None:
    """Send ``repeat`` copies of ``frame`` for real through an XDP program (live-frames mode).

    Uses ``BPF_F_TEST_XDP_LIVE_FRAMES`` (flag 2, Linux >= 5.18): the kernel builds real
    frames and, when the program returns ``XDP_TX``, transmits them out of the device
    ``ingress_ifindex`` (``XDP_REDIRECT`` goes wherever the program redirects). The device is
    looked up in the calling thread's network namespace, so call this from inside the
    namespace of the interface (see :mod:`cora.testbed.trafficgen`).

    Args:
        prog_fd: fd of a loaded XDP program.
        frame: the frame bytes (>= 14).
        ingress_ifindex: ifindex of the device, in the caller's namespace.
        repeat: number of frames to generate (>= 1).
        batch_size: frames per kernel batch (0 = 64, at most 256).
        rx_queue_index: the rx queue the frames pretend to arrive on.

    Raises:
        KernelError: the kernel refused (unknown ifindex in this namespace, bad sizes, ...).
    """
    ctx = XdpMd(data=0, data_end=len(frame), data_meta=0, ingress_ifindex=ingress_ifindex,
                rx_queue_index=rx_queue_index, egress_ifindex=0)
    prog_test_run(prog_fd, frame, repeat=repeat, data_out_size=0, ctx_in=bytes(ctx),
                  flags=BPF_F_TEST_XDP_LIVE_FRAMES, batch_size=batch_size)


# --- maps -----------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def possible_cpus() -> int:
    """Number of possible CPUs, from ``/sys/devices/system/cpu/possible`` (e.g. ``0-1`` -> 2).

    Per-CPU map values hold one slot per *possible* CPU (kernel ``num_possible_cpus()``).
    """
    with open("/sys/devices/system/cpu/possible") as f:
        text = f.read().strip()
    count = 0
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        count += (int(hi) - int(lo) + 1) if hi else 1
    return count


def value_buffer_size(value_size: int, percpu: bool = False) -> int:
    """Bytes a lookup writes: ``value_size``, or for per-CPU maps ``round_up(value_size, 8)``
    times :func:`possible_cpus` (kernel ``bpf_map_value_size``)."""
    if not percpu:
        return value_size
    return ((value_size + 7) // 8) * 8 * possible_cpus()


def split_percpu(buf: bytes, value_size: int) -> list[bytes]:
    """Split a per-CPU lookup buffer into one ``value_size``-byte value per possible CPU."""
    stride = ((value_size + 7) // 8) * 8
    return [buf[i * stride:i * stride + value_size] for i in range(len(buf) // stride)]


def _keybuf(key: bytes):
    return ctypes.create_string_buffer(bytes(key), len(key)) if len(key) else None


@overload
def map_lookup(fd: int, key: bytes, value_size: int, percpu: Literal[False] = False
               ) -> bytes | None: ...
@overload
def map_lookup(fd: int, key: bytes, value_size: int, percpu: Literal[True]
               ) -> list[bytes] | None: ...
@overload
def map_lookup(fd: int, key: bytes, value_size: int, percpu: bool
               ) -> bytes | list[bytes] | None: ...


def map_lookup(fd: int, key: bytes, value_size: int, percpu: bool = False
               ) -> bytes | list[bytes] | None:
    """Look up ``key`` in map ``fd`` (``BPF_MAP_LOOKUP_ELEM``).

    Args:
        fd: map fd; key: the key bytes (exactly the map's key_size);
        value_size: the map's value size in bytes; percpu: the map is a per-CPU map.

    Returns:
        The value bytes, a list of per-CPU values (length :func:`possible_cpus`) when
        ``percpu``, or None when the key is absent.

    Raises:
        KernelError: any failure other than "no such key".
    """
    size = value_buffer_size(value_size, percpu)
    kbuf = _keybuf(key)
    vbuf = ctypes.create_string_buffer(size)
    attr = _MapElemAttr(map_fd=fd, key=_addr(kbuf), value=_addr(vbuf))
    try:
        _bpf(BPF_MAP_LOOKUP_ELEM, attr, f"map lookup in map fd {fd}")
    except KernelError as exc:
        if getattr(exc, "errno", None) == errno.ENOENT:
            return None
        raise
    return split_percpu(vbuf.raw, value_size) if percpu else vbuf.raw


def map_update(fd: int, key: bytes, value: bytes | list[bytes], flags: int = BPF_ANY,
               percpu: bool = False) -> None:
    """Insert or replace ``key`` -> ``value`` (``BPF_MAP_UPDATE_ELEM``).

    ``flags``: BPF_ANY (0), BPF_NOEXIST (1, fails with EEXIST if present), BPF_EXIST (2).
    For per-CPU maps pass ``percpu=True`` and a list of per-CPU values (or one value, copied
    to every CPU).

    Raises:
        KernelError: map full (E2BIG), key exists with BPF_NOEXIST (EEXIST), absent with
            BPF_EXIST (ENOENT), wrong sizes (EINVAL).
    """
    if percpu:
        values = value if isinstance(value, list) else [value] * possible_cpus()
        stride = ((len(values[0]) + 7) // 8) * 8
        data = b"".join(bytes(v).ljust(stride, b"\0") for v in values)
    elif isinstance(value, list):
        raise TypeError("a list of per-CPU values needs percpu=True")
    else:
        data = bytes(value)
    kbuf = _keybuf(key)
    vbuf = ctypes.create_string_buffer(data, len(data))
    attr = _MapElemAttr(map_fd=fd, key=_addr(kbuf), value=_addr(vbuf), flags=flags)
    _bpf(BPF_MAP_UPDATE_ELEM, attr, f"map update in map fd {fd}")


def map_delete(fd: int, key: bytes) -> bool:
    """Delete ``key`` from map ``fd`` (``BPF_MAP_DELETE_ELEM``); returns False if absent.

    Raises:
        KernelError: other failures (e.g. EINVAL for array maps, which cannot delete).
    """
    kbuf = _keybuf(key)
    attr = _MapElemAttr(map_fd=fd, key=_addr(kbuf))
    try:
        _bpf(BPF_MAP_DELETE_ELEM, attr, f"map delete in map fd {fd}")
    except KernelError as exc:
        if getattr(exc, "errno", None) == errno.ENOENT:
            return False
        raise
    return True


def map_get_next_key(fd: int, key: bytes | None, key_size: int) -> bytes | None:
    """The key after ``key`` in map ``fd`` (``BPF_MAP_GET_NEXT_KEY``); ``key=None`` gives the
    first key; returns None after the last one.

    Raises:
        KernelError: any failure other than the end of the map.
    """
    kbuf = _keybuf(key) if key is not None else None
    nbuf = ctypes.create_string_buffer(key_size)
    attr = _MapElemAttr(map_fd=fd, key=_addr(kbuf), value=_addr(nbuf))
    try:
        _bpf(BPF_MAP_GET_NEXT_KEY, attr, f"map iteration in map fd {fd}")
    except KernelError as exc:
        if getattr(exc, "errno", None) == errno.ENOENT:
            return None
        raise
    return nbuf.raw


@overload
def map_items(fd: int, key_size: int, value_size: int, percpu: Literal[False] = False
              ) -> list[tuple[bytes, bytes]]: ...
@overload
def map_items(fd: int, key_size: int, value_size: int, percpu: Literal[True]
              ) -> list[tuple[bytes, list[bytes]]]: ...
@overload
def map_items(fd: int, key_size: int, value_size: int, percpu: bool
              ) -> list[tuple[bytes, bytes | list[bytes]]]: ...


def map_items(fd: int, key_size: int, value_size: int, percpu: bool = False
              ) -> Sequence[tuple[bytes, bytes | list[bytes]]]:
    """All ``(key, value)`` pairs of map ``fd``, in the kernel's iteration order.

    Values are bytes, or lists of per-CPU values when ``percpu``. Two calls per entry
    (~10 us each). While the data path changes the map the walk is best effort: a key
    deleted between ``get_next_key`` and the lookup is skipped, and if the walk restarts
    from the first key (hash maps do when the current key vanished) no key is returned
    twice.
    """
    items: list[tuple[bytes, bytes | list[bytes]]] = []
    seen: set[bytes] = set()
    key = map_get_next_key(fd, None, key_size)
    while key is not None:
        if key in seen:  # the walk restarted after a concurrent delete
            key = map_get_next_key(fd, key, key_size)
            continue
        seen.add(key)
        value = map_lookup(fd, key, value_size, percpu)
        if value is not None:
            items.append((key, value))
        key = map_get_next_key(fd, key, key_size)
    return items


# --- objects: pin, get, info, by id ---------------------------------------------------------
def obj_pin(fd: int, path: str) -> None:
    """Pin a program or map fd at ``path`` on a bpffs mount (``BPF_OBJ_PIN``).

    Raises:
        KernelError: path exists (EEXIST), directory missing (ENOENT), not on bpffs (EPERM).
    """
    pbuf = ctypes.create_string_buffer(os.fsencode(path))
    attr = _ObjAttr(pathname=_addr(pbuf), bpf_fd=fd)
    _bpf(BPF_OBJ_PIN, attr, f"pinning fd {fd} at {path}", {
        errno.EEXIST: "something is already pinned there; unpin it first",
        errno.ENOENT: "the directory does not exist",
        errno.EPERM: "the path is not on a bpffs mount (mount -t bpf bpf /sys/fs/bpf)",
    })


def obj_get(path: str) -> int:
    """Open a pinned program or map (``BPF_OBJ_GET``); returns a new fd (close it yourself).

    Raises:
        KernelError: nothing pinned at ``path`` (ENOENT) or not a bpf object.
    """
    pbuf = ctypes.create_string_buffer(os.fsencode(path))
    attr = _ObjAttr(pathname=_addr(pbuf))
    return _bpf(BPF_OBJ_GET, attr, f"opening pinned object {path}", {
        errno.ENOENT: "nothing is pinned there",
    })


def prog_get_fd_by_id(prog_id: int) -> int:
    """A new fd for the loaded program with id ``prog_id`` (``BPF_PROG_GET_FD_BY_ID``).

    Raises:
        KernelError: no such program (ENOENT).
    """
    return _bpf(BPF_PROG_GET_FD_BY_ID, _GetIdAttr(id=prog_id), f"opening program id {prog_id}")


def map_get_fd_by_id(map_id: int) -> int:
    """A new fd for the map with id ``map_id`` (``BPF_MAP_GET_FD_BY_ID``).

    Raises:
        KernelError: no such map (ENOENT).
    """
    return _bpf(BPF_MAP_GET_FD_BY_ID, _GetIdAttr(id=map_id), f"opening map id {map_id}")


def _get_info(fd: int, info: ctypes.Structure, what: str) -> None:
    attr = _InfoAttr(bpf_fd=fd, info_len=ctypes.sizeof(info), info=ctypes.addressof(info))
    _bpf(BPF_OBJ_GET_INFO_BY_FD, attr, f"reading info of {what} fd {fd}")


def map_info(fd: int) -> MapInfo:
    """Type, sizes, capacity, name and id of map ``fd`` (``BPF_OBJ_GET_INFO_BY_FD``).

    Raises:
        KernelError: ``fd`` is not a bpf object (EBADF/EINVAL).
    """
    info = _MapInfo()
    _get_info(fd, info, "map")
    return MapInfo(type=info.type, id=info.id, key_size=info.key_size,
                   value_size=info.value_size, max_entries=info.max_entries,
                   map_flags=info.map_flags, name=info.name.decode(errors="replace"),
                   ifindex=info.ifindex)


def prog_info(fd: int) -> ProgInfo:
    """Type, id, tag, name and map ids of program ``fd`` (``BPF_OBJ_GET_INFO_BY_FD``, called
    twice: once for the number of maps, once to fetch their ids).

    Raises:
        KernelError: ``fd`` is not a bpf object.
    """
    info = _ProgInfo()
    _get_info(fd, info, "program")
    n = info.nr_map_ids
    ids: tuple[int, ...] = ()
    if n:
        arr = (ctypes.c_uint32 * n)()
        info2 = _ProgInfo(nr_map_ids=n, map_ids=ctypes.addressof(arr))
        _get_info(fd, info2, "program")
        ids = tuple(arr[: min(n, info2.nr_map_ids)])
    return ProgInfo(type=info.type, id=info.id, tag=bytes(info.tag).hex(),
                    name=info.name.decode(errors="replace"), map_ids=ids,
                    xlated_prog_len=info.xlated_prog_len, jited_prog_len=info.jited_prog_len)
