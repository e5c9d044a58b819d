"""Live traffic profiles: the compiler's :class:`~cora.compiler.offload.profile.Profile` read
from a running program's per-block counters over a time window.

A program generated with ``live_profile=N`` (:mod:`cora.targets.ebpf.liveprof`) counts, per
CPU, the packets it sampled, the runs of its entry block and the edges it took out of blocks
with several successors (all but one per block); :func:`stage_counts` rebuilds every block's
and edge's count from them. :func:`read_counters` sums a snapshot over CPUs; two snapshots make a
window, and :func:`from_live_counters` turns the difference into the very ``Profile`` that
``cora plan --profile`` computes from a pcap with the reference interpreter
(:func:`cora.compiler.offload.profile.profile_from_frames`): the same ``packets``,
``block_count``, ``edge_count`` and ``state_count`` when every packet is counted (N = 1;
``tests/runtime/test_live_profile.py`` checks equality on a capture). With 1-in-N sampling
every count is the sampled count times N (an unbiased estimate; frequencies are ratios of
sampled counts).

A split deployment has one program per stage (:mod:`cora.compiler.offload.split`); each
stage keeps the whole program's block labels, so the stages' counters add up to the whole
program's. A crossing block ``x_v`` (shim push toward block ``v``) stands for ``v`` in edge
counts, and the later stage's ``resume`` entry block is not a block of the NF.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from cora.compiler.ir import Program
from cora.compiler.offload.profile import Profile
from cora.targets.ebpf.liveprof import ProfileSlots, successors


@dataclass(frozen=True)
class CounterSnapshot:
    """Counter values of one program at one instant.

    Attributes:
        slots: the program's slot layout.
        counts: slot -> count summed over CPUs (length ``slots.count``).
        time_ns: ``time.monotonic_ns()`` when read.
        program: the (stage) program the counters belong to.
    """

    slots: ProfileSlots
    counts: tuple[int, ...]
    time_ns: int
    program: Program

    def minus(self, earlier: CounterSnapshot) -> CounterSnapshot:
        """The counts of the window from ``earlier`` to this snapshot (this one's time).

        Raises:
            ValueError: the snapshots are of different layouts.
        """
        if earlier.slots != self.slots:
            raise ValueError("counter snapshots of different programs")
        return CounterSnapshot(self.slots, tuple(a - b for a, b in
                                                 zip(self.counts, earlier.counts, strict=True)),
                               self.time_ns, self.program)

    @property
    def packets(self) -> int:
        """Packets counted (sampled), slot 0."""
        return self.counts[0]


def read_counters(map_fd: int, slots: ProfileSlots, program: Program) -> CounterSnapshot:
    """Read the ``cora_prof`` per-CPU map ``map_fd`` and sum every slot over CPUs.

    Args:
        map_fd: fd of the program's :data:`~cora.targets.ebpf.liveprof.PROFILE_MAP`.
        slots: its layout (kept in the deployment metadata); program: the program it counts.
    Returns:
        a :class:`CounterSnapshot` (all zero if the entry was never written).
    Raises:
        KernelError: the map cannot be read.
    """
    from cora.runtime.bpf_syscall import map_lookup

    size = 8 * slots.count
    per_cpu = map_lookup(map_fd, (0).to_bytes(4, "little"), size, percpu=True) or []
    counts = [0] * slots.count
    for value in per_cpu:
        for i in range(slots.count):
            counts[i] += int.from_bytes(value[8 * i:8 * i + 8], "little")
    return CounterSnapshot(slots, tuple(counts), time.monotonic_ns(), program)


def _nf_target(program: Program, stage_block) -> str | None:
    """The NF block a stage block stands for: itself, or for a crossing block the block its
    shim push resumes at; None for a stage's ``resume`` entry block."""
    labels = {b.label for b in program.blocks}
    if stage_block.label in labels:
        return str(stage_block.label)
    for op in stage_block.ops:
        if op.opcode == "shim.push":
            rid = int(op.attrs["resume"])
            if 0 <= rid < len(program.blocks):
                return str(program.blocks[rid].label)
    return None


def stage_counts(window: CounterSnapshot) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """Every block's runs and every edge's count of one stage program, rebuilt from its
    counted slots (:mod:`cora.targets.ebpf.liveprof`) in topological order; scaled by N.

    Returns:
        ``(block label -> runs, (from, to) -> times taken)`` over the stage's own labels.
        Counts read from live per-CPU memory are not one snapshot: a derived edge that
        comes out negative is taken as 0.
    """
    slots = window.slots
    n = slots.sample_every
    blocks: dict[str, int] = {slots.entry: window.counts[1] * n}
    edges: dict[tuple[str, str], int] = {}
    for b in window.program.topological_blocks():
        runs = blocks.get(b.label, 0)
        succ = successors(b)
        left = runs
        for i, dst in enumerate(succ):
            slot = slots.edge_slot((b.label, dst))
            if slot is not None:
                c = window.counts[slot] * n
            elif i == len(succ) - 1:
                c = max(left, 0)
            else:  # a layout of another program: nothing to rebuild from
                raise ValueError(f"edge {b.label} -> {dst} has no counter")
            left -= c
            edges[(b.label, dst)] = c
            blocks[dst] = blocks.get(dst, 0) + c
    return blocks, edges


def from_live_counters(program: Program, windows: list[CounterSnapshot]) -> Profile:
    """``Profile.from_live_counters``: the profile of ``program`` over a window of counts.

    Args:
        program: the whole NF (the one ``cora plan`` partitions).
        windows: one counter window per deployed stage (:meth:`CounterSnapshot.minus` of two
            reads), the first stage first (its packets are the NF's packets); one window for
            a deployment of the whole NF.
    Returns:
        a :class:`Profile` (``source="live"``): ``packets``, ``block_count``, ``edge_count``
        and ``state_count`` scaled by each stage's sampling N; with N = 1 equal to
        :func:`~cora.compiler.offload.profile.profile_from_frames` on the same frames.
    Raises:
        ValueError: no window given, or a window whose layout is not its program's.
    """
    if not windows:
        raise ValueError("no counter window")
    labels = {b.label for b in program.blocks}
    blocks: dict[str, float] = {}
    edges: dict[tuple[str, str], float] = {}
    for w in windows:
        by_label = {b.label: b for b in w.program.blocks}
        b_counts, e_counts = stage_counts(w)
        for label, c in b_counts.items():
            if label in labels and c:
                blocks[label] = blocks.get(label, 0) + c
        for (src, dst_stage), c in e_counts.items():
            if src not in labels or not c:
                continue
            dst = _nf_target(program, by_label[dst_stage])
            if dst is not None:
                edges[(src, dst)] = edges.get((src, dst), 0) + c
    packets = windows[0].packets * windows[0].slots.sample_every
    states: dict[str, float] = {s.name: 0.0 for s in program.states}
    for b in program.blocks:
        runs = blocks.get(b.label, 0)
        for op in b.ops if runs else []:
            if op.state is not None:
                states[op.state] = states.get(op.state, 0.0) + runs
    return Profile(packets=packets, block_count=blocks, edge_count=edges, state_count=states,
                   source="live", packets_basis=float(packets))
