"""Traffic profiles: how often each IR block, CFG edge and state object is used per packet.

The partitioner (:mod:`cora.compiler.offload.partition`) weights every cost by these frequencies
(docs/offload.md, "Traffic profile"). Two sources:

- :func:`profile_from_frames`: run frames through the reference interpreter
  (:class:`cora.compiler.interp.Interpreter`, state carried from frame to frame as in
  ``cora run``) and count, per packet, which blocks execute and which CFG edges are taken.
- :func:`synthetic_profile`: no trace; every ``br`` goes either way with probability 1/2.

Counting: :class:`cora.compiler.interp.CountingInterpreter` counts block executions and
edges taken while running every op exactly as the reference engine does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from cora.compiler.interp import CountingInterpreter
from cora.compiler.ir import Program


@dataclass
class Profile:
    """Per-packet usage of an NF's blocks, edges and state.

    Attributes:
        packets: frames the profile was measured on (0 for a synthetic profile).
        block_count: block label -> number of executions over all packets (synthetic: the
            expected count for one packet).
        edge_count: ``(from_label, to_label)`` -> times the CFG edge was taken.
        state_count: state name -> executions of ops touching it (see
        :attr:`cora.compiler.ir.Op.state`).
        source: ``"frames"`` or ``"synthetic"`` (how it was made).
        packets_basis: the denominator of every frequency (``packets``, or 1 for synthetic).
    """

    packets: int
    block_count: dict[str, float] = field(default_factory=dict)
    edge_count: dict[tuple[str, str], float] = field(default_factory=dict)
    state_count: dict[str, float] = field(default_factory=dict)
    source: str = "frames"
    packets_basis: float = 1.0

    @property
    def block_freq(self) -> dict[str, float]:
        """Block label -> fraction of packets that execute it, in [0, 1] (acyclic CFG)."""
        n = self.packets_basis or 1.0
        return {k: v / n for k, v in self.block_count.items()}

    @property
    def edge_freq(self) -> dict[tuple[str, str], float]:
        """CFG edge -> fraction of packets that take it, in [0, 1]."""
        n = self.packets_basis or 1.0
        return {k: v / n for k, v in self.edge_count.items()}

    @property
    def state_access(self) -> dict[str, float]:
        """State name -> ops touching it per packet (see :attr:`cora.compiler.ir.Op.state`)."""
        n = self.packets_basis or 1.0
        return {k: v / n for k, v in self.state_count.items()}

    def to_json(self) -> dict:
        """A JSON-ready dict (edges as ``"from->to"`` keys)."""
        return {"packets": self.packets, "source": self.source,
                "block_freq": self.block_freq,
                "edge_freq": {f"{a}->{b}": v for (a, b), v in self.edge_freq.items()},
                "state_access": self.state_access}


def _state_counts(program: Program, block_count: dict[str, float]) -> dict[str, float]:
    out: dict[str, float] = {s.name: 0.0 for s in program.states}
    for b in program.blocks:
        n = block_count.get(b.label, 0)
        if not n:
            continue
        for op in b.ops:
            st = op.state
            if st is not None:
                out[st] = out.get(st, 0.0) + n
    return out


def profile_from_frames(program: Program,
                        frames: Iterable[bytes | tuple[int, bytes]]) -> Profile:
    """Profile ``program`` on real frames with the reference interpreter.

    Args:
        program: a verified IR program.
        frames: Ethernet frames, each ``bytes`` or ``(timestamp_ns, bytes)`` (as
            ``cora.testbed.replay.read_pcap`` returns); the timestamp is ``now()``.
    Returns:
        a :class:`Profile` with ``packets`` = number of frames; frequencies are
        executions / packets.
    Raises:
        IRError: the program breaks an IR rule.
    """
    interp = CountingInterpreter(program)
    n = 0
    for item in frames:
        if isinstance(item, tuple):
            ts, frame = item
        else:
            ts, frame = 0, item
        interp.run(bytes(frame), now_ns=ts)
        n += 1
    bc: dict[str, float] = dict(interp.block_count)
    return Profile(packets=n, block_count=bc, edge_count=dict(interp.edge_count),
                   state_count=_state_counts(program, bc), source="frames",
                   packets_basis=float(n))


def synthetic_profile(program: Program) -> Profile:
    """Expected block and edge frequencies when every ``br`` goes either way with
    probability 1/2 (no trace given). The entry block has frequency 1; frequencies flow
    along the CFG in topological order.
    """
    freq: dict[str, float] = {}
    edges: dict[tuple[str, str], float] = {}
    order = program.topological_blocks()
    if order:
        freq[order[0].label] = 1.0
    for b in order:
        f = freq.get(b.label, 0.0)
        succ = b.successors()
        for s in succ:
            share = f / len(succ)
            edges[(b.label, s)] = edges.get((b.label, s), 0.0) + share
            freq[s] = freq.get(s, 0.0) + share
    return Profile(packets=0, block_count=freq, edge_count=edges,
                   state_count=_state_counts(program, freq), source="synthetic",
                   packets_basis=1.0)
