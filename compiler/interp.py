"""The reference interpreter: runs cora IR on raw Ethernet frames; the oracle for every backend.

Usage::

    interp = Interpreter(program)                 # loads every StateDecl.init entry
    result = interp.run(frame_bytes, now_ns=ts)   # FrameResult(verdict, port, frame, touched)
    interp.dump_state()                           # {"maps": {NAME: [{"key": [..], "value": [..]}]}}

Semantics are those of the :mod:`cora.compiler.ir` module docstring, with arithmetic, hashing,
PRNG and checksum formulas from :mod:`cora.compiler.ir.semantics` and header layouts and parsing
from :mod:`cora.compiler.ir.headers`. Choices the IR docstring leaves open, which every backend
must mirror:

- The fixed parser runs once per frame before the first op (docs/language.md); header stores
  do not re-run it, so ``hdr.valid`` and header offsets are those of the received frame.
- ``hdr.store`` fixes checksums with :func:`~cora.compiler.ir.semantics.csum_replace` over every
  16-bit word (aligned from the start of the field's header) that overlaps the field, whether
  or not its value changed; the L4 (TCP/UDP) checksum for an IPv4/IPv6 ``saddr``/``daddr``
  store uses the same words (the pseudo-header holds the address with the same alignment).
- ``map.update`` of an existing hash/lru/lpm key installs a new entry (as the kernel's hash
  map does): a reference obtained earlier no longer aliases it. Array slots are updated in
  place, so earlier references see the new values.
- ``lpm``: an inserted address is masked to its prefix length, so the stored key is canonical
  (``(10.1.0.0, 16)`` for ``10.1.2.3/16``). The kernel's LPM trie matches the same prefixes
  but keeps the address bytes as given (seen on Linux 6.18 with ``get_next_key``), so a
  backend masks the address before the update for the state dumps to agree. A prefix length
  above the address width fails (update returns 0, as the kernel's ``-EINVAL``). Replacing an
  existing prefix succeeds even when the trie is full (as Linux 6.18 does; checked).
- ``map.delete`` on an ``lpm`` state deletes the exact entry ``(address, full width)``; on an
  array it does nothing (as the kernel's ``-EINVAL``, with no effect on the slot).
- ``lru_hash``: exact LRU; a lookup hit or an update makes the key most recently used; an
  insert into a full map first evicts the least recently used key.
- ``percpu_array`` behaves as ``array`` (one CPU; the kernel engine sums the CPUs).
- ``rand`` returns the xorshift32 state after advancing it (first value from seed 1: 270369).
- ``devmap`` (a multicast group): slots ``0..capacity-1``, each absent or holding an
  ifindex (the kernel's ``BPF_MAP_TYPE_DEVMAP``); filled from outside the program
  (:meth:`Interpreter.set_group`). ``mcast`` returns the verdict ``multicast`` with one output
  frame per port, in slot order (the order of the kernel's broadcast loop over a devmap,
  ``dev_map_enqueue_multi``), without the ``ingress_ifindex`` given to :meth:`Interpreter.run`
  when the op says ``exclude_ingress``.
- ``shim.push`` prepends the shim to the frame (the output frame grows); a program whose
  entry is ``shim.pop`` parses the frame only after the shim is removed.

Speed: the program is compiled once into per-block tuples of closures over a register list
(one lookup in :data:`INTERP_IMPLS` per op at compile time, none at run time). Each opcode's
implementation is one function registered with ``@interp_impl(opcode)``.
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cora.compiler.ir import (
    BINARY_OPS,
    COMPARE_OPS,
    OPS,
    SHIM_DONE,
    SHIM_ID_BYTES,
    IntType,
    IRError,
    Op,
    Program,
    StateDecl,
    c_bytes,
    check_group_ports,
)
from cora.compiler.ir import semantics as sem
from cora.compiler.ir.headers import HEADERS, Field, load_field, parse_frame, store_field
from cora.compiler.ir.ops import PAYLOAD_CSUM_HEADERS, ImplTable, header_field
from cora.compiler.ir.verify import verify

#: opcode -> ``compile(interpreter, op) -> closure``: one implementation per opcode of
#: :data:`cora.compiler.ir.OPS` (``tests/compiler/test_op_registry.py`` checks the sets agree).
#: A closure of a non-terminator runs ``f(R, ctx)``; a terminator's returns the next block or
#: a ``(verdict, port)`` tuple.
INTERP_IMPLS: ImplTable[Callable[..., Callable]] = ImplTable("interpreter")
#: decorator registering an interpreter implementation: ``@interp_impl("map.delete")``.
interp_impl = INTERP_IMPLS.register


@dataclass
class FrameResult:
    """What one frame did.

    Attributes:
        verdict: ``"pass" | "drop" | "tx" | "redirect" | "multicast"``.
        port: the redirect ifindex (u32) for ``redirect``, else None.
        frame: the frame bytes after header writes (same length as the input).
        touched: ``(state name, key ints)`` of every entry read, written, deleted or evicted
            in this frame. Lookups record the key looked up (hit or miss), except ``lpm``
            lookups, which record the matched ``(address, prefix_len)`` key if any; arrays
            record ``(index,)``.
    """

    verdict: str
    port: int | None
    frame: bytes
    touched: set[tuple[str, tuple[int, ...]]] = field(default_factory=set)
    #: ``multicast``: the ifindex of every copy sent, in the order sent (else empty)
    ports: tuple[int, ...] = ()

    @property
    def outputs(self) -> list[tuple[int, bytes]]:
        """``(ifindex, frame bytes)`` of every copy a ``multicast`` sends (the same bytes on
        every port), or ``[(port, frame)]`` for ``redirect``; [] for any other verdict."""
        if self.verdict == "multicast":
            return [(p, self.frame) for p in self.ports]
        if self.verdict == "redirect" and self.port is not None:
            return [(self.port, self.frame)]
        return []


# ------------------------------------------------------------------------------------ state

class _State:
    """Base of the state models. ``lookup`` returns a reference: the value list or None."""

    def __init__(self, decl: StateDecl):
        self.decl = decl
        self.name = decl.name
        self.capacity = decl.capacity
        self.nvalues = len(decl.value)

    def lookup(self, key: tuple[int, ...], touched: set[tuple[str, tuple[int, ...]]]
               ) -> list[int] | None:
        """The entry's value list (a reference) or None; records touched keys."""
        raise NotImplementedError

    def update(self, key: tuple[int, ...], values: list[int],
               touched: set[tuple[str, tuple[int, ...]]]) -> int:
        """Insert or replace; 1 when stored, 0 when refused."""
        raise NotImplementedError

    def delete(self, key: tuple[int, ...], touched: set[tuple[str, tuple[int, ...]]]) -> None:
        """Remove the key (if present)."""
        raise NotImplementedError

    def get(self, key: tuple[int, ...]) -> tuple[int, ...] | None:
        """The value under the exact key, without side effects."""
        raise NotImplementedError

    def entries(self) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        """Every entry, sorted by key."""
        raise NotImplementedError

    def load_init(self) -> None:
        for k, v in self.decl.init:
            if not self.update(tuple(k), list(v), set()):
                raise IRError(f"state {self.name}: initial entry {k} does not fit "
                              f"(capacity {self.capacity})")


class _HashState(_State):
    """``hash``: a dict key tuple -> value list, at most ``capacity`` keys."""

    def __init__(self, decl: StateDecl):
        super().__init__(decl)
        self.d: dict[tuple, list[int]] = {}

    def lookup(self, key, touched):
        touched.add((self.name, key))
        return self.d.get(key)

    def update(self, key, values, touched):
        touched.add((self.name, key))
        d = self.d
        if key not in d and len(d) >= self.capacity:
            return 0
        d[key] = values
        return 1

    def delete(self, key, touched):
        touched.add((self.name, key))
        self.d.pop(key, None)

    def get(self, key):
        v = self.d.get(tuple(key))
        return None if v is None else tuple(v)

    def entries(self):
        return sorted((k, tuple(v)) for k, v in self.d.items())


class _LruState(_HashState):
    """``lru_hash``: exact LRU order in an OrderedDict (last = most recently used)."""

    def __init__(self, decl: StateDecl):
        _State.__init__(self, decl)
        self.d: OrderedDict[tuple, list[int]] = OrderedDict()

    def lookup(self, key, touched):
        touched.add((self.name, key))
        v = self.d.get(key)
        if v is not None:
            self.d.move_to_end(key)
        return v

    def update(self, key, values, touched):
        touched.add((self.name, key))
        d = self.d
        if key in d:
            d[key] = values
            d.move_to_end(key)
            return 1
        if len(d) >= self.capacity:
            evicted, _ = d.popitem(last=False)
            touched.add((self.name, evicted))
        d[key] = values
        return 1


class _LpmState(_State):
    """``lpm``: entries keyed ``(masked address, prefix_len)``; longest-prefix-match lookup."""

    def __init__(self, decl: StateDecl):
        super().__init__(decl)
        self.width = decl.key[0].width
        self.d: dict[tuple[int, int], list[int]] = {}
        self.plen_count: dict[int, int] = {}
        self.plens_desc: list[int] = []
        w = self.width
        self.masks = [((1 << p) - 1) << (w - p) for p in range(w + 1)]

    def _index(self) -> None:
        self.plens_desc = sorted((p for p, n in self.plen_count.items() if n), reverse=True)

    def lookup(self, key, touched):
        addr = key[0]
        d, masks = self.d, self.masks
        for p in self.plens_desc:
            k = (addr & masks[p], p)
            v = d.get(k)
            if v is not None:
                touched.add((self.name, k))
                return v
        return None

    def update(self, key, values, touched):
        addr, plen = key
        if plen > self.width:
            return 0
        k = (addr & self.masks[plen], plen)
        touched.add((self.name, k))
        d = self.d
        if k not in d:
            if len(d) >= self.capacity:
                return 0
            self.plen_count[plen] = self.plen_count.get(plen, 0) + 1
            self._index()
        d[k] = values
        return 1

    def delete(self, key, touched):
        k = (key[0], self.width)
        touched.add((self.name, k))
        if self.d.pop(k, None) is not None:
            self.plen_count[self.width] -= 1
            self._index()

    def get(self, key):
        addr, plen = key
        if not 0 <= plen <= self.width:
            return None
        v = self.d.get((addr & self.masks[plen], plen))
        return None if v is None else tuple(v)

    def entries(self):
        return sorted((k, tuple(v)) for k, v in self.d.items())


class _ArrayState(_State):
    """``array`` / ``percpu_array``: slots materialised lazily as zero lists."""

    def __init__(self, decl: StateDecl):
        super().__init__(decl)
        self.d: dict[int, list[int]] = {}
        self.zero = [0] * self.nvalues

    def lookup(self, key, touched):
        i = key[0]
        touched.add((self.name, key))
        if i >= self.capacity:
            return None
        v = self.d.get(i)
        if v is None:
            v = self.d[i] = list(self.zero)
        return v

    def update(self, key, values, touched):
        i = key[0]
        touched.add((self.name, key))
        if i >= self.capacity:
            return 0
        v = self.d.get(i)
        if v is None:
            self.d[i] = values
        else:
            v[:] = values
        return 1

    def delete(self, key, touched):
        touched.add((self.name, key))

    def get(self, key):
        i = key[0]
        if not 0 <= i < self.capacity:
            return None
        v = self.d.get(i)
        return tuple(self.zero) if v is None else tuple(v)

    def entries(self):
        return sorted(((i,), tuple(v)) for i, v in self.d.items() if any(v))


class _DevmapState(_HashState):
    """``devmap`` (a multicast group): slot index -> ifindex; a slot out of range or an
    ifindex of 0 is refused (the kernel's ``-E2BIG`` / ``-EINVAL``)."""

    def update(self, key, values, touched):
        if not 0 <= key[0] < self.capacity or not values[0]:
            return 0
        return super().update(key, values, touched)

    def ports(self) -> tuple[int, ...]:
        """The ifindex of every filled slot, in slot order."""
        return tuple(self.d[k][0] for k in sorted(self.d))


_STATE_CLASSES = {"hash": _HashState, "lru_hash": _LruState, "lpm": _LpmState,
                  "array": _ArrayState, "percpu_array": _ArrayState, "devmap": _DevmapState}


# ----------------------------------------------------------------------------- compilation

class _Ctx:
    """Per-frame context: the mutable frame, header offsets, time and touched keys."""

    __slots__ = ("buf", "off", "now", "touched", "ingress")
    buf: bytearray
    off: dict[str, int]
    now: int
    ingress: int
    touched: set[tuple[str, tuple[int, ...]]]


class _Block:
    __slots__ = ("ops", "term")
    ops: tuple[Callable[..., None], ...]
    term: Callable[..., Any]


_CMP = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le,
        "gt": operator.gt, "ge": operator.ge}
_SIGNED_CMP = {"slt": operator.lt, "sle": operator.le, "sgt": operator.gt, "sge": operator.ge}


class Interpreter:
    """Runs one IR program over a sequence of frames, keeping state across frames.

    Args:
        program: a verified-or-verifiable IR program (verified here; IRError if broken).
        rand_seed: the xorshift32 seed for ``rand`` (non-zero modulo 2**32; ValueError if 0).
    Raises:
        IRError: the program breaks an IR rule, or an initial entry does not fit its state.
        ValueError: ``rand_seed`` is 0 modulo 2**32.
    """

    def __init__(self, program: Program, rand_seed: int = 1):
        verify(program)
        if rand_seed & sem.M32 == 0:
            raise ValueError("rand_seed must be non-zero modulo 2**32 (xorshift32 stays at 0)")
        self.program = program
        self._rng = [rand_seed & sem.M32]
        self.states: dict[str, _State] = {}
        for decl in program.states:
            st = _STATE_CLASSES[decl.kind](decl)
            st.load_init()
            self.states[decl.name] = st
        self._reg_index = {name: i for i, name in enumerate(program.regs)}
        self._nregs = len(self._reg_index)
        self._compile()

    # -- public API --------------------------------------------------------------------

    def run(self, frame: bytes, now_ns: int = 0, ingress_ifindex: int = 0) -> FrameResult:
        """Run the program on one frame.

        Args:
            frame: the whole Ethernet frame (any length, any content; never raises for it).
            now_ns: what ``now()`` returns for this frame, ns.
            ingress_ifindex: the interface the frame arrived on (0: none), which a
                multicast with ``exclude_ingress`` leaves out.
        Returns:
            a :class:`FrameResult`.
        """
        c = _Ctx()
        c.buf = buf = bytearray(frame)
        c.off = {} if self._resumes else parse_frame(buf).offsets
        c.now = now_ns & sem.M64
        c.ingress = ingress_ifindex
        touched: set[tuple[str, tuple[int, ...]]] = set()
        c.touched = touched
        R = [0] * self._nregs
        blk = self._entry
        while True:
            for f in blk.ops:
                f(R, c)
            nxt = blk.term(R, c)
            if nxt.__class__ is tuple:
                if len(nxt) == 3:  # mcast: (verdict, None, ports)
                    return FrameResult(nxt[0], None, bytes(c.buf), touched, nxt[2])
                return FrameResult(nxt[0], nxt[1], bytes(c.buf), touched)
            blk = nxt

    def state_entries(self, name: str) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        """Entries of state ``name`` sorted by key: hash/lru every entry; lpm key
        ``(address, prefix_len)``; arrays only non-zero slots, key ``(index,)``.
        Raises KeyError for an unknown state."""
        return self.states[name].entries()

    def lookup(self, name: str, key: tuple[int, ...]) -> tuple[int, ...] | None:
        """The value stored under the exact ``key`` (lpm: ``(address, prefix_len)``; arrays:
        ``(index,)``, all zeros for an unwritten slot in range), or None. Does not change
        LRU order. Raises KeyError for an unknown state."""
        return self.states[name].get(tuple(key))

    def set_group(self, name: str, ifindexes: list[int] | tuple[int, ...]) -> None:
        """Fill multicast group ``name`` (a ``devmap`` state) with ``ifindexes``: slot ``i``
        holds ``ifindexes[i]``, the other slots are emptied (what the control plane does,
        :func:`cora.runtime.groups.set_group`).

        Raises:
            KeyError: no state ``name``. ValueError: not a group, more ports than its
                capacity, a port that is not a positive u32, or a port listed twice.
        """
        st = self.states[name]
        if not isinstance(st, _DevmapState):
            raise ValueError(f"state {name} is not a multicast group")
        check_group_ports(name, ifindexes, st.capacity)
        st.d.clear()
        for i, port in enumerate(ifindexes):
            st.update((i,), [port], set())

    def dump_state(self) -> dict:
        """``{"maps": {NAME: [{"key": [ints], "value": [ints]}, ...]}}`` for every state,
        entries as :meth:`state_entries` (the ``cora run --state-out`` format)."""
        return {"maps": {name: [{"key": list(k), "value": list(v)}
                                for k, v in st.entries()]
                         for name, st in self.states.items()}}

    # -- compilation --------------------------------------------------------------------

    def _r(self, name: str | None) -> int:
        assert name is not None            # the verifier checked the op's destination
        return self._reg_index[name]

    def _width(self, name: str | None) -> int:
        assert name is not None
        t = self.program.regs[name]
        return t.width if isinstance(t, IntType) else 0

    def _compile(self) -> None:
        blocks = {b.label: _Block() for b in self.program.blocks}
        self._blocks = blocks
        impl = INTERP_IMPLS.__getitem__
        for b in self.program.blocks:
            cb = blocks[b.label]
            cb.ops = tuple(impl(op.opcode)(self, op) for op in b.ops[:-1])
            cb.term = impl(b.ops[-1].opcode)(self, b.ops[-1])
        self._entry = blocks[self.program.blocks[0].label]
        self._resumes = OPS[self.program.blocks[0].ops[-1].opcode].position == "entry-only"

    @interp_impl("const")
    def _c_const(self, op: Op) -> Callable:
        d, v = self._r(op.dest), op.attrs["value"]

        def f(R, c):
            R[d] = v
        return f

    @interp_impl("mov", "zext")
    def _c_mov(self, op: Op) -> Callable:
        d, a = self._r(op.dest), self._r(op.args[0])

        def f(R, c):
            R[d] = R[a]
        return f

    @interp_impl("sext")
    def _c_sext(self, op: Op) -> Callable:
        d, a = self._r(op.dest), self._r(op.args[0])
        fw, w = self._width(op.args[0]), self._width(op.dest)
        fn = sem.sext

        def f(R, c):
            R[d] = fn(R[a], fw, w)
        return f

    @interp_impl("trunc")
    def _c_trunc(self, op: Op) -> Callable:
        d, a, m = self._r(op.dest), self._r(op.args[0]), sem.mask(self._width(op.dest))

        def f(R, c):
            R[d] = R[a] & m
        return f

    @interp_impl(*BINARY_OPS)
    def _c_binary(self, op: Op) -> Callable:
        d, a, b = self._r(op.dest), self._r(op.args[0]), self._r(op.args[1])
        w = self._width(op.dest)
        if op.opcode in ("and", "or", "xor"):
            fn2 = {"and": operator.and_, "or": operator.or_, "xor": operator.xor}[op.opcode]

            def f(R, c):
                R[d] = fn2(R[a], R[b])
            return f
        fn = OPS[op.opcode].fold           # the semantics.* function of the op
        assert fn is not None

        def g(R, c):
            R[d] = fn(R[a], R[b], w)
        return g

    @interp_impl("not")
    def _c_not(self, op: Op) -> Callable:
        d, a, w = self._r(op.dest), self._r(op.args[0]), self._width(op.dest)
        fn = sem.bit_not

        def f(R, c):
            R[d] = fn(R[a], w)
        return f

    @interp_impl(*COMPARE_OPS)
    def _c_compare(self, op: Op) -> Callable:
        d, a, b = self._r(op.dest), self._r(op.args[0]), self._r(op.args[1])
        if op.opcode in _SIGNED_CMP:
            sfn, w, signed = _SIGNED_CMP[op.opcode], self._width(op.args[0]), sem.to_signed

            def s(R, c):
                R[d] = 1 if sfn(signed(R[a], w), signed(R[b], w)) else 0
            return s
        fn = _CMP[op.opcode]

        def f(R, c):
            R[d] = 1 if fn(R[a], R[b]) else 0
        return f

    @interp_impl("select")
    def _c_select(self, op: Op) -> Callable:
        d = self._r(op.dest)
        cond, a, b = (self._r(x) for x in op.args)

        def f(R, c):
            R[d] = R[a] if R[cond] else R[b]
        return f

    @interp_impl("hdr.valid")
    def _c_hdr_valid(self, op: Op) -> Callable:
        d, h = self._r(op.dest), op.attrs["header"]

        def f(R, c):
            R[d] = 1 if h in c.off else 0
        return f

    @interp_impl("hdr.load")
    def _c_hdr_load(self, op: Op) -> Callable:
        d, h = self._r(op.dest), op.attrs["header"]
        fld = header_field(h, op.attrs["field"])

        def f(R, c):
            off = c.off.get(h)
            R[d] = 0 if off is None else load_field(c.buf, off, fld)
        return f

    @interp_impl("hdr.store")
    def _c_hdr_store(self, op: Op) -> Callable:
        h = op.attrs["header"]
        hdr = HEADERS[h]
        fld = header_field(h, op.attrs["field"])
        v = self._r(op.args[0])
        ws = fld.byte_offset & ~1                                  # aligned word range
        we = (fld.byte_offset + fld.byte_span + 1) & ~1            # relative to header start
        fixes: list[tuple[str | None, int, bool]] = []             # (header, csum offset, udp)
        if hdr.csum_field is not None:
            fixes.append((None, header_field(h, hdr.csum_field).byte_offset, h == "udp"))
        if fld.name in hdr.pseudo_header_fields:
            for l4 in ("tcp", "udp"):
                fixes.append((l4, header_field(l4, "csum").byte_offset, l4 == "udp"))
        fixes_t = tuple(fixes)
        words16, replace = sem.words16, sem.csum_replace

        def f(R, c):
            off = c.off.get(h)
            if off is None:
                return
            buf = c.buf
            a, b = off + ws, off + we
            old = words16(buf[a:b])
            store_field(buf, off, fld, R[v])
            if not fixes_t:
                return
            new = words16(buf[a:b])
            for fh, coff, udp in fixes_t:
                base = off if fh is None else c.off.get(fh)
                if base is None:
                    continue
                p = base + coff
                hc = (buf[p] << 8) | buf[p + 1]
                if udp and hc == 0:
                    continue
                hc = replace(hc, old, new)
                if udp and hc == 0:
                    hc = 0xFFFF
                buf[p] = hc >> 8
                buf[p + 1] = hc & 0xFF
        return f

    @interp_impl("hdr.has")
    def _c_hdr_has(self, op: Op) -> Callable:
        d, h, n = self._r(op.dest), op.attrs["header"], op.attrs["bytes"]

        def f(R, c):
            off = c.off.get(h)
            R[d] = 1 if off is not None and off + n <= len(c.buf) else 0
        return f

    @interp_impl("hdr.load_at")
    def _c_hdr_load_at(self, op: Op) -> Callable:
        d, h = self._r(op.dest), op.attrs["header"]
        fld = Field("", op.attrs["bit"], op.attrs["bits"], "")
        end = fld.byte_offset + fld.byte_span

        def f(R, c):
            off = c.off.get(h)
            R[d] = 0 if off is None or off + end > len(c.buf) else load_field(c.buf, off, fld)
        return f

    @interp_impl("hdr.store_at")
    def _c_hdr_store_at(self, op: Op) -> Callable:
        h, v = op.attrs["header"], self._r(op.args[0])
        fld = Field("", op.attrs["bit"], op.attrs["bits"], "")
        ws = fld.byte_offset & ~1                                  # covered 16-bit words,
        we = (fld.byte_offset + fld.byte_span + 1) & ~1            # from the header's start
        csum = header_field(h, "csum").byte_offset if h in PAYLOAD_CSUM_HEADERS else None
        udp = h == "udp"
        words16, replace = sem.words16, sem.csum_replace

        def f(R, c):
            off = c.off.get(h)
            if off is None or off + we > len(c.buf):
                return
            buf = c.buf
            old = words16(buf[off + ws:off + we])
            store_field(buf, off, fld, R[v])
            if csum is None:
                return
            p = off + csum
            hc = (buf[p] << 8) | buf[p + 1]
            if udp and hc == 0:
                return
            hc = replace(hc, old, words16(buf[off + ws:off + we]))
            if udp and hc == 0:
                hc = 0xFFFF
            buf[p] = hc >> 8
            buf[p + 1] = hc & 0xFF
        return f

    @interp_impl("pkt.len")
    def _c_pkt_len(self, op: Op) -> Callable:
        d = self._r(op.dest)

        def f(R, c):
            R[d] = len(c.buf)
        return f

    @interp_impl("now")
    def _c_now(self, op: Op) -> Callable:
        d = self._r(op.dest)

        def f(R, c):
            R[d] = c.now
        return f

    @interp_impl("rand")
    def _c_rand(self, op: Op) -> Callable:
        d, cell, step = self._r(op.dest), self._rng, sem.xorshift32

        def f(R, c):
            cell[0] = x = step(cell[0])
            R[d] = x
        return f

    @interp_impl("hash")
    def _c_hash(self, op: Op) -> Callable:
        d, seed = self._r(op.dest), op.attrs.get("seed", 0)
        iw = tuple((self._r(a), self._width(a)) for a in op.args)
        h32 = sem.hash32

        def f(R, c):
            R[d] = h32(seed, [(R[i], w) for i, w in iw])
        return f

    def _key_getter(self, regs) -> Callable:
        idx = tuple(self._r(a) for a in regs)
        if len(idx) == 1:
            i0 = idx[0]
            return lambda R: (R[i0],)
        return operator.itemgetter(*idx)

    @interp_impl("map.lookup")
    def _c_map_lookup(self, op: Op) -> Callable:
        d, st = self._r(op.dest), self.states[op.attrs["state"]]
        key, lookup = self._key_getter(op.args), st.lookup

        def f(R, c):
            R[d] = lookup(key(R), c.touched)
        return f

    @interp_impl("ref.found")
    def _c_ref_found(self, op: Op) -> Callable:
        d, a = self._r(op.dest), self._r(op.args[0])

        def f(R, c):
            R[d] = 0 if R[a] is None else 1
        return f

    @interp_impl("ref.load")
    def _c_ref_load(self, op: Op) -> Callable:
        d, a, i = self._r(op.dest), self._r(op.args[0]), op.attrs["index"]

        def f(R, c):
            ref = R[a]
            R[d] = 0 if ref is None else ref[i]
        return f

    @interp_impl("ref.store")
    def _c_ref_store(self, op: Op) -> Callable:
        a, v, i = self._r(op.args[0]), self._r(op.args[1]), op.attrs["index"]

        def f(R, c):
            ref = R[a]
            if ref is not None:
                ref[i] = R[v]
        return f

    @interp_impl("ref.lock", "ref.unlock")
    def _c_ref_lock(self, op: Op) -> Callable:
        # One frame runs to completion before the next (sequential semantics), so an atomic
        # block is atomic here by construction: the lock has nothing to exclude.
        def f(R, c):
            return None
        return f

    @interp_impl("atomic_add")
    def _c_atomic_add(self, op: Op) -> Callable:
        a, v, i = self._r(op.args[0]), self._r(op.args[1]), op.attrs["index"]
        m = sem.mask(self.program.state(op.attrs["state"]).value[i].width)

        def f(R, c):
            ref = R[a]
            if ref is not None:
                ref[i] = (ref[i] + R[v]) & m
        return f

    @interp_impl("map.update")
    def _c_map_update(self, op: Op) -> Callable:
        d, st, n = self._r(op.dest), self.states[op.attrs["state"]], op.attrs["nkeys"]
        key, update = self._key_getter(op.args[:n]), st.update
        vals = tuple(self._r(a) for a in op.args[n:])

        def f(R, c):
            R[d] = update(key(R), [R[i] for i in vals], c.touched)
        return f

    @interp_impl("map.delete")
    def _c_map_delete(self, op: Op) -> Callable:
        st = self.states[op.attrs["state"]]
        key, delete = self._key_getter(op.args), st.delete

        def f(R, c):
            delete(key(R), c.touched)
        return f

    @interp_impl("br")
    def _c_br(self, op: Op) -> Callable:
        cond = self._r(op.args[0])
        t, e = (self._blocks[x] for x in op.attrs["targets"])

        def f(R, c):
            return t if R[cond] else e
        return f

    @interp_impl("jmp")
    def _c_jmp(self, op: Op) -> Callable:
        t = self._blocks[op.attrs["targets"][0]]

        def f(R, c):
            return t
        return f

    @interp_impl("ret")
    def _c_ret(self, op: Op) -> Callable:
        verdict = op.attrs["verdict"]
        if verdict == "redirect":
            p = self._r(op.args[0])

            def g(R, c):
                return ("redirect", R[p])
            return g
        out = (verdict, None)

        def f(R, c):
            return out
        return f


@interp_impl("mcast")
def _c_mcast(self: Interpreter, op: Op) -> Callable:
    st = self.states[op.attrs["state"]]
    assert isinstance(st, _DevmapState)  # the verifier checked the state's kind

    def f(R, c):
        return ("multicast", None, st.ports())

    def g(R, c):
        return ("multicast", None, tuple(p for p in st.ports() if p != c.ingress))
    return g if op.attrs["exclude_ingress"] else f


@interp_impl("shim.push")
def _c_shim_push(self: Interpreter, op: Op) -> Callable:
    resume = op.attrs["resume"]
    regs = tuple((self._r(a), c_bytes(self._width(a))) for a in op.args)

    def f(R, c):
        head = bytearray(resume.to_bytes(SHIM_ID_BYTES, "big"))
        for i, n in regs:
            head += R[i].to_bytes(n, "big")
        c.buf[0:0] = head
    return f


@interp_impl("shim.pop")
def _c_shim_pop(self: Interpreter, op: Op) -> Callable:
    final = op.attrs["final"]
    table = {}
    for k, label, rs in zip(op.attrs["resume"], op.attrs["targets"], op.attrs["regs"], strict=True):
        layout, pos = [], SHIM_ID_BYTES
        for a in rs:
            n = c_bytes(self._width(a))
            layout.append((self._r(a), pos, n, sem.mask(self._width(a))))
            pos += n
        table[k] = (self._blocks[label], tuple(layout), pos)
    other = ("drop", None) if final else ("pass", None)

    def f(R, c):
        buf = c.buf
        if len(buf) < SHIM_ID_BYTES:
            return other
        k = (buf[0] << 8) | buf[1]
        hit = table.get(k)
        if hit is None:
            if k == SHIM_DONE and final:
                del buf[:SHIM_ID_BYTES]
                return ("pass", None)
            return other
        blk, layout, total = hit
        if len(buf) < total:
            return ("drop", None)
        for i, pos, n, m in layout:
            R[i] = int.from_bytes(buf[pos:pos + n], "big") & m
        del buf[:total]
        c.off = parse_frame(buf).offsets
        return blk
    return f


class CountingInterpreter(Interpreter):
    """The reference interpreter that also counts, across all frames run, how often each
    block executes and each CFG edge is taken (for traffic profiles and cost models).

    Attributes:
        block_count: Counter label -> executions.
        edge_count: Counter (from label, to label) -> times taken.

    Every executed block runs its terminator exactly once, so counting happens there;
    verdicts, frames and state are those of :class:`Interpreter`.
    """

    def _compile(self) -> None:
        super()._compile()
        from collections import Counter

        self.block_count: Counter[str] = Counter()
        self.edge_count: Counter[tuple[str, str]] = Counter()
        label_of = {id(cb): label for label, cb in self._blocks.items()}
        for label, cb in self._blocks.items():
            cb.term = self._counted(label, cb.term, label_of)

    def _counted(self, label, term, label_of):
        bc, ec = self.block_count, self.edge_count

        def f(R, c):
            bc[label] += 1
            nxt = term(R, c)
            if nxt.__class__ is not tuple:
                ec[(label, label_of[id(nxt)])] += 1
            return nxt
        return f
