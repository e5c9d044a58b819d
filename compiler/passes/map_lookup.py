"""``lookup-share`` and ``update-in-place``: one map lookup per key along a packet's path.

Both passes rest on one forward analysis over the acyclic CFG (:func:`walk`), which gives,
before every op, the lookups still *available* and the references whose ``ref.found`` is
*known*:

- An available lookup is a fact ``(state, key registers, ref register)``: on every path to
  the op, ``map.lookup state(keys)`` assigned the ref register and since then no op assigned
  the ref or a key register, and no op could have changed what a lookup of that key gives.
  What kills the facts of a state: ``map.update`` and ``map.delete`` of it (an insert can
  evict on an ``lru_hash`` and replaces the entry on a hash: docs of
  :mod:`cora.compiler.interp`), and on an ``lru_hash`` also a lookup of another key (it
  changes the recency order a second lookup of the first key would restore).
  ``ref.store`` kills nothing: it writes into the entry every later lookup of the key
  returns.
- A reference's ``ref.found`` never changes until the register is assigned again (the
  interpreter's reference is the entry or None; the kernel's a pointer or NULL), so along
  the edges of ``br %c`` where ``%c = ref.found S %h`` the value is known in the target.

``lookup-share``: ``%h = map.lookup S(K)`` with an available fact ``(S, K, %g)`` becomes
``%h = mov %g`` (no second hash lookup, and on an ``lru_hash`` no second recency refresh,
which the first already made); ``%c = ref.found S %h`` with a known value becomes ``const``
(const-fold and simplify-cfg then drop the dead branch).

``update-in-place``: ``%r = map.update S(K) = (V..)`` with an available fact ``(S, K, %h)``
writes through the reference when it holds an entry: ``ref.store S %h.i, V_i`` for every
value field and ``%r = const 1`` (an update of an existing key always stores), else the
update as before. Equal in the interpreter's terms: the update replaces the entry's values
and, on an ``lru_hash``, makes it most recently used, which the available lookup already
did. The kernel's LRU update allocates a new element each time (the cost this saves). Not
for ``lpm`` (its update keys carry a prefix length) and only when no reference of ``S``
assigned before the update is used after it (the update would have left such a reference
pointing at the replaced entry; an in-place store does not).

Source: available-expressions analysis (Aho, Lam, Sethi, Ullman, *Compilers*, 2nd ed.,
section 9.2.6) over map lookups, with the map effects of the op registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from cora.compiler.ir import Block, IntType, Op, Program, RefType
from cora.compiler.passes.base import ModulePass, register_pass

#: (state, key registers, ref register): ``map.lookup state(keys)`` is in the register.
Fact = tuple[str, tuple[str, ...], str]


@dataclass
class Avail:
    """What holds before an op: available lookups, known ``ref.found`` values, and which
    integer registers hold the same value (copies: ``eq`` maps a register to the
    representative of its class; a representative is not a key)."""

    facts: set[Fact] = field(default_factory=set)
    known: dict[str, int] = field(default_factory=dict)
    eq: dict[str, str] = field(default_factory=dict)

    def copy(self) -> Avail:
        """An independent copy."""
        return Avail(set(self.facts), dict(self.known), dict(self.eq))

    def root(self, reg: str) -> str:
        """The representative of ``reg``'s class of equal registers."""
        return self.eq.get(reg, reg)

    def same_keys(self, a: tuple[str, ...], b: tuple[str, ...]) -> bool:
        """Whether two key tuples hold equal values here (register by register)."""
        return len(a) == len(b) and all(self.root(x) == self.root(y)
                                        for x, y in zip(a, b, strict=True))

    def lookup(self, state: str, keys: tuple[str, ...]) -> str | None:
        """A ref register holding ``map.lookup state(keys)`` (one whose ``ref.found`` is
        known when there is one), or None. Keys match through copies."""
        refs = sorted(h for s, k, h in self.facts if s == state and self.same_keys(k, keys))
        known = [h for h in refs if h in self.known]
        return (known or refs)[0] if refs else None

    def found(self, ref: str) -> int | None:
        """The known ``ref.found`` of ``ref`` (or of an available lookup of the same key,
        which holds the same entry or none), or None."""
        if ref in self.known:
            return self.known[ref]
        for s, k, h in self.facts:
            if h == ref:
                g = self.lookup(s, k)
                if g is not None and g in self.known:
                    return self.known[g]
        return None

    def assign(self, reg: str) -> None:
        """``reg`` is assigned: facts naming it and what is known of it go; the registers
        that were copies of it stay equal to each other."""
        self.facts = {f for f in self.facts if reg != f[2] and reg not in f[1]}
        self.known.pop(reg, None)
        self.eq.pop(reg, None)
        members = sorted(d for d, r in self.eq.items() if r == reg)
        if members:
            rep = members[0]
            del self.eq[rep]
            for d in members[1:]:
                self.eq[d] = rep

    def copy_of(self, dest: str, src: str) -> None:
        """``dest = mov src`` (integers): ``dest`` joins ``src``'s class."""
        rep = self.root(src)
        if rep == dest:  # dest already holds src's value
            return
        self.assign(dest)
        rep = self.root(src)
        self.eq[dest] = rep

    def klass(self, reg: str) -> list[str]:
        """Every register known equal to ``reg`` (itself included), sorted."""
        rep = self.root(reg)
        return sorted({rep, *(d for d, r in self.eq.items() if r == rep)})

    def kill_state(self, state: str) -> None:
        """Lookups of ``state`` are no longer available."""
        self.facts = {f for f in self.facts if f[0] != state}


def _meet_eq(ins: list[Avail]) -> dict[str, str]:
    """Registers equal at a join: equal on every incoming edge (the meet of the partitions)."""
    regs = sorted({x for a in ins for item in a.eq.items() for x in item})
    groups: dict[tuple[str, ...], list[str]] = {}
    for x in regs:
        groups.setdefault(tuple(a.root(x) for a in ins), []).append(x)
    out: dict[str, str] = {}
    for members in groups.values():
        for d in members[1:]:
            out[d] = members[0]
    return out


def _meet(ins: list[Avail]) -> Avail:
    if not ins:
        return Avail()
    out = ins[0].copy()
    out.eq = _meet_eq(ins)
    out.facts = set()
    for s, k0, h in ins[0].facts:
        # a name for each key register valid on every edge: a copy of the key there
        names: list[str] = []
        for j, x0 in enumerate(k0):
            for x in ins[0].klass(x0):
                if all(any(fs == s and fh == h and a.root(fk[j]) == a.root(x)
                           for fs, fk, fh in a.facts) for a in ins[1:]):
                    names.append(out.root(x))
                    break
            else:
                break
        if len(names) == len(k0):
            keys = tuple(names)
            if all(any(fs == s and fh == h and a.same_keys(fk, keys) for fs, fk, fh in a.facts)
                   for a in ins):
                out.facts.add((s, keys, h))
    for a in ins[1:]:
        out.known = {r: v for r, v in out.known.items() if a.known.get(r) == v}
    return out


def transfer(program: Program, op: Op, avail: Avail) -> None:
    """Update ``avail`` (in place) for the effect of ``op``."""
    code = op.opcode
    if code == "map.lookup":
        state = op.attrs["state"]
        assert op.dest is not None
        shared = avail.lookup(state, op.args)
        if shared is None and program.state(state).kind == "lru_hash":
            avail.kill_state(state)
        avail.assign(op.dest)
        avail.facts.add((state, op.args, op.dest))
        return
    if code == "mov" and op.dest is not None and isinstance(program.regs[op.dest], RefType):
        src = op.args[0]
        facts = [f for f in avail.facts if f[2] == src]
        was = avail.known.get(src)
        avail.assign(op.dest)
        avail.facts |= {(s, k, op.dest) for s, k, _ in facts if op.dest not in k}
        if was is not None:
            avail.known[op.dest] = was
        return
    if code == "mov" and op.dest is not None:
        avail.copy_of(op.dest, op.args[0])
        return
    if code in ("map.update", "map.delete"):
        avail.kill_state(op.attrs["state"])
    if op.dest is not None:
        avail.assign(op.dest)
    if code == "shim.pop":
        for regs in op.attrs["regs"]:
            for r in regs:
                avail.assign(r)


def _edge_known(block: Block) -> dict[str, tuple[str, int]]:
    """target label -> (ref register, its ref.found) along the edges of ``block``'s ``br``."""
    term = block.ops[-1]
    if term.opcode != "br":
        return {}
    t, f = term.attrs["targets"]
    if t == f:
        return {}
    cond = term.args[0]
    for i in range(len(block.ops) - 2, -1, -1):
        op = block.ops[i]
        if op.dest == cond:
            if op.opcode != "ref.found":
                return {}
            h = op.args[0]
            if any(later.dest == h for later in block.ops[i + 1:]):
                return {}
            return {t: (h, 1), f: (h, 0)}
    return {}


#: ``visit(block, index, op, avail_before)``; returning True stops the walk.
Visit = Callable[[Block, int, Op, Avail], bool]


def walk(program: Program, visit: Visit,
         edges: dict[tuple[str, str], Avail] | None = None) -> bool:
    """Run the analysis over the reachable blocks in topological order, calling ``visit``
    before each op with what holds there; True when a visit stopped the walk. ``edges``,
    when given, receives what holds along each CFG edge (pred label, succ label) as the walk
    passes it (every edge into a block is there before the block's first visit).

    ``visit`` may replace ``block.ops[index]`` by an op with the same destination; the
    analysis continues with the replacement."""
    order = program.topological_blocks()
    outs: dict[str, list[Avail]] = {b.label: [] for b in order}
    for block in order:
        avail = _meet(outs[block.label]) if block is not order[0] else Avail()
        for i in range(len(block.ops)):
            if visit(block, i, block.ops[i], avail):
                return True
            transfer(program, block.ops[i], avail)
        known_edges = _edge_known(block)
        for succ in block.successors():
            a = avail.copy()
            if succ in known_edges:
                h, v = known_edges[succ]
                a.known[h] = v
            outs[succ].append(a)
            if edges is not None:
                edges[(block.label, succ)] = a
    return False


@register_pass
@dataclass(frozen=True)
class LookupSharing(ModulePass):
    """A lookup of a key already looked up on every path, with no write to the map between,
    reuses that reference; ``ref.found`` of a reference tested on the way becomes constant."""

    name: str = "lookup-share"

    def apply(self, program: Program) -> None:
        """Rewrite in place."""
        def visit(block: Block, i: int, op: Op, avail: Avail) -> bool:
            if op.opcode == "map.lookup":
                shared = avail.lookup(op.attrs["state"], op.args)
                if shared is not None and shared != op.dest:
                    block.ops[i] = Op("mov", op.dest, (shared,), {}, op.span)
            elif op.opcode == "ref.found":
                value = avail.found(op.args[0])
                if value is not None:
                    block.ops[i] = Op("const", op.dest, (), {"value": value}, op.span)
            return False
        walk(program, visit)


def _descendants(program: Program, label: str) -> set[str]:
    by_label = {b.label: b for b in program.blocks}
    seen: set[str] = set()
    stack = list(by_label[label].successors())
    while stack:
        lab = stack.pop()
        if lab not in seen:
            seen.add(lab)
            stack.extend(by_label[lab].successors())
    return seen


def _stale_ref_used(program: Program, block: Block, index: int, state: str) -> bool:
    """Whether a ref register of ``state`` assigned before ``block.ops[index]`` (in an
    ancestor block or earlier in the block) may be used after it."""
    after = _descendants(program, block.label)
    before = {b.label for b in program.blocks
              if b.label != block.label and block.label in _descendants(program, b.label)}
    ref = RefType(state)
    assigned = {op.dest for b in program.blocks if b.label in before for op in b.ops
                if op.dest is not None and program.regs[op.dest] == ref}
    assigned |= {op.dest for op in block.ops[:index]
                 if op.dest is not None and program.regs[op.dest] == ref}
    used_ops = list(block.ops[index + 1:]) + [op for b in program.blocks
                                               if b.label in after for op in b.ops]
    return any(a in assigned for op in used_ops for a in op.args)


def _fresh(existing: set[str], stem: str) -> str:
    n = 0
    while f"{stem}{n}" in existing:
        n += 1
    existing.add(f"{stem}{n}")
    return f"{stem}{n}"


@register_pass
@dataclass(frozen=True)
class UpdateInPlace(ModulePass):
    """``map.update`` of a key whose lookup is available stores the values through the
    reference when it holds an entry (``ref.store`` per field, result 1), else updates."""

    name: str = "update-in-place"

    def apply(self, program: Program) -> None:
        """Rewrite in place, one update at a time until none is left."""
        while self._rewrite_one(program):
            pass

    @staticmethod
    def _rewrite_one(program: Program) -> bool:
        def visit(block: Block, i: int, op: Op, avail: Avail) -> bool:
            if op.opcode != "map.update":
                return False
            state = op.attrs["state"]
            n = op.attrs["nkeys"]
            if program.state(state).kind == "lpm":
                return False
            h = avail.lookup(state, op.args[:n])
            if h is None or avail.found(h) == 0:
                return False
            if _stale_ref_used(program, block, i, state):
                return False
            stores = [Op("ref.store", None, (h, v), {"state": state, "index": j}, op.span)
                      for j, v in enumerate(op.args[n:])]
            assert op.dest is not None
            one = Op("const", op.dest, (), {"value": 1}, op.span)
            if avail.found(h) == 1:
                block.ops[i:i + 1] = stores + [one]
                return True
            labels = {b.label for b in program.blocks}
            store_l, update_l = _fresh(labels, "inplace"), _fresh(labels, "update")
            rest_l = _fresh(labels, "joined")
            found = _fresh(set(program.regs), "found")
            program.regs[found] = IntType(1)
            rest = block.ops[i + 1:]
            block.ops[i:] = [Op("ref.found", found, (h,), {"state": state}, op.span),
                             Op("br", None, (found,), {"targets": (store_l, update_l)},
                                op.span)]
            def jmp() -> Op:
                return Op("jmp", None, (), {"targets": (rest_l,)}, op.span)
            at = program.blocks.index(block) + 1
            program.blocks[at:at] = [Block(store_l, stores + [one, jmp()]),
                                     Block(update_l, [op, jmp()]),
                                     Block(rest_l, rest)]
            return True
        return walk(program, visit)


#: map kinds whose lookups ``lookup-merge`` moves (exact-match keys)
_MERGE_KINDS = ("hash", "lru_hash")
#: at most this many lookups are moved per program (each move goes up one block)
_MERGE_LIMIT = 64


def _entry_names(block: Block, index: int, keys: tuple[str, ...],
                 state: str) -> tuple[str, ...] | None:
    """The registers whose values at ``block``'s entry the keys of ``block.ops[index]`` are
    (following the block's copies), or None when a key is computed in the block or an op
    before the lookup touches ``state``."""
    entry: dict[str, str | None] = {}
    for op in block.ops[:index]:
        if op.attrs.get("state") == state:
            return None
        if op.dest is not None:
            if op.opcode == "mov":
                src = op.args[0]
                entry[op.dest] = entry[src] if src in entry else src
            else:
                entry[op.dest] = None
    names = [entry[k] if k in entry else k for k in keys]
    if any(n is None for n in names):
        return None
    return tuple(n for n in names if n is not None)


@register_pass
@dataclass(frozen=True)
class LookupMerge(ModulePass):
    """A lookup at a join whose key was looked up on some of the incoming paths (through
    copies) reuses those references, and is done at the end of the other incoming edges
    instead (partial redundancy elimination): one lookup per path where there were two."""

    name: str = "lookup-merge"

    def apply(self, program: Program) -> None:
        """Rewrite in place, one lookup at a time."""
        for _ in range(_MERGE_LIMIT):
            if not self._rewrite_one(program):
                return

    @staticmethod
    def _rewrite_one(program: Program) -> bool:
        edges: dict[tuple[str, str], Avail] = {}
        entry = program.blocks[0].label

        def visit(block: Block, i: int, op: Op, avail: Avail) -> bool:
            if op.opcode != "map.lookup" or block.label == entry:
                return False
            state = op.attrs["state"]
            if program.state(state).kind not in _MERGE_KINDS:
                return False
            if avail.lookup(state, op.args) is not None:
                return False  # lookup-share's case
            names = _entry_names(block, i, op.args, state)
            if names is None:
                return False
            preds = [(p, a) for (p, succ), a in edges.items() if succ == block.label]
            have = {p: a.lookup(state, names) for p, a in preds}
            if not any(have.values()):
                return False
            by_label = {b.label: b for b in program.blocks}
            if any(by_label[p].ops[-1].opcode not in ("br", "jmp") for p, _ in preds):
                return False
            regs = set(program.regs)
            merged = _fresh(regs, "merged")
            program.regs[merged] = RefType(state)
            labels = {b.label for b in program.blocks}
            for p, g in have.items():
                pred = by_label[p]
                if g is not None:
                    pred.ops.insert(len(pred.ops) - 1, Op("mov", merged, (g,), {}, op.span))
                    continue
                lookup = Op("map.lookup", merged, names, {"state": state}, op.span)
                term = pred.ops[-1]
                if set(term.attrs["targets"]) == {block.label}:
                    pred.ops.insert(len(pred.ops) - 1, lookup)
                    continue
                split = _fresh(labels, "merge")  # the edge gets its own block
                targets = tuple(split if t == block.label else t for t in term.attrs["targets"])
                pred.ops[-1] = Op(term.opcode, term.dest, term.args,
                                  {**term.attrs, "targets": targets}, term.span)
                at = program.blocks.index(block)
                program.blocks.insert(at, Block(split, [
                    lookup, Op("jmp", None, (), {"targets": (block.label,)}, op.span)]))
            block.ops[i] = Op("mov", op.dest, (merged,), {}, op.span)
            return True

        return walk(program, visit, edges)
