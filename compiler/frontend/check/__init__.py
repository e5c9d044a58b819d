"""The type checker: resolves names, computes types and constants, and reports every error.

:func:`check_module` walks the whole AST once and returns a :class:`Checked` result: the
diagnostics (all of them, sorted) and, for a program without errors, everything the lowering
needs (types of expressions, resolved names, constant values, state layouts, loop bounds,
match patterns), each keyed by :func:`node_key`. It never raises for a user's mistake.

The checks live in modules named for what they check: :mod:`.declarations` (types, structs,
constants, state, functions), :mod:`.statements`, :mod:`.expressions`, :mod:`.folding`
(compile-time values, by :mod:`cora.compiler.ir.semantics`) and :mod:`.limits` (recursion,
inlining depth, unrolled size); :mod:`.symbols` holds the symbols and language tables and
:mod:`.result` the output type. :mod:`.backend` checks the eBPF backends' limits (maps per
program, instructions, stack) on the lowered program; the driver runs it after this.

Rules are those of docs/language.md; limits: capacity at most :data:`MAX_CAPACITY` entries,
state in total at most :data:`MAX_STATE_BYTES`, ``for`` at most :data:`MAX_LOOP_TRIPS`
iterations, calls nested at most :data:`MAX_INLINE_DEPTH` deep.
"""

from __future__ import annotations

from cora.compiler.frontend import ast as A
from cora.compiler.frontend import types as T
from cora.compiler.frontend.check.declarations import DeclarationChecks
from cora.compiler.frontend.check.expressions import ExpressionChecks
from cora.compiler.frontend.check.folding import (
    BINARY_OPCODE,
    ConstantFolding,
    binary_opcode,
    fold_binary,
)
from cora.compiler.frontend.check.limits import LimitChecks
from cora.compiler.frontend.check.result import Checked, NodeKey, node_key
from cora.compiler.frontend.check.statements import StatementChecks
from cora.compiler.frontend.check.symbols import (
    ARITH_OPS,
    BUILTIN_FUNCS,
    BUILTIN_VALUES,
    CMP_OPS,
    MAX_CAPACITY,
    MAX_COUNTMIN_DEPTH,
    MAX_INLINE_DEPTH,
    MAX_LOOP_TRIPS,
    MAX_STATE_BYTES,
    MAX_UNROLLED_STMTS,
    OVERFLOW_FUNCS,
    SHIFT_OPS,
    STATE_WORDS,
    VERDICT_WORDS,
    BuiltinSym,
    ConstSym,
    FnInfo,
    FnSym,
    HeaderSym,
    LocalSym,
    Scope,
    StateInfo,
    StateSym,
    StateWord,
    Symbol,
    UserField,
    UserHeader,
    builtin_name,
)
from cora.compiler.frontend.diagnostics import sort_diagnostics
from cora.compiler.ir.headers import BUILTIN_CONSTANTS

__all__ = [
    "ARITH_OPS", "BINARY_OPCODE", "BUILTIN_FUNCS", "BUILTIN_VALUES", "CMP_OPS", "MAX_CAPACITY",
    "MAX_COUNTMIN_DEPTH", "MAX_INLINE_DEPTH", "MAX_LOOP_TRIPS", "MAX_STATE_BYTES",
    "MAX_UNROLLED_STMTS", "OVERFLOW_FUNCS", "SHIFT_OPS", "STATE_WORDS", "VERDICT_WORDS",
    "BuiltinSym", "Checked",
    "Checker", "ConstSym", "FnInfo", "FnSym", "HeaderSym", "LocalSym", "NodeKey", "Scope",
    "StateInfo", "StateSym", "StateWord", "Symbol", "UserField", "UserHeader", "builtin_name",
    "check_module",
    "binary_opcode", "fold_binary", "node_key",
]


def check_module(module: A.Module, path: str) -> Checked:
    """Check a parsed module; see :class:`Checked`. Never raises for user mistakes."""
    return Checker(module, path).run()


class Checker(DeclarationChecks, ConstantFolding, LimitChecks, StatementChecks,
              ExpressionChecks):
    """Checks one module: :meth:`run` walks it once and returns the :class:`Checked`."""

    # ------------------------------------------------------------------ driver
    def run(self) -> Checked:
        items = self.m.items
        for it in items:
            if isinstance(it, A.OnDecl):
                continue
            if builtin_name(it.name):
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
            elif isinstance(it, A.HeaderDecl):
                self.header_decl(it)
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
            self.block(on.body, Scope())
        self.check_recursion()
        if self.out.entry is not None and not any(d.severity == "error" for d in self.diags):
            self.check_unrolled_size(self.out.entry)
        self.out.diagnostics[:] = sort_diagnostics(self.diags)
        return self.out
