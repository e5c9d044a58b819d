"""cora's IR (see :mod:`cora.compiler.ir.core` for the model and the op semantics).

``from cora.compiler.ir import Program, Op, ...`` re-exports the core data types; the verifier
(:mod:`.verify`), the text form (:mod:`.text`), header layouts (:mod:`.headers`) and integer
semantics (:mod:`.semantics`) are submodules.
"""

from __future__ import annotations

from cora.compiler.ir.core import (
    BINARY_OPS, Block, Builder, COMPARE_OPS, FULL_POLICIES, INT_WIDTHS, IRError, IntType,
    OP_CLASS, Op, Program, RefType, SHIM_DONE, SHIM_ID_BYTES, STATE_KINDS, Span,
    StateDecl, StateField, TERMINATORS, Type, VERDICTS, c_bytes,
    entry_layout, shim_bytes,
)

__all__ = [
    "BINARY_OPS",
    "Block",
    "Builder",
    "COMPARE_OPS",
    "FULL_POLICIES",
    "INT_WIDTHS",
    "IRError",
    "IntType",
    "OP_CLASS",
    "Op",
    "Program",
    "RefType",
    "SHIM_DONE",
    "SHIM_ID_BYTES",
    "STATE_KINDS",
    "Span",
    "StateDecl",
    "StateField",
    "TERMINATORS",
    "Type",
    "VERDICTS",
    "c_bytes",
    "entry_layout",
    "shim_bytes",
]
