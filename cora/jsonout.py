"""Strict JSON for every ``--json`` output and every JSON file cora writes.

Python's :func:`json.dumps` writes ``NaN`` and ``Infinity`` by default, which are not JSON
(RFC 8259 section 6 allows only finite numbers) and which strict parsers reject. Every
figure cora prints as JSON goes through :func:`dumps`, which refuses non-finite numbers
with a :class:`cora.errors.CoraError` that names the field: a non-finite result is an
error, never a figure.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any, TextIO

from cora.errors import CoraError


def _plain(obj: Any) -> Any:
    """``default=`` hook: numpy scalars and arrays become Python numbers and lists."""
    if hasattr(obj, "tolist"):  # numpy scalar or array
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def non_finite_fields(obj: Any, path: str = "") -> list[str]:
    """Paths (``a.b[3]``) of every float in ``obj`` that is NaN or infinite.

    Args:
        obj: nested dicts, lists, tuples, numbers (numpy scalars and arrays included).

    Returns:
        e.g. ``["upper[0] = inf"]``; empty when every number is finite.
    """
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):
        obj = obj.tolist()
    if isinstance(obj, float):
        return [] if math.isfinite(obj) else [f"{path or 'value'} = {obj}"]
    if isinstance(obj, dict):
        return [p for k, v in obj.items()
                for p in non_finite_fields(v, f"{path}.{k}" if path else str(k))]
    if isinstance(obj, (list, tuple)):
        return [p for i, v in enumerate(obj) for p in non_finite_fields(v, f"{path}[{i}]")]
    return []


def require_finite(obj: Any, what: str) -> None:
    """Raise :class:`CoraError` if any number in ``obj`` is NaN or infinite.

    Args:
        obj: the figures about to be reported (any nesting of dicts/lists/numbers).
        what: what the figures are, for the message (e.g. ``"the output bounds"``).

    Raises:
        CoraError: naming up to three non-finite fields.
    """
    bad = non_finite_fields(obj)
    if bad:
        more = f" (+{len(bad) - 3} more)" if len(bad) > 3 else ""
        raise CoraError(f"{what} are not finite numbers ({', '.join(bad[:3])}{more}); "
                        "cora reports no non-finite figure")


def dumps(obj: Any, what: str = "the result", **kwargs: Any) -> str:
    """``json.dumps`` with ``allow_nan=False`` (strict JSON), numpy values converted.

    Raises:
        CoraError: some number in ``obj`` is NaN or infinite (see :func:`require_finite`).
    """
    require_finite(obj, what)
    return json.dumps(obj, allow_nan=False, default=_plain, **kwargs)


def print_json(obj: Any, what: str = "the result", file: TextIO | None = None,
               **kwargs: Any) -> None:
    """Print ``obj`` as one strict JSON document and a newline (see :func:`dumps`)."""
    text = dumps(obj, what, **kwargs)
    (file or sys.stdout).write(text + "\n")
