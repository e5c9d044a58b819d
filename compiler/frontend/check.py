"""The type checker: resolves names, computes types and constants, and reports every error.

:func:`check_module` walks the whole AST once and returns a :class:`Checked` result: the
diagnostics (all of them, sorted) and, for a program without errors, everything the lowering
needs (types of expressions keyed by ``id(node)``, resolved names, constant values, state
layouts, loop bounds, match patterns). It never raises for a user's mistake.

Rules are those of docs/language.md; limits: capacity at most :data:`MAX_CAPACITY` entries,
state in total at most :data:`MAX_STATE_BYTES`, ``for`` at most :data:`MAX_LOOP_TRIPS`
iterations, calls nested at most :data:`MAX_INLINE_DEPTH` deep.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cora.compiler.frontend import ast as A
from cora.compiler.frontend import types as T
from cora.compiler.frontend.diagnostics import Diagnostic, did_you_mean, sort_diagnostics
from cora.compiler.ir.headers import BUILTIN_CONSTANTS, HEADERS
from cora.compiler.ir import StateDecl as IRStateDecl
from cora.compiler.ir import StateField as IRStateField

MAX_CAPACITY = 16_777_216
MAX_STATE_BYTES = 1 << 30
MAX_LOOP_TRIPS = 256
MAX_INLINE_DEPTH = 32
MAX_COUNTMIN_DEPTH = 16
MAX_UNROLLED_STMTS = 2_048  # statements after unrolling and inlining (verifier budget)

STATE_KINDS = ("map", "lru_map", "lpm", "array", "percpu_array", "countmin")
IR_KIND = {"map": "hash", "lru_map": "lru_hash", "lpm": "lpm", "array": "array",
           "percpu_array": "percpu_array", "countmin": "array"}
BUILTIN_VALUES = ("pkt", "flow")
BUILTIN_FUNCS = ("now", "rand", "hash")
VERDICT_WORDS = ("pass", "drop", "tx", "redirect")
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
    value: object
    line: int = 0


@dataclass(frozen=True)
class HeaderSym:
    name: str


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
        return IR_KIND[self.kind]

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


@dataclass
class Checked:
    """Everything the checker learned; ``diagnostics`` empty means the program is well typed.

    Side tables are keyed by ``id(node)`` of AST nodes of ``module``:
    ``types`` (expression -> type after literal typing), ``syms`` (Name -> symbol),
    ``values`` (constant-folded integer expressions -> int), ``loops`` (For -> (lo, hi)),
    ``patterns`` (pattern -> ("eq", v) | ("range", lo, hi) | ("prefix", net, mask) |
    ("wild",)), ``lpm_prefix`` (Index of an lpm store -> True when the key is ``addr/len``).
    """

    module: A.Module | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    structs: dict[str, T.StructTy] = field(default_factory=dict)
    consts: dict[str, ConstSym] = field(default_factory=dict)
    states: dict[str, StateInfo] = field(default_factory=dict)
    fns: dict[str, FnInfo] = field(default_factory=dict)
    entry: A.OnDecl | None = None
    types: dict[int, T.Ty] = field(default_factory=dict)
    syms: dict[int, object] = field(default_factory=dict)
    values: dict[int, int] = field(default_factory=dict)
    loops: dict[int, tuple[int, int]] = field(default_factory=dict)
    patterns: dict[int, tuple] = field(default_factory=dict)
    lpm_prefix: dict[int, bool] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)


class _Scope:
    def __init__(self, parent: "_Scope | None" = None):
        self.parent = parent
        self.names: dict[str, LocalSym] = {}

    def lookup(self, name: str) -> LocalSym | None:
        s = self
        while s is not None:
            if name in s.names:
                return s.names[name]
            s = s.parent
        return None

    def all_names(self) -> list[str]:
        out, s = [], self
        while s is not None:
            out += list(s.names)
            s = s.parent
        return out


def check_module(module: A.Module, path: str) -> Checked:
    """Check a parsed module; see :class:`Checked`. Never raises for user mistakes."""
    return _Checker(module, path).run()


def _mask(width: int) -> int:
    return (1 << width) - 1


def fold_binary(op: str, a: int, b: int, width: int) -> int:
    """Value of ``a op b`` on unsigned ``width``-bit integers with the IR's rules (ir.py)."""
    m = _mask(width)
    if op == "+":
        return (a + b) & m
    if op == "-":
        return (a - b) & m
    if op == "*":
        return (a * b) & m
    if op == "/":
        return 0 if b == 0 else a // b
    if op == "%":
        return a if b == 0 else a % b
    if op == "&":
        return a & b
    if op == "|":
        return a | b
    if op == "^":
        return a ^ b
    if op == "<<":
        return 0 if b >= width else (a << b) & m
    if op == ">>":
        return 0 if b >= width else a >> b
    raise ValueError(op)


class _Checker:
    def __init__(self, module: A.Module, path: str):
        self.m = module
        self.path = path
        self.out = Checked(module)
        self.diags = self.out.diagnostics
        self.top: dict[str, A.Node] = {}
        self.fn: FnInfo | None = None       # function being checked (None in on packet)
        self.calls: dict[str, list[tuple[str, A.Node]]] = {}  # caller -> [(callee, call)]
        self.uid = 0

    # ------------------------------------------------------------------ reporting
    def err(self, span: A.Span, message: str) -> None:
        self.diags.append(Diagnostic(self.path, span.line, span.col, message,
                                     length=span.length))

    def new_uid(self) -> int:
        self.uid += 1
        return self.uid

    # ------------------------------------------------------------------ driver
    def run(self) -> Checked:
        items = self.m.items
        builtin_names = set(HEADERS) | set(BUILTIN_VALUES) | set(BUILTIN_FUNCS) | \
            set(BUILTIN_CONSTANTS) | set(T.SCALARS) | {"Flow"}
        for it in items:
            if isinstance(it, A.OnDecl):
                continue
            if it.name in builtin_names:
                self.err(it.name_span, f"'{it.name}' is a built-in name; choose another name")
                continue
            if it.name in self.top:
                prev = self.top[it.name]
                self.err(it.name_span, f"'{it.name}' is already declared at line "
                                       f"{prev.span.line}")
                continue
            self.top[it.name] = it
        for c in BUILTIN_CONSTANTS:
            tname, value = BUILTIN_CONSTANTS[c]
            self.out.consts[c] = ConstSym(c, T.scalar(tname), value)
        for it in items:  # declarations in source order (each may use earlier ones)
            if isinstance(it, A.OnDecl) or self.top.get(it.name) is not it:
                continue  # the handler comes last; duplicates were reported above
            if isinstance(it, A.StructDecl):
                self.struct_decl(it)
            elif isinstance(it, A.ConstDecl):
                self.const_decl(it)
            elif isinstance(it, A.StateDecl):
                self.state_decl(it)
        total = 0
        for s in self.out.states.values():
            total += s.mem_bytes
            if total > MAX_STATE_BYTES:
                self.err(s.decl.name_span,
                         f"state totals {total:,} bytes with '{s.name}', over the limit of "
                         f"1 GiB ({MAX_STATE_BYTES:,} bytes); lower some capacities")
                break
        fns = [it for it in items if isinstance(it, A.FnDecl) and self.top.get(it.name) is it]
        for f in fns:
            self.fn_signature(f)
        for f in fns:
            if f.name in self.out.fns:
                self.fn_body(self.out.fns[f.name])
        ons = [it for it in items if isinstance(it, A.OnDecl)]
        if not ons:
            end = self.m.span if items else A.Span(1, 1, 1, 2)
            self.err(A.Span(end.line, end.col, end.line, end.col + 1),
                     "the program has no 'on packet { ... }' block; add one (it is the entry "
                     "point)")
        for i, on in enumerate(ons):
            if on.event != "packet":
                self.err(on.event_span, f"unknown event '{on.event}': the only event is "
                                        "'packet' (write 'on packet { ... }')")
                continue
            if i > 0 and self.out.entry is not None:
                self.err(on.span, f"more than one 'on packet' block (the first is at line "
                                  f"{self.out.entry.span.line}); merge them")
                continue
            self.out.entry = on
            self.fn = None
            self.block(on.body, _Scope())
        self.check_recursion()
        if self.out.entry is not None and not any(d.severity == "error" for d in self.diags):
            self.check_unrolled_size(self.out.entry)
        self.out.diagnostics[:] = sort_diagnostics(self.diags)
        return self.out

    # ------------------------------------------------------------------ types
    def resolve_type(self, node: A.Node) -> T.Ty:
        if isinstance(node, A.TupleType):
            elems = [self.resolve_type(e) for e in node.elems]
            if any(isinstance(e, T.ErrorTy) for e in elems):
                return T.ERROR
            return T.TupleTy(tuple(elems))
        if isinstance(node, A.IntArg):
            self.err(node.span, f"expected a type, found the number {node.value}")
            return T.ERROR
        name = node.name
        if name in T.SCALARS:
            return T.SCALARS[name]
        if name == "Flow":
            return T.FLOW
        if name in self.out.structs:
            return self.out.structs[name]
        decl = self.top.get(name)
        if isinstance(decl, A.StructDecl):
            self.err(node.span, f"struct '{name}' is used before its declaration at line "
                                f"{decl.span.line}; move it up")
            return T.ERROR
        cands = list(T.SCALARS) + ["Flow"] + list(self.out.structs) + \
            [n for n, d in self.top.items() if isinstance(d, A.StructDecl)]
        extra = ""
        if name in ("int", "uint", "u128", "i32", "i64", "int32", "uint32"):
            extra = " (integer types are u8, u16, u32, u64)"
        elif name in ("ipv4", "ip", "ipaddr"):
            extra = " (did you mean 'ip4'?)"
        self.err(node.span, f"unknown type '{name}'" + (extra or did_you_mean(name, cands)))
        return T.ERROR

    def struct_decl(self, d: A.StructDecl) -> None:
        fields, seen = [], set()
        ok = True
        for f in d.fields:
            if f.name in seen:
                self.err(f.span, f"field '{f.name}' appears twice in struct '{d.name}'")
                ok = False
                continue
            seen.add(f.name)
            ft = self.resolve_type(f.type)
            if isinstance(ft, T.ErrorTy):
                ok = False
            fields.append((f.name, ft))
        if not fields:
            self.err(d.name_span, f"struct '{d.name}' has no fields")
            ok = False
        self.out.structs[d.name] = T.StructTy(d.name, tuple(fields)) if ok else \
            T.StructTy(d.name, tuple(fields))

    # ------------------------------------------------------------------ constants
    def const_decl(self, d: A.ConstDecl) -> None:
        scope = _Scope()
        if d.type is not None:
            ty = self.resolve_type(d.type)
            if isinstance(ty, T.ErrorTy):
                self.out.consts[d.name] = ConstSym(d.name, T.ERROR, 0, d.span.line)
                return
            if not isinstance(ty, T.IntTy):
                self.err(d.type.span, f"constants must be integers, booleans or addresses, "
                                      f"not {ty}")
                self.out.consts[d.name] = ConstSym(d.name, T.ERROR, 0, d.span.line)
                return
            got = self.want(d.value, ty, scope)
            value = self.const_int(d.value) if not T.is_error(got) else 0
            if value is None:
                self.err(d.value.span, "a constant's value must be computable at compile time "
                                       "(literals and earlier constants only)")
                value = 0
            self.out.consts[d.name] = ConstSym(d.name, ty, value, d.span.line)
            return
        v = d.value
        if isinstance(v, A.PrefixLit):
            self.out.types[id(v)] = T.PREFIX
            self.out.consts[d.name] = ConstSym(d.name, T.PREFIX, (v.addr, v.plen), d.span.line)
            return
        if self.untyped(v, scope):
            value = self.fold_untyped(v, None)
            self.out.consts[d.name] = ConstSym(d.name, None, value, d.span.line)
            return
        ty = self.expr(v, None, scope)
        if T.is_error(ty):
            self.out.consts[d.name] = ConstSym(d.name, T.ERROR, 0, d.span.line)
            return
        if not isinstance(ty, T.IntTy):
            self.err(v.span, f"constants must be integers, booleans, addresses or prefixes, "
                             f"not {ty}")
            self.out.consts[d.name] = ConstSym(d.name, T.ERROR, 0, d.span.line)
            return
        value = self.const_int(v)
        if value is None:
            self.err(v.span, "a constant's value must be computable at compile time "
                             "(literals and earlier constants only)")
            value = 0
        self.out.consts[d.name] = ConstSym(d.name, ty, value, d.span.line)

    def untyped(self, e: A.Node, scope: _Scope) -> bool:
        """Integer literal arithmetic whose type comes from context."""
        if isinstance(e, A.IntLit):
            return True
        if isinstance(e, A.Name):
            if scope.lookup(e.id) is not None:
                return False
            c = self.out.consts.get(e.id)
            return c is not None and c.ty is None
        if isinstance(e, A.Unary):
            return e.op in ("-", "~") and self.untyped(e.operand, scope)
        if isinstance(e, A.Binary):
            return e.op in ARITH_OPS + SHIFT_OPS and self.untyped(e.left, scope) and \
                self.untyped(e.right, scope)
        return False

    def fold_untyped(self, e: A.Node, ty: T.IntTy | None) -> int:
        """Value of an untyped expression; ``ty`` None = exact (for untyped constants)."""
        if isinstance(e, A.IntLit):
            return e.value
        if isinstance(e, A.Name):
            return self.out.consts[e.id].value
        width = ty.width if ty is not None else 64
        if isinstance(e, A.Unary):
            v = self.fold_untyped(e.operand, ty)
            return (-v if e.op == "-" else ~v) & _mask(width)
        a, b = self.fold_untyped(e.left, ty), self.fold_untyped(e.right, ty)
        if ty is None and e.op in ("+", "*", "<<") :
            r = a + b if e.op == "+" else a * b if e.op == "*" else (a << b if b < 64 else 0)
            return r if r < (1 << 64) else r & _mask(64)
        return fold_binary(e.op, a & _mask(width), b & _mask(width), width)

    def const_int(self, e: A.Node) -> int | None:
        """Compile-time value of a checked scalar expression, or None if not constant."""
        info = self.out
        if id(e) in info.values:
            return info.values[id(e)]
        if isinstance(e, A.IntLit):
            return e.value
        if isinstance(e, (A.Ip4Lit, A.MacLit)):
            return e.value
        if isinstance(e, A.BoolLit):
            return int(e.value)
        if isinstance(e, A.Name):
            sym = info.syms.get(id(e))
            if isinstance(sym, ConstSym) and isinstance(sym.value, int):
                return sym.value
            return None
        ty = info.types.get(id(e))
        if not isinstance(ty, T.IntTy):
            return None
        if isinstance(e, A.Unary):
            v = self.const_int(e.operand)
            if v is None:
                return None
            if e.op == "!":
                return 1 - v
            return (-v if e.op == "-" else ~v) & _mask(ty.width)
        if isinstance(e, A.Cast):
            v = self.const_int(e.expr)
            return None if v is None else v & _mask(ty.width)
        if isinstance(e, A.Binary):
            a, b = self.const_int(e.left), self.const_int(e.right)
            if a is None or b is None:
                return None
            if e.op in CMP_OPS:
                return int({"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b,
                            ">": a > b, ">=": a >= b}[e.op])
            if e.op == "&&":
                return a & b
            if e.op == "||":
                return a | b
            if e.op in ARITH_OPS + SHIFT_OPS:
                w = ty.width
                if e.op in SHIFT_OPS:
                    lt = info.types.get(id(e.left))
                    w = lt.width if isinstance(lt, T.IntTy) else w
                return fold_binary(e.op, a, b, w)
        return None

    def const_leaves(self, e: A.Node) -> list[int] | None:
        """Flattened constant value of a checked expression of any value type, or None."""
        if isinstance(e, A.TupleLit):
            out = []
            for x in e.elems:
                v = self.const_leaves(x)
                if v is None:
                    return None
                out += v
            return out
        if isinstance(e, A.StructLit):
            st = self.out.types.get(id(e))
            if not isinstance(st, T.StructTy):
                return None
            by = {f.name: f.value for f in e.fields}
            out = []
            for n, _t in st.fields:
                if n not in by:
                    return None
                v = self.const_leaves(by[n])
                if v is None:
                    return None
                out += v
            return out
        v = self.const_int(e)
        return None if v is None else [v]

    def const_expr_int(self, e: A.Node, what: str, ty: T.IntTy = T.U64) -> int | None:
        """Check ``e`` as a compile-time integer for ``what``; reports and returns None if not."""
        got = self.want(e, ty, _Scope())
        if T.is_error(got):
            return None
        v = self.const_int(e)
        if v is None:
            self.err(e.span, f"{what} must be a constant (a literal or a 'const')")
        return v

    # ------------------------------------------------------------------ state
    def state_decl(self, d: A.StateDecl) -> None:
        kind = d.kind
        if kind not in STATE_KINDS:
            hint = did_you_mean(kind, STATE_KINDS)
            if kind in ("hash", "hashmap", "hash_map"):
                hint = " (did you mean 'map'?)"
            elif kind in ("lru", "lru_hash"):
                hint = " (did you mean 'lru_map'?)"
            self.err(d.kind_span, f"unknown state kind '{kind}'{hint}; the kinds are "
                                  + ", ".join(STATE_KINDS))
            return
        nargs = {"map": 2, "lru_map": 2, "lpm": 2, "array": 1, "percpu_array": 1,
                 "countmin": 2}[kind]
        form = {"map": "map<K, V>[N]", "lru_map": "lru_map<K, V>[N]", "lpm": "lpm<ip4, V>[N]",
                "array": "array<V>[N]", "percpu_array": "percpu_array<V>[N]",
                "countmin": "countmin<D, W>"}[kind]
        if len(d.args) != nargs:
            self.err(d.kind_span, f"{kind} takes {nargs} parameter{'s' if nargs > 1 else ''} "
                                  f"({form}), got {len(d.args)}")
            return
        ok = True
        depth = width = 0
        key_ty: T.Ty | None
        if kind == "countmin":
            vals = []
            for a, what in zip(d.args, ("depth D", "width W")):
                v = self.targ_int(a, f"countmin {what}")
                if v is None:
                    ok = False
                elif v < 1:
                    self.err(a.span, f"countmin {what} must be at least 1")
                    ok = False
                vals.append(v or 1)
            depth, width = vals
            if ok and depth > MAX_COUNTMIN_DEPTH:
                self.err(d.args[0].span, f"countmin depth {depth} is over the limit of "
                                         f"{MAX_COUNTMIN_DEPTH} rows")
                ok = False
            key_ty, value_ty = None, T.U32
            capacity = depth * width
            if d.capacity is not None:
                self.err(d.capacity.span, f"countmin<D, W> has no capacity: its size is D*W "
                                          f"counters; remove '[...]'")
                ok = False
            if ok and capacity > MAX_CAPACITY:
                self.err(d.kind_span, f"countmin<{depth}, {width}> has {capacity:,} counters, "
                                      f"over the limit of {MAX_CAPACITY:,}")
                ok = False
        else:
            types = [self.resolve_type(a) for a in d.args]
            if any(T.is_error(t) for t in types):
                ok = False
            if kind in ("array", "percpu_array"):
                key_ty, value_ty = T.U32, types[0]
            else:
                key_ty, value_ty = types
            for a, t in zip(d.args, types):
                if isinstance(t, (T.PrefixTy, T.VoidTy)):
                    self.err(a.span, f"{t} cannot be stored in state")
                    ok = False
            if kind == "lpm" and ok and key_ty not in (T.IP4, T.IP6):
                self.err(d.args[0].span, f"the key of an lpm must be ip4 (or ip6), not {key_ty}")
                ok = False
            capacity = 0
            if d.capacity is None:
                self.err(d.kind_span, f"state '{d.name}' needs a capacity: write {form}, e.g. "
                                 f"{form.replace('[N]', '[1024]')}")
                ok = False
            else:
                cap = self.const_expr_int(d.capacity, "a capacity")
                if cap is None:
                    ok = False
                elif cap < 1:
                    self.err(d.capacity.span, f"the capacity of '{d.name}' must be at least 1")
                    ok = False
                elif cap > MAX_CAPACITY:
                    self.err(d.capacity.span, f"capacity {cap:,} of '{d.name}' is over the "
                                              f"limit of {MAX_CAPACITY:,} entries")
                    ok = False
                else:
                    capacity = cap
        # full policy
        policy = d.policy
        pspan = d.policy_span or d.kind_span
        if kind in ("map", "lpm"):
            if policy is None:
                self.err(d.name_span, f"state '{d.name}' ({kind}) can fill up: say what happens to a "
                                 f"new key then with 'on_full skip', 'on_full drop' or "
                                 f"'on_full pass' before the ';'")
                ok = False
            elif policy not in ("skip", "drop", "pass"):
                extra = " (only lru_map evicts)" if policy == "evict" else ""
                self.err(pspan, f"unknown full policy '{policy}' for {kind}: write 'skip', "
                                f"'drop' or 'pass'{extra}")
                ok = False
        elif kind == "lru_map":
            if policy is None:
                self.err(d.name_span, f"lru_map '{d.name}' evicts the least recently used entry "
                                 f"when full: write 'on_full evict' before the ';'")
                ok = False
            elif policy != "evict":
                self.err(pspan, f"lru_map evicts when full: write 'on_full evict', not "
                                f"'on_full {policy}' (use map<K, V> for skip/drop/pass)")
                ok = False
        elif policy is not None:
            self.err(pspan, f"{kind} never fills up, so it takes no full policy; remove "
                            f"'on_full {policy}'")
            ok = False
        if not ok:
            return
        # layout
        if kind == "countmin":
            key_fields, value_fields = [("index", 32)], [("count", 32)]
        else:
            if kind in ("array", "percpu_array"):
                key_fields = [("index", 32)]
            elif kind == "lpm":
                key_fields = [("addr", key_ty.width)]
            else:
                key_fields = [(n or "key", T.state_width(t)) for n, t in T.leaves(key_ty)]
            value_fields = [(n or "value", T.state_width(t)) for n, t in T.leaves(value_ty)]
        info = StateInfo(d.name, kind, key_ty, value_ty, capacity,
                         policy if kind != "countmin" else None, key_fields, value_fields, [],
                         d, depth, width)
        if d.init is not None:
            info.init = self.state_init(d, info)
        self.out.states[d.name] = info

    def targ_int(self, a: A.Node, what: str) -> int | None:
        if isinstance(a, A.IntArg):
            return a.value
        if isinstance(a, A.TypeName):
            c = self.out.consts.get(a.name)
            if c is not None and isinstance(c.value, int) and not T.is_error(c.ty or T.U32):
                return c.value
            self.err(a.span, f"{what} must be a constant integer, '{a.name}' is not one"
                             + did_you_mean(a.name, self.out.consts))
            return None
        self.err(a.span, f"{what} must be a constant integer")
        return None

    def state_init(self, d: A.StateDecl, info: StateInfo):
        entries = []
        if info.kind == "countmin":
            self.err(d.span, "a countmin sketch has no initial entries")
            return []
        if len(d.init) > info.capacity:
            self.err(d.init[info.capacity].span, f"{len(d.init)} initial entries do not fit "
                                                 f"the capacity {info.capacity}")
            return []
        scope = _Scope()
        seen = set()
        for entry in d.init:
            key = None
            if info.kind == "lpm":
                k = entry.key
                if isinstance(k, A.PrefixLit):
                    self.out.types[id(k)] = T.PREFIX
                    key = (k.addr, k.plen)
                elif isinstance(k, A.Name) and isinstance(self.out.consts.get(k.id), ConstSym) \
                        and self.out.consts[k.id].ty == T.PREFIX:
                    key = self.out.consts[k.id].value
                else:
                    got = self.want(k, info.key_ty, scope)
                    if not T.is_error(got):
                        v = self.const_int(k)
                        if v is None:
                            self.err(k.span, "initial keys must be constants")
                        else:
                            key = (v, info.key_ty.width)
            elif info.kind in ("array", "percpu_array"):
                v = self.const_expr_int(entry.key, "an array index", T.U32)
                if v is not None:
                    if v >= info.capacity:
                        self.err(entry.key.span, f"index {v} is out of range for "
                                                 f"'{info.name}' ({info.capacity} slots)")
                    else:
                        key = (v,)
            else:
                got = self.want(entry.key, info.key_ty, scope)
                if not T.is_error(got):
                    v = self.const_leaves(entry.key)
                    if v is None:
                        self.err(entry.key.span, "initial keys must be constants")
                    else:
                        key = tuple(v)
            got = self.want(entry.value, info.value_ty, scope)
            value = None
            if not T.is_error(got):
                v = self.const_leaves(entry.value)
                if v is None:
                    self.err(entry.value.span, "initial values must be constants")
                else:
                    value = tuple(v)
            if key is not None and value is not None:
                if key in seen:
                    self.err(entry.key.span, "this key appears twice in the initial entries")
                    continue
                seen.add(key)
                entries.append((key, value))
        return entries

    # ------------------------------------------------------------------ functions
    def fn_signature(self, f: A.FnDecl) -> None:
        params, seen = [], set()
        for p in f.params:
            if p.name in seen:
                self.err(p.span, f"parameter '{p.name}' appears twice")
                continue
            seen.add(p.name)
            pt = self.resolve_type(p.type)
            if isinstance(pt, T.PrefixTy):
                self.err(p.type.span, "a parameter cannot be a prefix")
                pt = T.ERROR
            params.append((p.name, pt, self.new_uid()))
        ret = self.resolve_type(f.ret) if f.ret is not None else T.VOID
        self.out.fns[f.name] = FnInfo(f.name, params, ret, f)

    def fn_body(self, info: FnInfo) -> None:
        self.fn = info
        scope = _Scope()
        for name, pt, uid in info.params:
            scope.names[name] = LocalSym(name, pt, True, uid, "param")
        self.block(info.decl.body, scope)
        if not isinstance(info.ret, (T.VoidTy, T.ErrorTy)) and not self.always_ends(info.decl.body):
            self.err(info.decl.name_span, f"function '{info.name}' can reach its end without "
                                          f"returning a {info.ret}; add a 'return'")
        self.fn = None

    def always_ends(self, node) -> bool:
        """Whether every path through ``node`` ends in return or a verdict."""
        if isinstance(node, A.Block):
            return any(self.always_ends(s) for s in node.stmts)
        if isinstance(node, (A.Return, A.Verdict)):
            return True
        if isinstance(node, A.If):
            return node.els is not None and self.always_ends(node.then) and \
                self.always_ends(node.els)
        if isinstance(node, A.Match):
            has_wild = any(isinstance(p, A.PatWild) for a in node.arms for p in a.patterns)
            return has_wild and all(self.always_ends(a.body) for a in node.arms)
        return False

    def stmt_cost(self, node, memo: dict) -> int:
        """Statements ``node`` becomes after unrolling loops and inlining calls."""
        if isinstance(node, A.Block):
            return sum(self.stmt_cost(s, memo) for s in node.stmts)
        if isinstance(node, A.For):
            lo, hi = self.out.loops.get(id(node), (0, 0))
            return 1 + max(0, hi - lo) * self.stmt_cost(node.body, memo)
        if isinstance(node, A.If):
            return 1 + self.stmt_cost(node.then, memo) + \
                (self.stmt_cost(node.els, memo) if node.els is not None else 0)
        if isinstance(node, A.Match):
            return 1 + sum(self.stmt_cost(a.body, memo) for a in node.arms)
        return 1 + self.calls_cost(node, memo)

    def calls_cost(self, node, memo: dict) -> int:
        """Inlined statements of the user functions called inside expression/statement ``node``."""
        total = 0
        stack = [node]
        while stack:
            n = stack.pop()
            if isinstance(n, A.Call) and isinstance(n.func, A.Name) and \
                    isinstance(self.out.syms.get(id(n.func)), FnSym):
                name = n.func.id
                if name not in memo:
                    memo[name] = 0  # (recursion was rejected before)
                    memo[name] = self.stmt_cost(self.out.fns[name].decl.body, memo)
                total += memo[name]
            if isinstance(n, A.Node):
                for v in vars(n).values():
                    if isinstance(v, A.Node):
                        stack.append(v)
                    elif isinstance(v, tuple):
                        stack.extend(x for x in v if isinstance(x, A.Node))
        return total

    def check_unrolled_size(self, entry: A.OnDecl) -> None:
        memo: dict = {}
        total = self.stmt_cost(entry.body, memo)
        if total <= MAX_UNROLLED_STMTS:
            return
        node = entry.body  # point at the loop that makes it big
        where = entry
        while True:
            kids = [s for s in getattr(node, "stmts", ())] if isinstance(node, A.Block) else \
                [node.body] if isinstance(node, A.For) else \
                [x for x in (getattr(node, "then", None), getattr(node, "els", None)) if x] + \
                [a.body for a in getattr(node, "arms", ())]
            if not kids:
                break
            node = max(kids, key=lambda k: self.stmt_cost(k, memo))
            if isinstance(node, A.For):
                where = node
                break
            if not isinstance(node, (A.Block, A.If, A.Match)):
                break  # no loop to blame: point at 'on packet'
        if where is entry:
            where = A.Span(entry.span.line, entry.span.col, entry.event_span.end_line,
                           entry.event_span.end_col)
        else:
            where = where.span
        self.err(where, f"after unrolling loops and inlining functions this program has "
                        f"about {total:,} statements; at most {MAX_UNROLLED_STMTS:,} are allowed "
                        f"(the kernel verifier's budget): lower loop bounds or shorten the "
                        f"program")

    def check_recursion(self) -> None:
        graph = self.calls
        reported = set()
        for start in list(graph):
            # DFS for a cycle back to start
            stack = [(start, [start])]
            seen = set()
            while stack:
                node, path = stack.pop()
                for callee, call in graph.get(node, ()):
                    if callee == start:
                        key = frozenset(path)
                        if key not in reported:
                            reported.add(key)
                            chain = " -> ".join(path + [start])
                            self.err(call.span, f"recursive call: {chain}; functions are "
                                                f"inlined, so recursion is not allowed (use a "
                                                f"bounded 'for' loop)")
                        continue
                    if callee not in seen:
                        seen.add(callee)
                        stack.append((callee, path + [callee]))
        # depth of the (acyclic part of the) call tree
        depth_memo: dict[str, int] = {}

        def depth(name: str, trail: tuple) -> int:
            if name in depth_memo:
                return depth_memo[name]
            if name in trail or len(trail) > MAX_INLINE_DEPTH + 2:
                return 0
            d = 1 + max((depth(c, trail + (name,)) for c, _ in graph.get(name, ())), default=0)
            depth_memo[name] = d
            return d

        if not reported:
            for name in list(graph):
                if name != "" and depth(name, ()) > MAX_INLINE_DEPTH:
                    f = self.out.fns[name]
                    self.err(f.decl.name_span, f"calls nested more than {MAX_INLINE_DEPTH} deep "
                                               f"starting at '{name}'; flatten them")
                    break

    # ------------------------------------------------------------------ statements
    def block(self, b: A.Block, parent: _Scope) -> None:
        scope = _Scope(parent)
        for s in b.stmts:
            self.stmt(s, scope)

    def stmt(self, s: A.Node, scope: _Scope) -> None:
        meth = getattr(self, "s_" + type(s).__name__)
        meth(s, scope)

    def s_Block(self, s: A.Block, scope: _Scope) -> None:
        self.block(s, scope)

    def s_Let(self, s: A.Let, scope: _Scope) -> None:
        if s.type is not None:
            ty = self.resolve_type(s.type)
            if isinstance(ty, T.PrefixTy):
                self.err(s.type.span, "a local cannot hold a prefix; use a 'const'")
                ty = T.ERROR
            self.want(s.value, ty, scope)
        else:
            ty = self.value_expr(s.value, None, scope)
        if s.name in HEADERS or s.name in BUILTIN_VALUES or s.name in VERDICT_WORDS:
            self.err(s.span, f"'{s.name}' is a built-in name; choose another name")
        scope.names[s.name] = LocalSym(s.name, ty, True, self.new_uid())
        self.out.syms[id(s)] = scope.names[s.name]

    def s_ExprStmt(self, s: A.ExprStmt, scope: _Scope) -> None:
        e = s.expr
        if not isinstance(e, A.Call):
            self.expr(e, None, scope)
            self.err(e.span, "this expression does nothing; only calls can stand alone as "
                             "statements (did you mean an assignment '='?)")
            return
        self.expr(e, None, scope, stmt=True)

    def s_If(self, s: A.If, scope: _Scope) -> None:
        self.cond(s.cond, scope)
        self.block(s.then, scope)
        if isinstance(s.els, A.If):
            self.s_If(s.els, scope)
        elif s.els is not None:
            self.block(s.els, scope)

    def cond(self, e: A.Node, scope: _Scope) -> None:
        t = self.expr(e, T.BOOL, scope)
        if not T.is_error(t) and t != T.BOOL:
            hint = " (compare it, e.g. 'x != 0')" if isinstance(t, T.IntTy) else ""
            self.err(e.span, f"a condition must be bool, found {t}{hint}")

    def s_Match(self, s: A.Match, scope: _Scope) -> None:
        st = self.value_expr(s.subject, None, scope)
        if not T.is_error(st) and not isinstance(st, T.IntTy):
            self.err(s.subject.span, f"match works on integers, booleans and addresses, "
                                     f"not {st}")
            st = T.ERROR
        for arm in s.arms:
            for p in arm.patterns:
                self.pattern(p, st, scope)
            self.block(arm.body, scope)

    def pattern(self, p: A.Node, st: T.Ty, scope: _Scope) -> None:
        if isinstance(p, A.PatWild):
            self.out.patterns[id(p)] = ("wild",)
            return
        if T.is_error(st):
            return
        if isinstance(p, A.PatRange):
            if not st.is_numeric:
                self.err(p.span, f"a range pattern needs an integer subject, not {st}")
                return
            lo, hi = self.pat_const(p.lo, st, scope), self.pat_const(p.hi, st, scope)
            if lo is None or hi is None:
                return
            if lo > hi:
                self.err(p.span, f"empty range {lo}..{hi}: the low end must not be above the "
                                 f"high end")
                return
            self.out.patterns[id(p)] = ("range", lo, hi)
            return
        v = p.value
        prefix = None
        if isinstance(v, A.PrefixLit):
            prefix = (v.addr, v.plen)
            self.out.types[id(v)] = T.PREFIX
        elif isinstance(v, A.Name) and scope.lookup(v.id) is None and \
                getattr(self.out.consts.get(v.id), "ty", None) == T.PREFIX:
            prefix = self.out.consts[v.id].value
            self.out.syms[id(v)] = self.out.consts[v.id]
        if prefix is not None:
            if not (st.is_numeric and st.width == 32):
                self.err(p.span, f"a prefix pattern needs an ip4 subject, not {st}")
                return
            addr, plen = prefix
            mask = (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF
            self.out.patterns[id(p)] = ("prefix", addr & mask, mask)
            return
        value = self.pat_const(v, st, scope)
        if value is not None:
            self.out.patterns[id(p)] = ("eq", value)

    def pat_const(self, e: A.Node, st: T.IntTy, scope: _Scope) -> int | None:
        if isinstance(e, A.Name) and scope.lookup(e.id) is not None:
            self.err(e.span, f"patterns must be constants; '{e.id}' is a variable (compare "
                             f"with 'if ({e.id} == ...)' instead)")
            return None
        got = self.want(e, st, scope)
        if T.is_error(got):
            return None
        v = self.const_int(e)
        if v is None:
            self.err(e.span, "patterns must be constants")
        return v

    def s_For(self, s: A.For, scope: _Scope) -> None:
        lo = self.loop_bound(s.lo, scope)
        hi = self.loop_bound(s.hi, scope)
        if lo is not None and hi is not None:
            if hi < lo:
                self.err(s.hi.span, f"empty range {lo}..{hi}: the end of a 'for' range must not "
                                    f"be below its start (the end is exclusive)")
            elif hi - lo > MAX_LOOP_TRIPS:
                self.err(s.hi.span, f"this loop runs {hi - lo} times; at most "
                                    f"{MAX_LOOP_TRIPS} iterations are allowed (loops are "
                                    f"unrolled)")
            else:
                self.out.loops[id(s)] = (lo, hi)
        inner = _Scope(scope)
        inner.names[s.var] = LocalSym(s.var, T.U32, False, self.new_uid(), "loop")
        self.out.syms[id(s)] = inner.names[s.var]
        self.block(s.body, inner)

    def loop_bound(self, e: A.Node, scope: _Scope) -> int | None:
        n = len(self.diags)
        t = self.expr(e, T.U32, scope)
        if len(self.diags) > n or T.is_error(t):
            return None
        if not (isinstance(t, T.IntTy) and t.is_numeric):
            self.err(e.span, f"a loop bound must be an integer, found {t}")
            return None
        v = self.const_int(e)
        if v is None:
            self.err(e.span, "loop bounds must be constants (a literal or a 'const'), so the "
                             "loop can be unrolled")
        return v

    def s_Verdict(self, s: A.Verdict, scope: _Scope) -> None:
        if s.port is not None:
            self.want(s.port, T.U32, scope)

    def s_Return(self, s: A.Return, scope: _Scope) -> None:
        if self.fn is None:
            self.err(s.span, "'return' outside a function; to end processing in 'on packet' "
                             "use a verdict (pass; drop; tx; redirect(port);)")
            if s.value is not None:
                self.expr(s.value, None, scope)
            return
        ret = self.fn.ret
        if s.value is None:
            if not isinstance(ret, (T.VoidTy, T.ErrorTy)):
                self.err(s.span, f"function '{self.fn.name}' must return a {ret}")
            return
        if isinstance(ret, T.VoidTy):
            self.err(s.value.span, f"function '{self.fn.name}' returns nothing; declare it "
                                   f"'-> T' to return a value")
            self.expr(s.value, None, scope)
            return
        self.want(s.value, ret, scope)

    def s_Delete(self, s: A.Delete, scope: _Scope) -> None:
        t = s.target
        if not isinstance(t, A.Index) or not isinstance(t.obj, A.Name) or \
                not isinstance(self.global_sym(t.obj.id, scope), StateSym):
            self.err(t.span, "delete takes a state entry: 'delete s[key];'")
            return
        info = self.global_sym(t.obj.id, scope).info
        self.out.syms[id(t.obj)] = StateSym(info)
        if info.kind in ("array", "percpu_array", "countmin"):
            self.err(t.span, f"entries of {info.kind} '{info.name}' cannot be deleted (it has a "
                             f"fixed set of slots); write a zero value instead")
            return
        self.want(t.index, info.key_ty, scope)

    def s_Assign(self, s: A.Assign, scope: _Scope) -> None:
        tt = self.place(s.target, scope)
        root = s.target
        while isinstance(root, A.Field):
            root = root.obj
        if isinstance(root, A.Index) and self.out.lpm_prefix.get(id(root)) and \
                (s.op != "=" or root is not s.target):
            self.err(s.op_span, "a prefix key (addr/len) only inserts a whole entry with '='; "
                                "to update an entry, index the lpm with an address")
            tt = T.ERROR
        op = s.op[:-1] if s.op != "=" else None
        if T.is_error(tt):
            self.expr(s.value, None, scope)
            return
        if op is None:
            self.want(s.value, tt, scope)
            return
        if not isinstance(tt, T.IntTy) or not (tt.is_numeric or (tt == T.BOOL and op in "&|^")):
            self.err(s.op_span, f"'{s.op}' needs an integer on the left, found {tt}")
            self.expr(s.value, None, scope)
            return
        if op in SHIFT_OPS:
            vt = self.value_expr(s.value, None, scope)
            if not T.is_error(vt) and not (isinstance(vt, T.IntTy) and vt.is_numeric):
                self.err(s.value.span, f"a shift amount must be an integer, found {vt}")
            return
        self.want(s.value, tt, scope)

    # ------------------------------------------------------------------ places
    def place(self, e: A.Node, scope: _Scope) -> T.Ty:
        """Type of an assignment target; reports targets that cannot be written."""
        if isinstance(e, A.Name):
            loc = scope.lookup(e.id)
            if loc is not None:
                self.out.syms[id(e)] = loc
                if not loc.mutable:
                    self.err(e.span, f"cannot assign to the loop variable '{e.id}'")
                    return T.ERROR
                self.out.types[id(e)] = loc.ty
                return loc.ty
            sym = self.global_sym(e.id, scope)
            if isinstance(sym, ConstSym):
                self.err(e.span, f"cannot assign to the constant '{e.id}'")
            elif isinstance(sym, StateSym):
                self.err(e.span, f"cannot assign to the state '{e.id}' itself; write "
                                 f"{e.id}[key] = value")
            elif isinstance(sym, HeaderSym):
                self.err(e.span, f"cannot assign to the header '{e.id}'; assign its fields, "
                                 f"e.g. {e.id}.{HEADERS[e.id].fields[0].name}")
            elif isinstance(sym, BuiltinSym):
                self.err(e.span, f"'{e.id}' is read-only")
            elif isinstance(sym, FnSym):
                self.err(e.span, f"cannot assign to the function '{e.id}'")
            else:
                self.undefined(e, scope)
            return T.ERROR
        if isinstance(e, A.Field):
            root = e.obj
            if isinstance(root, A.Name) and scope.lookup(root.id) is None:
                sym = self.global_sym(root.id, scope)
                if isinstance(sym, HeaderSym):
                    h = HEADERS[root.id]
                    f = h.field(e.name)
                    if e.name == "valid":
                        self.err(e.name_span, f"'{root.id}.valid' is read-only: it says whether "
                                              f"the parser found the header")
                        return T.ERROR
                    if f is None:
                        self.err(e.name_span, f"unknown field '{e.name}' of header {root.id}"
                                 + did_you_mean(e.name, [x.name for x in h.fields]))
                        return T.ERROR
                    if f.readonly:
                        why = "the compiler fixes checksums" if root.id in ("ipv4", "tcp", "udp", "icmp") and e.name == "csum" \
                            else "it steers the packet parser or is computed by the compiler"
                        self.err(e.span, f"{root.id}.{e.name} is read-only ({why})")
                        return T.ERROR
                    ty = T.scalar(f.type_name)
                    self.out.types[id(e)] = ty
                    self.out.syms[id(root)] = sym
                    return ty
                if isinstance(sym, BuiltinSym):
                    what = "ipv4.saddr and the other header fields" if root.id == "flow" \
                        else "header fields"
                    self.err(e.span, f"'{root.id}.{e.name}' is read-only; write {what} instead")
                    return T.ERROR
            base = self.place(root, scope)
            if T.is_error(base):
                return T.ERROR
            m = T.member(base, e.name)
            if m is None:
                self.no_member(e, base)
                return T.ERROR
            self.out.types[id(e)] = m[0]
            return m[0]
        if isinstance(e, A.Index):
            if not isinstance(e.obj, A.Name) or not isinstance(self.global_sym(e.obj.id, scope),
                                                                StateSym) \
                    or scope.lookup(e.obj.id) is not None:
                if not T.is_error(self.expr(e.obj, None, scope)):
                    self.err(e.span, "only state objects can be indexed: s[key]")
                self.expr(e.index, None, scope)
                return T.ERROR
            info = self.global_sym(e.obj.id, scope).info
            self.out.syms[id(e.obj)] = StateSym(info)
            if info.kind == "countmin":
                self.err(e.span, f"'{info.name}' is a countmin sketch: update it with "
                                 f"{info.name}.add(key, n)")
                return T.ERROR
            if info.kind == "lpm":
                k = e.index
                if isinstance(k, A.PrefixLit):
                    self.out.types[id(k)] = T.PREFIX
                    self.out.lpm_prefix[id(e)] = True
                elif isinstance(k, A.Binary) and k.op == "/":
                    self.want(k.left, info.key_ty, scope)
                    self.want(k.right, T.U32, scope)
                    self.out.lpm_prefix[id(e)] = True
                elif isinstance(k, A.Name) and scope.lookup(k.id) is None and \
                        getattr(self.out.consts.get(k.id), "ty", None) == T.PREFIX:
                    self.out.syms[id(k)] = self.out.consts[k.id]
                    self.out.types[id(k)] = T.PREFIX
                    self.out.lpm_prefix[id(e)] = True
                else:
                    self.want(k, info.key_ty, scope)
            else:
                self.want(e.index, info.key_ty, scope)
            self.out.types[id(e)] = info.value_ty
            return info.value_ty
        self.expr(e, None, scope)
        self.err(e.span, "cannot assign to this expression; the left side of '=' must be a "
                         "local, a header field or a state entry")
        return T.ERROR

    # ------------------------------------------------------------------ names
    def global_sym(self, name: str, scope: _Scope):
        if name in self.out.consts:
            return self.out.consts[name]
        if name in self.out.states:
            return StateSym(self.out.states[name])
        if name in HEADERS:
            return HeaderSym(name)
        if name in BUILTIN_VALUES:
            return BuiltinSym(name)
        if name in self.out.fns:
            return FnSym(self.out.fns[name])
        return None

    def undefined(self, e: A.Name, scope: _Scope, what: str = "name") -> None:
        decl = self.top.get(e.id)
        if isinstance(decl, A.ConstDecl):
            self.err(e.span, f"the constant '{e.id}' is used before its declaration at line "
                             f"{decl.span.line}")
            return
        if isinstance(decl, A.StateDecl):
            self.err(e.span, f"the state '{e.id}' has errors in its declaration")
            return
        if isinstance(decl, A.StructDecl):
            self.err(e.span, f"'{e.id}' is a struct type, not a value; build one with "
                             f"{e.id} {{ field: value, ... }}")
            return
        if e.id in VERDICT_WORDS:
            self.err(e.span, f"'{e.id}' is a verdict statement: write '{e.id};'")
            return
        cands = scope.all_names() + list(self.out.consts) + list(self.out.states) + \
            list(HEADERS) + list(BUILTIN_VALUES) + list(BUILTIN_FUNCS) + list(self.out.fns)
        self.err(e.span, f"undefined {what} '{e.id}'" + did_you_mean(e.id, cands))

    def no_member(self, e: A.Field, base: T.Ty) -> None:
        if isinstance(base, T.StructTy):
            self.err(e.name_span, f"{base} has no field '{e.name}'"
                     + did_you_mean(e.name, [n for n, _ in base.fields]))
        elif isinstance(base, T.TupleTy):
            self.err(e.name_span, f"{base} has no field '{e.name}' (tuple fields are "
                                  f".0 to .{len(base.elems) - 1})")
        elif isinstance(e.obj, A.IntLit) and e.name.isdigit():
            self.err(e.span, f"'{e.obj.value}.{e.name}' is not a number here: the language has "
                             f"only whole numbers (and IPv4 addresses a.b.c.d)")
        else:
            self.err(e.name_span, f"{base} has no fields; '.{e.name}' does not apply")

    # ------------------------------------------------------------------ expressions
    def want(self, e: A.Node, ty: T.Ty, scope: _Scope) -> T.Ty:
        """Check ``e`` where a value of ``ty`` is needed; reports a mismatch."""
        got = self.value_expr(e, ty, scope)
        if T.is_error(got, ty):
            return got if T.is_error(got) else ty
        if not T.assignable(got, ty):
            hint = ""
            if isinstance(got, T.IntTy) and isinstance(ty, T.IntTy) and got.is_numeric and \
                    ty.is_numeric:
                hint = f" (narrowing needs 'as {ty}', which truncates)"
            elif got == T.BOOL and isinstance(ty, T.IntTy) and ty.is_numeric:
                hint = f" (write 'as {ty}' to get 0 or 1)"
            elif isinstance(got, T.IntTy) and got.is_numeric and ty == T.BOOL:
                hint = " (compare it, e.g. 'x != 0')"
            self.err(e.span, f"expected {ty}, found {got}{hint}")
            return T.ERROR
        return ty

    def value_expr(self, e: A.Node, expected: T.Ty | None, scope: _Scope) -> T.Ty:
        """Like :meth:`expr` but the result must be a value (not a prefix or nothing)."""
        t = self.expr(e, expected, scope)
        if isinstance(t, T.PrefixTy):
            self.err(e.span, "a prefix is not a value here; use it in 'x in PREFIX', a match "
                             "pattern, an lpm key or a 'const'")
            return T.ERROR
        if isinstance(t, T.VoidTy):
            self.err(e.span, "this call returns nothing, so it has no value")
            return T.ERROR
        return t

    def expr(self, e: A.Node, expected: T.Ty | None, scope: _Scope, stmt: bool = False) -> T.Ty:
        t = self._expr(e, expected, scope, stmt)
        self.out.types[id(e)] = t
        return t

    def _expr(self, e, expected, scope, stmt=False) -> T.Ty:
        if self.untyped(e, scope):
            return self.literal(e, expected, scope)
        if isinstance(e, A.BoolLit):
            return T.BOOL
        if isinstance(e, A.Ip4Lit):
            return T.IP4
        if isinstance(e, A.MacLit):
            return T.MAC
        if isinstance(e, A.PrefixLit):
            return T.PREFIX
        if isinstance(e, A.Name):
            return self.e_name(e, scope)
        if isinstance(e, A.Field):
            return self.e_field(e, scope)
        if isinstance(e, A.Index):
            return self.e_index(e, scope)
        if isinstance(e, A.Call):
            return self.e_call(e, scope, stmt)
        if isinstance(e, A.Unary):
            return self.e_unary(e, expected, scope)
        if isinstance(e, A.Binary):
            return self.e_binary(e, expected, scope)
        if isinstance(e, A.Cast):
            return self.e_cast(e, scope)
        if isinstance(e, A.TupleLit):
            exp = T.elem_types(expected) if expected is not None else None
            if exp is not None and len(exp) != len(e.elems):
                exp = None
            elems = []
            for i, x in enumerate(e.elems):
                elems.append(self.value_expr(x, exp[i] if exp else None, scope))
            if any(T.is_error(t) for t in elems):
                return T.ERROR
            return T.TupleTy(tuple(elems))
        if isinstance(e, A.StructLit):
            return self.e_struct(e, scope)
        self.err(e.span, "unsupported expression")
        return T.ERROR

    def literal(self, e: A.Node, expected, scope) -> T.Ty:
        exact = self.fold_untyped(e, None) if not self.has_wrap(e) else None
        if isinstance(expected, T.IntTy) and expected.is_numeric:
            ty = expected
        else:
            v = exact if exact is not None else 0
            ty = T.U32 if v < (1 << 32) else T.U64
        ok = self.check_lits(e, ty)
        if not ok:
            return T.ERROR
        self.out.values[id(e)] = self.fold_untyped(e, ty) & _mask(ty.width)
        return ty

    def has_wrap(self, e) -> bool:
        return isinstance(e, A.Unary) or (isinstance(e, A.Binary) and
                                           (self.has_wrap(e.left) or self.has_wrap(e.right)))

    def check_lits(self, e, ty: T.IntTy) -> bool:
        if isinstance(e, A.IntLit):
            if e.value >= (1 << ty.width):
                self.err(e.span, f"the literal {e.value} does not fit in {ty} "
                                 f"(at most {(1 << ty.width) - 1})")
                return False
            return True
        if isinstance(e, A.Name):
            self.out.syms[id(e)] = self.out.consts[e.id]
            v = self.out.consts[e.id].value
            if v >= (1 << ty.width):
                self.err(e.span, f"the constant {e.id} = {v} does not fit in {ty}")
                return False
            return True
        if isinstance(e, A.Unary):
            return self.check_lits(e.operand, ty)
        ok = self.check_lits(e.left, ty)
        return self.check_lits(e.right, ty) and ok

    def e_name(self, e: A.Name, scope: _Scope) -> T.Ty:
        loc = scope.lookup(e.id)
        if loc is not None:
            self.out.syms[id(e)] = loc
            return loc.ty
        sym = self.global_sym(e.id, scope)
        if sym is None:
            if e.id in BUILTIN_FUNCS:
                self.err(e.span, f"'{e.id}' is a function; call it: {e.id}(...)")
            else:
                self.undefined(e, scope)
            return T.ERROR
        self.out.syms[id(e)] = sym
        if isinstance(sym, ConstSym):
            return sym.ty if sym.ty is not None else T.U32
        if isinstance(sym, BuiltinSym):
            if sym.name == "flow":
                return T.FLOW
            self.err(e.span, "'pkt' is not a value; use pkt.len")
            return T.ERROR
        if isinstance(sym, StateSym):
            self.err(e.span, f"'{e.id}' is a state object, not a value; read an entry with "
                             f"{e.id}[key] or test one with 'key in {e.id}'")
            return T.ERROR
        if isinstance(sym, HeaderSym):
            h = HEADERS[e.id]
            self.err(e.span, f"'{e.id}' is a header, not a value; use a field such as "
                             f"{e.id}.{h.fields[-1].name} or {e.id}.valid")
            return T.ERROR
        if isinstance(sym, FnSym):
            self.err(e.span, f"'{e.id}' is a function; call it: {e.id}(...)")
            return T.ERROR
        return T.ERROR

    def e_field(self, e: A.Field, scope: _Scope) -> T.Ty:
        root = e.obj
        if isinstance(root, A.Name) and scope.lookup(root.id) is None:
            sym = self.global_sym(root.id, scope)
            if isinstance(sym, HeaderSym):
                self.out.syms[id(root)] = sym
                if e.name == "valid":
                    return T.BOOL
                h = HEADERS[root.id]
                f = h.field(e.name)
                if f is None:
                    self.err(e.name_span, f"unknown field '{e.name}' of header {root.id}"
                             + did_you_mean(e.name, [x.name for x in h.fields] + ["valid"]))
                    return T.ERROR
                return T.scalar(f.type_name)
            if isinstance(sym, BuiltinSym) and sym.name == "pkt":
                self.out.syms[id(root)] = sym
                if e.name == "len":
                    return T.U32
                self.err(e.name_span, f"pkt has only the field 'len', not '{e.name}'")
                return T.ERROR
            if isinstance(sym, StateSym):
                self.out.syms[id(root)] = sym
                self.err(e.span, f"'{root.id}.{e.name}' is not a value"
                         + (f"; call it: {root.id}.{e.name}(...)" if
                            sym.info.kind == "countmin" and e.name in ("add", "estimate")
                            else ""))
                return T.ERROR
        base = self.value_expr(root, None, scope)
        if T.is_error(base):
            return T.ERROR
        m = T.member(base, e.name)
        if m is None:
            self.no_member(e, base)
            return T.ERROR
        return m[0]

    def e_index(self, e: A.Index, scope: _Scope) -> T.Ty:
        if not isinstance(e.obj, A.Name) or scope.lookup(e.obj.id) is not None or \
                not isinstance(self.global_sym(e.obj.id, scope), StateSym):
            t = self.expr(e.obj, None, scope)
            if not T.is_error(t):
                self.err(e.span, "only state objects can be indexed: s[key]")
            return T.ERROR
        info = self.global_sym(e.obj.id, scope).info
        self.out.syms[id(e.obj)] = StateSym(info)
        if info.kind == "countmin":
            self.err(e.span, f"'{info.name}' is a countmin sketch: read it with "
                             f"{info.name}.estimate(key)")
            return T.ERROR
        if info.kind == "lpm" and isinstance(e.index, A.Binary) and e.index.op == "/":
            self.err(e.index.span, f"'{info.name}[addr/len]' only inserts a prefix (with '='); "
                                   f"a lookup takes an address: {info.name}[addr]")
            return T.ERROR
        self.want(e.index, info.key_ty, scope)
        return info.value_ty

    def e_call(self, e: A.Call, scope: _Scope, stmt: bool) -> T.Ty:
        f = e.func
        if isinstance(f, A.Field) and isinstance(f.obj, A.Name) and \
                scope.lookup(f.obj.id) is None and \
                isinstance(self.global_sym(f.obj.id, scope), StateSym):
            info = self.global_sym(f.obj.id, scope).info
            self.out.syms[id(f.obj)] = StateSym(info)
            if info.kind != "countmin":
                self.err(f.name_span, f"{info.kind} '{info.name}' has no methods; use "
                                      f"{info.name}[key]")
                return T.ERROR
            if f.name == "add":
                if len(e.args) != 2:
                    self.err(e.span, f"{info.name}.add takes 2 arguments (key, n), got "
                                     f"{len(e.args)}")
                    return T.ERROR
                self.value_expr(e.args[0], None, scope)
                self.want(e.args[1], T.U32, scope)
                if not stmt:
                    self.err(e.span, f"{info.name}.add(...) returns nothing; use it as a "
                                     f"statement")
                    return T.ERROR
                return T.VOID
            if f.name == "estimate":
                if len(e.args) != 1:
                    self.err(e.span, f"{info.name}.estimate takes 1 argument (key), got "
                                     f"{len(e.args)}")
                    return T.ERROR
                self.value_expr(e.args[0], None, scope)
                return T.U32
            self.err(f.name_span, f"countmin has the methods add and estimate, not "
                                  f"'{f.name}'" + did_you_mean(f.name, ["add", "estimate"]))
            return T.ERROR
        if not isinstance(f, A.Name):
            self.expr(f, None, scope)
            self.err(e.span, "only functions can be called")
            return T.ERROR
        name = f.id
        if scope.lookup(name) is not None:
            self.err(f.span, f"'{name}' is a local variable, not a function")
            return T.ERROR
        if name in ("now", "rand"):
            if e.args:
                self.err(e.span, f"{name}() takes no arguments, got {len(e.args)}")
                for a in e.args:
                    self.expr(a, None, scope)
                return T.ERROR
            return T.U64 if name == "now" else T.U32
        if name == "hash":
            if not e.args:
                self.err(e.span, "hash(...) needs at least one argument")
                return T.ERROR
            for a in e.args:
                self.value_expr(a, None, scope)
            return T.U32
        if name == "redirect":
            self.err(e.span, "redirect(port) is a statement: write 'redirect(port);'")
            return T.ERROR
        fn = self.out.fns.get(name)
        if fn is None:
            decl = self.top.get(name)
            if decl is not None and not isinstance(decl, A.FnDecl):
                self.err(f.span, f"'{name}' is not a function")
            else:
                self.undefined(f, scope, "function")
            for a in e.args:
                self.expr(a, None, scope)
            return T.ERROR
        caller = self.fn.name if self.fn is not None else ""
        self.calls.setdefault(caller, []).append((name, e))
        self.out.syms[id(f)] = FnSym(fn)
        if len(e.args) != len(fn.params):
            n = len(fn.params)
            self.err(e.span, f"function '{name}' takes {n} argument{'s' if n != 1 else ''}, "
                             f"got {len(e.args)}")
            for a in e.args:
                self.expr(a, None, scope)
            return T.ERROR if isinstance(fn.ret, T.VoidTy) or not stmt else fn.ret
        for a, (_pn, pt, _uid) in zip(e.args, fn.params):
            self.want(a, pt, scope)
        return fn.ret

    def e_unary(self, e: A.Unary, expected, scope) -> T.Ty:
        if e.op == "!":
            t = self.expr(e.operand, T.BOOL, scope)
            if T.is_error(t):
                return T.ERROR
            if t != T.BOOL:
                self.err(e.operand.span, f"'!' needs a bool, found {t}"
                         + (" (use '~' for a bitwise complement)" if isinstance(t, T.IntTy)
                            else ""))
                return T.ERROR
            return T.BOOL
        t = self.value_expr(e.operand, expected, scope)
        if T.is_error(t):
            return T.ERROR
        if not (isinstance(t, T.IntTy) and t.is_numeric):
            self.err(e.operand.span, f"'{e.op}' needs an integer, found {t}")
            return T.ERROR
        return t

    def e_cast(self, e: A.Cast, scope) -> T.Ty:
        target = self.resolve_type(e.type)
        if T.is_error(target):
            self.expr(e.expr, None, scope)
            return T.ERROR
        src = self.value_expr(e.expr, target if isinstance(target, T.IntTy) and
                              target.is_numeric else None, scope)
        if T.is_error(src):
            return T.ERROR
        if isinstance(target, T.IntTy):
            if not isinstance(src, T.IntTy):
                self.err(e.span, f"cannot convert {src} to {target}")
                return T.ERROR
            if target == T.BOOL and src != T.BOOL:
                self.err(e.span, f"cannot convert {src} to bool; compare it instead "
                                 f"(x != 0)")
                return T.ERROR
            return target
        if T.assignable(src, target):
            return target
        self.err(e.span, f"cannot convert {src} to {target}")
        return T.ERROR

    def e_struct(self, e: A.StructLit, scope) -> T.Ty:
        st = T.FLOW if e.name == "Flow" else self.out.structs.get(e.name)
        if st is None:
            self.err(e.span, f"unknown struct '{e.name}'" + did_you_mean(
                e.name, list(self.out.structs) + ["Flow"]))
            for f in e.fields:
                self.expr(f.value, None, scope)
            return T.ERROR
        seen = set()
        ok = True
        for f in e.fields:
            ft = st.field(f.name)
            if ft is None:
                self.err(f.span, f"{st} has no field '{f.name}'"
                         + did_you_mean(f.name, [n for n, _ in st.fields]))
                self.expr(f.value, None, scope)
                ok = False
                continue
            if f.name in seen:
                self.err(f.span, f"field '{f.name}' is given twice")
                ok = False
                continue
            seen.add(f.name)
            if T.is_error(self.want(f.value, ft, scope)):
                ok = False
        missing = [n for n, _ in st.fields if n not in seen]
        if missing and ok:
            self.err(e.span, f"{st} literal lacks the field{'s' if len(missing) > 1 else ''} "
                             + ", ".join(f"'{m}'" for m in missing))
            ok = False
        return st if ok else T.ERROR

    def e_binary(self, e: A.Binary, expected, scope) -> T.Ty:
        op = e.op
        if op in ("&&", "||"):
            a = self.expr(e.left, T.BOOL, scope)
            b = self.expr(e.right, T.BOOL, scope)
            bad = False
            for side, t in ((e.left, a), (e.right, b)):
                if not T.is_error(t) and t != T.BOOL:
                    self.err(side.span, f"'{op}' needs bool operands, found {t}"
                             + (f" (use '{op[0]}' for bitwise)" if isinstance(t, T.IntTy)
                                else ""))
                    bad = True
            return T.ERROR if bad or T.is_error(a, b) else T.BOOL
        if op == "in":
            return self.e_in(e, scope)
        # operands; an untyped side takes the other side's type
        lu, ru = self.untyped(e.left, scope), self.untyped(e.right, scope)
        hint = expected if op in ARITH_OPS and isinstance(expected, T.IntTy) and \
            expected.is_numeric else None
        if lu and not ru:
            b = self.value_expr(e.right, hint if op not in SHIFT_OPS else None, scope)
            a = self.value_expr(e.left, b if isinstance(b, T.IntTy) and b.is_numeric else hint,
                                scope)
        elif op in SHIFT_OPS:
            a = self.value_expr(e.left, hint, scope)
            b = self.value_expr(e.right, a if ru and isinstance(a, T.IntTy) and a.is_numeric
                                and (self.fold_untyped(e.right, None) < (1 << a.width))
                                else None, scope)
        else:
            a = self.value_expr(e.left, hint, scope)
            ctx = hint
            if ru and isinstance(a, T.IntTy) and a.is_numeric:
                ctx = a
            elif op in ("==", "!=") and T.elem_types(a) is not None:
                ctx = a  # (x, 1) == flow-like comparisons type the literal side from the other
            b = self.value_expr(e.right, ctx, scope)
        if T.is_error(a, b):
            return T.ERROR
        if op in ("==", "!="):
            if self.comparable(a, b):
                return T.BOOL
            self.err(e.op_span, f"cannot compare {a} with {b}")
            return T.ERROR
        numeric = all(isinstance(t, T.IntTy) and t.is_numeric for t in (a, b))
        if op in CMP_OPS:
            if not numeric:
                self.err(e.op_span, f"'{op}' needs integers, found {a} and {b}")
                return T.ERROR
            return T.BOOL
        if op in SHIFT_OPS:
            if not numeric:
                self.err(e.op_span, f"'{op}' needs integers, found {a} and {b}")
                return T.ERROR
            return a
        if op in ("&", "|", "^") and a == T.BOOL and b == T.BOOL:
            return T.BOOL
        if not numeric:
            extra = ""
            if T.BOOL in (a, b):
                extra = " (booleans take '&&' and '||'; 'b as u32' makes 0/1)"
            self.err(e.op_span, f"'{op}' needs integers, found {a} and {b}{extra}")
            return T.ERROR
        w = max(a.width, b.width)
        if a.kind == "ip4" and b.kind == "ip4":
            return T.IP4
        return T.IntTy(w)

    def comparable(self, a: T.Ty, b: T.Ty) -> bool:
        """Whether ``a == b`` is allowed: numeric scalars, equal scalar kinds, or tuples and
        structs whose fields compare pairwise."""
        if isinstance(a, T.IntTy) and isinstance(b, T.IntTy):
            return (a.is_numeric and b.is_numeric) or a == b
        ea, eb = T.elem_types(a), T.elem_types(b)
        return ea is not None and eb is not None and len(ea) == len(eb) and \
            all(self.comparable(x, y) for x, y in zip(ea, eb))

    def e_in(self, e: A.Binary, scope) -> T.Ty:
        r = e.right
        if isinstance(r, A.Name) and scope.lookup(r.id) is None:
            sym = self.global_sym(r.id, scope)
            if isinstance(sym, StateSym):
                info = sym.info
                self.out.syms[id(r)] = sym
                self.out.types[id(r)] = T.VOID
                if info.kind == "countmin":
                    self.err(e.span, f"'in' does not apply to the countmin sketch "
                                     f"'{info.name}'; use {info.name}.estimate(key) > 0")
                    return T.ERROR
                t = self.want(e.left, info.key_ty, scope)
                return T.ERROR if T.is_error(t) else T.BOOL
            if isinstance(sym, ConstSym) and sym.ty == T.PREFIX:
                self.out.syms[id(r)] = sym
                self.out.types[id(r)] = T.PREFIX
                return self.prefix_left(e, scope)
        if isinstance(r, A.PrefixLit):
            self.out.types[id(r)] = T.PREFIX
            return self.prefix_left(e, scope)
        rt = self.expr(r, None, scope)
        if not T.is_error(rt):
            self.err(r.span, f"the right side of 'in' must be a state object or an IPv4 "
                             f"prefix, found {rt}")
        self.expr(e.left, None, scope)
        return T.ERROR

    def prefix_left(self, e: A.Binary, scope) -> T.Ty:
        t = self.value_expr(e.left, T.IP4, scope)
        if T.is_error(t):
            return T.ERROR
        if not (isinstance(t, T.IntTy) and t.is_numeric and t.width == 32):
            self.err(e.left.span, f"a prefix test needs an ip4 on the left, found {t}")
            return T.ERROR
        return T.BOOL
