"""The tc target (sched_cls, run on an skb with BPF_PROG_TEST_RUN) against the reference
interpreter on generated frames (kernel tests).

``nf/every_op.nf`` uses every IR op class and state kind (see test_xdp_differential.py);
``nf/tc_verdicts.nf`` takes every verdict, so the TC action mapping (TC_ACT_OK, TC_ACT_SHOT,
TC_ACT_REDIRECT for tx and redirect) is checked both ways. Kernel and interpreter must agree
on verdict, output bytes and state for every frame the skb test run accepts; frames it refuses
(:func:`cora.runtime.engine.tc_test_run_accepts`) are skipped by both engines.
"""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from cora.compiler.driver import compile_file
from cora.errors import CoraError, KernelError
from cora.runtime.bpf_syscall import prog_test_run
from cora.runtime.engine import (
    MAX_TC_TEST_FRAME_BYTES,
    InterpEngine,
    KernelEngine,
    tc_test_run_accepts,
)
from cora.runtime.run import run_frames
from cora.targets import get_target

from .packets import frames, sample_frames

pytestmark = pytest.mark.kernel
NF_DIR = Path(__file__).parent / "nf"


@pytest.fixture(scope="module")
def engines(bcc_module):
    program = compile_file(NF_DIR / "every_op.nf")
    with KernelEngine(program, target="tc") as k, InterpEngine(program) as i:
        yield program, k, i


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(trace=st.lists(frames(), min_size=1, max_size=25),
       start_ns=st.integers(0, 2**60), gap_ns=st.integers(0, 10**9))
def test_tc_equals_interpreter_on_generated_traces(engines, trace, start_ns, gap_ns):
    program, k, i = engines
    stamped = [(start_ns + n * gap_ns, f) for n, f in enumerate(trace)]
    report = run_frames(program, stamped, engine="both", engines=(k, i))
    assert report.mismatches == 0, [(d.index, d.what, d.detail) for d in report.details]
    assert report.packets == sum(1 for f in trace if tc_test_run_accepts(f))
    assert report.packets + report.skipped == len(trace)


def test_generated_traces_exercise_the_program(engines):
    """Coverage of the differential test: every verdict but redirect (every_op has none)
    and real header rewrites."""
    program, k, i = engines
    trace = sample_frames(300)
    stamped = [(n * 1000, f) for n, f in enumerate(trace)]
    report = run_frames(program, stamped, engine="both", engines=(k, i), keep_outputs=True)
    assert report.mismatches == 0, [(d.index, d.what, d.detail) for d in report.details]
    assert report.verdicts["drop"] > 0 and report.verdicts["tx"] > 0 and report.verdicts["pass"] > 0
    inputs = [f for f in trace if tc_test_run_accepts(f)]
    rewritten = sum(1 for f, (_, _, out) in zip(inputs, report.outputs, strict=True) if out != f)
    assert rewritten > len(inputs) // 3
    assert report.state["maps"]["words"] and report.state["maps"]["six"]


def _udp(dport: int, sport: int = 7, pad: int = 0) -> bytes:
    return bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
                 / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=sport, dport=dport)
                 / (b"x" * pad))


def test_every_verdict_maps_back(bcc_module):
    """pass, drop, tx and redirect each come back as themselves (tx and redirect share
    TC_ACT_REDIRECT), and pkt.len (skb->len) counts the whole frame as in the interpreter."""
    program = compile_file(NF_DIR / "tc_verdicts.nf")
    trace = [_udp(9), _udp(1), _udp(2), _udp(3, sport=0x105), _udp(2, pad=100), _udp(3, pad=7),
             bytes(60), _udp(1, pad=3000)]
    stamped = [(n, f) for n, f in enumerate(trace)]
    with KernelEngine(program, target="tc") as k, InterpEngine(program) as i:
        report = run_frames(program, stamped, engine="both", engines=(k, i), keep_outputs=True)
    assert report.mismatches == 0, [(d.index, d.what, d.detail) for d in report.details]
    assert [v for _, v, _ in report.outputs] == ["pass", "drop", "tx", "redirect", "tx",
                                                 "redirect", "pass", "drop"]
    seen = {tuple(e["key"]): e["value"] for e in report.state["maps"]["seen"]}
    assert seen[(1,)] == [2, len(trace[1]) + len(trace[7])]
    assert seen[(0,)] == [1, 60]


def test_accepts_frame_agrees_with_the_kernel(bcc_module):
    """The skip rule is the kernel's: on both sides of each boundary the skb test run
    accepts exactly the frames tc_test_run_accepts says (else EINVAL)."""
    program = compile_file(NF_DIR / "tc_verdicts.nf")
    eth = bytes(12)
    cases = [eth + b"\x08\x00" + bytes(19), eth + b"\x08\x00" + bytes(20),
             eth + b"\x86\xdd" + bytes(39), eth + b"\x86\xdd" + bytes(40),
             eth + b"\x81\x00", eth + b"\x12\x34", bytes(13),
             eth + b"\x12\x34" + bytes(MAX_TC_TEST_FRAME_BYTES - 14),
             eth + b"\x12\x34" + bytes(MAX_TC_TEST_FRAME_BYTES - 13)]
    with KernelEngine(program, target="tc") as k:
        for frame in cases:
            try:
                prog_test_run(k.loaded.prog_fd, frame, repeat=1)
                ran = True
            except KernelError:
                ran = False
            assert ran == tc_test_run_accepts(frame), (len(frame), frame[12:14].hex())
    assert [tc_test_run_accepts(f) for f in cases] == [False, True, False, True, True, True,
                                                       False, True, False]


def test_tc_target_generates_sched_cls_c_and_refuses_shims():
    """The tc C is the XDP generator's with the tc context, skb->len and TC actions; a
    split stage with shim ops is refused in words."""
    program = compile_file(NF_DIR / "tc_verdicts.nf")
    c_text = get_target("tc").generate(program).files["prog.c"]
    assert "int cora_tc(struct __sk_buff *ctx)" in c_text
    assert "bpf_redirect(ctx->ifindex, 0)" in c_text and "ctx->len" in c_text
    assert "bpf_skb_pull_data(ctx" in c_text and "xdp_md *ctx) {" not in c_text.split(
        "cora_mix64")[1]
    with pytest.raises(CoraError, match="XDP-only"):
        get_target("tc").generate(program, frags=True)
    from cora.compiler.ir import Op

    shimmed = compile_file(NF_DIR / "tc_verdicts.nf")
    last = shimmed.blocks[-1]
    term = last.ops[-1]
    last.ops[-1:] = [Op("shim.push", None, (), {"resume": 1}, term.span), term]
    assert get_target("tc").unsupported(shimmed)
    with pytest.raises(CoraError, match="shim"):
        get_target("tc").generate(shimmed)


def test_cora_run_target_tc_on_a_capture(bcc_module, trace_corpus):
    """``cora run --target tc``: kernel (sched_cls) and interpreter agree on a real capture,
    and exactly the frames an skb test run refuses are skipped, by either engine."""
    import json
    import subprocess
    import sys

    from cora.testbed.replay import read_pcap

    pcap = trace_corpus / "of10_s4810.pcap"
    frames = read_pcap(str(pcap))
    accepted = sum(1 for _, f in frames if tc_test_run_accepts(f))
    nf = Path(__file__).resolve().parents[2] / "netfuncs" / "firewall.nf"
    for engine in ("both", "interp"):
        r = subprocess.run([sys.executable, "-m", "cora.cli", "run", str(nf), "--pcap",
                            str(pcap), "--target", "tc", "--engine", engine, "--json"],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        out = json.loads(r.stdout)
        assert out["mismatches"] == 0
        assert out["packets"] == accepted and out["skipped"] == len(frames) - accepted
        assert out["verdicts"]["drop"] > 0
