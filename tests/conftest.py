"""Fixtures shared by every test folder."""

from __future__ import annotations

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
