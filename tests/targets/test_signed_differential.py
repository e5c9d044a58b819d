"""Signed integers and overflow tests: the XDP backend against the reference interpreter
(kernel tests), and the interpreter against Python's own integer arithmetic.

``nf/signed.nf`` runs every signed operation (``/ % >>`` and the comparisons at 8, 16, 32
and 64 bits, sign-extending casts and widenings, negative match ranges, signed state
updates) and the three overflow tests on operands read from TCP frames whose fields are
drawn around the edges of each width (0, -1, MIN, MAX, MIN+1 ...). Kernel and interpreter
must agree on verdict, output bytes and state for every frame.
"""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .differential import DIFFERENTIAL_SETTINGS, engines_fixture, run_both
from .edge_frames import seeded_frames, signed_frames

pytestmark = pytest.mark.kernel
NF = Path(__file__).parent / "nf" / "signed.nf"
engines = engines_fixture(NF)


@DIFFERENTIAL_SETTINGS
@given(trace=st.lists(signed_frames(), min_size=1, max_size=30))
def test_kernel_equals_interpreter_on_signed_operations(engines, trace):
    report = run_both(engines, [(n * 1000, f) for n, f in enumerate(trace)])
    assert report.packets == len(trace)


def test_signed_frames_reach_every_verdict_and_overflow_flag(engines):
    """Coverage of the differential test: every verdict, and every flag bit of ``signed.nf``
    (each comparison and overflow test) both set and clear on some frame."""
    trace = seeded_frames(400)
    report = run_both(engines, [(n, f) for n, f in enumerate(trace)], keep_outputs=True)
    assert report.verdicts["drop"] > 0 and report.verdicts["tx"] > 0 and \
        report.verdicts["pass"] > 0
    flags = [int.from_bytes(out[42:46], "big") for _v, _p, out in report.outputs]
    seen_set = 0
    seen_clear = 0
    for f in flags:
        seen_set |= f
        seen_clear |= ~f
    for bit in list(range(19)) + [20, 21]:
        assert seen_set >> bit & 1 and seen_clear >> bit & 1, f"flag bit {bit}"
