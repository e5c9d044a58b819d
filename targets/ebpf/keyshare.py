"""Map keys built once: an update or delete reuses the key its lookup built on the stack.

``flows[k] += 1`` on a miss looks ``k`` up, then inserts it: the generated C built the key
struct twice (every field stored again, the registers spilled across the lookup call to do
so). The kernel's map helpers never write the key they are given, so the struct the lookup
built still holds the key when the update runs, provided the update's key registers hold the
same values there: the lookup dominates the update, and no definition of a key register lies
on any path from the lookup to the update. A hand-written program builds its key once too
(testbed/refs/flowcount.c). The emitter declares such a lookup's key at function scope and
the update or delete passes its address.

Public API: :func:`shared_keys`.
"""

from __future__ import annotations

from cora.compiler.ir import Op, Program

#: ops whose key may come from an earlier lookup of the same state
KEY_USERS = frozenset({"map.update", "map.delete"})


def _key_args(op: Op) -> tuple[str, ...]:
    return tuple(op.args[:op.attrs["nkeys"]]) if op.opcode == "map.update" else tuple(op.args)


def shared_keys(program: Program) -> dict[int, int]:
    """``{id(update or delete op): id(lookup op)}``: the key struct of that lookup holds the
    op's key (same state, same key registers, the lookup dominates the op and no key
    register is redefined on a path between them; module docstring). A lookup on several
    such paths may serve several ops; an op takes the nearest dominating lookup."""
    blocks = program.topological_blocks()
    index = {b.label: n for n, b in enumerate(blocks)}
    preds: dict[str, list[str]] = {b.label: [] for b in blocks}
    for b in blocks:
        for s in b.successors():
            preds[s].append(b.label)
    dom: dict[str, set[str]] = {}
    for b in blocks:
        ps = [dom[p] for p in preds[b.label] if p in dom]
        dom[b.label] = (set.intersection(*ps) if ps else set()) | {b.label}
    reach: dict[str, set[str]] = {}
    for b in reversed(blocks):
        r: set[str] = set()
        for s in b.successors():
            r |= {s} | reach[s]
        reach[b.label] = r
    defs: dict[str, list[tuple[str, int]]] = {}
    for b in blocks:
        for i, op in enumerate(b.ops):
            if op.dest is not None:
                defs.setdefault(op.dest, []).append((b.label, i))

    def between(lb: str, li: int, ub: str, ui: int, db: str, di: int) -> bool:
        after_l = di > li if db == lb else db in reach[lb]
        before_u = di < ui if db == ub else ub in reach[db]
        return after_l and before_u

    lookups = [(b.label, i, op) for b in blocks for i, op in enumerate(b.ops)
               if op.opcode == "map.lookup"]
    out: dict[int, int] = {}
    for b in blocks:
        for ui, op in enumerate(b.ops):
            if op.opcode not in KEY_USERS:
                continue
            key = _key_args(op)
            best: tuple[int, int, Op] | None = None
            for lb, li, lop in lookups:
                if lop.attrs["state"] != op.attrs["state"] or tuple(lop.args) != key:
                    continue
                if not (lb == b.label and li < ui or lb != b.label and lb in dom[b.label]):
                    continue
                if any(between(lb, li, b.label, ui, db, di)
                       for r in key for db, di in defs.get(r, [])):
                    continue
                rank = (index[lb], li)
                if best is None or rank > best[:2]:
                    best = (*rank, lop)
            if best is not None:
                out[id(op)] = id(best[2])
    return out
