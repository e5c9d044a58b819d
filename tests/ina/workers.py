"""Shared test helper: run one call per worker on threads and join them by a deadline."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def run_threads(fn: Callable[[int], Any], n: int, deadline_s: float,
                what: str = "allreduce") -> tuple[list, list]:
    """Run ``fn(i)`` for i in 0..n-1, each on its own daemon thread, all at once.

    Returns (results, exceptions), one slot per worker (None where none). Fails the calling
    test if any thread still runs ``deadline_s`` seconds after its join began: a hang is
    caught, it is not a timing figure.
    """
    results: list = [None] * n
    errors: list = [None] * n

    def run(i: int) -> None:
        try:
            results[i] = fn(i)
        except Exception as exc:  # inspected by the caller
            errors[i] = exc

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(deadline_s)
    assert not any(t.is_alive() for t in threads), f"{what} did not end"
    return results, errors
