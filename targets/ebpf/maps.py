"""Byte layout of state keys and values in the kernel (C natural alignment).

Shared by the XDP code generator (which declares the C structs) and the runtime (which packs
initial entries and unpacks map contents). Fields lie at the offsets of
:func:`cora.compiler.ir.entry_layout`; padding is zero. Value fields and array indices are in
host byte order (x86-64: little-endian). Key fields of ``hash`` and ``lru_hash`` maps are in
network byte order (big-endian, each field over its C size): the order is not observable in
the NF's semantics (a key is only compared whole), and a key built from header fields is then
the frame's bytes copied as they are, as a hand-written program builds it (no byte swaps;
issue 10). Every reader goes through :func:`unpack_key`, so what ``cora maps`` and the
differential tests print is unchanged. An ``lpm`` key is the kernel's
``struct bpf_lpm_trie_key``: a u32 prefix length in host order followed by the address in
network byte order (kernel Documentation/bpf/map_lpm_trie.rst).
"""

from __future__ import annotations

import sys
from typing import Literal

from cora.compiler.ir import StateDecl, c_bytes, entry_layout
from cora.compiler.ir.ops import has_spin_lock, locked_value_bytes

ByteOrder = Literal["little", "big"]
_ORDER: ByteOrder = sys.byteorder


def lpm_key_bytes(state: StateDecl) -> int:
    """Size of the kernel LPM key: 4 bytes of prefix length + the address bytes."""
    return 4 + state.key[0].width // 8


def key_size(state: StateDecl) -> int:
    """Bytes of one key as the kernel map holds it."""
    return lpm_key_bytes(state) if state.kind == "lpm" else state.key_bytes


def value_size(state: StateDecl) -> int:
    """Bytes of one value as the kernel map holds it (per CPU, for per-CPU maps); with the
    ``struct bpf_spin_lock`` of an ``atomic`` block's state after the fields
    (:func:`cora.compiler.ir.ops.locked_value_bytes`)."""
    if has_spin_lock(state):
        return locked_value_bytes(state)[1]
    return state.value_bytes


#: map kinds whose key fields are stored in network byte order
NETWORK_ORDER_KEYS = frozenset({"hash", "lru_hash"})


def _pack(fields, ints, order: ByteOrder = _ORDER) -> bytes:
    offsets, size = entry_layout(fields)
    out = bytearray(size)
    for f, off, v in zip(fields, offsets, ints, strict=False):  # extra ints ignored
        n = c_bytes(f.width)
        out[off:off + n] = (int(v) & ((1 << f.width) - 1)).to_bytes(n, order)
    return bytes(out)


def _unpack(fields, data: bytes, order: ByteOrder = _ORDER) -> tuple[int, ...]:
    offsets, _ = entry_layout(fields)
    return tuple(int.from_bytes(data[off:off + c_bytes(f.width)], order)
                 & ((1 << f.width) - 1) for f, off in zip(fields, offsets, strict=True))


def _key_order(state: StateDecl) -> ByteOrder:
    return "big" if state.kind in NETWORK_ORDER_KEYS else _ORDER


def pack_key(state: StateDecl, key: tuple[int, ...]) -> bytes:
    """Kernel bytes of a key. For lpm, ``key`` is (address, prefix_len)."""
    if state.kind == "lpm":
        addr, plen = key
        nbytes = state.key[0].width // 8
        return int(plen).to_bytes(4, _ORDER) + int(addr).to_bytes(nbytes, "big")
    return _pack(state.key, key, _key_order(state))


def unpack_key(state: StateDecl, data: bytes) -> tuple[int, ...]:
    """Key ints from kernel bytes. For lpm: (address, prefix_len)."""
    if state.kind == "lpm":
        plen = int.from_bytes(data[:4], _ORDER)
        return (int.from_bytes(data[4:], "big"), plen)
    return _unpack(state.key, data, _key_order(state))


def pack_value(state: StateDecl, value: tuple[int, ...]) -> bytes:
    """Kernel bytes of one value (a spin lock's bytes zero: the kernel ignores them in an
    update from user space, kernel/bpf/syscall.c ``copy_map_value``)."""
    return _pack(state.value, value).ljust(value_size(state), b"\0")


def unpack_value(state: StateDecl, data: bytes) -> tuple[int, ...]:
    """Value ints from the kernel bytes of one value."""
    return _unpack(state.value, data)


def maps_metadata(program) -> dict:
    """Map layout of a program as JSON-ready data: per state its NF name, kernel map name,
    kind, capacity, full policy, key/value fields (name, bits), kernel key/value sizes, and
    the IR declaration line (``state``) that :func:`state_from_metadata` reads back."""
    from cora.compiler.ir.text import print_state
    from cora.targets.ebpf.emit import map_c_name

    return {"nf": program.name, "maps": [
        {"name": s.name, "kernel_name": map_c_name(s), "kind": s.kind, "capacity": s.capacity,
         "on_full": s.on_full, "origin": s.origin,
         "key": [{"name": f.name, "bits": f.width} for f in s.key],
         "value": [{"name": f.name, "bits": f.width} for f in s.value],
         "key_bytes": key_size(s), "value_bytes": value_size(s), "state": print_state(s)}
        for s in program.states]}


def state_from_metadata(entry: dict) -> StateDecl:
    """The :class:`StateDecl` of one ``maps_metadata`` entry."""
    from cora.compiler.ir.text import parse_state

    return parse_state(entry["state"])
