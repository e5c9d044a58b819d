"""``cora run``: every frame of a pcap, in order, through the kernel and/or the interpreter.

With both engines each frame is compared: verdict, output bytes, and the state the frame
touched (every key the interpreter read or wrote, looked up in both); after the last frame
the whole state is compared too. ``mismatches`` counts frames where anything differs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cora.compiler.ir import Program
from cora.runtime.engine import FrameOutcome, InterpEngine, KernelEngine
from cora.targets.base import Target

VERDICT_NAMES = ("pass", "drop", "tx", "redirect", "multicast", "aborted")


@dataclass
class Mismatch:
    """One frame on which the engines differ.

    Attributes:
        index: 0-based frame index in the pcap.
        what: "verdict", "bytes", "state" or "final state".
        detail: a human-readable description.
    """

    index: int
    what: str
    detail: str


@dataclass
class RunReport:
    """The result of :func:`run_frames`.

    Attributes:
        packets: frames run (not skipped).
        skipped: frames the kernel's test run would refuse, skipped by every engine alike
            (``KernelEngine.accepts_frame``; XDP: 14 to 73,152 bytes; tc: at most 3,712 bytes
            and IPv4/IPv6 with room for its header).
        verdicts: verdict name -> count (from the kernel engine when it ran).
        mismatches: frames on which the engines differ (0 with one engine).
        ns_per_packet: None when no frame ran (nothing was measured); else kernel: mean
            BPF_PROG_TEST_RUN duration (steady state with
            ``time_kernel``, else of the single runs); interpreter alone: its mean wall time
            per frame.
        details: the first mismatches, for the user.
        outputs: per frame run, (timestamp ns, verdict, output bytes) of the primary engine.
        state: the ``--state-out`` object of the primary engine after the last frame.
    """

    packets: int = 0
    skipped: int = 0
    verdicts: dict = field(default_factory=lambda: {v: 0 for v in VERDICT_NAMES})
    mismatches: int = 0
    ns_per_packet: float | None = None
    details: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    state: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """The ``--json`` object of ``cora run``."""
        return {"packets": self.packets, "skipped": self.skipped, "verdicts": dict(self.verdicts),
                "mismatches": self.mismatches, "ns_per_packet": (None if self.ns_per_packet is None
                                  else round(self.ns_per_packet, 2))}


def _compare_frame(i: int, a: FrameOutcome, b: FrameOutcome, kernel, interp) -> Mismatch | None:
    if a.verdict != b.verdict:
        return Mismatch(i, "verdict", f"kernel {a.verdict}, interpreter {b.verdict}")
    if a.frame != b.frame:
        at = next((j for j in range(min(len(a.frame), len(b.frame)))
                   if a.frame[j] != b.frame[j]), min(len(a.frame), len(b.frame)))
        return Mismatch(i, "bytes", f"output frames differ from byte {at} "
                                    f"(kernel {len(a.frame)} bytes, interpreter {len(b.frame)})")
    for name, key in sorted(b.touched):
        kv, iv = kernel.lookup(name, key), interp.lookup(name, key)
        if kv != iv:
            return Mismatch(i, "state", f"{name}{list(key)}: kernel {kv}, interpreter {iv}")
    return None


def run_frames(program: Program, frames: list[tuple[int, bytes]], engine: str = "both",
               keep_outputs: bool = False, max_details: int = 10, engines=None,
               time_kernel: bool = False, target: Target | str = "xdp") -> RunReport:
    """Run ``frames`` ((timestamp ns, bytes) in order) through the chosen engine(s).

    Args:
        program: a verified IR program.
        frames: the trace.
        engine: "kernel", "interp" or "both".
        keep_outputs: keep each frame's output (for ``--out``).
        max_details: how many mismatches to describe.
        engines: already open (kernel, interp) engines to reuse (reset first); else opened
            and closed here.
        time_kernel: after the run (and the state dump), measure the kernel's steady-state
            ns/packet with BPF_PROG_TEST_RUN repeat 1,000 on up to 20 of the trace's frames
            (:func:`cora.runtime.testrun.measure_ns_per_packet`) instead of averaging the
            single runs, whose durations are dominated by the test run's own overhead.
        target: the kernel engine's target (or its name) when opened here
            (:class:`~cora.runtime.engine.KernelEngine`); its test-run frame rules say which
            frames run, with the interpreter alone too.
    Returns:
        a :class:`RunReport`.
    Raises:
        EnvironmentProblem / KernelError for the kernel engine (no root, no bcc, load failure).
    """
    if engine not in ("kernel", "interp", "both"):
        raise ValueError(engine)
    if not isinstance(target, Target):
        from cora.targets import get_target

        target = get_target(target)
    own = engines is None
    kernel = interp = None
    report = RunReport()
    try:
        if engines is not None:
            kernel, interp = engines
            kernel = kernel if engine in ("kernel", "both") else None
            interp = interp if engine in ("interp", "both") else None
        else:
            interp = InterpEngine(program) if engine in ("interp", "both") else None
            kernel = (KernelEngine(program, target=target) if engine in ("kernel", "both")
                      else None)
        for e in (kernel, interp):
            if e is not None and not own:
                e.reset()
        primary = kernel or interp
        assert primary is not None  # engine is kernel, interp or both
        # the kernel engine's test run may accept less (tc: cora.targets.tc.hook.
        # tc_test_run_accepts); every engine skips exactly those frames (the interpreter
        # alone: the same frames as with that target's kernel engine)
        runnable = kernel.accepts_frame if kernel is not None else target.test_run_accepts

        total_ns = 0
        for i, (ts, frame) in enumerate(frames):
            if not runnable(frame):
                report.skipped += 1
                continue
            report.packets += 1
            a = kernel.run(frame, ts) if kernel else None
            b = interp.run(frame, ts) if interp else None
            out = a if a is not None else b
            assert out is not None  # engine is kernel, interp or both
            report.verdicts[out.verdict] = report.verdicts.get(out.verdict, 0) + 1
            total_ns += out.duration_ns
            if keep_outputs:
                report.outputs.append((ts, out.verdict, out.frame))
            if a is not None and b is not None:
                mm = _compare_frame(i, a, b, kernel, interp)
                if mm is not None:
                    report.mismatches += 1
                    if len(report.details) < max_details:
                        report.details.append(mm)
        report.ns_per_packet = total_ns / report.packets if report.packets else None
        if kernel is not None and interp is not None:
            ks, is_ = kernel.dump_state(), interp.dump_state()
            if ks != is_:
                diff = [n for n in ks["maps"] if ks["maps"][n] != is_["maps"].get(n)]
                if not report.mismatches:
                    report.mismatches = 1
                report.details.append(Mismatch(len(frames) - 1, "final state",
                                               f"maps differ after the last frame: {diff}"))
            report.state = ks
        else:
            report.state = primary.dump_state()
        if time_kernel and kernel is not None and report.packets:
            from cora.runtime.testrun import measure_ns_per_packet

            usable = [f for _, f in frames if runnable(f)]
            report.ns_per_packet = measure_ns_per_packet(kernel.loaded.prog_fd, usable,
                                                         repeat=1000, max_samples=20,
                                                         target=kernel.target)
        return report
    finally:
        if own:
            for e in (kernel, interp):
                if e is not None:
                    e.close()
