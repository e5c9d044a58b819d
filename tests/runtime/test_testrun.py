"""run_frames and measure_ns_per_packet on a real stateful XDP program."""

from __future__ import annotations

import struct

import pytest

from cora.errors import InputError
from cora.runtime import bpf_syscall as bs
from cora.runtime.testrun import measure_ns_per_packet, run_frames, sample_evenly

pytestmark = pytest.mark.kernel

SRC = r"""
#include <uapi/linux/bpf.h>
BPF_ARRAY(seen, u64, 1);
/* drops every third frame it sees: its verdicts depend on state kept across frames */
int third(struct xdp_md *ctx) {
    u32 z = 0;
    u64 *n = seen.lookup(&z);
    if (!n)
        return XDP_ABORTED;
    *n += 1;
    return (*n % 3 == 0) ? XDP_DROP : XDP_PASS;
}
"""


@pytest.fixture(scope="module")
def prog(bcc_module):
    b = bcc_module.BPF(text=SRC)
    fn = b.load_func("third", bcc_module.BPF.XDP)
    try:
        yield b, fn.fd
    finally:
        b.cleanup()


def count(b) -> int:
    return bs.map_lookup(b["seen"].map_fd, struct.pack("<I", 0), 8) and \
        struct.unpack("<Q", bs.map_lookup(b["seen"].map_fd, struct.pack("<I", 0), 8))[0]


def test_run_frames_keeps_state_in_order(prog):
    b, fd = prog
    bs.map_update(b["seen"].map_fd, struct.pack("<I", 0), struct.pack("<Q", 0))
    frames = [bytes([i]) * (14 + i) for i in range(9)]
    results = run_frames(fd, frames)
    assert [r.retval for r in results] == [2, 2, 1] * 3
    assert [r.data_out for r in results] == frames
    assert count(b) == 9


def test_measure_ns_per_packet(prog):
    b, fd = prog
    bs.map_update(b["seen"].map_fd, struct.pack("<I", 0), struct.pack("<Q", 0))
    frames = [b"\x00" * 60] * 5 + [b"\x00" * 5]  # the 5-byte frame is left out
    ns = measure_ns_per_packet(fd, frames, repeat=2000, max_samples=3)
    assert 0 < ns < 100_000
    assert count(b) == 3 * 2000  # three sampled frames, 2000 runs each


def test_measure_needs_a_usable_frame(prog):
    _, fd = prog
    with pytest.raises(InputError):
        measure_ns_per_packet(fd, [b"\x00" * 5])


def test_sample_evenly():
    frames = [bytes([i]) for i in range(10)]
    assert sample_evenly(frames, 20) == frames
    assert sample_evenly(frames, 5) == [bytes([i]) for i in (0, 2, 4, 6, 8)]
    assert len(sample_evenly(list(map(bytes, range(1000))), 200)) == 200
