"""``jump-thread``: edges into a block that only jumps go straight to its target."""

from __future__ import annotations

from dataclasses import dataclass

from cora.compiler.ir import Program
from cora.compiler.passes.base import ModulePass, register_pass


@register_pass
@dataclass(frozen=True)
class JumpThreading(ModulePass):
    """Edges into blocks that only ``jmp`` elsewhere go straight to the final target."""

    name: str = "jump-thread"

    def apply(self, program: Program) -> None:
        """Retarget every ``br``/``jmp`` in place (the emptied blocks become unreachable)."""
        forward = {b.label: b.ops[0].attrs["targets"][0] for b in program.blocks
                   if len(b.ops) == 1 and b.ops[0].opcode == "jmp"}

        def resolve(label: str) -> str:
            seen = set()
            while label in forward and label not in seen:   # acyclic in a verified program
                seen.add(label)
                label = forward[label]
            return label

        for b in program.blocks:
            term = b.ops[-1]
            if term.opcode in ("br", "jmp"):
                targets = tuple(resolve(t) for t in term.attrs["targets"])
                if targets != tuple(term.attrs["targets"]):
                    term.attrs = {**term.attrs, "targets": targets}
