"""Lowering: a checked AST (:class:`cora.compiler.frontend.check.Checked`) to IR
(:mod:`cora.compiler.ir`).

Scheme (docs/language.md semantics, ir.py op semantics):

- Values flatten to one register per scalar leaf (:func:`cora.compiler.frontend.types.leaves`);
  booleans are u1, stored in state as u8 (zext/trunc at the boundary).
- Locals are registers assigned with ``mov``; functions are inlined (parameters copied into
  fresh registers, ``return`` jumps to the call's exit block); ``for`` loops are unrolled.
- ``s[k].f op= e`` follows the pattern of tests/compiler/ir_examples.py: one
  ``map.lookup``, ``ref.found``, in-place ``ref.load``/``ref.store`` when found, else a
  ``map.update`` of a zero value with the change applied, then the full policy on the
  update's result (``skip``: nothing; ``drop``/``pass``: end the packet when it returned 0).
  Consecutive such statements on the same state and the same (pure) key share one lookup and
  one insert, which is equivalent to running them one after the other.
- ``atomic (s[k]) { ... }``: one ``map.lookup`` of ``k``, ``ref.lock``, the body with every
  access to ``s`` through that reference (in place only: no ``ref.found`` test, no insert),
  ``ref.unlock``; ``s`` gets ``params(spin_lock=1)`` (docs/language.md, "Atomic blocks").
- ``countmin<D, W>``: an IR ``array`` of D*W u32 counters; row i uses
  ``hash(seed=i+1)(key) % W + i*W``; ``estimate`` is the minimum over the rows
  (Cormode & Muthukrishnan 2005).
- ``if``/``match`` conditions branch with short-circuit ``&&``/``||``; prefix tests are
  ``(x & mask) == net``.
Every op carries the :class:`cora.compiler.ir.Span` of the construct that caused it.
"""

from __future__ import annotations

from typing import Any, overload

from cora.compiler import ir
from cora.compiler.frontend import ast as A
from cora.compiler.frontend import types as T
from cora.compiler.frontend.check import (
    CMP_OPS,
    OVERFLOW_FUNCS,
    SHIFT_OPS,
    BuiltinSym,
    Checked,
    ConstSym,
    FnSym,
    HeaderSym,
    LocalSym,
    StateInfo,
    StateSym,
    UserHeader,
    binary_opcode,
    node_key,
)
from cora.compiler.ir.headers import FLOW_FIELDS
from cora.compiler.ir.ops import SPIN_LOCK_PARAM, field_width
from cora.errors import InternalError

U1 = ir.IntType(1)
U32 = ir.IntType(32)
_CMPOP = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}


class LoweringError(InternalError):
    """An internal inconsistency between checker and lowering (a compiler bug)."""


def _int_width(ty: T.Ty) -> int:
    """Bit width of a scalar type (LoweringError for any other: the checker let it through)."""
    if not isinstance(ty, T.IntTy):
        raise LoweringError(f"expected a scalar type, found {ty}")
    return ty.width


def _member(ty: T.Ty, name: str) -> tuple[T.Ty, int]:
    """``T.member`` of a field the checker accepted (LoweringError when it is missing)."""
    m = T.member(ty, name)
    if m is None:
        raise LoweringError(f"{ty} has no field {name}")
    return m


class _Frame:
    """One inlined function call: where ``return`` goes and which registers it fills."""

    def __init__(self, ret_regs: list[str], ret_ty: T.Ty, exit_block: ir.Block):
        self.ret_regs = ret_regs
        self.ret_ty = ret_ty
        self.exit = exit_block
        self.used = False


def lower(checked: Checked, name: str, source: str | None = None) -> ir.Program:
    """Lower a well-typed program (``checked.ok``) to an (unverified) IR program.

    Args:
        checked: the checker's result for the module.
        name: program name (the file stem).
        source: source path recorded in the program.
    Raises:
        LoweringError: on an internal inconsistency (never for a well-typed program).
    """
    return _Lowerer(checked, name, source).run()


class _Lowerer:
    def __init__(self, c: Checked, name: str, source: str | None):
        self.c = c
        self.p = ir.Program(name, source=source)
        self.b = ir.Builder(self.p)
        self.env: dict[int, list[str]] = {}
        self.loop_vals: dict[int, int] = {}  # loop variable uid -> its value (unrolled)
        self.frames: list[_Frame] = []
        self.span: ir.Span | None = None
        # header-validity facts that hold on the current path (validity never changes while
        # a packet is processed): ("valid", H), ("invalid", H), ("any", frozenset of H)
        self.facts: frozenset = frozenset()
        # the entry of the enclosing ``atomic`` block: (state name, reference register)
        self.atomic: tuple[str, str] | None = None

    # ------------------------------------------------------------------ basics
    def run(self) -> ir.Program:
        for s in self.c.states.values():
            self.p.states.append(self.state_decl(s))
        entry = self.c.entry
        if entry is None:
            raise LoweringError("no 'on packet' block (the checker reports that)")
        self.span = entry.span
        self.stmts(entry.body.stmts)
        if not self.b.terminated:
            self.span = ir.Span(entry.body.span.end_line, max(1, entry.body.span.end_col - 1))
            self.term("ret", verdict="pass", span=self.span)
        self.prune()
        for st in self.p.states:
            if st.name in self.c.atomic_states:
                st.params[SPIN_LOCK_PARAM] = 1
        return self.p

    def prune(self) -> None:
        """Drop blocks no path from the entry reaches (code after verdicts, unused exits),
        and states no op uses: they are neither created nor read by the engines."""
        reachable = {b.label for b in self.p.topological_blocks()}
        self.p.blocks = [b for b in self.p.blocks if b.label in reachable]
        self.p.drop_unused_regs()
        used = {op.attrs["state"] for _, op in self.p.ops() if "state" in op.attrs}
        self.p.states = [s for s in self.p.states if s.name in used]

    def state_decl(self, s: StateInfo) -> ir.StateDecl:
        params = {"depth": s.depth, "width": s.width} if s.kind == "countmin" else {}
        return ir.StateDecl(
            s.name, s.ir_kind, tuple(ir.StateField(n, w) for n, w in s.key_fields),
            tuple(ir.StateField(n, w) for n, w in s.value_fields), s.capacity,
            s.policy if s.ir_kind in ("hash", "lru_hash", "lpm") else None,
            tuple(s.init), s.kind, params, s.decl.span)

    @overload
    def emit(self, opcode: str, width: int, *args: str, dest: str | None = None,
             **attrs: Any) -> str: ...

    @overload
    def emit(self, opcode: str, width: None, *args: str, dest: str | None = None,
             **attrs: Any) -> None: ...

    def emit(self, opcode: str, width: int | None, *args: str, dest: str | None = None,
             **attrs: Any) -> str | None:
        """Emit an op; with a ``width`` it has a result of that many bits, whose register is
        returned (``dest`` or a new one); without, it has none and None is returned."""
        if self.b.terminated:  # code after a verdict: collect it in a block pruned later
            self.b.set_block(self.b.new_block())
        ty = ir.IntType(width) if width is not None else None
        reg = self.b.emit(opcode, ty, *args, dest=dest, span=self.span, **attrs)
        if width is not None and reg is None:
            raise LoweringError(f"{opcode} of width {width} gave no register")
        return reg

    def lookup(self, state: str, *keys: str) -> str:
        """``map.lookup`` of ``keys`` in ``state`` into a new reference register (returned);
        inside an ``atomic`` block on ``state``, the locked entry's reference (the checker
        allows no other entry of it there)."""
        if self.atomic is not None and self.atomic[0] == state:
            return self.atomic[1]
        ref = self.b.new_reg(ir.RefType(state), "h")
        self.emit("map.lookup", None, *keys, dest=ref, state=state)
        return ref

    def term(self, opcode: str, args: tuple = (), span=None, **attrs) -> None:
        if self.b.terminated:
            self.b.set_block(self.b.new_block())
        self.b.terminate(opcode, args, span=span, **attrs)

    def const(self, value: int, width: int) -> str:
        return self.emit("const", width, value=value & ((1 << width) - 1))

    def mov(self, dst: str, src: str) -> None:
        if dst != src:
            if self.b.terminated:  # after a verdict (e.g. a call that always drops): dead code
                self.b.set_block(self.b.new_block())
            self.b.emit("mov", self.p.regs[dst], src, dest=dst, span=self.span)

    def width(self, reg: str) -> int:
        t = self.p.regs[reg]
        if not isinstance(t, ir.IntType):
            raise LoweringError(f"register {reg} holds a reference, not an integer")
        return t.width

    def resize(self, reg: str, width: int, signed: bool = False) -> str:
        """``reg`` at ``width`` bits: truncated, or widened by zero-extension (``signed``:
        sign-extension, two's complement)."""
        w = self.width(reg)
        if w == width:
            return reg
        if w < width:
            return self.emit("sext" if signed else "zext", width, reg)
        return self.emit("trunc", width, reg)

    def resize_ty(self, reg: str, ty: T.Ty, width: int) -> str:
        """:meth:`resize` of a register holding a value of scalar type ``ty`` (sign-extends
        a signed one)."""
        return self.resize(reg, width, isinstance(ty, T.IntTy) and ty.signed)

    def ty(self, e: A.Node) -> T.Ty:
        try:
            return self.c.types[node_key(e)]
        except KeyError:
            raise LoweringError(
                f"no type for {type(e).__name__} at {e.span.line}:{e.span.col}") from None

    def new_regs(self, ty: T.Ty, hint: str = "t") -> list[str]:
        return [self.b.new_reg(ir.IntType(lt.width), hint) for _n, lt in T.leaves(ty)]

    def convert(self, regs: list[str], src: T.Ty, dst: T.Ty) -> list[str]:
        """Leaf-wise zero-extension/truncation from ``src`` to ``dst`` (same leaf count)."""
        dl, sl = T.leaves(dst), T.leaves(src)
        if len(dl) != len(regs) or len(sl) != len(regs):
            raise LoweringError(f"cannot convert {src} to {dst}")
        return [self.resize_ty(r, st, lt.width)
                for r, (_n, lt), (_m, st) in zip(regs, dl, sl, strict=True)]

    def goto(self, block: ir.Block) -> None:
        if not self.b.terminated:
            self.term("jmp", targets=(block.label,), span=self.span)

    def link(self, pending: list[ir.Block]) -> bool:
        """Make a join block for ``pending`` (blocks still open) and continue there."""
        if not pending:
            return False
        if len(pending) == 1:  # one way in: keep going in that block
            self.b.set_block(pending[0])
            return True
        join = self.b.new_block()
        for blk in pending:
            blk.ops.append(ir.Op("jmp", None, (), {"targets": (join.label,)}, self.span))
        self.b.set_block(join)
        return True

    # ------------------------------------------------------------------ statements
    def stmts(self, stmts) -> None:
        i = 0
        stmts = list(stmts)
        while i < len(stmts):
            if self.b.terminated:
                return  # the rest is unreachable (after a verdict or return)
            group = self.state_group(stmts, i)
            if group:
                self.lower_group(group)
                i += len(group)
                continue
            self.stmt(stmts[i])
            i += 1

    def stmt(self, s: A.Node) -> None:
        old = self.span
        self.span = s.span
        getattr(self, "s_" + type(s).__name__)(s)
        self.span = old

    def s_Block(self, s: A.Block) -> None:
        self.stmts(s.stmts)

    def s_Let(self, s: A.Let) -> None:
        sym = self.c.local_of(s)
        vals = self.value_as(s.value, sym.ty)
        regs = self.new_regs(sym.ty, s.name + "_")
        for d, v in zip(regs, vals, strict=True):
            self.mov(d, v)
        self.env[sym.uid] = regs

    def s_ExprStmt(self, s: A.ExprStmt) -> None:
        e = s.expr
        if isinstance(e, A.Call) and isinstance(e.func, A.Field):
            info = self.c.state_of(e.func.obj)
            if e.func.name == "add":
                self.countmin_add(info, e)
                return
        if not isinstance(e, A.Call):
            raise LoweringError("only a call stands alone as a statement")
        self.call(e, stmt=True)

    def s_Verdict(self, s: A.Verdict) -> None:
        if s.kind == "multicast":
            self.term("mcast", state=s.group, exclude_ingress=s.option == "exclude_ingress",
                      span=self.span)
            return
        if s.kind == "redirect":
            if s.port is None:
                raise LoweringError("redirect without a port")
            port = self.value_as(s.port, T.U32)[0]
            self.term("ret", (port,), verdict="redirect", span=self.span)
        else:
            self.term("ret", verdict=s.kind, span=self.span)

    def s_Return(self, s: A.Return) -> None:
        frame = self.frames[-1]
        if s.value is not None:
            vals = self.value_as(s.value, frame.ret_ty)
            for d, v in zip(frame.ret_regs, vals, strict=True):
                self.mov(d, v)
        frame.used = True
        self.goto(frame.exit)

    def s_If(self, s: A.If) -> None:
        then = self.b.new_block()
        other = self.b.new_block()
        self.branch(s.cond, then, other)
        before = self.facts
        pending, out_facts = [], []
        self.b.set_block(then)
        self.facts = before | self.cond_facts(s.cond, True)
        self.stmts(s.then.stmts)
        if not self.b.terminated:
            pending.append(self.b.current)
            out_facts.append(self.facts)
        self.b.set_block(other)
        self.facts = before | self.cond_facts(s.cond, False)
        if s.els is not None:
            if isinstance(s.els, A.Block):
                self.stmts(s.els.stmts)
            else:
                self.stmt(s.els)
        if not self.b.terminated:
            pending.append(self.b.current)
            out_facts.append(self.facts)
        self.facts = frozenset.intersection(*out_facts) if out_facts else before
        self.link(pending)  # when both branches ended, the current block stays terminated

    def cond_facts(self, e: A.Node, holds: bool) -> frozenset:
        """Validity facts implied by bool ``e`` being ``holds`` (only .valid, !, &&, ||)."""
        if isinstance(e, A.Unary) and e.op == "!":
            return self.cond_facts(e.operand, not holds)
        if isinstance(e, A.Field) and e.name == "valid" and \
                isinstance(header := self.c.syms.get(node_key(e.obj)), HeaderSym):
            return frozenset({("valid" if holds else "invalid", header.name)})
        if isinstance(e, A.Binary) and e.op in ("&&", "||"):
            if (e.op == "&&") == holds:  # a conjunction of facts
                return self.cond_facts(e.left, holds) | self.cond_facts(e.right, holds)
            # a disjunction: keep it when both sides are single validity atoms
            a, b = self.cond_facts(e.left, holds), self.cond_facts(e.right, holds)
            if len(a) == 1 and len(b) == 1:
                (ka, ha), (kb, hb) = next(iter(a)), next(iter(b))
                if ka == kb == "valid":
                    return frozenset({("any", frozenset({ha, hb}))})
        return frozenset()

    def known_valid(self, header: str) -> bool:
        return ("valid", header) in self.facts

    def known_any(self, *headers: str) -> bool:
        return any(self.known_valid(h) for h in headers) or \
            ("any", frozenset(headers)) in self.facts

    def s_Match(self, s: A.Match) -> None:
        subj = self.value(s.subject)[0]
        w = self.width(subj)
        sty = self.ty(s.subject)
        signed = isinstance(sty, T.IntTy) and sty.signed
        pending = []
        before = self.facts
        for arm in s.arms:
            self.facts = before
            pats = [self.c.patterns.get(node_key(p)) for p in arm.patterns]
            if any(p is not None and p[0] == "wild" for p in pats):
                self.stmts(arm.body.stmts)
                if not self.b.terminated:
                    pending.append(self.b.current)
                break
            self.span = arm.span
            cond = None
            for p in pats:
                if p is None:
                    raise LoweringError(f"an arm at {arm.span} has an unchecked pattern")
                c = self.pattern_cond(subj, w, p, signed)
                cond = c if cond is None else self.emit("or", 1, cond, c)
            body, nxt = self.b.new_block(), self.b.new_block()
            self.term("br", (cond,), targets=(body.label, nxt.label), span=self.span)
            self.b.set_block(body)
            self.stmts(arm.body.stmts)
            if not self.b.terminated:
                pending.append(self.b.current)
            self.b.set_block(nxt)
        else:
            pending.append(self.b.current)
        self.facts = before
        self.link(pending)

    def pattern_cond(self, subj: str, w: int, p: tuple, signed: bool = False) -> str:
        if p[0] == "eq":
            return self.emit("eq", 1, subj, self.const(p[1], w))
        if p[0] == "range":
            lo = self.emit("sge" if signed else "ge", 1, subj, self.const(p[1], w))
            hi = self.emit("sle" if signed else "le", 1, subj, self.const(p[2], w))
            return self.emit("and", 1, lo, hi)
        # prefix
        masked = self.emit("and", w, subj, self.const(p[2], w))
        return self.emit("eq", 1, masked, self.const(p[1], w))

    def s_For(self, s: A.For) -> None:
        lo, hi = self.c.loops[node_key(s)]
        sym = self.c.local_of(s)
        for i in range(lo, hi):
            if self.b.terminated:
                return
            self.span = s.span
            self.env[sym.uid] = [self.const(i, 32)]
            self.loop_vals[sym.uid] = i
            self.stmts(s.body.stmts)

    def s_Atomic(self, s: A.Atomic) -> None:
        """``atomic (s[k]) body``: one lookup, ``ref.lock``, the body with every access to
        ``s`` through that reference (an absent key: reads 0, writes nothing, no insert),
        ``ref.unlock``."""
        if not isinstance(s.target, A.Index):
            raise LoweringError("atomic on something other than s[k]")
        self.span = s.span
        info = self.c.state_of(s.target.obj)
        keys = self.state_key(info, s.target.index)
        ref = self.lookup(info.name, *keys)
        self.emit("ref.lock", None, ref, state=info.name)
        outer, self.atomic = self.atomic, (info.name, ref)
        self.stmts(s.body.stmts)
        self.atomic = outer
        self.span = ir.Span(s.body.span.end_line, max(1, s.body.span.end_col - 1))
        self.emit("ref.unlock", None, ref, state=info.name)

    def s_Delete(self, s: A.Delete) -> None:
        if not isinstance(s.target, A.Index):
            raise LoweringError("delete of something other than s[k]")
        info = self.c.state_of(s.target.obj)
        keys = self.state_key(info, s.target.index)
        self.emit("map.delete", None, *keys, state=info.name)

    def s_Assign(self, s: A.Assign) -> None:
        target = s.target
        st = self.state_target(target)
        if st is not None:
            index, path = st
            if path or s.op != "=":
                self.lower_group([s])
                return
            self.state_store(index, s)
            return
        op = s.op[:-1] if s.op != "=" else None
        # a field (or element) of a user-declared header
        acc = self.user_access(target)
        if acc is not None:
            self.user_store(acc, op, s.value)
            return
        # header field
        if isinstance(target, A.Field) and \
                isinstance(header := self.c.syms.get(node_key(target.obj)), HeaderSym):
            h, f = header.name, target.name
            fty = self.ty(target)
            if op is None:
                val = self.value_as(s.value, fty)[0]
            else:
                cur = self.emit("hdr.load", _int_width(fty), header=h, field=f)
                val = self.compound(op, cur, fty, s.value)
            self.emit("hdr.store", None, val, header=h, field=f)
            return
        # local (or a field of one)
        regs, tty = self.local_place(target)
        if op is None:
            vals = self.value_as(s.value, tty)
        else:
            vals = [self.compound(op, regs[0], tty, s.value)]
        tmp = vals
        if len(regs) > 1:  # copy first: the value may read the registers being written
            tmp = []
            for v in vals:
                t = self.b.new_reg(self.p.regs[v])
                self.mov(t, v)
                tmp.append(t)
        for d, v in zip(regs, tmp, strict=True):
            self.mov(d, v)

    # ------------------------------------------------------------------ user headers
    def user_access(self, e: A.Node) -> tuple[UserHeader, int, int, T.Ty] | None:
        """``(header, first bit from the base header, bits per scalar, type)`` when ``e`` is
        ``H.f`` or ``H.f[i]`` of a user-declared header ``H``, else None."""
        elem: A.Node | None = None
        if isinstance(e, A.Index):
            elem, e = e.index, e.obj
        if not (isinstance(e, A.Field) and isinstance(e.obj, A.Name)):
            return None
        sym = self.c.syms.get(node_key(e.obj))
        if not isinstance(sym, HeaderSym) or sym.name not in self.c.user_headers:
            return None
        uh = self.c.user_headers[sym.name]
        uf = uh.field_named(e.name)
        if uf is None:
            raise LoweringError(f"{uh.name} has no field {e.name}")
        if elem is None:
            return uh, uf.bit, uf.bits, uf.ty
        if not isinstance(uf.ty, T.ArrayTy):
            raise LoweringError(f"{uh.name}.{uf.name} is not an array")
        i = self.static_index(elem)
        return uh, uf.bit + i * uf.bits, uf.bits, uf.ty.elem

    def user_valid(self, uh: UserHeader) -> str:
        """u1: the frame holds user header ``uh`` (its parent is valid, the parent's field
        has the selecting value, and the frame is long enough)."""
        if self.known_valid(uh.name):
            return self.const(1, 1)
        room = self.emit("hdr.has", 1, header=uh.base, bytes=uh.start + uh.length)
        if uh.parent == uh.base:
            sel = self.emit("hdr.load", field_width(uh.base, uh.field), header=uh.base,
                            field=uh.field)
            parent_ok = room
        else:
            p = self.c.user_headers[uh.parent]
            pf = p.field_named(uh.field)
            if pf is None:
                raise LoweringError(f"{p.name} has no field {uh.field}")
            sel = self.emit("hdr.load_at", _int_width(pf.ty), header=p.base, bit=pf.bit,
                            bits=pf.bits)
            parent_ok = self.emit("and", 1, room, self.user_valid(p))
        eq = self.emit("eq", 1, sel, self.const(uh.value, self.width(sel)))
        return self.emit("and", 1, parent_ok, eq)

    def user_load(self, acc: tuple[UserHeader, int, int, T.Ty]) -> list[str]:
        """Registers of a user header field or element (0 when the header is not valid)."""
        uh, bit, bits, ty = acc
        n = ty.n if isinstance(ty, T.ArrayTy) else 1
        sty = ty.elem if isinstance(ty, T.ArrayTy) else ty
        w = _int_width(sty)
        valid = None if self.known_valid(uh.name) else self.user_valid(uh)
        out = []
        for k in range(n):
            r = self.emit("hdr.load_at", w, header=uh.base, bit=bit + k * bits, bits=bits)
            if valid is not None:
                r = self.emit("select", w, valid, r, self.const(0, w))
            out.append(r)
        return out

    def user_store(self, acc: tuple[UserHeader, int, int, T.Ty], op: str | None,
                   value: A.Node) -> None:
        """``H.f = v`` / ``H.f op= v`` (also of an element, or of a whole array field)."""
        uh, bit, bits, ty = acc
        if op is None:
            vals = self.value_as(value, ty)
        else:
            vals = [self.compound(op, self.user_load(acc)[0], ty, value)]
        done: ir.Block | None = None
        if not self.known_valid(uh.name):
            store, done = self.b.new_block(), self.b.new_block()
            self.term("br", (self.user_valid(uh),), targets=(store.label, done.label),
                      span=self.span)
            self.b.set_block(store)
        for k, v in enumerate(vals):
            self.emit("hdr.store_at", None, v, header=uh.base, bit=bit + k * bits, bits=bits)
        if done is not None:
            self.goto(done)
            self.b.set_block(done)

    def compound(self, op: str, cur: str, cty: T.Ty, value: A.Node) -> str:
        """``cur op value`` at ``cur``'s width (the value converted to it)."""
        w = self.width(cur)
        signed = isinstance(cty, T.IntTy) and cty.signed
        if op in SHIFT_OPS:
            amount = self.value(value)[0]
            return self.shift(op, cur, amount, w, signed)
        v = self.value_as(value, cty)[0]
        return self.emit(binary_opcode(op, signed), w, cur, v)

    def shift(self, op: str, a: str, b: str, w: int, signed: bool = False) -> str:
        """``a << b`` / ``a >> b`` at ``a``'s width ``w`` (``signed``: arithmetic ``>>``);
        a wider amount is compared at its own width, so a huge amount still gives 0."""
        code = binary_opcode(op, signed)
        wb = self.width(b)
        if wb <= w:
            return self.emit(code, w, a, self.resize(b, w))
        r = self.emit(code, wb, self.resize(a, wb, signed), b)
        return self.resize(r, w)

    def local_place(self, e: A.Node) -> tuple[list[str], T.Ty]:
        if isinstance(e, A.Name):
            sym = self.c.local_of(e)
            return self.env[sym.uid], sym.ty
        if isinstance(e, A.Field):
            regs, base = self.local_place(e.obj)
            fty, off = _member(base, e.name)
            return regs[off:off + T.width_sum(fty)], fty
        if isinstance(e, A.Index):
            regs, base = self.local_place(e.obj)
            off, n, ety = self.element(base, e.index)
            return regs[off:off + n], ety
        raise LoweringError("bad assignment target")

    def element(self, base: T.Ty, index: A.Node) -> tuple[int, int, T.Ty]:
        """(first leaf, leaf count, type) of element ``index`` of an array of type ``base``."""
        if not isinstance(base, T.ArrayTy):
            raise LoweringError(f"indexing a {base}")
        i = self.static_index(index)
        if not 0 <= i < base.n:
            raise LoweringError(f"index {i} of {base} at {index.span} (the checker proves it)")
        n = T.width_sum(base.elem)
        return i * n, n, base.elem

    def static_index(self, e: A.Node) -> int:
        """The value of an array index in this unrolled iteration: constants and loop
        variables with + - * / % (the forms the checker's ``index_range`` accepts)."""
        if node_key(e) in self.c.values:
            return self.c.values[node_key(e)]
        if isinstance(e, A.IntLit):
            return e.value
        if isinstance(e, A.Name):
            sym = self.c.syms.get(node_key(e))
            if isinstance(sym, LocalSym) and sym.uid in self.loop_vals:
                return self.loop_vals[sym.uid]
            if isinstance(sym, ConstSym):
                return sym.int_value
        if isinstance(e, A.Binary):
            a, b = self.static_index(e.left), self.static_index(e.right)
            return {"+": a + b, "-": a - b, "*": a * b, "/": a // b if b else 0,
                    "%": a % b if b else a}[e.op]
        raise LoweringError(f"array index at {e.span} is not a compile-time value")

    # ------------------------------------------------------------------ state
    def state_target(self, e: A.Node) -> tuple[A.Index, list[str | A.Node]] | None:
        """``(index node, field path)`` when ``e`` is ``s[k]`` or ``s[k].f.g``."""
        path: list[str | A.Node] = []
        while isinstance(e, A.Field) or (isinstance(e, A.Index) and not isinstance(
                self.c.syms.get(node_key(e.obj)), StateSym)):
            if isinstance(e, A.Field):
                path.append(e.name)
            else:
                path.append(e.index)  # an array element: resolved per unrolled iteration
            e = e.obj
        if isinstance(e, A.Index) and isinstance(self.c.syms.get(node_key(e.obj)), StateSym):
            return e, path[::-1]
        return None

    def _state_target(self, e: A.Node) -> tuple[A.Index, list[str | A.Node]]:
        """:meth:`state_target` of a node known to be a state entry (LoweringError if not)."""
        st = self.state_target(e)
        if st is None:
            raise LoweringError(f"{type(e).__name__} at {e.span} is not a state entry")
        return st

    def leaf_range(self, ty: T.Ty, path: list[str | A.Node]) -> tuple[int, int, T.Ty]:
        off = 0
        for name in path:
            if isinstance(name, str):
                ty, o = _member(ty, name)
            else:
                o, _n, ty = self.element(ty, name)
            off += o
        return off, T.width_sum(ty), ty

    def state_key(self, info: StateInfo, index: A.Node) -> list[str]:
        if info.kind in ("array", "percpu_array", "countmin"):
            return self.value_as(index, T.U32)
        regs = self.value_as(index, info.key_type)
        return [self.resize(r, w) for r, (_n, w) in zip(regs, info.key_fields, strict=True)]

    def lpm_update_key(self, info: StateInfo, index: A.Node, prefixed: bool) -> list[str]:
        aw = info.key_fields[0][1]
        if not prefixed:
            addr = self.state_key(info, index)[0]
            return [addr, self.const(aw, 32)]
        if isinstance(index, A.PrefixLit):
            return [self.const(index.addr, aw), self.const(index.plen, 32)]
        if isinstance(index, A.Name):
            prefix_addr, prefix_len = self.c.const_of(index).prefix
            return [self.const(prefix_addr, aw), self.const(prefix_len, 32)]
        if not isinstance(index, A.Binary):
            raise LoweringError(f"lpm prefix key at {index.span} is not addr/len")
        addr = self.value_as(index.left, info.key_type)[0]
        plen = self.value_as(index.right, T.U32)[0]
        return [addr, plen]

    def to_state(self, info: StateInfo, regs: list[str]) -> list[str]:
        return [self.resize(r, w) for r, (_n, w) in zip(regs, info.value_fields, strict=True)]

    def from_state(self, regs: list[str], leaf_tys: list[T.IntTy]) -> list[str]:
        return [self.resize(r, lt.width) for r, lt in zip(regs, leaf_tys, strict=True)]

    def policy(self, info: StateInfo, ok: str) -> None:
        """Apply the full policy to a ``map.update`` result ``ok``."""
        if info.ir_kind in ("hash", "lpm") and info.policy in ("drop", "pass"):
            cont, fail = self.b.new_block(), self.b.new_block()
            self.term("br", (ok,), targets=(cont.label, fail.label), span=self.span)
            self.b.set_block(fail)
            self.term("ret", verdict=info.policy, span=self.span)
            self.b.set_block(cont)

    def state_store(self, index: A.Index, s: A.Assign) -> None:
        """``s[k] = v`` (insert or replace)."""
        info = self.c.state_of(index.obj)
        if info.kind == "lpm":
            is_prefix = bool(self.c.lpm_prefix.get(node_key(index)))
            keys = self.lpm_update_key(info, index.index, is_prefix)
        else:
            keys = self.state_key(info, index.index)
        vals = self.to_state(info, self.value_as(s.value, info.value_ty))
        ok = self.emit("map.update", 1, *keys, *vals, state=info.name, nkeys=len(keys))
        self.policy(info, ok)

    def state_group(self, stmts: list, i: int) -> list[A.Assign] | None:
        """Consecutive ``s[k].f op= e`` statements on one state and one pure key."""
        first = stmts[i]
        if not isinstance(first, A.Assign):
            return None
        st = self.state_target(first.target)
        if st is None or (not st[1] and first.op == "="):
            return None
        index, _path = st
        if not self.pure(index.index, same_each_time=True) or not self.pure(first.value):
            return [first]
        group = [first]
        for s in stmts[i + 1:]:
            if not isinstance(s, A.Assign):
                break
            t = self.state_target(s.target)
            if t is None or (not t[1] and s.op == "=") or t[0].obj != index.obj \
                    or t[0].index != index.index \
                    or not self.pure(s.value):
                break
            group.append(s)
        return group

    def pure(self, e: A.Node, same_each_time: bool = False) -> bool:
        """No state access and no user function call (so evaluation order does not matter);
        with ``same_each_time`` also no ``now()``/``rand()`` (two evaluations agree)."""
        def rec(x):
            return self.pure(x, same_each_time)
        if isinstance(e, (A.Index,)):
            return False
        if isinstance(e, A.Call):
            f = e.func
            if isinstance(f, A.Name) and f.id in ("now", "rand", "hash") and \
                    not isinstance(self.c.syms.get(node_key(f)), FnSym):
                if same_each_time and f.id != "hash":
                    return False
                return all(rec(a) for a in e.args)
            return False
        if isinstance(e, A.Binary):
            if e.op == "in" and isinstance(self.c.syms.get(node_key(e.right)), StateSym):
                return False
            return rec(e.left) and rec(e.right)
        if isinstance(e, A.Unary):
            return rec(e.operand)
        if isinstance(e, A.Cast):
            return rec(e.expr)
        if isinstance(e, A.Field):
            return rec(e.obj)
        if isinstance(e, A.TupleLit):
            return all(rec(x) for x in e.elems)
        if isinstance(e, A.StructLit):
            return all(rec(f.value) for f in e.fields)
        return True

    def lower_group(self, group: list[A.Assign]) -> None:
        """One lookup for ``s[k].f op= e`` statements sharing a key (see module docstring)."""
        old = self.span
        self.span = group[0].span
        index, _ = self._state_target(group[0].target)
        info = self.c.state_of(index.obj)
        leaf_tys = [lt for _n, lt in T.leaves(info.value_ty)]
        keys = self.state_key(info, index.index)
        # right-hand sides (pure), evaluated once, in statement order
        changes = []
        for s in group:
            self.span = s.span
            _idx, path = self._state_target(s.target)
            off, n, fty = self.leaf_range(info.value_ty, path)
            op = s.op[:-1] if s.op != "=" else None
            if op in SHIFT_OPS:
                vals = self.value(s.value)
            elif op is not None:
                vals = self.value_as(s.value, fty)
            else:
                vals = self.value_as(s.value, fty)
            changes.append((s, off, n, op, vals))
        self.span = group[0].span
        ref = self.lookup(info.name, *keys)
        # in an atomic block the entry is updated in place only (an insert is a helper call)
        is_array = info.kind in ("array", "percpu_array") or \
            (self.atomic is not None and self.atomic[0] == info.name)
        if not is_array:
            found = self.emit("ref.found", 1, ref, state=info.name)
            upd, ins = self.b.new_block(), self.b.new_block()
            self.term("br", (found,), targets=(upd.label, ins.label), span=self.span)
            # found: in place
            self.b.set_block(upd)
        # (arrays need no test: an absent slot reads 0 and ignores stores, as the spec says
        # for an index out of range)
        cur: dict[int, str] = {}
        where: dict[int, ir.Span] = {}
        for s, off, n, op, vals in changes:
            self.span = s.span
            for j in range(n):
                leaf = off + j
                where[leaf] = self.span
                if op is None:
                    cur[leaf] = vals[j]
                    continue
                if leaf not in cur:
                    raw = self.emit("ref.load", info.value_fields[leaf][1], ref, state=info.name,
                                    index=leaf)
                    cur[leaf] = self.resize(raw, leaf_tys[leaf].width)
                cur[leaf] = self.apply(op, cur[leaf], vals[j], leaf_tys[leaf].signed)
        for leaf in sorted(cur):
            self.span = where[leaf]
            self.emit("ref.store", None, ref, self.resize(cur[leaf], info.value_fields[leaf][1]),
                      state=info.name, index=leaf)
        if is_array:
            self.span = old
            return
        pending = [self.b.current]
        # absent: insert a zero value with the changes applied
        self.b.set_block(ins)
        self.span = group[0].span
        new: dict[int, str] = {}
        for s, off, n, op, vals in changes:
            self.span = s.span
            for j in range(n):
                leaf = off + j
                if op is None:
                    new[leaf] = vals[j]
                elif leaf not in new and op in ("+", "|", "^"):
                    new[leaf] = vals[j] if self.width(vals[j]) == leaf_tys[leaf].width \
                        else self.resize(vals[j], leaf_tys[leaf].width)
                else:
                    base = new.get(leaf) or self.const(0, leaf_tys[leaf].width)
                    new[leaf] = self.apply(op, base, vals[j], leaf_tys[leaf].signed)
        self.span = group[0].span
        out = []
        for leaf, lt in enumerate(leaf_tys):
            r = new.get(leaf) or self.const(0, lt.width)
            out.append(self.resize(r, info.value_fields[leaf][1]))
        if info.kind == "lpm":
            keys = [keys[0], self.const(info.key_fields[0][1], 32)]
        ok = self.emit("map.update", 1, *keys, *out, state=info.name, nkeys=len(keys))
        self.policy(info, ok)
        pending.append(self.b.current)
        self.span = old
        self.link(pending)

    def apply(self, op: str, a: str, b: str, signed: bool = False) -> str:
        w = self.width(a)
        if op in SHIFT_OPS:
            return self.shift(op, a, b, w, signed)
        return self.emit(binary_opcode(op, signed), w, a, self.resize(b, w))

    def countmin_add(self, info: StateInfo, e: A.Call) -> None:
        self.span = e.span
        key = self.value(e.args[0])
        n = self.value_as(e.args[1], T.U32)[0]
        for idx in self.countmin_slots(info, key):
            ref = self.lookup(info.name, idx)
            old = self.emit("ref.load", 32, ref, state=info.name, index=0)
            self.emit("ref.store", None, ref, self.emit("add", 32, old, n), state=info.name,
                      index=0)

    def countmin_slots(self, info: StateInfo, key: list[str]) -> list[str]:
        width = self.const(info.width, 32)
        out = []
        for row in range(info.depth):
            h = self.emit("hash", 32, *key, seed=row + 1)
            idx = self.emit("mod", 32, h, width)
            if row:
                idx = self.emit("add", 32, idx, self.const(row * info.width, 32))
            out.append(idx)
        return out

    # ------------------------------------------------------------------ conditions
    def branch(self, e: A.Node, t: ir.Block, f: ir.Block) -> None:
        """Branch to ``t`` when bool ``e`` holds, else ``f`` (short-circuit)."""
        old = self.span
        self.span = e.span
        if isinstance(e, A.Unary) and e.op == "!":
            self.branch(e.operand, f, t)
        elif isinstance(e, A.Binary) and e.op in ("&&", "||") and not (
                self.cheap(e.left) and self.cheap(e.right)):
            mid = self.b.new_block()
            if e.op == "&&":
                self.branch(e.left, mid, f)
            else:
                self.branch(e.left, t, mid)
            self.b.set_block(mid)
            self.branch(e.right, t, f)
        else:
            c = self.value(e)[0]
            self.term("br", (c,), targets=(t.label, f.label), span=self.span)
        self.span = old

    def cheap(self, e: A.Node) -> bool:
        """Pure and free of calls: both sides of && / || may be evaluated without branching."""
        return self.pure(e) and self.cheap_sub(e)

    def cheap_sub(self, e: A.Node) -> bool:
        if isinstance(e, A.Call):
            return False
        if isinstance(e, A.Binary):
            return self.cheap_sub(e.left) and self.cheap_sub(e.right)
        if isinstance(e, A.Unary):
            return self.cheap_sub(e.operand)
        if isinstance(e, A.Cast):
            return self.cheap_sub(e.expr)
        if isinstance(e, A.Field):
            return self.cheap_sub(e.obj)
        return not isinstance(e, (A.Index, A.TupleLit, A.StructLit))

    # ------------------------------------------------------------------ expressions
    def value_as(self, e: A.Node, ty: T.Ty) -> list[str]:
        """Lower ``e`` and convert it to ``ty`` (zero-extension, tuple -> struct)."""
        regs = self.value(e)
        return self.convert(regs, self.ty(e), ty)

    def value(self, e: A.Node) -> list[str]:
        """Registers holding the value of ``e`` (one per leaf of its type)."""
        old = self.span
        self.span = e.span
        try:
            return self._value(e)
        finally:
            self.span = old

    def _value(self, e: A.Node) -> list[str]:
        c = self.c
        ty = self.ty(e)
        if node_key(e) in c.values:
            return [self.const(c.values[node_key(e)], _int_width(ty))]
        if isinstance(e, (A.IntLit, A.Ip4Lit, A.MacLit)):
            return [self.const(e.value, _int_width(ty))]
        if isinstance(e, A.BoolLit):
            return [self.const(int(e.value), 1)]
        if isinstance(e, A.Name):
            sym = c.syms[node_key(e)]
            if isinstance(sym, LocalSym):
                return list(self.env[sym.uid])
            if isinstance(sym, ConstSym):
                return [self.const(sym.int_value, _int_width(ty))]
            if isinstance(sym, BuiltinSym) and sym.name == "flow":
                return self.flow()
            raise LoweringError(f"name {e.id} has no value")
        if isinstance(e, A.Field):
            return self.e_field(e)
        if isinstance(e, A.Index):
            st = self.state_target(e)
            if st is not None:
                return self.state_read(st[0], st[1])
            acc = self.user_access(e)
            if acc is not None:  # one element of a header array: one load
                return self.user_load(acc)
            off, count, _ety = self.element(self.ty(e.obj), e.index)
            return self.value(e.obj)[off:off + count]
        if isinstance(e, A.Call):
            return self.call(e)
        if isinstance(e, A.Unary):
            v = self.resize_ty(self.value(e.operand)[0], self.ty(e.operand), _int_width(ty))
            if e.op == "-":
                return [self.emit("sub", _int_width(ty), self.const(0, _int_width(ty)), v)]
            return [self.emit("not", _int_width(ty), v)]
        if isinstance(e, A.Binary):
            return [self.e_binary(e, ty)]
        if isinstance(e, A.Cast):
            regs = self.value(e.expr)
            src = [st for _m, st in T.leaves(self.ty(e.expr))]
            return [self.resize_ty(r, st, lt.width)
                    for r, st, (_n, lt) in zip(regs, src, T.leaves(ty), strict=True)]
        if isinstance(e, A.TupleLit):
            out = []
            if not isinstance(ty, T.TupleTy):
                raise LoweringError(f"tuple literal of type {ty}")
            for x, et in zip(e.elems, ty.elems, strict=True):
                out += self.value_as(x, et)
            return out
        if isinstance(e, A.StructLit):
            by = {f.name: f.value for f in e.fields}
            out = []
            if not isinstance(ty, T.StructTy):
                raise LoweringError(f"struct literal of type {ty}")
            for n, ft in ty.fields:
                out += self.value_as(by[n], ft)
            return out
        raise LoweringError(f"cannot lower {type(e).__name__}")

    def e_field(self, e: A.Field) -> list[str]:
        sym = self.c.syms.get(node_key(e.obj)) if isinstance(e.obj, A.Name) else None
        if isinstance(sym, HeaderSym) and sym.name in self.c.user_headers:
            if e.name == "valid":
                return [self.user_valid(self.c.user_headers[sym.name])]
            acc = self.user_access(e)
            if acc is None:
                raise LoweringError(f"user header access at {e.span}")
            return self.user_load(acc)
        if isinstance(sym, HeaderSym):
            if e.name == "valid":
                if self.known_valid(sym.name) or ("invalid", sym.name) in self.facts:
                    return [self.const(int(self.known_valid(sym.name)), 1)]
                return [self.emit("hdr.valid", 1, header=sym.name)]
            return [self.emit("hdr.load", _int_width(self.ty(e)), header=sym.name,
                              field=e.name)]
        if isinstance(sym, BuiltinSym) and sym.name == "pkt":
            return [self.emit("pkt.len", 32)]
        st = self.state_target(e)
        if st is not None:
            return self.state_read(st[0], st[1])
        regs = self.value(e.obj)
        fty, off = _member(self.ty(e.obj), e.name)
        return regs[off:off + T.width_sum(fty)]

    def state_read(self, index: A.Index, path: list[str | A.Node]) -> list[str]:
        info = self.c.state_of(index.obj)
        keys = self.state_key(info, index.index)
        ref = self.lookup(info.name, *keys)
        off, n, _fty = self.leaf_range(info.value_ty, path)
        leaf_tys = [lt for _n, lt in T.leaves(info.value_ty)]
        out = []
        for leaf in range(off, off + n):
            raw = self.emit("ref.load", info.value_fields[leaf][1], ref, state=info.name,
                            index=leaf)
            out.append(self.resize(raw, leaf_tys[leaf].width))
        return out

    def flow(self) -> list[str]:
        """The Flow 5-tuple: header fields when ipv4 and tcp or udp are valid, else zeros."""
        regs = {name: self.b.new_reg(ir.IntType(T.scalar(t).width), f"flow_{name}")
                for name, t, _h, _f in FLOW_FIELDS}
        tcp = self.emit("hdr.valid", 1, header="tcp")
        t_blk, u_blk, join = (self.b.new_block() for _ in range(3))
        if not (self.known_valid("ipv4") and self.known_any("tcp", "udp")):
            # known on this path (e.g. after 'if (!ipv4.valid) { pass; }'): no test needed
            v4 = self.emit("hdr.valid", 1, header="ipv4")
            udp = self.emit("hdr.valid", 1, header="udp")
            ok = self.emit("and", 1, v4, self.emit("or", 1, tcp, udp))
            load, zero = self.b.new_block(), self.b.new_block()
            self.term("br", (ok,), targets=(load.label, zero.label), span=self.span)
            self.b.set_block(zero)
            for r in regs.values():
                self.emit("const", self.width(r), dest=r, value=0)
            self.goto(join)
            self.b.set_block(load)
        for name, _t, h, f in FLOW_FIELDS:
            if h != "l4":
                self.emit("hdr.load", self.width(regs[name]), dest=regs[name], header=h,
                          field=f)
        self.term("br", (tcp,), targets=(t_blk.label, u_blk.label), span=self.span)
        for blk, hdr in ((t_blk, "tcp"), (u_blk, "udp")):
            self.b.set_block(blk)
            for name, _t, h, f in FLOW_FIELDS:
                if h == "l4":
                    self.emit("hdr.load", self.width(regs[name]), dest=regs[name],
                              header=hdr, field=f)
            self.goto(join)
        self.b.set_block(join)
        return [regs[name] for name, *_ in FLOW_FIELDS]

    def e_binary(self, e: A.Binary, ty: T.Ty) -> str:
        op = e.op
        if op in ("&&", "||"):
            if self.cheap(e.right):
                a, b = self.value(e.left)[0], self.value(e.right)[0]
                return self.emit("and" if op == "&&" else "or", 1, a, b)
            res = self.b.new_reg(U1, "sc")
            a = self.value(e.left)[0]
            self.mov_new(res, a)
            rhs, join = self.b.new_block(), self.b.new_block()
            targets = (rhs.label, join.label) if op == "&&" else (join.label, rhs.label)
            self.term("br", (a,), targets=targets, span=self.span)
            self.b.set_block(rhs)
            b = self.value(e.right)[0]
            self.mov_new(res, b)
            self.goto(join)
            self.b.set_block(join)
            return res
        if op == "in":
            sym = self.c.syms.get(node_key(e.right)) if isinstance(e.right, A.Name) else None
            if isinstance(sym, StateSym):
                info = sym.info
                keys = self.state_key(info, e.left)
                ref = self.lookup(info.name, *keys)
                return self.emit("ref.found", 1, ref, state=info.name)
            if isinstance(e.right, A.PrefixLit):
                addr, plen = e.right.addr, e.right.plen
            else:
                addr, plen = self.c.const_of(e.right).prefix
            x = self.resize(self.value(e.left)[0], 32)
            mask = (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF
            masked = self.emit("and", 32, x, self.const(mask, 32))
            return self.emit("eq", 1, masked, self.const(addr & mask, 32))
        if op in ("==", "!=") and len(T.leaves(self.ty(e.left))) != 1:
            same: str | None = None
            pairs = zip(self.value(e.left), self.value(e.right),
                        [t for _n, t in T.leaves(self.ty(e.left))],
                        [t for _n, t in T.leaves(self.ty(e.right))], strict=True)
            for ra, rb, la, lb in pairs:
                w = max(self.width(ra), self.width(rb))
                eq = self.emit("eq", 1, self.resize_ty(ra, la, w), self.resize_ty(rb, lb, w))
                same = eq if same is None else self.emit("and", 1, same, eq)
            if same is None:
                raise LoweringError(f"comparison of empty values at {e.span}")
            return same if op == "==" else self.emit("not", 1, same)
        a, b = self.value(e.left)[0], self.value(e.right)[0]
        ta, tb = self.ty(e.left), self.ty(e.right)
        if op in CMP_OPS:
            w = max(self.width(a), self.width(b))
            signed = any(isinstance(t, T.IntTy) and t.signed for t in (ta, tb))
            code = _CMPOP[op]
            if signed and op not in ("==", "!="):
                code = "s" + code
            return self.emit(code, 1, self.resize_ty(a, ta, w), self.resize_ty(b, tb, w))
        signed = isinstance(ty, T.IntTy) and ty.signed
        if op in SHIFT_OPS:
            return self.shift(op, self.resize_ty(a, ta, _int_width(ty)), b, _int_width(ty),
                              signed)
        w = _int_width(ty)
        return self.emit(binary_opcode(op, signed), w, self.resize_ty(a, ta, w),
                         self.resize_ty(b, tb, w))

    def mov_new(self, dst: str, src: str) -> None:
        if self.b.terminated:  # after a verdict: dead code, collected in a pruned block
            self.b.set_block(self.b.new_block())
        self.b.emit("mov", self.p.regs[dst], src, dest=dst, span=self.span)

    def call(self, e: A.Call, stmt: bool = False) -> list[str]:
        f = e.func
        if isinstance(f, A.Field):
            info = self.c.state_of(f.obj)
            key = self.value(e.args[0])
            best: str | None = None
            for idx in self.countmin_slots(info, key):
                ref = self.lookup(info.name, idx)
                v = self.emit("ref.load", 32, ref, state=info.name, index=0)
                if best is None:
                    best = v
                else:
                    less = self.emit("lt", 1, v, best)
                    best = self.emit("select", 32, less, v, best)
            if best is None:
                raise LoweringError(f"countmin '{info.name}' has no rows")
            return [best]
        sym = self.c.syms.get(node_key(f))
        if not isinstance(sym, FnSym):
            if not isinstance(f, A.Name):
                raise LoweringError(f"call of a {type(f).__name__} at {e.span}")
            if f.id == "now":
                return [self.emit("now", 64)]
            if f.id == "rand":
                return [self.emit("rand", 32)]
            if f.id == "hash":
                regs = []
                for a in e.args:
                    regs += self.value(a)
                return [self.emit("hash", 32, *regs, seed=0)]
            if f.id in OVERFLOW_FUNCS:
                return [self.overflow(e, OVERFLOW_FUNCS[f.id])]
            raise LoweringError(f"unknown call {f.id}")
        return self.inline(sym.info, e)

    def overflow(self, e: A.Call, op: str) -> str:
        """u1: whether ``a op b`` (``+ - *``) in the operands' common type differs from the
        exact result (docs/language.md, "Overflow tests"), with wrapping ops only:

        - unsigned ``+``: the sum is below ``a`` (a carry out); ``-``: ``a < b`` (a borrow);
        - signed ``+``: ``r = a + b`` has the other sign than both operands, i.e. the sign
          bit of ``(a ^ r) & (b ^ r)``; ``-``: the sign bit of ``(a ^ b) & (a ^ r)``
          (H. S. Warren, Hacker's Delight, 2nd ed., section 2-13);
        - ``*`` up to 32 bits: the product at 64 bits does not fit the width (it is the
          truncated product widened again); at 64 bits: ``a != 0`` and ``r / a != b``
          (signed: also ``a == -1 && b == MIN``, the one quotient that itself wraps).
        """
        t = self.c.overflow_types[node_key(e)]
        w, signed = t.width, t.signed
        a = self.resize_ty(self.value(e.args[0])[0], self.ty(e.args[0]), w)
        b = self.resize_ty(self.value(e.args[1])[0], self.ty(e.args[1]), w)
        zero = self.const(0, w)
        if op in ("+", "-"):
            r = self.emit("add" if op == "+" else "sub", w, a, b)
            if not signed:
                return self.emit("lt", 1, r, a) if op == "+" else self.emit("lt", 1, a, b)
            if op == "+":
                bad = self.emit("and", w, self.emit("xor", w, a, r), self.emit("xor", w, b, r))
            else:
                bad = self.emit("and", w, self.emit("xor", w, a, b), self.emit("xor", w, a, r))
            return self.emit("slt", 1, bad, zero)
        r = self.emit("mul", w, a, b)
        if w <= 32:
            p = self.emit("mul", 64, self.resize(a, 64, signed), self.resize(b, 64, signed))
            back = self.resize(r, 64, signed)
            return self.emit("ne", 1, p, back)
        nonzero = self.emit("ne", 1, a, zero)
        q = self.emit("sdiv" if signed else "div", w, r, a)
        bad = self.emit("and", 1, nonzero, self.emit("ne", 1, q, b))
        if not signed:
            return bad
        minus1 = self.emit("eq", 1, a, self.const((1 << w) - 1, w))
        is_min = self.emit("eq", 1, b, self.const(1 << (w - 1), w))
        return self.emit("or", 1, bad, self.emit("and", 1, minus1, is_min))

    def inline(self, fn, e: A.Call) -> list[str]:
        args = []
        for a, (_n, pt, _uid) in zip(e.args, fn.params, strict=True):
            args.append(self.value_as(a, pt))
        saved: dict[int, list[str] | None] = {}
        for (pname, pt, uid), vals in zip(fn.params, args, strict=True):
            regs = self.new_regs(pt, pname + "_")
            for d, v in zip(regs, vals, strict=True):
                self.mov(d, v)
            saved[uid] = self.env.get(uid)
            self.env[uid] = regs
        ret_regs = self.new_regs(fn.ret, "ret") if not isinstance(fn.ret, T.VoidTy) else []
        frame = _Frame(ret_regs, fn.ret, self.b.new_block())
        self.frames.append(frame)
        before = self.facts
        self.stmts(fn.decl.body.stmts)
        self.facts = before
        if not self.b.terminated:
            frame.used = True
            self.goto(frame.exit)
        self.frames.pop()
        for uid, prev in saved.items():
            if prev is None:
                self.env.pop(uid, None)
            else:
                self.env[uid] = prev
        self.span = e.span
        if frame.used:
            self.b.set_block(frame.exit)
        # else every path ended the packet: what follows is unreachable (pruned in run())
        return ret_regs
