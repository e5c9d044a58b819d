"""Test parameters shared across test folders."""

from __future__ import annotations

from pathlib import Path

import pytest

#: NFs whose exhaustive interpreter and partition checks take 15-50 s each on this machine:
#: their cases are marked ``long`` (run by ``make test-long``, left out of ``make test`` to keep
#: CI within its 30-minute budget); every other NF keeps the same checks in ``make test``.
LONG_NFS = frozenset({"firewall", "nat", "lb"})


def nf_params(paths: list[str]) -> list:
    """``pytest.param`` per NF source path, id = the NF's name, ``long`` for :data:`LONG_NFS`."""
    return [pytest.param(p, id=Path(p).stem,
                         marks=[pytest.mark.long] if Path(p).stem in LONG_NFS else [])
            for p in paths]
