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

Public API: :data:`KEY_OPS`, :func:`reused_keys`, :func:`plan_keys`, :class:`KeyPlan`.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable
from dataclasses import dataclass

from cora.compiler.ir import Block, Op, Program

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


#: (pred label, succ label) -> [(state, key registers)]: keys built on a CFG edge
EdgeBuilds = dict[tuple[str, str], list[tuple[str, tuple[str, ...]]]]
#: a candidate edge build: (pred label, succ label, state, key registers)
_Candidate = tuple[str, str, str, tuple[str, ...]]


def _analyse(program: Program, states: frozenset[str], edge_builds: EdgeBuilds
             ) -> tuple[set[int], list[_Candidate]]:
    """One forward pass (module docstring) with the keys of ``edge_builds`` built on their
    edges: the reused ops, and the edges where a build would make a join's struct known
    (it holds one key on some incoming edges and is unknown on the others, whose registers
    hold that key's values)."""
    blocks = program.topological_blocks()
    preds: dict[str, list[str]] = {b.label: [] for b in blocks}
    for b in blocks:
        for s in b.successors():
            preds[s].append(b.label)
    by_label = {b.label: b for b in blocks}
    meet = _Meet()
    on_edge: dict[tuple[str, str], _Values] = {}
    out: set[int] = set()
    candidates: list[_Candidate] = []
    for b in blocks:
        edges = [(p, on_edge[(p, b.label)]) for p in preds[b.label] if (p, b.label) in on_edge]
        incoming = [v for _, v in edges]
        if len(incoming) > 1:
            candidates.extend(_edge_candidates(b.label, edges, states, by_label))
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
        for succ in dict.fromkeys(b.successors()):
            v = values.copy()
            for state, regs in edge_builds.get((b.label, succ), []):
                v.keys[state] = tuple(v.regs[r] for r in regs)
            on_edge[(b.label, succ)] = v
    return out, candidates


def _edge_candidates(label: str, edges: list[tuple[str, _Values]], states: frozenset[str],
                     by_label: dict[str, Block]) -> list[_Candidate]:
    """Edges into ``label`` where building a key would make its struct known at the join."""
    found: list[_Candidate] = []
    for state in sorted(states):
        held = {v.keys[state] for _, v in edges if state in v.keys}
        if len(held) != 1:
            continue
        (toks,) = held
        for p, v in edges:
            if state in v.keys or by_label[p].ops[-1].opcode not in ("br", "jmp"):
                continue
            regs = []
            for tok in toks:
                names = sorted(r for r, t in v.regs.items() if t == tok)
                if not names:
                    break
                regs.append(names[0])
            else:
                found.append((p, label, state, tuple(regs)))
    return found


@dataclass(frozen=True)
class KeyPlan:
    """Where each hash state's key struct is (re)built.

    Attributes:
        reused: ``{id(op)}`` of the :data:`KEY_OPS` ops that pass the struct as it is.
        edge_builds: (pred label, succ label) -> ``[(state, key registers)]``: keys built
            on a CFG edge (the emitter stores them before the jump), so that the struct
            holds one key on every path into a join (partial redundancy elimination of
            the builds after it).
    """

    reused: set[int]
    edge_builds: EdgeBuilds


#: at most this many edge builds are tried per program
_EDGE_LIMIT = 16


def plan_keys(program: Program, states: Collection[str]) -> KeyPlan:
    """Which :data:`KEY_OPS` ops on ``states`` reuse their state's key struct, and which
    edges build a key (module docstring).

    An edge build is kept only when it makes more ops reuse the struct: built on an edge
    into a join where the struct holds one key on the other incoming edges and the edge's
    registers hold that key's values, it lets a build after the join go (and with it the
    key registers' values kept live, often spilled, across the helper calls before it).
    It costs its stores on its edge, also for packets that never reach the reusing op
    (firewall: IPv4 frames that are neither TCP, UDP nor ICMP echo). Source: partial
    redundancy elimination (Morel and Renvoise, "Global optimization by suppression of
    partial redundancies", CACM 22(2), 1979) applied to key stores; greedy, one edge at a
    time, at most ``_EDGE_LIMIT`` tried.
    """
    frozen = frozenset(states)
    chosen: EdgeBuilds = {}
    reused, candidates = _analyse(program, frozen, chosen)
    tried: set[_Candidate] = set()
    while len(tried) < _EDGE_LIMIT:
        fresh = [c for c in candidates if c not in tried]
        if not fresh:
            break
        cand = fresh[0]
        tried.add(cand)
        p, s, state, regs = cand
        trial = {e: list(v) for e, v in chosen.items()}
        trial.setdefault((p, s), []).append((state, regs))
        r2, c2 = _analyse(program, frozen, trial)
        if len(r2) > len(reused):
            chosen, reused, candidates = trial, r2, c2
    return KeyPlan(reused, chosen)


def reused_keys(program: Program, states: Collection[str]) -> set[int]:
    """``{id(op)}`` of the :data:`KEY_OPS` ops on one of ``states`` whose key that state's key
    struct already holds when the op runs, on every path to it (module docstring), with no
    key built on an edge: the emitter passes the struct without storing its fields. Every
    other such op builds its key into the struct. Blocks not reachable from the entry are
    left out. :func:`plan_keys` adds the edge builds."""
    return _analyse(program, frozenset(states), {})[0]
