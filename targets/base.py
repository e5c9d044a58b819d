"""The interface every code-generation target implements.

A target turns a verified :class:`cora.compiler.ir.Program` (or, with a partition plan, the
part of it placed on one stage) into an artifact the runtime can load. Targets are small
classes registered by name in :data:`cora.targets.TARGETS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cora.compiler.ir import Program


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
    options: dict = field(default_factory=dict)


class Target:
    """Base class of code-generation targets.

    Subclasses set ``name`` and implement :meth:`unsupported` and :meth:`generate`.
    """

    name = "abstract"

    def unsupported(self, program: Program) -> list[str]:
        """Reasons, one per line, why ``program`` cannot run on this target ([] when it can)."""
        raise NotImplementedError

    def generate(self, program: Program, **options) -> Artifact:
        """Generate code for ``program``. Raises :class:`cora.errors.CoraError` when it cannot."""
        raise NotImplementedError
