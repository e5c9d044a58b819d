"""``branch-thread``: an edge into a block that only branches on a flag whose value is known
along that edge goes straight to the branch's target.

Lowered helper functions return their result in a register assigned a constant on each
return path (``%ret = const 1; jmp join``), and the caller branches on it right after the join
(``join: br %ret, T, F``); flags such as ``found = true`` in one arm of an ``if`` are tested
the same way later. Threading those edges separates the paths again, so that what is known on
one of them (a lookup found, no delete on the way) reaches the code it guards: the map-lookup
passes (:mod:`cora.compiler.passes.map_lookup`) then share lookups across the helper.

Analysis: constants known at the end of each block (forward, over the acyclic CFG in
topological order; a register is known when every incoming edge knows the same value; ``const``
sets it, any other assignment forgets it; along the edges of ``br %c`` the condition is 1 and
0). Rewrite: an edge P -> B, where B's only op is ``br %c, T, F`` and ``%c`` is known along
the edge, becomes P -> T (or F). No code is copied; blocks left unreachable are removed by
``simplify-cfg``.

Source: jump threading (Bodík, Gupta, Soffa, "Interprocedural conditional branch
elimination", PLDI 1997; GCC's and LLVM's JumpThreading passes do the same over known values).
"""

from __future__ import annotations

from dataclasses import dataclass

from cora.compiler.ir import Op, Program
from cora.compiler.ir.ops import OPS
from cora.compiler.passes.base import ModulePass, register_pass

Known = dict[str, int]


def _meet(ins: list[Known]) -> Known:
    if not ins:
        return {}
    out = dict(ins[0])
    for k in ins[1:]:
        out = {r: v for r, v in out.items() if k.get(r) == v}
    return out


def thread_one(program: Program) -> bool:
    """Retarget one threadable edge; False when there is none."""
    by_label = {b.label: b for b in program.blocks}
    order = program.topological_blocks()
    ins: dict[str, list[Known]] = {b.label: [] for b in order}
    for block in order:
        known = _meet(ins[block.label]) if block is not order[0] else {}
        for op in block.ops:
            if op.dest is not None:
                if op.opcode == "const":
                    known[op.dest] = op.attrs["value"]
                else:
                    known.pop(op.dest, None)
            for regs in op.attrs.get("regs", ()):
                for r in regs:
                    known.pop(r, None)
        term = block.ops[-1]
        if OPS[term.opcode].restores:
            for succ in block.successors():
                ins[succ].append({})
            continue
        targets = block.successors()
        for idx, succ in enumerate(targets):
            edge = dict(known)
            if term.opcode == "br" and targets[0] != targets[1]:
                edge[term.args[0]] = 1 if idx == 0 else 0
            target = by_label[succ]
            branch = target.ops[0]
            if (len(target.ops) == 1 and branch.opcode == "br" and target is not order[0]
                    and branch.args[0] in edge):
                new = branch.attrs["targets"][0 if edge[branch.args[0]] else 1]
                retargeted = tuple(new if i == idx else t for i, t in enumerate(targets))
                block.ops[-1] = Op(term.opcode, term.dest, term.args,
                                   {**term.attrs, "targets": retargeted}, term.span)
                return True
            ins[succ].append(edge)
    return False


@register_pass
@dataclass(frozen=True)
class BranchThreading(ModulePass):
    """Edges into a block that only branches on a flag known along the edge go straight to
    the branch's target."""

    name: str = "branch-thread"

    def apply(self, program: Program) -> None:
        """Rewrite in place until no edge is left to thread."""
        while thread_one(program):
            pass
