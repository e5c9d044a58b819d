"""Settings read from the environment, in one place.

Like :mod:`cora.errors`, this module sits below every subpackage: anything in cora (and the
tests, benches and demo) may import it, and it imports nothing from cora.

Settings:

- ``CORA_TRACES``: the folder of packet captures (``*.pcap``) that the differential tests, the
  benches and ``cora demo`` replay. Default: ``../shared/traces/tcpdump`` relative to the
  repository root (the tcpdump test captures kept beside the checkout). A relative value is
  taken relative to the current directory.
"""

from __future__ import annotations

import os
from pathlib import Path

#: the repository root (the folder holding ``cora/``, ``compiler/``, ``netfuncs/``); valid for
#: the editable install that ``make setup`` makes.
REPO_ROOT = Path(__file__).resolve().parent.parent

#: the environment variable naming the trace corpus folder.
TRACES_ENV = "CORA_TRACES"

#: the trace corpus folder when ``CORA_TRACES`` is unset, relative to :data:`REPO_ROOT`.
DEFAULT_TRACES = Path("..") / "shared" / "traces" / "tcpdump"


def traces_dir() -> Path:
    """The folder of the trace corpus: ``$CORA_TRACES`` if set and non-empty, else
    ``<repository root>/../shared/traces/tcpdump``.

    Returns:
        an absolute path (resolved; it is not checked to exist: callers that need captures
        say so, naming the setting).
    """
    value = os.environ.get(TRACES_ENV, "").strip()
    if value:
        return Path(value).expanduser().resolve()
    return (REPO_ROOT / DEFAULT_TRACES).resolve()


def trace_files(pattern: str = "*.pcap") -> list[Path]:
    """The captures in :func:`traces_dir` matching ``pattern``, sorted by name ([] when the
    folder is missing)."""
    return sorted(traces_dir().glob(pattern))


def shown_path(path: str | os.PathLike) -> str:
    """``path`` as recorded in a bench's output: relative to :data:`REPO_ROOT` (e.g.
    ``../shared/traces/tcpdump``), so saved results name no absolute path of one machine."""
    resolved = Path(path).resolve()
    if resolved == (REPO_ROOT / DEFAULT_TRACES).resolve():
        # the default corpus as it is reached, also when ../shared is a symbolic link
        return DEFAULT_TRACES.as_posix()
    return os.path.relpath(resolved, REPO_ROOT)
