"""Run frames through a loaded program in the kernel, for state and for timing.

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
from cora.targets.base import Target

# The XDP test-run frame rules are the xdp target's (cora.targets.xdp.hook); re-exported
# here for the XDP-only callers (benches, cora bench).
from cora.targets.xdp.hook import (
    MAX_XDP_LINEAR_BYTES,
    MAX_XDP_TEST_FRAME_BYTES,
    MIN_XDP_FRAME_BYTES,
    xdp_test_run_accepts,
)

__all__ = ["MAX_XDP_LINEAR_BYTES", "MAX_XDP_TEST_FRAME_BYTES", "MIN_XDP_FRAME_BYTES",
           "measure_ns_per_packet", "run_frames", "sample_evenly", "xdp_test_run_accepts"]


def run_frames(prog_fd: int, frames: list[bytes]) -> list[TestRunResult]:
    """Run each frame once, in order, through program ``prog_fd`` (repeat = 1 each).

    Map state persists in the kernel between calls, so a stateful NF sees the frames as a
    stream, exactly as on a wire.

    Args:
        prog_fd: fd of a loaded program.
        frames: frames as bytes its program type's test run accepts (callers skip others,
            see :meth:`cora.targets.base.Target.test_run_accepts`).

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
                          max_samples: int = 200, target: Target | None = None) -> float:
    """Average kernel run time of program ``prog_fd`` per frame, in ns/packet.

    Frames the target's test run refuses are left out (XDP: shorter than 14 bytes or
    longer than 73,152). Up to
    ``max_samples`` of the others are sampled evenly; each is run ``repeat`` times in one
    ``BPF_PROG_TEST_RUN`` call, and the kernel's per-repetition average (``duration``, in
    whole ns, rounded down by the kernel) is averaged over the sampled frames with equal
    weight. The repetitions update map state like real packets would.

    Args:
        prog_fd: fd of a loaded program.
        frames: the frames (bytes) to time, typically a trace's.
        target: the target that generated the program (default: xdp).
        repeat: repetitions per sampled frame (>= 1).
        max_samples: most frames to time; wall time is about 16 ms per sampled frame.

    Returns:
        ns per packet as a float (mean over sampled frames of the kernel's averages).

    Raises:
        InputError: no frame the target's test run accepts.
        KernelError: the kernel refused a frame.
    """
    if target is None:
        from cora.targets.xdp import XdpTarget

        target = XdpTarget()
    usable = [f for f in frames if target.test_run_accepts(f)]
    if not usable:
        raise InputError(f"no frame to time: none of at most {target.max_test_frame_bytes} "
                         f"bytes that a {target.name} test run accepts")
    sample = sample_evenly(usable, max(1, max_samples))
    total_ns = 0
    for frame in sample:
        total_ns += prog_test_run(prog_fd, frame, repeat=max(1, repeat),
                                  data_out_size=0).duration_ns
    return total_ns / len(sample)


def time_side_by_side(fds: dict[str, int], frames: list[bytes], rounds: int, repeat: int,
                      max_samples: int) -> tuple[dict[str, float], dict[str, list[float]]]:
    """ns/packet of several loaded programs measured side by side: each is fed ``frames``
    once first (state as under real traffic; every program sees the same frames in the same
    order), then timed in ``rounds`` alternating rounds (:func:`measure_ns_per_packet` with
    ``repeat`` and ``max_samples``), so a change of the machine's load hits all of them
    alike.

    Args:
        fds: label -> fd of a loaded XDP program.
    Returns:
        (label -> median ns/packet over the rounds, label -> every round's ns/packet).
    Raises:
        as :func:`measure_ns_per_packet`.
    """
    import statistics

    times: dict[str, list[float]] = {label: [] for label in fds}
    for fd in fds.values():
        run_frames(fd, frames)
    for _ in range(rounds):
        for label, fd in fds.items():
            times[label].append(measure_ns_per_packet(fd, frames, repeat, max_samples))
    return {k: statistics.median(v) for k, v in times.items()}, times
