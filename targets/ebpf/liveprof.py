"""Live-profile counters of a generated eBPF program: the slot layout and the C it adds.

A program generated with ``live_profile=N`` (N >= 1) keeps, per CPU, a few u64 slots from
which the runtime rebuilds every block's and every CFG edge's count: slot 0 counts the
packets counted, slot 1 the runs of the entry block, and one slot per *counted edge*: every
edge out of a block with several distinct successors except the last one (Knuth's
spanning-tree argument for edge profiling, D. E. Knuth and F. R. Stevenson, "Optimal
measurement points for program frequency counts", BIT 13, 1973: in an acyclic CFG the
count of a block is the sum of its incoming edges, an edge out of a one-successor block is
taken as often as its source runs, and the last edge of a branch is the source's count
minus its other edges). A packet thus costs one map lookup (the kernel inlines per-CPU array
lookups), two increments and one per taken counted edge, with no atomics (per-CPU memory).
All slots are one value of a one-entry ``BPF_PERCPU_ARRAY`` (:data:`PROFILE_MAP`).

Sampling: with N > 1 a per-CPU tick (the last slot) counts every packet and only every Nth
packet of each CPU is counted (no random helper call: ``bpf_get_prandom_u32`` cost more than
the counters it saves here); the runtime multiplies by N. With N = 1 every packet is counted
and the rebuilt counts equal those of the reference interpreter
(:class:`cora.compiler.interp.CountingInterpreter`) on the same frames; the runtime turns
them into a :class:`cora.compiler.offload.profile.Profile` (:mod:`cora.runtime.live_profile`).
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
        entry: label of the entry block (its runs are counted in slot 1).
        edges: counted ``(from, to)`` edges; ``edges[j]`` is counted in slot ``2 + j``.
        sample_every: N of the 1-in-N sampling (1 = every packet); with N > 1 the last slot
            is the per-CPU tick (every packet).
    Slot 0 counts the packets counted.
    """

    entry: str
    edges: tuple[tuple[str, str], ...]
    sample_every: int = 1

    @property
    def count(self) -> int:
        """Number of u64 slots."""
        return 2 + len(self.edges) + (1 if self.sample_every > 1 else 0)

    @property
    def tick_slot(self) -> int | None:
        """Slot of the every-packet tick (None without sampling)."""
        return self.count - 1 if self.sample_every > 1 else None

    def edge_slot(self, edge: tuple[str, str]) -> int | None:
        """Slot of ``edge``, or None when the edge is not counted (derived)."""
        try:
            return 2 + self.edges.index(edge)
        except ValueError:
            return None

    def to_json(self) -> dict:
        """JSON-ready dict (kept in the deployment metadata)."""
        return {"entry": self.entry, "edges": [list(e) for e in self.edges],
                "sample_every": self.sample_every}

    @classmethod
    def from_json(cls, data: dict) -> ProfileSlots:
        """Inverse of :meth:`to_json`. Raises KeyError/TypeError/ValueError when malformed."""
        return cls(str(data["entry"]), tuple((str(a), str(b)) for a, b in data["edges"]),
                   int(data.get("sample_every", 1)))


def successors(block) -> list[str]:
    """Distinct successor labels of ``block``, in order."""
    return list(dict.fromkeys(block.successors()))


def profile_slots(program: Program, sample_every: int = 1) -> ProfileSlots:
    """The slot layout of ``program``: every edge but the last out of each block with
    several distinct successors is counted.

    Raises:
        ValueError: ``sample_every`` < 1, an empty program, or more than :data:`MAX_SLOTS`
            slots.
    """
    if sample_every < 1:
        raise ValueError("live-profile sampling must be 1 in N with N >= 1")
    if not program.blocks:
        raise ValueError(f"{program.name}: no blocks to profile")
    edges: list[tuple[str, str]] = []
    for b in program.blocks:
        succ = successors(b)
        if len(succ) > 1:
            edges.extend((b.label, s) for s in succ[:-1])
    slots = ProfileSlots(program.topological_blocks()[0].label, tuple(edges), sample_every)
    if slots.count > MAX_SLOTS:
        raise ValueError(f"{program.name}: {slots.count} live-profile slots, at most "
                         f"{MAX_SLOTS} fit in a per-CPU value")
    return slots


def declaration(slots: ProfileSlots) -> list[str]:
    """C declarations of the counters map (file scope)."""
    return [f"struct {PROFILE_STRUCT} {{ u64 c[{slots.count}]; }};",
            f"BPF_PERCPU_ARRAY({PROFILE_MAP}, struct {PROFILE_STRUCT}, 1);"]


def entry(slots: ProfileSlots, aborted_code: str) -> list[str]:
    """C statements at the top of the entry function: pick this packet's counters (NULL when
    it is not sampled) and count the packet. Without sampling the pointer is never NULL (a
    failed lookup of key 0 of a one-entry array cannot happen: it returns ``aborted_code``),
    so no increment needs a NULL check."""
    out = ["u32 cora_pk = 0;",
           f"struct {PROFILE_STRUCT} *{PROFILE_PTR} = {PROFILE_MAP}.lookup(&cora_pk);"]
    if slots.sample_every == 1:
        return [*out, f"if (!{PROFILE_PTR}) return {aborted_code}; /* cannot happen */",
                f"{PROFILE_PTR}->c[0] += 1;"]
    if slots.tick_slot is not None:
        out.append(f"if ({PROFILE_PTR} && ({PROFILE_PTR}->c[{slots.tick_slot}]++ % "
                   f"{slots.sample_every}U) != 0) {PROFILE_PTR} = NULL;")
    out.append(f"if ({PROFILE_PTR}) {PROFILE_PTR}->c[0] += 1;")
    return out


def at_block(slots: ProfileSlots, label: str) -> list[str]:
    """C statements at the start of block ``label`` (the entry block's run is counted)."""
    return [bump(slots, 1)] if label == slots.entry else []


def bump(slots: ProfileSlots, slot: int) -> str:
    """C statement incrementing ``slot`` for a counted packet."""
    if slots.sample_every == 1:
        return f"{PROFILE_PTR}->c[{slot}] += 1;"
    return f"if ({PROFILE_PTR}) {PROFILE_PTR}->c[{slot}] += 1;"


def goto_counted(slots: ProfileSlots, src: str, dst: str) -> str:
    """``goto L_dst;``, preceded by the increment of edge ``src -> dst`` when it has a slot
    (as one C statement block)."""
    slot = slots.edge_slot((src, dst))
    if slot is None:
        return f"goto L_{dst};"
    return f"{{ {bump(slots, slot)} goto L_{dst}; }}"
