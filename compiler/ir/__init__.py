"""cora's IR (see :mod:`cora.compiler.ir.core` for the model and the op semantics).

``from cora.compiler.ir import Program, Op, ...`` re-exports the core data types and the op
registry (:mod:`.ops`: one :class:`OpDef` per opcode, and the tables derived from it); the
verifier (:mod:`.verify`), the text form (:mod:`.text`), header layouts (:mod:`.headers`) and
integer semantics (:mod:`.semantics`) are submodules.
"""

from __future__ import annotations

from cora.compiler.ir.core import (
    FULL_POLICIES,
    INT_WIDTHS,
    SHIM_DONE,
    SHIM_ID_BYTES,
    STATE_KINDS,
    VERDICTS,
    Block,
    Builder,
    IntType,
    IRError,
    Op,
    Program,
    RefType,
    Span,
    StateDecl,
    StateField,
    Type,
    c_bytes,
    check_group_ports,
    entry_layout,
    shim_bytes,
)
from cora.compiler.ir.ops import (
    ALL_OP_CLASSES,
    BINARY_OPS,
    COMPARE_OPS,
    OP_CLASS,
    OPS,
    TERMINATORS,
    OpDef,
)

__all__ = [
    "ALL_OP_CLASSES",
    "BINARY_OPS",
    "Block",
    "Builder",
    "COMPARE_OPS",
    "FULL_POLICIES",
    "INT_WIDTHS",
    "IRError",
    "IntType",
    "OPS",
    "OP_CLASS",
    "Op",
    "OpDef",
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
    "check_group_ports",
    "entry_layout",
    "shim_bytes",
]
