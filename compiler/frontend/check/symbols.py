"""The checker's symbols and language tables: what a name can denote, checked state and
function declarations, scopes, limits, and the state kinds of the language mapped to the IR's.
"""

from __future__ import annotations

from dataclasses import dataclass

from cora.compiler.frontend import ast as A
from cora.compiler.frontend import types as T
from cora.compiler.ir import STATE_KINDS as IR_STATE_KINDS
from cora.compiler.ir import StateDecl as IRStateDecl
from cora.compiler.ir import StateField as IRStateField
from cora.compiler.ir.headers import BUILTIN_CONSTANTS, HEADERS
from cora.errors import InternalError

MAX_CAPACITY = 16_777_216
MAX_STATE_BYTES = 1 << 30
MAX_LOOP_TRIPS = 256
MAX_ARRAY_ELEMS = 4_096  # elements of one T[N] (each is a register once flattened)
MAX_INLINE_DEPTH = 32
MAX_COUNTMIN_DEPTH = 16
MAX_UNROLLED_STMTS = 2_048  # statements after unrolling and inlining (verifier budget)



@dataclass(frozen=True)
class StateWord:
    """One state kind of the language and the IR state kind it becomes.

    Attributes:
        word: the language's word (``state s: WORD<...>``).
        ir_kind: the IR kind (one of :data:`cora.compiler.ir.STATE_KINDS`).
        n_params: type parameters between ``<`` and ``>``.
        form: how a declaration is written, for messages.
    """

    word: str
    ir_kind: str
    n_params: int
    form: str


#: The language's state kinds (docs/language.md, "State") -> the IR's kinds, defined once.
STATE_WORDS: dict[str, StateWord] = {w.word: w for w in (
    StateWord("map", "hash", 2, "map<K, V>[N]"),
    StateWord("lru_map", "lru_hash", 2, "lru_map<K, V>[N]"),
    StateWord("lpm", "lpm", 2, "lpm<ip4, V>[N]"),
    StateWord("array", "array", 1, "array<V>[N]"),
    StateWord("percpu_array", "percpu_array", 1, "percpu_array<V>[N]"),
    StateWord("countmin", "array", 2, "countmin<D, W>"),  # D*W u32 counters in one array
    StateWord("group", "devmap", 0, "group[N]"),  # multicast ports, filled by the control plane
)}
assert all(w.ir_kind in IR_STATE_KINDS for w in STATE_WORDS.values())

BUILTIN_VALUES = ("pkt", "flow")
#: ``add_overflows(a, b)`` ...: whether ``a + b`` (etc.) in the operands' common type does
#: not equal the exact mathematical result (docs/language.md, "Overflow tests").
OVERFLOW_FUNCS = {"add_overflows": "+", "sub_overflows": "-", "mul_overflows": "*"}
BUILTIN_FUNCS = ("now", "rand", "hash", *OVERFLOW_FUNCS)
VERDICT_WORDS = ("pass", "drop", "tx", "redirect", "multicast")
#: the options of ``multicast(group, OPTION)`` (docs/language.md, "Multicast")
MULTICAST_OPTIONS = ("exclude_ingress",)
ARITH_OPS = ("+", "-", "*", "/", "%", "&", "|", "^")
SHIFT_OPS = ("<<", ">>")
CMP_OPS = ("==", "!=", "<", "<=", ">", ">=")


# ------------------------------------------------------------------------------- symbols

@dataclass(frozen=True)
class LocalSym:
    """A local variable, parameter or loop variable; ``uid`` identifies its declaration."""

    name: str
    ty: T.Ty
    mutable: bool
    uid: int
    kind: str = "local"  # local | param | loop


@dataclass(frozen=True)
class ConstSym:
    """A constant: ``ty`` None for an untyped integer (takes its type from context).

    ``value`` is an int, or ``(addr, plen)`` for a prefix.
    """

    name: str
    ty: T.Ty | None
    value: int | tuple[int, int]
    line: int = 0

    @property
    def int_value(self) -> int:
        """The value of an integer constant (InternalError for a prefix)."""
        if not isinstance(self.value, int):
            raise InternalError(f"constant '{self.name}' is a prefix, not an integer")
        return self.value

    @property
    def prefix(self) -> tuple[int, int]:
        """``(addr, plen)`` of a prefix constant (InternalError for an integer)."""
        if isinstance(self.value, int):
            raise InternalError(f"constant '{self.name}' is an integer, not a prefix")
        return self.value


@dataclass(frozen=True)
class HeaderSym:
    name: str


@dataclass(frozen=True)
class UserField:
    """A field of a user-declared header.

    Attributes:
        name: field name.
        ty: its type (a scalar, or an array of scalars).
        bit: offset of its first bit from the start of the base header (``udp``), bits.
        bits: bits of one scalar (of one element of an array).
    """

    name: str
    ty: T.Ty
    bit: int
    bits: int


@dataclass(frozen=True)
class UserHeader:
    """A header declared with ``header NAME after PARENT.FIELD == VALUE { ... }``.

    Attributes:
        name: header name.
        base: the built-in header its offsets count from (``udp``).
        parent: ``udp`` or the user header it follows.
        field: the parent's field that selects it; ``value``: the value it must have.
        start: bytes from the base header's start to this header's start.
        length: bytes of this header.
        fields: its fields in wire order.
        decl: the declaration.
    """

    name: str
    base: str
    parent: str
    field: str
    value: int
    start: int
    length: int
    fields: tuple[UserField, ...]
    decl: A.HeaderDecl

    def field_named(self, name: str) -> UserField | None:
        """The field called ``name``, or None."""
        for f in self.fields:
            if f.name == name:
                return f
        return None


@dataclass(frozen=True)
class BuiltinSym:
    name: str  # pkt | flow


@dataclass
class StateInfo:
    """A checked state declaration.

    Attributes:
        name, kind: language name and kind (``map``, ``lru_map``, ``lpm``, ``array``,
            ``percpu_array``, ``countmin``).
        key_ty, value_ty: language types (arrays: key u32; countmin: key None, value u32).
        capacity: entries (countmin: depth*width).
        policy: full policy or None.
        key_fields, value_fields: IR ``(name, width)`` per flattened leaf.
        init: initial entries as (key ints, value ints).
        depth, width: countmin parameters.
    """

    name: str
    kind: str
    key_ty: T.Ty | None
    value_ty: T.Ty
    capacity: int
    policy: str | None
    key_fields: list[tuple[str, int]]
    value_fields: list[tuple[str, int]]
    init: list[tuple[tuple[int, ...], tuple[int, ...]]]
    decl: A.StateDecl
    depth: int = 0
    width: int = 0

    @property
    def ir_kind(self) -> str:
        return STATE_WORDS[self.kind].ir_kind

    @property
    def key_type(self) -> T.Ty:
        """The key's language type (an array's is u32). A countmin has none (any value is
        hashed): the checker never asks, and asking raises InternalError."""
        if self.key_ty is None:
            raise InternalError(f"countmin '{self.name}' has no key type")
        return self.key_ty

    @property
    def mem_bytes(self) -> int:
        """Bytes of key and value storage at full capacity (C layout of the fields)."""
        decl = IRStateDecl(self.name, self.ir_kind,
                           tuple(IRStateField(n, w) for n, w in self.key_fields),
                           tuple(IRStateField(n, w) for n, w in self.value_fields),
                           self.capacity)
        return (decl.key_bytes + decl.value_bytes) * self.capacity


@dataclass(frozen=True)
class StateSym:
    info: StateInfo


@dataclass
class FnInfo:
    name: str
    params: list[tuple[str, T.Ty, int]]  # (name, type, uid)
    ret: T.Ty
    decl: A.FnDecl


@dataclass(frozen=True)
class FnSym:
    info: FnInfo


#: What a name can resolve to.
Symbol = LocalSym | ConstSym | HeaderSym | BuiltinSym | StateSym | FnSym


class Scope:
    """Local names of one block, chained to the enclosing blocks' scopes."""

    def __init__(self, parent: Scope | None = None):
        self.parent = parent
        self.names: dict[str, LocalSym] = {}

    def lookup(self, name: str) -> LocalSym | None:
        s: Scope | None = self
        while s is not None:
            if name in s.names:
                return s.names[name]
            s = s.parent
        return None

    def all_names(self) -> list[str]:
        out: list[str] = []
        s: Scope | None = self
        while s is not None:
            out += list(s.names)
            s = s.parent
        return out


def builtin_name(name: str) -> bool:
    """Whether ``name`` is reserved by the language (a header, ``pkt``/``flow``, a built-in
    function or constant, a scalar type, ``Flow`` or a verdict word) and so cannot name a
    declaration, a local, a parameter or a loop variable."""
    return name in HEADERS or name in BUILTIN_VALUES or name in BUILTIN_FUNCS or \
        name in BUILTIN_CONSTANTS or name in T.SCALARS or name == "Flow" or \
        name in VERDICT_WORDS
