"""The checker's output: :class:`Checked`, with per-node facts keyed by :func:`node_key`."""

from __future__ import annotations

from dataclasses import dataclass, field

from cora.compiler.frontend import ast as A
from cora.compiler.frontend import types as T
from cora.compiler.frontend.check.symbols import (
    ConstSym,
    FnInfo,
    LocalSym,
    StateInfo,
    StateSym,
    Symbol,
    UserHeader,
)
from cora.compiler.frontend.diagnostics import Diagnostic
from cora.errors import InternalError

#: A stable key of an AST node: its class name and source range. Two nodes of one parse
#: never share it (a node's range differs from its children's, or its class does), and it is
#: the same for the same source parsed again, unlike ``id(node)``.
NodeKey = tuple[str, int, int, int, int]


def node_key(node: A.Node) -> NodeKey:
    """The :data:`NodeKey` of ``node``: ``(class name, line, col, end_line, end_col)``."""
    s = node.span
    return (type(node).__name__, s.line, s.col, s.end_line, s.end_col)


#: a checked match pattern: ("eq", v) | ("range", lo, hi) | ("prefix", net, mask) | ("wild",)
Pattern = tuple


@dataclass
class Checked:
    """Everything the checker learned; ``diagnostics`` empty means the program is well typed.

    Per-node facts are keyed by :func:`node_key` of AST nodes of ``module`` (read them with
    :meth:`type_of`, :meth:`sym_of` and the other accessors):
    ``types`` (expression -> type after literal typing), ``syms`` (Name, Let or For -> symbol),
    ``values`` (constant-folded integer expressions -> int), ``loops`` (For -> (lo, hi)),
    ``patterns`` (pattern -> ("eq", v) | ("range", lo, hi) | ("prefix", net, mask) |
    ("wild",)), ``lpm_prefix`` (Index of an lpm store -> True when the key is ``addr/len``),
    ``overflow_types`` (an overflow-test call -> its operands' common type).
    """

    module: A.Module | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    structs: dict[str, T.StructTy] = field(default_factory=dict)
    consts: dict[str, ConstSym] = field(default_factory=dict)
    states: dict[str, StateInfo] = field(default_factory=dict)
    fns: dict[str, FnInfo] = field(default_factory=dict)
    entry: A.OnDecl | None = None
    types: dict[NodeKey, T.Ty] = field(default_factory=dict)
    syms: dict[NodeKey, Symbol] = field(default_factory=dict)
    values: dict[NodeKey, int] = field(default_factory=dict)
    loops: dict[NodeKey, tuple[int, int]] = field(default_factory=dict)
    patterns: dict[NodeKey, Pattern] = field(default_factory=dict)
    lpm_prefix: dict[NodeKey, bool] = field(default_factory=dict)
    #: user-declared headers by name, in declaration order
    user_headers: dict[str, UserHeader] = field(default_factory=dict)
    #: loop variable uid -> (first, last) value it takes (a 'for' with valid bounds)
    loop_ranges: dict[int, tuple[int, int]] = field(default_factory=dict)
    #: Call of add_overflows/sub_overflows/mul_overflows -> the operands' common type
    overflow_types: dict[NodeKey, T.IntTy] = field(default_factory=dict)
    #: states with an ``atomic`` block: their values carry a spin lock
    atomic_states: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        """No diagnostic is an error."""
        return not any(d.severity == "error" for d in self.diagnostics)

    def type_of(self, node: A.Node) -> T.Ty | None:
        """The checked type of expression ``node``, or None when it was not checked."""
        return self.types.get(node_key(node))

    def sym_of(self, node: A.Node) -> Symbol | None:
        """What name ``node`` (or the variable a Let/For declares) resolved to, or None."""
        return self.syms.get(node_key(node))

    def value_of(self, node: A.Node) -> int | None:
        """The folded value of a constant expression ``node``, or None."""
        return self.values.get(node_key(node))

    def loop_of(self, node: A.For) -> tuple[int, int] | None:
        """``(lo, hi)`` of a checked ``for``, or None."""
        return self.loops.get(node_key(node))

    def pattern_of(self, node: A.Node) -> Pattern | None:
        """The checked form of a match pattern, or None."""
        return self.patterns.get(node_key(node))

    def local_of(self, node: A.Node) -> LocalSym:
        """The local, parameter or loop variable ``node`` names or declares (InternalError
        when the checker resolved it to something else: a compiler bug)."""
        sym = self.sym_of(node)
        if not isinstance(sym, LocalSym):
            raise InternalError(f"{type(node).__name__} at {node.span} is not a local: {sym}")
        return sym

    def const_of(self, node: A.Node) -> ConstSym:
        """The constant ``node`` names (InternalError otherwise)."""
        sym = self.sym_of(node)
        if not isinstance(sym, ConstSym):
            raise InternalError(f"{type(node).__name__} at {node.span} is not a constant: {sym}")
        return sym

    def state_of(self, node: A.Node) -> StateInfo:
        """The state ``node`` names (InternalError otherwise)."""
        sym = self.sym_of(node)
        if not isinstance(sym, StateSym):
            raise InternalError(f"{type(node).__name__} at {node.span} is not a state: {sym}")
        return sym.info

    def is_lpm_prefix(self, node: A.Index) -> bool:
        """Whether ``node`` is an lpm store keyed by a prefix (``s[addr/len] = v``)."""
        return self.lpm_prefix.get(node_key(node), False)
