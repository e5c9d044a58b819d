"""Issue 2, "Done when": for every NF in netfuncs/ and every capture in
the trace corpus (``CORA_TRACES``), kernel and interpreter agree on every frame (0 mismatches).

One kernel load per NF; the state is reset between captures (as a fresh `cora run` would
start), so the test covers exactly what `cora run --engine both` does per capture.
"""

from __future__ import annotations

import glob
from pathlib import Path

import pytest

from cora.compiler.driver import compile_file
from cora.runtime.engine import InterpEngine, KernelEngine
from cora.runtime.run import run_frames
from cora.settings import trace_files, traces_dir
from cora.testbed.replay import read_pcap

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
TRACES = [str(p) for p in trace_files()]
NFS = sorted(glob.glob(str(REPO / "netfuncs" / "*.nf")))


def test_the_corpus_is_there():
    assert len(TRACES) >= 200, \
        f"expected the 215 tcpdump captures in {traces_dir()} (set CORA_TRACES)"
    assert len(NFS) >= 7


@pytest.fixture(scope="module")
def corpus():
    return [(Path(t).name, read_pcap(t)) for t in TRACES]


@pytest.mark.parametrize("nf", NFS, ids=lambda p: Path(p).stem)
def test_every_capture_zero_mismatches(nf, corpus, bcc_module):
    program = compile_file(nf)
    bad = []
    packets = 0
    with KernelEngine(program) as kernel, InterpEngine(program) as interp:
        for name, frames in corpus:
            report = run_frames(program, frames, engine="both", engines=(kernel, interp))
            packets += report.packets
            if report.mismatches:
                bad.append((name, [(d.index, d.what, d.detail) for d in report.details[:2]]))
    assert not bad, bad
    assert packets > 2500
