"""The AST of the cora NF language (docs/language.md).

Every node is a frozen dataclass whose last field ``span`` is its source position
(:class:`~cora.compiler.span.Span`, the compiler's one position type: 1-based line/column of
its first character and of the character after its last). Spans are excluded from
equality, so ``a == b`` compares structure: the lowering uses that to share one map lookup
among consecutive statements with the same key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cora.compiler.span import Span


def _span() -> Span:
    return field(compare=False, repr=False)


class Node:
    """Base of all nodes (every subclass has a ``span``)."""

    span: Span


# ------------------------------------------------------------------------------------ types

@dataclass(frozen=True)
class TypeName(Node):
    """A named type: ``u32``, ``ip4``, ``Flow``, a struct name."""

    name: str
    span: Span = _span()


@dataclass(frozen=True)
class TupleType(Node):
    """``(T1, T2, ...)``."""

    elems: tuple
    span: Span = _span()


@dataclass(frozen=True)
class ArrayType(Node):
    """``T[N]``: ``N`` elements of ``T``, ``N`` a constant expression."""

    elem: Node
    size: Node
    span: Span = _span()


@dataclass(frozen=True)
class IntArg(Node):
    """An integer literal among a state kind's ``<...>`` arguments (``countmin<4, 1024>``)."""

    value: int
    span: Span = _span()


# ------------------------------------------------------------------------------ expressions

@dataclass(frozen=True)
class IntLit(Node):
    """Integer literal (its type comes from context)."""

    value: int
    span: Span = _span()


@dataclass(frozen=True)
class BoolLit(Node):
    value: bool
    span: Span = _span()


@dataclass(frozen=True)
class Ip4Lit(Node):
    """``10.0.0.1``; ``value`` is the address read big-endian."""

    value: int
    text: str
    span: Span = _span()


@dataclass(frozen=True)
class PrefixLit(Node):
    """``10.0.0.0/8``."""

    addr: int
    plen: int
    text: str
    span: Span = _span()


@dataclass(frozen=True)
class MacLit(Node):
    value: int
    span: Span = _span()


@dataclass(frozen=True)
class Name(Node):
    id: str
    span: Span = _span()


@dataclass(frozen=True)
class Field(Node):
    """``obj.name`` (``name`` is a digit string for tuple fields ``t.0``)."""

    obj: Node
    name: str
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True)
class Index(Node):
    """``obj[index]``."""

    obj: Node
    index: Node
    span: Span = _span()


@dataclass(frozen=True)
class Call(Node):
    """``func(args)``; ``func`` is a Name or a Field (method call ``s.add``)."""

    func: Node
    args: tuple
    span: Span = _span()


@dataclass(frozen=True)
class Unary(Node):
    """``op operand`` with op in ``! ~ -``."""

    op: str
    operand: Node
    span: Span = _span()


@dataclass(frozen=True)
class Binary(Node):
    """``left op right``; ``op_span`` is the operator's position."""

    op: str
    left: Node
    right: Node
    span: Span = _span()
    op_span: Span = _span()


@dataclass(frozen=True)
class Cast(Node):
    """``expr as type``."""

    expr: Node
    type: Node
    span: Span = _span()


@dataclass(frozen=True)
class TupleLit(Node):
    elems: tuple
    span: Span = _span()


@dataclass(frozen=True)
class FieldInit(Node):
    name: str
    value: Node
    span: Span = _span()


@dataclass(frozen=True)
class StructLit(Node):
    """``Name { f: e, ... }``."""

    name: str
    fields: tuple
    span: Span = _span()


# ------------------------------------------------------------------------------- statements

@dataclass(frozen=True)
class Block(Node):
    stmts: tuple
    span: Span = _span()


@dataclass(frozen=True)
class Let(Node):
    name: str
    type: Node | None
    value: Node
    span: Span = _span()


@dataclass(frozen=True)
class Assign(Node):
    """``target op value`` with op ``=`` or a compound ``+=`` ...; ``op_span`` its position."""

    target: Node
    op: str
    value: Node
    span: Span = _span()
    op_span: Span = _span()


@dataclass(frozen=True)
class ExprStmt(Node):
    expr: Node
    span: Span = _span()


@dataclass(frozen=True)
class If(Node):
    """``if (cond) then else els``; ``els`` is a Block, an If or None."""

    cond: Node
    then: Block
    els: Node | None
    span: Span = _span()


@dataclass(frozen=True)
class PatValue(Node):
    """A constant pattern (literal, prefix or named constant)."""

    value: Node
    span: Span = _span()


@dataclass(frozen=True)
class PatRange(Node):
    """``lo..hi`` (inclusive)."""

    lo: Node
    hi: Node
    span: Span = _span()


@dataclass(frozen=True)
class PatWild(Node):
    """``_``."""

    span: Span = _span()


@dataclass(frozen=True)
class Arm(Node):
    patterns: tuple
    body: Block
    span: Span = _span()


@dataclass(frozen=True)
class Match(Node):
    subject: Node
    arms: tuple
    span: Span = _span()


@dataclass(frozen=True)
class For(Node):
    """``for (var in lo..hi) body`` (hi exclusive, both constant)."""

    var: str
    lo: Node
    hi: Node
    body: Block
    span: Span = _span()
    var_span: Span = _span()


@dataclass(frozen=True)
class Verdict(Node):
    """``pass;`` ``drop;`` ``tx;`` ``redirect(port);`` ``multicast(group[, option]);``."""

    kind: str
    port: Node | None
    span: Span = _span()
    group: str | None = None          # multicast: the group's name
    group_span: Span | None = None
    option: str | None = None         # multicast: ``exclude_ingress`` or None
    option_span: Span | None = None


@dataclass(frozen=True)
class Return(Node):
    value: Node | None
    span: Span = _span()


@dataclass(frozen=True)
class Delete(Node):
    target: Node
    span: Span = _span()


@dataclass(frozen=True)
class Atomic(Node):
    """``atomic (s[k]) body``: ``body`` runs holding the spin lock of entry ``s[k]``."""

    target: Node
    body: Block
    span: Span = _span()


# ----------------------------------------------------------------------------- declarations

@dataclass(frozen=True)
class ConstDecl(Node):
    name: str
    type: Node | None
    value: Node
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True)
class FieldDecl(Node):
    name: str
    type: Node
    span: Span = _span()


@dataclass(frozen=True)
class StructDecl(Node):
    name: str
    fields: tuple
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True)
class HeaderFieldDecl(Node):
    """``name: T`` or ``name: T (bits)`` in a header declaration."""

    name: str
    type: Node
    bits: int | None
    span: Span = _span()


@dataclass(frozen=True)
class HeaderDecl(Node):
    """``header NAME after PARENT.FIELD == VALUE { fields }``: a user-declared header that
    follows ``PARENT`` (udp or another declared header) when ``PARENT.FIELD == VALUE``."""

    name: str
    parent: str
    field: str
    value: Node
    fields: tuple
    span: Span = _span()
    name_span: Span = _span()
    parent_span: Span = _span()
    field_span: Span = _span()


@dataclass(frozen=True)
class InitEntry(Node):
    key: Node
    value: Node
    span: Span = _span()


@dataclass(frozen=True)
class StateDecl(Node):
    """``state name: kind<args>[capacity] on_full policy = {init};``."""

    name: str
    kind: str
    args: tuple
    capacity: Node | None
    policy: str | None
    init: tuple | None
    span: Span = _span()
    name_span: Span = _span()
    kind_span: Span = _span()
    policy_span: Span | None = _span()


@dataclass(frozen=True)
class Param(Node):
    name: str
    type: Node
    span: Span = _span()


@dataclass(frozen=True)
class FnDecl(Node):
    name: str
    params: tuple
    ret: Node | None
    body: Block
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True)
class OnDecl(Node):
    """``on EVENT { ... }`` (the only event is ``packet``)."""

    event: str
    body: Block
    span: Span = _span()
    event_span: Span = _span()


@dataclass(frozen=True)
class Module(Node):
    items: tuple
    span: Span = _span()
