"""The offload partitioner: an exact CP-SAT model placing IR blocks and state on stages.

Contract: docs/offload.md. Stages, in the order a packet meets them and never goes back:
``nic`` (0) -> ``kernel`` (1, host XDP) -> ``user`` (2, host user space over AF_XDP). The unit
of placement is an IR basic block; each state object sits on one stage (and on a NIC in one
memory tier), except read-only state (no op of the program writes it: lpm rule tables, Maglev
tables), which is replicated on every stage that reads it.

Cost model (all figures from the stage models, :mod:`cora.compiler.offload.stage_model`; none here)
-----------------------------------------------------------------------------------
Frequencies come from a :class:`cora.compiler.offload.profile.Profile` (fraction of packets
executing a block / taking an edge).

- Block ``b`` on stage ``k``: ``freq(b) * sum_op (op_cost_ns[k][class] + map_cost_ns[k][kind]
  for map.lookup/update/delete)``; plus, for every op touching state memory (map.*,
  ref.load/store), the ``access_ns`` of the tier holding that state on ``k``.
- Crossing edge ``u -> v`` from stage ``a`` to ``c > a``: ``edge_freq * (crossing_ns[c] +
  shim_byte_ns[c] * shim_bytes(v))`` on the receiving stage ``c``; ``shim_bytes(v) = 2 +
  sum c_bytes(width)`` over the registers live on entry to ``v`` (resume block id u16 first).
  A crossing where an entry reference (``ref<S>``) is live is not allowed (a pointer into a
  map cannot leave its stage), nor one whose shim exceeds either side's ``max_shim_bytes``.
- Per packet: the NIC stage pays ``per_packet_ns`` for every packet when the entry block is
  there; the host kernel pays its ``per_packet_ns`` for every frame reaching the host whenever
  any host stage is used (an XDP program is then attached and sees every frame, also frames
  only in transit to user space), i.e. all frames except those the NIC stage ended with drop,
  tx or redirect; user space pays its ``per_packet_ns`` per packet arriving there.
  Under a traffic split the host program is always attached (the host path runs there).
  A frame the NIC ends with ``pass`` while the host program is attached carries the 2-byte
  done shim: besides ``per_packet_ns`` the host pays its pop, charged as a crossing with a
  2-byte shim (:meth:`Problem.done_units`). Frames the NIC ends with ``pass`` while no host
  stage is used reach the host stack without running any cora program (cost 0, as in every
  plan, since the all-on-host NF passes them to the stack too).
- ``host_ns`` = kernel + user stage ns/packet; ``host_cores = R * host_ns / 1e3`` (R in Mpps);
  ``nic_utilization = R * nic_ns / (1e3 * nic.cores)`` (docs/offload.md).

Every figure is computed in integer units of 1/:data:`UNITS_PER_NS` ns per term (each term
rounded once), and the solver, the baselines and :meth:`Problem.evaluate` sum the same
integers, so plans compare exactly.

Constraints: monotone stages on every CFG edge (edge variables ``z[e][a,c]``, ``a <= c``, a
flow linearisation: ``x[u][a] = sum_c z``, ``x[v][c] = sum_a z``); op classes, verdicts and
state kinds each stage supports; ``max_map_entries``, ``max_maps``; tier capacities
(``cora.compiler.offload.stage_model.state_mem_bytes``: capacity x (key + value bytes), no
per-entry overhead), ``max_maps`` and ``max_map_entries`` (summed over a stage's maps); an
instruction estimate per stage (:func:`estimate_insns`, checked against clang's output) against
``max_instructions``; the shim limit; NIC utilisation <= 1 at the target rate.

Modes: ``rate_mpps=R`` minimises host ns/packet (hence host cores at R) subject to the NIC
sustaining R (and, if ``cores`` is also given, host cores <= cores). ``cores=C`` alone
maximises the rate: the rate a plan sustains is ``min(C*1e3/host_ns, nic.cores*1e3/nic_ns)``,
so the model minimises ``max(host_ns * nic.cores, nic_ns * C)`` exactly (a linear minimax,
no parametric search); ``C = 0`` requires the host to be unused.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from cora.compiler.ir import IntType, Program, RefType, c_bytes
from cora.compiler.offload.profile import Profile
from cora.compiler.offload.traffic import (
    HASH_STEPS,
    ClassifierKey,
    TrafficSplit,
    classifier_key,
    no_eviction_states,
    partitionable_state,
)
from cora.errors import InputError

STAGES = ("nic", "kernel", "user")
NIC, KERNEL, USER = 0, 1, 2
UNITS_PER_NS = 10_000
# Estimated eBPF instructions per IR op, by op class, plus INSNS_PER_OPERAND per key/operand
# of map calls and hash (key set-up on the stack, mixing). The figures were set against
# clang's eBPF output for the whole NF library (``python bench/partition.py --insns``:
# generated C compiled by bcc, instructions = bytecode bytes / 8): the instruction count
# divided by the unscaled estimate ranged 0.71 to 1.02 over the seven NFs (2026-11-21); with
# INSNS_SAFETY = 1.05 it is 0.67 to 0.97, never below the compiled count. The estimate of a
# stage is the sum over its blocks; it is compared with the stage's ``max_instructions``.
INSNS_PER_OP: dict[str, float] = {
    "move": 1, "alu": 1.5, "branch": 1.5, "mul": 2, "div": 4, "parse": 4, "pkt_read": 6,
    "pkt_write": 40, "helper": 3, "hash": 10, "map_lookup": 6, "map_read": 2,
    "map_write": 2, "map_update": 10, "map_delete": 6,
}
INSNS_PER_OPERAND = 4
INSNS_SAFETY = 1.05
_OPERAND_CLASSES = ("map_lookup", "map_update", "map_delete", "hash")


def estimate_insns(ops) -> int:
    """Estimated eBPF instructions of a sequence of IR ops (see :data:`INSNS_PER_OP`)."""
    total = 0.0
    for op in ops:
        cls = op.op_class
        total += INSNS_PER_OP.get(cls, 4)
        if cls in _OPERAND_CLASSES:
            total += INSNS_PER_OPERAND * len(op.args)
    return int(math.ceil(total * INSNS_SAFETY))


#: resolution of a flow group's packet share: shares are integers in units of 1/SHARE_UNITS
#: of the profile's packets (each group rounded once; the plan's share denominator is the sum
#: of the rounded group units, so shares of all groups add up exactly).
SHARE_UNITS = 10_000
#: heavy-flow candidates the optimizer decides one by one: with at most this many candidates
#: (the profile's top flows, at most the table's capacity) each is a group of its own; with
#: more, the candidates are grouped by popularity rank (:func:`rank_groups`), so a table of
#: thousands of entries costs a few booleans.
MAX_HEAVY_CANDIDATES = 64
#: exact-match heavy-flow table entries when the NIC model gives no
#: ``classifier_exact_entries``: 4,096, a modelled assumption (a small exact table in the
#: NIC's fastest memory tier, where its keys are charged: 4,096 x 16 B = 64 KiB, the Agilio
#: CLS; no public figure for the nfp/BlueField eBPF offload).
HEAVY_TABLE_ENTRIES = 4096


def rank_groups(n: int, first: int = 8) -> list[tuple[int, int]]:
    """Half-open rank ranges ``[a, b)`` covering ``0..n-1``: one per candidate when
    ``n <= MAX_HEAVY_CANDIDATES``, else doubling ranges ``[0, first), [first, 2 first), ...``
    (the top flows carry most packets under Zipf, so finer groups matter most at the top)."""
    if n <= MAX_HEAVY_CANDIDATES:
        return [(j, j + 1) for j in range(n)]
    out, a, b = [], 0, first
    while a < n:
        out.append((a, min(b, n)))
        a, b = b, 2 * b
    return out


#: bytes of the host-path shim (a u16 path marker, as a resume block id): TRAFFIC_SPEC.md.
HOST_PATH_SHIM_BYTES = 2

CONSTRAINT_GROUPS = ("capability", "nic_memory", "instructions", "shim", "nic_rate",
                     "host_budget")
_MEM_OPS = ("map.lookup", "map.update", "map.delete", "ref.load", "ref.store")
_LEAVES_HOST = ("drop", "tx", "redirect")
#: Bytes of the "done" shim a frame the NIC ended with pass carries to the host (the resume
#: id SHIM_DONE alone, :mod:`cora.compiler.offload.split`).
DONE_SHIM_BYTES = 2


class PartitionError(InputError):
    """The partition problem cannot be set up (a stage model lacks a figure it needs).

    An :class:`~cora.errors.InputError`: the stage model file the user gave is incomplete.
    """


# ------------------------------------------------------------------------------- the plan

@dataclass
class Plan:
    """Where every block and state object goes.

    Attributes:
        block_stage: block label -> stage name (``nic``/``kernel``/``user``).
        state_place: state name -> list of ``(stage, tier)``; one pair for a state that is
            written by the program, one per reading stage for a replicated read-only state.
        shim: per crossing edge ``{"from", "to", "from_stage", "to_stage", "resume_block",
            "registers": [{"name", "width", "bytes"}], "bytes"}``: the shim is the resume
            block id (u16) then the registers live into the target block, in this order,
            each ``c_bytes(width)`` bytes; ``bytes`` = 2 + their sum.
        read_only: states the program never writes (replicable).
        stage_models: stage -> name of the stage model the plan was made with.
        traffic: the flow classifier's split (:class:`TrafficSplit`): packets of the NIC
            flow groups take the block cut above (the NIC path), every other packet runs the
            whole NF on the host (the host path). None: every packet takes the cut.
    """

    block_stage: dict[str, str]
    state_place: dict[str, list[tuple[str, str]]]
    shim: list[dict] = field(default_factory=list)
    read_only: list[str] = field(default_factory=list)
    stage_models: dict[str, str] = field(default_factory=dict)
    traffic: TrafficSplit | None = None

    def to_json(self) -> dict:
        """JSON-ready dict: ``blocks`` (label -> stage), ``states`` (name -> ``stage``,
        ``tier``, ``read_only``, ``replicated``, ``replicas`` [{stage, tier}]), ``shim`` (see
        the class doc) and ``stage_models`` (stage -> model name)."""
        states = {}
        for name, places in self.state_place.items():
            states[name] = {"stage": places[0][0], "tier": places[0][1],
                            "read_only": name in self.read_only,
                            "replicated": len(places) > 1,
                            "replicas": [{"stage": s, "tier": t} for s, t in places]}
        return {"blocks": dict(self.block_stage), "states": states, "shim": list(self.shim),
                "stage_models": dict(self.stage_models),
                "traffic": None if self.traffic is None else self.traffic.to_json()}

    @classmethod
    def from_json(cls, data: dict) -> Plan:
        """Inverse of :meth:`to_json`. Raises KeyError/TypeError on a malformed dict."""
        places = {n: [(r["stage"], r["tier"]) for r in s["replicas"]]
                  for n, s in data["states"].items()}
        ro = [n for n, s in data["states"].items() if s.get("read_only")]
        tr = data.get("traffic")
        return cls(dict(data["blocks"]), places, list(data.get("shim", [])), ro,
                   dict(data.get("stage_models", {})),
                   None if tr is None else TrafficSplit.from_json(tr))


@dataclass
class Evaluation:
    """Figures of one plan under one problem.

    ``host_units`` and ``nic_units`` are integer cost units (see UNITS_PER_NS) summed over
    the profile's packet share units: ns per packet = units / (``scale`` x UNITS_PER_NS),
    ``scale`` = :attr:`Problem.q` (1 without flow groups). Plans of one problem compare
    exactly on these integers.
    """

    host_units: int
    nic_units: int
    violations: dict[str, list[str]]
    scale: int = 1
    nic_path_share: float = 1.0

    @property
    def host_ns_per_packet(self) -> float:
        return self.host_units / (self.scale * UNITS_PER_NS)

    @property
    def nic_ns_per_packet(self) -> float:
        return self.nic_units / (self.scale * UNITS_PER_NS)

    @property
    def feasible(self) -> bool:
        return not any(self.violations.values())


@dataclass
class PlanResult:
    """What :func:`plan` found.

    Attributes:
        plan: the :class:`Plan` (None when infeasible).
        mode: ``"cores"`` (minimise host cores at ``rate_mpps``) or ``"rate"``.
        rate_mpps: the target rate (mode cores) or the highest rate reached (mode rate).
        host_cores: predicted host cores at ``rate_mpps``.
        nic_utilization: predicted NIC load at ``rate_mpps`` (<= 1 when feasible).
        host_ns_per_packet, nic_ns_per_packet: predicted stage costs (modelled).
        optimal: CP-SAT proved the plan optimal.
        gap: relative optimality gap ``(objective - bound) / objective`` (0 when optimal).
        solve_seconds: wall time of building and solving the CP-SAT model, s.
        status: CP-SAT status name.
        infeasible_reason: the binding constraint in words when no plan exists, else None.
        nic_path_share: share of packets taking the NIC path (1 without a traffic split).
    """

    plan: Plan | None
    mode: str
    rate_mpps: float | None
    host_cores: float | None
    nic_utilization: float | None
    host_ns_per_packet: float | None
    nic_ns_per_packet: float | None
    optimal: bool
    gap: float | None
    solve_seconds: float
    status: str
    infeasible_reason: str | None = None
    nic_path_share: float | None = None


# --------------------------------------------------------------------- model field access

def _get(model: Any, name: str, default: Any = None) -> Any:
    if isinstance(model, dict):
        return model.get(name, default)
    return getattr(model, name, default)


def _tiers(model: Any) -> list[tuple[str, int, float]]:
    out = []
    for t in _get(model, "tiers", None) or []:
        size = _get(t, "mem_bytes", None)
        out.append((str(_get(t, "name")), int(size if size is not None else _get(t, "bytes")),
                    float(_get(t, "access_ns"))))
    if not out:
        raise PartitionError(f"stage model {_get(model, 'name')} has no memory tier")
    return out


def _charged(block) -> list:
    """``(op, charged op class or None)`` for the ops of ``block``, as the stage models
    charge them (:func:`cora.compiler.offload.stage_model.charged_ops`)."""
    from cora.compiler.offload import stage_model as tm
    fn = getattr(tm, "charged_ops", None)
    return fn(block) if fn is not None else [(op, op.op_class) for op in block.ops]


def _u(ns: float) -> int:
    """ns -> integer cost units (rounded once per term)."""
    return int(round(ns * UNITS_PER_NS))


# ------------------------------------------------------------------------------ liveness

def live_in(program: Program) -> dict[str, list[str]]:
    """Registers live on entry to each reachable block, in a fixed order (program.regs order).

    Standard backward liveness on the acyclic CFG: ``in(b) = use(b) | (out(b) - def(b))``.
    """
    order = program.topological_blocks()
    reg_order = {r: i for i, r in enumerate(program.regs)}
    use: dict[str, set] = {}
    defs: dict[str, set] = {}
    for b in order:
        u, d = set(), set()
        for op in b.ops:
            for a in op.args:
                if a not in d:
                    u.add(a)
            if op.dest is not None:
                d.add(op.dest)
        use[b.label], defs[b.label] = u, d
    live: dict[str, set] = {}
    for b in reversed(order):
        out = set()
        for s in b.successors():
            out |= live.get(s, set())
        live[b.label] = use[b.label] | (out - defs[b.label])
    return {k: sorted(v, key=reg_order.__getitem__) for k, v in live.items()}


# ------------------------------------------------------------------------------- problem

@dataclass
class _StageFacts:
    name: str
    model: Any
    tiers: list[tuple[str, int, float]]
    per_packet: int
    crossing_ns: float
    shim_byte_ns: float
    max_shim: int | None
    max_insns: int | None
    max_maps: int | None
    max_entries: int | None
    cores: float
    map_kinds: set | None


class Problem:
    """One partition problem: a program, three stage models and a profile, as integer tables.

    Args:
        program: a verified IR program.
        nic, kernel, user: stage models (``cora.compiler.offload.stage_model.StageModel`` or any
            object / dict with the fields of docs/offload.md).
        profile: a :class:`~cora.compiler.offload.profile.Profile` of ``program``.
    Raises:
        PartitionError: a model lacks a cost for an op class or state kind it claims to run.
    """

    def __init__(self, program: Program, nic: Any, kernel: Any, user: Any, profile: Profile):
        self.program = program
        self.profile = profile
        self.has_user = user is not None
        self.stages = [self._facts(m, i) for i, m in enumerate((nic, kernel,
                                                                 kernel if user is None else user))]
        self.order = program.topological_blocks()
        self.labels = [b.label for b in self.order]
        self.entry = self.labels[0]
        self.edges = sorted({(b.label, s) for b in self.order for s in b.successors()},
                            key=lambda e: (self.labels.index(e[0]), self.labels.index(e[1])))
        self.preds: dict[str, list[str]] = {lab: [] for lab in self.labels}
        for u, v in self.edges:
            self.preds[v].append(u)
        bf, ef = profile.block_freq, profile.edge_freq
        self.freq = {lab: bf.get(lab, 0.0) for lab in self.labels}
        self.edge_freq = {e: ef.get(e, 0.0) for e in self.edges}
        self.states = {s.name: s for s in program.states}
        written = {w for _, op in program.ops() for w in op.state_writes()}
        self.read_only = {n for n in self.states if n not in written}
        from cora.compiler.offload.stage_model import mergeable_counters
        #: counters the program only adds to (:func:`~cora.compiler.offload.stage_model.
        #: mergeable_counters`): each stage that adds to one holds its own copy (the control
        #: plane sums the copies, as it sums a percpu_array over CPUs)
        self.merged = frozenset(mergeable_counters(program))
        #: states that may be held on several stages: read-only ones (replicas) and merged
        #: counters (one copy per stage)
        self.replicable = frozenset(self.read_only) | self.merged
        from cora.compiler.offload.stage_model import state_mem_bytes
        self.state_bytes = {n: state_mem_bytes(s) for n, s in self.states.items()}
        # per block: op classes, verdict, states touched (memory ops per state), insns
        self.touch: dict[str, Counter] = {}
        self.touch_any: dict[str, set] = {}
        self.verdict: dict[str, str | None] = {}
        self.insns: dict[str, int] = {}
        self.classes: dict[str, set] = {}
        for b in self.order:
            c: Counter[str] = Counter()
            anyt: set[str] = set()
            for op in b.ops:
                st = op.state
                if st is not None:
                    anyt.add(st)
            for op, charge in _charged(b):     # tier accesses the model charges
                st = op.state
                if st is not None and charge is not None and op.opcode in _MEM_OPS:
                    c[st] += 1
            self.touch[b.label], self.touch_any[b.label] = c, anyt
            t = b.terminator
            self.verdict[b.label] = t.attrs.get("verdict") if t.opcode == "ret" else None
            self.insns[b.label] = estimate_insns(b.ops)
            self.classes[b.label] = {op.op_class for op in b.ops}
        self.touched_states = {st for lab in self.labels for st in self.touch_any[lab]}
        # ``rand`` advances one xorshift32 state (the IR's PRNG): every block that draws a
        # number runs on one stage, so a split program draws the same sequence as the whole.
        self.rand_blocks = [b.label for b in self.order
                            if any(op.opcode == "rand" for op in b.ops)]
        # states the NIC holds only as a table that never fills (Agilio: an lru_hash as a
        # hash), under a split whose NIC path is the heavy-flow table alone
        # (traffic.no_eviction_states); emptied when the profile allows no split
        self.key_fields = tuple(profile.key_fields or classifier_key(program).fields)
        exact = _get(self.stages[NIC].model, "classifier_exact_entries", None)
        self.heavy_table_entries = int(exact) if exact is not None else HEAVY_TABLE_ENTRIES
        self.nic_kinds: dict[str, str] = no_eviction_states(
            program, self.key_fields, self.stages[NIC].model, self.heavy_table_entries)
        from cora.compiler.offload.stage_model import inplace_alternatives
        #: in-place write block -> its insert block, which a NIC stage that refuses the
        #: in-place stores runs instead (``stage_model.inplace_alternatives``; split lowers
        #: the NIC stage so): on the NIC both run there, and the in-place block costs what
        #: its insert costs
        self.inplace_alt = {x: u for x, u in inplace_alternatives(program).items()
                            if not all(self.stages[NIC].model.supports_op(op, program)
                                       for op in program.block(x).ops)}
        self.block_cost = {lab: [self._block_cost(lab, k) for k in range(3)]
                           for lab in self.labels}
        # shim per edge target
        live = live_in(program)
        self.live = {lab: live.get(lab, []) for lab in self.labels}
        self.shim_bytes: dict[str, int] = {}
        self.ref_live: dict[str, bool] = {}
        for lab in self.labels:
            regs = self.live[lab]
            self.ref_live[lab] = any(isinstance(program.regs[r], RefType) for r in regs)
            self.shim_bytes[lab] = 2 + sum(c_bytes(rt.width) for r in regs
                                           if isinstance(rt := program.regs[r], IntType))
        # tier access units for a state on stage k tier t (all of its accesses)
        self.access_count = {n: 0.0 for n in self.states}
        for lab in self.labels:
            for st, n in self.touch[lab].items():
                self.access_count[st] += self.freq[lab] * n
        self._traffic_setup()

    # -- flow groups -----------------------------------------------------------------------

    def _traffic_setup(self) -> None:
        """Flow groups of the profile (TRAFFIC_SPEC.md): ``n_buckets`` hash buckets and the
        top heavy flows (exact-table candidates), as integer packet-share units.

        Sets ``traffic_ok`` (a traffic split is possible: the profile has per-bucket weights
        and the NIC can run the entry block), ``q`` (share denominator: the sum of the
        rounded group units; 1 without groups), ``bucket_units``/``bucket_flows`` (whole
        buckets, heavy flows included), ``heavy_keys``/``heavy_units``/``heavy_bucket``,
        ``partitionable`` (states split by flow group), ``entry_bytes`` (bytes per entry),
        ``classifier_units``/``heavy_lookup_units`` (NIC cost per packet of the classifier and
        of the exact-table lookup) and ``host_path_units`` (host cost of a host-path packet:
        the all-on-host plan plus the shim crossing).
        """
        prof, nic = self.profile, self.stages[NIC]
        self.traffic_ok, self.q = False, 1
        self.n_buckets = 0
        self.bucket_units: list[int] = []
        self.bucket_flows: list[int] = []
        self.heavy_keys: list[tuple[int, ...]] = []
        self.heavy_units: list[int] = []
        self.heavy_bucket: list[int] = []
        self.heavy_groups: list[tuple[int, int]] = []
        self.heavy_group_of: list[int] = []
        self.group_bucket: list[dict[int, tuple[int, int]]] = []  # bucket -> (units, flows)
        self.heavy_entry_bytes = 0
        self.partitionable = frozenset(partitionable_state(self.program, self.key_fields)) \
            - self.read_only
        self.entry_bytes = {n: self.state_bytes[n] // max(1, s.capacity)
                            for n, s in self.states.items()}
        bp = [float(v) for v in prof.bucket_packets]
        keyless = float(prof.keyless_packets)
        total = sum(bp) + keyless
        if not bp or sum(bp) <= 0 or self.block_can_run(self.entry, NIC):
            self.nic_kinds = {}
            return
        n = len(bp)
        bf = [int(v) for v in (prof.bucket_flows or [0] * n)]
        heavy = sorted(((tuple(int(w) for w in k), float(c)) for k, c in prof.heavy_flows),
                       key=lambda kc: (-kc[1], kc[0]))
        heavy = heavy[:self.heavy_table_entries]
        rest = list(bp)
        self.n_buckets = n
        probe = self.make_traffic([])
        for k, c in heavy:
            b = probe.bucket(k)
            rest[b] -= c
            self.heavy_keys.append(k)
            self.heavy_bucket.append(b)
            self.heavy_units.append(int(round(c / total * SHARE_UNITS)))
        # rank groups; a group's share per bucket is rounded once (solver and evaluate agree)
        self.heavy_groups = rank_groups(len(heavy))
        self.heavy_group_of = [g for g, (a, b) in enumerate(self.heavy_groups)
                               for _ in range(a, b)]
        for a, b in self.heavy_groups:
            per: dict[int, list[float]] = {}
            for j in range(a, b):
                acc = per.setdefault(self.heavy_bucket[j], [0.0, 0])
                acc[0] += heavy[j][1]
                acc[1] += 1
            self.group_bucket.append({bk: (int(round(c / total * SHARE_UNITS)), int(f))
                                      for bk, (c, f) in per.items()})
        self.bucket_units = [int(round(max(0.0, r) / total * SHARE_UNITS)) for r in rest]
        for gb_ in self.group_bucket:
            for bk, (u, _) in gb_.items():
                self.bucket_units[bk] += u
        # bytes of a heavy-table entry (the packed key, rounded up to 32-bit words: 16 for
        # the IPv4 5-tuple's 104 bits), charged to the
        # NIC's fastest tier
        self.heavy_entry_bytes = 4 * -(-sum(ClassifierKey(self.key_fields).widths) // 32)
        self.bucket_flows = bf
        # packets without the key (e.g. non-IPv4) always take the host path under a split
        self.keyless_units = int(round(keyless / total * SHARE_UNITS))
        self.q = sum(self.bucket_units) + self.keyless_units
        if sum(self.bucket_units) <= 0:
            self.q = 1
            self.nic_kinds = {}
            return
        self.traffic_ok = True
        oc = dict(_get(nic.model, "op_cost_ns", {}) or {})
        mc = dict(_get(nic.model, "map_cost_ns", {}) or {})
        fast = nic.tiers[0][2]
        # the classifier (cora.compiler.offload.traffic.flow_bucket, its HASH_STEPS): read
        # each key field; per 32-bit key word and at the end the hash steps (xor_word: one
        # ALU op; add_shl and xor_shr: two); the multiply and shift of Fibonacci hashing; one
        # array lookup of the bucket bitmap. The heavy-flow table adds one hash lookup.
        # Costs: the NIC model's own op and map costs, its fastest tier.
        widths = ClassifierKey(self.key_fields).widths
        words = sum(max(1, (w + 31) // 32) for w in widths)

        def alu_ops(steps) -> int:
            return sum(1 if st[0] == "xor_word" else 2 for st in steps)
        n_alu = words * alu_ops(HASH_STEPS["per_word"]) + alu_ops(HASH_STEPS["final"]) + 1
        cls_ns = (len(widths) * oc.get("pkt_read", 0.0) + n_alu * oc.get("alu", 0.0) +
                  oc.get("mul", 0.0) + oc.get("map_lookup", 0.0) +
                  mc.get("array", mc.get("hash", 0.0)) + fast)
        self.classifier_units = _u(cls_ns)
        self.heavy_lookup_units = _u(oc.get("map_lookup", 0.0) + mc.get("hash", 0.0) + fast)
        kern = self.stages[KERNEL]
        allh = self.make_plan(self.all_host_stages())
        self.host_path_units = self._cut_units(allh, None)[0][KERNEL] + \
            self._cut_units(allh, None)[0][USER] + \
            _u(kern.crossing_ns + kern.shim_byte_ns * HOST_PATH_SHIM_BYTES)

    def traffic_figures(self, ts: TrafficSplit) -> tuple[int, int, int]:
        """``(S, F, T)`` of a split: NIC-path packet share units (of :attr:`q`), NIC-resident
        flows (entries each partitionable NIC state needs) and heavy-table entries."""
        nb = frozenset(b for b in ts.nic_buckets if 0 <= b < self.n_buckets)
        share = sum(self.bucket_units[b] for b in nb)
        flows = sum(self.bucket_flows[b] for b in nb)
        index = {k: j for j, k in enumerate(self.heavy_keys)}
        chosen = {index.get(tuple(k), -1) for k in ts.heavy_keys}
        whole = set()
        for g, (a, b) in enumerate(self.heavy_groups):
            if b - a > 1 and all(j in chosen for j in range(a, b)):
                whole.add(g)
                for bk, (u, f) in self.group_bucket[g].items():
                    if bk not in nb:
                        share += u
                        flows += f
        for k in ts.heavy_keys:
            j = index.get(tuple(k))
            if j is not None and self.heavy_group_of[j] in whole:
                continue
            b = self.heavy_bucket[j] if j is not None else ts.bucket(k)
            if b in nb:
                continue
            share += self.heavy_units[j] if j is not None else 0
            flows += 1
        return share, flows, len(ts.heavy_keys)

    def make_traffic(self, buckets, heavy=()) -> TrafficSplit:
        """A :class:`TrafficSplit` over this problem's key and buckets; with heavy keys, the
        table's capacity is the NIC's (:attr:`heavy_table_entries`)."""
        keys = tuple(tuple(k) for k in heavy)
        return TrafficSplit(self.key_fields, self.n_buckets, frozenset(buckets), keys,
                            self.heavy_table_entries if keys else 0)

    # -- set-up helpers ------------------------------------------------------------------

    @staticmethod
    def _facts(m: Any, idx: int) -> _StageFacts:
        def opt_set(name):
            v = _get(m, name, None)
            return None if v is None else set(v)

        def opt_int(name):
            v = _get(m, name, None)
            return None if v is None else int(v)
        return _StageFacts(
            name=STAGES[idx], model=m, tiers=_tiers(m),
            per_packet=_u(float(_get(m, "per_packet_ns", 0.0) or 0.0)),
            crossing_ns=float(_get(m, "crossing_ns", 0.0) or 0.0),
            shim_byte_ns=float(_get(m, "shim_byte_ns", 0.0) or 0.0),
            max_shim=opt_int("max_shim_bytes"), max_insns=opt_int("max_instructions"),
            max_maps=opt_int("max_maps"), max_entries=opt_int("max_map_entries"),
            cores=float(_get(m, "cores", 1) or 1),
            map_kinds=None if _get(m, "map_kinds", None) is None else
            set(m.map_kinds) | ({"devmap"} if _get(m, "multicast", False) else set()))

    def _block_cost(self, label: str, k: int) -> int:
        """Units of block ``label`` on stage ``k`` without tier access: the ops the model
        charges (:func:`cora.compiler.offload.stage_model.charged_ops`, as its ``block_cost_ns``
        does), each at the model's ``op_ns`` with a zero-latency tier; tier access is added per
        state placement (:meth:`tier_units`). Ops the stage cannot run are skipped (the
        block is then excluded anyway)."""
        from cora.compiler.offload.stage_model import MAP_OP_CLASSES, Tier
        model = self.stages[k].model
        zero = Tier("none", 0, 0.0)
        total = 0.0
        kinds = self.nic_kinds if k == NIC else None
        ran = self.inplace_alt.get(label, label) if k == NIC else label
        for op, charge in _charged(self.program.block(ran)):
            if charge is None or not model.supports_op(op, self.program, kinds):
                continue
            if op.op_class in MAP_OP_CLASSES and "state" in op.attrs:
                state = self.states[op.attrs["state"]]
                kind = (kinds or {}).get(state.name, state.kind)
                total += model.op_ns(op, kind, zero, key_bytes=state.key_bytes)
            elif charge == op.op_class:
                total += model.op_ns(op)
            else:
                total += model.op_ns(op, charge=charge)
        return _u(self.freq[label] * total)

    # -- capabilities --------------------------------------------------------------------

    def block_can_run(self, label: str, k: int) -> list[str]:
        """Why block ``label`` cannot run on stage ``k`` ([] when it can): each op the
        model's ``supports_op`` refuses (op class, opcode, verdict, state kind)."""
        model, why = self.stages[k].model, []
        if k == USER and not self.has_user:
            return ["no user-space stage model given"]
        kinds = getattr(self, "nic_kinds", None) if k == NIC else None
        ran = self.inplace_alt.get(label, label) if k == NIC else label
        for op in self.program.block(ran).ops:
            if not model.supports_op(op, self.program, kinds):
                what = op.opcode
                if op.opcode == "ret":
                    what = f"verdict {op.attrs.get('verdict')}"
                elif "state" in op.attrs:
                    what = f"{op.opcode} on {self.states[op.attrs['state']].kind} " \
                           f"{op.attrs['state']}"
                if what not in why:
                    why.append(what)
        return why

    def state_can_live(self, name: str, k: int) -> list[str]:
        """Why state ``name`` cannot be held on stage ``k`` ([] when it can)."""
        st, s, why = self.stages[k], self.states[name], []
        if k == USER and not self.has_user:
            return ["no user-space stage model given"]
        if st.map_kinds is not None and s.kind not in st.map_kinds and \
                not (k == NIC and name in self.nic_kinds):
            why.append(f"map kind {s.kind}")
        # a partitionable state under a traffic split needs only its NIC flows' entries on
        # the NIC: the stage's entry limit is checked on the plan's entry count instead
        if st.max_entries is not None and s.capacity > st.max_entries and \
                not (k == NIC and getattr(self, "traffic_ok", False) and
                     name in self.partitionable):
            why.append(f"{s.capacity} entries > {st.max_entries}")
        return why

    def tier_units(self, name: str, k: int, t: int, weight: float | None = None) -> int:
        """Cost units of all accesses to state ``name`` held in tier ``t`` of stage ``k``."""
        w = self.access_count[name] if weight is None else weight
        return _u(w * self.stages[k].tiers[t][2])

    def cross_units(self, edge: tuple[str, str], c: int) -> int:
        """Cost units of edge ``edge`` crossing into stage ``c`` (receiving stage pays)."""
        st = self.stages[c]
        v = edge[1]
        return _u(self.edge_freq[edge] * (st.crossing_ns + st.shim_byte_ns * self.shim_bytes[v]))

    def crossing_allowed(self, edge: tuple[str, str], a: int, c: int) -> list[str]:
        """Why edge ``edge`` cannot cross from stage ``a`` to ``c > a`` ([] when it can)."""
        v = edge[1]
        why = []
        if self.ref_live[v]:
            why.append(f"a map entry reference is live into {v}")
        lim = [m for m in (self.stages[a].max_shim, self.stages[c].max_shim) if m is not None]
        if lim and self.shim_bytes[v] > min(lim):
            why.append(f"shim into {v} needs {self.shim_bytes[v]} bytes > {min(lim)}")
        return why

    # -- evaluation ----------------------------------------------------------------------

    def evaluate(self, plan: Plan, rate_mpps: float | None = None,
                 cores: float | None = None) -> Evaluation:
        """Cost and constraint check of ``plan`` with exactly the solver's integer figures.

        With ``plan.traffic``: NIC-path share ``s = S/q`` (:meth:`traffic_figures`);
        host = ``(1 - s) x host_path + s x host part of the cut``; NIC = per-packet cost and
        classifier on every packet (+ the exact-table lookup when it has entries) + ``s x``
        the cut's NIC part beyond the per-packet cost. Partitionable NIC state needs
        ``min(F, capacity)`` entries; other written state must be on the host kernel stage.

        Returns:
            an :class:`Evaluation`; ``violations`` maps each group of
            :data:`CONSTRAINT_GROUPS` (plus ``"structure"``) to messages.
        """
        ts = plan.traffic
        q = self.q
        flows = None
        share = q
        table = 0
        if ts is not None and self.traffic_ok:
            share, flows, table = self.traffic_figures(ts)
        units, viol = self._cut_units(plan, flows, table * self.heavy_entry_bytes,
                                      host_attached=ts is not None and self.traffic_ok)
        cut_host, cut_nic = units[KERNEL] + units[USER], units[NIC]
        if ts is None:
            host, nic = q * cut_host, q * cut_nic
            for name, kind in self.nic_kinds.items():
                if any(st == "nic" for st, _ in plan.state_place.get(name, [])):
                    viol["capability"].append(
                        f"state {name} ({self.states[name].kind}) on the NIC as a {kind} "
                        "needs a traffic split of heavy flows only")
        elif not self.traffic_ok:
            viol["structure"].append("a traffic split needs a profile with flow buckets "
                                     "and a NIC that runs the entry block")
            host, nic = q * cut_host, q * cut_nic
        else:
            sidx = {s: i for i, s in enumerate(STAGES)}
            if plan.block_stage.get(self.entry) != "nic":
                viol["structure"].append("a traffic split needs the entry block on the NIC")
            for name in self.states:
                if name in self.replicable or name in self.partitionable:
                    continue
                if any(sidx[st] != KERNEL for st, _ in plan.state_place.get(name, [])):
                    viol["structure"].append(f"state {name} is not split by flow: on the "
                                             "host kernel stage under a traffic split")
            for name, kind in self.nic_kinds.items():
                if ts.nic_buckets and any(st == "nic" for st, _ in
                                          plan.state_place.get(name, [])):
                    viol["capability"].append(
                        f"state {name} ({self.states[name].kind}) on the NIC as a {kind} "
                        "needs the heavy-flow table alone (a bucket admits any number of "
                        "flows)")
            if table > self.heavy_table_entries:
                viol["nic_memory"].append(f"heavy-flow table: {table} entries > "
                                          f"{self.heavy_table_entries}")
            pp = self.stages[NIC].per_packet
            host = self.host_path_units * (q - share) + share * cut_host
            nic = share * cut_nic + pp * (q - share) + q * (
                self.classifier_units + (self.heavy_lookup_units if table else 0))
        if rate_mpps is not None and rate_mpps > 0:
            if nic > q * self.nic_limit_units(rate_mpps):
                util = rate_mpps * nic / q / UNITS_PER_NS / (1e3 * self.stages[NIC].cores)
                viol["nic_rate"].append(f"NIC utilisation {util:.2f} > 1 at {rate_mpps:g} Mpps")
            if cores is not None and host > q * self.host_limit_units(rate_mpps, cores):
                viol["host_budget"].append(
                    f"host needs {rate_mpps * host / q / UNITS_PER_NS / 1e3:.3f} cores > "
                    f"{cores:g}")
        if cores is not None and cores <= 0 and host > 0:
            viol["host_budget"].append("host stages used with a budget of 0 cores")
        return Evaluation(host, nic, {g: v for g, v in viol.items() if v}, q, share / q)

    def _cut_units(self, plan: Plan, flows: int | None,
                   table_bytes: int = 0, host_attached: bool = False) -> tuple[list[int], dict]:
        """Per-stage units of the plan's block cut (every packet taking it) and its
        violations; ``flows``: NIC-resident flows of a traffic split (None: whole maps);
        ``table_bytes``: the heavy-flow table's keys, in the NIC's fastest tier;
        ``host_attached``: the host runs its program on every frame it receives even if
        the cut puts no block there (a traffic split: the host path needs it)."""
        sidx = {s: i for i, s in enumerate(STAGES)}
        bs = {lab: sidx[plan.block_stage[lab]] for lab in self.labels}
        viol: dict[str, list[str]] = {g: [] for g in CONSTRAINT_GROUPS + ("structure",)}
        units = [0, 0, 0]
        for lab in self.labels:
            k = bs[lab]
            units[k] += self.block_cost[lab][k]
            for why in self.block_can_run(lab, k):
                viol["capability"].append(f"block {lab} on {STAGES[k]}: {why}")
        for x_l, u_l in self.inplace_alt.items():
            if bs[x_l] == NIC and bs[u_l] != NIC:
                viol["structure"].append(f"block {x_l} on the NIC runs as {u_l}: {u_l} on "
                                         "the NIC too")
        if len({bs[lab] for lab in self.rand_blocks}) > 1:
            viol["structure"].append("blocks using rand run on different stages")
        for (u, v) in self.edges:
            a, c = bs[u], bs[v]
            if c < a:
                viol["structure"].append(f"edge {u}->{v} goes back from {STAGES[a]} to "
                                         f"{STAGES[c]}")
            elif c > a:
                units[c] += self.cross_units((u, v), c)
                for why in self.crossing_allowed((u, v), a, c):
                    (viol["structure"] if "reference" in why else viol["shim"]).append(why)
        mem: dict[tuple[int, int], int] = {(NIC, 0): table_bytes} if table_bytes else {}
        nmaps: Counter[int] = Counter()
        nentries: Counter[int] = Counter()
        for name in self.states:
            places = [(sidx[s], self._tier_index(sidx[s], t)) for s, t in
                      plan.state_place.get(name, [])]
            if not places:
                viol["structure"].append(f"state {name} has no place")
                continue
            stages_of = {p[0] for p in places}
            users = {bs[lab] for lab in self.labels if name in self.touch_any[lab]}
            if name in self.replicable:
                for k in users - stages_of:
                    viol["structure"].append(f"replicable state {name} has no copy on "
                                             f"{STAGES[k]}")
                for k, t in places:
                    w = sum(self.freq[lab] * self.touch[lab][name] for lab in self.labels
                            if bs[lab] == k)
                    units[k] += self.tier_units(name, k, t, w)
            else:
                if len(places) != 1:
                    viol["structure"].append(f"state {name} is written: one place only")
                k, t = places[0]
                for ku in users - {k}:
                    viol["structure"].append(f"state {name} on {STAGES[k]} is used on "
                                             f"{STAGES[ku]}")
                units[k] += self.tier_units(name, k, t)
            for k, t in places:
                for why in self.state_can_live(name, k):
                    viol["capability"].append(f"state {name} on {STAGES[k]}: {why}")
                entries = self.states[name].capacity
                if flows is not None and k == NIC and name in self.partitionable:
                    entries = min(entries, flows)
                mem[(k, t)] = mem.get((k, t), 0) + (
                    self.state_bytes[name] if entries == self.states[name].capacity
                    else entries * self.entry_bytes[name])
                nmaps[k] += 1
                nentries[k] += entries
        for (k, t), used in sorted(mem.items()):
            tname, tbytes, _ = self.stages[k].tiers[t]
            if used > tbytes:
                viol["nic_memory" if k == NIC else "capability"].append(
                    f"{STAGES[k]} tier {tname}: {used} bytes > {tbytes}")
        for k in range(3):
            mm = self.stages[k].max_maps
            if mm is not None and nmaps[k] > mm:
                viol["nic_memory" if k == NIC else "capability"].append(
                    f"{STAGES[k]}: {nmaps[k]} maps > {mm}")
            me = self.stages[k].max_entries
            if me is not None and nentries[k] > me:
                viol["nic_memory" if k == NIC else "capability"].append(
                    f"{STAGES[k]}: {nentries[k]} map entries > {me}")
            mi = self.stages[k].max_insns
            ins = sum(self.insns[lab] for lab in self.labels if bs[lab] == k)
            if mi is not None and ins > mi:
                viol["instructions"].append(f"{STAGES[k]}: ~{ins} instructions > {mi}")
        # per packet
        if bs[self.entry] == NIC:
            units[NIC] += self.stages[NIC].per_packet
        if host_attached or any(k > NIC for k in bs.values()):
            pp = self.stages[KERNEL].per_packet
            units[KERNEL] += pp - sum(self.leave_units(lab) for lab in self.labels
                                      if bs[lab] == NIC and self.verdict[lab] in _LEAVES_HOST)
            units[KERNEL] += sum(self.done_units(lab) for lab in self.labels
                                 if bs[lab] == NIC and self.verdict[lab] == "pass")
        arrive_user = (1.0 if bs[self.entry] == USER else 0.0)
        units[USER] += self.user_arrive_units(arrive_user)
        for (u, v) in self.edges:
            if bs[v] == USER and bs[u] < USER:
                units[USER] += self.user_arrive_units(self.edge_freq[(u, v)])
        return units, viol

    def _tier_index(self, k: int, tname: str) -> int:
        for i, t in enumerate(self.stages[k].tiers):
            if t[0] == tname:
                return i
        raise KeyError(f"stage {STAGES[k]} has no tier {tname}")

    def leave_units(self, label: str) -> int:
        """Kernel per-packet units saved by frames ending in ``label`` on the NIC."""
        return _u(self.freq[label] * self.stages[KERNEL].per_packet / UNITS_PER_NS)

    def done_units(self, label: str) -> int:
        """Kernel units of the frames the NIC ends with ``pass`` in ``label`` while the host
        runs a program: they carry the 2-byte "done" shim, which the host program reads and
        strips (charged as a crossing with a 2-byte shim, the measured cost of reading a
        shim, stripping it and putting it back: an upper bound of the pop)."""
        kern = self.stages[KERNEL]
        return _u(self.freq[label] * (kern.crossing_ns + kern.shim_byte_ns * DONE_SHIM_BYTES))

    def user_arrive_units(self, fraction: float) -> int:
        return _u(fraction * self.stages[USER].per_packet / UNITS_PER_NS)

    def nic_limit_units(self, rate_mpps: float) -> int:
        """Largest NIC units per packet sustaining ``rate_mpps`` (utilisation <= 1)."""
        return int(math.floor(1e3 * self.stages[NIC].cores * UNITS_PER_NS / rate_mpps + 1e-9))

    def host_limit_units(self, rate_mpps: float, cores: float) -> int:
        """Largest host units per packet within ``cores`` at ``rate_mpps``."""
        return int(math.floor(1e3 * cores * UNITS_PER_NS / rate_mpps + 1e-9))

    # -- plan construction ---------------------------------------------------------------

    def make_plan(self, block_stage: dict[str, int],
                  state_tier: dict[str, int] | None = None,
                  traffic: TrafficSplit | None = None) -> Plan:
        """A complete :class:`Plan` from block stages (ints); states follow their blocks.

        Args:
            block_stage: label -> stage index for every reachable block.
            state_tier: optional state name -> tier index on its (NIC) stage; default: the
                fastest tier with room left (first fit in order of access count per byte).
            traffic: the plan's traffic split (partitionable NIC state then needs only the
                NIC flow groups' entries).
        """
        state_tier = dict(state_tier or {})
        flows = None if traffic is None or not self.traffic_ok else \
            self.traffic_figures(traffic)[1]
        need: dict[str, list[int]] = {}
        for name in self.states:
            users = sorted({block_stage[lab] for lab in self.labels
                            if name in self.touch_any[lab]})
            if not users:
                users = [KERNEL]
            if name not in self.replicable:
                users = users[:1] if len(users) == 1 else [max(users)]
            need[name] = users
        room = {(k, t): tier[1] for k in range(3) for t, tier in enumerate(self.stages[k].tiers)}
        places: dict[str, list[tuple[str, str]]] = {}
        density = sorted(self.states, key=lambda n: -self.access_count[n] /
                         max(1, self.state_bytes[n]))
        for name in density:
            pl = []
            for k in need[name]:
                tiers = self.stages[k].tiers
                size = self.nic_state_bytes(name, flows) if k == NIC else \
                    self.state_bytes[name]
                if k == NIC and name in state_tier:
                    t = state_tier[name]
                else:
                    t = next((i for i in range(len(tiers))
                              if room[(k, i)] >= size), len(tiers) - 1)
                room[(k, t)] -= size
                pl.append((STAGES[k], tiers[t][0]))
            places[name] = pl
        places = {n: places[n] for n in self.states}
        return Plan({lab: STAGES[block_stage[lab]] for lab in self.labels}, places,
                    self.shim_layout(block_stage), sorted(self.read_only), self.model_names(),
                    traffic)

    def nic_state_bytes(self, name: str, flows: int | None) -> int:
        """NIC bytes of state ``name``: the whole map, or under a traffic split with
        ``flows`` NIC-resident flows, ``min(flows, capacity)`` entries of a partitionable one."""
        if flows is None or name not in self.partitionable or \
                flows >= self.states[name].capacity:
            return self.state_bytes[name]
        return flows * self.entry_bytes[name]

    def model_names(self) -> dict[str, str]:
        """Stage -> name of its model (``user`` absent when no user-space model is given)."""
        out = {STAGES[k]: str(_get(st.model, "name")) for k, st in enumerate(self.stages)}
        if not self.has_user:
            del out["user"]
        return out

    def best_nic_tiers(self, block_stage: dict[str, int], max_combos: int = 20_000,
                       flows: int | None = None) -> dict[str, int] | None:
        """The NIC tier of every state held on the NIC under ``block_stage`` that fits the
        tier capacities with the least NIC access cost (enumeration, at most ``max_combos``
        assignments; None if none fits). Host cost does not depend on NIC tiers."""
        weight: dict[str, float] = {}
        for lab in self.labels:
            if block_stage[lab] != NIC:
                continue
            for n in self.touch_any[lab]:
                weight[n] = weight.get(n, 0.0) + self.freq[lab] * self.touch[lab][n]
        names = sorted(weight)
        key = (flows,) + tuple((n, round(weight[n], 12)) for n in names)
        cache = self.__dict__.setdefault("_tier_cache", {})
        if key in cache:
            return cache[key]
        tiers = self.stages[NIC].tiers
        best, best_cost = None, None
        for i, combo in enumerate(itertools.product(range(len(tiers)), repeat=len(names))):
            if i >= max_combos:
                break
            used = [0] * len(tiers)
            for n, t in zip(names, combo, strict=True):
                used[t] += self.nic_state_bytes(n, flows)
            if any(u > tiers[j][1] for j, u in enumerate(used)):
                continue
            max_maps = self.stages[NIC].max_maps
            if max_maps is not None and len(names) > max_maps:
                break
            cost = sum(self.tier_units(n, NIC, t, weight[n] if n in self.replicable else None)
                       for n, t in zip(names, combo, strict=True))
            if best_cost is None or cost < best_cost:
                best, best_cost = dict(zip(names, combo, strict=True)), cost
        cache[key] = best
        return best

    def shim_layout(self, block_stage: dict[str, int]) -> list[dict]:
        """Per crossing edge: the ordered shim registers (resume id u16 first, implicit)."""
        out = []
        for (u, v) in self.edges:
            a, c = block_stage[u], block_stage[v]
            if c > a:
                regs = [{"name": r, "width": t.width, "bytes": c_bytes(t.width)}
                        for r in self.live[v] if isinstance(t := self.program.regs[r], IntType)]
                out.append({"from": u, "to": v, "from_stage": STAGES[a], "to_stage": STAGES[c],
                            "resume_block": v, "registers": regs,
                            "bytes": self.shim_bytes[v]})
        return out

    def all_host_stages(self) -> dict[str, int]:
        """Every block on the host kernel, or user space from the first block the kernel
        cannot run (and everything after it)."""
        bs: dict[str, int] = {}
        for lab in self.labels:
            k = max([bs[p] for p in self.preds[lab]] + [KERNEL])
            if k == KERNEL and self.block_can_run(lab, KERNEL):
                k = USER
            bs[lab] = k
        return bs


# ------------------------------------------------------------------------------- CP-SAT

_TierLoads = dict[tuple[int, int], list]  # (stage, tier) -> [(bytes, placement var)]
_StageTerms = dict[int, list]              # stage -> linear terms


class _Model:
    """The CP-SAT model of one :class:`Problem` (built with some constraint groups relaxed)."""

    def __init__(self, pb: Problem, rate_mpps: float | None, cores: float | None,
                 relax: frozenset = frozenset(), rate_bound: int | None = None,
                 traffic: bool = True):
        """Build the model in named steps (the order of variables and constraints is the one
        the model always had, so the solver sees the same model).

        Args:
            pb: the partition problem.
            rate_mpps: target rate (Mpps) or None for the core-budget mode.
            cores: host core budget, or None.
            relax: constraint groups (:data:`CONSTRAINT_GROUPS`) left out (to explain
                infeasibility).
            rate_bound: core-budget mode, second (lexicographic) solve: the bottleneck
                value ``t`` of the first solve (the highest rate); the model then keeps
                ``t <= rate_bound`` and minimises host cost.
            traffic: allow traffic splits (flow groups) when the problem has them.
        """
        from ortools.sat.python import cp_model
        self.cp = cp_model
        self.pb, self.relax = pb, relax
        self.m = cp_model.CpModel()
        self.cap = "capability" not in relax
        self.rate_bound = rate_bound
        self._block_variables()
        self._edge_variables()
        self._traffic_variables(traffic)
        tier_load, maps_on, entries_on = self._state_placement()
        self._stage_limits(tier_load, maps_on, entries_on)
        self._one_prng_stage()
        self._throughput()
        self._traffic_costs()
        self._objective(rate_mpps, cores)

    def _block_variables(self) -> None:
        """Variables: ``x[label][stage]``, one stage per block (those it can run on)."""
        pb, m, cap, labels = self.pb, self.m, self.cap, self.pb.labels
        # blocks
        self.x: dict[str, dict[int, Any]] = {}
        for lab in labels:
            allowed = [k for k in range(3) if not (cap and pb.block_can_run(lab, k))]
            self.x[lab] = {k: m.new_bool_var(f"x_{lab}_{k}") for k in allowed}
            m.add_exactly_one(self.x[lab].values())
        for x_l, u_l in pb.inplace_alt.items():
            if NIC in self.x[x_l]:
                m.add(self.x[x_l][NIC] <= self.x[u_l].get(NIC, 0))

    def _edge_variables(self) -> None:
        """Variables: ``z[edge][(a, c)]``, the stages of an edge's ends (monotone: a packet
        only moves towards user space, and only where a crossing is allowed), tied to ``x``."""
        pb, m, relax = self.pb, self.m, self.relax
        # edges: monotone flow linearisation
        self.z: dict[tuple, dict[tuple[int, int], Any]] = {}
        for e in pb.edges:
            u, v = e
            zs = {}
            for a in self.x[u]:
                for c in self.x[v]:
                    if c < a:
                        continue
                    if c > a:
                        why = pb.crossing_allowed(e, a, c)
                        if "shim" in relax:
                            why = [w for w in why if "reference" in w]
                        if why:
                            continue
                    zs[(a, c)] = m.new_bool_var(f"z_{u}_{v}_{a}{c}")
            self.z[e] = zs
            for a, xv in self.x[u].items():
                m.add(sum(zz for (aa, _), zz in zs.items() if aa == a) == xv)
            for c, xv in self.x[v].items():
                m.add(sum(zz for (_, cc), zz in zs.items() if cc == c) == xv)

    def _traffic_variables(self, enabled: bool) -> None:
        """Flow groups: ``tsplit`` (a traffic split is used), ``g[b]`` (bucket ``b`` takes the
        NIC path), ``h[j]`` (heavy flow ``j`` in the exact table; never together with its
        bucket, which already covers it), ``S`` (NIC-path share units: ``q`` without a split),
        ``F`` (NIC-resident flows), ``hv`` (the exact table is used). A split needs the entry
        block on the NIC, and every written state not split by flow on the host kernel stage
        (both paths share it)."""
        pb, m = self.pb, self.m
        self.tsplit: Any = None
        if not (enabled and pb.traffic_ok and NIC in self.x[pb.entry]):
            return
        ts = self.tsplit = m.new_bool_var("tsplit")
        m.add_implication(ts, self.x[pb.entry][NIC])
        # Buckets with equal (share units, flows) and no heavy candidate are interchangeable:
        # one integer per such class (how many of them take the NIC path; the lowest bucket
        # numbers are taken) instead of one boolean each, which removes the symmetry
        # (a synthetic profile's buckets are all alike) without changing the optimum.
        heavy_b = set(pb.heavy_bucket)
        classes: dict[tuple[int, int], list[int]] = {}
        self.groups: list[tuple[list[int], Any, int, int]] = []  # (buckets, var, units, flows)
        gb: dict[int, Any] = {}
        for b in range(pb.n_buckets):
            if b in heavy_b:
                gb[b] = m.new_bool_var(f"g_{b}")
                self.groups.append(([b], gb[b], pb.bucket_units[b], pb.bucket_flows[b]))
            else:
                classes.setdefault((pb.bucket_units[b], pb.bucket_flows[b]), []).append(b)
        for (u, f), bs in sorted(classes.items()):
            var = m.new_int_var(0, len(bs), f"gc_{bs[0]}")
            self.groups.append((bs, var, u, f))
        # one boolean per heavy group (a single candidate, or a rank range of them)
        self.h = [m.new_bool_var(f"h_{g}") for g in range(len(pb.heavy_groups))]
        for bs, var, _, _ in self.groups:
            m.add(var <= len(bs) * ts)
        for v in self.h:
            m.add_implication(v, ts)
        # a single heavy flow never together with its bucket (which already covers it); a
        # group spanning buckets: its flows in NIC buckets are not counted twice
        # (``a = h AND g``, subtracted)
        overlap_u, overlap_f = [], []
        for g, (a, b) in enumerate(pb.heavy_groups):
            if b - a == 1:
                m.add(self.h[g] + gb[pb.heavy_bucket[a]] <= 1)
                continue
            for bk, (u, f) in sorted(pb.group_bucket[g].items()):
                av = m.new_bool_var(f"hg_{g}_{bk}")
                m.add(av <= self.h[g])
                m.add(av <= gb[bk])
                m.add(av >= self.h[g] + gb[bk] - 1)
                overlap_u.append((u, av))
                overlap_f.append((f, av))
        gunits = [sum(u for u, _ in d.values()) for d in pb.group_bucket]
        gflows = [sum(f for _, f in d.values()) for d in pb.group_bucket]
        self.S = m.new_int_var(0, pb.q, "S")
        m.add(self.S == pb.q - pb.q * ts + sum(u * v for _, v, u, _ in self.groups)
              + sum(u * v for u, v in zip(gunits, self.h, strict=True))
              - sum(u * v for u, v in overlap_u))
        self.fmax = sum(pb.bucket_flows) + sum(gflows)
        self.F = m.new_int_var(0, self.fmax, "F")
        m.add(self.F == sum(f * v for _, v, _, f in self.groups)
              + sum(f * v for f, v in zip(gflows, self.h, strict=True))
              - sum(f * v for f, v in overlap_f))
        self.hv = m.new_bool_var("hv")
        for v in self.h:
            m.add_implication(v, self.hv)
        self.table = sum(n * v for n, v in zip(gflows, self.h, strict=True))
        if "nic_memory" not in self.relax:
            m.add(self.table <= pb.heavy_table_entries)

    def _state_placement(self) -> tuple[_TierLoads, _StageTerms, _StageTerms]:
        """State placement: ``y[state][(stage, tier)]``; a written state lives in one place
        and every block touching it runs there; a read-only state may be replicated, and
        ``w`` counts the tier accesses of its readers. Returns the per-tier byte loads and
        the per-stage map and entry terms for :meth:`_stage_limits`."""
        pb, m, cap, labels = self.pb, self.m, self.cap, self.pb.labels
        # states
        self.y: dict[str, dict[tuple[int, int], Any]] = {}
        self.w: list[tuple[int, int, Any]] = []  # (stage, units, var): replicated tier accesses
        tier_load: dict[tuple[int, int], list] = {}
        maps_on: dict[int, list] = {0: [], 1: [], 2: []}
        entries_on: dict[int, list] = {0: [], 1: [], 2: []}
        if self.tsplit is not None and pb.heavy_entry_bytes and self.h:
            tier_load[(NIC, 0)] = [(pb.heavy_entry_bytes * n, v) for n, v in zip(
                [sum(f for _, f in d.values()) for d in pb.group_bucket], self.h, strict=True)]
        for name in pb.states:
            ys = {}
            for k in range(3):
                if cap and pb.state_can_live(name, k):
                    continue
                for t in range(len(pb.stages[k].tiers)):
                    ys[(k, t)] = m.new_bool_var(f"y_{name}_{k}_{t}")
            self.y[name] = ys
            if cap and name in pb.nic_kinds:
                # held as a table that never fills: only the heavy-flow table's flows
                for (k, _), yv in ys.items():
                    if k != NIC:
                        continue
                    if self.tsplit is None:
                        m.add(yv == 0)
                        continue
                    m.add_implication(yv, self.tsplit)
                    for bs, var, _, _ in self.groups:
                        m.add(var <= len(bs) * (1 - yv))
            users = [lab for lab in labels if name in pb.touch_any[lab]]
            if name in pb.replicable:
                for k in range(3):
                    kt = [v for (kk, _), v in ys.items() if kk == k]
                    if kt:
                        m.add(sum(kt) <= 1)
                    for lab in users:
                        if k in self.x[lab]:
                            m.add(self.x[lab][k] <= sum(kt))
                    # tier cost of the reading blocks on k
                    for lab in users:
                        if k not in self.x[lab] or not pb.touch[lab][name]:
                            continue
                        wgt = pb.freq[lab] * pb.touch[lab][name]
                        for (kk, t), yv in ys.items():
                            if kk != k:
                                continue
                            units = pb.tier_units(name, k, t, wgt)
                            if units == 0:
                                continue
                            wv = m.new_bool_var(f"w_{name}_{lab}_{k}_{t}")
                            m.add(wv >= self.x[lab][k] + yv - 1)
                            self.w.append((k, units, wv))
                if not users:
                    m.add(sum(ys.values()) == 1)
            else:
                m.add_exactly_one(ys.values())
                for lab in users:
                    for k, xv in self.x[lab].items():
                        m.add(xv <= sum(v for (kk, _), v in ys.items() if kk == k))
                if self.tsplit is not None and name not in pb.partitionable:
                    on_kernel = [v for (kk, _), v in ys.items() if kk == KERNEL]
                    m.add(sum(on_kernel) >= self.tsplit)
            split = self.tsplit is not None and name in pb.partitionable
            if split:
                cap_e = pb.states[name].capacity
                fc = m.new_int_var(0, min(cap_e, self.fmax), f"fc_{name}")
                if cap_e >= self.fmax:
                    m.add(fc == self.F)       # the map holds every flow: no min needed
                else:
                    m.add_min_equality(fc, [self.F, cap_e])
                    # the LP relaxation of a min is only fc <= F, fc <= cap (fc could be 0,
                    # and the bound with it: gap 1.0 in the memory-bound regime); this
                    # valid inequality (F <= fmax) keeps the entries in the relaxation
                    m.add(fc >= self.F - (self.fmax - cap_e))
            for (k, t), yv in ys.items():
                if split and k == NIC:
                    # whole map without a split; min(F, capacity) entries with one
                    full, eb = pb.state_bytes[name], pb.entry_bytes[name]
                    load = m.new_int_var(0, full, f"load_{name}_{t}")
                    m.add(load >= full * yv - full * self.tsplit)
                    m.add(load >= eb * fc - eb * cap_e * (1 - yv))
                    ent = m.new_int_var(0, cap_e, f"ent_{name}_{t}")
                    m.add(ent >= cap_e * yv - cap_e * self.tsplit)
                    m.add(ent >= fc - cap_e * (1 - yv))
                    tier_load.setdefault((k, t), []).append((1, load))
                    maps_on[k].append(yv)
                    entries_on[k].append(ent)
                    continue
                tier_load.setdefault((k, t), []).append((pb.state_bytes[name], yv))
                maps_on[k].append(yv)
                entries_on[k].append(pb.states[name].capacity * yv)
        return tier_load, maps_on, entries_on

    def _stage_limits(self, tier_load: _TierLoads, maps_on: _StageTerms,
                      entries_on: _StageTerms) -> None:
        """Memory (tier bytes, map count, entries) and instruction limits of each stage."""
        pb, m, relax, cap, labels = self.pb, self.m, self.relax, self.cap, self.pb.labels
        for (k, t), loads in tier_load.items():
            if k == NIC and "nic_memory" in relax:
                continue
            if k != NIC and not cap:
                continue
            m.add(sum(b * v for b, v in loads) <= pb.stages[k].tiers[t][1])
        for k in range(3):
            mm = pb.stages[k].max_maps
            if mm is not None and not (k == NIC and "nic_memory" in relax) and \
                    not (k != NIC and not cap):
                m.add(sum(maps_on[k]) <= mm)
            me = pb.stages[k].max_entries
            if me is not None and not (k == NIC and "nic_memory" in relax) and \
                    not (k != NIC and not cap):
                m.add(sum(entries_on[k]) <= me)
            mi = pb.stages[k].max_insns
            if mi is not None and "instructions" not in relax:
                m.add(sum(pb.insns[lab] * self.x[lab][k] for lab in labels
                          if k in self.x[lab]) <= mi)

    def _one_prng_stage(self) -> None:
        """All blocks that use ``rand`` run on one stage (one PRNG state)."""
        pb, m = self.pb, self.m
        # one stage for every block using rand (one PRNG state)
        if len(pb.rand_blocks) > 1:
            common = set.intersection(*(set(self.x[lab]) for lab in pb.rand_blocks))
            rs = {k: m.new_bool_var(f"rand_{k}") for k in common}
            m.add_exactly_one(rs.values())
            for lab in pb.rand_blocks:
                for k, xv in self.x[lab].items():
                    m.add(xv <= rs[k] if k in rs else xv == 0)

    def _throughput(self) -> None:
        """Throughput: per-packet cost units of each stage (``host_expr``, ``nic_expr``),
        with ``hostrun`` (some block runs on the host) and ``a`` (a NIC verdict that leaves
        a packet the host saw)."""
        pb, m, labels = self.pb, self.m, self.pb.labels
        # per-packet terms
        self.hostrun = m.new_bool_var("hostrun")
        for lab in labels:
            for k in (KERNEL, USER):
                if k in self.x[lab]:
                    m.add(self.hostrun >= self.x[lab][k])
        if self.tsplit is not None:
            # a traffic split attaches the host program (the host path runs there), so
            # every frame the NIC passes runs it too
            m.add(self.hostrun >= self.tsplit)
        self.a: dict[str, Any] = {}
        self.d: dict[str, Any] = {}
        for lab in labels:
            if pb.verdict[lab] in _LEAVES_HOST and NIC in self.x[lab]:
                av = m.new_bool_var(f"a_{lab}")
                m.add(av <= self.x[lab][NIC])
                m.add(av <= self.hostrun)
                self.a[lab] = av
            elif pb.verdict[lab] == "pass" and NIC in self.x[lab] and pb.done_units(lab):
                # the done shim's pop on the host: paid when the NIC ends it and the host
                # runs its program (d >= x_nic AND hostrun; minimised, so equal)
                dv = m.new_bool_var(f"d_{lab}")
                m.add(dv >= self.x[lab][NIC] + self.hostrun - 1)
                self.d[lab] = dv
        # stage unit expressions
        units: _StageTerms = {0: [], 1: [], 2: []}
        for lab in labels:
            for k, xv in self.x[lab].items():
                if pb.block_cost[lab][k]:
                    units[k].append((pb.block_cost[lab][k], xv))
        for e, zs in self.z.items():
            for (a, c), zv in zs.items():
                if c > a:
                    cu = pb.cross_units(e, c)
                    if c == USER:
                        cu += pb.user_arrive_units(pb.edge_freq[e])
                    if cu:
                        units[c].append((cu, zv))
        for name, ys in self.y.items():
            if name in pb.replicable:
                continue
            for (k, t), yv in ys.items():
                tu = pb.tier_units(name, k, t)
                if tu:
                    units[k].append((tu, yv))
        for k, u_, wv in self.w:
            units[k].append((u_, wv))
        ent = self.x[pb.entry]
        if NIC in ent:
            units[NIC].append((pb.stages[NIC].per_packet, ent[NIC]))
        if USER in ent:
            units[USER].append((pb.user_arrive_units(1.0), ent[USER]))
        units[KERNEL].append((pb.stages[KERNEL].per_packet, self.hostrun))
        for lab, av in self.a.items():
            units[KERNEL].append((-pb.leave_units(lab), av))
        for lab, dv in self.d.items():
            units[KERNEL].append((pb.done_units(lab), dv))
        host_terms = units[KERNEL] + units[USER]
        self.host_terms, self.nic_terms = host_terms, units[NIC]
        self.host_expr = sum(c * v for c, v in host_terms)
        self.nic_expr = sum(c * v for c, v in units[NIC])
        # bounds of the cut's per-packet units (for the share products)
        # Host cost of a cut is never negative: the only negative terms are the per-packet
        # units saved by frames the NIC ends (``a``), each at most its block's frequency
        # times the per-packet cost (paid once, with ``hostrun``), and every frame ends in
        # one block, so they sum to at most the per-packet cost plus rounding (half a unit
        # per term). This lower bound (instead of the sum of the negative terms) keeps the
        # relaxation of the share products ``S x cut`` tight (McCormick: ``S x host >= 0``).
        self.host_bounds = (max(sum(min(c, 0) for c, _ in host_terms), -len(self.a) - 1),
                            sum(max(c, 0) for c, _ in host_terms))
        if self.a:
            m.add(sum(pb.leave_units(lab) * av for lab, av in self.a.items())
                  <= pb.stages[KERNEL].per_packet * self.hostrun + len(self.a) + 1)
        m.add(self.host_expr >= self.host_bounds[0])
        self.nic_bounds = (sum(min(c, 0) for c, _ in units[NIC]),
                           sum(max(c, 0) for c, _ in units[NIC]))

    def _traffic_costs(self) -> None:
        """``host_q``/``nic_q``: stage units summed over the share units (``q`` per packet),
        exactly as :meth:`Problem.evaluate`. Without a split ``q x`` the cut's units; with
        one ``host_path x (q - S) + S x cut host`` and ``S x cut NIC + per_packet x (q - S)
        + q x (classifier + exact table if used)`` (products by CP-SAT multiplication
        constraints, exact)."""
        pb, m, q = self.pb, self.m, self.pb.q
        if self.tsplit is None:
            self.host_q = q * self.host_expr
            self.nic_q = q * self.nic_expr
            self.q_bounds = (q * self.host_bounds[1], q * self.nic_bounds[1])
            return
        hx = m.new_int_var(*self.host_bounds, "host_cut")
        m.add(hx == self.host_expr)
        nx = m.new_int_var(*self.nic_bounds, "nic_cut")
        m.add(nx == self.nic_expr)
        hs = m.new_int_var(q * self.host_bounds[0], q * self.host_bounds[1], "host_share")
        m.add_multiplication_equality(hs, [self.S, hx])
        m.add(hs == self._share_products(self.host_terms, "hp"))
        ns = m.new_int_var(q * self.nic_bounds[0], q * self.nic_bounds[1], "nic_share")
        m.add_multiplication_equality(ns, [self.S, nx])
        m.add(ns == self._share_products(self.nic_terms, "np"))
        pp = pb.stages[NIC].per_packet
        self.host_q = pb.host_path_units * (q - self.S) + hs
        self.nic_q = (ns + pp * (q - self.S) + q * pb.classifier_units * self.tsplit +
                      q * pb.heavy_lookup_units * self.hv)
        self.q_bounds = (q * max(self.host_bounds[1], pb.host_path_units),
                         q * (self.nic_bounds[1] + pp + pb.classifier_units +
                              pb.heavy_lookup_units))

    def _share_products(self, terms: list, prefix: str) -> Any:
        """``S x sum(c x v)`` as ``sum(c x p_v)`` with ``p_v = S x v`` for each boolean
        ``v`` of a cut's per-packet terms, each linearised exactly (``v`` is 0/1):
        ``p <= q v``, ``p <= S``, ``p >= S - q (1 - v)``, ``p >= 0``.

        A redundant restatement of the product ``S x cut`` that CP-SAT's linear relaxation
        sees: its multiplication constraint of two integers is not linearised at the default
        linearization level, so without this the LP priced the NIC path's host cost at its
        lower bound and the best bound stayed 0 in the NIC-memory-bound regime (gap 1.0).
        Per-boolean products are the standard exact linearisation of an integer times a
        binary (e.g. Glover, "Improved linear integer programming formulations of nonlinear
        integer problems", Management Science 22(4), 1975). Returns the linear expression.
        """
        m, q, S = self.m, self.pb.q, self.S
        coef: dict[int, list] = {}
        for c, v in terms:
            if c:
                entry = coef.setdefault(v.Index(), [0, v])
                entry[0] += c
        out = []
        for n, (c, v) in enumerate(coef.values()):
            if not c:
                continue
            p = m.new_int_var(0, q, f"{prefix}_{n}")
            m.add(p <= q * v)
            m.add(p <= S)
            m.add(p >= S - q * (1 - v))
            out.append(c * p)
        return sum(out)

    def _objective(self, rate_mpps: float | None, cores: float | None) -> None:
        """Objective: host cost at the target rate (``rate_mpps``), or the bottleneck
        stage under a core budget (``cores``), with a tie-break below the cost."""
        pb, m, relax = self.pb, self.m, self.relax
        # tie-break (lexicographically below the cost): fewer crossing edges, then fewer
        # blocks in user space; W exceeds any tie-break value, so cost stays the objective.
        tb = [zv for zs in self.z.values() for (a, c), zv in zs.items() if c > a]
        tb += [xs[USER] for xs in self.x.values() if USER in xs]
        self.tie_weight = len(tb) + 1
        tie = sum(tb)
        W = self.tie_weight
        # rate / budget
        q = pb.q
        self.mode = "cores" if rate_mpps is not None else "rate"
        if rate_mpps is not None and rate_mpps > 0:
            if "nic_rate" not in relax:
                m.add(self.nic_q <= q * pb.nic_limit_units(rate_mpps))
            if cores is not None and "host_budget" not in relax:
                m.add(self.host_q <= q * pb.host_limit_units(rate_mpps, cores))
            m.minimize(W * self.host_q + tie)
        elif rate_mpps is not None:
            m.minimize(W * self.host_q + tie)
        else:
            assert cores is not None  # solve_problem takes a rate or a core budget
            c100 = int(round(cores * 100))
            n100 = int(round(pb.stages[NIC].cores * 100))
            if c100 <= 0:
                if "host_budget" not in relax:
                    m.add(self.host_q == 0)
                m.minimize(W * self.nic_q + tie)
            else:
                # the highest rate min(C/host, N/nic) <=> the least max(N x host, C x nic);
                # first solve: that alone; second solve (rate_bound given): keep it and
                # minimise host cost (lexicographic: rate first, then host cores).
                t = m.new_int_var(0, max(n100 * self.q_bounds[0], c100 * self.q_bounds[1]),
                                  "t")
                m.add(t >= n100 * self.host_q)
                m.add(t >= c100 * self.nic_q)
                if self.rate_bound is None:
                    self.tie_weight = 1
                    m.minimize(t)
                else:
                    m.add(t <= self.rate_bound)
                    m.minimize(W * self.host_q + tie)
                self.t = t

    def hint(self, plan: Plan) -> None:
        """Warm start: AddHint every block, edge and state variable from ``plan``."""
        pb, m = self.pb, self.m
        sidx = {s: i for i, s in enumerate(STAGES)}
        if self.tsplit is not None and plan.traffic is None:
            m.add_hint(self.tsplit, 0)
        elif self.tsplit is not None and plan.traffic is not None:
            ts = plan.traffic
            m.add_hint(self.tsplit, 1)
            for bs_, var, _, _ in self.groups:
                m.add_hint(var, sum(1 for b in bs_ if b in ts.nic_buckets))
            chosen = {tuple(k) for k in ts.heavy_keys}
            for g, (a, b) in enumerate(pb.heavy_groups):
                m.add_hint(self.h[g], int(all(pb.heavy_keys[j] in chosen
                                              for j in range(a, b))))
        bs = {}
        for lab, xs in self.x.items():
            k = sidx.get(plan.block_stage.get(lab, ""), None)
            if k is None:
                continue
            bs[lab] = k
            for kk, xv in xs.items():
                m.add_hint(xv, int(kk == k))
        for e, zs in self.z.items():
            if e[0] in bs and e[1] in bs:
                for (a, c), zv in zs.items():
                    m.add_hint(zv, int(a == bs[e[0]] and c == bs[e[1]]))
        for name, ys in self.y.items():
            places = set()
            for s, t in plan.state_place.get(name, []):
                k = sidx.get(s)
                if k is None:
                    continue
                try:
                    places.add((k, pb._tier_index(k, t)))
                except KeyError:
                    continue
            if places:
                for key, yv in ys.items():
                    m.add_hint(yv, int(key in places))

    def solve(self, time_limit_s: float, workers: int):
        """Run CP-SAT: ``(solver, status, seconds)``."""
        solver = self.cp.CpSolver()
        solver.parameters.max_time_in_seconds = float(time_limit_s)
        solver.parameters.num_workers = int(workers)
        if self.tsplit is not None:
            # Level 2 puts every linear constraint (the share products of
            # :meth:`_share_products`, the NIC entry and memory rows) into the LP; at the
            # default level 1 the LP kept about 20 rows and the best bound stayed 0 in the
            # NIC-memory-bound regime (gap 1.0). Measured on flowcount/Agilio/10M flows/
            # s = 1.1/10 Mpps (the bench's memory-bound case, full model alone, one worker,
            # 2026-12-01): level 1 bound 0 after 20 s; level 2 proved optimal in 1.15 s.
            solver.parameters.linearization_level = 2
        t0 = time.perf_counter()
        status = solver.Solve(self.m)
        return solver, status, time.perf_counter() - t0

    def extract(self, solver) -> Plan:
        pb = self.pb
        bs = {lab: next(k for k, xv in xs.items() if solver.Value(xv))
              for lab, xs in self.x.items()}
        places: dict[str, list[tuple[str, str]]] = {}
        for name, ys in self.y.items():
            chosen = sorted(key for key, yv in ys.items() if solver.Value(yv))
            if name in pb.replicable:
                users = {bs[lab] for lab in pb.labels if name in pb.touch_any[lab]}
                chosen = [kt for kt in chosen if kt[0] in users] or chosen[:1]
            places[name] = [(STAGES[k], pb.stages[k].tiers[t][0]) for k, t in chosen]
        traffic = None
        if self.tsplit is not None and solver.Value(self.tsplit):
            traffic = pb.make_traffic(
                [b for bs, v, _, _ in self.groups for b in bs[:solver.Value(v)]],
                [pb.heavy_keys[j] for g, v in enumerate(self.h) if solver.Value(v)
                 for j in range(*pb.heavy_groups[g])])
        plan = Plan({lab: STAGES[k] for lab, k in bs.items()}, places, pb.shim_layout(bs),
                    sorted(pb.read_only), pb.model_names(), traffic)
        if self.mode == "cores" and traffic is None:
            # Host cost does not depend on NIC tiers: among the tier choices that fit, take
            # the cheapest for the NIC (the solver only had to keep the NIC under its limit).
            nt = pb.best_nic_tiers(bs)
            if nt is not None:
                polished = pb.make_plan(bs, nt)
                old = pb.evaluate(plan)
                new = pb.evaluate(polished)
                if new.feasible and new.host_units <= old.host_units and \
                        new.nic_units < old.nic_units:
                    plan = polished
        return plan


def _status_name(cp_model, status) -> str:
    return {cp_model.OPTIMAL: "OPTIMAL", cp_model.FEASIBLE: "FEASIBLE",
            cp_model.INFEASIBLE: "INFEASIBLE", cp_model.MODEL_INVALID: "MODEL_INVALID",
            cp_model.UNKNOWN: "UNKNOWN"}.get(status, str(status))


_GROUP_WORDS = {
    "capability": "what the NIC can run",
    "nic_memory": "NIC memory (tier capacities and map count)",
    "instructions": "the NIC's instruction limit",
    "shim": "the metadata shim size limit",
    "nic_rate": "the NIC's packet rate (utilisation <= 1)",
    "host_budget": "the host core budget",
}


def result_figures(pb: Problem, plan: Plan, rate_mpps: float | None,
                   cores: float | None) -> dict:
    """host/nic ns per packet, the rate, host cores and NIC utilisation of ``plan``.

    Mode cores (``rate_mpps`` given): figures at ``rate_mpps``. Mode rate: the highest rate
    ``min(cores*1e3/host_ns, nic.cores*1e3/nic_ns)`` (Mpps) and the figures there.
    """
    ev = pb.evaluate(plan, rate_mpps, cores)
    host_ns, nic_ns = ev.host_ns_per_packet, ev.nic_ns_per_packet
    if rate_mpps is None:
        lims = []
        if host_ns > 0:
            lims.append((cores or 0) * 1e3 / host_ns)
        if nic_ns > 0:
            lims.append(pb.stages[NIC].cores * 1e3 / nic_ns)
        rate = min(lims) if lims else math.inf
    else:
        rate = rate_mpps
    finite = rate if math.isfinite(rate) else 0.0
    return {"host_ns_per_packet": host_ns, "nic_ns_per_packet": nic_ns, "rate_mpps": rate,
            "host_cores": finite * host_ns / 1e3,
            "nic_utilization": finite * nic_ns / (1e3 * pb.stages[NIC].cores),
            "evaluation": ev}


def plan(program: Program, nic: Any, host_kernel: Any, host_user: Any, profile: Profile,
         rate_mpps: float | None = None, cores: float | None = None,
         time_limit_s: float = 2.0, workers: int = 2, warm_start: Plan | None = None,
         explain: bool = True) -> PlanResult:
    """Partition ``program`` over NIC, host kernel and host user space with CP-SAT.

    Args:
        program: a verified IR program.
        nic, host_kernel, host_user: stage models (docs/offload.md fields).
        profile: the traffic profile weighting every cost.
        rate_mpps: target rate (Mpps): minimise host cores at it (mode "cores").
        cores: host core budget: with ``rate_mpps`` a cap on host cores, alone the budget
            under which the rate is maximised (mode "rate").
        time_limit_s: CP-SAT wall-time limit, s.
        workers: CP-SAT worker threads.
        warm_start: a previous :class:`Plan` given to CP-SAT as hints (``AddHint``).
        explain: when infeasible, re-solve with each constraint group relaxed to name the
            binding one.
    Returns:
        a :class:`PlanResult` (``plan`` None and ``infeasible_reason`` set when no plan
        satisfies the constraints).
    Raises:
        ValueError: neither ``rate_mpps`` nor ``cores`` given, or a negative one.
        PartitionError: a stage model lacks a needed figure.
    """
    if rate_mpps is None and cores is None:
        raise ValueError("give a target rate (rate_mpps) or a core budget (cores)")
    if (rate_mpps is not None and rate_mpps < 0) or (cores is not None and cores < 0):
        raise ValueError("rate and cores must be >= 0")
    pb = Problem(program, nic, host_kernel, host_user, profile)
    return solve_problem(pb, rate_mpps, cores, time_limit_s, workers, warm_start, explain)


#: Shortest CP-SAT solve given to a model when the plan's time budget is (nearly) spent, s.
MIN_SOLVE_S = 0.05


def _left(time_limit_s: float, deadline: float | None) -> float:
    """The time limit of the next solve: ``time_limit_s``, cut to what is left before
    ``deadline`` (a ``time.perf_counter`` value), at least :data:`MIN_SOLVE_S`."""
    if deadline is None:
        return time_limit_s
    return min(time_limit_s, max(MIN_SOLVE_S, deadline - time.perf_counter()))


def _run(pb: Problem, rate_mpps, cores, relax, traffic: bool, hint: Plan | None,
         time_limit_s: float, workers: int, deadline: float | None = None):
    """One (lexicographic in core-budget mode) solve: ``(model, solver, status)``; each
    solve ends by ``deadline`` (see :func:`_left`)."""
    mdl = _Model(pb, rate_mpps, cores, relax, traffic=traffic)
    if hint is not None:
        mdl.hint(hint)
    solver, status, _ = mdl.solve(_left(time_limit_s, deadline), workers)
    cp = mdl.cp
    if rate_mpps is None and cores is not None and cores > 0 and \
            status in (cp.OPTIMAL, cp.FEASIBLE):
        first = mdl.extract(solver)
        first_optimal = status == cp.OPTIMAL
        mdl2 = _Model(pb, rate_mpps, cores, relax, rate_bound=int(solver.Value(mdl.t)),
                      traffic=traffic)
        mdl2.hint(first)
        solver2, status2, _ = mdl2.solve(_left(time_limit_s, deadline), workers)
        if status2 in (cp.OPTIMAL, cp.FEASIBLE):
            mdl, solver = mdl2, solver2
            status = status2 if first_optimal else cp.FEASIBLE
    return mdl, solver, status


def solve_problem(pb: Problem, rate_mpps: float | None, cores: float | None,
                  time_limit_s: float = 2.0, workers: int = 2,
                  warm_start: Plan | None = None, explain: bool = True,
                  relax: frozenset = frozenset(), traffic: bool = True) -> PlanResult:
    """:func:`plan` on an already built :class:`Problem` (baselines share it).

    Core-budget mode (``cores`` > 0 without ``rate_mpps``) solves twice, lexicographically:
    first the highest rate, then, keeping that rate, the fewest host cores; ``traffic``
    False leaves flow groups out (every packet takes the cut). With flow groups, the model
    without them is solved first (fast) and its optimum is the hint of the full model and
    the answer if the full model finds nothing better in time (then ``optimal`` is False and
    ``gap`` the full model's). ``time_limit_s`` is the budget of the whole plan: every solve
    ends by ``t0 + time_limit_s`` (given at least :data:`MIN_SOLVE_S`), so ``solve_seconds``
    exceeds it only by model building after the budget is spent. ``solve_seconds`` counts
    building and solving the models, not OR-tools' one-off import.
    """
    from ortools.sat.python import cp_model  # noqa: F401  (imported before timing)
    t0 = time.perf_counter()
    deadline = t0 + time_limit_s
    hint, fallback = warm_start, None
    if traffic and pb.traffic_ok and not relax:
        mdl_a, sol_a, st_a = _run(pb, rate_mpps, cores, relax, False, warm_start,
                                  time_limit_s, workers, deadline)
        if st_a in (mdl_a.cp.OPTIMAL, mdl_a.cp.FEASIBLE):
            fallback = mdl_a.extract(sol_a)
            hint = fallback
        for cand in _split_candidates(pb, rate_mpps, cores):
            if fallback is None or _better(pb, cand, fallback, rate_mpps, cores):
                fallback = hint = cand
    mdl, solver, status = _run(pb, rate_mpps, cores, relax, traffic, hint, time_limit_s,
                               workers, deadline)
    cp = mdl.cp
    secs = time.perf_counter() - t0
    mode = "cores" if rate_mpps is not None else "rate"
    found = status in (cp.OPTIMAL, cp.FEASIBLE)
    p = mdl.extract(solver) if found else None
    if fallback is not None and (p is None or _better(pb, fallback, p, rate_mpps, cores)):
        # the full model found nothing better in time: the optimum without a split, not
        # proved optimal over the whole plan space
        p, status = fallback, cp.FEASIBLE
        found = True
    name = _status_name(cp, status)
    if not found or p is None:
        reason = None
        if status == cp.UNKNOWN:
            reason = (f"no plan found within the time limit ({time_limit_s:g} s); "
                      "allow more time")
        elif explain and status == cp.INFEASIBLE:
            reason = explain_infeasible(pb, rate_mpps, cores, time_limit_s, workers)
        return PlanResult(None, mode, rate_mpps, None, None, None, None, False, None, secs,
                          name, reason)
    fig = result_figures(pb, p, rate_mpps, cores)
    # gap on the cost part of the objective (the tie-break is below one cost unit)
    bound = math.floor(solver.BestObjectiveBound() / mdl.tie_weight)
    if p is fallback:
        if rate_mpps is not None:
            obj = fig["evaluation"].host_units
            gap = (obj - bound) / obj if obj > bound else 0.0
        else:
            gap = 1.0            # not proved: the full model found no solution in time
        optimal = gap == 0.0
    else:
        obj = solver.ObjectiveValue() // mdl.tie_weight
        optimal = status == cp.OPTIMAL or obj <= bound
        gap = 0.0 if optimal else (abs(obj - bound) / abs(obj) if obj else 0.0)
    return PlanResult(p, mode, fig["rate_mpps"], fig["host_cores"], fig["nic_utilization"],
                      fig["host_ns_per_packet"], fig["nic_ns_per_packet"], optimal, gap, secs,
                      name, None, fig["evaluation"].nic_path_share)


def heavy_split_cut(pb: Problem) -> dict[str, int] | None:
    """The NIC path of :func:`heavy_split_candidate`: every block on the NIC except those
    the NIC cannot run, those touching written state a split cannot put there (state not
    split by flow, nor a counter copy nor read-only) and every block after them, which
    run on the host kernel stage. None when the entry block stays on the host."""
    written_shared = {n for n in pb.states
                      if n not in pb.partitionable and n not in pb.replicable}
    host = {lab for lab in pb.labels
            if pb.block_can_run(lab, NIC) or pb.touch_any[lab] & written_shared}
    succ = {b.label: b.successors() for b in pb.order}
    changed = True
    while changed:
        stack = list(host)
        while stack:
            for v in succ[stack.pop()]:
                if v not in host:
                    host.add(v)
                    stack.append(v)
        extra = {x for x, u in pb.inplace_alt.items() if u in host and x not in host}
        changed = bool(extra)
        host |= extra
    if pb.entry in host or any(pb.block_can_run(lab, KERNEL) for lab in host):
        return None
    return {lab: KERNEL if lab in host else NIC for lab in pb.labels}


def heavy_split_candidate(pb: Problem, rate_mpps: float | None,
                          cores: float | None) -> Plan | None:
    """Cora's plan shape "heavy flows on the NIC, the rest on the host": the blocks of
    :func:`heavy_split_cut` on the NIC for the NIC path, the top heavy-flow rank groups in
    the exact table (the most that fit: all, then one group fewer, ...), no hash buckets;
    states in their fastest tier with room (:meth:`Problem.make_plan`). None when no such
    plan meets every constraint. A warm start and fallback of :func:`solve_problem` (the
    full model can still do better)."""
    if not pb.traffic_ok or not pb.heavy_groups:
        return None
    stages = heavy_split_cut(pb)
    if stages is None:
        return None
    for n in range(len(pb.heavy_groups), 0, -1):
        keys = pb.heavy_keys[:pb.heavy_groups[n - 1][1]]
        ts = pb.make_traffic([], keys)
        cand = pb.make_plan(stages, None, ts)
        if not pb.evaluate(cand, rate_mpps, cores).violations:
            return cand
    return None


def fill_buckets(pb: Problem, start: Plan, rate_mpps: float | None,
                 cores: float | None) -> Plan:
    """``start`` (a plan with a traffic split) with hash buckets added to its NIC path: the
    first ``k`` buckets of an order, ``k`` the largest that keeps every constraint (binary
    search: NIC entries, memory and load grow with ``k``), for two orders (most packets per
    flow first: the buckets a NIC table of a given size serves best; and bucket number, as
    Cora's traffic-based split takes them), the cheaper plan under the mode's objective if it
    beats ``start``. A warm start and fallback for the full model: in the NIC-memory-bound
    regime it fills the NIC up to its entry limit, which the heavy-flows plan alone leaves
    unused. About 2 log2(buckets) plan evaluations."""
    ts = start.traffic
    if ts is None or not pb.traffic_ok:
        return start
    stages = {lab: STAGES.index(st) for lab, st in start.block_stage.items()}
    free = [b for b in range(pb.n_buckets) if b not in ts.nic_buckets]
    best = start
    for order in (sorted(free, key=lambda b: (-pb.bucket_units[b] / max(1, pb.bucket_flows[b]),
                                              b)), free):
        def plan_with(k: int, order: list[int] = order) -> Plan:
            return pb.make_plan(stages, None,
                                pb.make_traffic(set(ts.nic_buckets) | set(order[:k]),
                                                ts.heavy_keys))
        lo, hi = 0, len(order)          # plan_with(lo) fits; find the largest k that does
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if pb.evaluate(plan_with(mid), rate_mpps, cores).violations:
                hi = mid - 1
            else:
                lo = mid
        if lo:
            cand = plan_with(lo)
            if _better(pb, cand, best, rate_mpps, cores):
                best = cand
    return best


def _split_candidates(pb: Problem, rate_mpps: float | None,
                      cores: float | None) -> list[Plan]:
    """Warm starts with a traffic split, the NIC path's blocks of :func:`heavy_split_cut`
    on the NIC: the heavy-flows plan with buckets added (:func:`fill_buckets`), and buckets
    alone (no exact table: the NIC then pays no exact lookup per packet, so where the NIC's
    load binds it takes more buckets). Only plans that meet every constraint."""
    out = []
    heavy = heavy_split_candidate(pb, rate_mpps, cores)
    if heavy is not None:
        out.append(fill_buckets(pb, heavy, rate_mpps, cores))
    cut = heavy_split_cut(pb) if pb.traffic_ok else None
    if cut is not None:
        bare = pb.make_plan(cut, None, pb.make_traffic([]))
        if not pb.evaluate(bare, rate_mpps, cores).violations:
            filled = fill_buckets(pb, bare, rate_mpps, cores)
            if filled is not bare:
                out.append(filled)
    return out


def _better(pb: Problem, a: Plan, b: Plan, rate_mpps, cores) -> bool:
    """Plan ``a`` is strictly better than ``b`` under the mode's objective."""
    ea, eb = pb.evaluate(a, rate_mpps, cores), pb.evaluate(b, rate_mpps, cores)
    if rate_mpps is not None:
        return ea.host_units < eb.host_units
    ra = result_figures(pb, a, None, cores)["rate_mpps"]
    rb = result_figures(pb, b, None, cores)["rate_mpps"]
    return ra > rb * (1 + 1e-12) or (ra >= rb * (1 - 1e-12) and ea.host_units < eb.host_units)


def explain_infeasible(pb: Problem, rate_mpps: float | None, cores: float | None,
                       time_limit_s: float = 2.0, workers: int = 2) -> str:
    """Name, in words, the constraint group(s) whose relaxation makes the problem feasible,
    with the figure the relaxed optimum needs (e.g. NIC tier bytes, cores, instructions).
    Tries each group alone, then pairs, then all together."""
    import itertools
    groups = [g for g in CONSTRAINT_GROUPS
              if g != "host_budget" or cores is not None]
    if rate_mpps is None or rate_mpps <= 0:
        groups = [g for g in groups if g != "nic_rate"]
    target = " ".join(x for x in (
        f"{rate_mpps:g} Mpps" if rate_mpps is not None else "any rate",
        f"within {cores:g} host cores" if cores is not None else "") if x)
    for size in (1, 2, len(groups)):
        found = []
        for combo in itertools.combinations(groups, size):
            res = solve_problem(pb, rate_mpps, cores, time_limit_s, workers, None, False,
                                frozenset(combo))
            if res.plan is None:
                continue
            ev = pb.evaluate(res.plan, rate_mpps, cores)
            details: list[str] = []
            for g in combo:
                for msg in ev.violations.get(g, []):
                    short = msg.split(": ", 1)[-1] if g == "capability" else msg
                    if short not in details:
                        details.append(short)
            found.append(" and ".join(_GROUP_WORDS[g] for g in combo) +
                         (f" ({'; '.join(details[:3])})" if details else ""))
        if found:
            lead = "relaxing any one of these alone gives a plan" if size == 1 else \
                f"only relaxing {size} constraint groups together gives a plan"
            return f"no plan meets {target}: {lead}: " + "; ".join(
                f"({i + 1}) {f}" for i, f in enumerate(found))
    return "no plan exists even with every NIC constraint relaxed"
