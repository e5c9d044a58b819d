"""The compiler: NF source -> verified IR (frontend, ir, passes) and offload planning.

Public entry points (imported lazily so ``import cora.compiler.ir`` stays light):
:func:`compile_file`, :func:`compile_source` and :func:`check_source` from
:mod:`cora.compiler.driver`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cora.compiler.driver import check_source, compile_file, compile_source

__all__ = ["check_source", "compile_file", "compile_source"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from cora.compiler import driver
        return getattr(driver, name)
    raise AttributeError(f"module 'cora.compiler' has no attribute {name!r}")
