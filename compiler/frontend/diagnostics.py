"""Compiler diagnostics: ``file:line:col: error: message``, the source line and a caret.

The format is the one of C compilers (and docs/language.md, "Errors")::

    x.nf:12:9: error: unknown field 'sadr' of header ipv4 (did you mean 'saddr'?)
        if (ipv4.sadr == 10.0.0.1) { drop; }
                 ^~~~
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from cora.errors import CoraError


@dataclass(frozen=True)
class Diagnostic:
    """One message about NF source.

    Attributes:
        path: the source file's path as given by the user.
        line, col: 1-based position of the first character concerned.
        message: what is wrong (and, where possible, what to write instead).
        severity: ``error`` (the only one that fails a compile) or ``warning``.
        length: characters to underline (``^`` then ``~``), at least 1.
    """

    path: str
    line: int
    col: int
    message: str
    severity: str = "error"
    length: int = 1


def _sort_key(d: Diagnostic) -> tuple:
    return (d.line, d.col, d.severity != "error", d.message)


def format_diagnostic(d: Diagnostic, source_text: str) -> str:
    """Render one diagnostic: the header line, the source line and a caret line.

    Tabs in the source line are kept in the caret line's padding so the caret lines up. When
    the line does not exist (e.g. end of file), only the header line is returned.
    """
    head = f"{d.path}:{d.line}:{d.col}: {d.severity}: {d.message}"
    lines = source_text.splitlines()
    if not 1 <= d.line <= len(lines):
        return head
    text = lines[d.line - 1].rstrip("\r\n")
    col = max(1, d.col)
    pad = "".join("\t" if ch == "\t" else " " for ch in text[:col - 1])
    pad += " " * max(0, col - 1 - len(text))
    room = max(1, len(text) - (col - 1))
    length = max(1, min(d.length, room))
    return f"{head}\n{text}\n{pad}^{'~' * (length - 1)}"


def format_diagnostics(diags: list[Diagnostic], source_text: str) -> str:
    """All diagnostics sorted by position, each rendered by :func:`format_diagnostic`."""
    return "\n".join(format_diagnostic(d, source_text) for d in sorted(diags, key=_sort_key))


def sort_diagnostics(diags: list[Diagnostic]) -> list[Diagnostic]:
    """Diagnostics sorted by (line, column), errors first at a position, duplicates removed."""
    out, seen = [], set()
    for d in sorted(diags, key=_sort_key):
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def did_you_mean(name: str, candidates) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate (difflib ratio >= 0.6), else ``''``."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class CompileError(CoraError):
    """NF source has errors.

    Attributes:
        diagnostics: the errors, sorted by position.
        source_text: the source they refer to.
        rendered: the full formatted text (what ``cora check`` prints).
    The one-line ``message`` names the first error and how many there are in all.
    """

    def __init__(self, diagnostics: list[Diagnostic], source_text: str):
        self.diagnostics = sort_diagnostics(list(diagnostics))
        self.source_text = source_text
        self.rendered = format_diagnostics(self.diagnostics, source_text)
        errors = [d for d in self.diagnostics if d.severity == "error"] or self.diagnostics
        first = errors[0] if errors else None
        if first is None:
            msg = "compile failed"
        else:
            msg = f"{first.path}:{first.line}:{first.col}: {first.message}"
            if len(errors) > 1:
                msg += f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})"
        super().__init__(msg)

    def __str__(self) -> str:
        return self.rendered
