"""Run a split NF's stages in sequence on frames, as the packet would meet them.

``nic`` and ``kernel`` stages are XDP programs loaded into the real kernel and run with
BPF_PROG_TEST_RUN (:class:`cora.runtime.engine.KernelEngine`; the NIC stage is *emulated* by
an XDP program: there is no SmartNIC here); a ``user`` stage runs its stage program in the
reference interpreter (:class:`cora.runtime.engine.InterpEngine`; no AF_XDP path yet). Stage
``k``'s output frame (with its shim) is stage ``k+1``'s input. The packet ends at the first
stage that returns anything but ``pass``; otherwise the last stage's verdict counts. The last
stage strips every shim, so the output frame is the NF's frame.

All stages share one environment, as the whole NF would: ``now()`` is the frame's timestamp
on every stage, and the xorshift32 state of ``rand()`` is handed from stage to stage (the
kernel engine keeps it in its ``cora_env`` map).

State: each state object's entries come from the stage that owns it
(:attr:`cora.compiler.offload.split.StageProgram.owned_states`) and, for a traffic split, its
host copy (:attr:`cora.compiler.offload.split.StageProgram.host_copies`); the union over
stages is the whole NF's state, in the ``--state-out`` format of :mod:`cora.runtime.engine`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cora.compiler.ir import Program
from cora.compiler.offload.split import SplitResult, split
from cora.errors import InternalError
from cora.runtime.engine import InterpEngine, KernelEngine, dump_from_entries, sum_entries
from cora.targets.xdp import XdpTarget


@dataclass
class StagedOutcome:
    """What the pipeline did with one frame.

    Attributes:
        verdict: pass | drop | tx | redirect | aborted (of the deciding stage).
        frame: output frame bytes (shim stripped when the last stage ran).
        decided_by: name of the stage whose verdict counts.
        stage_ns: per stage that ran, its BPF_PROG_TEST_RUN duration (interpreter: wall) ns.
    """

    verdict: str
    frame: bytes
    decided_by: str
    stage_ns: dict[str, int] = field(default_factory=dict)


class StagePipeline:
    """The stage programs of ``program`` under ``plan``, loaded and ready to run frames.

    Args:
        program: the whole NF (verified IR).
        plan: a :class:`cora.compiler.offload.partition.Plan` or ``cora plan --json`` output, or an
            already computed :class:`cora.compiler.offload.split.SplitResult`.
        xdp_engine: ``"kernel"`` (default: nic/kernel stages as XDP programs in the kernel)
            or ``"interp"`` (every stage in the interpreter: checks the split itself, fast).
    Raises:
        SplitError: the plan does not fit the program.
        EnvironmentProblem / KernelError: an XDP stage cannot be loaded.
    Use as a context manager; :meth:`close` unloads every XDP stage.
    """

    def __init__(self, program: Program, plan, xdp_engine: str = "kernel"):
        if xdp_engine not in ("kernel", "interp"):
            raise ValueError(xdp_engine)
        self.program = program
        self.split: SplitResult = plan if isinstance(plan, SplitResult) else split(program, plan)
        self.engines: list = []
        self.uses_rand = any(op.opcode == "rand" for _, op in program.ops())
        #: the target of the nic and kernel stages: XDP, the hook that runs offload shims
        self.target = XdpTarget()
        try:
            for st in self.split.stages:
                interp = st.stage == "user" or xdp_engine == "interp"
                eng = (InterpEngine(st.program) if interp
                       else KernelEngine(st.program, self.target))
                self.engines.append(eng)
        except BaseException:
            self.close()
            raise
        self._rand = 1
        self.owner = {name: i for i, st in enumerate(self.split.stages)
                      for name in st.owned_states}
        #: merged counters: state -> the stages holding a copy (their sum is the NF's value)
        self.counter_copies: dict[str, list[int]] = {}
        for i, st in enumerate(self.split.stages):
            for name in st.counter_copies:
                self.counter_copies.setdefault(name, []).append(i)
        #: traffic split: state -> the stage holding its host-path flows' copy
        self.host_copy = {name: i for i, st in enumerate(self.split.stages)
                          for name in st.host_copies}
        max_shim = max([sh.bytes for sh in self.split.shims] + [2])
        #: the longest input frame every stage can take (a shim grows the frame)
        self.max_frame_bytes = self.target.max_test_frame_bytes - max_shim

    def reset(self) -> None:
        """Every stage's maps back to their initial entries; rand() reseeded with 1."""
        for eng in self.engines:
            eng.reset()
        self._rand = 1

    def _get_rand(self, eng) -> int:
        if isinstance(eng, InterpEngine):
            return eng.interp._rng[0]
        from cora.runtime import bpf_syscall
        raw = bpf_syscall.map_lookup(eng._env_fd, (1).to_bytes(4, "little"), 8)
        if raw is None:  # an array map always has its slots
            raise InternalError("cora_env has no slot 1 (the random state)")
        return int.from_bytes(raw, "little") & 0xFFFFFFFF

    def _set_rand(self, eng, value: int) -> None:
        if isinstance(eng, InterpEngine):
            eng.interp._rng[0] = value
        else:
            eng._set_env(1, value)

    def run(self, frame: bytes, now_ns: int = 0) -> StagedOutcome:
        """Run one frame through the stages in order (``now()`` = ``now_ns`` everywhere; a
        NIC stage's host-fed clock, :attr:`StageProgram.clock_state`, is set to it first)."""
        stage_ns: dict[str, int] = {}
        data = frame
        out = None
        for st, eng in zip(self.split.stages, self.engines, strict=True):
            env = self.uses_rand and (isinstance(eng, InterpEngine) or eng.uses_env)
            if env:
                self._set_rand(eng, self._rand)
            if st.clock_state is not None:
                # the host-fed clock of a NIC without one, fed exactly: the frame's time
                eng.write(st.clock_state, (0,), (now_ns,))
            out = eng.run(data, now_ns)
            if env:
                self._rand = self._get_rand(eng)
            stage_ns[st.stage] = out.duration_ns
            data = out.frame
            if out.verdict != "pass":
                return StagedOutcome(out.verdict, data, st.stage, stage_ns)
        assert out is not None  # a split has at least one stage
        return StagedOutcome(out.verdict, data, self.split.stages[-1].stage, stage_ns)

    def entries(self, name: str) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        """Entries of state ``name`` from the stage that owns it, plus (traffic split) those
        of its host copy (dump form, sorted); a merged counter's entries are the sums over
        the stages' copies, value field by value field."""
        if name in self.counter_copies:
            return sum_entries([self.engines[i].entries(name)
                                for i in self.counter_copies[name]])
        own = self.engines[self.owner[name]].entries(name)
        if name not in self.host_copy:
            return own
        return sorted(own + self.engines[self.host_copy[name]].entries(name))

    def dump_state(self) -> dict:
        """The union of the stages' owned states, ``--state-out`` format."""
        return dump_from_entries(self.program.states, {s.name: self.entries(s.name)
                                                for s in self.program.states})

    def close(self) -> None:
        """Unload every stage."""
        for eng in self.engines:
            eng.close()
        self.engines = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
