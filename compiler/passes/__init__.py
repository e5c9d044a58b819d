"""IR passes: small, semantics-preserving rewrites of a :class:`~cora.compiler.ir.Program`.

Each pass is a frozen dataclass with a ``name`` and ``run(program) -> None`` that mutates the
program in place (layout after xDSL's ``ModulePass``). :data:`PASSES` maps names to classes;
:func:`run_pipeline` runs named passes and, by default, the IR verifier after each one;
:func:`run_default` runs the default pipeline to a fixed point.

"Semantics-preserving" means: on every frame and state, the reference interpreter gives the
same verdict, redirect port, output frame and state (``dump_state``) before and after, and
``rand`` draws the same sequence. The set of touched keys may shrink (a dead lookup on a
``hash``/``lpm``/array state is removed).

Passes:

- ``const-fold``: registers assigned exactly once program-wide by a ``const`` are constants;
  arithmetic, comparisons, ``not``, ``zext``, ``trunc``, ``mov`` and ``select`` with constant
  operands become ``const`` (``select`` with a constant condition becomes ``mov``), and ``br``
  on a constant becomes ``jmp``. Values from :mod:`cora.compiler.ir.semantics` (the same
  functions the interpreter runs).
- ``simplify-cfg``: ``br c, L, L`` becomes ``jmp L``; blocks unreachable from the entry are
  removed; a block whose only predecessor ends in ``jmp`` to it is merged into it.
- ``jump-thread``: edges into an empty block (just ``jmp L``) go straight to ``L``.
- ``dce``: removes ops without side effects whose destination is never used anywhere, until
  none is left, and registers no op mentions. Kept always: terminators, ``hdr.store``,
  ``ref.store``, ``map.update``, ``map.delete``, ``rand`` (advances the generator) and
  ``map.lookup`` on an ``lru_hash`` (refreshes recency).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from cora.compiler.ir import semantics as sem
from cora.compiler.ir import BINARY_OPS, COMPARE_OPS, IntType, IRError, Op, Program
from cora.compiler.ir.text import print_program
from cora.compiler.ir.verify import verify

_FOLD_BINARY = {
    "add": sem.add, "sub": sem.sub, "mul": sem.mul, "div": sem.div, "mod": sem.mod,
    "shl": sem.shl, "shr": sem.shr,
    "and": lambda a, b, w: a & b, "or": lambda a, b, w: a | b, "xor": lambda a, b, w: a ^ b,
}
_FOLD_COMPARE = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
}
assert set(_FOLD_BINARY) == set(BINARY_OPS) and set(_FOLD_COMPARE) == set(COMPARE_OPS)

#: opcodes that must never be removed even when their result is unused.
SIDE_EFFECT_OPS = frozenset({"hdr.store", "ref.store", "map.update", "map.delete", "rand",
                             "br", "jmp", "ret"})


def has_side_effect(op: Op, program: Program) -> bool:
    """Whether removing ``op`` (with an unused result) could change behaviour or state."""
    if op.opcode in SIDE_EFFECT_OPS:
        return True
    if op.opcode == "map.lookup":
        return program.state(op.attrs["state"]).kind == "lru_hash"
    return False


def _width(program: Program, reg: str) -> int:
    t = program.regs[reg]
    return t.width if isinstance(t, IntType) else 0


def _assign_counts(program: Program) -> Counter:
    return Counter(op.dest for _, op in program.ops() if op.dest is not None)


def _predecessor_edges(program: Program) -> Counter:
    """label -> number of CFG edges into it (from every block, reachable or not)."""
    preds: Counter = Counter()
    for b in program.blocks:
        for s in b.successors():
            preds[s] += 1
    return preds


@dataclass(frozen=True)
class ConstantFolding:
    """Fold ops whose operands are single-assignment constants (see module docstring)."""

    name: str = "const-fold"

    def run(self, program: Program) -> None:
        """Fold to a fixed point, in place."""
        changed = True
        while changed:
            changed = False
            counts = _assign_counts(program)
            consts = {op.dest: op.attrs["value"] for _, op in program.ops()
                      if op.opcode == "const" and counts[op.dest] == 1}
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
        if code not in _FOLD_BINARY and code not in _FOLD_COMPARE and code not in (
                "not", "zext", "trunc", "mov"):
            return None
        vals = [consts.get(a) for a in op.args]
        if any(v is None for v in vals):
            return None
        w = _width(program, op.dest)
        if code in _FOLD_BINARY:
            value = _FOLD_BINARY[code](vals[0], vals[1], w)
        elif code in _FOLD_COMPARE:
            value = 1 if _FOLD_COMPARE[code](vals[0], vals[1]) else 0
        elif code == "not":
            value = sem.bit_not(vals[0], w)
        else:                                   # zext, trunc, mov
            value = sem.wrap(vals[0], w)
        return Op("const", op.dest, (), {"value": value}, op.span)


@dataclass(frozen=True)
class SimplifyCFG:
    """Same-target branches to jumps, unreachable blocks removed, straight-line blocks merged."""

    name: str = "simplify-cfg"

    def run(self, program: Program) -> None:
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
            preds = _predecessor_edges(program)
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


@dataclass(frozen=True)
class JumpThreading:
    """Edges into blocks that only ``jmp`` elsewhere go straight to the final target."""

    name: str = "jump-thread"

    def run(self, program: Program) -> None:
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


@dataclass(frozen=True)
class DeadCodeElimination:
    """Remove side-effect-free ops whose result is never used, then unused registers."""

    name: str = "dce"

    def run(self, program: Program) -> None:
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


#: name -> pass class; ``PASSES[name]()`` is a ready-to-run pass.
PASSES: dict[str, type] = {cls.name: cls for cls in (
    ConstantFolding, SimplifyCFG, JumpThreading, DeadCodeElimination)}

#: the default pipeline, run to a fixed point by :func:`run_default`.
DEFAULT_PIPELINE = ("const-fold", "jump-thread", "simplify-cfg", "dce")


def run_pipeline(program: Program, names, verify_each: bool = True) -> None:
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
        PASSES[name]().run(program)
        if verify_each:
            try:
                verify(program)
            except IRError as exc:
                raise IRError(f"after pass {name}: {exc}") from None


def run_default(program: Program, verify_each: bool = False, max_rounds: int = 8) -> None:
    """Run :data:`DEFAULT_PIPELINE` repeatedly until the printed program stops changing (at
    most ``max_rounds`` rounds). Raises IRError as :func:`run_pipeline`."""
    before = print_program(program)
    for _ in range(max_rounds):
        run_pipeline(program, DEFAULT_PIPELINE, verify_each=verify_each)
        after = print_program(program)
        if after == before:
            return
        before = after
