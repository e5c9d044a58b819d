"""``dce``: remove ops without side effects whose result is never used."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from cora.compiler.ir import Program
from cora.compiler.ir.ops import has_side_effect
from cora.compiler.passes.base import ModulePass, register_pass


@register_pass
@dataclass(frozen=True)
class DeadCodeElimination(ModulePass):
    """Remove side-effect-free ops whose result is never used, then unused registers."""

    name: str = "dce"

    def apply(self, program: Program) -> None:
        """Eliminate to a fixed point, in place."""
        changed = True
        while changed:
            changed = False
            uses = Counter(a for _, op in program.ops() for a in op.args)
            for block in program.blocks:
                keep = [op for op in block.ops
                        if op.dest is None or uses[op.dest] or has_side_effect(op, program)]
                if len(keep) != len(block.ops):
                    block.ops = keep
                    changed = True
        program.drop_unused_regs()
