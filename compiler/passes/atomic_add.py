"""``atomic-add``: a counter update of a map entry becomes one ``atomic_add``.

The language's ``m[k].f += e`` (and ``m[k].f = m[k].f + e``, ``sketch.add``) lowers to a read,
an add and a write of one value field through one entry reference::

    %a = ref.load S %h.I        ; the old value
    %b = add %a, %v             ; (or add %v, %a)
    ref.store S %h.I, %b

When the old value is used by nothing else, this is ``atomic_add S %h.I, %v``: on every frame
and state it leaves the same value in the entry (``(old + v) mod 2**w``, nothing when the
reference holds no entry, as ``ref.load`` gives 0 and ``ref.store`` does nothing then). The C
emitter writes it as ``__sync_fetch_and_add`` (one eBPF ``BPF_ATOMIC | BPF_ADD``, formerly
``BPF_XADD``), which makes two CPUs' increments of one counter add up, and which is the only
update of a map value the Agilio (NFP) eBPF offload accepts (kernel nfp driver,
``drivers/net/ethernet/netronome/nfp/bpf/verifier.c``: plain stores into a map value are
rejected with "map writes not supported", atomic adds are allowed and mark the word as an
atomic counter).

Rewritten when all hold (otherwise the ops stay as they are):

- the three ops are in one block, in this order, and the field is 32 or 64 bits wide
  (:data:`cora.compiler.ir.ops.ATOMIC_ADD_WIDTHS`: eBPF has atomic adds of words and double
  words only);
- ``%a`` and ``%b`` are each assigned once in the whole program and used only by the add and
  the store respectively (the old and the new value are otherwise unobserved);
- between the load and the store no op assigns ``%h`` or ``%v`` (after the add), and no op
  may change field I of the entry: the only writes of ``S`` allowed in between are
  ``ref.store``/``atomic_add`` through the same register ``%h`` to another field (a write
  through another reference might alias the entry; ``map.update``/``map.delete`` of ``S``
  might replace or remove it).

The ``atomic_add`` takes the store's place, so reads of the field between the load and the
store still see the old value, as before.

``atomic-init`` (after ``atomic-add``): an insert into a map whose value fields are atomic
counters stores zero into those fields and then adds the inserted values atomically::

    %r = map.update S(K) = (V0, V1)          ; field 0 is an atomic counter
becomes
    %z = const 0
    %r = map.update S(K) = (%z, V1)
    %h = map.lookup S(K)
    atomic_add S %h.0, V0

Same state after it on every frame: when the update stored, the lookup finds the entry it
stored (on an ``lru_hash`` it is already the most recently used, so the lookup changes no
order) and the add leaves ``V0`` there; when it did not store (map full), the key is absent
and nothing is added. ``%r`` is unchanged. Why: the Agilio (NFP) offload requires atomic
counters to be initialised to zero by ``bpf_map_update_elem()`` (kernel nfp driver,
``nfp_bpf_map_update_value_ok``), so without this an NF that inserts a counter with a
non-zero first value (flowcount's ``flows[flow].packets += 1`` on a new flow) cannot keep its
counters on the NIC. The cost: one more lookup and the adds on the insert path (docs/offload.md).
Not for ``lpm`` states (their update keys carry a prefix length) and only for value fields of
32 or 64 bits that some ``atomic_add`` adds to.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from cora.compiler.ir import Block, IntType, Op, Program, RefType
from cora.compiler.ir.ops import ATOMIC_ADD_WIDTHS
from cora.compiler.passes.base import ModulePass, assign_counts, register_pass


@register_pass
@dataclass(frozen=True)
class AtomicAdd(ModulePass):
    """Rewrite ``ref.load``/``add``/``ref.store`` of one field into ``atomic_add``."""

    name: str = "atomic-add"

    def apply(self, program: Program) -> None:
        """Rewrite every matching triple (module docstring), in place."""
        assigns = assign_counts(program)
        uses: Counter[str] = Counter(a for _, op in program.ops() for a in op.args)
        for block in program.blocks:
            _rewrite_block(program, block, assigns, uses)
        program.drop_unused_regs()


def _rewrite_block(program: Program, block: Block, assigns: Counter[str],
                   uses: Counter[str]) -> None:
    ops = block.ops
    drop: set[int] = set()
    for s, store in enumerate(ops):
        if store.opcode != "ref.store":
            continue
        found = _match(program, ops, s, assigns, uses)
        if found is None:
            continue
        load_i, add_i, v = found
        drop |= {load_i, add_i}
        ops[s] = Op("atomic_add", None, (store.args[0], v), dict(store.attrs), store.span)
    if drop:
        block.ops = [op for i, op in enumerate(ops) if i not in drop]


def _match(program: Program, ops: list[Op], s: int, assigns: Counter[str],
           uses: Counter[str]) -> tuple[int, int, str] | None:
    """(load index, add index, added register) when ``ops[s]`` ends a counter update."""
    store = ops[s]
    ref, new = store.args
    state, index = store.attrs["state"], store.attrs["index"]
    if program.state(state).value[index].width not in ATOMIC_ADD_WIDTHS:
        return None
    if assigns[new] != 1 or uses[new] != 1:
        return None
    add_i = _def_index(ops, s, new)
    if add_i is None or ops[add_i].opcode != "add":
        return None
    add = ops[add_i]
    for old, v in ((add.args[0], add.args[1]), (add.args[1], add.args[0])):
        if old == v or assigns[old] != 1 or uses[old] != 1:
            continue
        load_i = _def_index(ops, add_i, old)
        if load_i is None:
            continue
        load = ops[load_i]
        if (load.opcode == "ref.load" and load.args[0] == ref
                and load.attrs.get("state") == state and load.attrs.get("index") == index
                and _clear_between(ops, load_i, s, add_i, ref, v, state, index)):
            return load_i, add_i, v
    return None


def _def_index(ops: list[Op], before: int, reg: str) -> int | None:
    """Index of the last op before ``before`` in the block assigning ``reg``, or None."""
    for i in range(before - 1, -1, -1):
        if ops[i].dest == reg:
            return i
    return None


def _clear_between(ops: list[Op], load_i: int, store_i: int, add_i: int, ref: str, v: str,
                   state: str, index: int) -> bool:
    """No op strictly between the load and the store reassigns ``ref`` (or ``v`` after the
    add) or may change field ``index`` of the entry (module docstring)."""
    for i in range(load_i + 1, store_i):
        op = ops[i]
        if op.dest == ref or (i > add_i and op.dest == v):
            return False
        if state in op.state_writes():
            same_ref_other_field = (op.opcode in ("ref.store", "atomic_add")
                                    and op.args[0] == ref and op.attrs.get("index") != index)
            if not same_ref_other_field:
                return False
    return True


@register_pass
@dataclass(frozen=True)
class AtomicInit(ModulePass):
    """Insert atomic counters as zero, then add the first value atomically (module doc)."""

    name: str = "atomic-init"

    def apply(self, program: Program) -> None:
        """Rewrite every ``map.update`` storing a value that may be non-zero into a field
        that an ``atomic_add`` adds to (module docstring), in place."""
        counters: dict[str, set[int]] = {}
        for _, op in program.ops():
            if op.opcode == "atomic_add":
                counters.setdefault(op.attrs["state"], set()).add(int(op.attrs["index"]))
        if not counters:
            return
        zero_defs = {op.dest for _, op in program.ops()
                     if op.dest is not None and op.opcode == "const" and op.attrs["value"] == 0}
        assigns = assign_counts(program)
        for block in program.blocks:
            out: list[Op] = []
            for op in block.ops:
                fields = counters.get(op.attrs.get("state", "")) \
                    if op.opcode == "map.update" else None
                state = program.state(op.attrs["state"]) if fields else None
                if not fields or state is None or state.kind == "lpm":
                    out.append(op)
                    continue
                n = int(op.attrs["nkeys"])
                keys, values = op.args[:n], list(op.args[n:])
                moved = [i for i in sorted(fields)
                         if not (values[i] in zero_defs and assigns[values[i]] == 1)]
                if not moved:
                    out.append(op)
                    continue
                adds = [(i, values[i]) for i in moved]
                for i in moved:
                    z = _fresh(program, IntType(state.value[i].width), "zero")
                    out.append(Op("const", z, (), {"value": 0}, op.span))
                    values[i] = z
                out.append(Op("map.update", op.dest, (*keys, *values), dict(op.attrs), op.span))
                ref = _fresh(program, RefType(state.name), "init")
                out.append(Op("map.lookup", ref, tuple(keys), {"state": state.name}, op.span))
                out += [Op("atomic_add", None, (ref, v), {"state": state.name, "index": i},
                           op.span) for i, v in adds]
            block.ops = out


def _fresh(program: Program, type_: IntType | RefType, hint: str) -> str:
    """A register name not yet in ``program``, declared with ``type_``."""
    k = len(program.regs)
    while f"{hint}{k}" in program.regs:
        k += 1
    program.regs[f"{hint}{k}"] = type_
    return f"{hint}{k}"
