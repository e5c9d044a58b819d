"""``sink-now``: read the clock only on the paths that use the time.

``%t = now()`` in a block B whose later ops do not use ``%t`` moves into each successor of
B where ``%t`` is live (and is dropped on the others), provided each such successor has B as
its only predecessor; repeated until no ``now`` moves. Every path from the entry then still
reads the clock at most once, before every use of ``%t``, and paths that never use it do not
read it at all.

Semantics: the reference interpreter's ``now()`` returns the frame's time whenever it is
called, so verdict, frame and state are unchanged. In generated code ``bpf_ktime_get_ns``
is called a few instructions later, which no NF can tell from a slower CPU. Why it matters:
a stage that cannot read the clock (the Agilio's nfp offload has no ``bpf_ktime_get_ns``)
can then run every block before the first use of the time, e.g. nat's drop of
untranslatable frames, which used to follow its one ``now()`` at the top; and the host
saves the helper call (~30 ns measured, ``xdp.toml`` ``op_cost_ns.helper``) on frames whose
verdict does not depend on the time. Code sinking: Muchnick, "Advanced Compiler Design and
Implementation" (1997), section 13.3.
"""

from __future__ import annotations

from dataclasses import dataclass

from cora.compiler.ir import Block, Op, Program
from cora.compiler.passes.base import ModulePass, register_pass

_LOCK_OPS = ("ref.lock", "ref.unlock")


def _live_in(program: Program, reg: str) -> set[str]:
    """Labels of the blocks where ``reg`` is live on entry (used before any assignment on
    some path from the block's start)."""
    gen: dict[str, bool] = {}
    kill: dict[str, bool] = {}
    for b in program.blocks:
        used = defined = False
        for op in b.ops:
            if not defined and reg in op.args:
                used = True
            if op.dest == reg:
                defined = True
        gen[b.label], kill[b.label] = used, defined
    live: set[str] = set()
    changed = True
    while changed:
        changed = False
        for b in program.blocks:
            if b.label in live:
                continue
            if gen[b.label] or (not kill[b.label] and
                                any(s in live for s in b.successors())):
                live.add(b.label)
                changed = True
    return live


def _fold_copies(program: Program) -> None:
    """``%a = now(); %b = mov %a`` with no other use of ``%a`` becomes ``%b = now()`` (the
    front end reads the clock into a temporary and copies it into the ``let``)."""
    uses: dict[str, int] = {}
    for _, op in program.ops():
        for a in op.args:
            uses[a] = uses.get(a, 0) + 1
    for b in program.blocks:
        for i in range(len(b.ops) - 1):
            op, nxt = b.ops[i], b.ops[i + 1]
            if op.opcode == "now" and op.dest is not None and nxt.opcode == "mov" \
                    and nxt.args == (op.dest,) and uses.get(op.dest) == 1 \
                    and nxt.dest is not None \
                    and program.regs.get(nxt.dest) == program.regs.get(op.dest):
                b.ops[i:i + 2] = [Op("now", nxt.dest, (), dict(op.attrs), op.span)]
                program.drop_unused_regs()
                return _fold_copies(program)


def _sink_one(program: Program) -> bool:
    """Move one ``now`` one level down; True when something moved."""
    blocks = {b.label: b for b in program.blocks}
    preds: dict[str, list[str]] = {b.label: [] for b in program.blocks}
    for b in program.blocks:
        for s in b.successors():
            preds[s].append(b.label)
    for b in program.blocks:
        for i, op in enumerate(b.ops):
            if op.opcode != "now" or op.dest is None:
                continue
            d, rest = op.dest, b.ops[i + 1:]
            if any(d in o.args or o.dest == d or o.opcode in _LOCK_OPS for o in rest):
                continue
            succs = b.successors()
            if not succs or len(set(succs)) != len(succs):
                continue
            live = _live_in(program, d)
            targets = [s for s in succs if s in live]
            if any(preds[s] != [b.label] for s in targets):
                continue
            del b.ops[i]
            for s in targets:
                dest: Block = blocks[s]
                dest.ops.insert(0, Op("now", d, (), dict(op.attrs), op.span))
            return True
    return False


@register_pass
@dataclass(frozen=True)
class SinkNow(ModulePass):
    """``now()`` moves down to the paths that use its time (module docstring)."""

    name: str = "sink-now"

    def apply(self, program: Program) -> None:
        """Rewrite in place until no ``now`` moves (each move goes one block down an
        acyclic CFG, so this ends)."""
        _fold_copies(program)
        while _sink_one(program):
            pass
