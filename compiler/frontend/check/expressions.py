"""Expressions and their types: names and symbols, fields, state indexing, calls, operators,
casts, struct and tuple literals."""

from __future__ import annotations

from cora.compiler.frontend import ast as A
from cora.compiler.frontend import types as T
from cora.compiler.frontend.check.base import CheckerBase
from cora.compiler.frontend.check.result import node_key
from cora.compiler.frontend.check.symbols import (
    ARITH_OPS,
    BUILTIN_FUNCS,
    BUILTIN_VALUES,
    CMP_OPS,
    OVERFLOW_FUNCS,
    SHIFT_OPS,
    VERDICT_WORDS,
    BuiltinSym,
    ConstSym,
    FnSym,
    HeaderSym,
    LocalSym,
    Scope,
    StateInfo,
    StateSym,
)
from cora.compiler.frontend.diagnostics import did_you_mean
from cora.compiler.ir.headers import HEADERS


class ExpressionChecks(CheckerBase):
    """Checker methods that resolve names and type expressions."""

    def state_ref(self, obj: A.Node, scope: Scope) -> StateInfo | None:
        """The state ``obj`` names (a name no local shadows), recorded as its symbol; else
        None. The one place indexing, ``delete``, methods and ``in`` resolve a state."""
        if not isinstance(obj, A.Name) or scope.lookup(obj.id) is not None:
            return None
        info = self.out.states.get(obj.id)
        if info is None:
            return None
        self.refuse_group_access(info, obj.span)
        self.out.syms[node_key(obj)] = StateSym(info)
        return info

    def refuse_group_access(self, info: StateInfo, span) -> None:
        """Report a read or write of a multicast group (only ``multicast(g);`` uses one)."""
        if info.kind == "group":
            self.err(span, f"group '{info.name}' is filled by the control plane and used "
                           f"only by 'multicast({info.name});': it cannot be read or "
                           f"written here")

    def global_sym(self, name: str, scope: Scope):
        if name in self.out.consts:
            return self.out.consts[name]
        if name in self.out.states:
            return StateSym(self.out.states[name])
        if name in HEADERS or name in self.out.user_headers:
            return HeaderSym(name)
        if name in BUILTIN_VALUES:
            return BuiltinSym(name)
        if name in self.out.fns:
            return FnSym(self.out.fns[name])
        return None

    def header_field_names(self, name: str) -> list[str]:
        """Field names of header ``name`` (built-in or user-declared), in wire order."""
        uh = self.out.user_headers.get(name)
        if uh is not None:
            return [f.name for f in uh.fields]
        return [f.name for f in HEADERS[name].fields]

    def undefined(self, e: A.Name, scope: Scope, what: str = "name") -> None:
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

    def want(self, e: A.Node, ty: T.Ty, scope: Scope) -> T.Ty:
        """Check ``e`` where a value of ``ty`` is needed; reports a mismatch."""
        got = self.value_expr(e, ty, scope)
        if T.is_error(got, ty):
            return got if T.is_error(got) else ty
        if not T.assignable(got, ty):
            hint = ""
            if isinstance(got, T.IntTy) and isinstance(ty, T.IntTy) and got.is_numeric and \
                    ty.is_numeric and got.signed != ty.signed and got.kind != "ip4" and \
                    ty.kind != "ip4":
                hint = (f" (signed and unsigned do not mix implicitly; 'as {ty}' converts, "
                        f"keeping the two's-complement bits)")
            elif isinstance(got, T.IntTy) and isinstance(ty, T.IntTy) and got.is_numeric and \
                    ty.is_numeric:
                hint = f" (narrowing needs 'as {ty}', which truncates)"
            elif got == T.BOOL and isinstance(ty, T.IntTy) and ty.is_numeric:
                hint = f" (write 'as {ty}' to get 0 or 1)"
            elif isinstance(got, T.IntTy) and got.is_numeric and ty == T.BOOL:
                hint = " (compare it, e.g. 'x != 0')"
            self.err(e.span, f"expected {ty}, found {got}{hint}")
            return T.ERROR
        return ty

    def value_expr(self, e: A.Node, expected: T.Ty | None, scope: Scope) -> T.Ty:
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

    def expr(self, e: A.Node, expected: T.Ty | None, scope: Scope, stmt: bool = False) -> T.Ty:
        t = self._expr(e, expected, scope, stmt)
        self.out.types[node_key(e)] = t
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

    def e_name(self, e: A.Name, scope: Scope) -> T.Ty:
        loc = scope.lookup(e.id)
        if loc is not None:
            self.out.syms[node_key(e)] = loc
            return loc.ty
        sym = self.global_sym(e.id, scope)
        if sym is None:
            if e.id in BUILTIN_FUNCS:
                self.err(e.span, f"'{e.id}' is a function; call it: {e.id}(...)")
            else:
                self.undefined(e, scope)
            return T.ERROR
        self.out.syms[node_key(e)] = sym
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
            last = self.header_field_names(e.id)[-1]
            self.err(e.span, f"'{e.id}' is a header, not a value; use a field such as "
                             f"{e.id}.{last} or {e.id}.valid")
            return T.ERROR
        if isinstance(sym, FnSym):
            self.err(e.span, f"'{e.id}' is a function; call it: {e.id}(...)")
            return T.ERROR
        return T.ERROR

    def e_field(self, e: A.Field, scope: Scope) -> T.Ty:
        root = e.obj
        if isinstance(root, A.Name) and scope.lookup(root.id) is None:
            sym = self.global_sym(root.id, scope)
            if isinstance(sym, HeaderSym):
                self.out.syms[node_key(root)] = sym
                if e.name == "valid":
                    return T.BOOL
                uh = self.out.user_headers.get(root.id)
                if uh is not None:
                    uf = uh.field_named(e.name)
                    if uf is None:
                        self.err(e.name_span, f"unknown field '{e.name}' of header {root.id}"
                                 + did_you_mean(e.name, [x.name for x in uh.fields] +
                                                ["valid"]))
                        return T.ERROR
                    return uf.ty
                h = HEADERS[root.id]
                f = h.field(e.name)
                if f is None:
                    self.err(e.name_span, f"unknown field '{e.name}' of header {root.id}"
                             + did_you_mean(e.name, [x.name for x in h.fields] + ["valid"]))
                    return T.ERROR
                return T.scalar(f.type_name)
            if isinstance(sym, BuiltinSym) and sym.name == "pkt":
                self.out.syms[node_key(root)] = sym
                if e.name == "len":
                    return T.U32
                self.err(e.name_span, f"pkt has only the field 'len', not '{e.name}'")
                return T.ERROR
            if isinstance(sym, StateSym):
                self.out.syms[node_key(root)] = sym
                self.err(e.span, f"'{root.id}.{e.name}' is not a value"
                         + (f"; call it: {root.id}.{e.name}(...)" if
                            sym.info.kind == "countmin" and e.name in ("add", "estimate")
                            else ""))
                return T.ERROR
        base = self.value_expr(root, None, scope)
        return self.field_type(e, base)

    def field_type(self, e: A.Field, base: T.Ty) -> T.Ty:
        """Type of field ``e.name`` of a value of type ``base``; reports a missing field."""
        if T.is_error(base):
            return T.ERROR
        m = T.member(base, e.name)
        if m is None:
            self.no_member(e, base)
            return T.ERROR
        return m[0]

    def e_index(self, e: A.Index, scope: Scope) -> T.Ty:
        info = self.state_ref(e.obj, scope)
        if info is None:
            return self.array_index(e, self.expr(e.obj, None, scope), scope)
        if info.kind == "countmin":
            self.err(e.span, f"'{info.name}' is a countmin sketch: read it with "
                             f"{info.name}.estimate(key)")
            return T.ERROR
        if info.kind == "lpm" and isinstance(e.index, A.Binary) and e.index.op == "/":
            self.err(e.index.span, f"'{info.name}[addr/len]' only inserts a prefix (with '='); "
                                   f"a lookup takes an address: {info.name}[addr]")
            return T.ERROR
        self.want(e.index, info.key_type, scope)
        return info.value_ty

    def array_index(self, e: A.Index, base: T.Ty, scope: Scope) -> T.Ty:
        """``a[i]`` of a value ``a`` of type ``base``: the element type, once the index is
        proven in range at compile time (:meth:`index_range`); reports why otherwise."""
        if T.is_error(base):
            self.expr(e.index, T.U32, scope)
            return T.ERROR
        if not isinstance(base, T.ArrayTy):
            self.err(e.span, f"only state objects and arrays can be indexed (s[key], a[i]); "
                             f"this is a {base}")
            self.expr(e.index, T.U32, scope)
            return T.ERROR
        n = len(self.diags)
        if T.is_error(self.want(e.index, T.U32, scope)) or len(self.diags) > n:
            return T.ERROR
        rng = self.index_range(e.index, scope)
        if rng is None:
            self.err(e.index.span, "an array index must be a constant or a 'for' loop variable "
                                   "combined with constants (+ - * / %), so that its range "
                                   "is known at compile time")
            return T.ERROR
        lo, hi = rng
        if lo == hi and not 0 <= lo < base.n:
            self.err(e.index.span, f"index {lo} is out of range for {base} (0..{base.n - 1})")
            return T.ERROR
        if lo < 0 or hi >= base.n:
            self.err(e.index.span, f"this index takes the values {lo}..{hi}, out of range for "
                                   f"{base} (0..{base.n - 1})")
            return T.ERROR
        return base.elem

    def index_range(self, e: A.Node, scope: Scope) -> tuple[int, int] | None:
        """``(lowest, highest)`` value of an array index over every iteration of the loops
        around it (interval arithmetic, exact integers: a value below 0 is a u32 wrap-around
        and so out of range), or None when ``e`` is not built from constants and loop
        variables with ``+ - * / %`` (division and remainder by positive constants)."""
        c = self.const_int(e)
        if c is not None:
            return c, c
        if isinstance(e, A.Name):
            loc = scope.lookup(e.id)
            if isinstance(loc, LocalSym) and loc.kind == "loop":
                return self.out.loop_ranges.get(loc.uid, (0, 0))  # (0, 0): bounds had errors
            return None
        if isinstance(e, A.Binary) and e.op in ("+", "-", "*"):
            a, b = self.index_range(e.left, scope), self.index_range(e.right, scope)
            if a is None or b is None:
                return None
            if e.op == "+":
                return a[0] + b[0], a[1] + b[1]
            if e.op == "-":
                return a[0] - b[1], a[1] - b[0]
            products = [x * y for x in a for y in b]
            return min(products), max(products)
        if isinstance(e, A.Binary) and e.op in ("/", "%"):
            a, d = self.index_range(e.left, scope), self.const_int(e.right)
            if a is None or d is None or d <= 0 or a[0] < 0:
                return None
            if e.op == "/":
                return a[0] // d, a[1] // d
            return (a[0], a[1]) if a[1] < d else (0, d - 1)
        return None

    def e_call(self, e: A.Call, scope: Scope, stmt: bool) -> T.Ty:
        f = e.func
        info = self.state_ref(f.obj, scope) if isinstance(f, A.Field) else None
        if info is not None and isinstance(f, A.Field):
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
        if name in OVERFLOW_FUNCS:
            return self.e_overflow(e, name, scope)
        if name in ("redirect", "multicast"):
            arg = "port" if name == "redirect" else "group"
            self.err(e.span, f"{name}({arg}) is a statement: write '{name}({arg});'")
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
        self.out.syms[node_key(f)] = FnSym(fn)
        if len(e.args) != len(fn.params):
            n = len(fn.params)
            self.err(e.span, f"function '{name}' takes {n} argument{'s' if n != 1 else ''}, "
                             f"got {len(e.args)}")
            for a in e.args:
                self.expr(a, None, scope)
            return T.ERROR if isinstance(fn.ret, T.VoidTy) or not stmt else fn.ret
        for a, (_pn, pt, _uid) in zip(e.args, fn.params, strict=True):
            self.want(a, pt, scope)
        return fn.ret

    def e_overflow(self, e: A.Call, name: str, scope: Scope) -> T.Ty:
        """``add_overflows(a, b)`` / ``sub_overflows`` / ``mul_overflows``: the operands are
        typed as for ``a + b`` (their common type, recorded as the call's operand type); the
        result is a bool."""
        if len(e.args) != 2:
            self.err(e.span, f"{name}(a, b) takes 2 arguments, got {len(e.args)}")
            for a in e.args:
                self.expr(a, None, scope)
            return T.ERROR
        t = self.e_binary(A.Binary(span=e.span, op=OVERFLOW_FUNCS[name], left=e.args[0],
                                   right=e.args[1], op_span=e.func.span), None, scope)
        if T.is_error(t):
            return T.ERROR
        if not (isinstance(t, T.IntTy) and t.is_numeric and t.kind != "ip4"):
            self.err(e.span, f"{name} needs integer operands, found {t}")
            return T.ERROR
        self.out.overflow_types[node_key(e)] = t
        return T.BOOL

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
            ctx: T.Ty | None = hint
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
            if not self.mixes(e, a, b):
                return T.ERROR
            return T.BOOL
        if op in SHIFT_OPS:
            if not numeric:
                self.err(e.op_span, f"'{op}' needs integers, found {a} and {b}")
                return T.ERROR
            return a
        if op in ("&", "|", "^") and a == T.BOOL and b == T.BOOL:
            return T.BOOL
        if not numeric or not isinstance(a, T.IntTy) or not isinstance(b, T.IntTy):
            extra = ""
            if T.BOOL in (a, b):
                extra = " (booleans take '&&' and '||'; 'b as u32' makes 0/1)"
            self.err(e.op_span, f"'{op}' needs integers, found {a} and {b}{extra}")
            return T.ERROR
        if not self.mixes(e, a, b):
            return T.ERROR
        common = T.common_int(a, b)
        assert common is not None  # mixes() said so
        return common

    def mixes(self, e: A.Binary, a: T.Ty, b: T.Ty) -> bool:
        """Whether integer operands ``a`` and ``b`` of ``e`` have a common type
        (:func:`types.common_int`); reports the signed/unsigned mix otherwise."""
        if not (isinstance(a, T.IntTy) and isinstance(b, T.IntTy)):
            return True
        if T.common_int(a, b) is not None:
            return True
        s, u = (a, b) if a.signed else (b, a)
        self.err(e.op_span, f"'{e.op}' mixes signed {s} and {u}: convert one with 'as' "
                            f"(e.g. 'as i{max(64 if u.width >= 64 else u.width * 2, s.width)}' "
                            f"or 'as {u}')")
        return False

    def comparable(self, a: T.Ty, b: T.Ty) -> bool:
        """Whether ``a == b`` is allowed: numeric scalars, equal scalar kinds, or tuples and
        structs whose fields compare pairwise."""
        if isinstance(a, T.IntTy) and isinstance(b, T.IntTy):
            return (a.is_numeric and b.is_numeric and T.common_int(a, b) is not None) or a == b
        ea, eb = T.elem_types(a), T.elem_types(b)
        return ea is not None and eb is not None and len(ea) == len(eb) and \
            all(self.comparable(x, y) for x, y in zip(ea, eb, strict=True))

    def e_in(self, e: A.Binary, scope) -> T.Ty:
        r = e.right
        if isinstance(r, A.Name) and scope.lookup(r.id) is None:
            sym = self.global_sym(r.id, scope)
            if isinstance(sym, StateSym):
                info = sym.info
                self.out.syms[node_key(r)] = sym
                self.out.types[node_key(r)] = T.VOID
                self.refuse_group_access(info, r.span)
                if info.kind == "countmin":
                    self.err(e.span, f"'in' does not apply to the countmin sketch "
                                     f"'{info.name}'; use {info.name}.estimate(key) > 0")
                    return T.ERROR
                t = self.want(e.left, info.key_type, scope)
                return T.ERROR if T.is_error(t) else T.BOOL
            if isinstance(sym, ConstSym) and sym.ty == T.PREFIX:
                self.out.syms[node_key(r)] = sym
                self.out.types[node_key(r)] = T.PREFIX
                return self.prefix_left(e, scope)
        if isinstance(r, A.PrefixLit):
            self.out.types[node_key(r)] = T.PREFIX
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
