"""Run frames through a loaded XDP program in the kernel, for state and for timing.

Both helpers sit on ``BPF_PROG_TEST_RUN`` (:func:`cora.runtime.bpf_syscall.prog_test_run`)
and are shared by ``cora run`` (verdicts, output frames and map state, frame by frame) and
``cora bench`` / ``bench/`` (ns per packet).

Timing follows what was measured on these machines (shared/MACHINE.md): a call with
``repeat`` = 1 costs ~17 us of wall time, a call with ``repeat`` > 1 ~16 ms whatever the
repeat, so ns/packet is measured with few calls and large repeats: at most ``max_samples``
frames, sampled evenly over the trace, each run ``repeat`` times.
"""

from __future__ import annotations

from cora.errors import InputError
from cora.runtime.bpf_syscall import TestRunResult, prog_test_run

#: Shortest frame an XDP test run accepts (an Ethernet header, ETH_HLEN).
MIN_XDP_FRAME_BYTES = 14

#: Bytes of a test-run frame an XDP program sees by direct packet access (``data_end -
#: data``): one 4 KiB page minus XDP_PACKET_HEADROOM (256) minus the aligned
#: ``struct skb_shared_info`` tailroom (320) (net/bpf/test_run.c, ``bpf_prog_test_run_xdp``).
#: Longer frames go on in fragments that only helpers see (``bpf_xdp_get_buff_len``,
#: ``bpf_xdp_load_bytes``). Measured on this machine's Linux 6.18.
MAX_XDP_LINEAR_BYTES = 3520

#: Longest frame an XDP test run accepts: the linear part plus MAX_SKB_FRAGS (17) pages
#: (include/linux/skbuff.h); longer ones fail with EINVAL. Measured here: 73,152 bytes.
MAX_XDP_TEST_FRAME_BYTES = MAX_XDP_LINEAR_BYTES + 17 * 4096


def xdp_test_run_accepts(frame: bytes) -> bool:
    """Whether an XDP test run takes ``frame``: at least an Ethernet header
    (:data:`MIN_XDP_FRAME_BYTES`) and at most :data:`MAX_XDP_TEST_FRAME_BYTES`."""
    return MIN_XDP_FRAME_BYTES <= len(frame) <= MAX_XDP_TEST_FRAME_BYTES


def run_frames(prog_fd: int, frames: list[bytes]) -> list[TestRunResult]:
    """Run each frame once, in order, through program ``prog_fd`` (repeat = 1 each).

    Map state persists in the kernel between calls, so a stateful NF sees the frames as a
    stream, exactly as on a wire.

    Args:
        prog_fd: fd of a loaded XDP program.
        frames: frames as bytes, each at least 14 bytes (callers skip shorter ones).

    Returns:
        One :class:`TestRunResult` per frame, same order (verdict, output frame, ns).

    Raises:
        KernelError: the kernel refused a frame (e.g. longer than one page for a program
            without frags support).
    """
    return [prog_test_run(prog_fd, frame, repeat=1) for frame in frames]


def sample_evenly(frames: list[bytes], max_samples: int) -> list[bytes]:
    """At most ``max_samples`` frames picked at evenly spaced indices over ``frames``
    (all of them when there are no more than ``max_samples``)."""
    n = len(frames)
    if n <= max_samples:
        return list(frames)
    return [frames[(i * n) // max_samples] for i in range(max_samples)]


def measure_ns_per_packet(prog_fd: int, frames: list[bytes], repeat: int = 10000,
                          max_samples: int = 200) -> float:
    """Average kernel run time of program ``prog_fd`` per frame, in ns/packet.

    Frames shorter than 14 bytes are left out (XDP cannot run on them). Up to
    ``max_samples`` of the others are sampled evenly; each is run ``repeat`` times in one
    ``BPF_PROG_TEST_RUN`` call, and the kernel's per-repetition average (``duration``, in
    whole ns, rounded down by the kernel) is averaged over the sampled frames with equal
    weight. The repetitions update map state like real packets would.

    Args:
        prog_fd: fd of a loaded XDP program.
        frames: the frames (bytes) to time, typically a trace's.
        repeat: repetitions per sampled frame (>= 1).
        max_samples: most frames to time; wall time is about 16 ms per sampled frame.

    Returns:
        ns per packet as a float (mean over sampled frames of the kernel's averages).

    Raises:
        InputError: no frame of at least 14 bytes.
        KernelError: the kernel refused a frame.
    """
    usable = [f for f in frames if xdp_test_run_accepts(f)]
    if not usable:
        raise InputError(f"no frame of {MIN_XDP_FRAME_BYTES} to {MAX_XDP_TEST_FRAME_BYTES} "
                         "bytes to time")
    sample = sample_evenly(usable, max(1, max_samples))
    total_ns = 0
    for frame in sample:
        total_ns += prog_test_run(prog_fd, frame, repeat=max(1, repeat),
                                  data_out_size=0).duration_ns
    return total_ns / len(sample)
