"""``short-circuit``: a branch on ``and``/``or``/``not`` of one-bit flags becomes branches on
the flags, and what only the second flag needs is computed only where it is tested.

The front end lowers ``a && b`` and ``a || b`` without side effects to ``and``/``or`` of u1
registers, so a condition such as firewall's ``(proto == TCP && !tcp.valid) || (proto == UDP
&& !udp.valid) || (proto == ICMP && !icmp.valid)`` computes all six comparisons and five
logic ops on every packet, and clang keeps them as straight-line code (they are cheap to
speculate one by one): 35 eBPF instructions where a hand-written parser tests one protocol.

Rewrite, for ``br %c, T, F`` whose condition is assigned once program-wide, in the same
block, and used by nothing else:

- ``%c = or %a, %b``: ``br %a, T, N`` and a new block ``N: br %b, T, F``;
- ``%c = and %a, %b``: ``br %a, N, F`` and ``N: br %b, T, F``;
- ``%c = not %a`` (one bit): ``br %a, F, T``.

Then the pure ops of the block that only ``N`` uses (``%b``'s definition and what only it
reads; not multiplications and divisions: :data:`_NOT_MOVED`), assigned once and not
followed in the block by an op with a side effect or one that assigns their operands,
move to the start of ``N``: they run only when ``%a`` leaves the
outcome open. Repeated to a fixed point, the tree of ``and``/``or`` becomes a chain of
branches evaluated left to right, as C's ``&&``/``||`` do. Semantics-preserving: the moved
ops are pure (:attr:`~cora.compiler.ir.ops.OpDef.pure`: their result depends only on their
operands and the frame, which no op between writes), and the branch outcome is the same
Boolean function of the flags.

Source: short-circuit evaluation of Boolean expressions by jumping code (Aho, Lam, Sethi,
Ullman, *Compilers*, 2nd ed., section 6.6.2), and code sinking to the block of the only use.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from cora.compiler.ir import Block, Op, Program
from cora.compiler.ir.ops import OPS, has_side_effect
from cora.compiler.passes.base import ModulePass, assign_counts, reg_width, register_pass

_LOGIC = ("and", "or", "not")
#: ops never moved: a division moved behind the test that its divisor is non-zero lets
#: clang recognise ``x != 0 && (x * y) / x != y`` as a multiply-overflow check, which it
#: lowers to a 128-bit multiply (``__multi3``) the BPF backend cannot call
_NOT_MOVED = frozenset({"mul", "div", "mod", "sdiv", "smod"})


def _uses(program: Program) -> Counter[str]:
    """register -> number of operand slots naming it, program-wide (a register a
    ``shim.pop`` restores counts as used twice: it is never rewritten)."""
    uses = Counter(a for _, op in program.ops() for a in op.args)
    for _, op in program.ops():
        if OPS[op.opcode].restores:
            for regs in op.attrs["regs"]:
                uses.update(list(regs) * 2)
    return uses


def _fresh_label(program: Program, stem: str) -> str:
    labels = {b.label for b in program.blocks}
    n = 0
    while f"{stem}{n}" in labels:
        n += 1
    return f"{stem}{n}"


def _sink(program: Program, block: Block, target: Block, assigns: Counter[str]) -> None:
    """Move the pure ops of ``block`` whose result only ``target`` uses to its start."""
    moved = True
    while moved:
        moved = False
        uses = _uses(program)
        in_target = Counter(a for op in target.ops for a in op.args)
        body = block.ops[:-1]
        for j in range(len(body) - 1, -1, -1):
            op = body[j]
            d = OPS[op.opcode]
            if (op.dest is None or not d.pure or d.reads_state or d.header_access == "w"
                    or op.opcode in _NOT_MOVED
                    or assigns[op.dest] != 1 or uses[op.dest] == 0
                    or in_target[op.dest] != uses[op.dest]):
                continue
            later = body[j + 1:]
            if any(has_side_effect(x, program) or x.dest in op.args for x in later):
                continue
            del block.ops[j]
            target.ops.insert(0, op)
            moved = True
            break


def split_one(program: Program) -> bool:
    """Split one branch on a logic op (module docstring); False when there is none."""
    assigns = assign_counts(program)
    uses = _uses(program)
    for block in program.topological_blocks():
        term = block.ops[-1]
        if term.opcode != "br":
            continue
        cond = term.args[0]
        t, f = term.attrs["targets"]
        if t == f or assigns[cond] != 1 or uses[cond] != 1 or reg_width(program, cond) != 1:
            continue
        idx = next((i for i, op in enumerate(block.ops[:-1]) if op.dest == cond), None)
        if idx is None:
            continue
        d = block.ops[idx]
        if d.opcode not in _LOGIC or any(op.dest in d.args for op in block.ops[idx + 1:-1]):
            continue
        del block.ops[idx]
        if d.opcode == "not":
            block.ops[-1] = Op("br", None, (d.args[0],), {"targets": (f, t)}, term.span)
            return True
        a, b = d.args
        label = _fresh_label(program, "sc")
        first = (t, label) if d.opcode == "or" else (label, f)
        block.ops[-1] = Op("br", None, (a,), {"targets": first}, term.span)
        new = Block(label, [Op("br", None, (b,), {"targets": (t, f)}, term.span)])
        program.blocks.insert(program.blocks.index(block) + 1, new)
        _sink(program, block, new, assigns)
        return True
    return False


@register_pass
@dataclass(frozen=True)
class ShortCircuit(ModulePass):
    """Branches on ``and``/``or``/``not`` of one-bit flags become branches on the flags,
    with the second flag's computation moved to where it is tested."""

    name: str = "short-circuit"

    def apply(self, program: Program) -> None:
        """Rewrite in place until no such branch is left."""
        while split_one(program):
            pass
