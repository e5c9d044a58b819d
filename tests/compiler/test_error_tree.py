"""Every error class a user can meet is a CoraError (one line at the CLI, never a traceback),
and compile errors reach the CLI with their rendered diagnostics."""

import errno
import subprocess
import sys

from cora.compiler.frontend.diagnostics import CompileError
from cora.compiler.frontend.lower import LoweringError
from cora.compiler.offload.partition import PartitionError
from cora.errors import CoraError, InputError, InternalError, KernelError


def test_error_classes_join_the_cora_error_tree():
    assert issubclass(PartitionError, InputError)
    assert issubclass(LoweringError, InternalError)
    assert issubclass(InternalError, CoraError)
    assert issubclass(CompileError, CoraError)


def test_kernel_error_errno_is_an_attribute():
    assert KernelError("refused").errno is None
    exc = KernelError("map create: no such file", errno=errno.ENOENT)
    assert exc.errno == errno.ENOENT and exc.message == "map create: no such file"


def test_compile_error_details_are_the_rendered_diagnostics():
    from cora.compiler.driver import compile_source
    src = "on packet {\n    let x = y;\n}\n"
    try:
        compile_source(src, "x.nf")
    except CompileError as exc:
        assert exc.details == exc.rendered and "^" in exc.details
    else:
        raise AssertionError("no CompileError")


def test_cli_prints_diagnostics_then_one_line(tmp_path):
    nf = tmp_path / "bad.nf"
    nf.write_text("on packet {\n    let x = y;\n}\n")
    r = subprocess.run([sys.executable, "-m", "cora.cli", "compile", str(nf), "-o",
                        str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert lines[0] == f"{nf}:2:13: error: undefined name 'y'"
    assert lines[1] == "    let x = y;" and lines[2].strip() == "^"
    assert lines[-1].startswith("cora: error: ") and "Traceback" not in r.stderr
