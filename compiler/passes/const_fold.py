"""``const-fold``: evaluate ops whose operands are single-assignment constants."""

from __future__ import annotations

from dataclasses import dataclass

from cora.compiler.ir import OPS, Op, Program
from cora.compiler.passes.base import ModulePass, assign_counts, reg_width, register_pass


@register_pass
@dataclass(frozen=True)
class ConstantFolding(ModulePass):
    """Registers assigned exactly once program-wide by a ``const`` are constants; an op with
    an :attr:`~cora.compiler.ir.ops.OpDef.fold` (arithmetic, comparisons, ``not``, ``zext``,
    ``trunc``, ``mov``) whose operands are all constants becomes ``const``; ``select`` with a
    constant condition becomes ``mov``; ``br`` on a constant becomes ``jmp``."""

    name: str = "const-fold"

    def apply(self, program: Program) -> None:
        """Fold to a fixed point, in place."""
        changed = True
        while changed:
            changed = False
            counts = assign_counts(program)
            consts = {op.dest: op.attrs["value"] for _, op in program.ops()
                      if op.opcode == "const" and op.dest is not None and counts[op.dest] == 1}
            for block in program.blocks:
                for i, op in enumerate(block.ops):
                    new = self._fold(op, consts, program)
                    if new is not None:
                        block.ops[i] = new
                        changed = True

    @staticmethod
    def _fold(op: Op, consts: dict[str, int], program: Program) -> Op | None:
        code = op.opcode
        if code == "br":
            c = consts.get(op.args[0])
            if c is None:
                return None
            target = op.attrs["targets"][0 if c else 1]
            return Op("jmp", None, (), {"targets": (target,)}, op.span)
        if code == "select":
            c = consts.get(op.args[0])
            if c is None:
                return None
            return Op("mov", op.dest, (op.args[1] if c else op.args[2],), {}, op.span)
        fold = OPS[code].fold
        if fold is None or op.dest is None:
            return None
        vals = [consts.get(a) for a in op.args]
        if any(v is None for v in vals):
            return None
        value = fold(*vals, reg_width(program, op.dest))
        return Op("const", op.dest, (), {"value": value}, op.span)
