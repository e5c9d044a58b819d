"""The pass interface and registry (layout after xDSL's ``ModulePass`` and its pass registry).

A pass is a frozen dataclass subclassing :class:`ModulePass` with a unique ``name`` and
``apply(program) -> None`` that rewrites the program in place. ``@register_pass`` adds the
class to :data:`PASSES`; :func:`run_pipeline` runs passes by name and, by default, the IR
verifier after each one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from cora.compiler.ir import IntType, IRError, Program
from cora.compiler.ir.verify import verify


@dataclass(frozen=True)
class ModulePass(ABC):
    """A named, semantics-preserving rewrite of a whole :class:`~cora.compiler.ir.Program`.

    Attributes:
        name: the pass's name in pipelines (``const-fold``); subclasses give it as default.
    """

    name: str = ""

    @abstractmethod
    def apply(self, program: Program) -> None:
        """Rewrite ``program`` in place (it stays a valid program: see :func:`run_pipeline`)."""


P = TypeVar("P", bound=type[ModulePass])

#: name -> pass class; ``PASSES[name]()`` is a ready-to-run pass.
PASSES: dict[str, type[ModulePass]] = {}


def register_pass(cls: P) -> P:
    """Class decorator adding a :class:`ModulePass` subclass to :data:`PASSES` under its
    default ``name``. Raises ValueError for a duplicate or empty name."""
    name = cls().name
    if not name or name in PASSES:
        raise ValueError(f"pass name {name!r} is empty or taken")
    PASSES[name] = cls
    return cls


def run_pipeline(program: Program, names: Iterable[str], verify_each: bool = True) -> None:
    """Run the passes called ``names`` in order on ``program`` (in place).

    Args:
        program: the IR program.
        names: pass names, keys of :data:`PASSES`.
        verify_each: run :func:`~cora.compiler.ir.verify.verify` after every pass.
    Raises:
        KeyError: an unknown pass name.
        IRError: a pass produced an invalid program (a compiler bug), naming the pass.
    """
    for name in names:
        if name not in PASSES:
            raise KeyError(f"unknown pass {name!r} (known: {', '.join(sorted(PASSES))})")
        PASSES[name]().apply(program)
        if verify_each:
            try:
                verify(program)
            except IRError as exc:
                raise IRError(f"after pass {name}: {exc}") from None


# ------------------------------------------------------------ helpers shared by passes

def reg_width(program: Program, reg: str) -> int:
    """Width of integer register ``reg`` (0 for a reference)."""
    t = program.regs[reg]
    return t.width if isinstance(t, IntType) else 0


def assign_counts(program: Program) -> Counter[str]:
    """register -> number of ops assigning it, program-wide."""
    return Counter(op.dest for _, op in program.ops() if op.dest is not None)


def predecessor_edges(program: Program) -> Counter[str]:
    """label -> number of CFG edges into it (from every block, reachable or not)."""
    preds: Counter[str] = Counter()
    for b in program.blocks:
        for s in b.successors():
            preds[s] += 1
    return preds
