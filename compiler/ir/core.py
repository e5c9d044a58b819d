"""cora's IR: a typed, acyclic control-flow graph of small ops over fixed-width registers.

The IR is the single contract between the front end (``lower``), the reference interpreter
(``interp``), the partitioner and every code generator (``targets``). Its textual form
(``ir_text``) parses back to an equal program.

Model
-----
- A :class:`Program` has state declarations (:class:`StateDecl`), typed registers and basic
  blocks. ``blocks[0]`` is the entry. The CFG is acyclic (loops are unrolled by the front end,
  functions inlined), so every program terminates in a bounded number of ops.
- Registers are mutable variables with a fixed type: an unsigned integer of width 1 (bool),
  8, 16, 32, 48 (MAC), 64 or 128 (IPv6 address) bits, or a map-entry reference
  ``ref<STATE>``. A register may be assigned by several ops; a use reads the value last
  assigned on the path taken. The verifier proves every use is assigned on every path.
- Each op names the state it reads/writes and the header bytes it touches (see
  :meth:`Op.state_reads`, :meth:`Op.state_writes`, :meth:`Op.header_access`) and its op class
  for cost models (:attr:`Op.op_class`), all read from its definition in the op registry
  (:data:`cora.compiler.ir.ops.OPS`).

Op semantics (every engine implements exactly these)
----------------------------------------------------
Arithmetic is modulo 2**width. ``div``/``mod`` by zero give 0 / the dividend (as eBPF).
``shl``/``shr`` by ``>= width`` give 0. Comparisons are unsigned and give a u1.
``not`` is bitwise complement within the width. ``zext``/``trunc`` change width.
Signed ops read their operands as two's-complement numbers of their width (registers stay
bit patterns): ``sdiv`` truncates toward zero (by zero: 0; ``MIN / -1`` wraps to ``MIN``),
``smod`` takes the dividend's sign (by zero: the dividend), ``sar`` shifts in sign bits
(``>= width``: all sign bits), ``slt``/``sle``/``sgt``/``sge`` compare signed, ``sext``
sign-extends (:mod:`cora.compiler.ir.semantics`).

``hdr.valid H`` -> u1. ``hdr.load H.F`` -> field value, 0 if H is invalid. ``hdr.store H.F, v``
writes the field (truncated) when H is valid and fixes checksums incrementally (RFC 1624 eqn 3,
HC' = ~(~HC + ~m + m') in ones' complement over the 16-bit words of the header that changed):
the IPv4 header checksum for IPv4 fields; the TCP checksum for TCP fields and, when TCP is
valid, for IPv4/IPv6 ``saddr``/``daddr``; the UDP checksum likewise, except that a UDP checksum
of 0 is left 0 and a result of 0 is written as 0xffff (RFC 768); the ICMP checksum for ICMP
fields. Words are 16-bit aligned from the start of the header that holds the field.

``hdr.has H N`` -> u1: H is valid and the frame holds N bytes from H's start.
``hdr.load_at H+BIT:BITS`` -> the big-endian field of BITS bits starting BIT bits after H's
start; 0 unless H is valid and the frame holds the field's bytes. ``hdr.store_at H+BIT:BITS,
v`` writes the field (truncated) when H is valid and the frame holds every 16-bit word the
field overlaps (words aligned from H's start); for H = tcp or udp it then fixes H's checksum,
which covers those bytes, as ``hdr.store`` does (a UDP checksum of 0 stays 0). These carry
the fields of user-declared headers (docs/language.md), which follow a built-in header.

``now`` -> u64 ns and ``rand`` -> u32 come from the engine's environment (see docs/language.md;
under ``cora run`` both are injected: pcap timestamp and xorshift32 seeded with 1).
``hash(seed) a, b, ...`` -> u32: ``h = seed + 0x9E3779B97F4A7C15``; for each operand (128-bit
ones as high then low 64-bit half) ``h = mix64(h ^ v)`` with the splitmix64 finaliser
(Steele, Lea, Flood, OOPSLA 2014): ``z ^= z>>30; z *= 0xBF58476D1CE4E5B9; z ^= z>>27;
z *= 0x94D049BB133111EB; z ^= z>>31``; result ``(h ^ (h >> 32)) & 0xFFFFFFFF``.

``map.lookup S(keys)`` -> ref: the entry for the key (hash, lru: exact key; lpm: one key, the
longest matching prefix of the address; arrays: key is a u32 index, out of range is absent).
For ``lru_hash`` a successful lookup marks the entry most recently used.
``ref.found h`` -> u1. ``ref.load h.i`` -> value field i (0 when absent).
``ref.store h.i, v`` writes value field i in place (nothing when absent).
``atomic_add h.i, v`` adds v to value field i in place, ``(old + v) mod 2**w``, atomically
(nothing when absent; fields of 32 or 64 bits only: eBPF's BPF_ATOMIC add).
``ref.lock h`` / ``ref.unlock h`` take and release the spin lock of the entry (nothing when
absent) of a hash or array state whose ``params`` has ``spin_lock=1``: the ops between them on
every path are one critical section against other frames' locked sections of that entry
(kernel: ``bpf_spin_lock``; the interpreter runs one frame at a time, so they do nothing
there). Between them no op may look up, update or delete a map, call a helper (``now``,
``rand``), take another lock or return (the kernel verifier's rules; the front end's
``atomic`` block guarantees them).
``map.update S(keys) = (values)`` -> u1: insert or replace; returns 0 when the key is new and
the state is full (hash, lpm) or the index is out of range (arrays); ``lru_hash`` evicts the
least recently used entry instead and returns 1. For ``lpm`` the keys are (address, prefix_len).
``map.delete S(keys)`` removes the key (arrays: no-op).

Terminators: ``br c, T, F``; ``jmp L``; ``ret pass|drop|tx``; ``ret redirect port``;
``mcast G [exclude_ingress]``; ``shim.pop`` (below).

Multicast groups: a ``devmap`` state ``G`` (key one u32 slot index, value one u32 ifindex,
filled by the control plane) is a set of output ports. ``mcast G`` ends the packet with the
verdict ``multicast``: the frame as rewritten so far leaves once on every port of ``G``, in
slot order (a port in two slots gets two copies); with ``exclude_ingress`` not on the port
the frame arrived on. An empty group sends nothing (the frame is consumed, as ``drop``).

Metadata shim (offload stages, docs/offload.md; produced by ``cora.compiler.offload.split``)
----------------------------------------------------------------------------------
A shim is bytes prepended to the frame: the resume id (u16, big-endian) followed by each
carried register, big-endian, in ``c_bytes(width)`` bytes, in the listed order. Resume id
:data:`SHIM_DONE` (0xFFFF) carries no registers and means "the NF finished with pass".

``shim.push K (%r1, ..)`` prepends the shim with resume id ``K`` and the registers' values.
It must be the last op of its block, whose terminator must be ``ret pass`` (the frame leaves
the stage carrying the shim).

``shim.pop final|forward {K1: L1(%a, ..), K2: L2(..)}`` is a terminator allowed only as the
single op of the entry block; it runs before the parser. It reads the resume id ``K`` at the
front of the frame. If ``K`` is listed: the listed registers are loaded from the following
bytes (each masked to its width), the whole shim (2 + register bytes) is removed, the fixed
parser runs on the rest of the frame, and control continues at the listed block. If ``K`` is
0xFFFF and the stage is ``final``: the 2 bytes are removed and the verdict is ``pass``.
Otherwise (an id for a later stage, or 0xFFFF on a ``forward`` stage) a ``forward`` stage
returns ``pass`` with the frame unchanged; a ``final`` stage drops it. A frame shorter than
the shim of its listed id is dropped; one shorter than 2 bytes is dropped by a ``final``
stage and passed unchanged by a ``forward`` stage.

Source: the design follows SSA-free register IRs such as eBPF's own (kernel
Documentation/bpf/standardization/instruction-set.rst) with typed registers; the op/pass layout
follows xDSL and the p4c eBPF backend's table-to-map mapping.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from cora.compiler.span import Span

INT_WIDTHS = (1, 8, 16, 32, 48, 64, 128)
VERDICTS = ("pass", "drop", "tx", "redirect")
STATE_KINDS = ("hash", "lru_hash", "lpm", "array", "percpu_array", "devmap")
FULL_POLICIES = ("skip", "drop", "pass", "evict")

SHIM_DONE = 0xFFFF          # resume id: the NF finished with pass on an earlier stage
SHIM_ID_BYTES = 2           # the resume id (u16) at the front of every shim

# What each opcode is (operands, result, attributes, effects, op class, syntax) is defined once
# in cora.compiler.ir.ops (OPS); the Op properties below read it.


class IRError(Exception):
    """An IR program breaks a rule of the IR (raised by the verifier and the text parser).

    A user never sees this for a well-typed NF: it signals a compiler bug.
    """


@dataclass(frozen=True)
class IntType:
    """An unsigned integer of ``width`` bits (1 = bool)."""

    width: int

    def __str__(self) -> str:
        return f"u{self.width}"


@dataclass(frozen=True)
class RefType:
    """A reference to one entry of state ``state`` (the result of ``map.lookup``)."""

    state: str

    def __str__(self) -> str:
        return f"ref<{self.state}>"


Type = IntType | RefType


@dataclass(frozen=True)
class StateField:
    """A named field of a state key or value with its width in bits."""

    name: str
    width: int


@dataclass
class StateDecl:
    """A state object (one eBPF map).

    Attributes:
        name: the map's name (also its name in the kernel and in ``--state-out``).
        kind: one of :data:`STATE_KINDS`.
        key: key fields in declaration order (arrays: one u32 ``index``; lpm: one address).
        value: value fields in declaration order.
        capacity: max entries (arrays: number of slots).
        on_full: full policy (hash/lpm: skip|drop|pass, lru_hash: evict, arrays: None).
        init: initial entries as (key ints, value ints); for lpm key = (address, prefix_len).
        origin: the source construct (``map``, ``countmin`` ...), for tools and reports.
        params: construct parameters (countmin: ``{"depth": D, "width": W}``).
        span: source position of the declaration.
    """

    name: str
    kind: str
    key: tuple[StateField, ...]
    value: tuple[StateField, ...]
    capacity: int
    on_full: str | None = None
    init: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...] = ()
    origin: str = ""
    params: dict[str, int] = field(default_factory=dict)
    span: Span | None = None

    @property
    def key_bytes(self) -> int:
        """Bytes of one key in memory (see :func:`entry_layout`)."""
        return entry_layout(self.key)[1]

    @property
    def value_bytes(self) -> int:
        """Bytes of one value in memory (see :func:`entry_layout`)."""
        return entry_layout(self.value)[1]


def check_group_ports(name: str, ifindexes: Iterable[int], capacity: int) -> None:
    """Check the ports given to fill multicast group ``name`` (a ``devmap`` of ``capacity``
    slots): at most ``capacity`` of them, each an ifindex in 1..2**32-1, none twice.

    Raises:
        ValueError: naming the group and the offending port.
    """
    ports = list(ifindexes)
    if len(ports) > capacity:
        raise ValueError(f"group {name} holds at most {capacity} ports, got {len(ports)}")
    seen: set[int] = set()
    for p in ports:
        if not isinstance(p, int) or not 0 < p < 1 << 32:
            raise ValueError(f"group {name}: {p!r} is not an interface index (1..2**32-1)")
        if p in seen:
            raise ValueError(f"group {name}: port {p} is listed twice")
        seen.add(p)


def c_bytes(width: int) -> int:
    """Bytes a field of ``width`` bits occupies in memory (1, 2, 4, 8 or 16)."""
    for size in (1, 2, 4, 8, 16):
        if width <= size * 8:
            return size
    raise IRError(f"width {width} too large")


def shim_bytes(widths: Iterable[int]) -> int:
    """Bytes of a metadata shim carrying registers of the given bit ``widths``: the u16
    resume id plus ``c_bytes(width)`` per register (docs/offload.md)."""
    return SHIM_ID_BYTES + sum(c_bytes(w) for w in widths)


def entry_layout(fields: tuple[StateField, ...]) -> tuple[tuple[int, ...], int]:
    """Memory layout of a state key or value: fields in declaration order, each aligned to
    its own size as a C compiler does (System V x86-64 / eBPF ABI), the size rounded up to the
    largest alignment. Padding bytes are always zero.

    Returns:
        (byte offset of each field, total size in bytes).
    """
    offsets, pos, align = [], 0, 1
    for f in fields:
        size = c_bytes(f.width)
        pos = (pos + size - 1) // size * size
        offsets.append(pos)
        pos += size
        align = max(align, size)
    return tuple(offsets), (pos + align - 1) // align * align


@dataclass
class Op:
    """One IR operation.

    Attributes:
        opcode: e.g. ``add``, ``hdr.load``, ``map.update``, ``br``.
        dest: destination register name (without ``%``), or None.
        args: operand register names, in order (for map ops: keys then values).
        attrs: opcode-specific attributes: ``value`` (const), ``header``/``field`` (hdr.*),
            ``state`` (map.*), ``index`` (ref.load/store), ``seed`` (hash), ``nkeys``
            (map.update), ``verdict`` (ret), ``targets`` (br/jmp/shim.pop: tuple of labels),
            ``resume`` (shim.push: int; shim.pop: tuple of ints, one per target), ``regs``
            (shim.pop: tuple of register-name tuples, one per target), ``final`` (shim.pop).
        span: source position, for diagnostics mapped back to the NF.
    """

    opcode: str
    dest: str | None = None
    args: tuple[str, ...] = ()
    attrs: dict[str, Any] = field(default_factory=dict)
    span: Span | None = None

    @property
    def is_terminator(self) -> bool:
        """True for br, jmp, ret and shim.pop (False for an unknown opcode)."""
        d = _ops.OPS.get(self.opcode)
        return d is not None and d.terminator

    @property
    def op_class(self) -> str:
        """The cost-model class of this op (:attr:`cora.compiler.ir.ops.OpDef.op_class`)."""
        return _ops.OPS[self.opcode].op_class

    def state_reads(self) -> tuple[str, ...]:
        """Names of the state objects this op reads."""
        if _ops.OPS[self.opcode].reads_state:
            return (self.attrs["state"],)
        return ()

    def state_writes(self) -> tuple[str, ...]:
        """Names of the state objects this op writes (ref.store names its state in attrs)."""
        if _ops.OPS[self.opcode].writes_state:
            return (self.attrs["state"],)
        return ()

    @property
    def state(self) -> str | None:
        """The state object whose memory this op touches, or None: ``map.*`` ops name it, and
        ``ref.*`` ops act on an entry of it (a reference never leaves the stage holding it)."""
        d = _ops.OPS.get(self.opcode)
        if d is not None and d.names_state:
            state: str | None = self.attrs.get("state")
            return state
        return None

    def regs(self) -> Iterator[str]:
        """Every register this op mentions: its operands, its destination, and the registers
        a ``shim.pop`` restores."""
        yield from self.args
        if self.dest is not None:
            yield self.dest
        if _ops.OPS[self.opcode].restores:
            for regs in self.attrs["regs"]:
                yield from regs

    def header_access(self) -> tuple[str, str, str] | None:
        """``(header, field, "r"|"w")`` for header ops, else None."""
        mode = _ops.OPS[self.opcode].header_access
        if mode is None:
            return None
        return (self.attrs["header"], self.attrs["field"], mode)


@dataclass
class Block:
    """A basic block: straight-line ops ending in exactly one terminator."""

    label: str
    ops: list[Op] = field(default_factory=list)

    @property
    def terminator(self) -> Op:
        """The block's last op (must be a terminator in a verified program)."""
        return self.ops[-1]

    def successors(self) -> tuple[str, ...]:
        """Labels of the blocks control may go to next."""
        term = self.ops[-1] if self.ops else None
        d = _ops.OPS.get(term.opcode) if term is not None else None
        if term is None or d is None or not d.branches:
            return ()
        return tuple(term.attrs["targets"])


@dataclass
class Program:
    """A whole NF in IR form.

    Attributes:
        name: the NF's name (file stem).
        states: state declarations in source order.
        regs: register name -> type.
        blocks: basic blocks; ``blocks[0]`` is the entry.
        source: path of the NF source, for diagnostics.
    """

    name: str
    states: list[StateDecl] = field(default_factory=list)
    regs: dict[str, Type] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)
    source: str | None = None

    def state(self, name: str) -> StateDecl:
        """The state declaration called ``name``; raises KeyError."""
        for s in self.states:
            if s.name == name:
                return s
        raise KeyError(name)

    def block(self, label: str) -> Block:
        """The block called ``label``; raises KeyError."""
        for b in self.blocks:
            if b.label == label:
                return b
        raise KeyError(label)

    def drop_unused_regs(self) -> None:
        """Forget registers no op mentions any more (after ops or blocks were removed)."""
        used = {r for _, op in self.ops() for r in op.regs()}
        self.regs = {r: t for r, t in self.regs.items() if r in used}

    def ops(self) -> Iterator[tuple[Block, Op]]:
        """Every (block, op) in block order."""
        for b in self.blocks:
            for op in b.ops:
                yield b, op

    def topological_blocks(self) -> list[Block]:
        """Blocks in a topological order of the (acyclic) CFG, entry first; reachable only."""
        by_label = {b.label: b for b in self.blocks}
        order: list[Block] = []
        state: dict[str, int] = {}

        def visit(label: str) -> None:
            stack = [(label, iter(by_label[label].successors()))]
            state[label] = 1
            while stack:
                lab, it = stack[-1]
                nxt = next(it, None)
                if nxt is None:
                    stack.pop()
                    state[lab] = 2
                    order.append(by_label[lab])
                    continue
                if nxt not in by_label:
                    raise IRError(f"branch from {lab} to unknown block {nxt}")
                if state.get(nxt) == 1:
                    raise IRError(f"the CFG has a cycle through {nxt}")
                if nxt not in state:
                    state[nxt] = 1
                    stack.append((nxt, iter(by_label[nxt].successors())))

        if self.blocks:
            visit(self.blocks[0].label)
        order.reverse()
        return order


class Builder:
    """Convenience for emitting IR: fresh registers and blocks, ops appended to a current block.

    Example::

        b = Builder(Program("x"))
        v = b.emit("hdr.valid", IntType(1), header="ipv4")
        then, other = b.new_block(), b.new_block()
        b.terminate("br", (v,), targets=(then.label, other.label))
    """

    def __init__(self, program: Program):
        self.program = program
        self._n_regs = 0
        self._n_blocks = 0
        self.current = self.new_block()

    def new_reg(self, type_: Type, hint: str = "t") -> str:
        """A fresh register name of ``type_``."""
        while True:
            name = f"{hint}{self._n_regs}"
            self._n_regs += 1
            if name not in self.program.regs:
                self.program.regs[name] = type_
                return name

    def new_block(self) -> Block:
        """A fresh, empty block appended to the program (does not change ``current``)."""
        block = Block(f"bb{self._n_blocks}")
        self._n_blocks += 1
        self.program.blocks.append(block)
        return block

    def set_block(self, block: Block) -> None:
        """Emit subsequent ops into ``block``."""
        self.current = block

    def emit(self, opcode: str, dest_type: Type | None, *args: str, dest: str | None = None,
             span: Span | None = None, **attrs: Any) -> str | None:
        """Append an op; returns its destination register (a fresh one unless ``dest`` given)."""
        if dest_type is not None and dest is None:
            dest = self.new_reg(dest_type)
        self.current.ops.append(Op(opcode, dest, tuple(args), dict(attrs), span))
        return dest

    def terminate(self, opcode: str, args: tuple[str, ...] = (), span: Span | None = None,
                  **attrs: Any) -> None:
        """End the current block with a terminator."""
        if "targets" in attrs:
            attrs["targets"] = tuple(attrs["targets"])
        self.current.ops.append(Op(opcode, None, tuple(args), attrs, span))

    @property
    def terminated(self) -> bool:
        """Whether the current block already ends in a terminator."""
        return bool(self.current.ops) and self.current.ops[-1].is_terminator


# The registry imports the types above; imported last so that either module may be imported
# first (the package imports this one first).
from cora.compiler.ir import ops as _ops  # noqa: E402
