"""Types of the cora NF language (docs/language.md, "Types") and how values flatten to registers.

Scalars (:class:`IntTy`) have a width and a kind (``uint``, ``bool``, ``ip4``, ``mac``,
``ip6``); tuples and structs flatten, depth first in field order, to a list of scalar leaves,
one IR register (and one state key/value field) per leaf.
"""

from __future__ import annotations

from dataclasses import dataclass

from cora.compiler.ir.headers import FLOW_FIELDS


class Ty:
    """Base of all language types."""


@dataclass(frozen=True)
class IntTy(Ty):
    """A scalar: ``bool`` (1 bit), ``u8``..``u64``, ``i8``..``i64`` (kind ``sint``, two's
    complement), ``ip4`` (32), ``mac`` (48), ``ip6`` (128)."""

    width: int
    kind: str = "uint"

    def __str__(self) -> str:
        if self.kind == "uint":
            return f"u{self.width}"
        if self.kind == "sint":
            return f"i{self.width}"
        return self.kind

    @property
    def is_numeric(self) -> bool:
        """Takes part in arithmetic (unsigned and signed integers and ip4)."""
        return self.kind in ("uint", "sint", "ip4")

    @property
    def signed(self) -> bool:
        """A signed integer (``i8``..``i64``): its register holds the two's-complement bits."""
        return self.kind == "sint"

    @property
    def min_value(self) -> int:
        """Smallest value: 0, or ``-2**(width-1)`` for a signed type."""
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max_value(self) -> int:
        """Largest value: ``2**width - 1``, or ``2**(width-1) - 1`` for a signed type."""
        return (1 << (self.width - (1 if self.signed else 0))) - 1


@dataclass(frozen=True)
class TupleTy(Ty):
    elems: tuple[Ty, ...]

    def __str__(self) -> str:
        return "(" + ", ".join(map(str, self.elems)) + ")"


@dataclass(frozen=True)
class ArrayTy(Ty):
    """``T[N]``: ``n`` elements of ``elem``, flattened like a tuple of ``n`` elements."""

    elem: Ty
    n: int

    def __str__(self) -> str:
        return f"{self.elem}[{self.n}]"


@dataclass(frozen=True)
class StructTy(Ty):
    name: str
    fields: tuple[tuple[str, Ty], ...]

    def __str__(self) -> str:
        return self.name

    def field(self, name: str) -> Ty | None:
        for n, t in self.fields:
            if n == name:
                return t
        return None


@dataclass(frozen=True)
class PrefixTy(Ty):
    """An IPv4 prefix (only in match patterns, ``in`` tests, lpm keys and constants)."""

    def __str__(self) -> str:
        return "prefix"


@dataclass(frozen=True)
class VoidTy(Ty):
    """The result of a function without ``-> T``."""

    def __str__(self) -> str:
        return "nothing"


@dataclass(frozen=True)
class ErrorTy(Ty):
    """The type of an expression that already produced an error (suppresses follow-ups)."""

    def __str__(self) -> str:
        return "<error>"


BOOL = IntTy(1, "bool")
U8, U16, U32, U64 = IntTy(8), IntTy(16), IntTy(32), IntTy(64)
I8, I16, I32, I64 = IntTy(8, "sint"), IntTy(16, "sint"), IntTy(32, "sint"), IntTy(64, "sint")
IP4, MAC, IP6 = IntTy(32, "ip4"), IntTy(48, "mac"), IntTy(128, "ip6")
PREFIX = PrefixTy()
VOID = VoidTy()
ERROR = ErrorTy()

SCALARS: dict[str, IntTy] = {
    "bool": BOOL, "u8": U8, "u16": U16, "u32": U32, "u64": U64, "i8": I8, "i16": I16,
    "i32": I32, "i64": I64, "ip4": IP4, "mac": MAC, "ip6": IP6,
}


def scalar(name: str) -> IntTy:
    """The scalar type called ``name`` (``u8``, ``ip4`` ...); raises KeyError."""
    return SCALARS[name]


FLOW = StructTy("Flow", tuple((name, SCALARS[t]) for name, t, _h, _f in FLOW_FIELDS))


def leaves(t: Ty) -> list[tuple[str, IntTy]]:
    """Flattened scalar leaves of ``t`` as ``(name, type)``.

    Names: struct fields by name, tuple elements ``f0, f1, ...``, nested ones joined by ``_``;
    a bare scalar has the single leaf name ``''``.
    """
    if isinstance(t, IntTy):
        return [("", t)]
    out: list[tuple[str, IntTy]] = []
    if isinstance(t, TupleTy):
        named = [(f"f{i}", e) for i, e in enumerate(t.elems)]
    elif isinstance(t, ArrayTy):
        named = [(f"e{i}", t.elem) for i in range(t.n)]
    elif isinstance(t, StructTy):
        named = list(t.fields)
    else:
        return []
    for name, sub in named:
        for leaf, lt in leaves(sub):
            out.append((f"{name}_{leaf}" if leaf else name, lt))
    return out


def width_sum(t: Ty) -> int:
    """Number of scalar leaves of ``t``."""
    if isinstance(t, ArrayTy):
        return t.n * width_sum(t.elem)
    return len(leaves(t))


def member(t: Ty, name: str) -> tuple[Ty, int] | None:
    """Field ``name`` of a tuple (``"0"``...) or struct: ``(field type, first leaf index)``."""
    if isinstance(t, TupleTy):
        if not name.isdigit() or int(name) >= len(t.elems):
            return None
        i = int(name)
        return t.elems[i], sum(width_sum(e) for e in t.elems[:i])
    if isinstance(t, StructTy):
        off = 0
        for n, ft in t.fields:
            if n == name:
                return ft, off
            off += width_sum(ft)
    return None


def elem_types(t: Ty) -> list[Ty] | None:
    """Field types in order for a tuple, struct or array (``n`` times its element), else
    None."""
    if isinstance(t, TupleTy):
        return list(t.elems)
    if isinstance(t, ArrayTy):
        return [t.elem] * t.n
    if isinstance(t, StructTy):
        return [ft for _n, ft in t.fields]
    return None


def is_error(*ts: Ty) -> bool:
    """Whether any of ``ts`` is the error type (an error was reported already)."""
    return any(isinstance(t, ErrorTy) for t in ts)


def assignable(src: Ty, dst: Ty) -> bool:
    """Whether a value of ``src`` may be used where ``dst`` is expected.

    Same type; any two numeric scalars of the same signedness where ``src`` is not wider
    (zero-extension, or sign-extension of a signed one; ``ip4`` and ``u32`` mix freely); an
    unsigned one into a strictly wider signed one (every value fits); tuples/structs whose
    fields are assignable in order. A signed value never converts implicitly to an unsigned
    type (``as`` does it).
    """
    if is_error(src, dst) or src == dst:
        return True
    if isinstance(src, IntTy) and isinstance(dst, IntTy):
        if not (src.is_numeric and dst.is_numeric):
            return False
        if src.signed == dst.signed:
            return src.width <= dst.width
        return dst.signed and src.kind == "uint" and src.width < dst.width
    a, b = elem_types(src), elem_types(dst)
    if a is not None and b is not None and len(a) == len(b):
        return all(assignable(x, y) for x, y in zip(a, b, strict=True))
    return False


def common_int(a: IntTy, b: IntTy) -> IntTy | None:
    """The type both operands of an arithmetic operator or comparison convert to, or None when
    they do not mix (signed with ``ip4``, or signed with an unsigned type as wide or wider):
    the wider one, ``ip4`` when both are ``ip4``."""
    if a.kind == "ip4" and b.kind == "ip4":
        return IP4
    if a.signed == b.signed:
        return IntTy(max(a.width, b.width), "sint" if a.signed else "uint")
    s, u = (a, b) if a.signed else (b, a)
    if u.kind == "uint" and u.width < s.width:
        return s
    return None


def state_width(t: IntTy) -> int:
    """Width of a scalar leaf when stored in state: bools take a byte (u8) for a clean layout."""
    return 8 if t.width == 1 else t.width
