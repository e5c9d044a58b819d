"""Running the ``cora`` command line in a subprocess, for the CLI tests."""

from __future__ import annotations

import subprocess
import sys


def cora(*args: object, check: bool = False, timeout: float = 600) -> subprocess.CompletedProcess:
    """``python -m cora.cli ARGS`` with captured text output; ``check`` asserts exit 0."""
    r = subprocess.run([sys.executable, "-m", "cora.cli", *map(str, args)], capture_output=True,
                       text=True, timeout=timeout)
    if check:
        assert r.returncode == 0, r.stderr[-3000:]
    return r


def one_line_error(r: subprocess.CompletedProcess) -> str:
    """A user error: exit 1, `cora: error: ...` on stderr, no traceback; returns stderr."""
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert "cora: error:" in r.stderr
    return r.stderr
