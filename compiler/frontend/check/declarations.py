"""Declarations: types, structs, constants, state objects and function signatures/bodies."""

from __future__ import annotations

from cora.compiler.frontend import ast as A
from cora.compiler.frontend import types as T
from cora.compiler.frontend.check.base import CheckerBase
from cora.compiler.frontend.check.result import node_key
from cora.compiler.frontend.check.symbols import (
    MAX_ARRAY_ELEMS,
    MAX_CAPACITY,
    MAX_COUNTMIN_DEPTH,
    STATE_WORDS,
    ConstSym,
    FnInfo,
    LocalSym,
    Scope,
    StateInfo,
    UserField,
    UserHeader,
    builtin_name,
)
from cora.compiler.frontend.diagnostics import did_you_mean
from cora.compiler.ir.headers import HEADERS


class DeclarationChecks(CheckerBase):
    """Checker methods for the top-level declarations (in source order)."""

    def resolve_type(self, node: A.Node) -> T.Ty:
        if isinstance(node, A.TupleType):
            elems = [self.resolve_type(e) for e in node.elems]
            if any(isinstance(e, T.ErrorTy) for e in elems):
                return T.ERROR
            return T.TupleTy(tuple(elems))
        if isinstance(node, A.IntArg):
            self.err(node.span, f"expected a type, found the number {node.value}")
            return T.ERROR
        if isinstance(node, A.ArrayType):
            elem = self.resolve_type(node.elem)
            n = self.const_expr_int(node.size, "an array size", T.U32)
            if n is not None and not 1 <= n <= MAX_ARRAY_ELEMS:
                self.err(node.size.span, f"an array has 1 to {MAX_ARRAY_ELEMS} elements, "
                                         f"not {n}")
                return T.ERROR
            if T.is_error(elem) or n is None:
                return T.ERROR
            return T.ArrayTy(elem, n)
        assert isinstance(node, A.TypeName)
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
        if name in ("int", "uint", "u128", "i128", "int32", "uint32"):
            extra = " (integer types are u8, u16, u32, u64 and i8, i16, i32, i64)"
        elif name in ("ipv4", "ip", "ipaddr"):
            extra = " (did you mean 'ip4'?)"
        self.err(node.span, f"unknown type '{name}'" + (extra or did_you_mean(name, cands)))
        return T.ERROR

    def header_decl(self, d: A.HeaderDecl) -> None:
        """A user-declared header (docs/language.md, "User-declared headers"): its parent,
        selecting field and value, and the bit layout of its fields after the parent."""
        if d.parent == "udp":
            base, start = "udp", HEADERS["udp"].min_len
            pf = HEADERS["udp"].field(d.field)
            ftype: T.Ty | None = T.scalar(pf.type_name) if pf is not None else None
            names = [f.name for f in HEADERS["udp"].fields]
        elif d.parent in self.out.user_headers:
            p = self.out.user_headers[d.parent]
            base, start = p.base, p.start + p.length
            uf = p.field_named(d.field)
            ftype = uf.ty if uf is not None else None
            names = [f.name for f in p.fields]
        else:
            why = "its payload starts at a variable offset" if d.parent == "tcp" else \
                "it is not udp or a header declared before"
            self.err(d.parent_span, f"a header follows udp or a header declared before it; "
                                    f"'{d.parent}' cannot be a parent ({why})")
            return
        if ftype is None:
            self.err(d.field_span, f"unknown field '{d.field}' of header {d.parent}"
                     + did_you_mean(d.field, names))
            return
        if not (isinstance(ftype, T.IntTy) and ftype.is_numeric):
            self.err(d.field_span, f"a header is selected by an integer field; "
                                   f"{d.parent}.{d.field} is a {ftype}")
            return
        value = self.const_expr_int(d.value, "the value that selects a header", ftype)
        fields: list[UserField] = []
        bit, ok = start * 8, value is not None
        for f in d.fields:
            if any(x.name == f.name for x in fields) or f.name == "valid":
                self.err(f.span, f"field '{f.name}' " + (
                    "is the header's validity; choose another name" if f.name == "valid"
                    else f"appears twice in header '{d.name}'"))
                ok = False
                continue
            ty = self.resolve_type(f.type)
            if T.is_error(ty):
                ok = False
                continue
            scalar = ty.elem if isinstance(ty, T.ArrayTy) else ty
            if not (isinstance(scalar, T.IntTy) and (scalar.is_numeric or scalar == T.MAC)
                    and scalar.width <= 64):
                self.err(f.type.span, f"a header field is an integer, ip4 or mac, or an array "
                                      f"of them, not {ty}")
                ok = False
                continue
            bits = scalar.width
            if f.bits is not None:
                if isinstance(ty, T.ArrayTy) or scalar.kind != "uint" or \
                        not 1 <= f.bits <= scalar.width:
                    self.err(f.span, f"a bit width (N) applies to an unsigned field of at least N "
                                     f"bits (e.g. 'vni: u32 (24)'), not to {ty} ({f.bits})")
                    ok = False
                    continue
                bits = f.bits
            fields.append(UserField(f.name, ty, bit, bits))
            bit += bits * (ty.n if isinstance(ty, T.ArrayTy) else 1)
        if not d.fields:
            self.err(d.name_span, f"header '{d.name}' has no fields")
            return
        if ok and bit % 8:
            self.err(d.name_span, f"header '{d.name}' is {bit - start * 8} bits long; a header "
                                  f"is a whole number of bytes (add a padding field)")
            return
        if ok and value is not None:
            self.out.user_headers[d.name] = UserHeader(
                d.name, base, d.parent, d.field, value, start, bit // 8 - start,
                tuple(fields), d)

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

    def const_decl(self, d: A.ConstDecl) -> None:
        scope = Scope()
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
            self.out.types[node_key(v)] = T.PREFIX
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

    def state_decl(self, d: A.StateDecl) -> None:
        kind = d.kind
        if kind not in STATE_WORDS:
            hint = did_you_mean(kind, STATE_WORDS)
            if kind in ("hash", "hashmap", "hash_map"):
                hint = " (did you mean 'map'?)"
            elif kind in ("lru", "lru_hash"):
                hint = " (did you mean 'lru_map'?)"
            self.err(d.kind_span, f"unknown state kind '{kind}'{hint}; the kinds are "
                                  + ", ".join(STATE_WORDS))
            return
        nargs, form = STATE_WORDS[kind].n_params, STATE_WORDS[kind].form
        if len(d.args) != nargs and nargs == 0:
            self.err(d.kind_span, f"{kind} takes no type parameters: write {form}, e.g. "
                                  f"state {d.name}: {form.replace('[N]', '[8]')};")
            return
        if len(d.args) != nargs:
            self.err(d.kind_span, f"{kind} takes {nargs} parameter{'s' if nargs > 1 else ''} "
                                  f"({form}), got {len(d.args)}")
            return
        ok = True
        depth = width = 0
        key_ty: T.Ty | None
        value_ty: T.Ty
        if kind == "countmin":
            vals = []
            for a, what in zip(d.args, ("depth D", "width W"), strict=True):
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
                self.err(d.capacity.span, "countmin<D, W> has no capacity: its size is D*W "
                                          "counters; remove '[...]'")
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
            elif kind == "group":      # slot index -> ifindex, filled by the control plane
                key_ty, value_ty = T.U32, T.U32
            else:
                key_ty, value_ty = types
            for a, t in zip(d.args, types, strict=True):
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
                self.err(d.name_span, f"state '{d.name}' ({kind}) can fill up: say what "
                                 f"happens to a new key then with 'on_full skip', 'on_full "
                                 f"drop' or 'on_full pass' before the ';'")
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
            what = ("a group is filled only by the control plane" if kind == "group"
                    else f"{kind} never fills up")
            self.err(pspan, f"{what}, so it takes no full policy; remove 'on_full {policy}'")
            ok = False
        if kind == "group" and d.init is not None:
            self.err(d.init[0].span if d.init else d.name_span,
                     f"group '{d.name}' takes no initial entries: its ports are interface "
                     f"indexes known only where it is deployed; fill it with 'cora group' or "
                     f"cora.runtime.groups.set_group")
            ok = False
        if not ok:
            return
        # layout
        if kind == "countmin":
            key_fields, value_fields = [("index", 32)], [("count", 32)]
        else:
            if kind in ("array", "percpu_array", "group"):
                key_fields = [("index", 32)]
            elif kind == "lpm" and isinstance(key_ty, T.IntTy):
                key_fields = [("addr", key_ty.width)]
            else:
                assert key_ty is not None
                key_fields = [(n or "key", T.state_width(t)) for n, t in T.leaves(key_ty)]
            value_fields = ([("ifindex", 32)] if kind == "group" else
                            [(n or "value", T.state_width(t)) for n, t in T.leaves(value_ty)])
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

    def state_init(self, d: A.StateDecl,
                   info: StateInfo) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        """The checked initial entries of state ``d`` as (key ints, value ints)."""
        entries: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
        if d.init is None:
            return entries
        if info.kind == "countmin":
            self.err(d.span, "a countmin sketch has no initial entries")
            return []
        if len(d.init) > info.capacity:
            self.err(d.init[info.capacity].span, f"{len(d.init)} initial entries do not fit "
                                                 f"the capacity {info.capacity}")
            return []
        scope = Scope()
        seen = set()
        for entry in d.init:
            key: tuple[int, ...] | None = None
            v: int | None
            leaves: list[int] | None
            if info.kind == "lpm":
                k = entry.key
                if isinstance(k, A.PrefixLit):
                    self.out.types[node_key(k)] = T.PREFIX
                    key = (k.addr, k.plen)
                elif isinstance(k, A.Name) and isinstance(self.out.consts.get(k.id), ConstSym) \
                        and self.out.consts[k.id].ty == T.PREFIX:
                    key = self.out.consts[k.id].prefix
                else:
                    got = self.want(k, info.key_type, scope)
                    if not T.is_error(got):
                        v = self.const_int(k)
                        if v is None:
                            self.err(k.span, "initial keys must be constants")
                        else:
                            kt = info.key_type
                            assert isinstance(kt, T.IntTy)  # lpm keys are ip4/ip6
                            key = (v, kt.width)
            elif info.kind in ("array", "percpu_array"):
                v = self.const_expr_int(entry.key, "an array index", T.U32)
                if v is not None:
                    if v >= info.capacity:
                        self.err(entry.key.span, f"index {v} is out of range for "
                                                 f"'{info.name}' ({info.capacity} slots)")
                    else:
                        key = (v,)
            else:
                got = self.want(entry.key, info.key_type, scope)
                if not T.is_error(got):
                    leaves = self.const_leaves(entry.key)
                    if leaves is None:
                        self.err(entry.key.span, "initial keys must be constants")
                    else:
                        key = tuple(leaves)
            got = self.want(entry.value, info.value_ty, scope)
            value: tuple[int, ...] | None = None
            if not T.is_error(got):
                leaves = self.const_leaves(entry.value)
                if leaves is None:
                    self.err(entry.value.span, "initial values must be constants")
                else:
                    value = tuple(leaves)
            if key is not None and value is not None:
                if key in seen:
                    self.err(entry.key.span, "this key appears twice in the initial entries")
                    continue
                seen.add(key)
                entries.append((key, value))
        return entries

    def fn_signature(self, f: A.FnDecl) -> None:
        params: list[tuple[str, T.Ty, int]] = []
        seen = set()
        for p in f.params:
            if p.name in seen:
                # it still counts for the arity, so calls get no second, false error
                self.err(p.span, f"parameter '{p.name}' appears twice")
                params.append((p.name, T.ERROR, self.new_uid()))
                continue
            seen.add(p.name)
            if builtin_name(p.name):
                self.err(p.span, f"parameter '{p.name}' is a built-in name; choose another "
                                 f"name")
            pt = self.resolve_type(p.type)
            if isinstance(pt, T.PrefixTy):
                self.err(p.type.span, "a parameter cannot be a prefix")
                pt = T.ERROR
            params.append((p.name, pt, self.new_uid()))
        ret = self.resolve_type(f.ret) if f.ret is not None else T.VOID
        self.out.fns[f.name] = FnInfo(f.name, params, ret, f)

    def fn_body(self, info: FnInfo) -> None:
        self.fn = info
        scope = Scope()
        for name, pt, uid in info.params:
            if name not in scope.names:  # a duplicate was reported; the first one counts
                scope.names[name] = LocalSym(name, pt, True, uid, "param")
        self.block(info.decl.body, scope)
        if not isinstance(info.ret, (T.VoidTy, T.ErrorTy)) and not self.always_ends(info.decl.body):
            self.err(info.decl.name_span, f"function '{info.name}' can reach its end without "
                                          f"returning a {info.ret}; add a 'return'")
        self.fn = None
