"""Which registers the eBPF C keeps in network byte order (a representation choice).

An IR integer register has one value; its C variable may hold that value in host byte order
(the default) or byte-swapped, i.e. in network order, as the packet and the hash-map keys
carry it (:mod:`cora.targets.ebpf.maps` lays key fields out in network order). A
hand-written XDP program copies a header field into a map key without a byte swap and swaps
only where it computes with the value (a hash, an addition); this module chooses the same
for the generated C.

Registers are grouped by the ops that are byte-order agnostic when their operands and result
are in the same order (``mov``; ``select``'s two values; the bitwise ``and``/``or``/``xor``/
``not``, since a byte swap permutes bits; ``eq``/``ne``'s two operands): a group is all in one
order (so these ops need no conversion). For each group the number of byte swaps the C would
execute statically is counted both ways, and a group goes to network order when that is
strictly fewer:

- a ``hdr.load`` of a whole-byte field the size of its C type is a swap in host order and a
  plain load in network order; a ``const`` is free either way (the literal is swapped when
  generating); any other definition (``ref.load``, arithmetic, ``hash`` ...) is a swap in
  network order;
- a use as a key field of a hash/lru_hash map, or as the value stored into a whole-byte
  header field of its size, is a swap in host order; any other use (arithmetic, ordered
  comparisons, ``hash``, array indices, map values ...) is a swap in network order.

Only 16-, 32- and 64-bit registers are candidates (an 8-bit one has one byte order; other
widths are not a C type's). A register a ``shim.pop`` restores, the destination of an op not
in :data:`NETWORK_DEFS`, or one that is both an operand and the destination of a non-copy op,
stays in host order.
"""

from __future__ import annotations

from cora.compiler.ir import IntType, Op, Program
from cora.compiler.ir.headers import Field
from cora.compiler.ir.ops import header_field

#: widths (bits) of registers that may be kept in network order
CANDIDATE_WIDTHS = (16, 32, 64)
#: opcodes whose destination the emitter can produce in network order: the copy-like ones
#: (same order as their operands), ``const`` (swapped literal), ``hdr.load`` (a load without
#: a swap, or a swap of the host value), ``ref.load`` and the ops whose C is one expression
#: (swapped once computed)
NETWORK_DEFS = frozenset({
    "mov", "select", "and", "or", "xor", "not", "const", "hdr.load", "ref.load",
    "add", "sub", "mul", "div", "mod", "shl", "shr", "zext", "trunc", "sext", "sar",
    "sdiv", "smod", "hash", "now", "rand", "pkt.len"})
#: (opcode -> operand positions that share the destination's byte order)
_COPY_POSITIONS = {"mov": (0,), "select": (1, 2), "and": (0, 1), "or": (0, 1),
                   "xor": (0, 1), "not": (0,)}


def wire_load_field(f: Field) -> bool:
    """Whether a header field is whole bytes the size of a C integer (its raw bytes are the
    value in network order)."""
    return f.shift == 0 and f.bit_width == f.byte_span * 8 and f.byte_span in (1, 2, 4, 8)


def _width(program: Program, reg: str) -> int | None:
    t = program.regs.get(reg)
    return t.width if isinstance(t, IntType) else None


def _candidate(program: Program, reg: str) -> bool:
    return _width(program, reg) in CANDIDATE_WIDTHS


def network_load(program: Program, op: Op) -> bool:
    """Whether ``op`` is a ``hdr.load`` whose destination's network-order form is the raw
    bytes of the field (a whole-byte field of the destination's C size)."""
    if op.opcode != "hdr.load" or op.dest is None:
        return False
    f = header_field(op.attrs["header"], op.attrs["field"])
    w = _width(program, op.dest)
    return wire_load_field(f) and w is not None and f.byte_span * 8 == w


def network_uses(program: Program, op: Op) -> frozenset[int]:
    """Operand positions of ``op`` that take the value in network order: key fields of a
    hash/lru_hash map, and the value of a ``hdr.store`` into a whole-byte field of the
    value's C size."""
    if op.opcode in ("map.lookup", "map.update", "map.delete"):
        if program.state(op.attrs["state"]).kind not in ("hash", "lru_hash"):
            return frozenset()
        nkeys = op.attrs["nkeys"] if op.opcode == "map.update" else len(op.args)
        return frozenset(range(nkeys))
    if op.opcode == "hdr.store":
        f = header_field(op.attrs["header"], op.attrs["field"])
        if wire_load_field(f) and _width(program, op.args[0]) == f.byte_span * 8:
            return frozenset({0})
    return frozenset()


def same_order_positions(program: Program, op: Op) -> tuple[tuple[int, ...], bool]:
    """(operand positions in one byte-order group, whether the destination joins it) of a
    copy-like op or ``eq``/``ne``; ``((), False)`` for any other op or when the registers
    are not all candidates of one width."""
    pos: tuple[int, ...]
    if op.opcode in ("eq", "ne"):
        pos, with_dest = (0, 1), False
    elif op.opcode in _COPY_POSITIONS:
        pos, with_dest = _COPY_POSITIONS[op.opcode], True
    else:
        return (), False
    regs = [op.args[i] for i in pos] + ([op.dest] if with_dest and op.dest else [])
    widths = {_width(program, r) for r in regs}
    if len(widths) != 1 or widths.pop() not in CANDIDATE_WIDTHS:
        return (), False
    return pos, with_dest


def network_order_regs(program: Program) -> frozenset[str]:
    """The registers the C keeps in network byte order (module docstring).

    Args:
        program: a verified IR program.
    Returns:
        register names; every one is an integer register of 16, 32 or 64 bits.
    """
    parent: dict[str, str] = {}

    def find(r: str) -> str:
        parent.setdefault(r, r)
        while parent[r] != r:
            parent[r] = parent[parent[r]]
            r = parent[r]
        return r

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb

    forced_host: set[str] = set()
    # swaps executed statically, per register: in host order / in network order
    host_cost: dict[str, int] = {}
    net_cost: dict[str, int] = {}

    def charge(table: dict[str, int], reg: str) -> None:
        if _candidate(program, reg):
            table[reg] = table.get(reg, 0) + 1

    for _, op in program.ops():
        for regs in op.attrs.get("regs", ()):
            forced_host.update(regs)
        grouped, with_dest = same_order_positions(program, op)
        for i in grouped[1:]:
            union(op.args[grouped[0]], op.args[i])
        if with_dest and op.dest is not None:
            union(op.dest, op.args[grouped[0]])
        wants_net = network_uses(program, op)
        for i, a in enumerate(op.args):
            if i in grouped:
                continue
            charge(host_cost if i in wants_net else net_cost, a)
        d = op.dest
        if d is None or not _candidate(program, d) or with_dest:
            continue
        if op.opcode not in NETWORK_DEFS or (op.opcode != "hdr.load" and d in op.args):
            forced_host.add(d)
        elif network_load(program, op):
            charge(host_cost, d)
        elif op.opcode != "const":
            charge(net_cost, d)

    groups: dict[str, list[str]] = {}
    for r in program.regs:
        if _candidate(program, r):
            groups.setdefault(find(r), []).append(r)
    out: set[str] = set()
    for members in groups.values():
        if any(r in forced_host for r in members):
            continue
        if sum(net_cost.get(r, 0) for r in members) < sum(host_cost.get(r, 0) for r in members):
            out.update(members)
    return frozenset(out)
