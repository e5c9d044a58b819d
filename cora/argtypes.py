"""argparse ``type=`` validators for cora's command line: every value is checked at the boundary.

A bad value makes argparse print one line (``cora: error: argument --rate: ...``) and exit
with status 2 (a usage error, see :mod:`cora.cli`) before the command touches anything.
Each validator's message says what is expected and what was given.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from typing import TypeVar

from cora.errors import CoraError

#: IFNAMSIZ in include/uapi/linux/if.h: a name plus its NUL fits in 16 bytes.
IFNAMSIZ = 16
#: NAME_MAX in include/uapi/linux/limits.h; iproute2 (ip/ipnetns.c, invalid_name) refuses
#: longer namespace names, since a named namespace is the file /var/run/netns/<name>.
NETNS_NAME_MAX = 255


def _show(text: str) -> str:
    """The value as given, quoted, short and printable (non-UTF-8 bytes escaped)."""
    shown = repr(text)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def interface_name(text: str) -> str:
    """A network interface name as the kernel accepts it (``dev_valid_name`` in
    net/core/dev.c): 1 to ``IFNAMSIZ - 1`` = 15 bytes, not ``.`` or ``..``, no ``/``, ``:``
    or white space.

    Raises:
        argparse.ArgumentTypeError: the name breaks one of those rules.
    """
    raw = os.fsencode(text)
    if not raw:
        raise argparse.ArgumentTypeError("an interface name must not be empty")
    if len(raw) >= IFNAMSIZ:
        raise argparse.ArgumentTypeError(
            f"interface names have at most {IFNAMSIZ - 1} bytes (IFNAMSIZ), got {len(raw)}: "
            f"{_show(text)}")
    if raw in (b".", b"..") or any(c in raw for c in b"/: \t\n\v\f\r"):
        raise argparse.ArgumentTypeError(
            f"{_show(text)} is not an interface name (no '/', ':', white space, '.' or '..')")
    return text


def netns_name(text: str) -> str:
    """A named network namespace as ``ip netns`` accepts it (iproute2 ip/ipnetns.c,
    ``invalid_name``): 1 to 255 bytes, not ``.`` or ``..``, no ``/`` (the name is a file
    under /var/run/netns).

    Raises:
        argparse.ArgumentTypeError: the name breaks one of those rules.
    """
    raw = os.fsencode(text)
    if not raw:
        raise argparse.ArgumentTypeError("a namespace name must not be empty")
    if len(raw) > NETNS_NAME_MAX:
        raise argparse.ArgumentTypeError(
            f"namespace names have at most {NETNS_NAME_MAX} bytes, got {len(raw)}")
    if raw in (b".", b"..") or b"/" in raw or any(c < 0x20 for c in raw):
        raise argparse.ArgumentTypeError(
            f"{_show(text)} is not a namespace name (no '/', control characters, '.' or "
            "'..'; see `ip netns list`)")
    return text


def _fmt(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def _range_words(low: float | None, high: float | None, low_open: bool, unit: str) -> str:
    u = f" {unit}" if unit else ""
    if low is not None and high is not None:
        lo = f"above {_fmt(low)}" if low_open else f"from {_fmt(low)}"
        return f"{lo}{u} up to {_fmt(high)}{u}" if low_open else f"{lo} to {_fmt(high)}{u}"
    if low is not None:
        return f"above {_fmt(low)}{u}" if low_open else f"at least {_fmt(low)}{u}"
    if high is not None:
        return f"at most {_fmt(high)}{u}"
    return ""


_Number = TypeVar("_Number", int, float)


def _bounded(what: str, convert: Callable[[str], _Number | None], low, high,
             low_open: bool, unit: str, name: str) -> Callable[[str], _Number]:
    """A ``type=`` converting with ``convert`` (None: not of the form) and checking the range;
    the message says ``expected <what> <range>, got '<text>'``."""
    want = f"{what} {_range_words(low, high, low_open, unit)}".rstrip()

    def parse(text: str) -> _Number:
        value = convert(text)
        if value is None or (low is not None and (value <= low if low_open else value < low)) \
                or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {want}, got {_show(text)}")
        return value

    parse.__name__ = name  # argparse names the type in some messages
    return parse


def _to_finite_float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _to_int(text: str) -> int | None:
    stripped = text.strip()
    digits = stripped[1:] if stripped[:1] in "+-" else stripped
    if not digits.isdigit() or not digits.isascii() or len(digits) > 30:
        return None
    return int(stripped)


def number(low: float | None = None, high: float | None = None, *, low_open: bool = False,
           unit: str = "") -> Callable[[str], float]:
    """A ``type=`` for a finite float in ``[low, high]`` (``(low, high]`` if ``low_open``).

    NaN and infinities are always refused (a figure cora uses must be a real number).

    Returns:
        a parser ``str -> float`` raising :class:`argparse.ArgumentTypeError` with the
        expected range and the value given.
    """
    return _bounded("a finite number", _to_finite_float, low, high, low_open, unit, "number")


def integer(low: int | None = None, high: int | None = None,
            unit: str = "") -> Callable[[str], int]:
    """A ``type=`` for a whole number in ``[low, high]`` (decimal digits, optional sign, at
    most 30 digits).

    Returns:
        a parser ``str -> int`` raising :class:`argparse.ArgumentTypeError` with the
        expected range and the value given.
    """
    return _bounded("a whole number", _to_int, low, high, False, unit, "integer")


def non_empty(what: str) -> Callable[[str], str]:
    """A ``type=`` for a string that must not be empty (a file name, a directory)."""

    def parse(text: str) -> str:
        if not text:
            raise argparse.ArgumentTypeError(f"{what} must not be empty")
        return text

    parse.__name__ = "non_empty"
    return parse


def add_nf_argument(p: argparse.ArgumentParser) -> None:
    """The positional NF source file, named and described the same by every command."""
    p.add_argument("nf", metavar="NF", help="NF source file (.nf)")


def add_json_flag(p: argparse.ArgumentParser, what: str = "one JSON object") -> None:
    """``--json``, the same flag on every command that reports figures (strict JSON: no NaN
    or Infinity, see :mod:`cora.jsonout`)."""
    p.add_argument("--json", action="store_true", help=f"print {what} (strict JSON) instead "
                   "of text")


class UsageError(CoraError):
    """Options that are each valid but do not go together (or a required one of two is
    missing): a usage error, exit status 2, raised by a command before it touches anything."""

    def __init__(self, message: str):
        super().__init__(message, exit_code=2)
