"""The IR verifier: checks every rule of :mod:`cora.compiler.ir`.

Run after lowering and after every pass in tests. A failure is a compiler bug, reported as
:class:`~cora.compiler.ir.IRError` naming the block, op and source position.
"""

from __future__ import annotations

from cora.compiler.ir.headers import HEADERS
from cora.compiler.ir import (BINARY_OPS, COMPARE_OPS, FULL_POLICIES, INT_WIDTHS, SHIM_DONE,
                              STATE_KINDS, VERDICTS, IntType, IRError, Op, Program, RefType)

U1 = IntType(1)


# Register width of a header field = width of its language type (docs/language.md): a 4-bit
# field such as ipv4.ihl is loaded into a u8 register (u4 is not a register width).
_TYPE_WIDTHS = {"u8": 8, "u16": 16, "u32": 32, "u64": 64, "ip4": 32, "mac": 48, "ip6": 128}


def _field_width(header: str, name: str) -> int:
    h = HEADERS.get(header)
    if h is None:
        raise IRError(f"unknown header {header}")
    f = h.field(name)
    if f is None:
        raise IRError(f"unknown field {header}.{name}")
    return _TYPE_WIDTHS.get(f.type_name, f.bit_width)


def verify(program: Program) -> None:
    """Check ``program``; raises IRError on the first broken rule.

    Rules: state declarations are well formed; registers have valid types; each op's operand
    and result types fit its opcode; every block ends in exactly one terminator and has none
    before; branch targets exist; the CFG is acyclic; every register use is assigned on every
    path from the entry (forward must-assigned dataflow in topological order; a ``shim.pop``
    assigns its listed registers along the edge to their block); ``shim.push`` is followed by
    ``ret pass``; ``shim.pop`` is the only op of the entry block.
    """
    _verify_states(program)
    for name, t in program.regs.items():
        if isinstance(t, IntType) and t.width not in INT_WIDTHS:
            raise IRError(f"register %{name} has bad width {t.width}")
        if isinstance(t, RefType):
            _state(program, t.state)
    if not program.blocks:
        raise IRError("program has no blocks")
    labels = [b.label for b in program.blocks]
    if len(set(labels)) != len(labels):
        raise IRError("duplicate block labels")
    for block in program.blocks:
        if not block.ops or not block.ops[-1].is_terminator:
            raise IRError(f"block {block.label} does not end in a terminator")
        for i, op in enumerate(block.ops[:-1]):
            if op.is_terminator:
                raise IRError(f"block {block.label}: terminator {op.opcode} before the end")
            if op.opcode == "shim.push":
                nxt = block.ops[i + 1]
                if nxt.opcode != "ret" or nxt.attrs.get("verdict") != "pass":
                    raise IRError(f"block {block.label}: shim.push must be followed by "
                                  "ret pass")
        for op in block.ops:
            try:
                _verify_op(program, op)
            except IRError as exc:
                where = f" (source {op.span})" if op.span else ""
                raise IRError(f"block {block.label}: {op.opcode}: {exc}{where}") from None
    for j, block in enumerate(program.blocks):
        if block.ops[-1].opcode == "shim.pop" and (j or len(block.ops) != 1):
            raise IRError(f"block {block.label}: shim.pop must be the only op of the entry "
                          "block")
    order = program.topological_blocks()  # raises on cycles and unknown targets
    _verify_assigned(program, order)


def _verify_states(program: Program) -> None:
    seen = set()
    for s in program.states:
        if s.name in seen:
            raise IRError(f"state {s.name} declared twice")
        seen.add(s.name)
        if s.kind not in STATE_KINDS:
            raise IRError(f"state {s.name}: unknown kind {s.kind}")
        if s.on_full is not None and s.on_full not in FULL_POLICIES:
            raise IRError(f"state {s.name}: unknown full policy {s.on_full}")
        if s.kind in ("hash", "lpm") and s.on_full not in ("skip", "drop", "pass"):
            raise IRError(f"state {s.name}: {s.kind} needs on_full skip|drop|pass")
        if s.kind == "lru_hash" and s.on_full != "evict":
            raise IRError(f"state {s.name}: lru_hash needs on_full evict")
        if s.kind in ("array", "percpu_array"):
            if s.on_full is not None:
                raise IRError(f"state {s.name}: arrays have no full policy")
            if len(s.key) != 1 or s.key[0].width != 32:
                raise IRError(f"state {s.name}: array key must be one u32 index")
        if s.kind == "lpm" and (len(s.key) != 1 or s.key[0].width not in (32, 128)):
            raise IRError(f"state {s.name}: lpm key must be one ip4 or ip6 address")
        if s.capacity < 1:
            raise IRError(f"state {s.name}: capacity must be positive")
        if not s.key or not s.value:
            raise IRError(f"state {s.name}: key and value need at least one field")
        for f in (*s.key, *s.value):
            if f.width not in INT_WIDTHS:
                raise IRError(f"state {s.name}: field {f.name} has bad width {f.width}")
        nkey = 2 if s.kind == "lpm" else len(s.key)
        for k, v in s.init:
            if len(k) != nkey or len(v) != len(s.value):
                raise IRError(f"state {s.name}: initial entry {k}: {v} has the wrong arity")


def _state(program: Program, name: str):
    try:
        return program.state(name)
    except KeyError:
        raise IRError(f"unknown state {name}") from None


def _int(program: Program, reg: str) -> int:
    t = program.regs.get(reg)
    if t is None:
        raise IRError(f"unknown register %{reg}")
    if not isinstance(t, IntType):
        raise IRError(f"%{reg} is {t}, not an integer")
    return t.width


def _expect(program: Program, reg: str, width: int, what: str) -> None:
    w = _int(program, reg)
    if w != width:
        raise IRError(f"{what} %{reg} is u{w}, expected u{width}")


def _dest_width(program: Program, op: Op) -> int:
    if op.dest is None:
        raise IRError("needs a destination")
    return _int(program, op.dest)


def _no_dest(op: Op) -> None:
    if op.dest is not None:
        raise IRError("takes no destination")


def _nargs(op: Op, n: int) -> None:
    if len(op.args) != n:
        raise IRError(f"takes {n} operands, got {len(op.args)}")


def _ref(program: Program, op: Op, reg: str):
    t = program.regs.get(reg)
    if not isinstance(t, RefType):
        raise IRError(f"%{reg} is not a reference")
    if op.attrs.get("state") != t.state:
        raise IRError(f"state attribute {op.attrs.get('state')} does not match %{reg}: {t}")
    return _state(program, t.state)


def _keys(program: Program, op: Op, state, keys: tuple[str, ...], with_plen: bool) -> None:
    fields = list(state.key)
    if state.kind == "lpm" and with_plen:
        if len(keys) != 2:
            raise IRError(f"lpm update of {state.name} takes (address, prefix_len)")
        _expect(program, keys[0], fields[0].width, "key")
        _expect(program, keys[1], 32, "prefix length")
        return
    if len(keys) != len(fields):
        raise IRError(f"{state.name} has {len(fields)} key fields, got {len(keys)}")
    for reg, f in zip(keys, fields):
        _expect(program, reg, f.width, f"key field {f.name}")


def _verify_op(program: Program, op: Op) -> None:
    code = op.opcode
    if code == "const":
        w = _dest_width(program, op)
        v = op.attrs.get("value")
        if not isinstance(v, int) or v < 0 or v >= 1 << w:
            raise IRError(f"constant {v!r} does not fit u{w}")
        _nargs(op, 0)
    elif code == "mov":
        _nargs(op, 1)
        if program.regs.get(op.args[0]) != program.regs.get(op.dest):
            raise IRError("mov between different types")
    elif code in BINARY_OPS:
        w = _dest_width(program, op)
        _nargs(op, 2)
        for a in op.args:
            _expect(program, a, w, "operand")
    elif code in COMPARE_OPS:
        if _dest_width(program, op) != 1:
            raise IRError("comparison result must be u1")
        _nargs(op, 2)
        if _int(program, op.args[0]) != _int(program, op.args[1]):
            raise IRError("comparison of different widths")
    elif code == "not":
        _nargs(op, 1)
        _expect(program, op.args[0], _dest_width(program, op), "operand")
    elif code in ("zext", "trunc"):
        _nargs(op, 1)
        w, a = _dest_width(program, op), _int(program, op.args[0])
        if code == "zext" and w < a or code == "trunc" and w > a:
            raise IRError(f"{code} from u{a} to u{w}")
    elif code == "select":
        _nargs(op, 3)
        w = _dest_width(program, op)
        _expect(program, op.args[0], 1, "condition")
        _expect(program, op.args[1], w, "operand")
        _expect(program, op.args[2], w, "operand")
    elif code == "hdr.valid":
        _nargs(op, 0)
        if op.attrs.get("header") not in HEADERS:
            raise IRError(f"unknown header {op.attrs.get('header')}")
        if _dest_width(program, op) != 1:
            raise IRError("result must be u1")
    elif code == "hdr.load":
        _nargs(op, 0)
        fw = _field_width(op.attrs.get("header"), op.attrs.get("field"))
        if _dest_width(program, op) != fw:
            raise IRError(f"result must be u{fw}")
    elif code == "hdr.store":
        _no_dest(op)
        _nargs(op, 1)
        h, f = op.attrs.get("header"), op.attrs.get("field")
        _expect(program, op.args[0], _field_width(h, f), "value")
        if HEADERS[h].field(f).readonly:
            raise IRError(f"{h}.{f} is read-only")
    elif code == "pkt.len":
        _nargs(op, 0)
        if _dest_width(program, op) != 32:
            raise IRError("result must be u32")
    elif code in ("now", "rand"):
        _nargs(op, 0)
        if _dest_width(program, op) != (64 if code == "now" else 32):
            raise IRError("bad result width")
    elif code == "hash":
        if _dest_width(program, op) != 32:
            raise IRError("result must be u32")
        if not op.args:
            raise IRError("needs at least one operand")
        for a in op.args:
            _int(program, a)
        if not isinstance(op.attrs.get("seed", 0), int):
            raise IRError("seed must be an integer")
    elif code == "map.lookup":
        state = _state(program, op.attrs.get("state"))
        t = program.regs.get(op.dest)
        if t != RefType(state.name):
            raise IRError(f"result must be ref<{state.name}>")
        _keys(program, op, state, op.args, with_plen=False)
    elif code == "ref.found":
        _nargs(op, 1)
        _ref(program, op, op.args[0])
        if _dest_width(program, op) != 1:
            raise IRError("result must be u1")
    elif code == "ref.load":
        _nargs(op, 1)
        state = _ref(program, op, op.args[0])
        i = op.attrs.get("index")
        if not isinstance(i, int) or not 0 <= i < len(state.value):
            raise IRError(f"value index {i!r} out of range")
        if _dest_width(program, op) != state.value[i].width:
            raise IRError(f"result must be u{state.value[i].width}")
    elif code == "ref.store":
        _no_dest(op)
        _nargs(op, 2)
        state = _ref(program, op, op.args[0])
        i = op.attrs.get("index")
        if not isinstance(i, int) or not 0 <= i < len(state.value):
            raise IRError(f"value index {i!r} out of range")
        _expect(program, op.args[1], state.value[i].width, "value")
    elif code == "map.update":
        state = _state(program, op.attrs.get("state"))
        nkeys = op.attrs.get("nkeys")
        if not isinstance(nkeys, int):
            raise IRError("needs attribute nkeys")
        keys, values = op.args[:nkeys], op.args[nkeys:]
        _keys(program, op, state, keys, with_plen=True)
        if len(values) != len(state.value):
            raise IRError(f"{state.name} has {len(state.value)} value fields, got {len(values)}")
        for reg, f in zip(values, state.value):
            _expect(program, reg, f.width, f"value field {f.name}")
        if _dest_width(program, op) != 1:
            raise IRError("result must be u1")
    elif code == "map.delete":
        _no_dest(op)
        state = _state(program, op.attrs.get("state"))
        _keys(program, op, state, op.args, with_plen=False)
    elif code == "br":
        _no_dest(op)
        _nargs(op, 1)
        _expect(program, op.args[0], 1, "condition")
        if len(op.attrs.get("targets", ())) != 2:
            raise IRError("br needs two targets")
    elif code == "jmp":
        _no_dest(op)
        _nargs(op, 0)
        if len(op.attrs.get("targets", ())) != 1:
            raise IRError("jmp needs one target")
    elif code == "shim.push":
        _no_dest(op)
        k = op.attrs.get("resume")
        if not isinstance(k, int) or not 0 <= k <= SHIM_DONE:
            raise IRError(f"resume id {k!r} is not a u16")
        if k == SHIM_DONE and op.args:
            raise IRError("the done shim (0xFFFF) carries no registers")
        for a in op.args:
            _int(program, a)
    elif code == "shim.pop":
        _no_dest(op)
        _nargs(op, 0)
        ids, targets = op.attrs.get("resume", ()), op.attrs.get("targets", ())
        regs = op.attrs.get("regs", ())
        if not (len(ids) == len(targets) == len(regs)):
            raise IRError("resume ids, targets and register lists differ in length")
        if len(set(ids)) != len(ids) or len(set(targets)) != len(targets):
            raise IRError("duplicate resume id or target")
        for k in ids:
            if not isinstance(k, int) or not 0 <= k < SHIM_DONE:
                raise IRError(f"resume id {k!r} is not a u16 below 0xFFFF")
        for rs in regs:
            for a in rs:
                _int(program, a)
        if not isinstance(op.attrs.get("final"), bool):
            raise IRError("needs attribute final (bool)")
    elif code == "ret":
        _no_dest(op)
        v = op.attrs.get("verdict")
        if v not in VERDICTS:
            raise IRError(f"unknown verdict {v!r}")
        if v == "redirect":
            _nargs(op, 1)
            _expect(program, op.args[0], 32, "port")
        else:
            _nargs(op, 0)
    else:
        raise IRError("unknown opcode")


def _verify_assigned(program: Program, order) -> None:
    """Every use is assigned on every path: must-assigned sets meet by intersection.

    Sets are bitsets (Python ints, one bit per register), so a program of B blocks and R
    registers costs O(B * R / 64) words, not B copies of a Python set."""
    bit = {name: 1 << i for i, name in enumerate(program.regs)}
    assigned_in: dict[str, int | None] = {b.label: None for b in program.blocks}
    assigned_in[order[0].label] = 0
    for block in order:
        cur = assigned_in[block.label] or 0
        for op in block.ops:
            for a in op.args:
                if not cur & bit.get(a, 0):
                    where = f" (source {op.span})" if op.span else ""
                    raise IRError(f"block {block.label}: {op.opcode} uses %{a} before it is "
                                  f"assigned on every path{where}")
            if op.dest is not None:
                cur |= bit[op.dest]
        term = block.ops[-1]
        for i, succ in enumerate(block.successors()):
            out = cur
            if term.opcode == "shim.pop":  # registers restored along each resume edge
                for r in term.attrs["regs"][i]:
                    out |= bit.get(r, 0)
            prev = assigned_in[succ]
            assigned_in[succ] = out if prev is None else prev & out
