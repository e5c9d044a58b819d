"""Live-profile counters of a generated eBPF program: the slot layout and the C it adds.

A program generated with ``live_profile=N`` (N >= 1) keeps, per CPU, one u64 slot per IR
block (executions), one per CFG edge out of a block with several distinct successors (times
taken; every other edge is taken exactly as often as its source block runs) and slot 0 for
the packets counted. All slots are one value of a one-entry ``BPF_PERCPU_ARRAY``
(:data:`PROFILE_MAP`), so a packet costs one map lookup (the kernel inlines per-CPU array
lookups) and one increment per block it runs, with no atomics (per-CPU memory).

Sampling: with N > 1 only packets for which ``bpf_get_prandom_u32() % N == 0`` are counted
(1 in N on average); the runtime divides by the counted packets (slot 0), so frequencies stay
frequencies. With N = 1 every packet is counted and the counts equal those of the reference
interpreter (:class:`cora.compiler.interp.CountingInterpreter`) on the same frames; the
runtime turns them into a :class:`cora.compiler.offload.profile.Profile`
(:mod:`cora.runtime.live_profile`).
"""

from __future__ import annotations

from dataclasses import dataclass

from cora.compiler.ir import Program

#: name of the per-CPU array holding the counters (one entry, key 0)
PROFILE_MAP = "cora_prof"
#: C variable holding the counter pointer inside the entry function (NULL: not counted)
PROFILE_PTR = "cora_pc"
#: C struct of the counters value
PROFILE_STRUCT = "cora_prof_t"
#: most slots a program may have: the per-CPU value is 8 bytes a slot and the kernel caps a
#: per-CPU value at 32 KiB (``PCPU_MIN_UNIT_SIZE``, include/linux/percpu.h)
MAX_SLOTS = 32 * 1024 // 8


@dataclass(frozen=True)
class ProfileSlots:
    """Which counter slot counts what.

    Attributes:
        blocks: block labels; block ``blocks[i]`` is counted in slot ``1 + i``.
        edges: ``(from, to)`` edges out of blocks with several distinct successors; edge
            ``edges[j]`` is counted in slot ``1 + len(blocks) + j``.
        sample_every: N of the 1-in-N sampling (1 = every packet).
    Slot 0 counts the packets counted.
    """

    blocks: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]
    sample_every: int = 1

    @property
    def count(self) -> int:
        """Number of u64 slots (1 + blocks + edges)."""
        return 1 + len(self.blocks) + len(self.edges)

    def block_slot(self, label: str) -> int:
        """Slot of block ``label``. Raises ValueError for an unknown label."""
        return 1 + self.blocks.index(label)

    def edge_slot(self, edge: tuple[str, str]) -> int | None:
        """Slot of ``edge``, or None when the edge is not counted on its own (its source has
        one successor: the edge count is the source's block count)."""
        try:
            return 1 + len(self.blocks) + self.edges.index(edge)
        except ValueError:
            return None

    def to_json(self) -> dict:
        """JSON-ready dict (kept in the deployment metadata)."""
        return {"blocks": list(self.blocks), "edges": [list(e) for e in self.edges],
                "sample_every": self.sample_every}

    @classmethod
    def from_json(cls, data: dict) -> ProfileSlots:
        """Inverse of :meth:`to_json`. Raises KeyError/TypeError/ValueError when malformed."""
        return cls(tuple(str(b) for b in data["blocks"]),
                   tuple((str(a), str(b)) for a, b in data["edges"]),
                   int(data.get("sample_every", 1)))


def profile_slots(program: Program, sample_every: int = 1) -> ProfileSlots:
    """The slot layout of ``program`` (blocks in program order).

    Raises:
        ValueError: ``sample_every`` < 1, or more than :data:`MAX_SLOTS` slots.
    """
    if sample_every < 1:
        raise ValueError("live-profile sampling must be 1 in N with N >= 1")
    edges: list[tuple[str, str]] = []
    for b in program.blocks:
        succ = list(dict.fromkeys(b.successors()))
        if len(succ) > 1:
            edges.extend((b.label, s) for s in succ)
    slots = ProfileSlots(tuple(b.label for b in program.blocks), tuple(edges), sample_every)
    if slots.count > MAX_SLOTS:
        raise ValueError(f"{program.name}: {slots.count} live-profile slots, at most "
                         f"{MAX_SLOTS} fit in a per-CPU value")
    return slots


def declaration(slots: ProfileSlots) -> list[str]:
    """C declarations of the counters map (file scope)."""
    return [f"struct {PROFILE_STRUCT} {{ u64 c[{slots.count}]; }};",
            f"BPF_PERCPU_ARRAY({PROFILE_MAP}, struct {PROFILE_STRUCT}, 1);"]


def entry(slots: ProfileSlots) -> list[str]:
    """C statements at the top of the entry function: pick this packet's counters (NULL when
    it is not sampled) and count the packet."""
    pick = f"{PROFILE_MAP}.lookup(&cora_pk)"
    if slots.sample_every > 1:
        pick = f"(bpf_get_prandom_u32() % {slots.sample_every}U == 0) ? {pick} : NULL"
    return ["u32 cora_pk = 0;",
            f"struct {PROFILE_STRUCT} *{PROFILE_PTR} = {pick};",
            f"if ({PROFILE_PTR}) {PROFILE_PTR}->c[0] += 1;"]


def bump(slot: int) -> str:
    """C statement incrementing ``slot`` for a counted packet."""
    return f"if ({PROFILE_PTR}) {PROFILE_PTR}->c[{slot}] += 1;"


def goto_counted(slots: ProfileSlots, src: str, dst: str) -> str:
    """``goto L_dst;``, preceded by the increment of edge ``src -> dst`` when it has a slot
    (as one C statement block)."""
    slot = slots.edge_slot((src, dst))
    if slot is None:
        return f"goto L_{dst};"
    return f"{{ {bump(slot)} goto L_{dst}; }}"
