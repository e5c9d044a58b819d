"""IR -> C for bcc: the one eBPF C emitter, one program per NF, for any kernel hook.

What differs between hooks (entry function, context type, verdict codes, ``pkt.len``, work
before the parser, prelude helpers, moving the frame's start, refused ops) is asked of a
:class:`cora.targets.ebpf.hook.Hook` (XDP: :mod:`cora.targets.xdp.hook`, TC:
:mod:`cora.targets.tc.hook`); everything else is the same C for every hook.

The generated program:
- declares one eBPF map per state object (hash -> BPF_MAP_TYPE_HASH, lru_hash -> LRU_HASH,
  lpm -> LPM_TRIE, array -> ARRAY, percpu_array -> PERCPU_ARRAY, devmap (a multicast group)
  -> DEVMAP) with the same name, and the C structs of :mod:`cora.targets.ebpf.maps`;
- runs the fixed parser of :mod:`cora.compiler.ir.headers` once, for the headers the program
  reads (IPv4 with the VLAN tag its validity depends on; IPv6 only when the program reads
  IPv6 or an L4 header), keeping a validity flag and a packet pointer per header; the parser
  checks each header's fixed length against ``data_end`` once, and every access to the
  header is guarded by its flag only (the verifier keeps the checked range on the pointer
  along every path where the flag is 1);
- turns each IR block into a C label and each op into one C statement tagged with its NF
  source position (``/* @line:col */``) so verifier messages map back to the NF; each
  opcode's C comes from one method registered with ``@emit_impl(opcode)`` (:data:`EMIT_IMPLS`);
- implements the IR semantics of :mod:`cora.compiler.ir` exactly (wrapping arithmetic,
  division by zero, shifts, hash, checksum fix-up), mirroring :mod:`cora.compiler.ir.semantics`.

Options: ``inject_env`` reads ``now()``/``rand()`` from the array map ``cora_env`` (the
runtime writes the pcap timestamp before each frame, for exact differential runs);
``count_verdicts`` keeps per-CPU verdict counters in ``cora_verdicts`` (for ``cora stats``),
indexed by :data:`cora.targets.ebpf.hook.VERDICT_COUNTER_INDEX`. Hook-specific options
(XDP's ``frags`` and ``pass_redirect_ifindex``) are the hook object's.

Offload stages (:mod:`cora.compiler.offload.split`), for hooks that can move the frame's
start (:meth:`Hook.adjust_head <cora.targets.ebpf.hook.Hook.adjust_head>`): ``shim.push``
grows the head by N bytes and writes the shim at the new start (every packet pointer is
re-derived; the op is the block's last before ``return``). A program whose entry is
``shim.pop`` reads the resume id and registers at the front *before the parser*, removes the
shim, re-derives ``data``/``data_end`` and only then parses; the entry block dispatches on the
resume id. A failing head adjustment (no headroom) returns the hook's ``aborted`` code.
"""

from __future__ import annotations

from collections.abc import Callable

from cora.compiler.ir import (
    OPS,
    SHIM_DONE,
    SHIM_ID_BYTES,
    IntType,
    IRError,
    Op,
    Program,
    RefType,
    StateDecl,
    c_bytes,
    entry_layout,
)
from cora.compiler.ir.headers import HEADERS, L4_HEADERS, Field
from cora.compiler.ir.ops import PAYLOAD_CSUM_HEADERS, ImplTable, has_spin_lock, header_field
from cora.errors import CoraError
from cora.targets.ebpf import keyshare, liveprof, validity
from cora.targets.ebpf.byteorder import (
    network_load,
    network_order_regs,
    network_uses,
    same_order_positions,
)
from cora.targets.ebpf.hook import VERDICT_COUNTER_INDEX, Hook

#: opcode -> ``emit(emitter, op) -> str | None``: one C implementation per opcode of
#: :data:`cora.compiler.ir.OPS` (``tests/compiler/test_op_registry.py`` checks the sets
#: agree). An implementation emits its statements and returns None, or returns the C
#: expression :meth:`EbpfEmitter.emit_op` assigns to the op's destination.
EMIT_IMPLS: ImplTable[Callable[..., str | None]] = ImplTable("eBPF C emitter")
#: decorator registering an emitter implementation: ``@emit_impl("map.delete")``.
emit_impl = EMIT_IMPLS.register

MAP_KIND = {"hash": "hash", "lru_hash": "lru_hash", "lpm": "lpm_trie", "array": "array",
            "percpu_array": "percpu_array"}
GOLDEN_GAMMA = 0x9E3779B97F4A7C15
#: C operator of each infix IR op (unsigned operands: the comparisons are unsigned).
_C_OPERATOR = {"add": "+", "sub": "-", "mul": "*", "and": "&", "or": "|", "xor": "^",
               "eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def c_type(width: int) -> str:
    """C type holding an IR integer of ``width`` bits."""
    if width <= 8:
        return "u8"
    if width <= 16:
        return "u16"
    if width <= 32:
        return "u32"
    if width <= 64:
        return "u64"
    return "unsigned __int128"


def _mask(width: int) -> str:
    return f"0x{(1 << width) - 1:x}ULL" if width < 64 else ""


#: C member of a locked state's value struct holding its ``struct bpf_spin_lock`` (value
#: fields are ``f_<name>``, so no NF field can take this name).
SPIN_LOCK_MEMBER = "cora_lock"

#: Prefix of every NF state's C identifier and kernel map name. No identifier the generator
#: makes (``r_``, ``h_``, ``v_``, ``L_``, ``_t``, ``f_``, ``cora_``, ``data``, ``ctx``, ...) and no
#: macro of the kernel headers bcc includes (checked against Debian's linux-headers 6.1) starts
#: with it, so every legal NF name (``s32``, ``__u64``, ``size_t``, ``NULL``, ``XDP_PASS``,
#: ``memcpy``, C keywords) is a distinct, legal C identifier once prefixed.
STATE_C_PREFIX = "cs_"


def map_c_name(state: StateDecl) -> str:
    """The C identifier (and kernel map name) of a state object: :data:`STATE_C_PREFIX` and
    its NF name. The kernel keeps the first 15 characters as the map's name
    (``BPF_OBJ_NAME_LEN`` 16, include/uapi/linux/bpf.h); the runtime finds maps by this C
    name, never by the kernel's copy."""
    return STATE_C_PREFIX + state.name


def _lit(value: int, width: int) -> str:
    if width > 64:
        hi, lo = value >> 64, value & ((1 << 64) - 1)
        return f"(((unsigned __int128)0x{hi:x}ULL << 64) | 0x{lo:x}ULL)"
    return f"0x{value:x}ULL" if width > 32 else f"{value}U"


def _chunks(span: int) -> list[tuple[int, int]]:
    """Split ``span`` bytes into (offset, size) loads of 8/4/2/1 bytes, biggest first."""
    out, off = [], 0
    while off < span:
        for size in (8, 4, 2, 1):
            if span - off >= size:
                out.append((off, size))
                off += size
                break
    return out


_BSWAP = {1: "", 2: "bpf_ntohs", 4: "bpf_ntohl", 8: "__builtin_bswap64"}
_UTYPE = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}


#: Between reading a checksum's old words and storing the field, and between the store and
#: reading the new words: the store and the word reads use different C types, and clang
#: (strict aliasing, which bcc does not turn off) may move a read across the store otherwise.
#: No instruction; it only keeps the order.
_MEMORY_BARRIER = 'asm volatile("" ::: "memory");'


def _raw_load(ptr: str, off: int, span: int) -> str:
    """C expression: big-endian unsigned value of ``span`` bytes at ``ptr + off``."""
    acc = ""
    for coff, size in _chunks(span):
        part = f"{_BSWAP[size]}(*({_UTYPE[size]} *)({ptr} + {off + coff}))"
        rest = (span - coff - size) * 8
        ctype = "unsigned __int128" if span > 8 else "u64"
        part = f"(({ctype}){part} << {rest})" if rest else f"(({ctype}){part})"
        acc = part if not acc else f"{acc} | {part}"
    return f"({acc})"


def _raw_store(ptr: str, off: int, span: int, value: str) -> list[str]:
    """C statements writing ``value`` big-endian into ``span`` bytes at ``ptr + off``."""
    out = []
    for coff, size in _chunks(span):
        rest = (span - coff - size) * 8
        part = f"({_UTYPE[size]})({value} >> {rest})" if rest else f"({_UTYPE[size]})({value})"
        out.append(f"*({_UTYPE[size]} *)({ptr} + {off + coff}) = {_BSWAP[size]}({part});")
    return out


def _gaps(fields) -> list[tuple[int, int]]:
    """(byte offset, length) of every padding gap of a key or value laid out by
    :func:`cora.compiler.ir.entry_layout` (between fields and at the end)."""
    offsets, size = entry_layout(fields)
    gaps, pos = [], 0
    for f, off in zip(fields, offsets, strict=True):
        if off > pos:
            gaps.append((pos, off - pos))
        pos = off + c_bytes(f.width)
    if size > pos:
        gaps.append((pos, size - pos))
    return gaps


def _widened(fields) -> dict[int, tuple[int, int]]:
    """Fields whose store can also zero the padding right after them, as one wider store:
    ``{field index: (store bytes, gap index)}`` for a field of C size s at offset o followed
    by a gap of g bytes where s + g is 2, 4 or 8 and o a multiple of it (a hand-written key
    writes ``*(u32 *)&key.proto = proto``). Little-endian (eBPF's bpfel, as bcc builds): the
    zero-extended value puts the field's bytes first, as they lie in memory, then zeros."""
    offsets, _ = entry_layout(fields)
    gap_at = {off: (n, length) for n, (off, length) in enumerate(_gaps(fields))}
    out = {}
    for i, (f, off) in enumerate(zip(fields, offsets, strict=True)):
        size = c_bytes(f.width)
        n, length = gap_at.get(off + size, (None, 0))
        if n is not None and size + length in (2, 4, 8) and off % (size + length) == 0:
            out[i] = (size + length, n)
    return out


def _struct_fields(fields) -> str:
    """C member list of a key or value struct with its padding as named ``_padN`` byte arrays,
    so that a key is built by writing every byte (no memset, nothing left uninitialised for
    the verifier) and the C layout stays :func:`cora.compiler.ir.entry_layout`'s."""
    offsets, _ = entry_layout(fields)
    starts = {off: n for n, (off, _) in enumerate(_gaps(fields))}
    out, pos = [], 0
    for f, off in zip(fields, offsets, strict=True):
        if pos in starts and pos < off:
            out.append(f"u8 _pad{starts[pos]}[{off - pos}];")
        out.append(f"{c_type(f.width)} f_{f.name};")
        pos = off + c_bytes(f.width)
    for n, (off, length) in enumerate(_gaps(fields)):
        if off >= pos:
            out.append(f"u8 _pad{n}[{length}];")
    return " ".join(out)


def _to_network(expr: str, width: int) -> str:
    """C expression: ``expr`` (an IR integer of ``width`` bits) in network byte order in its
    C type, as :func:`cora.targets.ebpf.maps.pack_key` lays a key field out."""
    size = c_bytes(width)
    if size == 16:
        return (f"(((unsigned __int128)__builtin_bswap64((u64){expr}) << 64) | "
                f"__builtin_bswap64((u64)({expr} >> 64)))")
    if size == 1:
        return expr
    return f"{_BSWAP[size]}(({_UTYPE[size]}){expr})"


#: The prelude's hook-neutral head and tail; the hook's helpers go between them.
PRELUDE_HEAD = r"""
#include <uapi/linux/bpf.h>

#define CORA_CSUM_FOLD(s) ({ u64 _s = (s); _s = (_s & 0xffff) + (_s >> 16); \
    _s = (_s & 0xffff) + (_s >> 16); _s = (_s & 0xffff) + (_s >> 16); (u32)_s; })
"""
PRELUDE_TAIL = r"""
static __always_inline u64 cora_mix64(u64 z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
"""


class EbpfEmitter:
    """Generates the C of one eBPF program for ``hook`` from a verified IR program.

    Args:
        program: a verified :class:`~cora.compiler.ir.Program`.
        hook: the kernel hook generated for (its entry, context, verdict codes, ...).
        inject_env: read now()/rand() from the ``cora_env`` map (differential runs).
        count_verdicts: count verdicts per CPU in ``cora_verdicts``.
        live_profile: 0 (off) or N >= 1: entry-block and branch-edge counters of 1 in N
            packets (:mod:`cora.targets.ebpf.liveprof`).
    The target checks its refused ops before (:meth:`cora.targets.base.Target.check`); an op
    the hook cannot express anyway raises :class:`CoraError` while generating.
    """

    def __init__(self, program: Program, hook: Hook, inject_env: bool = False,
                 count_verdicts: bool = False, read_through: frozenset[str] = frozenset(),
                 read_through_from: dict[str, StateDecl] | None = None,
                 live_profile: int = 0):
        self.p = program
        self.hook = hook
        self.inject_env = inject_env
        self.count_verdicts = count_verdicts
        #: states whose lookups fall back to a second map ``<cname>_rt`` on a miss (state
        #: migration, :mod:`cora.runtime.migrate`)
        self.read_through = read_through
        #: of those, the ones whose ``_rt`` map has another value layout (an upgrade that
        #: converts the map): state name -> the old declaration; a taken-over entry copies
        #: each value field of the same name, new fields zero
        self.read_through_from = dict(read_through_from or {})
        self.prof = liveprof.profile_slots(program, live_profile) if live_profile else None
        self._block = ""  # label of the block being emitted
        self.lines: list[str] = []
        self.line_map: dict[int, tuple[int, int]] = {}
        self._tmp = 0
        used = {op.attrs["header"] for _, op in program.ops() if "header" in op.attrs}
        for _, op in program.ops():
            if op.opcode == "hdr.store" and op.attrs["field"] in \
                    HEADERS[op.attrs["header"]].pseudo_header_fields:
                used |= {"tcp", "udp"}
        # keys built once (keyshare.py): one function-scope key struct per hash state its
        # map ops build their keys in, and the ops that find their key already there
        hashed = [s for s in program.states if s.kind in ("hash", "lru_hash")
                  and any(op.opcode in keyshare.KEY_OPS and op.attrs["state"] == s.name
                          for _, op in program.ops())]
        self.key_var = {s.name: (f"_key_{map_c_name(s)}", s) for s in hashed}
        plan = keyshare.plan_keys(program, self.key_var)
        self.key_reused = plan.reused
        #: keys built on a CFG edge before its jump (keyshare.plan_keys)
        self.edge_keys = plan.edge_builds
        #: headers known valid before each op (id(op) -> names), :mod:`validity`
        facts = validity.header_facts(program)
        self.known_valid = {k: f.valid() for k, f in facts.items()}
        # Parse only what the program reads: IPv4's validity depends on a VLAN tag before it,
        # an L4 header's on IPv6 (which may carry it), unless every op that could tell runs
        # where the tag (IPv6) is known absent (validity.parse_needed).
        need = validity.parse_needed(program, facts)
        if used & {*L4_HEADERS, "ipv4", "ipv6"}:
            used.add("ipv4")
            if need["vlan"]:
                used.add("vlan")
        if used & {*L4_HEADERS, "ipv6"} and need["ipv6"]:
            used.add("ipv6")
        self.headers_used = used | {"ethernet"} if used else set()
        self.uses_env = any(op.opcode in ("now", "rand") for _, op in program.ops())
        #: registers kept in network byte order (:mod:`cora.targets.ebpf.byteorder`)
        self.wire_regs = network_order_regs(program)
        #: register -> C expression of its host-order value, while one op is emitted
        self._host_view: dict[str, str] = {}

    # ------------------------------------------------------------------------------ output
    def emit(self, text: str, span=None, indent: int = 1) -> None:
        self.lines.append("    " * indent + text + (f" /* @{span} */" if span else ""))
        if span is not None:
            self.line_map[len(self.lines)] = (span.line, span.col)

    def tmp(self) -> str:
        self._tmp += 1
        return f"_t{self._tmp}"

    def reg(self, name: str | None) -> str:
        """C name of register ``name`` (an op's destination: checked by the verifier); while
        an op is emitted, an operand kept in network order that the op needs in host order
        reads as a temporary holding its swapped value (:meth:`emit_op`)."""
        assert name is not None
        return self._host_view.get(name, f"r_{name}")

    def width(self, name: str | None) -> int:
        """Width of register ``name`` (64 for a reference)."""
        assert name is not None
        t = self.p.regs[name]
        return t.width if isinstance(t, IntType) else 64

    # ------------------------------------------------------------------------ declarations
    def declare_states(self) -> None:
        for s in self.p.states:
            cname = map_c_name(s)
            if s.kind == "devmap":
                # a multicast group: slot -> ifindex (struct bpf_devmap_val's first field);
                # bcc's macro gives the map its redirect_map() method
                self.emit(f"BPF_DEVMAP({cname}, {s.capacity});", indent=0)
                continue
            if s.kind == "lpm":
                nbytes = s.key[0].width // 8
                self.emit(f"struct {cname}_key {{ u32 prefixlen; u8 addr[{nbytes}]; }};", indent=0)
            elif s.kind in ("array", "percpu_array"):
                # array maps take a plain u32 index as key (bcc rejects a struct key here)
                self.emit(f"typedef u32 {cname}_index_t;", indent=0)
            else:
                self.emit(f"struct {cname}_key {{ {_struct_fields(s.key)} }};", indent=0)
            lock = f" struct bpf_spin_lock {SPIN_LOCK_MEMBER};" if has_spin_lock(s) else ""
            self.emit(f"struct {cname}_value {{ {_struct_fields(s.value)}{lock} }};", indent=0)
            # an lpm trie must not be preallocated; a plain array is mmap-able so the runtime
            # reads and clears it as memory (cora.runtime.engine), not slot by slot (but not
            # with a spin lock: the kernel refuses to mmap a map whose values hold one,
            # kernel/bpf/syscall.c bpf_map_mmap)
            flags = {"lpm": "BPF_F_NO_PREALLOC", "array": "BPF_F_MMAPABLE"}.get(s.kind, "0")
            if lock:
                flags = "0"
            ktype = (f"{cname}_index_t" if s.kind in ("array", "percpu_array")
                     else f"struct {cname}_key")
            self.emit(f'BPF_F_TABLE("{MAP_KIND[s.kind]}", {ktype}, '
                      f"struct {cname}_value, {cname}, {s.capacity}, {flags});", indent=0)
            if s.name in self.read_through:
                vtype = f"struct {cname}_value"
                old = self.read_through_from.get(s.name)
                if old is not None:
                    fields = " ".join(f"{c_type(f.width)} f_{f.name};" for f in old.value)
                    self.emit(f"struct {cname}_rt_value {{ {fields} }};", indent=0)
                    vtype = f"struct {cname}_rt_value"
                self.emit(f'BPF_F_TABLE("{MAP_KIND[s.kind]}", {ktype}, '
                          f"{vtype}, {cname}_rt, {s.capacity}, {flags});", indent=0)
        if self.uses_env and self.inject_env:
            # slot 0: now() in ns, written by the runtime before each frame;
            # slot 1: the xorshift32 state of rand(), advanced by the program.
            self.emit("BPF_ARRAY(cora_env, u64, 2);", indent=0)
        if self.count_verdicts:
            self.emit(f"BPF_PERCPU_ARRAY(cora_verdicts, u64, {len(VERDICT_COUNTER_INDEX)});",
                      indent=0)
        for line in liveprof.declaration(self.prof) if self.prof else []:
            self.emit(line, indent=0)

    # ------------------------------------------------------------------------------ parser
    def emit_parser(self) -> None:
        if not self.headers_used:
            return
        hs = [h for h in ("ethernet", "vlan", "ipv4", "ipv6", "tcp", "udp", "icmp")
              if h in self.headers_used]
        self.emit(" ".join(f"void *h_{h} = data;" for h in hs))
        self.emit("u8 " + ", ".join(f"v_{h} = 0" for h in hs) + ";")
        self.emit("if (data + 14 <= data_end) {")
        self.emit("v_ethernet = 1;", indent=2)
        if self.headers_used & {"ipv4", "vlan"}:
            self.emit("u16 et = *(u16 *)(data + 12);", indent=2)
            self.emit("void *l3 = data + 14;", indent=2)
        if "vlan" in self.headers_used:
            # the common untagged IPv4 frame decides with one comparison; a tag is looked
            # for only when the ethertype is not IPv4
            self.emit("if (et != bpf_htons(0x0800) && "
                      "(et == bpf_htons(0x8100) || et == bpf_htons(0x88a8))) {", indent=2)
            self.emit("if (data + 18 > data_end) goto parsed;", indent=3)
            self.emit("v_vlan = 1; h_vlan = data + 14; et = *(u16 *)(data + 16); l3 = data + 18;",
                      indent=3)
            self.emit("}", indent=2)
        if "ipv4" in self.headers_used:
            l4 = bool(self.headers_used & set(L4_HEADERS))
            if l4:
                self.emit("void *l4 = data; u8 l4proto = 0; u8 has_l4 = 0;", indent=2)
            self.emit("if (et == bpf_htons(0x0800)) {", indent=2)
            self.emit("if (l3 + 20 > data_end) goto parsed;", indent=3)
            self.emit("u32 ihl = *(u8 *)l3 & 0x0f;", indent=3)
            self.emit("if (ihl < 5 || l3 + ihl * 4 > data_end) goto parsed;", indent=3)
            self.emit("v_ipv4 = 1; h_ipv4 = l3;", indent=3)
            if l4:
                self.emit("if ((*(u16 *)(l3 + 6) & bpf_htons(0x1fff)) == 0) {", indent=3)
                self.emit("l4proto = *(u8 *)(l3 + 9); l4 = l3 + ihl * 4; has_l4 = 1;", indent=4)
                self.emit("}", indent=3)
            if "ipv6" in self.headers_used:
                self.emit("} else if (et == bpf_htons(0x86dd)) {", indent=2)
                self.emit("if (l3 + 40 > data_end) goto parsed;", indent=3)
                self.emit("v_ipv6 = 1; h_ipv6 = l3;", indent=3)
                if l4:
                    self.emit("l4proto = *(u8 *)(l3 + 6); l4 = l3 + 40; has_l4 = l4proto != 1;",
                              indent=3)
            self.emit("}", indent=2)
            if l4:
                # every L4 header starts at l4: one pointer for all (clang keeps one
                # register), set whatever the checks say; the flags alone say which is valid
                # and every access is under its flag or a branch on it (validity.py)
                self.emit(" ".join(f"h_{name} = l4;" for name in L4_HEADERS
                                   if name in self.headers_used), indent=2)
                self.emit("if (has_l4) {", indent=2)
                first = True
                for name, proto in (("tcp", 6), ("udp", 17), ("icmp", 1)):
                    if name not in self.headers_used:
                        continue
                    kw = "if" if first else "} else if"
                    first = False
                    n = HEADERS[name].min_len
                    self.emit(f"{kw} (l4proto == {proto}) {{", indent=3)
                    self.emit(f"if (l4 + {n} <= data_end) v_{name} = 1;", indent=4)
                self.emit("}", indent=3)
                self.emit("}", indent=2)
        self.emit("}")
        self.emit("parsed:", indent=0)
        self.emit(";")

    # -------------------------------------------------------------------------- header ops
    def _known(self, op: Op, header: str) -> bool:
        """Whether the branches before ``op`` proved ``header`` valid (validity.py)."""
        return header in self.known_valid.get(id(op), frozenset())

    def _guard(self, op: Op, header: str) -> str:
        """C condition under which ``op`` may touch ``header``: ``1`` when known valid."""
        return "1" if self._known(op, header) else f"v_{header}"

    def field_of(self, op: Op) -> Field:
        return header_field(op.attrs["header"], op.attrs["field"])

    @emit_impl("hdr.load")
    def emit_hdr_load(self, op: Op) -> None:
        h, f = op.attrs["header"], self.field_of(op)
        dst = self.reg(op.dest)
        span = f.byte_span
        # The parser checked the header's fixed length once when it set v_H (hoisted): the
        # verifier keeps that range on h_H along every path where v_H is 1. Where the
        # branches before the load proved v_H (validity.py), the load needs no guard.
        if self._known(op, h):
            self.emit("{")
        else:
            self.emit(f"{dst} = 0;", op.span)
            self.emit(f"if (v_{h}) {{")
        if op.dest in self.wire_regs and network_load(self.p, op):
            # network order: the field's bytes as they are (copied into keys without a swap)
            self.emit(f"{dst} = *({_UTYPE[span]} *)(h_{h} + {f.byte_offset});", op.span,
                      indent=2)
            self.emit("}")
            return
        raw = _raw_load(f"h_{h}", f.byte_offset, span)
        value = f"({raw} >> {f.shift})" if f.shift else raw
        if f.bit_width != span * 8:
            value = f"({value} & {_lit((1 << f.bit_width) - 1, f.bit_width)})"
        value = f"({c_type(f.bit_width)}){value}"
        if op.dest in self.wire_regs:
            value = _to_network(value, self.width(op.dest))
        self.emit(f"{dst} = {value};", op.span, indent=2)
        self.emit("}")

    # The checksum fix-up of hdr.store sums the 16-bit words as they lie in memory, without
    # byte swaps: the one's complement sum is independent of byte order (RFC 1071, section
    # 2(B)), so the sum of swapped words is the swapped sum, and the checksum field, read
    # and written in the same (memory) order, comes out the same.
    def _csum_words(self, h: str, start: int, end: int) -> str:
        return " + ".join(f"(u32)*(u16 *)(h_{h} + {o})" for o in range(start, end, 2))

    def _csum_words_not(self, h: str, start: int, end: int) -> str:
        return " + ".join(f"(u32)(0xffff & ~*(u16 *)(h_{h} + {o}))"
                          for o in range(start, end, 2))

    def _csum_targets(self, h: str, fname: str) -> list[tuple[str, int, bool]]:
        """(header, checksum byte offset, is_udp) of every checksum covering the field."""
        out = []
        hdr = HEADERS[h]
        if hdr.csum_field:
            cf = header_field(h, hdr.csum_field)
            out.append((h, cf.byte_offset, h == "udp"))
        if fname in hdr.pseudo_header_fields:
            for l4 in ("tcp", "udp"):
                cf = header_field(l4, "csum")
                out.append((l4, cf.byte_offset, l4 == "udp"))
        return out

    @emit_impl("hdr.store")
    def emit_hdr_store(self, op: Op) -> None:
        h, f = op.attrs["header"], self.field_of(op)
        val = self.reg(op.args[0])
        span = f.byte_span
        wstart = f.byte_offset & ~1
        wend = (f.byte_offset + span + 1) & ~1
        hdr_min = HEADERS[h].min_len
        wend = min(wend, hdr_min)
        targets = self._csum_targets(h, f.name)
        self.emit(f"if ({self._guard(op, h)}) {{ /* store {h}.{f.name} */", op.span)
        old = self.tmp()
        if targets:
            self.emit(f"u32 {old} = {self._csum_words_not(h, wstart, wend)};", indent=2)
            self.emit(_MEMORY_BARRIER, indent=2)
        if op.args[0] in self.wire_regs and network_uses(self.p, op):
            # in network order already: stored as it is
            self.emit(f"*({_UTYPE[span]} *)(h_{h} + {f.byte_offset}) = r_{op.args[0]};",
                      indent=2)
        elif f.shift == 0 and f.bit_width == span * 8:
            for line in _raw_store(f"h_{h}", f.byte_offset, span, val):
                self.emit(line, indent=2)
        else:
            raw = self.tmp()
            ctype = "unsigned __int128" if span > 8 else "u64"
            mask = ((1 << f.bit_width) - 1) << f.shift
            self.emit(f"{ctype} {raw} = {_raw_load(f'h_{h}', f.byte_offset, span)};", indent=2)
            self.emit(f"{raw} = ({raw} & ~({ctype}){_lit(mask, 128 if span > 8 else 64)}) | "
                      f"((({ctype}){val} << {f.shift}) & {_lit(mask, 128 if span > 8 else 64)});",
                      indent=2)
            for line in _raw_store(f"h_{h}", f.byte_offset, span, raw):
                self.emit(line, indent=2)
        if targets:
            new = self.tmp()
            self.emit(_MEMORY_BARRIER, indent=2)
            self.emit(f"u32 {new} = {self._csum_words(h, wstart, wend)};", indent=2)
            for ch, coff, is_udp in targets:
                if ch != h and ch not in self.headers_used:
                    continue
                # A checksum lies in its header's fixed part, which the parser checked
                # when it set v_H (as for every other access to the header).
                cond = "1" if ch == h else self._guard(op, ch)
                self.emit(f"if ({cond}) {{", indent=2)
                cur = self.tmp()
                self.emit(f"u32 {cur} = *(u16 *)(h_{ch} + {coff});", indent=3)
                guard = f"if ({cur} != 0) " if is_udp else ""
                self.emit(f"{guard}{{", indent=3)
                res = self.tmp()
                self.emit(f"u32 {res} = 0xffff & ~CORA_CSUM_FOLD((u64)(0xffff & ~{cur}) + "
                          f"{old} + {new});", indent=4)
                if is_udp:
                    self.emit(f"if ({res} == 0) {res} = 0xffff;", indent=4)
                self.emit(f"*(u16 *)(h_{ch} + {coff}) = (u16){res};", indent=4)
                self.emit("}", indent=3)
                self.emit("}", indent=2)
        self.emit("}")

    # Fields at fixed offsets after a header (user-declared headers, docs/language.md): each
    # access checks its own bytes against data_end, so the verifier needs no parser range.
    @emit_impl("hdr.has")
    def emit_hdr_has(self, op: Op) -> str:
        h = op.attrs["header"]
        return f"(v_{h} && h_{h} + {op.attrs['bytes']} <= data_end)"

    def _at_field(self, op: Op) -> Field:
        return Field("", op.attrs["bit"], op.attrs["bits"], "")

    @emit_impl("hdr.load_at")
    def emit_hdr_load_at(self, op: Op) -> None:
        h, f = op.attrs["header"], self._at_field(op)
        dst, span = self.reg(op.dest), f.byte_span
        self.emit(f"{dst} = 0;", op.span)
        # a pointer of its own, compared right before the load: clang may not merge the
        # checks of neighbouring accesses into one the verifier cannot follow
        ptr = self.tmp()
        self.emit(f"if (v_{h}) {{")
        self.emit(f"void *{ptr} = h_{h} + {f.byte_offset};", indent=2)
        self.emit(f'asm volatile("" : "+r"({ptr}));', indent=2)
        self.emit(f"if ({ptr} + {span} <= data_end) {{", indent=2)
        raw = _raw_load(ptr, 0, span)
        value = f"({raw} >> {f.shift})" if f.shift else raw
        if f.bit_width != span * 8:
            value = f"({value} & {_lit((1 << f.bit_width) - 1, f.bit_width)})"
        self.emit(f"{dst} = ({self._ct(op)}){value};", op.span, indent=3)
        self.emit("}", indent=2)
        self.emit("}")

    @emit_impl("hdr.store_at")
    def emit_hdr_store_at(self, op: Op) -> None:
        h, f = op.attrs["header"], self._at_field(op)
        val, span = self.reg(op.args[0]), f.byte_span
        ws, we = f.byte_offset & ~1, (f.byte_offset + span + 1) & ~1
        fix = h in PAYLOAD_CSUM_HEADERS
        ptr = self.tmp()   # the covered words, checked right before use (see hdr.load_at)
        self.emit(f"if (v_{h}) {{ /* store {h}+{f.bit_offset}:{f.bit_width} */", op.span)
        self.emit(f"void *{ptr} = h_{h} + {ws};", indent=2)
        self.emit(f'asm volatile("" : "+r"({ptr}));', indent=2)
        self.emit(f"if ({ptr} + {we - ws} <= data_end) {{", indent=2)
        words = range(0, we - ws, 2)
        old = self.tmp()
        if fix:
            self.emit(f"u32 {old} = " + " + ".join(
                f"(u32)(0xffff & ~bpf_ntohs(*(u16 *)({ptr} + {o})))" for o in words) + ";",
                indent=3)
            self.emit(_MEMORY_BARRIER, indent=3)
        rel = f.byte_offset - ws
        if f.shift == 0 and f.bit_width == span * 8:
            for line in _raw_store(ptr, rel, span, val):
                self.emit(line, indent=3)
        else:
            raw = self.tmp()
            mask = ((1 << f.bit_width) - 1) << f.shift
            self.emit(f"u64 {raw} = {_raw_load(ptr, rel, span)};", indent=3)
            self.emit(f"{raw} = ({raw} & ~(u64){_lit(mask, 64)}) | "
                      f"(((u64){val} << {f.shift}) & {_lit(mask, 64)});", indent=3)
            for line in _raw_store(ptr, rel, span, raw):
                self.emit(line, indent=3)
        if fix:
            coff = header_field(h, "csum").byte_offset
            new, cur, res = self.tmp(), self.tmp(), self.tmp()
            self.emit(_MEMORY_BARRIER, indent=3)
            self.emit(f"u32 {new} = " + " + ".join(
                f"(u32)bpf_ntohs(*(u16 *)({ptr} + {o}))" for o in words) + ";", indent=3)
            # the checksum lies in the header's fixed part, checked by the parser (v_H)
            self.emit(f"u32 {cur} = bpf_ntohs(*(u16 *)(h_{h} + {coff}));", indent=3)
            guard = f"if ({cur} != 0) " if h == "udp" else ""
            self.emit(f"{guard}{{", indent=3)
            self.emit(f"u32 {res} = 0xffff & ~CORA_CSUM_FOLD((u64)(0xffff & ~{cur}) + "
                      f"{old} + {new});", indent=4)
            if h == "udp":
                self.emit(f"if ({res} == 0) {res} = 0xffff;", indent=4)
            self.emit(f"*(u16 *)(h_{h} + {coff}) = bpf_htons((u16){res});", indent=4)
            self.emit("}", indent=3)
        self.emit("}", indent=2)
        self.emit("}")

    # ---------------------------------------------------------------------------- map ops
    def emit_key(self, state: StateDecl, args: tuple[str, ...], span, op: Op | None = None
                 ) -> str:
        """Build ``state``'s key from registers ``args``; returns the C variable. A hash
        state's key goes in its function-scope struct, where :mod:`keyshare` may prove it
        already is (then nothing is stored)."""
        shared = state.name in self.key_var
        k = self.key_var[state.name][0] if shared else self.tmp()
        if op is not None and id(op) in self.key_reused:
            self.emit(f"/* key {k}, built before */", span)
            return k
        cname = map_c_name(state)
        if state.kind in ("array", "percpu_array"):
            self.emit(f"u32 {k} = {self.reg(args[0])};", span)
            return k
        if state.kind != "lpm":
            # every byte written: the fields in network order, then the padding
            if not shared:
                self.emit(f"struct {cname}_key {k};", span)
            wide = _widened(state.key)
            for i, (f, a) in enumerate(zip(state.key, args, strict=True)):
                # a register kept in network order goes in as it is
                value = f"r_{a}" if a in self.wire_regs else _to_network(self.reg(a), f.width)
                self.emit(self._field_store(k, f.name, value, wide.get(i)))
            self.emit_padding(k, state.key, {n for _, n in wide.values()})
            return k
        self.emit(f"struct {cname}_key {k}; __builtin_memset(&{k}, 0, sizeof({k}));", span)
        addr = self.reg(args[0])
        width = state.key[0].width
        nbytes = width // 8
        plen = self.reg(args[1]) if len(args) > 1 else str(width)
        self.emit(f"{k}.prefixlen = {plen};")
        if len(args) > 1:  # an inserted prefix keeps only its first plen bits
            ctype = c_type(width)
            masked = self.tmp()
            self.emit(f"{ctype} {masked} = {plen} == 0 ? 0 : {plen} >= {width} ? {addr} : "
                      f"{addr} & ~((({ctype})1 << ({width} - {plen})) - 1);")
            addr = masked
        for i in range(nbytes):
            self.emit(f"{k}.addr[{i}] = (u8)({addr} >> {8 * (nbytes - 1 - i)});")
        return k

    def emit_padding(self, var: str, fields, done: set[int] | frozenset[int] = frozenset()
                     ) -> None:
        """Zero the padding bytes of struct ``var`` (see :func:`_struct_fields`), but for the
        gaps ``done`` (zeroed by a widened field store, :func:`_widened`)."""
        for n, (_, length) in enumerate(_gaps(fields)):
            if n not in done:
                self.emit(f"__builtin_memset(&{var}._pad{n}, 0, {length});")

    @staticmethod
    def _field_store(var: str, name: str, value: str, wide: tuple[int, int] | None) -> str:
        """C statement storing ``value`` into field ``name`` of struct ``var``; with ``wide``
        (:func:`_widened`) one store of that many bytes that also zeroes the gap after it."""
        if wide is None:
            return f"{var}.f_{name} = {value};"
        ctype = c_type(wide[0] * 8)
        return f"*({ctype} *)&{var}.f_{name} = ({ctype})({value});"

    @emit_impl("map.lookup")
    def emit_map_lookup(self, op: Op) -> None:
        state = self.p.state(op.attrs["state"])
        k = self.emit_key(state, op.args, op.span, op)
        cname, r = map_c_name(state), self.reg(op.dest)
        self.emit(f"{r} = {cname}.lookup(&{k});")
        if state.name in self.read_through:  # miss: take the entry over from the old map
            o = self.tmp()
            old = self.read_through_from.get(state.name)
            if old is None:
                self.emit(f"if (!{r}) {{ struct {cname}_value *{o} = {cname}_rt.lookup(&{k}); "
                          f"if ({o}) {{ {cname}.insert(&{k}, {o}); "
                          f"{r} = {cname}.lookup(&{k}); }} }}")
            else:  # converted on the way: fields matched by name, new ones zero
                nv = self.tmp()
                same = {f.name for f in old.value}
                copy = " ".join(f"{nv}.f_{f.name} = {o}->f_{f.name};" for f in state.value
                                if f.name in same)
                self.emit(f"if (!{r}) {{ struct {cname}_rt_value *{o} = "
                          f"{cname}_rt.lookup(&{k}); if ({o}) {{ struct {cname}_value {nv}; "
                          f"__builtin_memset(&{nv}, 0, sizeof({nv})); {copy} "
                          f"{cname}.insert(&{k}, &{nv}); {r} = {cname}.lookup(&{k}); }} }}")

    @emit_impl("ref.found")
    def emit_ref_found(self, op: Op) -> None:
        self.emit(f"{self.reg(op.dest)} = {self.reg(op.args[0])} != NULL;", op.span)

    @emit_impl("ref.load")
    def emit_ref_load(self, op: Op) -> None:
        f = self.p.state(op.attrs["state"]).value[op.attrs["index"]]
        r = self.reg(op.args[0])
        value = f"{r}->f_{f.name}"
        if op.dest in self.wire_regs:
            value = _to_network(value, f.width)
        self.emit(f"{self.reg(op.dest)} = {r} ? {value} : 0;", op.span)

    @emit_impl("ref.store")
    def emit_ref_store(self, op: Op) -> None:
        f = self.p.state(op.attrs["state"]).value[op.attrs["index"]]
        r = self.reg(op.args[0])
        self.emit(f"if ({r}) {r}->f_{f.name} = {self.reg(op.args[1])};", op.span)

    @emit_impl("atomic_add")
    def emit_atomic_add(self, op: Op) -> None:
        """``if (ref) __sync_fetch_and_add(&ref->f, v);``: clang emits one BPF_ATOMIC add
        (BPF_XADD), the only map-value update the Agilio offload accepts.

        On a ``percpu_array`` the add is a plain ``ref->f += v``: each CPU has its own copy
        of the value and a program runs on one CPU without migrating, softirq work such
        as XDP and tc not nesting on one CPU, so no other writer can interleave (the
        kernel's samples/bpf/xdp1_kern.c counts into a per-CPU array with ``*value +=
        1``; cora's verdict counters do the same). A locked add costs an x86 ``lock xadd``
        on every counted packet (firewall's drop counters: most of the frames of a
        capture). The Agilio offload, which has no per-CPU memory, holds such a state as
        atomic counters: its stage keeps the IR's ``atomic_add`` (nic_checks)."""
        state = self.p.state(op.attrs["state"])
        f = state.value[op.attrs["index"]]
        r = self.reg(op.args[0])
        v = self.reg(op.args[1])
        if state.kind == "percpu_array":
            self.emit(f"if ({r}) {r}->f_{f.name} += {v};", op.span)
            return
        self.emit(f"if ({r}) __sync_fetch_and_add(&{r}->f_{f.name}, {v});", op.span)

    @emit_impl("ref.lock", "ref.unlock")
    def emit_ref_lock(self, op: Op) -> None:
        """``if (ref) bpf_spin_lock(&ref->cora_lock);`` (``bpf_spin_unlock``): the verifier
        tracks the lock along each path (the one where the entry is absent takes none) and
        refuses helper calls, a second lock and a return while it is held
        (kernel/bpf/verifier.c, ``process_spin_lock``); the front end keeps those out of an
        ``atomic`` block (docs/language.md)."""
        r = self.reg(op.args[0])
        fn = "bpf_spin_lock" if op.opcode == "ref.lock" else "bpf_spin_unlock"
        self.emit(f"if ({r}) {fn}(&{r}->{SPIN_LOCK_MEMBER});", op.span)

    @emit_impl("map.update")
    def emit_map_update(self, op: Op) -> None:
        state = self.p.state(op.attrs["state"])
        cname = map_c_name(state)
        n = op.attrs["nkeys"]
        k = self.emit_key(state, op.args[:n], op.span, op)
        v = self.tmp()
        self.emit(f"struct {cname}_value {v};")
        wide = _widened(state.value)
        for i, (f, a) in enumerate(zip(state.value, op.args[n:], strict=True)):
            self.emit(self._field_store(v, f.name, self.reg(a), wide.get(i)))
        self.emit_padding(v, state.value, {n for _, n in wide.values()})
        if has_spin_lock(state):  # every byte initialised (the kernel skips the lock's)
            self.emit(f"__builtin_memset(&{v}.{SPIN_LOCK_MEMBER}, 0, 4);")
        self.emit(f"{self.reg(op.dest)} = {cname}.update(&{k}, &{v}) == 0;")

    @emit_impl("map.delete")
    def emit_map_delete(self, op: Op) -> None:
        state = self.p.state(op.attrs["state"])
        k = self.emit_key(state, op.args, op.span, op)
        self.emit(f"{map_c_name(state)}.delete(&{k});")
        if state.name in self.read_through:  # a deleted entry must not come back
            self.emit(f"{map_c_name(state)}_rt.delete(&{k});")

    # ---------------------------------------------------------------------- scalar ops
    # Each returns the C expression assigned to the op's destination (emit_op masks it to
    # the destination's width when that is not a C type's).

    def emit_op(self, op: Op) -> None:
        """Emit the C of one op with its registered implementation (:data:`EMIT_IMPLS`)."""
        try:
            impl = EMIT_IMPLS[op.opcode]
        except IRError:
            raise CoraError(f"the {self.hook.name} target cannot generate IR op "
                            f"{op.opcode}") from None
        grouped, with_dest = same_order_positions(self.p, op)
        keep = set(grouped) | network_uses(self.p, op)
        for i, a in enumerate(op.args):
            if i not in keep and a in self.wire_regs and a not in self._host_view:
                t = self.tmp()
                self.emit(f"{c_type(self.width(a))} {t} = {_to_network(f'r_{a}', self.width(a))};")
                self._host_view[a] = t
        try:
            expr = impl(self, op)
        finally:
            self._host_view = {}
        if expr is None:
            return
        if op.dest in self.wire_regs and not with_dest and op.opcode != "const":
            expr = _to_network(f"({expr})", self.width(op.dest))
        w = self.width(op.dest)
        if w not in (1, 8, 16, 32, 64, 128):
            expr = f"({expr}) & {_lit((1 << w) - 1, 64)}"
        self.emit(f"{self.reg(op.dest)} = {expr};", op.span)

    def _ct(self, op: Op) -> str:
        """C type of the op's destination."""
        return c_type(self.width(op.dest))

    @emit_impl("const")
    def emit_const(self, op: Op) -> str:
        w = self.width(op.dest)
        value = op.attrs["value"]
        if op.dest in self.wire_regs:  # the literal in network order
            value = int.from_bytes(value.to_bytes(w // 8, "big"), "little")
        return _lit(value, w)

    @emit_impl("mov")
    def emit_mov(self, op: Op) -> str:
        return self.reg(op.args[0])

    def _infix(self, op: Op) -> str:
        """``a OP b`` with the C operator of a binary or comparison op."""
        a, b = (self.reg(x) for x in op.args)
        return f"{a} {_C_OPERATOR[op.opcode]} {b}"

    @emit_impl("add", "sub", "mul", "and", "or", "xor")
    def emit_arith(self, op: Op) -> str:
        return f"({self._ct(op)})({self._infix(op)})"

    @emit_impl("div")
    def emit_div(self, op: Op) -> str:
        a, b = (self.reg(x) for x in op.args)
        return f"({b} ? ({self._ct(op)})({a} / {b}) : 0)"

    @emit_impl("mod")
    def emit_mod(self, op: Op) -> str:
        a, b = (self.reg(x) for x in op.args)
        return f"({b} ? ({self._ct(op)})({a} % {b}) : {a})"

    @emit_impl("shl", "shr")
    def emit_shift(self, op: Op) -> str:
        sym = "<<" if op.opcode == "shl" else ">>"
        a, b = (self.reg(x) for x in op.args)
        w = self.width(op.dest)
        return f"({b} >= {w} ? 0 : ({self._ct(op)})(({c_type(max(w, 32))}){a} {sym} {b}))"

    @emit_impl("eq", "ne", "lt", "le", "gt", "ge")
    def emit_compare(self, op: Op) -> str:
        return self._infix(op)

    @emit_impl("not")
    def emit_not(self, op: Op) -> str:
        a = self.reg(op.args[0])
        return f"!{a}" if self.width(op.dest) == 1 else f"({self._ct(op)})~{a}"

    @emit_impl("zext", "trunc")
    def emit_resize(self, op: Op) -> str:
        return f"({self._ct(op)}){self.reg(op.args[0])}"

    # Signed ops (two's complement, cora.compiler.ir.semantics): registers hold bit
    # patterns; each op reads its operands as signed C values of their width.
    def _signed(self, reg: str) -> str:
        """C expression: register ``reg`` read as a two's-complement signed value."""
        w = self.width(reg)
        if w in (8, 16, 32, 64):
            return f"((s{w}){self.reg(reg)})"
        return f"((s64)((u64){self.reg(reg)} << {64 - w}) >> {64 - w})"

    @emit_impl("sext")
    def emit_sext(self, op: Op) -> str:
        return f"({self._ct(op)}){self._signed(op.args[0])}"

    @emit_impl("slt", "sle", "sgt", "sge")
    def emit_signed_compare(self, op: Op) -> str:
        a, b = (self._signed(x) for x in op.args)
        sym = {"slt": "<", "sle": "<=", "sgt": ">", "sge": ">="}[op.opcode]
        return f"{a} {sym} {b}"

    @emit_impl("sar")
    def emit_sar(self, op: Op) -> str:
        a, b = self._signed(op.args[0]), self.reg(op.args[1])
        w = self.width(op.dest)
        return f"({self._ct(op)})((s64){a} >> ({b} >= {w} ? {w - 1} : {b}))"

    @emit_impl("sdiv", "smod")
    def emit_signed_div(self, op: Op) -> str:
        # magnitudes, one unsigned 64-bit division, then the sign: BPF_SDIV/BPF_SMOD need
        # cpu v4 (Linux 6.6), which bcc's default target does not emit.
        a, b = (self.reg(x) for x in op.args)
        x, y = (self._signed(r) for r in op.args)
        ux = f"({x} < 0 ? -(u64){x} : (u64){x})"
        uy = f"({y} < 0 ? -(u64){y} : (u64){y})"
        ct = self._ct(op)
        if op.opcode == "sdiv":
            q = f"({ux} / {uy})"
            return f"({b} ? ({ct})((({x} < 0) != ({y} < 0)) ? -{q} : {q}) : 0)"
        r = f"({ux} % {uy})"
        return f"({b} ? ({ct})({x} < 0 ? -{r} : {r}) : {a})"

    @emit_impl("select")
    def emit_select(self, op: Op) -> str:
        c, a, b = (self.reg(x) for x in op.args)
        return f"{c} ? {a} : {b}"

    @emit_impl("hdr.valid")
    def emit_hdr_valid(self, op: Op) -> str:
        return f"v_{op.attrs['header']}"

    @emit_impl("pkt.len")
    def emit_pkt_len(self, op: Op) -> str:
        return self.hook.pkt_len_expr()

    @emit_impl("now")
    def emit_now(self, op: Op) -> str:
        return "*env_now" if self.inject_env else "bpf_ktime_get_ns()"

    @emit_impl("rand")
    def emit_rand(self, op: Op) -> str:
        if not self.inject_env:
            return "bpf_get_prandom_u32()"
        x = self.tmp()
        self.emit(f"u32 {x} = (u32)*env_rand; {x} ^= {x} << 13; {x} ^= {x} >> 17; "
                  f"{x} ^= {x} << 5; *env_rand = {x};", op.span)
        return x

    @emit_impl("hash")
    def emit_hash(self, op: Op) -> str:
        h = self.tmp()
        self.emit(f"u64 {h} = {_lit((op.attrs.get('seed', 0) + GOLDEN_GAMMA) % (1 << 64), 64)};",
                  op.span)
        for x in op.args:
            if self.width(x) > 64:
                self.emit(f"{h} = cora_mix64({h} ^ (u64)({self.reg(x)} >> 64));")
                self.emit(f"{h} = cora_mix64({h} ^ (u64){self.reg(x)});")
            else:
                self.emit(f"{h} = cora_mix64({h} ^ (u64){self.reg(x)});")
        return f"(u32)({h} ^ ({h} >> 32))"

    # ------------------------------------------------------------------------------- shim
    def emit_return(self, verdict: str, indent: int = 1, span=None) -> None:
        """``return`` of the hook's code for ``verdict`` (counted when verdicts are counted)."""
        if self.count_verdicts:
            self.emit(f"cora_count({VERDICT_COUNTER_INDEX[verdict]});", span, indent=indent)
        self.emit(f"return {self.hook.verdict_code(verdict)}; /* {verdict} */", span,
                  indent=indent)

    @emit_impl("shim.push")
    def emit_shim_push(self, op: Op) -> None:
        """Prepend the shim: resume id then each register, big-endian, c_bytes each."""
        regs = [(self.reg(a), c_bytes(self.width(a))) for a in op.args]
        total = SHIM_ID_BYTES + sum(n for _, n in regs)
        aborted = self.hook.verdict_code("aborted")
        self.emit(f"if ({self.hook.adjust_head(f'-{total}')}) return {aborted}; "
                  "/* aborted: no headroom */", op.span)
        self.emit("void *sd = (void *)(long)ctx->data; void *se = (void *)(long)ctx->data_end;")
        self.emit(f"if (sd + {total} > se) return {aborted};")
        self.emit(f"*(u16 *)sd = bpf_htons({op.attrs['resume']});")
        pos = SHIM_ID_BYTES
        for r, n in regs:
            for line in _raw_store("sd", pos, n, r):
                self.emit(line)
            pos += n

    def _shim_pop_op(self) -> Op | None:
        term = self.p.blocks[0].ops[-1]
        return term if OPS[term.opcode].position == "entry-only" else None

    def emit_shim_pop(self, op: Op) -> None:
        """Before the parser: read the resume id and registers, strip the shim."""
        final = op.attrs["final"]
        other = "drop" if final else "pass"
        self.emit("u32 shim_rid = 0, shim_len = 0;")
        self.emit(f"if (data + {SHIM_ID_BYTES} > data_end) {{")
        self.emit_return(other, indent=2)
        self.emit("}")
        self.emit("shim_rid = bpf_ntohs(*(u16 *)data);")
        kw = "if"
        for k, rs in zip(op.attrs["resume"], op.attrs["regs"], strict=True):
            total = SHIM_ID_BYTES + sum(c_bytes(self.width(a)) for a in rs)
            self.emit(f"{kw} (shim_rid == {k}) {{")
            kw = "} else if"
            self.emit(f"if (data + {total} > data_end) {{", indent=2)
            self.emit_return("drop", indent=3)
            self.emit("}", indent=2)
            pos = SHIM_ID_BYTES
            for a in rs:
                n, w = c_bytes(self.width(a)), self.width(a)
                value = _raw_load("data", pos, n)
                if w not in (8, 16, 32, 64, 128):
                    value = f"({value} & {_lit((1 << w) - 1, 64)})"
                self.emit(f"{self.reg(a)} = ({c_type(w)}){value};", indent=2)
                pos += n
            self.emit(f"shim_len = {total};", indent=2)
        if final:
            self.emit(f"{kw} (shim_rid == {SHIM_DONE}) {{")
            self.emit(f"shim_len = {SHIM_ID_BYTES};", indent=2)
            kw = "} else if"
        if kw == "if":
            self.emit_return(other)
        else:
            self.emit("} else {")
            self.emit_return(other, indent=2)
            self.emit("}")
        self.emit(f"if ({self.hook.adjust_head('(int)shim_len')}) "
                  f"return {self.hook.verdict_code('aborted')}; /* aborted */")
        self.emit("data = (void *)(long)ctx->data; data_end = (void *)(long)ctx->data_end;")
        if final:
            self.emit(f"if (shim_rid == {SHIM_DONE}) {{")
            self.emit_return("pass", indent=2)
            self.emit("}")

    @emit_impl("shim.pop")
    def emit_shim_dispatch(self, op: Op) -> None:
        """The pop itself ran before the parser (:meth:`emit_shim_pop`); dispatch here."""
        for k, t in zip(op.attrs["resume"], op.attrs["targets"], strict=True):
            self.emit(f"if (shim_rid == {k}) {self._goto(t)}", op.span)
        self.emit_return("drop")

    @emit_impl("br")
    def emit_br(self, op: Op) -> None:
        t, f = op.attrs["targets"]
        cond = self.reg(op.args[0])
        if t == f or not {(self._block, t), (self._block, f)} & self.edge_keys.keys():
            self.emit(f"if ({cond}) {self._goto(t)} else {self._goto(f)}", op.span)
            return
        self.emit(f"if ({cond}) {{", op.span)
        self._edge_keys(t, op.span)
        self.emit(self._goto(t), indent=2)
        self.emit("}")
        self._edge_keys(f, op.span)
        self.emit(self._goto(f))

    def _edge_keys(self, target: str, span) -> None:
        """Build the keys :mod:`keyshare` places on the edge to ``target``."""
        for state, regs in self.edge_keys.get((self._block, target), []):
            self.emit_key(self.key_var[state][1], regs, span)

    def _goto(self, target: str) -> str:
        """``goto`` a successor of the current block (counting the edge when profiled)."""
        if self.prof is None:
            return f"goto L_{target};"
        return liveprof.goto_counted(self.prof, self._block, target)

    @emit_impl("jmp")
    def emit_jmp(self, op: Op) -> None:
        self._edge_keys(op.attrs["targets"][0], op.span)
        self.emit(f"goto L_{op.attrs['targets'][0]};", op.span)

    @emit_impl("ret")
    def emit_ret(self, op: Op) -> None:
        v = op.attrs["verdict"]
        if self.count_verdicts:
            self.emit(f"cora_count({VERDICT_COUNTER_INDEX[v]});", op.span)
        override = self.hook.ret_override(v)
        if override is not None:
            self.emit(override, op.span)
        elif v == "redirect":
            self.emit(f"return bpf_redirect({self.reg(op.args[0])}, 0);", op.span)
        else:
            self.emit(f"return {self.hook.verdict_code(v)}; /* {v} */", op.span)

    @emit_impl("mcast")
    def emit_mcast(self, op: Op) -> None:
        if self.count_verdicts:
            self.emit(f"cora_count({VERDICT_COUNTER_INDEX['multicast']});", op.span)
        group = map_c_name(self.p.state(op.attrs["state"]))
        self.emit(self.hook.multicast_return(group, op.attrs["exclude_ingress"]) +
                  " /* multicast */", op.span)

    # -------------------------------------------------------------------------------- main
    def generate(self) -> str:
        """Return the whole C source."""
        prelude = PRELUDE_HEAD + self.hook.prelude_helpers() + PRELUDE_TAIL
        self.lines = prelude.strip("\n").split("\n")
        self.declare_states()
        if self.count_verdicts:
            self.emit("static __always_inline void cora_count(u32 code) {", indent=0)
            self.emit("u64 *c = cora_verdicts.lookup(&code); if (c) *c += 1;")
            self.emit("}", indent=0)
        self.emit(f"int {self.hook.entry}({self.hook.ctx_type} *ctx) {{", indent=0)
        self.emit("void *data = (void *)(long)ctx->data;")
        self.emit("void *data_end = (void *)(long)ctx->data_end;")
        if self.uses_env and self.inject_env:
            self.emit("u32 env_now_key = 0, env_rand_key = 1;")
            self.emit("u64 *env_now = cora_env.lookup(&env_now_key);")
            self.emit("u64 *env_rand = cora_env.lookup(&env_rand_key);")
            self.emit(f"if (!env_now || !env_rand) return {self.hook.verdict_code('aborted')}; "
                      "/* aborted: cannot happen */")
        for name, t in self.p.regs.items():
            if isinstance(t, RefType):
                vtype = f"struct {map_c_name(self.p.state(t.state))}_value"
                self.emit(f"{vtype} *{self.reg(name)} = NULL;")
            else:
                self.emit(f"{c_type(t.width)} {self.reg(name)} = 0;")
        for var, state in self.key_var.values():
            self.emit(f"struct {map_c_name(state)}_key {var};")
        for line in liveprof.entry(self.prof, self.hook.verdict_code("aborted")) \
                if self.prof else []:
            self.emit(line)
        for line in self.hook.prologue(bool(self.headers_used)):
            self.emit(line)
        pop = self._shim_pop_op()
        if pop is not None:
            self.emit_shim_pop(pop)
        self.emit_parser()
        for block in self.p.topological_blocks():
            self.emit(f"L_{block.label}: ;", indent=0)
            self._block = block.label
            for line in liveprof.at_block(self.prof, block.label) if self.prof else []:
                self.emit(line)
            for op in block.ops:
                # Each op in its own scope: its temporaries (keys, values) die with it, so
                # clang can reuse their stack slots (the BPF stack is 512 bytes).
                self.emit("{")
                self.emit_op(op)
                self.emit("}")
        self.emit("}", indent=0)
        return "\n".join(self.lines) + "\n"


def generate_c(program: Program, hook: Hook, inject_env: bool = False,
               count_verdicts: bool = False, read_through: frozenset[str] = frozenset(),
               read_through_from: dict[str, StateDecl] | None = None,
               live_profile: int = 0) -> tuple[str, dict[int, tuple[int, int]]]:
    """C source for bcc and the map of C line -> NF (line, col). See :class:`EbpfEmitter`
    (``read_through``: states whose lookups fall back to ``<map>_rt`` on a miss;
    ``read_through_from``: the old declaration of those whose ``_rt`` map has another value
    layout; ``live_profile``: 1-in-N counters, :mod:`cora.targets.ebpf.liveprof`).

    Raises:
        CoraError: the program uses an op ``hook`` cannot express.
    """
    gen = EbpfEmitter(program, hook, inject_env=inject_env, count_verdicts=count_verdicts,
                      read_through=read_through, read_through_from=read_through_from,
                      live_profile=live_profile)
    text = gen.generate()
    return text, gen.line_map
