"""The op registry: every IR opcode defined once (after xDSL's IRDL op definitions).

Each opcode has one :class:`OpDef` in :data:`OPS` giving its operands, result, attributes,
effects, cost-model op class, eBPF instruction estimate and text syntax. Everything else that
needs to know what an opcode is derives it from here:

- :class:`~cora.compiler.ir.core.Op` (``op_class``, ``is_terminator``, ``state_reads``,
  ``state_writes``, ``state``, ``header_access``, ``regs``) and ``Block.successors``;
- the verifier (:mod:`.verify` calls :meth:`OpDef.verify` per op);
- the text printer and parser (:mod:`.text` calls :attr:`OpDef.syntax`);
- dead-code elimination's side-effect rule (:func:`has_side_effect`);
- the stage models' op classes and pure opcodes (``compiler/offload/stage_model.py``) and the
  NIC checks' instruction estimate (``compiler/offload/nic_checks.py``).

Engines register one implementation per opcode in an :class:`ImplTable`: the reference
interpreter (``compiler/interp.py``, ``@interp_impl``) and the eBPF C emitter
(``targets/ebpf/emit.py``, ``@emit_impl``); ``tests/compiler/test_op_registry.py`` fails when
an opcode of :data:`OPS` lacks either. The semantics of each op are in the docstring of
:mod:`cora.compiler.ir.core`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from cora.compiler.ir import semantics as sem
from cora.compiler.ir.core import (
    SHIM_DONE,
    VERDICTS,
    IntType,
    IRError,
    Op,
    Program,
    RefType,
    StateDecl,
    c_bytes,
    entry_layout,
)
from cora.compiler.ir.headers import HEADERS, Field
from cora.compiler.ir.syntax import declare_reg, parse_reg_list, regs_text, typed_regs_text

#: Attribute values an op may carry (ints, names, flags and tuples of them).
AttrValue = Any
Attrs = dict[str, AttrValue]
#: The typing rule of one opcode beyond arity, result presence and fixed result width.
CheckFn = Callable[[Program, Op], None]
#: ``print(op, program)`` -> the op's text after ``%dest:type = `` (opcode included).
PrintFn = Callable[[Op, Program], str]
#: ``parse(opcode, rest_of_line, program)`` -> (operands, attrs); may declare registers.
ParseFn = Callable[[str, str, Program], tuple[tuple[str, ...], Attrs]]

#: ``fold(*operand_values, result_width) -> result value`` (see :attr:`OpDef.fold`).
FoldFn = Callable[..., int]

#: What an op yields: no destination, a u<W> integer (W fixed), an integer whose width the
#: op's rule checks, a reference to an entry of the op's state, or a register of any type
#: (``mov``: the operand's).
Result = Literal["none", "int", "ref", "any"] | int


@dataclass(frozen=True)
class Attr:
    """One attribute of an opcode: its Python type(s) and whether it may be absent."""

    types: tuple[type, ...]
    required: bool = True
    doc: str = ""

    def describe(self) -> str:
        """``int``, ``str``, ``tuple`` ... (for messages and docs)."""
        return "|".join(t.__name__ for t in self.types)


@dataclass(frozen=True)
class Syntax:
    """How an op is written in the IR text form (:mod:`cora.compiler.ir.text`).

    Attributes:
        form: the form in words, e.g. ``map.update S(%k, ..) = (%v, ..)`` (for docs).
        print: op -> text (see :data:`PrintFn`).
        parse: text -> (operands, attrs) (see :data:`ParseFn`).
    """

    form: str
    print: PrintFn
    parse: ParseFn


@dataclass(frozen=True)
class OpDef:
    """The definition of one opcode.

    Attributes:
        name: the opcode (``map.delete``).
        summary: one line of semantics (the full rules: :mod:`cora.compiler.ir.core`).
        op_class: cost-model class (stage models' ``op_cost_ns`` keys).
        syntax: text form.
        operands: exact operand count, or None when the op's rule checks it (variadic).
        result: see :data:`Result`.
        attrs: attribute name -> :class:`Attr`.
        check: typing rule for operand/result types and attribute values, raising IRError
            (arity, result presence, a fixed result width and attribute types are checked
            before it from the fields above).
        group: ``binary`` (two operands and result of one width) or ``compare`` (two
            operands of one width, u1 result), else "".
        reads_state / writes_state: reads or writes the state named by attr ``state``.
        state_entry: acts on an entry of that state through a reference (``ref.*``).
        header_access: ``"r"``/``"w"`` for ops loading/storing attr ``header``.``field``.
        terminator: ends a block.
        branches: control continues at the labels in attr ``targets``.
        restores: assigns the registers listed in attr ``regs`` along each target edge
            (``shim.pop``).
        position: where in the program the op may stand: ``any``; ``entry-only`` (the single
            op of the entry block: ``shim.pop``); ``before-ret-pass`` (last op of its block
            before a ``ret pass``: ``shim.push``).
        side_effect: must stay even when its result is unused (dead-code elimination).
        refreshes_lru: on an ``lru_hash`` state it changes recency, so it is a side effect.
        pure: result depends only on operands and attrs (and the received frame), so a
            repeat in a block is computed once by clang (the stage models' value numbering).
        map_call: ``key`` for a helper call on a map with a key, ``key+value`` when it passes
            a value too (the eBPF estimate adds those bytes), else "".
        ebpf_insns: eBPF instructions the C emitter's code takes for the op (fixed part),
            derived from its output and checked against bcc's counts for the NF library
            (``tests/targets/test_nic_checks.py``).
        ebpf_insns_per_operand: extra eBPF instructions per operand (``hash``: two
            splitmix64 rounds, 11).
        fold: ``fold(*operand_values, result_width) -> value`` for ops the constant folder
            may evaluate (:mod:`cora.compiler.ir.semantics`; the interpreter runs the same
            functions), else None.
    """

    name: str
    summary: str
    op_class: str
    syntax: Syntax
    operands: int | None
    result: Result
    attrs: Mapping[str, Attr] = field(default_factory=dict)
    check: CheckFn | None = None
    group: str = ""
    reads_state: bool = False
    writes_state: bool = False
    state_entry: bool = False
    header_access: Literal["r", "w"] | None = None
    terminator: bool = False
    branches: bool = False
    restores: bool = False
    position: Literal["any", "entry-only", "before-ret-pass"] = "any"
    side_effect: bool = False
    refreshes_lru: bool = False
    pure: bool = False
    map_call: Literal["", "key", "key+value"] = ""
    ebpf_insns: float = 2.0
    ebpf_insns_per_operand: float = 0.0
    fold: FoldFn | None = None

    @property
    def names_state(self) -> bool:
        """Whether the op's attr ``state`` names the state whose memory it touches."""
        return self.reads_state or self.writes_state or self.state_entry

    def verify(self, program: Program, op: Op) -> None:
        """Check ``op`` against this definition in ``program``; raises IRError."""
        if self.result == "none":
            if op.dest is not None:
                raise IRError("takes no destination")
        elif op.dest is None:
            raise IRError("needs a destination")
        if self.operands is not None and len(op.args) != self.operands:
            raise IRError(f"takes {self.operands} operands, got {len(op.args)}")
        for name, spec in self.attrs.items():
            if name not in op.attrs:
                if spec.required:
                    raise IRError(f"needs attribute {name} ({spec.describe()})")
            elif not isinstance(op.attrs[name], spec.types):
                raise IRError(f"attribute {name} must be {spec.describe()}, "
                              f"got {op.attrs[name]!r}")
        if isinstance(self.result, int) and op.dest is not None:
            w = int_width(program, op.dest)
            if w != self.result:
                raise IRError(f"result must be u{self.result}")
        if self.check is not None:
            self.check(program, op)


# ------------------------------------------------------------------ typing-rule helpers

# Register width of a header field = width of its language type (docs/language.md): a 4-bit
# field such as ipv4.ihl is loaded into a u8 register (u4 is not a register width).
_TYPE_WIDTHS = {"u8": 8, "u16": 16, "u32": 32, "u64": 64, "ip4": 32, "mac": 48, "ip6": 128}


def header_field(header: str, name: str) -> Field:
    """The layout of header field ``header.name``; IRError for an unknown one."""
    h = HEADERS.get(header)
    if h is None:
        raise IRError(f"unknown header {header}")
    f = h.field(name)
    if f is None:
        raise IRError(f"unknown field {header}.{name}")
    return f


def field_width(header: str, name: str) -> int:
    """Register width of header field ``header.name``; IRError for an unknown one."""
    f = header_field(header, name)
    return _TYPE_WIDTHS.get(f.type_name, f.bit_width)


def state_of(program: Program, name: str) -> StateDecl:
    """The state called ``name``; IRError when there is none."""
    try:
        return program.state(name)
    except KeyError:
        raise IRError(f"unknown state {name}") from None


def int_width(program: Program, reg: str) -> int:
    """Width of integer register ``reg``; IRError when unknown or a reference."""
    t = program.regs.get(reg)
    if t is None:
        raise IRError(f"unknown register %{reg}")
    if not isinstance(t, IntType):
        raise IRError(f"%{reg} is {t}, not an integer")
    return t.width


def _expect(program: Program, reg: str, width: int, what: str) -> None:
    w = int_width(program, reg)
    if w != width:
        raise IRError(f"{what} %{reg} is u{w}, expected u{width}")


def _dest(program: Program, op: Op) -> int:
    assert op.dest is not None   # OpDef.verify checked it
    return int_width(program, op.dest)


def _ref(program: Program, op: Op, reg: str) -> StateDecl:
    t = program.regs.get(reg)
    if not isinstance(t, RefType):
        raise IRError(f"%{reg} is not a reference")
    if op.attrs.get("state") != t.state:
        raise IRError(f"state attribute {op.attrs.get('state')} does not match %{reg}: {t}")
    return state_of(program, t.state)


def _keys(program: Program, state: StateDecl, keys: tuple[str, ...], with_plen: bool) -> None:
    fields = list(state.key)
    if state.kind == "lpm" and with_plen:
        if len(keys) != 2:
            raise IRError(f"lpm update of {state.name} takes (address, prefix_len)")
        _expect(program, keys[0], fields[0].width, "key")
        _expect(program, keys[1], 32, "prefix length")
        return
    if len(keys) != len(fields):
        raise IRError(f"{state.name} has {len(fields)} key fields, got {len(keys)}")
    for reg, f in zip(keys, fields, strict=True):
        _expect(program, reg, f.width, f"key field {f.name}")


def _value_index(state: StateDecl, op: Op) -> int:
    i = op.attrs["index"]
    if not 0 <= i < len(state.value):
        raise IRError(f"value index {i!r} out of range")
    return int(i)


# ----------------------------------------------------------------------- typing rules

#: field widths ``atomic_add`` accepts: eBPF's BPF_ATOMIC | BPF_ADD is defined for BPF_W and
#: BPF_DW only (kernel Documentation/bpf/standardization/instruction-set.rst, "Atomic
#: operations").
ATOMIC_ADD_WIDTHS = (32, 64)

def _check_const(program: Program, op: Op) -> None:
    w, v = _dest(program, op), op.attrs["value"]
    if v < 0 or v >= 1 << w:
        raise IRError(f"constant {v!r} does not fit u{w}")


def _check_mov(program: Program, op: Op) -> None:
    assert op.dest is not None
    if program.regs.get(op.args[0]) != program.regs.get(op.dest):
        raise IRError("mov between different types")


def _check_binary(program: Program, op: Op) -> None:
    w = _dest(program, op)
    for a in op.args:
        _expect(program, a, w, "operand")


def _check_compare(program: Program, op: Op) -> None:
    if int_width(program, op.args[0]) != int_width(program, op.args[1]):
        raise IRError("comparison of different widths")


def _check_not(program: Program, op: Op) -> None:
    _expect(program, op.args[0], _dest(program, op), "operand")


def _check_resize(program: Program, op: Op) -> None:
    w, a = _dest(program, op), int_width(program, op.args[0])
    if op.opcode in ("zext", "sext") and w < a or op.opcode == "trunc" and w > a:
        raise IRError(f"{op.opcode} from u{a} to u{w}")


def _check_select(program: Program, op: Op) -> None:
    w = _dest(program, op)
    _expect(program, op.args[0], 1, "condition")
    _expect(program, op.args[1], w, "operand")
    _expect(program, op.args[2], w, "operand")


def _check_hdr_valid(program: Program, op: Op) -> None:
    if op.attrs["header"] not in HEADERS:
        raise IRError(f"unknown header {op.attrs['header']}")


def _check_hdr_load(program: Program, op: Op) -> None:
    fw = field_width(op.attrs["header"], op.attrs["field"])
    if _dest(program, op) != fw:
        raise IRError(f"result must be u{fw}")


def _check_hdr_store(program: Program, op: Op) -> None:
    h, f = op.attrs["header"], op.attrs["field"]
    _expect(program, op.args[0], field_width(h, f), "value")
    if header_field(h, f).readonly:
        raise IRError(f"{h}.{f} is read-only")


#: built-in headers whose checksum covers every byte after their start (RFC 9293 3.1,
#: RFC 768): a store into bytes that follow them (``hdr.store_at``) fixes it
PAYLOAD_CSUM_HEADERS = ("tcp", "udp")
#: bits of one ``hdr.load_at`` / ``hdr.store_at`` field at most
MAX_AT_BITS = 64


def _check_hdr_at(program: Program, op: Op) -> None:
    if op.attrs["header"] not in HEADERS:
        raise IRError(f"unknown header {op.attrs['header']}")
    bit, bits = op.attrs.get("bit", 0), op.attrs.get("bits", 8)
    if bit < 0 or not 1 <= bits <= MAX_AT_BITS or (bit % 8) + bits > 8 * 8:
        raise IRError(f"bad field {bit}:{bits} (at most {MAX_AT_BITS} bits within 8 bytes)")
    reg = op.dest if op.opcode == "hdr.load_at" else op.args[0]
    assert reg is not None
    if int_width(program, reg) < bits:
        raise IRError(f"%{reg} is narrower than the {bits}-bit field")


def _check_hdr_has(program: Program, op: Op) -> None:
    if op.attrs["header"] not in HEADERS:
        raise IRError(f"unknown header {op.attrs['header']}")
    if op.attrs["bytes"] < 0:
        raise IRError("negative byte count")


def _check_hash(program: Program, op: Op) -> None:
    if not op.args:
        raise IRError("needs at least one operand")
    for a in op.args:
        int_width(program, a)


def _check_map_lookup(program: Program, op: Op) -> None:
    state = state_of(program, op.attrs["state"])
    if program.regs.get(op.dest or "") != RefType(state.name):
        raise IRError(f"result must be ref<{state.name}>")
    _keys(program, state, op.args, with_plen=False)


def _check_ref_found(program: Program, op: Op) -> None:
    _ref(program, op, op.args[0])


def _check_ref_load(program: Program, op: Op) -> None:
    state = _ref(program, op, op.args[0])
    i = _value_index(state, op)
    if _dest(program, op) != state.value[i].width:
        raise IRError(f"result must be u{state.value[i].width}")


def _check_ref_store(program: Program, op: Op) -> None:
    state = _ref(program, op, op.args[0])
    i = _value_index(state, op)
    _expect(program, op.args[1], state.value[i].width, "value")


def _check_atomic_add(program: Program, op: Op) -> None:
    """``atomic_add``: a ``ref.store`` whose field is 32 or 64 bits wide (eBPF's atomic add,
    BPF_ATOMIC | BPF_ADD, exists only for words and double words)."""
    _check_ref_store(program, op)
    state = _ref(program, op, op.args[0])
    w = state.value[_value_index(state, op)].width
    if w not in ATOMIC_ADD_WIDTHS:
        raise IRError(f"atomic_add of a u{w} field; eBPF adds atomically only u32 and u64")


#: ``StateDecl.params`` key marking a state whose value carries a ``struct bpf_spin_lock``
#: (set by the front end for the state of an ``atomic`` block; docs/language.md "Atomic
#: blocks"). The lock lies after the value's fields (:func:`locked_value_bytes`).
SPIN_LOCK_PARAM = "spin_lock"
#: state kinds whose values may hold a ``bpf_spin_lock``: the kernel accepts the lock in
#: hash and array maps (and local storages) only (kernel/bpf/syscall.c, ``map_check_btf``).
SPIN_LOCK_KINDS = ("hash", "array")


def has_spin_lock(state: StateDecl) -> bool:
    """Whether ``state``'s values carry a spin lock (:data:`SPIN_LOCK_PARAM`)."""
    return bool(state.params.get(SPIN_LOCK_PARAM))


def locked_value_bytes(state: StateDecl) -> tuple[int, int]:
    """``(lock offset, value bytes)`` of a state with a spin lock: the fields as
    :func:`cora.compiler.ir.core.entry_layout` lays them out, then the 4-byte
    ``struct bpf_spin_lock`` (include/uapi/linux/bpf.h: one ``__u32``) at the next multiple
    of 4, the whole rounded up to the largest alignment, as a C compiler lays out the
    emitter's struct."""
    _, size = entry_layout(state.value)
    align = max([4] + [c_bytes(f.width) for f in state.value])
    off = (size + 3) // 4 * 4
    return off, (off + 4 + align - 1) // align * align


def _check_ref_lock(program: Program, op: Op) -> None:
    state = _ref(program, op, op.args[0])
    if state.kind not in SPIN_LOCK_KINDS:
        raise IRError(f"{op.opcode} on a {state.kind} state; a spin lock lives only in "
                      f"{' and '.join(SPIN_LOCK_KINDS)} values")
    if not has_spin_lock(state):
        raise IRError(f"{op.opcode} on {state.name}, whose values have no spin lock "
                      f"(params {SPIN_LOCK_PARAM}=1)")


def _check_map_update(program: Program, op: Op) -> None:
    state = state_of(program, op.attrs["state"])
    nkeys = op.attrs["nkeys"]
    keys, values = op.args[:nkeys], op.args[nkeys:]
    _keys(program, state, keys, with_plen=True)
    if len(values) != len(state.value):
        raise IRError(f"{state.name} has {len(state.value)} value fields, got {len(values)}")
    for reg, f in zip(values, state.value, strict=True):
        _expect(program, reg, f.width, f"value field {f.name}")


def _check_map_delete(program: Program, op: Op) -> None:
    state = state_of(program, op.attrs["state"])
    _keys(program, state, op.args, with_plen=False)


def _check_br(program: Program, op: Op) -> None:
    _expect(program, op.args[0], 1, "condition")
    if len(op.attrs["targets"]) != 2:
        raise IRError("br needs two targets")


def _check_jmp(program: Program, op: Op) -> None:
    if len(op.attrs["targets"]) != 1:
        raise IRError("jmp needs one target")


def _check_ret(program: Program, op: Op) -> None:
    v = op.attrs["verdict"]
    if v not in VERDICTS:
        raise IRError(f"unknown verdict {v!r}")
    if v == "redirect":
        if len(op.args) != 1:
            raise IRError(f"takes 1 operands, got {len(op.args)}")
        _expect(program, op.args[0], 32, "port")
    elif op.args:
        raise IRError(f"takes 0 operands, got {len(op.args)}")


def _check_mcast(program: Program, op: Op) -> None:
    """``mcast G``: G is a ``devmap`` state (a multicast group)."""
    state = state_of(program, op.attrs["state"])
    if state.kind != "devmap":
        raise IRError(f"{state.name} is a {state.kind}, not a devmap (multicast group)")


def _check_shim_push(program: Program, op: Op) -> None:
    k = op.attrs["resume"]
    if not 0 <= k <= SHIM_DONE:
        raise IRError(f"resume id {k!r} is not a u16")
    if k == SHIM_DONE and op.args:
        raise IRError("the done shim (0xFFFF) carries no registers")
    for a in op.args:
        int_width(program, a)


def _check_shim_pop(program: Program, op: Op) -> None:
    ids, targets, regs = op.attrs["resume"], op.attrs["targets"], op.attrs["regs"]
    if not (len(ids) == len(targets) == len(regs)):
        raise IRError("resume ids, targets and register lists differ in length")
    if len(set(ids)) != len(ids) or len(set(targets)) != len(targets):
        raise IRError("duplicate resume id or target")
    for k in ids:
        if not isinstance(k, int) or not 0 <= k < SHIM_DONE:
            raise IRError(f"resume id {k!r} is not a u16 below 0xFFFF")
    for rs in regs:
        for a in rs:
            int_width(program, a)


# ----------------------------------------------------------------------------- syntax

def _match(pattern: str, rest: str, code: str) -> re.Match[str]:
    m = re.fullmatch(pattern, rest)
    if not m:
        raise IRError(f"bad {code}: {code} {rest}")
    return m


def _print_plain(op: Op, program: Program) -> str:
    return op.opcode + (" " + regs_text(op.args) if op.args else "")


def _parse_plain(code: str, rest: str, program: Program) -> tuple[tuple[str, ...], Attrs]:
    return parse_reg_list(rest), {}


PLAIN = Syntax("OP %a, %b, ..", _print_plain, _parse_plain)


def _parse_const(code: str, rest: str, program: Program) -> tuple[tuple[str, ...], Attrs]:
    return (), {"value": int(rest)}


def _parse_hdr_valid(code: str, rest: str, program: Program
                     ) -> tuple[tuple[str, ...], Attrs]:
    return (), {"header": rest}


def _parse_hdr_load(code: str, rest: str, program: Program) -> tuple[tuple[str, ...], Attrs]:
    header, fld = rest.split(".")
    return (), {"header": header, "field": fld}


def _parse_hdr_store(code: str, rest: str, program: Program
                     ) -> tuple[tuple[str, ...], Attrs]:
    target, reg = rest.split(",")
    header, fld = target.strip().split(".")
    return parse_reg_list(reg), {"header": header, "field": fld}


def _parse_hdr_has(code: str, rest: str, program: Program) -> tuple[tuple[str, ...], Attrs]:
    m = _match(r"(\w+) (\d+)", rest, code)
    return (), {"header": m.group(1), "bytes": int(m.group(2))}


def _parse_hdr_at(code: str, rest: str, program: Program) -> tuple[tuple[str, ...], Attrs]:
    m = _match(r"(\w+)\+(\d+):(\d+)(?:, (.*))?", rest, code)
    args = parse_reg_list(m.group(4)) if m.group(4) else ()
    return args, {"header": m.group(1), "bit": int(m.group(2)), "bits": int(m.group(3))}


def _print_hdr_at(op: Op, program: Program) -> str:
    a = op.attrs
    text = f"{op.opcode} {a['header']}+{a['bit']}:{a['bits']}"
    return text + (f", %{op.args[0]}" if op.args else "")


def _parse_hash(code: str, rest: str, program: Program) -> tuple[tuple[str, ...], Attrs]:
    m = _match(r"(\d+) \((.*)\)", rest, code)
    return parse_reg_list(m.group(2)), {"seed": int(m.group(1))}


def _parse_map_keys(code: str, rest: str, program: Program
                    ) -> tuple[tuple[str, ...], Attrs]:
    m = _match(r"(\w+)\((.*)\)", rest, code)
    return parse_reg_list(m.group(2)), {"state": m.group(1)}


def _parse_map_update(code: str, rest: str, program: Program
                      ) -> tuple[tuple[str, ...], Attrs]:
    m = _match(r"(\w+)\((.*?)\) = \((.*)\)", rest, code)
    keys, values = parse_reg_list(m.group(2)), parse_reg_list(m.group(3))
    return keys + values, {"state": m.group(1), "nkeys": len(keys)}


def _parse_ref(code: str, rest: str, program: Program) -> tuple[tuple[str, ...], Attrs]:
    m = _match(r"(\w+) %(\w+)(?:\.(\d+))?(?:, %(\w+))?", rest, code)
    attrs: Attrs = {"state": m.group(1)}
    args: tuple[str, ...] = (m.group(2),)
    if m.group(3) is not None:
        attrs["index"] = int(m.group(3))
    if m.group(4) is not None:
        args += (m.group(4),)
    return args, attrs


def _parse_br(code: str, rest: str, program: Program) -> tuple[tuple[str, ...], Attrs]:
    parts = [p.strip() for p in rest.split(",")]
    if len(parts) != 3:
        raise IRError(f"bad br: br {rest}")
    return parse_reg_list(parts[0]), {"targets": (parts[1], parts[2])}


def _parse_jmp(code: str, rest: str, program: Program) -> tuple[tuple[str, ...], Attrs]:
    return (), {"targets": (rest.strip(),)}


def _parse_ret(code: str, rest: str, program: Program) -> tuple[tuple[str, ...], Attrs]:
    parts = rest.split()
    return parse_reg_list(",".join(parts[1:])), {"verdict": parts[0]}


def _parse_mcast(code: str, rest: str, program: Program) -> tuple[tuple[str, ...], Attrs]:
    m = _match(r"(\w+)( exclude_ingress)?", rest, code)
    return (), {"state": m.group(1), "exclude_ingress": m.group(2) is not None}


def _print_mcast(op: Op, program: Program) -> str:
    return f"mcast {op.attrs['state']}" + (" exclude_ingress" if op.attrs["exclude_ingress"]
                                           else "")


def _parse_shim_push(code: str, rest: str, program: Program
                     ) -> tuple[tuple[str, ...], Attrs]:
    m = _match(r"(\d+) \((.*)\)", rest, code)
    return parse_reg_list(m.group(2)), {"resume": int(m.group(1))}


def _parse_shim_pop(code: str, rest: str, program: Program
                    ) -> tuple[tuple[str, ...], Attrs]:
    m = _match(r"(final|forward) \{(.*)\}", rest, code)
    entries = re.findall(r"(\d+): (\w+)\(([^)]*)\)", m.group(2))
    regs = []
    for _, _, rs in entries:
        names = []
        for part in filter(None, (x.strip() for x in rs.split(","))):
            rm = re.fullmatch(r"%(\w+):(\S+)", part)
            if not rm:
                raise IRError(f"bad shim.pop register {part!r}")
            declare_reg(program, rm.group(1), rm.group(2))
            names.append(rm.group(1))
        regs.append(tuple(names))
    return (), {"final": m.group(1) == "final",
                "resume": tuple(int(k) for k, _, _ in entries),
                "targets": tuple(t for _, t, _ in entries), "regs": tuple(regs)}


def _print_shim_pop(op: Op, program: Program) -> str:
    a = op.attrs
    table = ", ".join(f"{k}: {t}({typed_regs_text(rs, program)})"
                      for k, t, rs in zip(a["resume"], a["targets"], a["regs"], strict=False))
    return f"shim.pop {'final' if a['final'] else 'forward'} {{{table}}}"


def _print_ret(op: Op, program: Program) -> str:
    return f"ret {op.attrs['verdict']}" + (f" %{op.args[0]}" if op.args else "")


def _print_map_update(op: Op, program: Program) -> str:
    n = op.attrs["nkeys"]
    return (f"map.update {op.attrs['state']}({regs_text(op.args[:n])}) = "
            f"({regs_text(op.args[n:])})")


def _print_ref(op: Op, program: Program) -> str:
    a = op.attrs
    text = f"{op.opcode} {a['state']} %{op.args[0]}"
    if "index" in a:
        text += f".{a['index']}"
    if len(op.args) > 1:
        text += f", %{op.args[1]}"
    return text


CONST = Syntax("const N", lambda op, p: f"const {op.attrs['value']}", _parse_const)
HDR_VALID = Syntax("hdr.valid H", lambda op, p: f"hdr.valid {op.attrs['header']}",
                   _parse_hdr_valid)
HDR_LOAD = Syntax("hdr.load H.F",
                  lambda op, p: f"hdr.load {op.attrs['header']}.{op.attrs['field']}",
                  _parse_hdr_load)
HDR_STORE = Syntax(
    "hdr.store H.F, %v",
    lambda op, p: f"hdr.store {op.attrs['header']}.{op.attrs['field']}, %{op.args[0]}",
    _parse_hdr_store)
HDR_HAS = Syntax("hdr.has H N", lambda op, p: f"hdr.has {op.attrs['header']} "
                                            f"{op.attrs['bytes']}", _parse_hdr_has)
HDR_AT = Syntax("hdr.load_at H+BIT:BITS | hdr.store_at H+BIT:BITS, %v", _print_hdr_at,
                _parse_hdr_at)
HASH = Syntax("hash SEED (%a, ..)",
              lambda op, p: f"hash {op.attrs.get('seed', 0)} ({regs_text(op.args)})",
              _parse_hash)
MAP_KEYS = Syntax("OP S(%k, ..)",
                  lambda op, p: f"{op.opcode} {op.attrs['state']}({regs_text(op.args)})",
                  _parse_map_keys)
MAP_UPDATE = Syntax("map.update S(%k, ..) = (%v, ..)", _print_map_update, _parse_map_update)
REF = Syntax("OP S %ref[.I][, %v]", _print_ref, _parse_ref)
BR = Syntax("br %c, T, F",
            lambda op, p: f"br %{op.args[0]}, {op.attrs['targets'][0]}, "
                          f"{op.attrs['targets'][1]}",
            _parse_br)
JMP = Syntax("jmp L", lambda op, p: f"jmp {op.attrs['targets'][0]}", _parse_jmp)
RET = Syntax("ret pass|drop|tx | ret redirect %port", _print_ret, _parse_ret)
MCAST = Syntax("mcast G [exclude_ingress]", _print_mcast, _parse_mcast)
SHIM_PUSH = Syntax("shim.push K (%a, ..)",
                   lambda op, p: f"shim.push {op.attrs['resume']} ({regs_text(op.args)})",
                   _parse_shim_push)
SHIM_POP = Syntax("shim.pop final|forward {K: L(%a:uW, ..), ..}", _print_shim_pop,
                  _parse_shim_pop)

# --------------------------------------------------------------------------- the registry

_INT = Attr((int,))
_STR = Attr((str,))
_SEQ = Attr((tuple, list))

_BINARY_FOLD: dict[str, FoldFn] = {
    "add": sem.add, "sub": sem.sub, "mul": sem.mul, "div": sem.div, "mod": sem.mod,
    "and": lambda a, b, w: a & b, "or": lambda a, b, w: a | b, "xor": lambda a, b, w: a ^ b,
    "shl": sem.shl, "shr": sem.shr,
    "sdiv": sem.sdiv, "smod": sem.smod, "sar": sem.sar,
}
_COMPARE_FOLD: dict[str, FoldFn] = {
    "eq": lambda a, b, w: int(a == b), "ne": lambda a, b, w: int(a != b),
    "lt": lambda a, b, w: int(a < b), "le": lambda a, b, w: int(a <= b),
    "gt": lambda a, b, w: int(a > b), "ge": lambda a, b, w: int(a >= b),
}
_BINARY_SUMMARY = {
    "add": "a + b mod 2**w", "sub": "a - b mod 2**w", "mul": "a * b mod 2**w",
    "div": "a / b, 0 when b is 0", "mod": "a % b, a when b is 0", "and": "a & b",
    "or": "a | b", "xor": "a ^ b", "shl": "a << b, 0 when b >= w",
    "shr": "a >> b, 0 when b >= w",
    "sdiv": "signed a / b toward zero, 0 when b is 0",
    "smod": "signed a % b (dividend's sign), a when b is 0",
    "sar": "arithmetic a >> b, all sign bits when b >= w",
}
_BINARY_CLASS = {"mul": "mul", "div": "div", "mod": "div", "sdiv": "div", "smod": "div"}
# sdiv/smod: magnitudes, one unsigned division, sign fix-up (no BPF_SDIV before cpu v4)
_BINARY_INSNS = {"shl": 3.0, "shr": 3.0, "div": 2.0, "mod": 2.0, "sdiv": 12.0, "smod": 10.0,
                 "sar": 4.0}
_COMPARE_SUMMARY = {"eq": "a == b", "ne": "a != b", "lt": "a < b", "le": "a <= b",
                    "gt": "a > b", "ge": "a >= b"}
#: signed comparisons (two's complement); not folded by const-fold: the fold signature has
#: the result width (1), not the operands'.
_SIGNED_COMPARE_SUMMARY = {"slt": "a < b", "sle": "a <= b", "sgt": "a > b", "sge": "a >= b"}


def _defs() -> Iterator[OpDef]:
    yield OpDef("const", "the constant attr value", "move", CONST, 0, "int",
                {"value": _INT}, _check_const, pure=True, ebpf_insns=1)
    yield OpDef("mov", "copy a register", "move", PLAIN, 1, "any", check=_check_mov,
                pure=True, ebpf_insns=0.5, fold=sem.wrap)
    yield OpDef("zext", "widen (zero-extend)", "move", PLAIN, 1, "int", check=_check_resize,
                pure=True, ebpf_insns=0.3, fold=sem.wrap)
    yield OpDef("trunc", "narrow (keep the low bits)", "move", PLAIN, 1, "int",
                check=_check_resize, pure=True, ebpf_insns=1, fold=sem.wrap)
    yield OpDef("sext", "widen (sign-extend, two's complement)", "move", PLAIN, 1, "int",
                check=_check_resize, pure=True, ebpf_insns=2)
    yield OpDef("select", "c ? a : b", "alu", PLAIN, 3, "int", check=_check_select,
                pure=True, ebpf_insns=3)
    yield OpDef("not", "bitwise complement within the width", "alu", PLAIN, 1, "int",
                check=_check_not, pure=True, ebpf_insns=1, fold=sem.bit_not)
    for name, summary in _BINARY_SUMMARY.items():
        yield OpDef(name, summary, _BINARY_CLASS.get(name, "alu"), PLAIN, 2, "int",
                    check=_check_binary, group="binary", pure=True,
                    ebpf_insns=_BINARY_INSNS.get(name, 1.0), fold=_BINARY_FOLD[name])
    for name, summary in _COMPARE_SUMMARY.items():
        yield OpDef(name, f"{summary} (unsigned) as u1", "alu", PLAIN, 2, 1,
                    check=_check_compare, group="compare", pure=True, ebpf_insns=1,
                    fold=_COMPARE_FOLD[name])
    for name, summary in _SIGNED_COMPARE_SUMMARY.items():
        yield OpDef(name, f"{summary} (signed) as u1", "alu", PLAIN, 2, 1,
                    check=_check_compare, group="compare", pure=True, ebpf_insns=2)
    yield OpDef("hdr.valid", "whether header H was parsed", "parse", HDR_VALID, 0, 1,
                {"header": _STR}, _check_hdr_valid, pure=True, ebpf_insns=1)
    yield OpDef("hdr.load", "field H.F, 0 when H is invalid", "pkt_read", HDR_LOAD, 0, "int",
                {"header": _STR, "field": _STR}, _check_hdr_load, header_access="r",
                pure=True, ebpf_insns=4)
    yield OpDef("hdr.store", "write H.F when H is valid, fixing checksums", "pkt_write",
                HDR_STORE, 1, "none", {"header": _STR, "field": _STR}, _check_hdr_store,
                header_access="w", side_effect=True, ebpf_insns=30)
    yield OpDef("hdr.has", "H is valid and the frame holds N bytes from its start", "parse",
                HDR_HAS, 0, 1, {"header": _STR, "bytes": _INT}, _check_hdr_has, pure=True,
                ebpf_insns=3)
    yield OpDef("hdr.load_at", "BITS bits at bit BIT from H's start; 0 unless H is valid and "
                "the frame holds them", "pkt_read", HDR_AT, 0, "int",
                {"header": _STR, "bit": _INT, "bits": _INT}, _check_hdr_at, pure=True,
                ebpf_insns=6)
    yield OpDef("hdr.store_at", "write BITS bits at bit BIT from H's start when H is valid and "
                "the frame holds their 16-bit words, fixing H's checksum (tcp, udp)",
                "pkt_write", HDR_AT, 1, "none", {"header": _STR, "bit": _INT, "bits": _INT},
                _check_hdr_at, side_effect=True, ebpf_insns=30)
    yield OpDef("pkt.len", "the whole frame's length, bytes", "move", PLAIN, 0, 32,
                pure=True, ebpf_insns=3)
    yield OpDef("now", "the time, ns", "helper", PLAIN, 0, 64, ebpf_insns=2)
    yield OpDef("rand", "the next xorshift32 value", "helper", PLAIN, 0, 32,
                side_effect=True, ebpf_insns=2)
    yield OpDef("hash", "splitmix64-based hash of the operands with a seed", "hash", HASH,
                None, 32, {"seed": Attr((int,), required=False)}, _check_hash, pure=True,
                ebpf_insns=2, ebpf_insns_per_operand=11)
    yield OpDef("map.lookup", "reference to the entry for the key", "map_lookup", MAP_KEYS,
                None, "ref", {"state": _STR}, _check_map_lookup, reads_state=True,
                refreshes_lru=True, map_call="key", ebpf_insns=6)
    yield OpDef("ref.found", "whether the reference holds an entry", "alu", REF, 1, 1,
                {"state": _STR}, _check_ref_found, state_entry=True, ebpf_insns=1)
    yield OpDef("ref.load", "value field I of the entry, 0 when absent", "map_read", REF, 1,
                "int", {"state": _STR, "index": _INT}, _check_ref_load, state_entry=True,
                ebpf_insns=2)
    yield OpDef("ref.store", "write value field I of the entry in place", "map_write", REF, 2,
                "none", {"state": _STR, "index": _INT}, _check_ref_store, writes_state=True,
                state_entry=True, side_effect=True, ebpf_insns=2)
    yield OpDef("atomic_add", "add %v to value field I of the entry atomically (mod 2**w), "
                "nothing when absent", "map_write", REF, 2, "none",
                {"state": _STR, "index": _INT}, _check_atomic_add, writes_state=True,
                state_entry=True, side_effect=True, ebpf_insns=2)
    yield OpDef("ref.lock", "take the entry's spin lock (nothing when absent)", "helper", REF,
                1, "none", {"state": _STR}, _check_ref_lock, writes_state=True,
                state_entry=True, side_effect=True, ebpf_insns=4)
    yield OpDef("ref.unlock", "release the entry's spin lock (nothing when absent)", "helper",
                REF, 1, "none", {"state": _STR}, _check_ref_lock, writes_state=True,
                state_entry=True, side_effect=True, ebpf_insns=4)
    yield OpDef("map.update", "insert or replace keys -> values; 1 when stored", "map_update",
                MAP_UPDATE, None, 1, {"state": _STR, "nkeys": _INT}, _check_map_update,
                reads_state=True, writes_state=True, side_effect=True, map_call="key+value",
                ebpf_insns=8)
    yield OpDef("map.delete", "remove the key", "map_delete", MAP_KEYS, None, "none",
                {"state": _STR}, _check_map_delete, writes_state=True, side_effect=True,
                map_call="key", ebpf_insns=6)
    yield OpDef("br", "branch on a u1", "branch", BR, 1, "none", {"targets": _SEQ},
                _check_br, terminator=True, branches=True, side_effect=True, ebpf_insns=1)
    yield OpDef("jmp", "jump", "branch", JMP, 0, "none", {"targets": _SEQ}, _check_jmp,
                terminator=True, branches=True, side_effect=True, ebpf_insns=0.5)
    yield OpDef("ret", "end with a verdict", "branch", RET, None, "none",
                {"verdict": _STR}, _check_ret, terminator=True, side_effect=True,
                ebpf_insns=2)
    # XDP: bpf_redirect_map(G, 0, BPF_F_BROADCAST [| BPF_F_EXCLUDE_INGRESS]), one helper call
    yield OpDef("mcast", "end with the multicast verdict: the frame to every port of group G",
                "branch", MCAST, 0, "none",
                {"state": _STR, "exclude_ingress": Attr((bool,))}, _check_mcast,
                terminator=True, reads_state=True, side_effect=True, ebpf_insns=5)
    yield OpDef("shim.push", "prepend the metadata shim (resume id, registers)", "pkt_write",
                SHIM_PUSH, None, "none", {"resume": _INT}, _check_shim_push,
                position="before-ret-pass", side_effect=True, ebpf_insns=2)
    yield OpDef("shim.pop", "strip the shim, restore registers, resume at a block",
                "pkt_write", SHIM_POP, 0, "none",
                {"final": Attr((bool,)), "resume": _SEQ, "targets": _SEQ, "regs": _SEQ},
                _check_shim_pop, terminator=True, branches=True, restores=True,
                position="entry-only", side_effect=True, ebpf_insns=2)


#: opcode -> its definition; the single source of what each opcode is.
OPS: Mapping[str, OpDef] = {d.name: d for d in _defs()}


def opdef(opcode: str) -> OpDef:
    """The definition of ``opcode``; IRError ``unknown opcode X`` when there is none."""
    d = OPS.get(opcode)
    if d is None:
        raise IRError(f"unknown opcode {opcode}")
    return d


#: opcode -> cost-model op class (stage models' cost tables are keyed by these classes).
OP_CLASS: Mapping[str, str] = {name: d.op_class for name, d in OPS.items()}
#: every op class, sorted.
ALL_OP_CLASSES: tuple[str, ...] = tuple(sorted(set(OP_CLASS.values())))
BINARY_OPS: tuple[str, ...] = tuple(n for n, d in OPS.items() if d.group == "binary")
COMPARE_OPS: tuple[str, ...] = tuple(n for n, d in OPS.items() if d.group == "compare")
TERMINATORS: tuple[str, ...] = tuple(n for n, d in OPS.items() if d.terminator)
#: opcodes that must never be removed even when their result is unused.
SIDE_EFFECT_OPS: frozenset[str] = frozenset(n for n, d in OPS.items() if d.side_effect)
#: opcodes whose result depends only on operands, attrs and the received frame.
PURE_OPCODES: frozenset[str] = frozenset(n for n, d in OPS.items() if d.pure)


def has_side_effect(op: Op, program: Program) -> bool:
    """Whether removing ``op`` (with an unused result) could change behaviour or state:
    :attr:`OpDef.side_effect`, or :attr:`OpDef.refreshes_lru` on an ``lru_hash`` state."""
    d = OPS[op.opcode]
    if d.side_effect:
        return True
    if d.refreshes_lru:
        return program.state(op.attrs["state"]).kind == "lru_hash"
    return False


# ----------------------------------------------------------------- engine implementations

F = TypeVar("F", bound=Callable[..., Any])


class ImplTable(Generic[F]):
    """One implementation per opcode for an engine (interpreter, C emitter).

    ``impl = ImplTable("interpreter")``; ``@impl.register("add", "sub")`` on a function
    registers it for those opcodes; ``impl[opcode]`` returns it.

    Args:
        engine: the engine's name, for messages.
    Raises:
        IRError: registering an opcode that is not in :data:`OPS`, or one twice;
            ``impl[opcode]`` for an opcode without an implementation.
    """

    def __init__(self, engine: str) -> None:
        self.engine = engine
        self._impls: dict[str, F] = {}

    def register(self, *opcodes: str) -> Callable[[F], F]:
        """Decorator registering the function for ``opcodes``; returns it unchanged."""
        for code in opcodes:
            if code not in OPS:
                raise IRError(f"{self.engine}: no op {code} in the registry")

        def deco(fn: F) -> F:
            for code in opcodes:
                if code in self._impls:
                    raise IRError(f"{self.engine}: {code} implemented twice")
                self._impls[code] = fn
            return fn
        return deco

    def __getitem__(self, opcode: str) -> F:
        try:
            return self._impls[opcode]
        except KeyError:
            raise IRError(f"the {self.engine} has no implementation of {opcode}") from None

    def opcodes(self) -> frozenset[str]:
        """Opcodes with an implementation."""
        return frozenset(self._impls)

    def missing(self) -> list[str]:
        """Opcodes of :data:`OPS` without an implementation here, sorted."""
        return sorted(set(OPS) - set(self._impls))


__all__ = ["ALL_OP_CLASSES", "ATOMIC_ADD_WIDTHS", "Attr", "BINARY_OPS", "COMPARE_OPS",
           "ImplTable", "OPS", "OP_CLASS", "OpDef", "PURE_OPCODES", "SIDE_EFFECT_OPS",
           "SPIN_LOCK_KINDS", "SPIN_LOCK_PARAM", "Syntax", "TERMINATORS", "field_width",
           "has_side_effect", "has_spin_lock", "header_field", "int_width",
           "locked_value_bytes", "opdef", "state_of"]
