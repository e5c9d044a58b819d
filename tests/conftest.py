"""Fixtures shared by every test folder."""

from __future__ import annotations

import os

import pytest


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
