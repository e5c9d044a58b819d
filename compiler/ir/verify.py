"""The IR verifier: checks every rule of :mod:`cora.compiler.ir`.

Run after lowering and after every pass in tests. A failure is a compiler bug, reported as
:class:`~cora.compiler.ir.IRError` naming the block, op and source position.
"""

from __future__ import annotations

from cora.compiler.ir.core import (
    FULL_POLICIES,
    INT_WIDTHS,
    STATE_KINDS,
    Block,
    IntType,
    IRError,
    Op,
    Program,
    RefType,
)
from cora.compiler.ir.ops import OPS, opdef, state_of


def verify(program: Program) -> None:
    """Check ``program``; raises IRError on the first broken rule.

    Rules: state declarations are well formed; registers have valid types; each op fits its
    definition in :data:`cora.compiler.ir.ops.OPS` (:meth:`~cora.compiler.ir.ops.OpDef.verify`:
    operand count, result, attributes and the op's typing rule); every block ends in exactly
    one terminator and has none before; branch targets exist; the CFG is acyclic; every
    register use is assigned on every path from the entry (forward must-assigned dataflow in
    topological order; a ``shim.pop`` assigns its listed registers along the edge to their
    block); ops keep their
    :attr:`~cora.compiler.ir.ops.OpDef.position` (``shim.push`` is followed by ``ret pass``;
    ``shim.pop`` is the only op of the entry block); spin locks are balanced
    (:func:`_verify_locks`).
    """
    _verify_states(program)
    for name, t in program.regs.items():
        if isinstance(t, IntType) and t.width not in INT_WIDTHS:
            raise IRError(f"register %{name} has bad width {t.width}")
        if isinstance(t, RefType):
            state_of(program, t.state)
    if not program.blocks:
        raise IRError("program has no blocks")
    labels = [b.label for b in program.blocks]
    if len(set(labels)) != len(labels):
        raise IRError("duplicate block labels")
    for block in program.blocks:
        if not block.ops or not block.ops[-1].is_terminator:
            raise IRError(f"block {block.label} does not end in a terminator")
        for i, op in enumerate(block.ops[:-1]):
            if op.is_terminator:
                raise IRError(f"block {block.label}: terminator {op.opcode} before the end")
            d = OPS.get(op.opcode)
            if d is not None and d.position == "before-ret-pass":
                nxt = block.ops[i + 1]
                if nxt.opcode != "ret" or nxt.attrs.get("verdict") != "pass":
                    raise IRError(f"block {block.label}: {op.opcode} must be followed by "
                                  "ret pass")
        for op in block.ops:
            try:
                _verify_op(program, op)
            except IRError as exc:
                where = f" (source {op.span})" if op.span else ""
                raise IRError(f"block {block.label}: {op.opcode}: {exc}{where}") from None
    for j, block in enumerate(program.blocks):
        last = block.ops[-1]
        if OPS[last.opcode].position == "entry-only" and (j or len(block.ops) != 1):
            raise IRError(f"block {block.label}: {last.opcode} must be the only op of the "
                          "entry block")
    order = program.topological_blocks()  # raises on cycles and unknown targets
    _verify_assigned(program, order)
    _verify_locks(program, order)


def _verify_states(program: Program) -> None:
    seen: set[str] = set()
    for s in program.states:
        if s.name in seen:
            raise IRError(f"state {s.name} declared twice")
        seen.add(s.name)
        if s.kind not in STATE_KINDS:
            raise IRError(f"state {s.name}: unknown kind {s.kind}")
        if s.on_full is not None and s.on_full not in FULL_POLICIES:
            raise IRError(f"state {s.name}: unknown full policy {s.on_full}")
        if s.kind in ("hash", "lpm") and s.on_full not in ("skip", "drop", "pass"):
            raise IRError(f"state {s.name}: {s.kind} needs on_full skip|drop|pass")
        if s.kind == "lru_hash" and s.on_full != "evict":
            raise IRError(f"state {s.name}: lru_hash needs on_full evict")
        if s.kind in ("array", "percpu_array"):
            if s.on_full is not None:
                raise IRError(f"state {s.name}: arrays have no full policy")
            if len(s.key) != 1 or s.key[0].width != 32:
                raise IRError(f"state {s.name}: array key must be one u32 index")
        if s.kind == "devmap" and (s.on_full is not None or len(s.key) != 1
                                   or s.key[0].width != 32 or len(s.value) != 1
                                   or s.value[0].width != 32):
            raise IRError(f"state {s.name}: a devmap maps one u32 slot to one u32 ifindex "
                          "and has no full policy")
        if s.kind == "lpm" and (len(s.key) != 1 or s.key[0].width not in (32, 128)):
            raise IRError(f"state {s.name}: lpm key must be one ip4 or ip6 address")
        if s.capacity < 1:
            raise IRError(f"state {s.name}: capacity must be positive")
        if not s.key or not s.value:
            raise IRError(f"state {s.name}: key and value need at least one field")
        for f in (*s.key, *s.value):
            if f.width not in INT_WIDTHS:
                raise IRError(f"state {s.name}: field {f.name} has bad width {f.width}")
        nkey = 2 if s.kind == "lpm" else len(s.key)
        for k, v in s.init:
            if len(k) != nkey or len(v) != len(s.value):
                raise IRError(f"state {s.name}: initial entry {k}: {v} has the wrong arity")


def _verify_op(program: Program, op: Op) -> None:
    """The op's own typing rules, from its definition in the registry."""
    opdef(op.opcode).verify(program, op)


def _verify_assigned(program: Program, order: list[Block]) -> None:
    """Every use is assigned on every path: must-assigned sets meet by intersection.

    Sets are bitsets (Python ints, one bit per register), so a program of B blocks and R
    registers costs O(B * R / 64) words, not B copies of a Python set."""
    bit = {name: 1 << i for i, name in enumerate(program.regs)}
    assigned_in: dict[str, int | None] = {b.label: None for b in program.blocks}
    assigned_in[order[0].label] = 0
    for block in order:
        cur = assigned_in[block.label] or 0
        for op in block.ops:
            for a in op.args:
                if not cur & bit.get(a, 0):
                    where = f" (source {op.span})" if op.span else ""
                    raise IRError(f"block {block.label}: {op.opcode} uses %{a} before it is "
                                  f"assigned on every path{where}")
            if op.dest is not None:
                cur |= bit[op.dest]
        term = block.ops[-1]
        for i, succ in enumerate(block.successors()):
            out = cur
            if OPS[term.opcode].restores:  # registers restored along each resume edge
                for r in term.attrs["regs"][i]:
                    out |= bit.get(r, 0)
            prev = assigned_in[succ]
            assigned_in[succ] = out if prev is None else prev & out


#: opcodes that may not run while a spin lock is held: helper calls and exits (the kernel
#: verifier's rules, kernel/bpf/verifier.c), and a second lock
_UNDER_LOCK_FORBIDDEN = frozenset({"map.lookup", "map.update", "map.delete", "now", "rand",
                                   "ret", "mcast", "ref.lock", "shim.push", "shim.pop"})


def _verify_locks(program: Program, order: list[Block]) -> None:
    """``ref.lock``/``ref.unlock`` pairs: every path holds at most one lock, releases it
    through the same register before anything in :data:`_UNDER_LOCK_FORBIDDEN`, and the
    paths meeting at a block agree on what is held (forward dataflow in topological order)."""
    held_in: dict[str, tuple[str, ...] | None] = {b.label: None for b in program.blocks}
    held_in[order[0].label] = ()
    for block in order:
        held = held_in[block.label] or ()
        for op in block.ops:
            where = f"block {block.label}: {op.opcode}" + (f" (source {op.span})"
                                                           if op.span else "")
            if held and (op.opcode in _UNDER_LOCK_FORBIDDEN
                         or (op.dest is not None and op.dest == held[0])):
                raise IRError(f"{where} while the lock of %{held[0]} is held")
            if op.opcode == "ref.lock":
                held = (op.args[0],)
            elif op.opcode == "ref.unlock":
                if held != (op.args[0],):
                    raise IRError(f"{where} without its lock held")
                held = ()
        for succ in block.successors():
            if held_in[succ] is None:
                held_in[succ] = held
            elif held_in[succ] != held:
                raise IRError(f"block {succ}: paths reach it with different locks held")
