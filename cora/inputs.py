"""Opening the files a user names (NF sources, plans, warm starts, captures) safely.

Only regular files are read: a FIFO would block the reader until a writer comes (forever),
``/dev/zero`` and ``/dev/urandom`` never end, a directory has no content. The file is opened
with ``O_NONBLOCK`` (so opening a FIFO does not wait for a writer), checked with ``fstat`` on
the open descriptor (no race with a rename in between) and only then read, with a size cap
per kind of input. Every refusal is an :class:`cora.errors.InputError`: one line naming the
file and saying what to give instead.
"""

from __future__ import annotations

import fcntl
import os
import stat
from pathlib import Path
from typing import BinaryIO

from cora.errors import InputError

#: largest NF source read (bytes); the biggest NF of netfuncs/ is under 20 KB
MAX_SOURCE_BYTES = 1 << 20
#: largest plan or warm-start JSON read (bytes); plans of the NF library are under 100 KB
MAX_PLAN_BYTES = 64 << 20

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def _mib(n_bytes: int) -> str:
    return f"{n_bytes / (1 << 20):g} MiB"


def open_regular(path: str | Path, what: str, max_bytes: int | None = None) -> BinaryIO:
    """Open ``path`` for binary reading if it is a regular file of at most ``max_bytes``.

    Args:
        path: the file the user named.
        what: what it should be, for messages (``"NF source"``, ``"pcap"``, ...), which
            read ``cannot read <what> <path>: <reason>``.
        max_bytes: size cap checked against the file's size now (None: no cap); a reader
            must still stop at the cap, since a file can grow while it is read.
    Returns:
        a binary file object, blocking reads, positioned at the start (close it).
    Raises:
        InputError: missing, unreadable, not a regular file, or larger than ``max_bytes``.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except FileNotFoundError:
        raise InputError(f"cannot read {what} {path}: no such file") from None
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = next((name for test, name in _KINDS if test(st.st_mode)), "not a file")
            raise InputError(f"cannot read {what} {path}: it is {kind}, not a regular file "
                             f"(give the {what} as a file)")
        if max_bytes is not None and st.st_size > max_bytes:
            raise InputError(f"cannot read {what} {path}: it is {st.st_size} bytes, more "
                             f"than the {_mib(max_bytes)} cora reads")
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | Path, what: str, max_bytes: int) -> bytes:
    """The bytes of regular file ``path`` (at most ``max_bytes``; see :func:`open_regular`).

    Raises:
        InputError: as :func:`open_regular`, or the file grew past ``max_bytes`` while read.
    """
    with open_regular(path, what, max_bytes) as fh:
        try:
            data = fh.read(max_bytes + 1)
        except OSError as exc:
            raise InputError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise InputError(f"cannot read {what} {path}: it grew past the {_mib(max_bytes)} "
                         "cora reads")
    return data


def read_text(path: str | Path, what: str, max_bytes: int) -> str:
    """:func:`read_regular` decoded as UTF-8.

    Raises:
        InputError: as :func:`read_regular`, or the bytes are not UTF-8 (naming the byte
            offset).
    """
    data = read_regular(path, what, max_bytes)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"cannot read {what} {path}: not UTF-8 text (byte {exc.start})"
                         ) from None
