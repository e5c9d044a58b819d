"""The one source-position type of the compiler, used by the AST, the IR and diagnostics.

It sits below every compiler package (it imports nothing from cora), so the front end, the IR
(``Op.span``, ``StateDecl.span``) and :class:`~cora.compiler.frontend.diagnostics.Diagnostic`
all use the same class.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Span:
    """A range of NF source: 1-based ``line``/``col`` of its first character and, when known,
    ``end_line``/``end_col`` of the character after its last one (0 = not known, e.g. a span
    read back from IR text, which records only the start).

    Only the start takes part in equality and hashing, so an IR program printed and parsed
    again compares equal to the original. ``str(span)`` is ``line:col`` (the IR text form).
    """

    line: int
    col: int
    end_line: int = field(default=0, compare=False)
    end_col: int = field(default=0, compare=False)

    def __str__(self) -> str:
        return f"{self.line}:{self.col}"

    @property
    def length(self) -> int:
        """Characters a caret line underlines: 1 when the end is unknown or on another line."""
        if self.end_line != self.line or self.end_col <= self.col:
            return 1
        return self.end_col - self.col

