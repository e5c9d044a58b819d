"""Fixed-size arrays (``T[N]``): the XDP backend against the reference interpreter (kernel
tests). ``nf/arrays.nf`` keeps an ``i32[8]`` inside the struct value of an array state, a
``u16[4]`` map value and an ``i32[4]`` local, and indexes them with constants and with
expressions of unrolled loop variables; kernel and interpreter must agree on verdict,
output bytes and state for every frame."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cora.compiler.driver import compile_file
from cora.runtime.engine import InterpEngine, KernelEngine
from cora.runtime.run import run_frames

from .edge_frames import seeded_frames, signed_frames

pytestmark = pytest.mark.kernel
NF = Path(__file__).parent / "nf" / "arrays.nf"


@pytest.fixture(scope="module")
def engines():
    program = compile_file(NF)
    with KernelEngine(program) as k, InterpEngine(program) as i:
        yield program, k, i


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(trace=st.lists(signed_frames(), min_size=1, max_size=30))
def test_kernel_equals_interpreter_on_arrays(engines, trace):
    program, k, i = engines
    report = run_frames(program, [(n, f) for n, f in enumerate(trace)], engine="both",
                        engines=(k, i))
    assert report.mismatches == 0, [(d.index, d.what, d.detail) for d in report.details]


def test_array_state_matches_a_python_model(engines):
    """Both engines' slots (count and the 8 sums, wrapped to 32 bits) equal a direct Python
    model of arrays.nf over 200 frames, and so does every hist entry."""
    program, k, i = engines
    trace = seeded_frames(200)
    report = run_frames(program, [(n, f) for n, f in enumerate(trace)], engine="both",
                        engines=(k, i))
    assert report.mismatches == 0
    v = [1, -2, 3, -4]
    sums = {s: [0] * 8 for s in range(4)}
    counts = dict.fromkeys(range(4), 0)
    hist: dict[int, list[int]] = {}
    for f in trace:
        seq, ack = int.from_bytes(f[38:42], "big"), int.from_bytes(f[42:46], "big")
        sport = int.from_bytes(f[34:36], "big")
        slot = seq & 3
        for j in range(8):
            sums[slot][j] = (sums[slot][j] + (ack >> j) - v[j % 4]) & 0xFFFF_FFFF
        counts[slot] += 1
        w = list(v)
        if sport not in hist and len(hist) == 64:  # map<...>[64] on_full skip
            continue
        h = hist.setdefault(sport, [0] * 4)
        for j in range(4):
            w[j] = w[3 - j] * 2
            h[j] = (h[j] + w[j]) & 0xFFFF
    got = {e["key"][0]: e["value"] for e in report.state["maps"]["slots"]}
    assert got == {s: [0, counts[s], *sums[s]] for s in range(4)}
    assert {e["key"][0]: e["value"] for e in report.state["maps"]["hist"]} == hist
