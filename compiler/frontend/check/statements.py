"""Statements: blocks and scopes, let, if, match patterns, for, verdicts, return, delete and
assignment (with the places an assignment can write)."""

from __future__ import annotations

from cora.compiler.frontend import ast as A
from cora.compiler.frontend import types as T
from cora.compiler.frontend.check.base import CheckerBase
from cora.compiler.frontend.check.result import node_key
from cora.compiler.frontend.check.symbols import (
    BUILTIN_FUNCS,
    MAX_LOOP_TRIPS,
    MULTICAST_OPTIONS,
    SHIFT_OPS,
    BuiltinSym,
    ConstSym,
    FnSym,
    HeaderSym,
    LocalSym,
    Scope,
    StateSym,
    builtin_name,
)
from cora.compiler.frontend.diagnostics import did_you_mean
from cora.compiler.ir.headers import HEADERS

#: state kinds an ``atomic`` block may lock (their kernel maps hold a bpf_spin_lock:
#: kernel/bpf/syscall.c ``map_check_btf``), and why the others cannot
ATOMIC_KINDS = ("map", "array")
_NOT_ATOMIC = {
    "lru_map": "the kernel keeps no spin lock in an LRU hash map",
    "lpm": "the kernel keeps no spin lock in an LPM trie",
    "percpu_array": "each CPU has its own copy of a per-CPU value, so no lock is needed: "
                    "update it directly",
    "countmin": "a countmin's counters are single numbers: 's.add(k, n)' already adds "
                "atomically",
}
#: built-in functions that are eBPF helper calls, which the verifier refuses while a spin
#: lock is held (kernel/bpf/verifier.c: "function calls are not allowed while holding a lock")
HELPER_FUNCS = ("now", "rand")


def _children(node: A.Node):
    """The AST nodes directly inside ``node`` (dataclass fields, tuples of nodes)."""
    for name in getattr(node, "__dataclass_fields__", {}):
        v = getattr(node, name)
        if isinstance(v, A.Node):
            yield v
        elif isinstance(v, tuple):
            yield from (x for x in v if isinstance(x, A.Node))


class StatementChecks(CheckerBase):
    """Checker methods for statements and assignment targets."""

    def block(self, b: A.Block, parent: Scope) -> None:
        scope = Scope(parent)
        for s in b.stmts:
            self.stmt(s, scope)

    def stmt(self, s: A.Node, scope: Scope) -> None:
        meth = getattr(self, "s_" + type(s).__name__)
        meth(s, scope)

    def s_Block(self, s: A.Block, scope: Scope) -> None:
        self.block(s, scope)

    def s_Let(self, s: A.Let, scope: Scope) -> None:
        if s.type is not None:
            ty = self.resolve_type(s.type)
            if isinstance(ty, T.PrefixTy):
                self.err(s.type.span, "a local cannot hold a prefix; use a 'const'")
                ty = T.ERROR
            self.want(s.value, ty, scope)
        else:
            ty = self.value_expr(s.value, None, scope)
        if builtin_name(s.name):
            self.err(s.span, f"'{s.name}' is a built-in name; choose another name")
        scope.names[s.name] = LocalSym(s.name, ty, True, self.new_uid())
        self.out.syms[node_key(s)] = scope.names[s.name]

    def s_ExprStmt(self, s: A.ExprStmt, scope: Scope) -> None:
        e = s.expr
        if not isinstance(e, A.Call):
            self.expr(e, None, scope)
            self.err(e.span, "this expression does nothing; only calls can stand alone as "
                             "statements (did you mean an assignment '='?)")
            return
        self.expr(e, None, scope, stmt=True)

    def s_If(self, s: A.If, scope: Scope) -> None:
        self.cond(s.cond, scope)
        self.block(s.then, scope)
        if isinstance(s.els, A.If):
            self.s_If(s.els, scope)
        elif isinstance(s.els, A.Block):
            self.block(s.els, scope)

    def cond(self, e: A.Node, scope: Scope) -> None:
        t = self.expr(e, T.BOOL, scope)
        if not T.is_error(t) and t != T.BOOL:
            hint = " (compare it, e.g. 'x != 0')" if isinstance(t, T.IntTy) else ""
            self.err(e.span, f"a condition must be bool, found {t}{hint}")

    def s_Match(self, s: A.Match, scope: Scope) -> None:
        st = self.value_expr(s.subject, None, scope)
        if not T.is_error(st) and not isinstance(st, T.IntTy):
            self.err(s.subject.span, f"match works on integers, booleans and addresses, "
                                     f"not {st}")
            st = T.ERROR
        elif st == T.MAC:  # docs/language.md: a mac takes only ==, != and assignment
            self.err(s.subject.span, "match does not apply to a mac (a mac takes only '==' "
                                     "and '!='); compare it with 'if (m == ...)'")
            st = T.ERROR
        for arm in s.arms:
            for p in arm.patterns:
                self.pattern(p, st, scope)
            self.block(arm.body, scope)

    def pattern(self, p: A.Node, st: T.Ty, scope: Scope) -> None:
        if isinstance(p, A.PatWild):
            self.out.patterns[node_key(p)] = ("wild",)
            return
        if not isinstance(st, T.IntTy):  # an error was reported
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
            self.out.patterns[node_key(p)] = ("range", lo, hi)
            return
        assert isinstance(p, A.PatValue)
        v = p.value
        prefix: tuple[int, int] | None = None
        if isinstance(v, A.PrefixLit):
            prefix = (v.addr, v.plen)
            self.out.types[node_key(v)] = T.PREFIX
        elif isinstance(v, A.Name) and scope.lookup(v.id) is None and \
                getattr(self.out.consts.get(v.id), "ty", None) == T.PREFIX:
            prefix = self.out.consts[v.id].prefix
            self.out.syms[node_key(v)] = self.out.consts[v.id]
        if prefix is not None:
            if not (st.is_numeric and st.width == 32):
                self.err(p.span, f"a prefix pattern needs an ip4 subject, not {st}")
                return
            addr, plen = prefix
            mask = (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF
            self.out.patterns[node_key(p)] = ("prefix", addr & mask, mask)
            return
        value = self.pat_const(v, st, scope)
        if value is not None:
            self.out.patterns[node_key(p)] = ("eq", value)

    def pat_const(self, e: A.Node, st: T.IntTy, scope: Scope) -> int | None:
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

    def s_For(self, s: A.For, scope: Scope) -> None:
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
                self.out.loops[node_key(s)] = (lo, hi)
        if builtin_name(s.var):
            self.err(s.var_span, f"loop variable '{s.var}' is a built-in name; choose another "
                                 f"name")
        inner = Scope(scope)
        inner.names[s.var] = LocalSym(s.var, T.U32, False, self.new_uid(), "loop")
        if node_key(s) in self.out.loops and hi is not None and lo is not None and hi > lo:
            self.out.loop_ranges[inner.names[s.var].uid] = (lo, hi - 1)
        self.out.syms[node_key(s)] = inner.names[s.var]
        self.block(s.body, inner)

    def loop_bound(self, e: A.Node, scope: Scope) -> int | None:
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

    def s_Verdict(self, s: A.Verdict, scope: Scope) -> None:
        if s.port is not None:
            self.want(s.port, T.U32, scope)
        if s.kind == "multicast":
            self.multicast(s, scope)

    def multicast(self, s: A.Verdict, scope: Scope) -> None:
        """``multicast(group[, exclude_ingress]);``: the group is a declared ``group[N]``
        state (docs/language.md, "Multicast")."""
        assert s.group is not None and s.group_span is not None  # the parser sets both
        groups = [n for n, st in self.out.states.items() if st.kind == "group"]
        info = self.out.states.get(s.group) if scope.lookup(s.group) is None else None
        if info is None:
            if scope.lookup(s.group) is not None:
                self.err(s.group_span, f"'{s.group}' is a local variable, not a group: "
                                       f"multicast sends to a declared 'state NAME: group[N];'")
            elif isinstance(self.top.get(s.group), A.StateDecl):
                pass                     # its declaration's errors are reported already
            else:
                self.err(s.group_span, f"unknown group '{s.group}'"
                                       + (did_you_mean(s.group, groups) or
                                          "; declare it with 'state " + s.group
                                          + ": group[N];'"))
        elif info.kind != "group":
            self.err(s.group_span, f"'{s.group}' is a {info.kind}, not a group: multicast "
                                   f"sends to a declared 'state NAME: group[N];'")
        else:
            self.out.syms[node_key(s)] = StateSym(info)
        if s.option is not None and s.option not in MULTICAST_OPTIONS:
            assert s.option_span is not None
            self.err(s.option_span, f"unknown multicast option '{s.option}'"
                                    + (did_you_mean(s.option, MULTICAST_OPTIONS) or
                                       f"; the only one is {MULTICAST_OPTIONS[0]}"))

    def s_Return(self, s: A.Return, scope: Scope) -> None:
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

    def s_Atomic(self, s: A.Atomic, scope: Scope) -> None:
        """``atomic (s[k]) { ... }`` (docs/language.md "Atomic blocks"): the target must be
        an entry of a ``map`` or ``array``, and the body may use nothing the kernel verifier
        refuses under a ``bpf_spin_lock`` (:meth:`atomic_body`)."""
        t = s.target
        info = self.state_ref(t.obj, scope) if isinstance(t, A.Index) else None
        if info is None or not isinstance(t, A.Index):
            if isinstance(t, A.Index) and isinstance(t.obj, A.Name) and \
                    scope.lookup(t.obj.id) is None and self.global_sym(t.obj.id, scope) is None:
                self.undefined(t.obj, scope)
            else:
                self.err(t.span, "atomic takes a state entry: 'atomic (s[key]) { ... }'")
            self.block(s.body, scope)
            return
        ok = True
        if info.kind not in ATOMIC_KINDS:
            self.err(t.span, f"atomic works on an entry of a map or an array, not of "
                             f"{info.kind} '{info.name}': {_NOT_ATOMIC.get(info.kind, '')}")
            ok = False
        n = len(self.diags)
        self.want(t.index, info.key_type if info.kind not in ("array",) else T.U32, scope)
        if len(self.diags) == n:
            self.atomic_key(t.index, t.index)
        self.block(s.body, scope)
        if ok:
            self.out.atomic_states.add(info.name)
        self.atomic_body(s.body, t, set(self.key_locals(t.index)))

    def key_locals(self, e: A.Node):
        """Uids of the locals an atomic block's key reads."""
        sym = self.out.syms.get(node_key(e)) if isinstance(e, A.Name) else None
        if isinstance(sym, LocalSym):
            yield sym.uid
        for c in _children(e):
            yield from self.key_locals(c)

    def atomic_key(self, e: A.Node, key: A.Node) -> None:
        """The key of an atomic block names one entry for the whole block: no state access,
        no call but the built-in pure functions (``hash``, the overflow tests)."""
        if isinstance(e, A.Index) or (isinstance(e, A.Binary) and e.op == "in"
                                      and isinstance(self.out.syms.get(node_key(e.right)),
                                                     StateSym)):
            self.err(e.span, "the key of an atomic block cannot read state (the lookup "
                             "happens before the lock); read it into a local first")
            return
        if isinstance(e, A.Call) and not (isinstance(e.func, A.Name)
                                          and e.func.id in BUILTIN_FUNCS
                                          and e.func.id not in HELPER_FUNCS
                                          and not isinstance(self.out.syms.get(
                                              node_key(e.func)), FnSym)):
            self.err(e.span, "the key of an atomic block may call only 'hash' and the "
                             "overflow tests; compute it into a local first")
            return
        for c in _children(e):
            self.atomic_key(c, key)

    def atomic_body(self, node: A.Node, target: A.Index, key_uids: set[int]) -> None:
        """Report what the kernel verifier would refuse while the entry's spin lock is held
        (kernel/bpf/verifier.c: no helper or function call but the unlock, no second lock, no
        exit with the lock held) or what would make the block lock one entry and update
        another."""
        locked = target.obj.id if isinstance(target.obj, A.Name) else ""
        why_call = ("it is a helper call, which the kernel verifier refuses while a spin "
                    "lock is held")
        for c in _children(node):
            if isinstance(c, A.Atomic):
                self.err(c.span, "atomic blocks do not nest: the kernel verifier allows one "
                                 "spin lock held at a time")
                continue
            if isinstance(c, (A.Verdict, A.Return)):
                what = "a verdict" if isinstance(c, A.Verdict) else "'return'"
                self.err(c.span, f"{what} inside an atomic block would leave with the lock "
                                 f"held; set a local and act on it after the block")
                continue
            if isinstance(c, A.Delete):
                self.err(c.span, f"'delete' inside an atomic block: {why_call} "
                                 f"(bpf_map_delete_elem)")
                continue
            if isinstance(c, A.Assign):
                self.atomic_assign(c, target, key_uids)
            if isinstance(c, A.Call) and isinstance(c.func, A.Name):
                fsym = self.out.syms.get(node_key(c.func))
                if isinstance(fsym, FnSym) or c.func.id in self.out.fns:
                    self.err(c.span, f"a call of '{c.func.id}' inside an atomic block: write "
                                     f"its statements in the block (functions are not "
                                     f"checked for what a spin lock allows)")
                    continue
                if c.func.id in HELPER_FUNCS:
                    self.err(c.span, f"{c.func.id}() inside an atomic block: {why_call}; "
                                     f"call it before the block")
                    continue
            if isinstance(c, A.Field) and isinstance(c.obj, A.Name) and c.obj.id == "pkt" \
                    and isinstance(self.out.syms.get(node_key(c.obj)), BuiltinSym):
                self.err(c.span, "pkt.len inside an atomic block: on XDP it is a helper call "
                                 "for frames past 2,048 bytes (bpf_xdp_get_buff_len), which "
                                 "the kernel verifier refuses while a spin lock is held; "
                                 "read it into a local before the block")
                continue
            if isinstance(c, A.Call) and isinstance(c.func, A.Field):
                self.err(c.span, f"a state method inside an atomic block: {why_call} "
                                 f"(a map lookup)")
                continue
            if isinstance(c, A.Binary) and c.op == "in" and \
                    isinstance(self.out.syms.get(node_key(c.right)), StateSym):
                self.err(c.span, f"'in' on a state inside an atomic block: {why_call} "
                                 f"(bpf_map_lookup_elem); test it before the block")
                continue
            if isinstance(c, A.Index) and isinstance(c.obj, A.Name) and \
                    isinstance(self.out.syms.get(node_key(c.obj)), StateSym):
                if c.obj.id != locked:
                    self.err(c.span, f"'{c.obj.id}' inside an atomic block on '{locked}': "
                                     f"{why_call} (bpf_map_lookup_elem); only the locked "
                                     f"entry may be used")
                    continue
                if c.index != target.index or set(self.key_locals(c.index)) != key_uids:
                    self.err(c.index.span, f"another entry of '{locked}' inside the atomic "
                                           f"block on its entry [{_text(target.index)}]: "
                                           f"only the locked entry may be used")
                    continue
            self.atomic_body(c, target, key_uids)

    def atomic_assign(self, s: A.Assign, target: A.Index, key_uids: set[int]) -> None:
        t = s.target
        if isinstance(t, A.Index) and isinstance(t.obj, A.Name) and s.op == "=" and \
                isinstance(target.obj, A.Name) and t.obj.id == target.obj.id and \
                isinstance(self.out.syms.get(node_key(t.obj)), StateSym):
            self.err(s.span, "a whole entry written inside an atomic block is an insert "
                             "(bpf_map_update_elem), a helper call the kernel verifier "
                             "refuses while a spin lock is held; assign its fields")
        root = t
        while isinstance(root, (A.Field, A.Index)) and not (
                isinstance(root, A.Index) and isinstance(self.out.syms.get(
                    node_key(root.obj)), StateSym)):
            root = root.obj
        sym = self.out.syms.get(node_key(root)) if isinstance(root, A.Name) else None
        if isinstance(sym, LocalSym) and sym.uid in key_uids and isinstance(root, A.Name):
            self.err(t.span, f"'{root.id}' is part of the locked key "
                             f"[{_text(target.index)}]; it cannot change inside the block")
        if isinstance(t, A.Field) and isinstance(t.obj, A.Name) and \
                isinstance(self.out.syms.get(node_key(t.obj)), HeaderSym) and \
                (t.obj.id, t.name) in set(_header_fields(target.index)):
            self.err(t.span, f"'{t.obj.id}.{t.name}' is part of the locked key "
                             f"[{_text(target.index)}]; it cannot change inside the block")

    def s_Delete(self, s: A.Delete, scope: Scope) -> None:
        t = s.target
        info = self.state_ref(t.obj, scope) if isinstance(t, A.Index) else None
        if info is None or not isinstance(t, A.Index):
            self.err(t.span, "delete takes a state entry: 'delete s[key];'")
            return
        if info.kind == "lpm" and self.prefix_key(t.index, scope):
            self.err(t.index.span, f"delete on the lpm '{info.name}' takes an address and "
                                   f"removes the entry of exactly that address (full length); "
                                   f"a prefix entry (addr/len) cannot be deleted")
            return
        if info.kind in ("array", "percpu_array", "countmin"):
            self.err(t.span, f"entries of {info.kind} '{info.name}' cannot be deleted (it has a "
                             f"fixed set of slots); write a zero value instead")
            return
        self.want(t.index, info.key_type, scope)

    def prefix_key(self, k: A.Node, scope: Scope) -> bool:
        """Whether an lpm key is written as a prefix: ``a.b.c.d/n``, ``addr/len`` or a prefix
        constant."""
        if isinstance(k, A.PrefixLit) or (isinstance(k, A.Binary) and k.op == "/"):
            return True
        return isinstance(k, A.Name) and scope.lookup(k.id) is None and \
            getattr(self.out.consts.get(k.id), "ty", None) == T.PREFIX

    def s_Assign(self, s: A.Assign, scope: Scope) -> None:
        tt = self.place(s.target, scope)
        root = s.target
        while isinstance(root, A.Field):
            root = root.obj
        if isinstance(root, A.Index) and self.out.lpm_prefix.get(node_key(root)) and \
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

    def place(self, e: A.Node, scope: Scope) -> T.Ty:
        """Type of an assignment target; reports targets that cannot be written."""
        if isinstance(e, A.Name):
            loc = scope.lookup(e.id)
            if loc is not None:
                self.out.syms[node_key(e)] = loc
                if not loc.mutable:
                    self.err(e.span, f"cannot assign to the loop variable '{e.id}'")
                    return T.ERROR
                self.out.types[node_key(e)] = loc.ty
                return loc.ty
            sym = self.global_sym(e.id, scope)
            if isinstance(sym, ConstSym):
                self.err(e.span, f"cannot assign to the constant '{e.id}'")
            elif isinstance(sym, StateSym):
                self.err(e.span, f"cannot assign to the state '{e.id}' itself; write "
                                 f"{e.id}[key] = value")
            elif isinstance(sym, HeaderSym):
                self.err(e.span, f"cannot assign to the header '{e.id}'; assign its fields, "
                                 f"e.g. {e.id}.{self.header_field_names(e.id)[0]}")
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
                if isinstance(sym, HeaderSym) and root.id in self.out.user_headers:
                    if e.name == "valid":
                        self.err(e.name_span, f"'{root.id}.valid' is read-only: it says whether "
                                              f"the frame holds the header")
                        return T.ERROR
                    uf = self.out.user_headers[root.id].field_named(e.name)
                    if uf is None:
                        self.err(e.name_span, f"unknown field '{e.name}' of header {root.id}"
                                 + did_you_mean(e.name, self.header_field_names(root.id)))
                        return T.ERROR
                    self.out.types[node_key(e)] = uf.ty
                    self.out.syms[node_key(root)] = sym
                    return uf.ty
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
                        checksum = root.id in ("ipv4", "tcp", "udp", "icmp") and e.name == "csum"
                        why = "the compiler fixes checksums" if checksum \
                            else "it steers the packet parser or is computed by the compiler"
                        self.err(e.span, f"{root.id}.{e.name} is read-only ({why})")
                        return T.ERROR
                    ty = T.scalar(f.type_name)
                    self.out.types[node_key(e)] = ty
                    self.out.syms[node_key(root)] = sym
                    return ty
                if isinstance(sym, BuiltinSym):
                    what = "ipv4.saddr and the other header fields" if root.id == "flow" \
                        else "header fields"
                    self.err(e.span, f"'{root.id}.{e.name}' is read-only; write {what} instead")
                    return T.ERROR
            field_ty = self.field_type(e, self.place(root, scope))
            if not T.is_error(field_ty):
                self.out.types[node_key(e)] = field_ty
            return field_ty
        if isinstance(e, A.Index):
            info = self.state_ref(e.obj, scope)
            if info is None:
                elem = self.array_index(e, self.place(e.obj, scope), scope)
                if not T.is_error(elem):
                    self.out.types[node_key(e)] = elem
                return elem
            if info.kind == "countmin":
                self.err(e.span, f"'{info.name}' is a countmin sketch: update it with "
                                 f"{info.name}.add(key, n)")
                return T.ERROR
            if info.kind == "lpm":
                k = e.index
                if isinstance(k, A.PrefixLit):
                    self.out.types[node_key(k)] = T.PREFIX
                    self.out.lpm_prefix[node_key(e)] = True
                elif isinstance(k, A.Binary) and k.op == "/":
                    self.want(k.left, info.key_type, scope)
                    self.want(k.right, T.U32, scope)
                    self.out.lpm_prefix[node_key(e)] = True
                elif isinstance(k, A.Name) and scope.lookup(k.id) is None and \
                        getattr(self.out.consts.get(k.id), "ty", None) == T.PREFIX:
                    self.out.syms[node_key(k)] = self.out.consts[k.id]
                    self.out.types[node_key(k)] = T.PREFIX
                    self.out.lpm_prefix[node_key(e)] = True
                else:
                    self.want(k, info.key_type, scope)
            else:
                self.want(e.index, info.key_type, scope)
            self.out.types[node_key(e)] = info.value_ty
            return info.value_ty
        self.expr(e, None, scope)
        self.err(e.span, "cannot assign to this expression; the left side of '=' must be a "
                         "local, a header field or a state entry")
        return T.ERROR


def _header_fields(e: A.Node):
    """``(header, field)`` of every ``H.f`` read in expression ``e``."""
    if isinstance(e, A.Field) and isinstance(e.obj, A.Name):
        yield (e.obj.id, e.name)
    for c in _children(e):
        yield from _header_fields(c)


def _text(e: A.Node) -> str:
    """Short source-like text of a key expression, for messages."""
    if isinstance(e, A.Name):
        return e.id
    if isinstance(e, A.IntLit):
        return str(e.value)
    if isinstance(e, A.Binary):
        return f"{_text(e.left)} {e.op} {_text(e.right)}"
    if isinstance(e, A.Field):
        return f"{_text(e.obj)}.{e.name}"
    if isinstance(e, A.Cast) and isinstance(e.type, A.TypeName):
        return f"{_text(e.expr)} as {e.type.name}"
    return "..."
