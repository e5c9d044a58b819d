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


def check_source(text: str, path: str) -> list[Diagnostic]:
    """Every error of NF source ``text`` (syntax and semantic), sorted by position.

    Args:
        text: the NF source.
        path: the file name shown in diagnostics.
    Returns:
        the diagnostics; an empty list means the program is well formed and well typed.
    Never raises for any input text.
    """
    return _check(text, path)[1]


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
    checked, diags = _check(text, path)
    errors = [d for d in diags if d.severity == "error"]
    if errors or checked is None:
        raise CompileError(diags, text)
    program = lower(checked, Path(path).stem or "nf", path)
    verify(program)
    if passes:
        from cora.compiler.passes import run_default  # rewrites ``program`` in place

        run_default(program)
        verify(program)
    return program


def read_source(path: str | Path) -> str:
    """The text of an NF file; raises InputError (one clear line) when it cannot be read."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not an NF source file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return data.decode("utf-8", errors="replace")


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
