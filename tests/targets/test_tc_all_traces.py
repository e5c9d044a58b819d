"""The tc target on real captures: for every NF in netfuncs/ and every capture in
the trace corpus (``CORA_TRACES``), the sched_cls program (BPF_PROG_TEST_RUN on an skb) and the
reference interpreter agree on every frame: verdict (the TC action mapped back), output
bytes and state (0 mismatches).

Frames the skb test run refuses are skipped by both engines
(:func:`cora.runtime.engine.tc_test_run_accepts`): shorter than 14 bytes, longer than 3,712
bytes (one page minus skb headroom and shared info), or an IPv4/IPv6 EtherType without room
for that header (the kernel pulls it and returns EINVAL). One kernel load per NF; state is
reset between captures, as in tests/runtime/test_all_traces.py for XDP.
"""

from __future__ import annotations

import glob
from pathlib import Path

import pytest

from cora.compiler.driver import compile_file
from cora.runtime.engine import InterpEngine, KernelEngine, tc_test_run_accepts
from cora.runtime.run import run_frames
from cora.settings import trace_files, traces_dir
from cora.testbed.replay import read_pcap

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
TRACES = [str(p) for p in trace_files()]
NFS = sorted(glob.glob(str(REPO / "netfuncs" / "*.nf")))


@pytest.fixture(scope="module")
def corpus():
    assert len(TRACES) >= 200, \
        f"expected the 215 tcpdump captures in {traces_dir()} (set CORA_TRACES)"
    return [(Path(t).name, read_pcap(t)) for t in TRACES]


def test_skips_are_only_what_the_skb_test_run_refuses(corpus):
    """The skip rule leaves almost every frame in: count what it drops, by reason."""
    frames = [f for _, fr in corpus for _, f in fr]
    refused = [f for f in frames if not tc_test_run_accepts(f)]
    short_ip = [f for f in refused if 14 <= len(f) <= 3712]
    assert len(frames) - len(refused) > 2500
    assert len(short_ip) <= 5  # today: one 33-byte IPv4 frame


@pytest.mark.parametrize("nf", NFS, ids=lambda p: Path(p).stem)
def test_every_capture_zero_mismatches_on_tc(nf, corpus, bcc_module):
    program = compile_file(nf)
    bad = []
    packets = skipped = 0
    with KernelEngine(program, target="tc") as kernel, InterpEngine(program) as interp:
        for name, frames in corpus:
            report = run_frames(program, frames, engine="both", engines=(kernel, interp))
            packets += report.packets
            skipped += report.skipped
            assert report.packets == sum(1 for _, f in frames if tc_test_run_accepts(f))
            if report.mismatches:
                bad.append((name, [(d.index, d.what, d.detail) for d in report.details[:2]]))
    assert not bad, bad
    assert packets > 2500
