"""Signed integers and overflow tests: the XDP backend against the reference interpreter
(kernel tests), and the interpreter against Python's own integer arithmetic.

``nf/signed.nf`` runs every signed operation (``/ % >>`` and the comparisons at 8, 16, 32
and 64 bits, sign-extending casts and widenings, negative match ranges, signed state
updates) and the three overflow tests on operands read from TCP frames whose fields are
drawn around the edges of each width (0, -1, MIN, MAX, MIN+1 ...). Kernel and interpreter
must agree on verdict, output bytes and state for every frame.
"""

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from cora.compiler.driver import compile_file
from cora.runtime.engine import InterpEngine, KernelEngine
from cora.runtime.run import run_frames

pytestmark = pytest.mark.kernel
NF = Path(__file__).parent / "nf" / "signed.nf"


#: the frame fields signed.nf reads and their widths in bits
FIELDS = {"ttl": 8, "id": 16, "sport": 16, "dport": 16, "seq": 32, "ack": 32, "flags": 8,
          "window": 16}


def edge_values(bits: int) -> list[int]:
    """Unsigned ``bits``-wide patterns at the two's-complement edges (0, 1, -1, MIN, MAX...)."""
    m = (1 << bits) - 1
    half = 1 << (bits - 1)
    return [0, 1, 2, 7, m, m - 1, m - 6, half - 1, half, half + 1, half - 2]


def tcp_frame(v: dict[str, int]) -> bytes:
    """An Ethernet/IPv4/TCP frame with the fields of :data:`FIELDS` set from ``v``."""
    pkt = (Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
           / IP(src="10.0.0.1", dst="10.0.0.2", ttl=v["ttl"], id=v["id"])
           / TCP(sport=v["sport"], dport=v["dport"], seq=v["seq"], ack=v["ack"],
                 flags=v["flags"], window=v["window"]))
    return bytes(pkt)


@st.composite
def signed_frames(draw) -> bytes:
    """One frame whose fields are edge values half of the time, any value otherwise."""
    return tcp_frame({name: draw(st.sampled_from(edge_values(bits)) |
                                 st.integers(0, (1 << bits) - 1))
                      for name, bits in FIELDS.items()})


def seeded_frames(n: int, seed: int = 12) -> list[bytes]:
    """``n`` frames as :func:`signed_frames` draws them, from a fixed seed."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        out.append(tcp_frame({name: rng.choice(edge_values(bits)) if rng.random() < 0.5
                              else rng.randrange(1 << bits) for name, bits in FIELDS.items()}))
    return out


@pytest.fixture(scope="module")
def engines():
    program = compile_file(NF)
    with KernelEngine(program) as k, InterpEngine(program) as i:
        yield program, k, i


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(trace=st.lists(signed_frames(), min_size=1, max_size=30))
def test_kernel_equals_interpreter_on_signed_operations(engines, trace):
    program, k, i = engines
    stamped = [(n * 1000, f) for n, f in enumerate(trace)]
    report = run_frames(program, stamped, engine="both", engines=(k, i))
    assert report.mismatches == 0, [(d.index, d.what, d.detail) for d in report.details]
    assert report.packets == len(trace)


def test_signed_frames_reach_every_verdict_and_overflow_flag(engines):
    """Coverage of the differential test: every verdict, and every flag bit of ``signed.nf``
    (each comparison and overflow test) both set and clear on some frame."""
    program, k, i = engines
    trace = seeded_frames(400)
    report = run_frames(program, [(n, f) for n, f in enumerate(trace)], engine="both",
                        engines=(k, i), keep_outputs=True)
    assert report.mismatches == 0
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
