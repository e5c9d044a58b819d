"""The TC target against the reference interpreter on the language-feature NFs (kernel
tests): signed integers and overflow tests (``nf/signed.nf``), arrays (``nf/arrays.nf``) and
user-declared headers (``nf/headers.nf``) generate the same C for both hooks, so each must
agree with the interpreter under tc too."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cora.compiler.driver import compile_file
from cora.runtime.engine import InterpEngine, KernelEngine
from cora.runtime.run import run_frames

from .edge_frames import header_frames, signed_frames

pytestmark = pytest.mark.kernel
NF_DIR = Path(__file__).parent / "nf"
CASES = {"signed": signed_frames(), "arrays": signed_frames(), "headers": header_frames()}


@pytest.fixture(scope="module")
def tc_engines(bcc_module):
    opened = {}
    try:
        for name in CASES:
            program = compile_file(NF_DIR / f"{name}.nf")
            k = KernelEngine(program, target="tc").__enter__()
            opened[name] = (program, k, InterpEngine(program).__enter__())
        yield opened
    finally:
        for _program, k, i in opened.values():
            k.__exit__(None, None, None)
            i.__exit__(None, None, None)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
@pytest.mark.parametrize("name", list(CASES))
def test_tc_equals_interpreter_on_language_features(tc_engines, name, data):
    program, k, i = tc_engines[name]
    trace = data.draw(st.lists(CASES[name], min_size=1, max_size=25))
    report = run_frames(program, [(n, f) for n, f in enumerate(trace)], engine="both",
                        engines=(k, i))
    assert report.mismatches == 0, [(d.index, d.what, d.detail) for d in report.details]
    assert report.packets == len(trace)
