"""Lexical pieces of the IR text form shared by the op registry (:mod:`.ops`, each op's own
syntax) and the program printer/parser (:mod:`.text`): types, register lists, labels.

Nothing here knows an opcode; the per-op forms live with each op in :mod:`.ops`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from cora.compiler.ir.core import IntType, IRError, Program, RefType, Type


def parse_type(text: str) -> Type:
    """``u<width>`` -> :class:`IntType`, ``ref<STATE>`` -> :class:`RefType`; IRError else."""
    m = re.fullmatch(r"u(\d+)", text)
    if m:
        return IntType(int(m.group(1)))
    m = re.fullmatch(r"ref<(\w+)>", text)
    if m:
        return RefType(m.group(1))
    raise IRError(f"bad type {text!r}")


def regs_text(args: Iterable[str]) -> str:
    """``%a, %b`` for register names ``("a", "b")``."""
    return ", ".join(f"%{a}" for a in args)


def parse_reg_list(text: str) -> tuple[str, ...]:
    """``%a, %b`` -> ``("a", "b")`` (empty text -> ``()``); IRError for a non-register."""
    text = text.strip()
    if not text:
        return ()
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part.startswith("%"):
            raise IRError(f"expected a register, got {part!r}")
        out.append(part[1:])
    return tuple(out)


def typed_regs_text(regs: Iterable[str], program: Program) -> str:
    """``%a:u32, %b:u16``: registers with their types in ``program``."""
    return ", ".join(f"%{r}:{program.regs[r]}" for r in regs)


def declare_reg(program: Program, name: str, type_text: str) -> None:
    """Record register ``name`` of the type written ``type_text`` in ``program``.

    Raises:
        IRError: a bad type, or the register was declared before with another type.
    """
    t = parse_type(type_text)
    prev = program.regs.get(name)
    if prev is not None and prev != t:
        raise IRError(f"%{name} declared as {prev} and {t}")
    program.regs[name] = t
