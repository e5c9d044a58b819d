"""Which headers are known valid (or known absent) at each op of an NF (a flow analysis).

A header field read in IR (``hdr.load H.F``) is 0 when the frame has no valid H, so the
generated C guards every load with the parser's flag: ``r = 0; if (v_H) r = *(h_H + off);``.
An NF almost always tests ``H.valid`` first and reads H's fields only on the path where the
test passed, where the guard is dead weight: a careful hand-written program reads the field
directly after its one bounds check. This module finds, per op, the headers the branches
leading to it have proven valid, so the emitter can drop the guard there (the verifier
follows the same branches on the same flags, so it accepts the unguarded load), and the
headers proven absent, so the parser can skip headers that cannot change what the program
sees (:func:`parse_needed`).

Facts are a conjunction of clauses ("at least one of these headers is valid") and a set of
headers known invalid, propagated forwards over the acyclic CFG (meet at a join: the clauses
and absences that hold on every incoming edge, a clause of each edge giving their union, so
``a || b`` tested as two branches, :mod:`cora.compiler.passes.short_circuit`, still tells
the join that one of the two is valid). A ``br`` on a condition computed in its own
block adds facts on each edge: ``hdr.valid H`` (true: H valid; false: H absent), through
``mov``, one-bit ``not``, ``and`` (both true) and ``or`` (false: both false; true: the union
of two single clauses), and ``eq``/``ne`` of ``ethernet.type`` with a constant other than a
VLAN ethertype (equal: no VLAN tag, since the parser looks for one only behind those
ethertypes, and only the network header of that ethertype may be valid). Valid headers
imply their outer headers (the parser sets an inner header's flag only after the outer
one's): an L4 header implies IPv4 or IPv6, and those and the VLAN
tag imply Ethernet. ``shim.push``/``shim.pop`` (which move the frame's head) forget all.

Public API: :class:`Facts`, :func:`header_facts` (op id -> facts before that op),
:func:`parse_needed` (whether the parser may skip IPv6 / the VLAN tag).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cora.compiler.ir import IntType, Op, Program
from cora.compiler.ir.headers import HEADERS, L4_HEADERS

#: ethertypes behind which the parser looks for an 802.1Q / 802.1ad tag
VLAN_ETHERTYPES = (0x8100, 0x88A8)
#: the ethertype behind which the parser looks for each network header (IEEE 802 numbers)
_L3_ETHERTYPES = {"ipv4": 0x0800, "ipv6": 0x86DD}
#: outer headers implied by a valid header: each entry is a clause (one of them is valid)
_IMPLIES: dict[str, tuple[frozenset[str], ...]] = {
    **{h: (frozenset({"ipv4", "ipv6"}), frozenset({"ethernet"})) for h in L4_HEADERS},
    "ipv4": (frozenset({"ethernet"}),),
    "ipv6": (frozenset({"ethernet"}),),
    "vlan": (frozenset({"ethernet"}),),
}
#: ops after which nothing about the frame's headers is known any more
_FORGET = frozenset({"shim.push", "shim.pop"})


@dataclass(frozen=True)
class Facts:
    """What is known about the frame's headers at one point.

    Attributes:
        clauses: each clause is a set of headers at least one of which is valid.
        invalid: headers known not valid.
    """

    clauses: frozenset[frozenset[str]] = field(default_factory=frozenset)
    invalid: frozenset[str] = field(default_factory=frozenset)

    def valid(self) -> frozenset[str]:
        """Headers known valid (a clause left with one header once the absent ones are out)."""
        return frozenset(h for c in self.clauses if len(c - self.invalid) == 1
                         for h in c - self.invalid)

    def both(self, other: Facts) -> Facts:
        """The conjunction of two sets of facts, with the implied outer headers added."""
        clauses = set(self.clauses | other.clauses)
        invalid = self.invalid | other.invalid
        todo = [h for c in clauses if len(c - invalid) == 1 for h in c - invalid]
        seen: set[str] = set()
        while todo:
            h = todo.pop()
            if h in seen:
                continue
            seen.add(h)
            for c in _IMPLIES.get(h, ()):
                clauses.add(c)
                if len(c - invalid) == 1:
                    todo.extend(c - invalid)
        return Facts(frozenset(clauses), invalid)

    def meet(self, other: Facts) -> Facts:
        """What holds on one or the other of two incoming paths: a clause of each side
        (without the headers that side knows absent) gives their union ("TCP valid" on
        one path and "UDP valid" on the other: one of TCP, UDP is valid), minimal clauses
        kept; the headers absent on both. (The facts are normalised by :meth:`both`, so a
        header valid on both sides is a clause of both.)"""
        left = {c - self.invalid for c in self.clauses}
        right = {c - other.invalid for c in other.clauses}
        unions = {a | b for a in left for b in right}
        return Facts(frozenset(c for c in unions if not any(d < c for d in unions)),
                     self.invalid & other.invalid)


_NONE = Facts()


def _condition(block_defs: dict[str, Op], reg: str, truth: bool, program: Program,
               depth: int = 0) -> Facts:
    """Facts implied by register ``reg`` being non-zero (``truth``) or zero, from its
    definition in the branch's block (:data:`_NONE` when nothing is known)."""
    op = block_defs.get(reg)
    if op is None or depth > 16:
        return _NONE
    t = program.regs.get(reg)
    one_bit = isinstance(t, IntType) and t.width == 1
    code = op.opcode
    if code == "hdr.valid":
        h = op.attrs["header"]
        return Facts(frozenset({frozenset({h})})) if truth else Facts(invalid=frozenset({h}))
    if code == "mov":
        return _condition(block_defs, op.args[0], truth, program, depth + 1)
    if code == "not" and one_bit:
        return _condition(block_defs, op.args[0], not truth, program, depth + 1)
    if code in ("and", "or") and one_bit:
        a, b = (_condition(block_defs, r, truth, program, depth + 1) for r in op.args)
        if (code == "and") == truth:          # and: both true; or: both false
            return a.both(b)
        if code == "or" and len(a.clauses) == 1 and len(b.clauses) == 1 \
                and not a.invalid and not b.invalid:
            return Facts(frozenset({next(iter(a.clauses)) | next(iter(b.clauses))}))
        return _NONE
    if code in ("eq", "ne") and one_bit:
        equal = truth if code == "eq" else not truth
        ethertype = _compared_ethertype(block_defs, op)
        if equal and ethertype is not None:
            # no tag, and the network header the parser looks for behind the type is the
            # only one that may be valid
            return Facts(invalid=frozenset(
                {"vlan"} | {h for h, t in _L3_ETHERTYPES.items() if t != ethertype}))
    return _NONE


def _compared_ethertype(block_defs: dict[str, Op], op: Op) -> int | None:
    """The constant ``op`` compares ``ethernet.type`` with, if it is not a VLAN ethertype
    (then equality means the parser found no VLAN tag); else None."""
    defs = [block_defs.get(r) for r in op.args]
    loads = [d for d in defs if d is not None and d.opcode == "hdr.load"
             and d.attrs["header"] == "ethernet" and d.attrs["field"] == "type"]
    consts = [d for d in defs if d is not None and d.opcode == "const"]
    if len(loads) == 1 and len(consts) == 1 and consts[0].attrs["value"] not in VLAN_ETHERTYPES:
        return int(consts[0].attrs["value"])
    return None


def header_facts(program: Program) -> dict[int, Facts]:
    """Facts before every reachable op: ``{id(op): Facts}``.

    The CFG must be acyclic (a verified program's is); a block reached from an unknown
    predecessor (the entry) starts with no facts.
    """
    blocks = program.topological_blocks()
    entry: dict[str, Facts] = {}
    out: dict[int, Facts] = {}
    for block in blocks:
        facts = entry.get(block.label, _NONE)
        defs: dict[str, Op] = {}
        for op in block.ops:
            out[id(op)] = facts
            if op.opcode in _FORGET:
                facts = _NONE
            if op.dest is not None:
                defs[op.dest] = op
        term = block.ops[-1] if block.ops else None
        succ = block.successors()
        edges: list[Facts]
        if term is not None and term.opcode == "br" and len(succ) == 2:
            cond = term.args[0]
            edges = [facts.both(_condition(defs, cond, True, program)),
                     facts.both(_condition(defs, cond, False, program))]
        else:
            edges = [facts] * len(succ)
        for label, f in zip(succ, edges, strict=True):
            entry[label] = entry[label].meet(f) if label in entry else f
    return out


def _touches(op: Op) -> tuple[str, ...]:
    """Headers an op reads or writes (a store into an IPv4/IPv6 address or the protocol also
    fixes the L4 checksum, whose pseudo-header covers it)."""
    if not op.opcode.startswith("hdr."):
        return ()
    h = op.attrs["header"]
    if op.opcode == "hdr.store" and op.attrs["field"] in HEADERS[h].pseudo_header_fields:
        return (h, *L4_HEADERS)
    return (h,)


def parse_needed(program: Program, facts: dict[int, Facts] | None = None) -> dict[str, bool]:
    """Whether the parser must look for IPv6 and for a VLAN tag: ``{"ipv6": bool, "vlan":
    bool}``.

    IPv6 may be skipped when no op touches it and every op touching an L4 header runs where
    IPv6 is known absent or IPv4 known valid (the two are exclusive): there, skipping IPv6
    changes nothing the op sees. The VLAN tag may be skipped when no op touches it and every
    op touching IPv4, IPv6 or an L4 header runs where the tag is known absent.
    """
    facts = header_facts(program) if facts is None else facts
    need = {"ipv6": False, "vlan": False}
    for _, op in program.ops():
        f = facts.get(id(op), _NONE)
        for h in _touches(op):
            if h in ("ipv6", "vlan"):
                need[h] = True
            if h in L4_HEADERS and "ipv6" not in f.invalid and "ipv4" not in f.valid():
                need["ipv6"] = True
            if (h in L4_HEADERS or h in ("ipv4", "ipv6")) and "vlan" not in f.invalid:
                need["vlan"] = True
    return need
