"""Split an NF into one program per offload stage, following a partition plan.

Contract: docs/offload.md. A plan (:class:`cora.compiler.offload.partition.Plan`, or its JSON from
``cora plan --json``) puts every IR block on a stage ``nic`` -> ``kernel`` -> ``user`` and
never moves a packet back. :func:`split_program` turns the whole program into one
:class:`StageProgram` per stage that holds blocks, in pipeline order:

- each stage program holds only its stage's blocks and the state objects its blocks touch
  (a state the program writes lives on exactly one stage; a read-only state, such as an lpm
  rule table, is replicated on every stage that reads it); a counter the program only adds
  to (:func:`cora.compiler.offload.stage_model.mergeable_counters`, e.g. firewall's
  ``drops``) has one copy on every stage that adds to it (:attr:`StageProgram.counter_copies`);
  the whole NF's counter is the sum of the copies, as a percpu_array's is the sum over CPUs;
- a CFG edge ``u -> v`` into a later stage becomes a jump to a crossing block
  ``shim.push id(v) (live-in registers of v); ret pass``; the registers are those live on
  entry to ``v`` in the whole program (:func:`cora.compiler.offload.partition.live_in`, program
  register order), each in ``c_bytes(width)`` bytes, after the u16 resume id;
- the resume id of block ``v`` is its index in ``program.blocks``; 0xFFFF
  (:data:`cora.compiler.ir.SHIM_DONE`) means "finished with pass": a ``ret pass`` on a stage
  before the last pushes it, so later stages do not run the NF again; ``drop``/``tx``/
  ``redirect`` end the packet where they happen;
- every stage after the first starts with a ``shim.pop`` entry block that restores the
  registers and jumps to the resume block; the last stage is ``final`` (strips a done shim and
  passes), earlier ones ``forward`` frames whose resume block is on a later stage.

Traffic split (a plan with ``traffic``, a :class:`cora.compiler.offload.traffic.TrafficSplit`;
docs/offload.md, "Traffic split"): the stages are always ``nic`` then ``kernel``.

- the NIC stage starts with the flow classifier, in IR: key header validity, the key fields,
  the flow hash of :data:`cora.compiler.offload.traffic.HASH_STEPS`, a lookup of the bucket
  in the array ``cora_nic_buckets`` (u8 per bucket, 1 = NIC path) and of the key in the hash
  map ``cora_heavy_flows`` (exact heavy keys). Both maps start with the plan's sets (state
  ``init``) and the control plane may rewrite them. NIC path: the NF's entry (or, if the plan
  puts it on the host, the host crossing); host path: ``shim.push 0; ret pass`` -- resume id
  0 is the NF's entry block, "run the whole NF";
- the kernel stage holds every block of the NF: its ``shim.pop`` resumes at the entry for
  host-path packets and at the cut's resume blocks for NIC-path packets;
- (any plan) when the plan's NIC model has no clock helper but a host-fed clock
  (:attr:`cora.compiler.offload.stage_model.StageModel.host_clock_period_ns`, Agilio), every
  ``now()`` of the NIC stage reads slot 0 of the array ``cora_nic_clock`` instead
  (:attr:`StageProgram.clock_state`), which the host writes (:mod:`cora.runtime.clock_feed`;
  a staged run writes the frame's time there first, so the split equals the whole NF);
- a written state the NIC path touches on the NIC must be partitionable by the key
  (:func:`cora.compiler.offload.traffic.partitionable_state`); the kernel stage holds a host
  copy of it for host-path flows (:attr:`StageProgram.host_copies`); the union of the copies
  is the whole NF's state. Other written state lives on the kernel stage (both paths).

Raises :class:`SplitError` (a :class:`cora.errors.CoraError`) for a plan that does not fit
the program: unknown/missing blocks, an edge going back, a map entry reference live across a
crossing, a written state touched on two stages, a shim layout that disagrees with liveness,
or a store to a field that steers the parser (``ipv4.frag_offset``) before the last stage.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from cora.compiler.ir import (
    SHIM_DONE,
    Block,
    IntType,
    IRError,
    Op,
    Program,
    RefType,
    StateDecl,
    StateField,
    c_bytes,
    shim_bytes,
)
from cora.compiler.ir.verify import verify
from cora.compiler.offload.partition import STAGES, Plan, live_in
from cora.compiler.offload.stage_model import mergeable_counters
from cora.compiler.offload.traffic import (
    FIB_MULT,
    HASH_SEED,
    HASH_STEPS,
    L4_ALTERNATIVES,
    TrafficError,
    TrafficSplit,
    key_headers,
    log2_buckets,
    no_eviction_states,
    partitionable_state,
)
from cora.compiler.passes.atomic_add import AtomicInit
from cora.errors import CoraError

#: Header fields that steer the fixed parser and may be written (the others are read-only):
#: a later stage re-parses the frame, so an earlier stage must not change them.
PARSE_STEERING_FIELDS = (("ipv4", "frag_offset"),)
RESUME_LABEL = "resume"
#: Map of the NIC flow buckets (array, u8 per bucket: 1 = NIC path), filled by the control plane.
BUCKETS_STATE = "cora_nic_buckets"
#: Map of heavy flows (hash, classifier key -> u8 1), filled by the control plane.
HEAVY_STATE = "cora_heavy_flows"
#: Resume id of the host path: block 0, the NF's entry ("run the whole NF").
HOST_PATH_RESUME = 0
#: Map of the host-fed clock of a NIC without a clock helper (array, one u64: CLOCK_MONOTONIC
#: ns), written by :mod:`cora.runtime.clock_feed`; the NIC stage's ``now()`` reads it.
CLOCK_STATE = "cora_nic_clock"


class SplitError(CoraError):
    """The plan cannot split this program (one clear sentence naming the block/state)."""


@dataclass
class ShimLayout:
    """The shim of one resume block.

    Attributes:
        resume_id: the u16 at the front of the shim (the block's index in the whole program).
        block: the resume block's label.
        to_stage: the stage that resumes there.
        from_edges: the crossing edges ``(u, v)`` that write this shim.
        registers: ``(name, width_bits, bytes)`` in shim order.
    """

    resume_id: int
    block: str
    to_stage: str
    from_edges: list[tuple[str, str]]
    registers: list[tuple[str, int, int]]

    @property
    def bytes(self) -> int:
        """Shim size in bytes: 2 + sum of register bytes."""
        return shim_bytes(w for _, w, _ in self.registers)

    def to_json(self) -> dict:
        """JSON-ready dict (offsets of each register from the start of the shim)."""
        regs, pos = [], 2
        for name, w, n in self.registers:
            regs.append({"name": name, "width": w, "bytes": n, "offset": pos})
            pos += n
        return {"resume_id": self.resume_id, "block": self.block, "to_stage": self.to_stage,
                "from": [{"from": u, "to": v} for u, v in self.from_edges],
                "registers": regs, "bytes": self.bytes}


@dataclass
class StageProgram:
    """One stage's program.

    Attributes:
        stage: ``nic``, ``kernel`` or ``user``.
        program: a verified IR program with only this stage's blocks (entry: the NF's entry
            on the first stage, the ``shim.pop`` block ``resume`` on later stages).
        first, final: whether the stage is the first / last of the pipeline.
        owned_states: states written by the program that live here (or unused states the
            plan put here); the whole NF's state is the union of the stages' owned states.
        replicated_states: read-only states this stage holds a copy of.
        resumes: resume block label -> resume id (later stages only).
        host_copies: (traffic split, kernel stage) partitionable states placed on the NIC
            whose host-path flows' entries live here.
        classifier_states: (traffic split, NIC stage) the classifier's maps the control plane
            fills: ``cora_nic_buckets``, ``cora_heavy_flows`` (names as in this program).
        counter_copies: merged counters (only added to) this stage holds its own copy of;
            the NF's value of each entry is the sum over the stages' copies.
        clock_state: (NIC stage of a NIC with a host-fed clock) the one-entry array its
            ``now()`` reads (:data:`CLOCK_STATE`), which the host must keep writing; None
            when the stage reads its own clock or never calls ``now()``.
    """

    stage: str
    program: Program
    first: bool
    final: bool
    owned_states: list[str] = field(default_factory=list)
    replicated_states: list[str] = field(default_factory=list)
    resumes: dict[str, int] = field(default_factory=dict)
    host_copies: list[str] = field(default_factory=list)
    classifier_states: list[str] = field(default_factory=list)
    counter_copies: list[str] = field(default_factory=list)
    clock_state: str | None = None


@dataclass
class SplitResult:
    """What :func:`split` returns: the stages in pipeline order, every shim layout and the
    plan's traffic split (None: every packet takes the cut)."""

    stages: list[StageProgram]
    shims: list[ShimLayout]
    traffic: TrafficSplit | None = None

    def layout_json(self, nf: str) -> dict:
        """The shim layout document written by ``cora compile --plan`` (``shim.json``)."""
        return {"nf": nf, "byte_order": "big-endian", "resume_id_bytes": 2,
                "done_resume_id": SHIM_DONE,
                "stages": [{"stage": s.stage, "blocks": [b.label for b in s.program.blocks],
                            "first": s.first, "final": s.final,
                            "owned_states": s.owned_states,
                            "replicated_states": s.replicated_states,
                            "resumes": s.resumes, "host_copies": s.host_copies,
                            "classifier_states": s.classifier_states,
                            "counter_copies": s.counter_copies}
                           for s in self.stages],
                "shims": [sh.to_json() for sh in self.shims],
                "traffic": self.traffic.to_json() if self.traffic else None,
                "host_path_resume_id": HOST_PATH_RESUME if self.traffic else None}


PlanParts = tuple[dict[str, str], dict[str, list[tuple[str, str]]], list[dict],
                  TrafficSplit | None]


def _plan_parts(plan) -> PlanParts:
    """(block -> stage, state -> [(stage, tier)], shim list, traffic split or None) from a
    Plan or its JSON (``"traffic"``: :meth:`TrafficSplit.to_json`, absent or null: none)."""
    if isinstance(plan, Plan):
        traffic = getattr(plan, "traffic", None)
        if isinstance(traffic, dict):
            traffic = _traffic_of(traffic)
        return dict(plan.block_stage), dict(plan.state_place), list(plan.shim), traffic
    if isinstance(plan, dict):
        data = plan.get("plan", plan) if "blocks" not in plan else plan
        if not isinstance(data, dict) or "blocks" not in data:
            raise SplitError("not a cora plan (expected the output of `cora plan --json`)")
        try:
            p = Plan.from_json({"blocks": data["blocks"], "states": data.get("states", {}),
                                "shim": data.get("shim", [])})
        except (KeyError, TypeError, AttributeError):
            raise SplitError("not a cora plan (malformed states or shim)") from None
        raw = data.get("traffic")
        return p.block_stage, p.state_place, p.shim, _traffic_of(raw) if raw else None
    raise SplitError(f"not a plan: {type(plan).__name__}")


def nic_model_of(plan):
    """The plan's NIC stage model (``stage_models["nic"]``), or None when the plan names none
    or it cannot be read (then no NIC lowering applies: a plain XDP stage)."""
    from cora.compiler.offload.stage_model import ModelError, load_model
    models = getattr(plan, "stage_models", None)
    if models is None and isinstance(plan, dict):
        models = plan.get("plan", plan).get("stage_models") if isinstance(
            plan.get("plan", plan), dict) else None
        models = models or plan.get("stage_models")
    name = (models or {}).get("nic")
    if not name:
        return None
    try:
        return load_model(name)
    except (ModelError, CoraError, OSError):
        return None


def _nic_inplace_lowering(program: Program, model, block_stage: dict[str, str]
                          ) -> dict[str, str]:
    """In-place write blocks the NIC stage runs as their insert (``{X: U}``,
    :func:`cora.compiler.offload.stage_model.inplace_alternatives`): those with X and U on
    the NIC when the plan's NIC model refuses ``ref.store``."""
    from cora.compiler.offload.stage_model import inplace_alternatives
    if model is None or "ref.store" not in model.excluded_opcodes:
        return {}
    return {x: u for x, u in inplace_alternatives(program).items()
            if block_stage.get(x) == "nic" and block_stage.get(u) == "nic"}


def _traffic_of(raw) -> TrafficSplit:
    if isinstance(raw, TrafficSplit):
        return raw
    if not isinstance(raw, dict):
        raise SplitError("the plan's traffic split must be an object")
    try:
        return TrafficSplit.from_json(raw)
    except TrafficError as exc:
        raise SplitError(f"the plan's traffic split: {exc}") from None


def _int_width(t: IntType | RefType) -> int:
    """Bit width of a register that crosses stages (references never do: checked before)."""
    if not isinstance(t, IntType):
        raise SplitError("a map entry reference cannot cross stages")
    return t.width


def _used_regs(blocks: list[Block]) -> set[str]:
    return {r for b in blocks for op in b.ops for r in op.regs()}


def _cross(v: str, cross_blocks: dict[str, Block], index: dict[str, int],
           shims: dict[str, ShimLayout]) -> str:
    """The label of the block that leaves this stage for block ``v`` on a later stage.

    The block (push ``v``'s shim registers, then pass) is made on first use and kept in
    ``cross_blocks`` (shim target -> block), so every edge to ``v`` shares it; its label
    ``x_<v>`` is lengthened with ``_`` until no block of the program (``index``) has it.
    """
    if v not in cross_blocks:
        label = f"x_{v}"
        while label in index:
            label += "_"
        sh = shims[v]
        cross_blocks[v] = Block(label, [
            Op("shim.push", None, tuple(r for r, _, _ in sh.registers),
               {"resume": sh.resume_id}),
            Op("ret", None, (), {"verdict": "pass"})])
    return cross_blocks[v].label


def _fresh(name: str, taken) -> str:
    """``name``, lengthened with ``_`` until not in ``taken``."""
    while name in taken:
        name += "_"
    return name


class _ClassifierBuilder:
    """Emits the flow classifier of a traffic split as IR blocks (module docstring)."""

    def __init__(self, program: Program, traffic: TrafficSplit):
        self.program = program
        self.traffic = traffic
        self.regs: dict[str, IntType | RefType] = {}
        self.labels = {b.label for b in program.blocks}
        states = {s.name for s in program.states}
        self.buckets_state = _fresh(BUCKETS_STATE, states)
        self.heavy_state = _fresh(HEAVY_STATE, states | {self.buckets_state})
        self.ops: list[Op] = []
        self.n = 0
        self.consts: dict[tuple[int, int], str] = {}

    def reg(self, hint: str, width: int) -> str:
        name = _fresh(f"cls_{hint}", set(self.program.regs) | set(self.regs))
        self.regs[name] = IntType(width)
        return name

    def scratch(self, hint: str, width: int) -> str:
        """A numbered temporary (``cls_x3``)."""
        self.n += 1
        return self.reg(f"{hint}{self.n}", width)

    def op(self, opcode: str, width: int | None, *args: str, hint: str = "t",
           dest: str | None = None, **attrs) -> str:
        if dest is None and width is not None:
            dest = self.reg(hint, width)
        self.ops.append(Op(opcode, dest, args, dict(attrs)))
        return dest or ""

    def const(self, value: int, width: int = 32) -> str:
        """A register holding ``value`` (one per value and width; the consts of the hash all
        stand in one block)."""
        if (value, width) not in self.consts:
            dest = self.scratch("c", width)
            self.consts[(value, width)] = self.op("const", width, dest=dest, value=value)
        return self.consts[(value, width)]

    def label(self, hint: str) -> str:
        name = _fresh(f"cls_{hint}", self.labels)
        self.labels.add(name)
        return name

    def block(self, label: str) -> Block:
        b = Block(label, self.ops)
        self.ops = []
        return b

    def states(self) -> list[StateDecl]:
        """The two classifier maps, initialised with the plan's sets."""
        t = self.traffic
        keys = tuple(StateField(f"k{i}", w) for i, w in enumerate(t.widths))
        return [
            StateDecl(self.buckets_state, "array", (StateField("index", 32),),
                      (StateField("nic", 8),), t.n_buckets,
                      init=tuple(((b,), (1,)) for b in sorted(t.nic_buckets)),
                      origin="classifier"),
            StateDecl(self.heavy_state, "hash", keys, (StateField("nic", 8),),
                      t.heavy_table_entries, on_full="skip",
                      init=tuple((tuple(k), (1,)) for k in sorted(set(t.heavy_keys))),
                      origin="classifier"),
        ]

    def build(self, nic_target: str, host_target: str) -> list[Block]:
        """The classifier's blocks, entry first; NIC path -> ``nic_target``, host path
        (no key, or neither bucket nor heavy key) -> ``host_target``."""
        t = self.traffic
        entry, keyed, heavy = self.label("classify"), self.label("key"), self.label("heavy")
        valid: list[str] = []
        l4_valid: dict[str, str] = {}
        for h in key_headers(t.key_fields):
            if h == "l4":
                for alt in L4_ALTERNATIVES:
                    l4_valid[alt] = self.op("hdr.valid", 1, hint=f"{alt}_valid", header=alt)
                valid.append(self.op("or", 1, *l4_valid.values(), hint="l4_valid"))
            else:
                valid.append(self.op("hdr.valid", 1, hint=f"{h}_valid", header=h))
        ok = valid[0]
        for v in valid[1:]:
            ok = self.op("and", 1, ok, v, hint="keyed")
        self.op("br", None, ok, targets=(keyed, host_target))
        blocks = [self.block(entry)]

        fields: list[str] = []
        words: list[str] = []
        for name, w in zip(t.key_fields, t.widths, strict=True):
            header, fld = name.split(".", 1)
            hint = name.replace(".", "_")
            if header == "l4":
                tcp = self.op("hdr.load", w, hint=f"tcp_{fld}", header="tcp", field=fld)
                udp = self.op("hdr.load", w, hint=f"udp_{fld}", header="udp", field=fld)
                r = self.op("select", w, l4_valid["tcp"], tcp, udp, hint=hint)
            else:
                r = self.op("hdr.load", w, hint=hint, header=header, field=fld)
            fields.append(r)
            if w < 32:
                words.append(self.op("zext", 32, r, hint=f"{hint}_w"))
            elif w == 32:
                words.append(r)
            else:
                wide = self.op("zext", 64 if w <= 64 else 128, r, hint=f"{hint}_x") \
                    if w not in (64, 128) else r
                ww = 64 if w <= 64 else 128
                for i in reversed(range((w + 31) // 32)):
                    sh = self.op("shr", ww, wide, self.const(32 * i, ww), hint=f"{hint}_s")
                    words.append(self.op("trunc", 32, sh, hint=f"{hint}_w{i}"))
        h = self.reg("h", 32)
        self.op("const", 32, dest=h, value=HASH_SEED)

        def step(st: tuple, word: str | None = None) -> None:
            if st[0] == "xor_word":
                assert word is not None
                self.op("xor", 32, h, word, dest=h)
            elif st[0] == "add_shl":
                x = self.op("shl", 32, h, self.const(st[1]), dest=self.scratch("x", 32))
                self.op("add", 32, h, x, dest=h)
            elif st[0] == "xor_shr":
                x = self.op("shr", 32, h, self.const(st[1]), dest=self.scratch("x", 32))
                self.op("xor", 32, h, x, dest=h)
            else:  # pragma: no cover - HASH_STEPS is fixed
                raise SplitError(f"unknown hash step {st!r}")

        for wreg in words:
            for st in HASH_STEPS["per_word"]:
                step(st, wreg)
        for st in HASH_STEPS["final"]:
            step(st)
        bits = log2_buckets(t.n_buckets)
        if bits:
            m = self.op("mul", 32, h, self.const(FIB_MULT), hint="m")
            bucket = self.op("shr", 32, m, self.const(32 - bits), hint="bucket")
        else:
            bucket = self.const(0)
        ref = self.op("map.lookup", None, bucket, dest=self._ref("bref", self.buckets_state),
                      state=self.buckets_state)
        v = self.op("ref.load", 8, ref, hint="nic", state=self.buckets_state, index=0)
        zero = self.op("const", 8, hint="zero", value=0)
        hit = self.op("ne", 1, v, zero, hint="in_bucket")
        self.op("br", None, hit, targets=(nic_target, heavy))
        blocks.append(self.block(keyed))
        href = self.op("map.lookup", None, *fields, dest=self._ref("href", self.heavy_state),
                       state=self.heavy_state)
        found = self.op("ref.found", 1, href, hint="heavy", state=self.heavy_state)
        self.op("br", None, found, targets=(nic_target, host_target))
        blocks.append(self.block(heavy))
        return blocks

    def _ref(self, hint: str, state: str) -> str:
        name = _fresh(f"cls_{hint}", set(self.program.regs) | set(self.regs))
        self.regs[name] = RefType(state)
        return name


def split(program: Program, plan) -> SplitResult:
    """Split ``program`` by ``plan`` (a :class:`Plan` or ``cora plan --json`` output).

    Returns:
        a :class:`SplitResult` (stages in pipeline order, only stages holding blocks).
    Raises:
        SplitError: the plan does not fit the program (see the module docstring).
    """
    verify(program)
    block_stage, state_place, plan_shims, traffic = _plan_parts(plan)
    nic_model = nic_model_of(plan)
    inplace = _nic_inplace_lowering(program, nic_model, block_stage)
    order = program.topological_blocks()
    sidx = {s: i for i, s in enumerate(STAGES)}
    for b in order:
        st = block_stage.get(b.label)
        if st is None:
            raise SplitError(f"the plan places no stage for block {b.label} (a plan for another "
                             "version of this NF?)")
        if st not in sidx:
            raise SplitError(f"block {b.label}: unknown stage {st!r} (stages: "
                             f"{', '.join(STAGES)})")
    if len(program.blocks) >= SHIM_DONE:
        raise SplitError(f"{len(program.blocks)} blocks do not fit a u16 resume id")
    stage_of = {b.label: sidx[block_stage[b.label]] for b in order}
    used = sorted(set(stage_of.values()))
    nic, kernel = sidx["nic"], sidx["kernel"]
    entry = order[0].label
    if traffic is not None:
        if any(k not in (nic, kernel) for k in used):
            raise SplitError("a plan with a traffic split places blocks on nic and kernel "
                             "only (the host path is the whole NF on the kernel stage)")
        used = [nic, kernel]
    index = {b.label: i for i, b in enumerate(program.blocks)}
    live = live_in(program)
    last = used[-1]

    # crossings: target block -> edges and registers
    crossing: dict[str, list[tuple[str, str]]] = {}
    for b in order:
        for t in b.successors():
            a, c = stage_of[b.label], stage_of[t]
            if c < a:
                raise SplitError(f"edge {b.label} -> {t} goes back from {STAGES[a]} to "
                                 f"{STAGES[c]}")
            if c > a:
                crossing.setdefault(t, []).append((b.label, t))
    shims: dict[str, ShimLayout] = {}
    for v, edges in crossing.items():
        regs = live.get(v, [])
        refs = [r for r in regs if isinstance(program.regs[r], RefType)]
        if refs:
            raise SplitError(f"a map entry reference (%{refs[0]}) is live into block {v}: it "
                             "cannot cross stages")
        widths = {r: _int_width(program.regs[r]) for r in regs}
        shims[v] = ShimLayout(index[v], v, STAGES[stage_of[v]], edges,
                              [(r, widths[r], c_bytes(widths[r])) for r in regs])
    if traffic is not None:  # the host path (and a NIC path whose entry is on the host)
        if index[entry] != HOST_PATH_RESUME:
            raise SplitError("the entry block is not block 0")
        shims[entry] = ShimLayout(HOST_PATH_RESUME, entry, "kernel", [], [])
    for planned_shim in plan_shims:
        to = planned_shim.get("to")
        if to in shims and "registers" in planned_shim:
            carried = [r["name"] for r in planned_shim["registers"]]
            want = [r for r, _, _ in shims[to].registers]
            if carried != want:
                raise SplitError(f"the plan's shim into {to} carries {carried}, the program "
                                 f"needs {want} (a plan for another version of this NF?)")

    # state placement
    touched: dict[str, set[int]] = {s.name: set() for s in program.states}
    written = {s.name: False for s in program.states}
    for b in order:
        for op in b.ops:
            name = op.state
            if name is not None:
                touched[name].add(stage_of[b.label])
            for w in op.state_writes():
                written[w] = True
            acc = op.header_access()
            if acc and acc[2] == "w" and acc[:2] in PARSE_STEERING_FIELDS and \
                    stage_of[b.label] != last:
                raise SplitError(f"block {b.label} writes {acc[0]}.{acc[1]} on stage "
                                 f"{STAGES[stage_of[b.label]]}: a later stage parses the frame "
                                 "again, so this store must run on the last stage")
    owned: dict[int, list[str]] = {k: [] for k in used}
    replicas: dict[int, list[str]] = {k: [] for k in used}
    counters: dict[int, list[str]] = {k: [] for k in used}
    host_copies: list[str] = []
    merged = set(mergeable_counters(program))
    if traffic is not None:  # the kernel stage runs every block for host-path packets
        for name in merged:
            if touched[name]:
                touched[name].add(kernel)
    for name in sorted(merged, key=lambda n: [s.name for s in program.states].index(n)):
        if len(touched[name]) > 1:  # one copy per stage, summed (else: an ordinary state)
            for k in sorted(touched[name]):
                counters[k].append(name)
            written[name] = False
            touched[name] = set()
    if traffic is not None:
        parts = partitionable_state(program, traffic.key_fields)
        for s in program.states:
            if written[s.name] and nic in touched[s.name] and s.name not in parts:
                raise SplitError(
                    f"state {s.name} is written on the nic stage but is not partitionable by "
                    f"the classifier key ({', '.join(traffic.key_fields)}): with a traffic "
                    "split it must live on the kernel stage, which both paths share")
    for s in program.states:
        if any(s.name in c for c in counters.values()):
            continue
        stages = touched[s.name]
        planned = [sidx[p[0]] for p in state_place.get(s.name, []) if p[0] in sidx]
        if written[s.name]:
            if len(stages) > 1:
                where = ", ".join(STAGES[k] for k in sorted(stages))
                raise SplitError(f"state {s.name} is written and accessed on several stages "
                                 f"({where}); a written state must live on one stage")
            (k,) = stages
            if planned and planned[0] != k:
                raise SplitError(f"the plan puts state {s.name} on {STAGES[planned[0]]} but its "
                                 f"accesses run on {STAGES[k]}")
            owned[k].append(s.name)
        elif stages:
            ks = sorted(stages)
            owned[ks[0]].append(s.name)
            for k in ks[1:]:
                replicas[k].append(s.name)
        else:
            k = planned[0] if planned and planned[0] in owned else used[0]
            owned[k].append(s.name)
    if traffic is not None:  # the kernel stage runs the whole NF for host-path packets
        for name in owned[nic]:
            if written[name]:
                host_copies.append(name)
            elif name not in replicas[kernel]:
                replicas[kernel].append(name)

    result = []
    for pos, k in enumerate(used):
        mine = [b for b in program.blocks if stage_of.get(b.label) == k or
                (traffic is not None and k == kernel and b.label in stage_of)]
        blocks: list[Block] = []
        resumes: dict[str, int] = {}
        if pos > 0:
            targets = sorted((v for v in shims if shims[v].to_stage == STAGES[k]),
                             key=index.__getitem__)
            for v in targets:
                resumes[v] = index[v]
            label = RESUME_LABEL
            while label in index:
                label += "_"
            pop = Op("shim.pop", None, (), {
                "resume": tuple(index[v] for v in targets), "targets": tuple(targets),
                "regs": tuple(tuple(r for r, _, _ in shims[v].registers) for v in targets),
                "final": k == last})
            blocks.append(Block(label, [pop]))
        cross_blocks: dict[str, Block] = {}

        for b in mine:
            nb = Block(b.label, [copy.deepcopy(op) for op in b.ops])
            term = nb.ops[-1]
            if STAGES[k] == "nic" and term.opcode == "br" and \
                    term.attrs["targets"][0] in inplace:
                # the in-place write as a whole-entry insert (the X block then unreachable)
                term = nb.ops[-1] = Op("jmp", None, (), {
                    "targets": (inplace[term.attrs["targets"][0]],)}, term.span)
            if term.opcode in ("br", "jmp"):
                term.attrs["targets"] = tuple(
                    _cross(t, cross_blocks, index, shims) if stage_of[t] > k else t
                    for t in term.attrs["targets"])
            elif term.opcode == "ret" and term.attrs["verdict"] == "pass" and k != last:
                nb.ops[-1:] = [Op("shim.push", None, (), {"resume": SHIM_DONE}, term.span),
                               term]
            blocks.append(nb)
        classifier: list[str] = []
        extra_states: list[StateDecl] = []
        extra_regs: dict[str, IntType | RefType] = {}
        if traffic is not None and k == nic:
            cb = _ClassifierBuilder(program, traffic)
            host = _cross(entry, cross_blocks, index, shims)
            target = entry if stage_of[entry] == nic else host
            blocks[:0] = cb.build(target, host)
            extra_states = cb.states()
            extra_regs = dict(cb.regs)
            classifier = [st.name for st in extra_states]
        blocks += list(cross_blocks.values())
        sp = Program(f"{program.name}_{STAGES[k]}", source=program.source)
        sp.blocks = blocks
        keep = set(owned[k]) | set(replicas[k]) | set(counters[k]) | \
            (set(host_copies) if traffic is not None and k == kernel else set())
        sp.states = [s for s in program.states if s.name in keep] + extra_states
        used_regs = _used_regs(blocks)
        sp.regs = {r: t for r, t in list(program.regs.items()) + list(extra_regs.items())
                   if r in used_regs}
        reach = {b.label for b in sp.topological_blocks()}
        sp.blocks = [b for b in sp.blocks if b.label in reach]
        used_regs = _used_regs(sp.blocks)
        sp.regs = {r: t for r, t in sp.regs.items() if r in used_regs}
        clock = None
        if STAGES[k] == "nic" and nic_model is not None \
                and nic_model.host_clock_period_ns is not None:
            clock = _lower_now_to_clock(sp)
        if STAGES[k] == "nic":
            # counters inserted with a non-zero first value start at zero, then are added to
            # (the Agilio offload's rule; the host stages keep the cheaper plain insert)
            AtomicInit().apply(sp)
        try:
            verify(sp)
        except IRError as exc:  # a bug here, not the user's: say which stage
            raise SplitError(f"stage {STAGES[k]} of {program.name} does not verify: {exc}") \
                from None
        result.append(StageProgram(STAGES[k], sp, pos == 0, k == used[-1], owned[k],
                                   replicas[k], resumes,
                                   host_copies if traffic is not None and k == kernel else [],
                                   classifier, counters[k], clock))
    return SplitResult(result, sorted(shims.values(), key=lambda s: s.resume_id), traffic)


def _lower_now_to_clock(sp: Program) -> str | None:
    """Every ``now`` of ``sp`` (a NIC stage) as a read of slot 0 of a new one-entry array
    :data:`CLOCK_STATE` (u64 ns): ``const 0; map.lookup; ref.load``. Returns the state's
    name, or None when ``sp`` never calls ``now()`` (nothing added)."""
    if not any(op.opcode == "now" for _, op in sp.ops()):
        return None
    name = _fresh(CLOCK_STATE, {s.name for s in sp.states})
    sp.states.append(StateDecl(name, "array", (StateField("index", 32),),
                               (StateField("now_ns", 64),), 1, origin="host_clock"))
    taken = set(sp.regs)

    def reg(hint: str, t: IntType | RefType) -> str:
        r = _fresh(hint, taken)
        taken.add(r)
        sp.regs[r] = t
        return r

    for b in sp.blocks:
        ops: list[Op] = []
        for op in b.ops:
            if op.opcode != "now":
                ops.append(op)
                continue
            zero, ref = reg("clock_slot", IntType(32)), reg("clock_ref", RefType(name))
            ops += [Op("const", zero, (), {"value": 0}, op.span),
                    Op("map.lookup", ref, (zero,), {"state": name}, op.span),
                    Op("ref.load", op.dest, (ref,), {"state": name, "index": 0}, op.span)]
        b.ops = ops
    return name


def classifier_program(program: Program, traffic: TrafficSplit) -> Program:
    """The flow classifier of ``traffic`` for ``program`` alone, as the NIC stage of a plan
    that puts every block on the host: its ops are what a traffic split adds to the NIC
    stage of any cut (for cost models and NIC checks). Verified IR.

    Raises:
        SplitError: the program cannot take this split.
    """
    order = program.topological_blocks()
    plan = {"blocks": {b.label: "kernel" for b in order}, "states": {}, "shim": [],
            "traffic": traffic.to_json()}
    return split(program, plan).stages[0].program


def split_program(program: Program, plan) -> list[StageProgram]:
    """The stage programs of ``program`` under ``plan``, in pipeline order (see :func:`split`).

    Raises:
        SplitError: the plan does not fit the program.
    """
    return split(program, plan).stages


def nic_stage_problems(result: SplitResult, nic_model) -> list[str]:
    """What the NIC stage of ``result`` uses that the NIC model (a
    :class:`cora.compiler.offload.stage_model.StageModel`) cannot run: ops by
    class/opcode/verdict/state kind, and the instruction estimate against ``max_instructions``
    (the partitioner's :data:`cora.compiler.offload.partition.INSNS_PER_OP`). The shim ops are the
    stage boundary and not checked. Empty when there is no NIC stage or it fits.
    """
    from cora.compiler.offload.partition import INSNS_PER_OP

    out = []
    for st in result.stages:
        if st.stage != "nic":
            continue
        ts = result.traffic
        # a split whose NIC path is the heavy-flow table alone bounds the NIC's per-flow
        # tables: an LRU map there never fills (traffic.no_eviction_states)
        kinds = no_eviction_states(st.program, ts.key_fields, nic_model,
                                   ts.heavy_table_entries) \
            if ts is not None and ts.heavy_keys and not ts.nic_buckets else {}
        insns: float = 0
        for b in st.program.blocks:
            for op in b.ops:
                if op.opcode.startswith("shim."):
                    continue
                insns += INSNS_PER_OP.get(op.op_class, 4)
                if not nic_model.supports_op(op, st.program, kinds):
                    if op.opcode == "ret":
                        what = f"verdict {op.attrs['verdict']}"
                    elif "state" in op.attrs:
                        what = (f"{op.opcode} on {st.program.state(op.attrs['state']).kind} "
                                f"{op.attrs['state']}")
                    else:
                        what = op.opcode
                    if what not in out:
                        out.append(what)
        limit = getattr(nic_model, "max_instructions", None)
        if limit is not None and insns > limit:
            out.append(f"about {insns} instructions > {limit}")
    return out


def load_plan_file(path: str) -> dict:
    """Read a plan file (``cora plan --json``/``--out`` output, or a bare plan object).

    Raises:
        InputError: unreadable file, not a regular file (FIFO, device, directory), larger
            than :data:`cora.inputs.MAX_PLAN_BYTES`, not UTF-8, not JSON, or no plan in it
            (an infeasible plan's document has ``"plan": null``).
    """
    import json

    from cora.errors import InputError
    from cora.inputs import MAX_PLAN_BYTES, read_text

    try:  # a regular file of at most MAX_PLAN_BYTES, UTF-8 (else one InputError line)
        data = json.loads(read_text(path, "plan", MAX_PLAN_BYTES))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deeply to be a plan") from None
    if isinstance(data, dict) and "plan" in data and data["plan"] is None:
        raise InputError(f"{path}: the plan is empty (infeasible: "
                         f"{data.get('infeasible') or 'no plan found'})")
    if not isinstance(data, dict) or not isinstance(data.get("plan", data), dict) or \
            "blocks" not in data.get("plan", data):
        raise InputError(f"{path}: not a cora plan (expected the output of cora plan --json)")
    problem = plan_shape_problem(data.get("plan", data))
    if problem:
        raise InputError(f"{path}: not a cora plan: {problem}")
    return data


def plan_shape_problem(plan: dict) -> str | None:
    """What in a plan object (:meth:`Plan.to_json`'s shape) has the wrong type, or None.

    Checks ``blocks`` (label -> a stage of :data:`STAGES`), ``states`` (name -> object with a
    ``replicas`` list of ``{"stage", "tier"}`` strings) and ``shim`` (a list of objects whose
    ``registers`` is a list of objects with a string ``name``).
    """
    blocks = plan.get("blocks")
    if not isinstance(blocks, dict):
        return "'blocks' must map block labels to stages"
    bad = sorted({repr(v)[:20] for v in blocks.values() if v not in STAGES})
    if bad:
        return f"unknown stage(s) {', '.join(bad)} (stages: {', '.join(STAGES)})"
    states = plan.get("states", {})
    if not isinstance(states, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("replicas"), list) and v["replicas"]
            and all(isinstance(r, dict) and r.get("stage") in STAGES
                    and isinstance(r.get("tier"), str) for r in v["replicas"])
            for v in states.values()):
        return "'states' must map state names to {\"replicas\": [{\"stage\", \"tier\"}, ...]}"
    shim = plan.get("shim", [])
    if not isinstance(shim, list) or not all(
            isinstance(e, dict) and isinstance(e.get("to", ""), str)
            and isinstance(e.get("registers", []), list)
            and all(isinstance(r, dict) and isinstance(r.get("name"), str)
                    for r in e.get("registers", []))
            for e in shim):
        return "'shim' must be a list of {\"to\", \"registers\": [{\"name\"}, ...]}"
    return None


def cut_plan(program: Program, cut: int, stages: tuple[str, str] = ("nic", "kernel")) -> dict:
    """A forced plan: the first ``cut`` blocks of a topological order on ``stages[0]``, the
    rest on ``stages[1]`` (every edge goes forward since the order is topological). States are
    left for :func:`split` to place from the accesses.

    Returns:
        plan JSON ``{"blocks": {label: stage}, "states": {}, "shim": []}``.
    """
    order = program.topological_blocks()
    return {"blocks": {b.label: stages[0] if i < cut else stages[1]
                       for i, b in enumerate(order)}, "states": {}, "shim": []}


def check_nic_model(doc: dict, result) -> None:
    """Refuse a NIC stage its NIC model (``"nic"`` of a ``cora plan --json`` document)
    cannot run; plans without a ``nic`` key (hand-made cuts) are not checked."""
    from cora.compiler.offload.stage_model import load_model

    nic = doc.get("nic")
    if not nic or not any(st.stage == "nic" for st in result.stages):
        return
    bad = nic_stage_problems(result, load_model(nic))
    if bad:
        raise CoraError(f"the NIC stage cannot run on {nic}: " + "; ".join(bad[:5])
                        + (f" (+{len(bad) - 5} more)" if len(bad) > 5 else ""))


__all__ = ["BUCKETS_STATE", "CLOCK_STATE", "HEAVY_STATE", "HOST_PATH_RESUME",
           "PARSE_STEERING_FIELDS", "ShimLayout", "classifier_program", "SplitError",
           "SplitResult", "StageProgram", "check_nic_model", "cut_plan", "load_plan_file",
           "nic_model_of", "nic_stage_problems", "split", "split_program"]
