"""Constant folding of the checker: untyped literal arithmetic and compile-time values.

Every fold uses the IR's arithmetic from :mod:`cora.compiler.ir.semantics` (wrapping, division
by zero, over-wide shifts), so a value folded here is the value the program computes.
"""

from __future__ import annotations

from cora.compiler.frontend import ast as A
from cora.compiler.frontend import types as T
from cora.compiler.frontend.check.base import CheckerBase
from cora.compiler.frontend.check.result import node_key
from cora.compiler.frontend.check.symbols import ARITH_OPS, CMP_OPS, SHIFT_OPS, ConstSym, Scope
from cora.compiler.ir import semantics as sem

#: language operator -> IR binary opcode (the lowering emits the same opcode)
BINARY_OPCODE = {"+": "add", "-": "sub", "*": "mul", "/": "div", "%": "mod", "&": "and",
                 "|": "or", "^": "xor", "<<": "shl", ">>": "shr"}
#: the opcode a signed operand type selects instead (two's complement, ir.semantics)
SIGNED_OPCODE = {"div": "sdiv", "mod": "smod", "shr": "sar", "lt": "slt", "le": "sle",
                 "gt": "sgt", "ge": "sge"}
_FOLD = {"add": sem.add, "sub": sem.sub, "mul": sem.mul, "div": sem.div, "mod": sem.mod,
         "shl": sem.shl, "shr": sem.shr, "sdiv": sem.sdiv, "smod": sem.smod, "sar": sem.sar,
         "and": lambda a, b, _w: a & b, "or": lambda a, b, _w: a | b,
         "xor": lambda a, b, _w: a ^ b}


def binary_opcode(op: str, signed: bool) -> str:
    """The IR opcode of language operator ``op`` (``+``..``>>``) on operands of the given
    signedness (``/`` on signed operands is ``sdiv`` ...). KeyError for an unknown ``op``."""
    code = BINARY_OPCODE[op]
    return SIGNED_OPCODE.get(code, code) if signed else code


def fold_binary(op: str, a: int, b: int, width: int, signed: bool = False) -> int:
    """Value of ``a op b`` (a language operator) on ``width``-bit integers (bit patterns;
    ``signed``: read as two's complement), by the IR's rules
    (:mod:`cora.compiler.ir.semantics`). Raises KeyError for an unknown ``op``."""
    return _FOLD[binary_opcode(op, signed)](a, b, width)


def fold_compare(op: str, a: int, b: int, width: int, signed: bool) -> int:
    """Value (0/1) of comparison ``a op b`` on ``width``-bit patterns (signed or not)."""
    if signed:
        a, b = sem.to_signed(a, width), sem.to_signed(b, width)
    return int({"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b,
                ">=": a >= b}[op])


class ConstantFolding(CheckerBase):
    """Checker methods that find and compute compile-time integer values."""

    def untyped(self, e: A.Node, scope: Scope) -> bool:
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
            return self.out.consts[e.id].int_value
        width = ty.width if ty is not None else 64
        if isinstance(e, A.Unary):
            v = self.fold_untyped(e.operand, ty)
            return (-v if e.op == "-" else ~v) & sem.mask(width)
        assert isinstance(e, A.Binary)  # untyped() admits only these
        a, b = self.fold_untyped(e.left, ty), self.fold_untyped(e.right, ty)
        if ty is None and e.op in ("+", "*", "<<") :
            r = a + b if e.op == "+" else a * b if e.op == "*" else (a << b if b < 64 else 0)
            return r if r < (1 << 64) else r & sem.mask(64)
        return fold_binary(e.op, a & sem.mask(width), b & sem.mask(width), width,
                           ty is not None and ty.signed)

    def const_int(self, e: A.Node) -> int | None:
        """Compile-time value of a checked scalar expression, or None if not constant."""
        info = self.out
        if node_key(e) in info.values:
            return info.values[node_key(e)]
        if isinstance(e, A.IntLit):
            return e.value
        if isinstance(e, (A.Ip4Lit, A.MacLit)):
            return e.value
        if isinstance(e, A.BoolLit):
            return int(e.value)
        if isinstance(e, A.Name):
            sym = info.syms.get(node_key(e))
            if isinstance(sym, ConstSym) and isinstance(sym.value, int):
                return sym.value
            return None
        ty = info.types.get(node_key(e))
        if not isinstance(ty, T.IntTy):
            return None
        if isinstance(e, A.Unary):
            v = self.const_int(e.operand)
            if v is None:
                return None
            if e.op == "!":
                return 1 - v
            return (-v if e.op == "-" else ~v) & sem.mask(ty.width)
        if isinstance(e, A.Cast):
            v = self.const_int(e.expr)
            st = info.types.get(node_key(e.expr))
            if v is not None and isinstance(st, T.IntTy) and st.signed:
                v = sem.sext(v, st.width, max(st.width, ty.width))
            return None if v is None else v & sem.mask(ty.width)
        if isinstance(e, A.Binary):
            a, b = self.const_int(e.left), self.const_int(e.right)
            if a is None or b is None:
                return None
            if e.op in CMP_OPS:
                lt, rt = info.types.get(node_key(e.left)), info.types.get(node_key(e.right))
                if isinstance(lt, T.IntTy) and isinstance(rt, T.IntTy) and \
                        (ct := T.common_int(lt, rt)) is not None and ct.signed:
                    a = sem.sext(a, lt.width, 64) if lt.signed else a
                    b = sem.sext(b, rt.width, 64) if rt.signed else b
                    return fold_compare(e.op, a, b, 64, True)
                return fold_compare(e.op, a, b, 64, False)
            if e.op == "&&":
                return a & b
            if e.op == "||":
                return a | b
            if e.op in ARITH_OPS + SHIFT_OPS:
                w = ty.width
                if e.op in SHIFT_OPS:
                    lt = info.types.get(node_key(e.left))
                    w = lt.width if isinstance(lt, T.IntTy) else w
                else:  # operands widen to the result type (sign-extending signed ones)
                    for side in (e.left, e.right):
                        st = info.types.get(node_key(side))
                        if isinstance(st, T.IntTy) and st.signed and st.width < w:
                            if side is e.left:
                                a = sem.sext(a, st.width, w)
                            else:
                                b = sem.sext(b, st.width, w)
                return fold_binary(e.op, a, b, w, ty.signed)
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
            st = self.out.types.get(node_key(e))
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
        one = self.const_int(e)
        return None if one is None else [one]

    def const_expr_int(self, e: A.Node, what: str, ty: T.IntTy = T.U64) -> int | None:
        """Check ``e`` as a compile-time integer for ``what``; reports and returns None if not."""
        got = self.want(e, ty, Scope())
        if T.is_error(got):
            return None
        v = self.const_int(e)
        if v is None:
            self.err(e.span, f"{what} must be a constant (a literal or a 'const')")
        return v

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
        self.out.values[node_key(e)] = self.fold_untyped(e, ty) & sem.mask(ty.width)
        return ty

    def has_wrap(self, e) -> bool:
        return isinstance(e, A.Unary) or (isinstance(e, A.Binary) and
                                           (self.has_wrap(e.left) or self.has_wrap(e.right)))

    def check_lits(self, e, ty: T.IntTy, negated: bool = False) -> bool:
        """Every literal and untyped constant of ``e`` fits ``ty`` (for a signed type: at most
        its maximum, or one more right after a unary minus, as in ``-128`` for ``i8``)."""
        top = ty.max_value + (1 if negated and ty.signed else 0)
        if isinstance(e, A.IntLit):
            if e.value > top:
                self.err(e.span, f"the literal {e.value} does not fit in {ty} "
                                 f"(at most {top})")
                return False
            return True
        if isinstance(e, A.Name):
            self.out.syms[node_key(e)] = self.out.consts[e.id]
            v = self.out.consts[e.id].int_value
            if v > top:
                self.err(e.span, f"the constant {e.id} = {v} does not fit in {ty}")
                return False
            return True
        if isinstance(e, A.Unary):
            return self.check_lits(e.operand, ty, e.op == "-")
        ok = self.check_lits(e.left, ty)
        return self.check_lits(e.right, ty) and ok
