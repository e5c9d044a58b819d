"""The hand-written IR programs of the interpreter's tests, compiled for XDP: each loads
through the verifier and agrees with the interpreter on every real capture (regression for a
verifier rejection of header rewrites and for LPM prefix masking)."""

from __future__ import annotations

import pytest

from cora.compiler.ir.text import parse_program
from cora.compiler.ir.verify import verify
from cora.runtime.engine import InterpEngine, KernelEngine
from cora.runtime.run import run_frames
from cora.settings import trace_files
from cora.testbed.replay import read_pcap
from tests.compiler import ir_programs as programs

pytestmark = pytest.mark.kernel
TRACES = [str(p) for p in trace_files()]


@pytest.fixture(scope="module")
def corpus():
    return [read_pcap(t) for t in TRACES]


@pytest.mark.parametrize("name", ["ARITH", "LPM", "REWRITE"])
def test_ir_program_kernel_equals_interpreter(name, corpus, bcc_module):
    program = parse_program(getattr(programs, name))
    verify(program)
    mismatches = 0
    with KernelEngine(program) as k, InterpEngine(program) as i:
        for frames in corpus:
            mismatches += run_frames(program, frames, engine="both", engines=(k, i)).mismatches
    assert mismatches == 0
    assert len(corpus) >= 200
