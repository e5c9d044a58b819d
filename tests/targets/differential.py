"""Shared pieces of the kernel/interpreter differential tests of one NF file: the engines
fixture, the hypothesis settings and the run that must agree frame by frame."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from cora.compiler.driver import compile_file
from cora.runtime.engine import InterpEngine, KernelEngine
from cora.runtime.run import RunReport, run_frames

#: hypothesis settings of a differential test: 40 generated traces, no deadline (a kernel
#: test run takes milliseconds on a loaded machine), the module-scoped engines reused
DIFFERENTIAL_SETTINGS = settings(max_examples=40, deadline=None,
                                 suppress_health_check=[HealthCheck.function_scoped_fixture])


def engines_fixture(nf: Path) -> Callable[..., Iterator[tuple]]:
    """A module-scoped pytest fixture yielding ``(program, kernel engine, interpreter
    engine)`` for the NF file ``nf`` (assign it to ``engines`` in the test module)."""

    @pytest.fixture(scope="module")
    def engines():
        program = compile_file(nf)
        with KernelEngine(program) as k, InterpEngine(program) as i:
            yield program, k, i

    return engines


def run_both(engines: tuple, stamped: list[tuple[int, bytes]], **kwargs) -> RunReport:
    """Run ``stamped`` frames ((timestamp ns, frame) pairs) through both engines of
    :func:`engines_fixture`; assert they agree on every frame (the first differences in the
    message). ``kwargs`` go to :func:`cora.runtime.run.run_frames`."""
    program, k, i = engines
    report = run_frames(program, stamped, engine="both", engines=(k, i), **kwargs)
    assert report.mismatches == 0, [(d.index, d.what, d.detail) for d in report.details]
    return report
