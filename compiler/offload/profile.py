"""Traffic profiles: how often each IR block, CFG edge and state object is used per packet.

The partitioner (:mod:`cora.compiler.offload.partition`) weights every cost by these frequencies
(docs/offload.md, "Traffic profile"). Two sources:

- :func:`profile_from_frames`: run frames through the reference interpreter
  (:class:`cora.compiler.interp.Interpreter`, state carried from frame to frame as in
  ``cora run``) and count, per packet, which blocks execute and which CFG edges are taken.
- :func:`synthetic_profile`: no trace; every ``br`` goes either way with probability 1/2.
- :func:`zipf_frames` / :func:`zipf_profile`: a skewed synthetic mix (Zipf popularity over
  ``n_flows`` IPv4 TCP/UDP flows, seeded) for tests and benchmarks.

Traffic (docs/offload.md, "Traffic split"): a profile also records how packets spread over the
flow buckets of the classifier key (:mod:`cora.compiler.offload.traffic`): packets and distinct
keys per bucket, and the heaviest flows, so the partitioner can put hot flow groups on the NIC.

Counting: :class:`cora.compiler.interp.CountingInterpreter` counts block executions and
edges taken while running every op exactly as the reference engine does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cora.compiler.interp import CountingInterpreter
from cora.compiler.ir import Program
from cora.compiler.ir import semantics as sem
from cora.compiler.offload.traffic import (
    DEFAULT_HEAVY_K,
    DEFAULT_N_BUCKETS,
    ClassifierKey,
    classifier_key,
    flow_bucket,
    flow_key,
    key_words,
    log2_buckets,
)


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
        key_fields: the classifier key the traffic fields below are about (empty: none).
        n_buckets: flow buckets of the classifier hash (a power of two).
        bucket_packets: per bucket, packets whose key hashes there (same basis as
            ``block_count``: divide by ``packets_basis`` for a share); len ``n_buckets``.
        bucket_flows: per bucket, distinct classifier keys seen (the NIC entries that group
            needs per partitionable state); len ``n_buckets``.
        heavy_flows: the top-K keys by packets, ``(key values, packets)``, heaviest first.
        keyless_packets: packets without the key (e.g. non-IPv4): always the host path.
    """

    packets: int
    block_count: dict[str, float] = field(default_factory=dict)
    edge_count: dict[tuple[str, str], float] = field(default_factory=dict)
    state_count: dict[str, float] = field(default_factory=dict)
    source: str = "frames"
    packets_basis: float = 1.0
    key_fields: tuple[str, ...] = ()
    n_buckets: int = DEFAULT_N_BUCKETS
    bucket_packets: list[float] = field(default_factory=list)
    bucket_flows: list[int] = field(default_factory=list)
    heavy_flows: list[tuple[tuple[int, ...], float]] = field(default_factory=list)
    keyless_packets: float = 0.0

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

    @property
    def bucket_share(self) -> list[float]:
        """Per bucket, the fraction of all packets that hash there, in [0, 1]."""
        n = self.packets_basis or 1.0
        return [v / n for v in self.bucket_packets]

    def to_json(self) -> dict:
        """A JSON-ready dict (edges as ``"from->to"`` keys); the traffic fields under
        ``"traffic"`` (counts, not shares: ``bucket_packets``, ``bucket_flows``,
        ``heavy_flows`` as ``[[key values], packets]``, ``keyless_packets``)."""
        return {"packets": self.packets, "source": self.source,
                "packets_basis": self.packets_basis,
                "block_freq": self.block_freq,
                "edge_freq": {f"{a}->{b}": v for (a, b), v in self.edge_freq.items()},
                "state_access": self.state_access,
                "traffic": {"key_fields": list(self.key_fields), "n_buckets": self.n_buckets,
                            "bucket_packets": list(self.bucket_packets),
                            "bucket_flows": list(self.bucket_flows),
                            "heavy_flows": [[list(k), p] for k, p in self.heavy_flows],
                            "keyless_packets": self.keyless_packets}}

    @classmethod
    def from_json(cls, data: dict) -> Profile:
        """Inverse of :meth:`to_json` (frequencies become counts over ``packets_basis``).

        Raises:
            KeyError, TypeError, ValueError: a malformed dict.
        """
        n = float(data.get("packets_basis", data.get("packets") or 1.0)) or 1.0
        edges = {}
        for k, v in data.get("edge_freq", {}).items():
            a, b = k.split("->")
            edges[(a, b)] = float(v) * n
        t = data.get("traffic") or {}
        return cls(packets=int(data["packets"]),
                   block_count={k: float(v) * n for k, v in data["block_freq"].items()},
                   edge_count=edges,
                   state_count={k: float(v) * n for k, v in data.get("state_access", {}).items()},
                   source=str(data.get("source", "frames")), packets_basis=n,
                   key_fields=tuple(t.get("key_fields", ())),
                   n_buckets=int(t.get("n_buckets", DEFAULT_N_BUCKETS)),
                   bucket_packets=[float(x) for x in t.get("bucket_packets", [])],
                   bucket_flows=[int(x) for x in t.get("bucket_flows", [])],
                   heavy_flows=[(tuple(int(v) for v in k), float(p))
                                for k, p in t.get("heavy_flows", [])],
                   keyless_packets=float(t.get("keyless_packets", 0.0)))


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


class _TrafficCounter:
    """Packets and distinct keys per flow bucket, and packets per key (for heavy flows)."""

    def __init__(self, key_fields: tuple[str, ...], n_buckets: int):
        log2_buckets(n_buckets)
        self.key_fields = key_fields
        self.n_buckets = n_buckets
        self.widths = ClassifierKey(key_fields).widths
        self.per_key: Counter[tuple[int, ...]] = Counter()
        self.keyless = 0

    def add(self, frame: bytes) -> None:
        key = flow_key(frame, self.key_fields)
        if key is None:
            self.keyless += 1
        else:
            self.per_key[key] += 1

    def fill(self, profile: Profile, heavy_k: int) -> None:
        packets = [0.0] * self.n_buckets
        flows = [0] * self.n_buckets
        for key, n in self.per_key.items():
            b = flow_bucket(key_words(key, self.widths), self.n_buckets)
            packets[b] += n
            flows[b] += 1
        profile.key_fields = self.key_fields
        profile.n_buckets = self.n_buckets
        profile.bucket_packets = packets
        profile.bucket_flows = flows
        profile.heavy_flows = [(k, float(n)) for k, n in
                               sorted(self.per_key.items(), key=lambda kv: (-kv[1], kv[0]))
                               [:heavy_k]]
        profile.keyless_packets = float(self.keyless)


def profile_from_frames(program: Program,
                        frames: Iterable[bytes | tuple[int, bytes]],
                        key_fields: Sequence[str] | None = None,
                        n_buckets: int = DEFAULT_N_BUCKETS,
                        heavy_k: int = DEFAULT_HEAVY_K) -> Profile:
    """Profile ``program`` on real frames with the reference interpreter.

    Args:
        program: a verified IR program.
        frames: Ethernet frames, each ``bytes`` or ``(timestamp_ns, bytes)`` (as
            ``cora.testbed.replay.read_pcap`` returns); the timestamp is ``now()``.
        key_fields: classifier key for the traffic fields (default
            :func:`cora.compiler.offload.traffic.classifier_key` of ``program``).
        n_buckets: flow buckets (a power of two).
        heavy_k: how many of the heaviest keys to keep in ``heavy_flows``.
    Returns:
        a :class:`Profile` with ``packets`` = number of frames; frequencies are
        executions / packets; traffic fields filled.
    Raises:
        IRError: the program breaks an IR rule.
        TrafficError: bad ``key_fields`` or ``n_buckets``.
    """
    interp = CountingInterpreter(program)
    fields = tuple(key_fields) if key_fields is not None else classifier_key(program).fields
    counter = _TrafficCounter(fields, n_buckets)
    n = 0
    for item in frames:
        if isinstance(item, tuple):
            ts, frame = item
        else:
            ts, frame = 0, item
        frame = bytes(frame)
        counter.add(frame)
        interp.run(frame, now_ns=ts)
        n += 1
    bc: dict[str, float] = dict(interp.block_count)
    prof = Profile(packets=n, block_count=bc, edge_count=dict(interp.edge_count),
                   state_count=_state_counts(program, bc), source="frames",
                   packets_basis=float(n))
    counter.fill(prof, heavy_k)
    return prof


def synthetic_profile(program: Program, n_buckets: int = DEFAULT_N_BUCKETS,
                      n_flows: int = 65536) -> Profile:
    """Expected block and edge frequencies when every ``br`` goes either way with
    probability 1/2 (no trace given). The entry block has frequency 1; frequencies flow
    along the CFG in topological order.

    Traffic fields (assumed, no trace): the key of
    :func:`cora.compiler.offload.traffic.classifier_key`, every packet keyed, packets and
    ``n_flows`` flows spread evenly over ``n_buckets`` buckets, no heavy flows.
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
    bits = log2_buckets(n_buckets)
    per = -(-n_flows // (1 << bits))
    return Profile(packets=0, block_count=freq, edge_count=edges,
                   state_count=_state_counts(program, freq), source="synthetic",
                   packets_basis=1.0, key_fields=classifier_key(program).fields,
                   n_buckets=n_buckets, bucket_packets=[1.0 / n_buckets] * n_buckets,
                   bucket_flows=[per] * n_buckets)


# ------------------------------------------------------------------------ skewed traffic

def zipf_weights(n_flows: int, s: float) -> list[float]:
    """Zipf popularity: flow of rank ``r`` (1-based) has weight ``1 / r**s``, normalised to
    sum 1 (Zipf's law; s around 1 fits flow sizes on Internet links, e.g. Sarrar et al.,
    "Leveraging Zipf's law for traffic offloading", CCR 2012)."""
    if n_flows < 1 or s < 0:
        raise ValueError("zipf_weights: n_flows >= 1 and s >= 0")
    w = [1.0 / (r + 1) ** s for r in range(n_flows)]
    total = sum(w)
    return [x / total for x in w]


def ipv4_frame(src: int, dst: int, proto: int, sport: int, dport: int,
                size_bytes: int, tcp_flags: int = 0x10) -> bytes:
    """Ethernet/IPv4/TCP-or-UDP frame of ``size_bytes`` (>= 54), header checksum set; the
    L4 checksum is 0 (UDP: none; TCP: not checked by any NF). ``tcp_flags``: the TCP flags
    byte (default 0x10, ACK; 0x02 is a SYN)."""
    eth = bytes.fromhex("020000000002" "020000000001") + (0x0800).to_bytes(2, "big")
    l4 = (sport.to_bytes(2, "big") + dport.to_bytes(2, "big") +
          ((1).to_bytes(4, "big") + (0).to_bytes(4, "big") + bytes([0x50, tcp_flags]) +
           (65535).to_bytes(2, "big") + bytes(4) if proto == 6 else
           (size_bytes - 34).to_bytes(2, "big") + bytes(2)))
    total = size_bytes - 14
    ip = bytearray(bytes([0x45, 0]) + total.to_bytes(2, "big") + bytes(4) +
                   bytes([64, proto]) + bytes(2) + src.to_bytes(4, "big") + dst.to_bytes(4, "big"))
    ip[10:12] = sem.internet_checksum(bytes(ip)).to_bytes(2, "big")
    frame = eth + bytes(ip) + l4
    return frame + bytes(size_bytes - len(frame))


def zipf_frames(n_flows: int, s: float, n_packets: int, seed: int = 1,
                size_bytes: int = 64, src_net: int = 0x0A000000, dst_net: int = 0x0AD30000,
                start_ns: int = 1_000_000_000, gap_ns: int = 1000) -> list[tuple[int, bytes]]:
    """A skewed synthetic mix: ``n_packets`` frames whose flows are drawn with Zipf
    popularity (:func:`zipf_weights`, parameter ``s``) over ``n_flows`` distinct IPv4 5-tuples
    (2/3 TCP ACK, 1/3 UDP; sources in ``src_net``/8, destinations in ``dst_net``/16).
    Deterministic for a given ``seed`` (numpy's PCG64).

    Returns:
        ``[(timestamp_ns, frame), ...]``, timestamps ``start_ns + i * gap_ns``.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    flows: list[tuple[int, int, int, int, int]] = []
    seen: set[tuple[int, ...]] = set()
    while len(flows) < n_flows:
        f = (src_net | int(rng.integers(1, 1 << 24)), dst_net | int(rng.integers(1, 1 << 16)),
             6 if rng.random() < 2 / 3 else 17, int(rng.integers(1024, 65536)),
             int(rng.integers(1, 65536)))
        if f not in seen:
            seen.add(f)
            flows.append(f)
    built = [ipv4_frame(*f, size_bytes) for f in flows]
    picks = rng.choice(n_flows, size=n_packets, p=np.array(zipf_weights(n_flows, s)))
    return [(start_ns + i * gap_ns, built[int(k)]) for i, k in enumerate(picks)]


def zipf_profile(program: Program, n_flows: int = 10_000, s: float = 1.1,
                 n_packets: int = 50_000, seed: int = 1, n_buckets: int = DEFAULT_N_BUCKETS,
                 heavy_k: int = DEFAULT_HEAVY_K) -> Profile:
    """:func:`profile_from_frames` of ``program`` on :func:`zipf_frames` (the skewed
    synthetic mix; parameters as there)."""
    return profile_from_frames(program, zipf_frames(n_flows, s, n_packets, seed),
                               n_buckets=n_buckets, heavy_k=heavy_k)


def zipf_flow_groups(profile: Profile, n_flows: int, s: float,
                     heavy_k: int = DEFAULT_HEAVY_K) -> Profile:
    """``profile`` with its traffic fields replaced by the ANALYTIC flow groups of a Zipf(s)
    mix over ``n_flows`` active flows (no packets simulated, so 1M-10M flows are cheap);
    block, edge and state frequencies are kept (take them from a packet profile of a
    smaller Zipf mix, :func:`zipf_profile`).

    Flow of rank ``r`` (1-based) carries ``r**-s / H(n_flows, s)`` of the packets
    (:func:`zipf_weights`). The top ``heavy_k`` flows get synthetic, distinct keys (each key
    field ``(r x 0x9E3779B1 + i x 0x85EBCA6B) mod 2**width``) and are placed in their hash
    bucket (:func:`cora.compiler.offload.traffic.flow_bucket`); the other flows are spread
    evenly over the buckets (their expected share under a uniform hash: a bucket of 1M/256
    flows deviates by about 1/sqrt(3,900) = 1.6%). Every packet has the key.

    Raises:
        ValueError: ``n_flows < 1``, ``s < 0``, or a key too narrow for ``n_flows`` flows.
    """
    import numpy as np

    if n_flows < 1 or s < 0:
        raise ValueError("zipf_flow_groups: n_flows >= 1 and s >= 0")
    widths = ClassifierKey(profile.key_fields).widths
    if sum(widths) < 64 and n_flows > (1 << sum(widths)):
        raise ValueError(f"zipf_flow_groups: a {sum(widths)}-bit key has fewer than "
                         f"{n_flows} values")
    total = 0.0
    for a in range(1, n_flows + 1, 1 << 20):
        ranks = np.arange(a, min(n_flows, a + (1 << 20) - 1) + 1, dtype=np.float64)
        total += float(np.sum(ranks ** -s))
    k = min(heavy_k, n_flows)
    n = profile.n_buckets
    packets = [0.0] * n
    flows = [0] * n
    heavy: list[tuple[tuple[int, ...], float]] = []
    for r in range(1, k + 1):
        key = tuple((r * 0x9E3779B1 + i * 0x85EBCA6B) % (1 << w) for i, w in enumerate(widths))
        c = float(r) ** -s / total
        b = flow_bucket(key_words(key, widths), n)
        packets[b] += c
        flows[b] += 1
        heavy.append((key, c))
    rest_share = max(0.0, 1.0 - sum(c for _, c in heavy))
    rest_flows = n_flows - k
    for b in range(n):
        packets[b] += rest_share / n
        flows[b] += rest_flows // n + (1 if b < rest_flows % n else 0)
    profile.bucket_packets = packets
    profile.bucket_flows = flows
    profile.heavy_flows = heavy
    profile.keyless_packets = 0.0
    profile.source = f"{profile.source}; flow groups: analytic Zipf(s={s:g}) over {n_flows} flows"
    return profile
