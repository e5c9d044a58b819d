"""The interface every code-generation target implements.

A target is one eBPF program flavour (p4c's ``EBPF::Target`` is the model): it turns a
verified :class:`cora.compiler.ir.Program` into an artifact (generated C, through the one
emitter :mod:`cora.targets.ebpf.emit` and its own :class:`~cora.targets.ebpf.hook.Hook`), and
it owns everything the runtime must know to run that artifact: the kernel program type and
load flags, which frames BPF_PROG_TEST_RUN accepts for it, how its return codes decode back
to cora verdicts, and how it is attached to and detached from an interface. The runtime asks
the target instead of branching on its name. Targets are peers
(:class:`cora.targets.xdp.XdpTarget`, :class:`cora.targets.tc.TcTarget`), found by name with
:func:`cora.targets.get_target`.

"Target" means a code generator only; the cost models of offload stages are "stage models"
(:mod:`cora.compiler.offload.stage_model`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from cora.compiler.ir import Program


def refused_op_lines(program: Program, refused_ops: Mapping[str, str]) -> list[str]:
    """One line ``line:col: opcode: why`` per op of ``program`` whose opcode is in
    ``refused_ops`` (opcode -> why), in program order ([] when none)."""
    out = []
    for _, op in program.ops():
        reason = refused_ops.get(op.opcode)
        if reason is not None:
            where = f"{op.span.line}:{op.span.col}: " if op.span else ""
            out.append(f"{where}{op.opcode}: {reason}")
    return out


@dataclass
class Artifact:
    """What a target produced for one stage.

    Attributes:
        target: the target's name (``xdp`` ...).
        program: the IR program the artifact implements.
        files: file name -> text (generated C, printed IR, metadata).
        entry: the name of the entry function in the generated code.
        line_map: generated source line (1-based) -> NF source (line, col), for mapping
            kernel verifier messages back to the NF.
        options: the generation options used (e.g. ``inject_env``, ``count_verdicts``).
    """

    target: str
    program: Program
    files: dict[str, str]
    entry: str
    line_map: dict[int, tuple[int, int]] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Attachment:
    """A program a target attached to an interface (what :meth:`Target.detach` removes).

    Attributes:
        ifname: the interface's name.
        netns: the named network namespace it is in (None = the root namespace).
    """

    ifname: str
    netns: str | None


class Target(ABC):
    """Base class of code-generation targets (see the module docstring).

    Class attributes every target sets:
        name: the target's name (``xdp``, ``tc``).
        prog_type: the kernel's ``enum bpf_prog_type`` of its programs
            (include/uapi/linux/bpf.h).
        max_test_frame_bytes: the longest frame BPF_PROG_TEST_RUN accepts for it, bytes.
        refused_ops: IR opcode -> why the target cannot run it ({} = every op).
        verdicts_need_counters: its return codes alone do not name every verdict, so
            :meth:`decode_verdict` needs the program's verdict counters (generate with
            ``count_verdicts=True`` to decode).
    """

    name: ClassVar[str] = "abstract"
    prog_type: ClassVar[int] = -1
    max_test_frame_bytes: ClassVar[int] = 0
    refused_ops: ClassVar[Mapping[str, str]] = {}
    verdicts_need_counters: ClassVar[bool] = False

    def unsupported(self, program: Program) -> list[str]:
        """Reasons, one per line (``line:col: opcode: why``), why ``program`` cannot run on
        this target ([] when it can): one per op in :attr:`refused_ops`."""
        return refused_op_lines(program, self.refused_ops)

    def check(self, program: Program) -> None:
        """Raise :class:`cora.errors.CoraError` naming the first op of ``program`` this
        target refuses (see :meth:`unsupported`); return when it runs every op."""
        problems = self.unsupported(program)
        if problems:
            from cora.errors import CoraError

            raise CoraError(f"the {self.name} target cannot generate {program.name}: "
                            f"{problems[0]}")

    @abstractmethod
    def generate(self, program: Program, inject_env: bool = False,
                 count_verdicts: bool = False, **options: Any) -> Artifact:
        """Generate code for ``program``.

        Args:
            inject_env: read ``now()``/``rand()`` from the ``cora_env`` map (exact
                differential runs).
            count_verdicts: count verdicts per CPU in ``cora_verdicts``.
            options: target-specific options (see each target).
        Raises:
            CoraError: an option the target does not have, or the program uses an op it
                refuses.
        """

    def load_flags(self, artifact: Artifact) -> int:
        """``prog_flags`` of BPF_PROG_LOAD for ``artifact`` (include/uapi/linux/bpf.h
        ``BPF_F_*``); 0 unless the target says otherwise."""
        return 0

    @abstractmethod
    def test_run_accepts(self, frame: bytes) -> bool:
        """Whether BPF_PROG_TEST_RUN of this target's program type accepts ``frame``."""

    @abstractmethod
    def decode_verdict(self, retval: int, tx_counted: Callable[[], bool]) -> str:
        """The cora verdict (pass | drop | tx | redirect | aborted) of return code ``retval``.

        Args:
            retval: what the program returned.
            tx_counted: called only when ``retval`` alone is ambiguous (targets with
                :attr:`verdicts_need_counters`): whether the program's ``tx`` verdict
                counter rose during this run.
        """

    @abstractmethod
    def attach(self, prog_fd: int, ifname: str, netns: str | None = None,
               **options: Any) -> Attachment:
        """Attach the loaded program ``prog_fd`` to ``ifname`` in ``netns`` (None = root).

        Raises:
            EnvironmentProblem: no such namespace or interface, not root, a bad option.
            KernelError: the kernel refused, with its reason.
        """

    @abstractmethod
    def detach(self, attachment: Attachment, missing_ok: bool = True) -> bool:
        """Remove what :meth:`attach` attached (only if it is still there and still ours).

        Returns:
            True if it was removed, False if it was not there.
        Raises:
            EnvironmentProblem: no such namespace or interface (only when not ``missing_ok``).
            KernelError: the kernel refused.
        """
