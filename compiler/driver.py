"""The front end's entry points: source text -> diagnostics or a verified IR program.

Others call exactly these: :func:`check_source` (``cora check``), :func:`compile_source` and
:func:`compile_file` (``cora compile``/``run``/``bench``). ``python -m cora.compiler.driver
FILE.nf`` prints the IR text, or the diagnostics and exits 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cora.compiler import ir
from cora.compiler.frontend.check import Checked, check_module
from cora.compiler.frontend.check.backend import check_backend_limits
from cora.compiler.frontend.diagnostics import CompileError, Diagnostic, sort_diagnostics
from cora.compiler.frontend.lower import lower
from cora.compiler.frontend.parse import parse_source
from cora.compiler.ir.verify import verify
from cora.errors import InputError


def _check(text: str, path: str) -> tuple[Checked | None, list[Diagnostic]]:
    module, diags = parse_source(text, path)
    if module is None:
        return None, sort_diagnostics(diags)
    checked = check_module(module, path)
    return checked, sort_diagnostics(diags + checked.diagnostics)


def _lower(checked: Checked, path: str, passes: bool) -> ir.Program:
    program = lower(checked, Path(path).stem or "nf", path)
    verify(program)
    if passes:
        from cora.compiler.passes import run_default  # rewrites ``program`` in place

        run_default(program)
        verify(program)
    return program


def _check_all(text: str, path: str,
               passes: bool = True) -> tuple[ir.Program | None, list[Diagnostic]]:
    """Diagnostics of the checker and, for a well-typed program, of the eBPF backends'
    limits (:func:`~cora.compiler.frontend.check.backend.check_backend_limits`, on the
    optimised program); the program when there is no error."""
    checked, diags = _check(text, path)
    if checked is None or any(d.severity == "error" for d in diags):
        return None, diags
    program = _lower(checked, path, passes=True)
    diags = sort_diagnostics(diags + check_backend_limits(checked, program, path))
    if any(d.severity == "error" for d in diags):
        return None, diags
    return (program if passes else _lower(checked, path, passes=False)), diags


def check_source(text: str, path: str) -> list[Diagnostic]:
    """Every error of NF source ``text`` (syntax, semantic and the eBPF backends' limits:
    :mod:`cora.compiler.frontend.check.backend`), sorted by position.

    Args:
        text: the NF source.
        path: the file name shown in diagnostics.
    Returns:
        the diagnostics; an empty list means the program is well formed and well typed and
        fits the kernel's limits.
    Never raises for any input text.
    """
    return _check_all(text, path)[1]


def compile_source(text: str, path: str, passes: bool = True) -> ir.Program:
    """Compile NF source to a verified IR program.

    Args:
        text: the NF source.
        path: its path (for diagnostics and ``program.source``); the program's name is the
            file stem.
        passes: run ``cora.compiler.passes.run_default`` when that module exists, then verify
            again.
    Raises:
        CompileError: the source has errors (``.diagnostics``, ``.rendered``).
    """
    program, diags = _check_all(text, path, passes=passes)
    if program is None:
        raise CompileError(diags, text)
    return program


def read_source(path: str | Path) -> str:
    """The text of an NF file (bytes that are not UTF-8 become U+FFFD, which the parser then
    reports with a position).

    Raises:
        InputError: one clear line when the file is missing, unreadable, not a regular file
            (a FIFO, a device such as /dev/zero, a directory: refused without reading) or
            larger than :data:`cora.inputs.MAX_SOURCE_BYTES`.
    """
    from cora.inputs import MAX_SOURCE_BYTES, read_regular

    return read_regular(path, "NF source", MAX_SOURCE_BYTES).decode("utf-8", errors="replace")


def compile_file(path: str | Path, passes: bool = True) -> ir.Program:
    """Read and compile an NF file (see :func:`compile_source`).

    Raises:
        InputError: the file cannot be read.
        CompileError: the source has errors.
    """
    return compile_source(read_source(path), str(path), passes=passes)


def main(argv: list[str] | None = None) -> int:
    """``python -m cora.compiler.driver FILE.nf [--no-passes]``: print IR or diagnostics."""
    from cora.compiler.ir.text import print_program
    args = list(sys.argv[1:] if argv is None else argv)
    passes = "--no-passes" not in args
    files = [a for a in args if a != "--no-passes"]
    if len(files) != 1:
        print("usage: python -m cora.compiler.driver FILE.nf [--no-passes]", file=sys.stderr)
        return 2
    try:
        text = read_source(files[0])
        program = compile_source(text, files[0], passes=passes)
    except CompileError as exc:
        print(exc.rendered, file=sys.stderr)
        return 1
    except InputError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    sys.stdout.write(print_program(program))
    return 0


if __name__ == "__main__":
    sys.exit(main())
