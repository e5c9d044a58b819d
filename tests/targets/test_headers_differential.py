"""User-declared headers: the XDP backend against the reference interpreter (kernel tests).

``nf/headers.nf`` declares VXLAN (RFC 7348) with the inner Ethernet header after it and an
aggregation header with an ``i32[8]`` array after UDP, reads and writes their fields
(with UDP checksum fix-ups) and keeps state from them. The frames are UDP to the two ports
and to others, with payloads of every length around the headers' ends (so validity by
frame length is exercised), with and without a UDP checksum. Kernel and interpreter must
agree on verdict, output bytes and state for every frame.
"""

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cora.compiler.ir.semantics import internet_checksum

from .differential import DIFFERENTIAL_SETTINGS, engines_fixture, run_both
from .edge_frames import header_frames, udp_frame

pytestmark = pytest.mark.kernel
NF = Path(__file__).parent / "nf" / "headers.nf"
engines = engines_fixture(NF)


@DIFFERENTIAL_SETTINGS
@given(trace=st.lists(header_frames(), min_size=1, max_size=30))
def test_kernel_equals_interpreter_on_user_headers(engines, trace):
    run_both(engines, [(n, f) for n, f in enumerate(trace)])


def test_header_writes_keep_the_udp_checksum_valid(engines):
    """Rewritten VXLAN and aggregation frames still carry a correct UDP checksum (verified
    over the pseudo-header, RFC 768), and a frame one byte short of a header is passed
    unchanged."""
    rng = random.Random(5)
    trace = []
    for n in range(40):
        vals = b"".join(rng.randrange(1 << 32).to_bytes(4, "big") for _ in range(8))
        trace.append(udp_frame(9000, bytes([0, 1, n % 128 * 2, 0]) + vals, True))
        trace.append(udp_frame(4789, bytes([8, 0, 0, 0, 0, 0, n, 0]) + bytes(12) +
                               b"\x86\xdd", True))
    short = udp_frame(9000, bytes(35), True)
    trace.append(short)
    report = run_both(engines, [(n, f) for n, f in enumerate(trace)], keep_outputs=True)
    outs = [out for _ts, _v, out in report.outputs]
    assert outs[-1] == short
    rewritten = 0
    for before, out in zip(trace[:-1], outs[:-1], strict=True):
        if out == before:
            continue
        rewritten += 1
        ip, udp = out[14:34], out[34:]
        pseudo = ip[12:20] + bytes([0, 17]) + len(udp).to_bytes(2, "big")
        assert internet_checksum(pseudo + udp) == 0
    assert rewritten >= 60
