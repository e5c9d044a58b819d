"""Map keys built once: a lookup, update or delete whose key its state's key struct already
holds on every path to it passes that struct as it is.

``flows[k] += 1`` on a miss looks ``k`` up, then inserts it; a firewall looks a connection up
in ``live()``, maybe deletes it, and later refreshes it in ``track()`` through copies of the
same registers: the generated C built the key struct for every one of those calls (every
field stored again, the registers spilled across the helper calls to do so). A hand-written
program builds each key once (testbed/refs/flowcount.c, testbed/refs/firewall.c).

The emitter gives each hash state one key struct at function scope, and every map op on
that state builds its key there unless this analysis proves the struct already holds it: a
forward data-flow over the acyclic CFG (available values, one pass in topological order)
tracks which value each register holds and which values the struct's fields hold, where a
value is a token:

- an op's result is a fresh token (each op runs at most once per packet on an acyclic CFG);
  ``mov`` copies its operand's token, and equal ``const`` ops share one, so the same key
  reached through copies (``conn = r``, a function argument) is recognised;
- at a block with several predecessors a register (and a struct field) gets the token of
  the tuple of its incoming tokens: two registers, or a register and a field, equal on every
  incoming path stay equal; one unknown on some path is unknown;
- a map op that builds its key sets the struct's fields to its key registers' tokens; one
  whose key registers' tokens equal the fields' reuses the struct.

That is sound because the kernel's map helpers never write the key they are given
(``bpf_map_lookup_elem``, ``bpf_map_update_elem`` and ``bpf_map_delete_elem`` take a
``const void *key``, include/uapi/linux/bpf.h) and the struct is only written by the builds;
a field's token is known at a use only if a build reached it on every path, so the struct is
fully initialised wherever it is reused (the verifier checks that too: an uninitialised stack
read is rejected).

Public API: :data:`KEY_OPS`, :func:`reused_keys`.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable

from cora.compiler.ir import Op, Program

#: ops that pass a map key to a helper
KEY_OPS = frozenset({"map.lookup", "map.update", "map.delete"})



def _key_args(op: Op) -> tuple[str, ...]:
    """The key registers of a :data:`KEY_OPS` op (an update's first ``nkeys`` operands)."""
    return tuple(op.args[:op.attrs["nkeys"]]) if op.opcode == "map.update" else tuple(op.args)


class _Values:
    """Tokens at one program point: ``regs`` register -> token, ``keys`` state -> the tokens
    of its key struct's fields (absent: unknown)."""

    def __init__(self, regs: dict[str, Hashable], keys: dict[str, tuple[Hashable, ...]]
                 ) -> None:
        self.regs = regs
        self.keys = keys

    def copy(self) -> _Values:
        return _Values(dict(self.regs), dict(self.keys))


class _Meet:
    """Values at a block's start from its predecessors': an entry known on every path keeps
    its token when all agree, else gets one token per (block, incoming tokens), so entries
    equal on every path stay equal; one unknown on some path is unknown."""

    def __init__(self) -> None:
        self._phis: dict[tuple[str, tuple[Hashable, ...]], Hashable] = {}

    def join(self, label: str, toks: list[Hashable]) -> Hashable:
        if all(t == toks[0] for t in toks):
            return toks[0]
        return self._phis.setdefault((label, tuple(toks)), ("phi", len(self._phis)))

    def __call__(self, label: str, incoming: list[_Values]) -> _Values:
        if len(incoming) == 1:
            return incoming[0].copy()
        regs = {r: self.join(label, [v.regs[r] for v in incoming])
                for r in incoming[0].regs if all(r in v.regs for v in incoming)}
        keys = {s: tuple(self.join(label, [v.keys[s][i] for v in incoming])
                         for i in range(len(f)))
                for s, f in incoming[0].keys.items() if all(s in v.keys for v in incoming)}
        return _Values(regs, keys)


def reused_keys(program: Program, states: Collection[str]) -> set[int]:
    """``{id(op)}`` of the :data:`KEY_OPS` ops on one of ``states`` whose key that state's key
    struct already holds when the op runs, on every path to it (module docstring): the
    emitter passes the struct without storing its fields. Every other such op builds its key
    into the struct. Blocks not reachable from the entry are left out."""
    states = frozenset(states)
    blocks = program.topological_blocks()
    preds: dict[str, list[str]] = {b.label: [] for b in blocks}
    for b in blocks:
        for s in b.successors():
            preds[s].append(b.label)
    meet = _Meet()
    at_end: dict[str, _Values] = {}
    out: set[int] = set()
    for b in blocks:
        incoming = [at_end[p] for p in preds[b.label] if p in at_end]
        values = meet(b.label, incoming) if incoming else _Values({}, {})
        for i, op in enumerate(b.ops):
            if op.opcode in KEY_OPS and op.attrs["state"] in states:
                state = op.attrs["state"]
                toks = tuple(values.regs.get(r) for r in _key_args(op))
                if None in toks:  # a register not set on some path: build, then unknown
                    values.keys.pop(state, None)
                elif values.keys.get(state) == toks:
                    out.add(id(op))
                else:
                    values.keys[state] = toks
            if op.dest is None:
                continue
            tok: Hashable | None
            if op.opcode == "mov":
                tok = values.regs.get(op.args[0])
            elif op.opcode == "const":
                tok = ("const", str(program.regs[op.dest]), op.attrs["value"])
            else:
                tok = ("def", b.label, i)
            if tok is None:
                values.regs.pop(op.dest, None)
            else:
                values.regs[op.dest] = tok
        at_end[b.label] = values
    return out
