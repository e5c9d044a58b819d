"""The check shared by the exact-diagnostic tables (test_diagnostics, test_check_regressions)."""

import pytest

from cora.compiler.driver import check_source, compile_source
from cora.compiler.frontend.diagnostics import CompileError, format_diagnostic
from cora.errors import CoraError


def assert_one_diagnostic(src: str, head: str, caret: str) -> None:
    """``src`` (checked as ``x.nf``) gets exactly one diagnostic, rendered as ``head`` (the
    ``x.nf:L:C: error: ...`` line), then the source line it points into, then ``caret``; and
    compiling it raises a :class:`CompileError` (a :class:`CoraError`) with that same head."""
    diags = check_source(src, "x.nf")
    assert len(diags) == 1, diags
    lines = format_diagnostic(diags[0], src).split("\n")
    assert lines[0] == head
    assert lines[1] == src.splitlines()[diags[0].line - 1]
    assert lines[2] == caret
    with pytest.raises(CompileError) as info:
        compile_source(src, "x.nf")
    assert info.value.rendered.split("\n")[0] == head
    assert isinstance(info.value, CoraError)
