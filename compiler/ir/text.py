"""Textual form of the IR: :func:`print_program` and :func:`parse_program` (exact round trip).

Example::

    nf flowcount
    state flows: hash key(saddr:u32, daddr:u32, sport:u16, dport:u16, proto:u8) value(packets:u64, bytes:u64) capacity 65536 on_full skip origin map @5:1
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

from cora.compiler.ir import (Block, IntType, IRError, Op, Program, RefType, Span, StateDecl,
                              StateField, Type)


def _type_str(t: Type) -> str:
    return str(t)


def _parse_type(text: str) -> Type:
    m = re.fullmatch(r"u(\d+)", text)
    if m:
        return IntType(int(m.group(1)))
    m = re.fullmatch(r"ref<(\w+)>", text)
    if m:
        return RefType(m.group(1))
    raise IRError(f"bad type {text!r}")


def _regs(args) -> str:
    return ", ".join(f"%{a}" for a in args)


def _fields(fields) -> str:
    return ", ".join(f"{f.name}:u{f.width}" for f in fields)


def _entries(init) -> str:
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
    """One line for one op (without indentation)."""
    a = op.attrs
    c = op.opcode
    if c == "const":
        body = f"const {a['value']}"
    elif c in ("hdr.valid",):
        body = f"{c} {a['header']}"
    elif c == "hdr.load":
        body = f"{c} {a['header']}.{a['field']}"
    elif c == "hdr.store":
        body = f"{c} {a['header']}.{a['field']}, %{op.args[0]}"
    elif c == "hash":
        body = f"hash {a.get('seed', 0)} ({_regs(op.args)})"
    elif c in ("map.lookup", "map.delete"):
        body = f"{c} {a['state']}({_regs(op.args)})"
    elif c == "map.update":
        n = a["nkeys"]
        body = f"{c} {a['state']}({_regs(op.args[:n])}) = ({_regs(op.args[n:])})"
    elif c == "ref.found":
        body = f"{c} {a['state']} %{op.args[0]}"
    elif c == "ref.load":
        body = f"{c} {a['state']} %{op.args[0]}.{a['index']}"
    elif c == "ref.store":
        body = f"{c} {a['state']} %{op.args[0]}.{a['index']}, %{op.args[1]}"
    elif c == "br":
        t = a["targets"]
        body = f"br %{op.args[0]}, {t[0]}, {t[1]}"
    elif c == "jmp":
        body = f"jmp {a['targets'][0]}"
    elif c == "ret":
        body = f"ret {a['verdict']}" + (f" %{op.args[0]}" if op.args else "")
    elif c == "shim.push":
        body = f"shim.push {a['resume']} ({_regs(op.args)})"
    elif c == "shim.pop":
        table = ", ".join(f"{k}: {t}(" + ", ".join(f"%{r}:{program.regs[r]}" for r in rs) + ")"
                          for k, t, rs in zip(a["resume"], a["targets"], a["regs"]))
        body = f"shim.pop {'final' if a['final'] else 'forward'} {{{table}}}"
    else:
        body = c + (" " + _regs(op.args) if op.args else "")
    if op.dest is not None:
        body = f"%{op.dest}:{_type_str(program.regs[op.dest])} = {body}"
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


def _reg_list(text: str) -> tuple[str, ...]:
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


def _parse_fields(text: str) -> tuple[StateField, ...]:
    out = []
    for part in text.split(","):
        name, _, t = part.strip().partition(":")
        ty = _parse_type(t)
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
    rest = rest or ""
    if dest is not None:
        t = _parse_type(dtype)
        prev = program.regs.get(dest)
        if prev is not None and prev != t:
            raise IRError(f"%{dest} declared as {prev} and {t}")
        program.regs[dest] = t
    attrs: dict = {}
    args: tuple[str, ...] = ()
    if code == "const":
        attrs["value"] = int(rest)
    elif code == "hdr.valid":
        attrs["header"] = rest
    elif code == "hdr.load":
        attrs["header"], attrs["field"] = rest.split(".")
    elif code == "hdr.store":
        target, reg = rest.split(",")
        attrs["header"], attrs["field"] = target.strip().split(".")
        args = _reg_list(reg)
    elif code == "hash":
        mm = re.fullmatch(r"(\d+) \((.*)\)", rest)
        if not mm:
            raise IRError(f"bad hash: {text}")
        attrs["seed"] = int(mm.group(1))
        args = _reg_list(mm.group(2))
    elif code in ("map.lookup", "map.delete"):
        mm = re.fullmatch(r"(\w+)\((.*)\)", rest)
        if not mm:
            raise IRError(f"bad {code}: {text}")
        attrs["state"] = mm.group(1)
        args = _reg_list(mm.group(2))
    elif code == "map.update":
        mm = re.fullmatch(r"(\w+)\((.*?)\) = \((.*)\)", rest)
        if not mm:
            raise IRError(f"bad map.update: {text}")
        attrs["state"] = mm.group(1)
        keys, values = _reg_list(mm.group(2)), _reg_list(mm.group(3))
        attrs["nkeys"] = len(keys)
        args = keys + values
    elif code in ("ref.found", "ref.load", "ref.store"):
        mm = re.fullmatch(r"(\w+) %(\w+)(?:\.(\d+))?(?:, %(\w+))?", rest)
        if not mm:
            raise IRError(f"bad {code}: {text}")
        attrs["state"] = mm.group(1)
        args = (mm.group(2),)
        if mm.group(3) is not None:
            attrs["index"] = int(mm.group(3))
        if mm.group(4) is not None:
            args += (mm.group(4),)
    elif code == "br":
        parts = [p.strip() for p in rest.split(",")]
        if len(parts) != 3:
            raise IRError(f"bad br: {text}")
        args = _reg_list(parts[0])
        attrs["targets"] = (parts[1], parts[2])
    elif code == "jmp":
        attrs["targets"] = (rest.strip(),)
    elif code == "shim.push":
        mm = re.fullmatch(r"(\d+) \((.*)\)", rest)
        if not mm:
            raise IRError(f"bad shim.push: {text}")
        attrs["resume"] = int(mm.group(1))
        args = _reg_list(mm.group(2))
    elif code == "shim.pop":
        mm = re.fullmatch(r"(final|forward) \{(.*)\}", rest)
        if not mm:
            raise IRError(f"bad shim.pop: {text}")
        attrs["final"] = mm.group(1) == "final"
        entries = re.findall(r"(\d+): (\w+)\(([^)]*)\)", mm.group(2))
        attrs["resume"] = tuple(int(k) for k, _, _ in entries)
        attrs["targets"] = tuple(t for _, t, _ in entries)
        regs = []
        for _, _, rs in entries:
            names = []
            for part in filter(None, (x.strip() for x in rs.split(","))):
                rm = re.fullmatch(r"%(\w+):(\S+)", part)
                if not rm:
                    raise IRError(f"bad shim.pop register {part!r}")
                t = _parse_type(rm.group(2))
                prev = program.regs.get(rm.group(1))
                if prev is not None and prev != t:
                    raise IRError(f"%{rm.group(1)} declared as {prev} and {t}")
                program.regs[rm.group(1)] = t
                names.append(rm.group(1))
            regs.append(tuple(names))
        attrs["regs"] = tuple(regs)
    elif code == "ret":
        parts = rest.split()
        attrs["verdict"] = parts[0]
        args = _reg_list(",".join(parts[1:]))
    else:
        args = _reg_list(rest)
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
