"""Engines that run an NF on frames: the kernel (a target's program via BPF_PROG_TEST_RUN)
and the reference interpreter, behind one small interface, plus the state dump format of
``--state-out``.

Both engines see the same environment: ``now()`` is the frame's pcap timestamp (ns) and
``rand()`` is xorshift32 seeded with 1 (docs/language.md), so differential runs are exact.

State dump (``--state-out``): ``{"maps": {NAME: [{"key": [ints], "value": [ints]}, ...]}}``,
one int per declared key/value field in declaration order. hash/lru_hash: every entry, sorted
by key; lpm: key ``[address, prefix_len]``; arrays: only slots whose value is not all zero, key
``[index]``; per-CPU arrays: summed over CPUs.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

from cora.compiler.ir import Program, StateDecl
from cora.errors import InternalError
from cora.targets.base import Target
from cora.targets.ebpf.hook import VERDICT_COUNTER_INDEX

# The tc test-run frame rules are the tc target's (cora.targets.tc.hook); re-exported here
# for callers that filter frames for a tc kernel engine.
from cora.targets.tc.hook import MAX_TC_TEST_FRAME_BYTES, tc_test_run_accepts

__all__ = ["MAX_TC_TEST_FRAME_BYTES", "FrameOutcome", "InterpEngine", "KernelEngine",
           "dump_from_entries", "map_entries", "sum_entries", "sum_percpu",
           "tc_test_run_accepts"]


@dataclass
class FrameOutcome:
    """What one engine did with one frame.

    Attributes:
        verdict: pass | drop | tx | redirect | multicast | aborted.
        frame: the frame bytes after the program (header rewrites applied).
        duration_ns: kernel run time (kernel engine) or interpreter wall time, ns.
        touched: (state, key) pairs the frame read or wrote (interpreter only; else empty).
    """

    verdict: str
    frame: bytes
    duration_ns: int = 0
    touched: frozenset = frozenset()


def sum_entries(copies: list[list[tuple[tuple[int, ...], tuple[int, ...]]]]
                ) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Entries of one merged counter held as several copies (one per stage of a split NF,
    ``StageProgram.counter_copies``): per key, the copies' values summed field by field, as a
    ``percpu_array``'s value is the sum over CPUs. ``copies``: one ``[(key, value), ...]``
    list per copy (dump form); returns the sums, sorted by key."""
    total: dict[tuple[int, ...], list[int]] = {}
    for rows in copies:
        for key, value in rows:
            acc = total.setdefault(tuple(key), [0] * len(value))
            for j, v in enumerate(value):
                acc[j] += v
    return sorted((k, tuple(v)) for k, v in total.items())


def dump_from_entries(states: list[StateDecl], entries: dict[str, list]) -> dict:
    """Build the ``--state-out`` object from ``{state: [(key ints, value ints), ...]}``."""
    out = {}
    for state in states:
        rows = sorted(entries.get(state.name, []))
        out[state.name] = [{"key": list(k), "value": list(v)} for k, v in rows]
    return {"maps": out}


class KernelEngine:
    """The NF compiled for a target and loaded into the kernel; frames go through
    BPF_PROG_TEST_RUN.

    Built with ``now()``/``rand()`` injected and the target's defaults (xdp: multi-buffer
    aware, so frames longer than the 3,520-byte linear area run whole). The target decodes
    each return code to a verdict (:meth:`cora.targets.base.Target.decode_verdict`; a
    target whose codes are ambiguous, such as tc's ``TC_ACT_REDIRECT`` for ``tx`` and
    ``redirect``, is built with verdict counters, which tell them apart), and says which
    frames its test run accepts (:attr:`accepts_frame`; tc: at most 3,712 bytes, and an
    IPv4/IPv6 EtherType needs room for its header). Use as a context manager; ``close()``
    unloads everything.

    Args:
        program: verified IR.
        target: the target (default: xdp), or its name.
        live_profile: 0, or N: build with per-block counters of 1 in N packets
            (:mod:`cora.targets.ebpf.liveprof`; read with :mod:`cora.runtime.live_profile`).
    Raises (constructor): EnvironmentProblem (no root/bcc), KernelError (load failure),
    CoraError (unknown target name; a program the target refuses).
    """

    name = "kernel"

    def __init__(self, program: Program, target: Target | str | None = None,
                 live_profile: int = 0):
        from cora.runtime.loader import load_program
        from cora.targets import get_target

        self.program = program
        self.target: Target = get_target(target or "xdp") if not isinstance(target, Target) \
            else target
        self.accepts_frame = self.target.test_run_accepts
        # a multicast and a redirect both return XDP_REDIRECT: the counters tell them apart
        self.multicasts = any(op.opcode == "mcast" for _, op in program.ops())
        counted = self.target.verdicts_need_counters or self.multicasts
        artifact = self.target.generate(program, inject_env=True, count_verdicts=counted,
                                        **({"live_profile": live_profile} if live_profile
                                           else {}))
        self.uses_env = any(op.opcode in ("now", "rand") for _, op in program.ops())
        self.loaded = load_program(artifact, self.target)
        try:
            self._env_fd = self.loaded.map_fd("cora_env") if self.uses_env else None
            self._verdicts_fd = self.loaded.map_fd("cora_verdicts") if counted else None
            self._counts: dict[str, int] = {}
            self.groups: dict[str, tuple[int, ...]] = {}  # set_group's ports, kept by reset
            self._ran = False  # maps are as the kernel created them: empty, arrays zero
            self.reset()
        except BaseException:
            self.loaded.close()
            raise

    def _set_env(self, slot: int, value: int) -> None:
        from cora.runtime import bpf_syscall

        if self._env_fd is None:
            raise InternalError("the program has no cora_env map (it was built without env)")
        bpf_syscall.map_update(self._env_fd, slot.to_bytes(4, "little"),
                               value.to_bytes(8, "little"))

    def reset(self) -> None:
        """Empty every map, reload declared initial entries, reseed rand() with 1. Maps no
        frame has run on since they were created or last reset are left as they are (so a
        fresh engine costs nothing per declared slot)."""
        from cora.runtime import bpf_syscall
        from cora.runtime.groups import fill_group
        from cora.runtime.loader import load_initial_entries
        from cora.targets.ebpf.maps import key_size, value_size

        for state in self.program.states:
            fd = self.loaded.map_fds[state.name]
            if not self._ran:  # as created, or as the last reset left it
                pass
            elif state.kind in ("array", "percpu_array"):
                _zero_array(fd, state.capacity, value_size(state), state.kind == "percpu_array")
            else:
                for k, _ in bpf_syscall.map_items(fd, key_size(state), value_size(state)):
                    bpf_syscall.map_delete(fd, k)
            load_initial_entries(fd, state)
            if state.name in self.groups:
                fill_group(fd, state, self.groups[state.name])
        self._ran = False
        if self.uses_env:
            self._set_env(0, 0)
            self._set_env(1, 1)
        if self._verdicts_fd is not None:
            _zero_array(self._verdicts_fd, len(VERDICT_COUNTER_INDEX), 8, True)
            self._counts = {}

    def _counted(self, verdict: str) -> bool:
        """Whether the program's ``verdict`` counter (summed over CPUs) rose since the last
        call for that verdict (or the last reset)."""
        from cora.runtime import bpf_syscall

        index = VERDICT_COUNTER_INDEX[verdict]
        if self._verdicts_fd is None:
            raise InternalError("the program was built without verdict counters")
        raw = bpf_syscall.map_lookup(self._verdicts_fd, index.to_bytes(4, "little"), 8, True)
        if not isinstance(raw, list):
            raise InternalError("the verdict counters are not a per-CPU array")
        n = sum(int.from_bytes(v[:8], "little") for v in raw)
        was, self._counts[verdict] = self._counts.get(verdict, 0), n
        return n > was

    def _tx_counted(self) -> bool:
        """Whether the program's ``tx`` verdict counter rose (see :meth:`_counted`)."""
        return self._counted("tx")

    def set_group(self, name: str, ifindexes: list[int] | tuple[int, ...]) -> None:
        """Fill multicast group ``name`` with ``ifindexes`` (slot i holds the i-th; the other
        slots are emptied), as :meth:`cora.compiler.interp.Interpreter.set_group` does. The
        ports are configuration, like declared initial entries: ``reset`` fills them again.

        Raises:
            KeyError: no state ``name``. ValueError: see ``check_group_ports``.
            KernelError: the kernel refused a port (no such interface).
        """
        from cora.runtime.groups import fill_group

        fill_group(self.loaded.map_fds[name], self.program.state(name), ifindexes)
        self.groups[name] = tuple(ifindexes)

    def run(self, frame: bytes, now_ns: int = 0) -> FrameOutcome:
        """Run one frame (>= 14 bytes) with ``now()`` = ``now_ns``."""
        from cora.runtime.bpf_syscall import prog_test_run

        self._ran = True
        if self.uses_env:
            self._set_env(0, now_ns)
        res = prog_test_run(self.loaded.prog_fd, frame, repeat=1)
        verdict = self.target.decode_verdict(res.retval, self._tx_counted)
        if verdict == "redirect" and self.multicasts and self._counted("multicast"):
            verdict = "multicast"
        return FrameOutcome(verdict, res.data_out, res.duration_ns)

    def lookup(self, name: str, key: tuple[int, ...]) -> tuple[int, ...] | None:
        """Exact-key lookup (lpm: (address, prefix_len), by scanning the trie's entries since a
        kernel lookup is a longest-prefix match; arrays: (index,), None when all zero)."""
        from cora.runtime import bpf_syscall
        from cora.targets.ebpf.maps import pack_key, unpack_value, value_size

        state = self.program.state(name)
        fd = self.loaded.map_fds[name]
        percpu = state.kind == "percpu_array"
        if state.kind in ("array", "percpu_array") and key[0] >= state.capacity:
            return None
        if state.kind == "lpm":  # a kernel lookup is a longest-prefix match: find the exact key
            return dict(self.entries(name)).get(tuple(key))
        raw = bpf_syscall.map_lookup(fd, pack_key(state, key), value_size(state), percpu)
        if raw is None:
            return None
        if percpu:
            assert isinstance(raw, list), "a per-CPU lookup gives one value per CPU"
            value = sum_percpu(state, raw)
        else:
            assert isinstance(raw, bytes), "a lookup gives one value"
            value = unpack_value(state, raw)
        if state.kind in ("array", "percpu_array") and not any(value):
            return None
        return value

    def entries(self, name: str) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        """Every entry of a state in dump form (see the module docstring), sorted."""
        return map_entries(self.loaded.map_fds[name], self.program.state(name))

    def write(self, name: str, key: tuple[int, ...], value: tuple[int, ...]) -> None:
        """Insert or replace one entry of a hash or array state (as the control plane does,
        e.g. the host-fed clock of a NIC stage). Raises KeyError for an unknown state,
        KernelError if the kernel refuses (a full map, an index out of range)."""
        from cora.runtime import bpf_syscall
        from cora.targets.ebpf.maps import pack_key, pack_value

        state = self.program.state(name)
        bpf_syscall.map_update(self.loaded.map_fds[name], pack_key(state, key),
                               pack_value(state, value))

    def dump_state(self) -> dict:
        """The ``--state-out`` object."""
        return dump_from_entries(self.program.states, {s.name: self.entries(s.name)
                                                for s in self.program.states})

    def close(self) -> None:
        """Unload the program and its maps."""
        self.loaded.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _BatchAttr(ctypes.Structure):
    """``union bpf_attr`` member of the BPF_MAP_*_BATCH commands (include/uapi/linux/bpf.h)."""

    _fields_ = [("in_batch", ctypes.c_uint64), ("out_batch", ctypes.c_uint64),
                ("keys", ctypes.c_uint64), ("values", ctypes.c_uint64),
                ("count", ctypes.c_uint32), ("map_fd", ctypes.c_uint32),
                ("elem_flags", ctypes.c_uint64), ("flags", ctypes.c_uint64)]


BPF_MAP_LOOKUP_BATCH = 24
BPF_MAP_UPDATE_BATCH = 26


#: ``BPF_F_MMAPABLE`` (include/uapi/linux/bpf.h): the emitter creates plain arrays with it.
BPF_F_MMAPABLE = 1 << 10


def _mapped_array(fd: int, slots: int, value_bytes: int, writable: bool = False):
    """``(mmap, numpy view of shape (slots, stride))`` of an mmap-able array map (values are
    8-byte aligned, the first at offset 0: kernel/bpf/arraymap.c ``array_map_mmap``), or
    None for a map created without ``BPF_F_MMAPABLE``. Delete the view before closing the
    mmap."""
    import mmap

    import numpy as np

    from cora.runtime import bpf_syscall

    if not bpf_syscall.map_info(fd).map_flags & BPF_F_MMAPABLE:
        return None
    stride = (value_bytes + 7) // 8 * 8
    length = -(-slots * stride // mmap.PAGESIZE) * mmap.PAGESIZE
    prot = mmap.PROT_READ | (mmap.PROT_WRITE if writable else 0)
    mm = mmap.mmap(fd, length, mmap.MAP_SHARED, prot)
    view = np.frombuffer(mm, dtype=np.uint8, count=slots * stride).reshape(slots, stride)
    return mm, view


def _zero_array(fd: int, slots: int, value_bytes: int, percpu: bool) -> None:
    """Set every slot of an array map to zero: as memory when it is mmap-able, else with one
    BPF_MAP_UPDATE_BATCH call (key and value buffers built with numpy, not a Python loop)."""
    import numpy as np

    from cora.runtime import bpf_syscall

    mapped = None if percpu else _mapped_array(fd, slots, value_bytes, writable=True)
    if mapped is not None:
        mm, view = mapped
        view[:] = 0
        del view, mapped
        mm.close()
        return
    stride = (value_bytes + 7) // 8 * 8 * bpf_syscall.possible_cpus() if percpu else value_bytes
    keys = np.arange(slots, dtype=np.uint32)
    values = np.zeros(stride * slots, dtype=np.uint8)
    attr = _BatchAttr(keys=keys.ctypes.data, values=values.ctypes.data, count=slots, map_fd=fd)
    bpf_syscall.bpf_call(BPF_MAP_UPDATE_BATCH, attr, f"zeroing array map fd {fd}")


def _read_array(fd: int, slots: int, value_bytes: int,
                percpu: bool) -> list[tuple[int, bytes | list[bytes]]]:
    """The slots of an array map that are not all zero bytes, as (index, value: bytes, or
    per-CPU a list of bytes): read as memory when the map is mmap-able (the emitter's plain
    arrays), else with BPF_MAP_LOOKUP_BATCH (the kernel copies slot by slot: about 1 us per
    slot); the zero slots are found with numpy, so only the slots in use are decoded."""
    import errno as _errno

    import numpy as np

    from cora.errors import KernelError
    from cora.runtime import bpf_syscall

    mapped = None if percpu else _mapped_array(fd, slots, value_bytes)
    if mapped is not None:
        mm, view = mapped
        rows = [(int(i), view[i, :value_bytes].tobytes())
                for i in np.flatnonzero(view[:, :value_bytes].any(axis=1))]
        del view, mapped
        mm.close()
        return rows
    ncpu = bpf_syscall.possible_cpus() if percpu else 1
    stride = (value_bytes + 7) // 8 * 8 * ncpu if percpu else value_bytes
    keys = np.zeros(slots, dtype=np.uint32)
    values = np.zeros((slots, stride), dtype=np.uint8)
    out_batch = ctypes.c_uint32(0)
    got = 0
    in_ptr = 0
    while got < slots:
        attr = _BatchAttr(in_batch=in_ptr, out_batch=ctypes.addressof(out_batch),
                          keys=keys.ctypes.data + 4 * got,
                          values=values.ctypes.data + stride * got,
                          count=slots - got, map_fd=fd)
        try:
            bpf_syscall.bpf_call(BPF_MAP_LOOKUP_BATCH, attr, f"reading array map fd {fd}")
        except KernelError as exc:
            if getattr(exc, "errno", None) != _errno.ENOENT:
                raise
            got += attr.count
            break
        got += attr.count
        in_ptr = ctypes.addressof(out_batch)
    used = np.flatnonzero(values[:got].any(axis=1)) if stride else np.zeros(0, np.int64)
    out: list[tuple[int, bytes | list[bytes]]] = []
    for i in used:
        chunk = values[i].tobytes()
        out.append((int(i), bpf_syscall.split_percpu(chunk, value_bytes) if percpu else chunk))
    return out


def map_entries(fd: int, state: StateDecl) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Every entry of kernel map ``fd`` holding ``state``, decoded, in dump form (module
    docstring: per-CPU values summed, all-zero array slots left out), sorted by key."""
    from cora.runtime import bpf_syscall
    from cora.targets.ebpf.maps import key_size, unpack_key, unpack_value, value_size

    percpu = state.kind == "percpu_array"
    if state.kind in ("array", "percpu_array"):
        items = [(i.to_bytes(4, "little"), v) for i, v in
                 _read_array(fd, state.capacity, value_size(state), percpu)]
    else:
        items = bpf_syscall.map_items(fd, key_size(state), value_size(state), percpu)
    out = []
    for k, v in items:
        if isinstance(v, list):
            value = sum_percpu(state, v)
        else:
            value = unpack_value(state, v)
        if state.kind in ("array", "percpu_array") and not any(value):
            continue
        out.append((unpack_key(state, k), value))
    return sorted(out)


def sum_percpu(state: StateDecl, values: list[bytes]) -> tuple[int, ...]:
    """Sum per-CPU copies of one value field by field (wrapping at each field's width)."""
    from cora.targets.ebpf.maps import unpack_value

    total = [0] * len(state.value)
    for raw in values:
        for i, x in enumerate(unpack_value(state, raw)):
            total[i] += x
    return tuple(t & ((1 << f.width) - 1) for t, f in zip(total, state.value, strict=True))


class InterpEngine:
    """The reference interpreter (:class:`cora.compiler.interp.Interpreter`) as an engine."""

    name = "interp"

    def __init__(self, program: Program):
        self.program = program
        self.groups: dict[str, tuple[int, ...]] = {}  # set_group's ports, kept by reset
        self.reset()

    def reset(self) -> None:
        """Fresh state with declared initial entries and the groups' ports; rand()
        reseeded with 1."""
        from cora.compiler.interp import Interpreter

        self.interp = Interpreter(self.program, rand_seed=1)
        for name, ports in self.groups.items():
            self.interp.set_group(name, ports)

    def run(self, frame: bytes, now_ns: int = 0) -> FrameOutcome:
        """Run one frame with ``now()`` = ``now_ns``."""
        import time

        t0 = time.perf_counter_ns()
        res = self.interp.run(frame, now_ns=now_ns)
        dt = time.perf_counter_ns() - t0
        return FrameOutcome(res.verdict, bytes(res.frame), dt, frozenset(res.touched))

    def set_group(self, name: str, ifindexes: list[int] | tuple[int, ...]) -> None:
        """Fill multicast group ``name`` (:meth:`cora.compiler.interp.Interpreter.set_group`;
        ``reset`` fills it again)."""
        self.interp.set_group(name, ifindexes)
        self.groups[name] = tuple(ifindexes)

    def lookup(self, name: str, key: tuple[int, ...]) -> tuple[int, ...] | None:
        """Exact-key lookup, with array slots of all zeros reported as absent."""
        value = self.interp.lookup(name, tuple(key))
        state = self.program.state(name)
        if value is not None and state.kind in ("array", "percpu_array") and not any(value):
            return None
        return None if value is None else tuple(value)

    def entries(self, name: str) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        """Every entry of a state in dump form, sorted."""
        return sorted((tuple(k), tuple(v)) for k, v in self.interp.state_entries(name))

    def write(self, name: str, key: tuple[int, ...], value: tuple[int, ...]) -> None:
        """Insert or replace one entry, as :meth:`KernelEngine.write` (KeyError: unknown
        state)."""
        self.interp.states[name].update(tuple(key), list(value), set())

    def dump_state(self) -> dict:
        """The ``--state-out`` object."""
        return dump_from_entries(self.program.states, {s.name: self.entries(s.name)
                                                for s in self.program.states})

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
