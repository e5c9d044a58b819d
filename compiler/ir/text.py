"""Textual form of the IR: :func:`print_program` and :func:`parse_program` (exact round trip).

Example::

    nf flowcount
    state flows: hash key(saddr:u32, daddr:u32, sport:u16, dport:u16, proto:u8) \\
        value(packets:u64, bytes:u64) capacity 65536 on_full skip origin map @5:1
    bb0:
      %t0:u1 = hdr.valid ipv4 @7:9
      br %t0, bb1, bb2
    bb1:
      %t1:ref<flows> = map.lookup flows(%k0, %k1, %k2, %k3, %k4)
      %t2:u64 = ref.load flows %t1.0
      ref.store flows %t1.0, %t3
      %t4:u1 = map.update flows(%k0, %k1, %k2, %k3, %k4) = (%t5, %t6)
      map.delete flows(%k0, %k1, %k2, %k3, %k4)
      %t7:u32 = hash 3 (%a, %b)
      hdr.store ipv4.ttl, %t8
      ret pass

Operands are ``%name``; types follow a destination after ``:`` (and each register a
``shim.pop`` restores: ``shim.pop final {7: bb5(%a:u32, %b:u16)}``); ``@line:col`` gives the
source position. Lines starting with ``;`` are comments.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from cora.compiler.ir.core import Block, IntType, IRError, Op, Program, Span, StateDecl, StateField
from cora.compiler.ir.ops import opdef
from cora.compiler.ir.syntax import declare_reg, parse_type


def _fields(fields: Iterable[StateField]) -> str:
    return ", ".join(f"{f.name}:u{f.width}" for f in fields)


def _entries(init: Iterable[tuple[tuple[int, ...], tuple[int, ...]]]) -> str:
    parts = []
    for k, v in init:
        parts.append("(" + ", ".join(map(str, k)) + "): (" + ", ".join(map(str, v)) + ")")
    return "{" + ", ".join(parts) + "}"


def print_state(s: StateDecl) -> str:
    """One line describing a state declaration."""
    line = (f"state {s.name}: {s.kind} key({_fields(s.key)}) value({_fields(s.value)}) "
            f"capacity {s.capacity}")
    if s.on_full:
        line += f" on_full {s.on_full}"
    if s.origin:
        line += f" origin {s.origin}"
    if s.params:
        line += " params(" + ", ".join(f"{k}={v}" for k, v in s.params.items()) + ")"
    if s.init:
        line += f" init {_entries(s.init)}"
    if s.span:
        line += f" @{s.span}"
    return line


def print_op(op: Op, program: Program) -> str:
    """One line for one op (without indentation): ``[%dest:type = ]`` then the op's own
    syntax (:attr:`cora.compiler.ir.ops.OpDef.syntax`), then ``@line:col``."""
    body = opdef(op.opcode).syntax.print(op, program)
    if op.dest is not None:
        body = f"%{op.dest}:{program.regs[op.dest]} = {body}"
    if op.span:
        body += f" @{op.span}"
    return body


def print_program(program: Program) -> str:
    """The whole program as text; :func:`parse_program` reads it back to an equal program."""
    lines = [f"nf {program.name}"]
    if program.source:
        lines.append(f"source {program.source}")
    lines += [print_state(s) for s in program.states]
    for block in program.blocks:
        lines.append(f"{block.label}:")
        lines += ["  " + print_op(op, program) for op in block.ops]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------- parsing

_SPAN = re.compile(r"\s+@(\d+):(\d+)$")


def _split_span(text: str) -> tuple[str, Span | None]:
    m = _SPAN.search(text)
    if not m:
        return text, None
    return text[:m.start()], Span(int(m.group(1)), int(m.group(2)))


def _parse_fields(text: str) -> tuple[StateField, ...]:
    out = []
    for part in text.split(","):
        name, _, t = part.strip().partition(":")
        ty = parse_type(t)
        if not isinstance(ty, IntType):
            raise IRError(f"state field {name} must be an integer")
        out.append(StateField(name, ty.width))
    return tuple(out)


def _parse_ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x.strip())


def parse_state(line: str) -> StateDecl:
    """Parse one `state ...` line (as printed by :func:`print_state`)."""
    line, span = _split_span(line)
    m = re.fullmatch(
        r"state (\w+): (\w+) key\(([^)]*)\) value\(([^)]*)\) capacity (\d+)"
        r"(?: on_full (\w+))?(?: origin (\w+))?(?: params\(([^)]*)\))?(?: init \{(.*)\})?", line)
    if not m:
        raise IRError(f"bad state line: {line}")
    name, kind, key, value, cap, on_full, origin, params, init = m.groups()
    entries = []
    if init:
        for em in re.finditer(r"\(([^)]*)\): \(([^)]*)\)", init):
            entries.append((_parse_ints(em.group(1)), _parse_ints(em.group(2))))
    pdict = {}
    if params:
        for part in params.split(","):
            k, _, v = part.strip().partition("=")
            pdict[k] = int(v)
    return StateDecl(name, kind, _parse_fields(key), _parse_fields(value), int(cap), on_full,
                     tuple(entries), origin or "", pdict, span)


_OP = re.compile(r"(?:%(\w+):(\S+) = )?([\w.]+)(?: (.*))?$")


def _parse_op(text: str, program: Program) -> Op:
    text, span = _split_span(text.strip())
    m = _OP.fullmatch(text)
    if not m:
        raise IRError(f"bad op line: {text}")
    dest, dtype, code, rest = m.groups()
    if dest is not None:
        declare_reg(program, dest, dtype)
    args, attrs = opdef(code).syntax.parse(code, rest or "", program)
    return Op(code, dest, args, attrs, span)


def parse_program(text: str) -> Program:
    """Parse the textual IR; raises IRError on malformed text (the result is not verified)."""
    program = Program("")
    block: Block | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        try:
            if line.startswith("nf "):
                program.name = line[3:].strip()
            elif line.startswith("source "):
                program.source = line[7:].strip()
            elif line.startswith("state "):
                program.states.append(parse_state(line))
            elif not line.startswith(" ") and line.endswith(":"):
                block = Block(line[:-1])
                program.blocks.append(block)
            else:
                if block is None:
                    raise IRError("op outside a block")
                block.ops.append(_parse_op(line, program))
        except IRError as exc:
            raise IRError(f"line {lineno}: {exc}") from None
        except (ValueError, KeyError, IndexError) as exc:
            raise IRError(f"line {lineno}: malformed: {line.strip()} ({exc})") from None
    return program
