"""``simplify-cfg``: same-target branches to jumps, unreachable blocks removed, straight-line
blocks merged."""

from __future__ import annotations

from dataclasses import dataclass

from cora.compiler.ir import Op, Program
from cora.compiler.passes.base import ModulePass, predecessor_edges, register_pass


@register_pass
@dataclass(frozen=True)
class SimplifyCFG(ModulePass):
    """Same-target branches to jumps, unreachable blocks removed, straight-line blocks merged."""

    name: str = "simplify-cfg"

    def apply(self, program: Program) -> None:
        """Simplify in place; the entry block stays first."""
        for b in program.blocks:
            term = b.ops[-1]
            if term.opcode == "br" and term.attrs["targets"][0] == term.attrs["targets"][1]:
                b.ops[-1] = Op("jmp", None, (), {"targets": (term.attrs["targets"][0],)},
                               term.span)
        self._remove_unreachable(program)
        merged = True
        while merged:
            merged = False
            preds = predecessor_edges(program)
            by_label = {b.label: b for b in program.blocks}
            entry = program.blocks[0].label
            for a in program.blocks:
                term = a.ops[-1]
                if term.opcode != "jmp":
                    continue
                target = term.attrs["targets"][0]
                if target == entry or target == a.label or preds[target] != 1:
                    continue
                b = by_label[target]
                a.ops = a.ops[:-1] + b.ops
                program.blocks.remove(b)
                merged = True
                break

    @staticmethod
    def _remove_unreachable(program: Program) -> None:
        seen = {program.blocks[0].label}
        by_label = {b.label: b for b in program.blocks}
        stack = [program.blocks[0].label]
        while stack:
            for s in by_label[stack.pop()].successors():
                if s not in seen and s in by_label:
                    seen.add(s)
                    stack.append(s)
        program.blocks[:] = [b for b in program.blocks if b.label in seen]
