"""Engines that run an NF on frames: the kernel (XDP via BPF_PROG_TEST_RUN) and the reference
interpreter, behind one small interface, plus the state dump format of ``--state-out``.

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

XDP_VERDICTS = {0: "aborted", 1: "drop", 2: "pass", 3: "tx", 4: "redirect"}
#: TC actions (include/uapi/linux/pkt_cls.h) of the tc target's verdicts; TC_ACT_REDIRECT (7)
#: is both ``tx`` and ``redirect``, told apart by the program's verdict counters.
TC_VERDICTS = {0: "pass", 2: "drop"}
TC_ACT_REDIRECT = 7
#: Longest frame an skb (sched_cls) test run accepts: one 4 KiB page minus NET_SKB_PAD (64)
#: headroom minus the aligned struct skb_shared_info (320) (net/bpf/test_run.c,
#: bpf_test_init). Measured on this machine's Linux 6.18: 3,712 bytes run, 3,713 get EINVAL.
MAX_TC_TEST_FRAME_BYTES = 3712
#: Shortest frame an skb test run accepts per EtherType: the kernel pulls the IPv4 (20
#: bytes) or IPv6 (40 bytes) header after the Ethernet header and refuses the frame with
#: EINVAL when it is not there (net/bpf/test_run.c, bpf_prog_test_run_skb). Measured on this
#: machine's Linux 6.18: 0x0800 needs 34 bytes, 0x86dd 54, every other EtherType (VLAN tags
#: included) 14. One frame of the 215 tcpdump captures is refused for this (33 bytes, IPv4).
MIN_TC_TEST_FRAME_BYTES = {0x0800: 34, 0x86DD: 54}


def tc_test_run_accepts(frame: bytes) -> bool:
    """Whether BPF_PROG_TEST_RUN of a sched_cls program accepts ``frame`` (bytes): at least
    14 bytes, at most :data:`MAX_TC_TEST_FRAME_BYTES`, and the IPv4/IPv6 header there when
    the EtherType says so (:data:`MIN_TC_TEST_FRAME_BYTES`)."""
    if not 14 <= len(frame) <= MAX_TC_TEST_FRAME_BYTES:
        return False
    return len(frame) >= MIN_TC_TEST_FRAME_BYTES.get(int.from_bytes(frame[12:14], "big"), 14)


@dataclass
class FrameOutcome:
    """What one engine did with one frame.

    Attributes:
        verdict: pass | drop | tx | redirect | aborted.
        frame: the frame bytes after the program (header rewrites applied).
        duration_ns: kernel run time (kernel engine) or interpreter wall time, ns.
        touched: (state, key) pairs the frame read or wrote (interpreter only; else empty).
    """

    verdict: str
    frame: bytes
    duration_ns: int = 0
    touched: frozenset = frozenset()


def dump_from_entries(states: list[StateDecl], entries: dict[str, list]) -> dict:
    """Build the ``--state-out`` object from ``{state: [(key ints, value ints), ...]}``."""
    out = {}
    for state in states:
        rows = sorted(entries.get(state.name, []))
        out[state.name] = [{"key": list(k), "value": list(v)} for k, v in rows]
    return {"maps": out}


class KernelEngine:
    """The NF compiled for XDP and loaded into the kernel; frames go through BPF_PROG_TEST_RUN.

    Built multi-buffer aware (frames longer than the 3,520-byte linear area run whole) with
    ``now()``/``rand()`` injected. Use as a context manager; ``close()`` unloads everything.

    ``target="tc"`` builds the NF for the tc target instead (sched_cls, run on an skb); its
    TC action is mapped back to the verdict (``TC_ACT_OK`` pass, ``TC_ACT_SHOT`` drop,
    ``TC_ACT_REDIRECT`` tx or redirect, told apart by the program's verdict counters), and
    frames an skb test run refuses cannot be run (:func:`tc_test_run_accepts`: longer than
    :data:`MAX_TC_TEST_FRAME_BYTES`, or an IPv4/IPv6 EtherType without room for its header);
    :meth:`accepts_frame` says which frames run.

    Raises (constructor): EnvironmentProblem (no root/bcc), KernelError (load failure),
    CoraError (unknown target; a program tc cannot run).
    """

    name = "kernel"

    def __init__(self, program: Program, target: str = "xdp"):
        from cora.errors import CoraError
        from cora.runtime.loader import load_tc, load_xdp
        from cora.runtime.testrun import xdp_test_run_accepts

        self.program = program
        self.target = target
        if target == "xdp":
            from cora.targets.xdp import XdpTarget

            artifact = XdpTarget().generate(program, inject_env=True, frags=True)
            self.accepts_frame = xdp_test_run_accepts
        elif target == "tc":
            from cora.targets.tc import TcTarget

            artifact = TcTarget().generate(program, inject_env=True, count_verdicts=True)
            self.accepts_frame = tc_test_run_accepts
        else:
            raise CoraError(f"the kernel engine runs target xdp or tc, not {target!r}")
        self.uses_env = any(op.opcode in ("now", "rand") for _, op in program.ops())
        self.loaded = load_xdp(artifact) if target == "xdp" else load_tc(artifact)
        try:
            self._env_fd = self.loaded.map_fd("cora_env") if self.uses_env else None
            self._verdicts_fd = self.loaded.map_fd("cora_verdicts") if target == "tc" else None
            self._tx_count = 0
            self.reset()
        except BaseException:
            self.loaded.close()
            raise

    def _set_env(self, slot: int, value: int) -> None:
        from cora.runtime import bpf_syscall

        bpf_syscall.map_update(self._env_fd, slot.to_bytes(4, "little"),
                               value.to_bytes(8, "little"))

    def reset(self) -> None:
        """Empty every map, reload declared initial entries, reseed rand() with 1."""
        from cora.runtime import bpf_syscall
        from cora.runtime.loader import load_initial_entries
        from cora.targets.ebpf.maps import key_size, value_size

        for state in self.program.states:
            fd = self.loaded.map_fds[state.name]
            if state.kind in ("array", "percpu_array"):
                _zero_array(fd, state.capacity, value_size(state), state.kind == "percpu_array")
            else:
                for k, _ in bpf_syscall.map_items(fd, key_size(state), value_size(state)):
                    bpf_syscall.map_delete(fd, k)
            load_initial_entries(fd, state)
        if self.uses_env:
            self._set_env(0, 0)
            self._set_env(1, 1)
        if self._verdicts_fd is not None:
            _zero_array(self._verdicts_fd, len(XDP_VERDICTS), 8, True)
            self._tx_count = 0

    def _tc_verdict(self, retval: int) -> str:
        """The IR verdict of a tc program's TC action (``aborted`` for any other action)."""
        if retval != TC_ACT_REDIRECT:
            return TC_VERDICTS.get(retval, "aborted")
        from cora.runtime import bpf_syscall

        raw = bpf_syscall.map_lookup(self._verdicts_fd, (3).to_bytes(4, "little"), 8, True)
        tx = sum(int.from_bytes(v[:8], "little") for v in raw)
        was, self._tx_count = self._tx_count, tx
        return "tx" if tx > was else "redirect"

    def run(self, frame: bytes, now_ns: int = 0) -> FrameOutcome:
        """Run one frame (>= 14 bytes) with ``now()`` = ``now_ns``."""
        from cora.runtime.bpf_syscall import prog_test_run

        if self.uses_env:
            self._set_env(0, now_ns)
        res = prog_test_run(self.loaded.prog_fd, frame, repeat=1)
        verdict = (self._tc_verdict(res.retval) if self.target == "tc"
                   else XDP_VERDICTS.get(res.retval, "aborted"))
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
        value = sum_percpu(state, raw) if percpu else unpack_value(state, raw)
        if state.kind in ("array", "percpu_array") and not any(value):
            return None
        return value

    def entries(self, name: str) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        """Every entry of a state in dump form (see the module docstring), sorted."""
        return map_entries(self.loaded.map_fds[name], self.program.state(name))

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


def _zero_array(fd: int, slots: int, value_bytes: int, percpu: bool) -> None:
    """Set every slot of an array map to zero with one BPF_MAP_UPDATE_BATCH call."""
    from cora.runtime import bpf_syscall

    stride = (value_bytes + 7) // 8 * 8 * bpf_syscall.possible_cpus() if percpu else value_bytes
    keys = (ctypes.c_uint32 * slots)(*range(slots))
    values = ctypes.create_string_buffer(stride * slots)
    attr = _BatchAttr(keys=ctypes.addressof(keys), values=ctypes.addressof(values),
                      count=slots, map_fd=fd)
    bpf_syscall.bpf_call(BPF_MAP_UPDATE_BATCH, attr, f"zeroing array map fd {fd}")


def _read_array(fd: int, slots: int, value_bytes: int, percpu: bool) -> list[bytes | list[bytes]]:
    """Every slot of an array map, read with BPF_MAP_LOOKUP_BATCH (one or few calls)."""
    import errno as _errno

    from cora.runtime import bpf_syscall
    from cora.errors import KernelError

    ncpu = bpf_syscall.possible_cpus() if percpu else 1
    stride = (value_bytes + 7) // 8 * 8 * ncpu if percpu else value_bytes
    keys = (ctypes.c_uint32 * slots)()
    values = ctypes.create_string_buffer(stride * slots)
    out_batch = ctypes.c_uint32(0)
    got = 0
    in_ptr = 0
    while got < slots:
        attr = _BatchAttr(in_batch=in_ptr, out_batch=ctypes.addressof(out_batch),
                          keys=ctypes.addressof(keys) + 4 * got,
                          values=ctypes.addressof(values) + stride * got,
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
    raw = values.raw
    out = []
    for i in range(got):
        chunk = raw[i * stride:(i + 1) * stride]
        out.append(bpf_syscall.split_percpu(chunk, value_bytes) if percpu else chunk)
    return out


def map_entries(fd: int, state: StateDecl) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Every entry of kernel map ``fd`` holding ``state``, decoded, in dump form (module
    docstring: per-CPU values summed, all-zero array slots left out), sorted by key."""
    from cora.runtime import bpf_syscall
    from cora.targets.ebpf.maps import key_size, unpack_key, unpack_value, value_size

    percpu = state.kind == "percpu_array"
    if state.kind in ("array", "percpu_array"):
        items = [(i.to_bytes(4, "little"), v) for i, v in
                 enumerate(_read_array(fd, state.capacity, value_size(state), percpu))]
    else:
        items = bpf_syscall.map_items(fd, key_size(state), value_size(state), percpu)
    out = []
    for k, v in items:
        value = sum_percpu(state, v) if percpu else unpack_value(state, v)
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
    return tuple(t & ((1 << f.width) - 1) for t, f in zip(total, state.value))


class InterpEngine:
    """The reference interpreter (:class:`cora.compiler.interp.Interpreter`) as an engine."""

    name = "interp"

    def __init__(self, program: Program):
        self.program = program
        self.reset()

    def reset(self) -> None:
        """Fresh state with declared initial entries; rand() reseeded with 1."""
        from cora.compiler.interp import Interpreter

        self.interp = Interpreter(self.program, rand_seed=1)

    def run(self, frame: bytes, now_ns: int = 0) -> FrameOutcome:
        """Run one frame with ``now()`` = ``now_ns``."""
        import time

        t0 = time.perf_counter_ns()
        res = self.interp.run(frame, now_ns=now_ns)
        dt = time.perf_counter_ns() - t0
        return FrameOutcome(res.verdict, bytes(res.frame), dt, frozenset(res.touched))

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
