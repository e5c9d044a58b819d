"""The lowering of every language construct, run in the real kernel: the programs of
tests/compiler/nf/ (all_constructs.nf uses every construct of docs/language.md) load through
the XDP backend, the kernel verifier accepts them, and kernel and reference interpreter agree
on every frame of every capture of the trace corpus (``CORA_TRACES``) (verdict, bytes, state).
"""

from __future__ import annotations

import glob
from pathlib import Path

import pytest

from cora.compiler.driver import compile_file
from cora.settings import trace_files, traces_dir

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
TRACES = [str(p) for p in trace_files()]
PROGRAMS = sorted(glob.glob(str(Path(__file__).with_name("nf") / "*.nf")))


@pytest.mark.parametrize("nf", PROGRAMS, ids=lambda p: Path(p).stem)
def test_kernel_and_interpreter_agree_on_every_capture(nf, bcc_module):
    from cora.runtime.engine import InterpEngine, KernelEngine
    from cora.runtime.run import run_frames
    from cora.testbed.replay import read_pcap

    assert len(TRACES) >= 200, \
        f"expected the tcpdump captures in {traces_dir()} (set CORA_TRACES)"
    program = compile_file(nf)
    bad, packets, verdicts = [], 0, {}
    with KernelEngine(program) as kernel, InterpEngine(program) as interp:
        for trace in TRACES:
            report = run_frames(program, read_pcap(trace), engine="both",
                                engines=(kernel, interp))
            packets += report.packets
            for v, n in report.verdicts.items():
                verdicts[v] = verdicts.get(v, 0) + n
            if report.mismatches:
                bad.append((Path(trace).name, [(d.index, d.what, d.detail)
                                               for d in report.details[:2]]))
    assert not bad, bad
    assert packets > 2500
    if Path(nf).stem == "all_constructs":
        # the captures drive it down every verdict path
        assert all(verdicts.get(v, 0) > 0 for v in ("pass", "drop", "tx", "redirect")), verdicts
