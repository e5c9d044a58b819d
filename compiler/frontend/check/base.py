"""The state every checker module shares, and the methods they call across modules.

:class:`CheckerBase` holds what one check of a module accumulates (the :class:`Checked`
result, top-level declarations, the call graph) and reports diagnostics. The methods each
module calls from another are declared here with their types and defined in the module named
for them; :class:`~cora.compiler.frontend.check.Checker` combines the modules.
"""

from __future__ import annotations

from cora.compiler.frontend import ast as A
from cora.compiler.frontend import types as T
from cora.compiler.frontend.check.result import Checked
from cora.compiler.frontend.check.symbols import FnInfo, Scope, StateInfo, Symbol
from cora.compiler.frontend.diagnostics import Diagnostic
from cora.compiler.span import Span


class CheckerBase:
    """State and reporting shared by the checker modules (see the module docstring).

    Attributes:
        m: the module being checked; path: its file name (for diagnostics).
        out: the result being filled; diags: ``out.diagnostics``.
        top: top-level name -> its first declaration.
        fn: the function whose body is being checked (None in ``on packet``).
        calls: caller name (``""`` for ``on packet``) -> [(callee, call node)].
    """

    def __init__(self, module: A.Module, path: str):
        self.m = module
        self.path = path
        self.out = Checked(module)
        self.diags = self.out.diagnostics
        self.top: dict[str, A.Node] = {}
        self.fn: FnInfo | None = None
        self.calls: dict[str, list[tuple[str, A.Node]]] = {}
        self.uid = 0

    def err(self, span: Span, message: str) -> None:
        """Report an error at ``span``."""
        self.diags.append(Diagnostic.at(self.path, span, message))

    def new_uid(self) -> int:
        """A fresh id for a local, parameter or loop variable declaration."""
        self.uid += 1
        return self.uid

    # -- defined in declarations.py
    def resolve_type(self, node: A.Node) -> T.Ty:
        raise NotImplementedError

    # -- defined in statements.py
    def block(self, b: A.Block, parent: Scope) -> None:
        raise NotImplementedError

    # -- defined in limits.py
    def always_ends(self, node: A.Node) -> bool:
        raise NotImplementedError

    # -- defined in folding.py
    def untyped(self, e: A.Node, scope: Scope) -> bool:
        raise NotImplementedError

    def fold_untyped(self, e: A.Node, ty: T.IntTy | None) -> int:
        raise NotImplementedError

    def literal(self, e: A.Node, expected: T.Ty | None, scope: Scope) -> T.Ty:
        raise NotImplementedError

    def const_int(self, e: A.Node) -> int | None:
        raise NotImplementedError

    def const_leaves(self, e: A.Node) -> list[int] | None:
        raise NotImplementedError

    def const_expr_int(self, e: A.Node, what: str, ty: T.IntTy = T.U64) -> int | None:
        raise NotImplementedError

    # -- defined in expressions.py
    def state_ref(self, obj: A.Node, scope: Scope) -> StateInfo | None:
        raise NotImplementedError

    def global_sym(self, name: str, scope: Scope) -> Symbol | None:
        raise NotImplementedError

    def undefined(self, e: A.Name, scope: Scope, what: str = "name") -> None:
        raise NotImplementedError

    def header_field_names(self, name: str) -> list[str]:
        raise NotImplementedError

    def array_index(self, e: A.Index, base: T.Ty, scope: Scope) -> T.Ty:
        raise NotImplementedError

    def field_type(self, e: A.Field, base: T.Ty) -> T.Ty:
        raise NotImplementedError

    def want(self, e: A.Node, ty: T.Ty, scope: Scope) -> T.Ty:
        raise NotImplementedError

    def value_expr(self, e: A.Node, expected: T.Ty | None, scope: Scope) -> T.Ty:
        raise NotImplementedError

    def expr(self, e: A.Node, expected: T.Ty | None, scope: Scope,
             stmt: bool = False) -> T.Ty:
        raise NotImplementedError
