"""Fixtures shared by every test folder."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from cora.settings import TRACES_ENV, traces_dir


@pytest.fixture(scope="session")
def bcc_module():
    """The ``bcc`` module; fails (not skips) when not root or bcc is missing, because the tests
    that ask for it are the proof that the kernel parts work."""
    if os.geteuid() != 0:
        pytest.fail("these tests load eBPF programs: run them as root")
    try:
        import bcc
    except ImportError:
        pytest.fail("bcc is missing: run scripts/setup.sh (Debian python3-bpfcc)")
    return bcc


@pytest.fixture(scope="session")
def trace_corpus() -> Path:
    """The trace corpus folder (the ``CORA_TRACES`` setting, :func:`cora.settings.traces_dir`);
    fails (not skips) when it holds no ``*.pcap``, naming the setting."""
    folder = traces_dir()
    if not any(folder.glob("*.pcap")):
        pytest.fail(f"no .pcap captures in {folder}: set {TRACES_ENV} to the tcpdump trace "
                    "corpus (default ../shared/traces/tcpdump beside the repository)")
    return folder


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--update-goldens``: rewrite the golden files under tests/golden/ instead of comparing."""
    parser.addoption("--update-goldens", action="store_true", default=False,
                     help="rewrite the golden files (tests/golden/) from the current output")


class Golden:
    """Exact comparison of generated text with a golden file under ``tests/golden/``.

    With ``--update-goldens`` the file is (re)written and the test passes; otherwise a missing
    file or any difference fails with a unified diff (golden -> actual) and the command that
    refreshes the file.
    """

    root = Path(__file__).resolve().parent / "golden"

    def __init__(self, update: bool):
        self.update = update

    def check(self, relpath: str, actual: str) -> None:
        """Compare ``actual`` with ``tests/golden/<relpath>`` (or write it when updating)."""
        path = self.root / relpath
        if self.update:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists() or path.read_text() != actual:
                path.write_text(actual)
            return
        shown = path.relative_to(self.root.parent.parent)
        if not path.exists():
            pytest.fail(f"golden file {shown} is missing; create it with "
                        "`pytest --update-goldens` and review it", pytrace=False)
        expected = path.read_text()
        if expected != actual:
            diff = "".join(difflib.unified_diff(
                expected.splitlines(keepends=True), actual.splitlines(keepends=True),
                fromfile=f"{shown} (golden)", tofile=f"{shown} (actual)"))
            pytest.fail(f"output differs from golden file {shown}:\n{diff}\n"
                        "if the change is intended, run `pytest --update-goldens` and review "
                        "the diff of tests/golden/", pytrace=False)


@pytest.fixture(scope="session")
def golden(request: pytest.FixtureRequest) -> Golden:
    """The :class:`Golden` comparer, updating when ``--update-goldens`` was given."""
    return Golden(bool(request.config.getoption("--update-goldens")))


def pytest_configure(config: pytest.Config) -> None:
    """Children inherit an ignored SIGHUP (a run under ``nohup``, some CI runners): the
    signal tests send SIGHUP to cora commands and expect cora's own handling, so the suite
    starts from the default disposition."""
    import signal

    signal.signal(signal.SIGHUP, signal.SIG_DFL)
