"""Stage models: what a stage can run and what each IR op costs there (docs/offload.md).

A :class:`StageModel` is read from ``compiler/offload/models/<name>.toml`` by :func:`load_model`.
Every figure in a model file carries its source in the file's ``[sources]`` table: a datasheet, a
paper, the kernel's driver source, ``measured: <command>, <date>, <kernel>`` (the host kernel
``xdp`` model, written by ``python -m cora.runtime.calibrate --write``) or ``modelled: <how it
was derived>``. :func:`load_model` refuses a model with a figure that has no source.

Cost of one stage (docs/offload.md, "Stage models")::

    ns/packet = per_packet_ns + sum over blocks b on the stage of
                freq(b) * sum over ops o of b of cost(o)

with ``cost(o)`` (:meth:`StageModel.op_ns`):

- an op that touches no state: ``opcode_cost_ns[opcode]`` if the model lists that opcode,
  else ``op_cost_ns[op_class]`` (op classes: :attr:`cora.compiler.ir.ops.OpDef.op_class`), plus
  ``operand_cost_ns[opcode]`` per operand beyond the first (``hash``);
- ``map.lookup`` / ``map.update`` / ``map.delete`` on a state of kind K held in tier T:
  ``map_op_cost_ns["K.<op_class>"]`` if the model lists it, else ``op_cost_ns[op_class] +
  map_cost_ns[K]``; plus ``map_key_byte_ns[K]`` per key byte beyond 8; plus ``T.access_ns``;
- ``ref.load`` / ``ref.store`` (read or write a field of a found entry): ``op_cost_ns[class]
  + T.access_ns``.

Ops the C compiler removes or simplifies are charged as it does (:func:`charged_ops`: a
repeated pure op within a block costs nothing, a division by a constant costs an ALU op or
a multiply), so the sum is over the ops the generated code executes.

Host cores at R Mpps = R * 1e6 * host_ns / 1e9; NIC utilisation = R * 1e6 * nic_ns /
(1e9 * cores) (:func:`host_cores`, :func:`nic_utilization`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from cora.compiler.ir import STATE_KINDS, VERDICTS, Block, Op, Program, StateDecl
from cora.compiler.ir.ops import ALL_OP_CLASSES, PURE_OPCODES
from cora.errors import CoraError

# ALL_OP_CLASSES (every op class of the IR: the keys every model's op_cost_ns is checked
# against) and PURE_OPCODES come from the op registry, cora.compiler.ir.ops.
#: Op classes that act on a map entry or a map (their cost adds the state's tier access).
MAP_OP_CLASSES = ("map_lookup", "map_update", "map_delete", "map_read", "map_write")
#: Map op classes that also pay the per-kind map cost (a helper call on a map).
MAP_CALL_CLASSES = ("map_lookup", "map_update", "map_delete")
#: Scalar figures every model must have, each with a source.
SCALAR_FIELDS = ("cores", "clock_ghz", "max_instructions", "max_maps", "max_map_entries",
                 "per_packet_ns", "crossing_ns", "shim_byte_ns", "max_shim_bytes")
KINDS = ("nic", "host")


class ModelError(CoraError):
    """A stage model is unknown, or its file is malformed or incomplete."""


@dataclass(frozen=True)
class Tier:
    """One memory tier of a stage.

    Attributes:
        name: e.g. ``CLS``, ``EMEM``, ``DRAM``.
        mem_bytes: capacity usable for state, bytes.
        access_ns: time added per map op on a state held in this tier, ns (0 on the host:
            there the measured map costs already include memory).
    """

    name: str
    mem_bytes: int
    access_ns: float


@dataclass(frozen=True)
class StageModel:
    """What one stage can run and what it costs (docs/offload.md, "Stage models").

    Attributes:
        name: model name (``xdp``, ``user``, ``agilio``, ``bluefield2``).
        kind: ``"nic"`` or ``"host"``.
        description: one line.
        cores: NIC: processing cores that run packets in parallel; host: 1 (costs per core).
        clock_ghz: core clock, GHz.
        op_classes: IR op classes it can run.
        map_kinds: IR state kinds it can hold.
        excluded_opcodes: opcodes it cannot run although their class is allowed (e.g.
            ``ref.store`` on Agilio: the nfp verifier rejects stores into map values).
        max_instructions: most instructions of one stage program (None: no practical limit).
        max_maps: most state objects on the stage.
        max_map_entries: most entries summed over all its maps.
        verdicts: verdicts it can return.
        tiers: memory tiers, fastest first.
        op_cost_ns: op class -> ns per executed op.
        opcode_cost_ns: opcode -> ns, overriding its class (e.g. ``rand`` vs ``now``).
        map_cost_ns: state kind -> ns added to each map.lookup/update/delete of that kind.
        map_op_cost_ns: ``"<kind>.<op_class>"`` -> ns, replacing op_cost_ns[class] +
            map_cost_ns[kind] for that pair (e.g. an LRU update allocates an element).
        operand_cost_ns: opcode -> ns per operand beyond the first (``hash``: one more
            splitmix64 round per operand).
        map_key_byte_ns: state kind -> ns per key byte beyond 8 on each map call of that
            kind (the kernel hashes the whole key; 4-byte keys cost a little less).
        max_operand_bits: opcode -> widest operand/result it handles (Agilio: ``mul``,
            ``div``, ``mod`` within 32 bits); checked by :meth:`supports_op` with a program.
        constant_divisor_only: ``div``/``mod`` only by a constant (no divide instruction).
        atomic_counter_kinds: state kinds held here only as atomic counters: every write of
            such a state must be an ``atomic_add`` (Agilio: ``percpu_array``, held as a plain
            BPF array; the NIC has no per-CPU memory, and one atomically added counter equals
            the sum over CPUs the host reads from a per-CPU array).
        zero_init_atomic: a ``map.update`` must store 0 into every value field the program
            adds to atomically (nfp driver, ``nfp_bpf_map_update_value_ok``: "bpf_map_update_elem()
            is required to initialize atomic counters to zero").
        no_eviction_kinds: kind -> the kind that may stand in for it when the plan guarantees
            the table never fills (Agilio: ``lru_hash`` -> ``hash``: without eviction an LRU
            map behaves as a hash map). Not used by :meth:`supports_op` (it cannot know the
            table's fill); see :meth:`holds_without_eviction`.
        host_clock_period_ns: None when ``now()`` is the stage's own clock; else the stage has
            no clock helper and the host feeds one: a one-entry array map that the host
            writes every this many ns (``cora.runtime.clock_feed``). ``now()`` on the stage
            then reads that map (:func:`cora.compiler.offload.split.split` lowers it so) and
            lags the host's clock by up to the period plus one map write; charged as
            ``opcode_cost_ns.now``. Needs a source when set.
        multicast: whether the stage can end a packet with the multicast verdict (``mcast G``:
            ``bpf_redirect_map`` of the ``devmap`` group G with ``BPF_F_BROADCAST``) and so
            hold ``devmap`` states (:meth:`holds_kind`); needs a ``sources.multicast`` entry
            when true. The clones (one per port of the group, made by the kernel after the
            program returns) are not charged: :meth:`op_ns` charges ``mcast`` as one helper
            call.
        per_packet_ns: fixed cost of running a stage program on one packet, ns.
        crossing_ns: cost of receiving a packet from an earlier stage, ns per crossing.
        shim_byte_ns: cost per metadata shim byte carried over a crossing, ns.
        max_shim_bytes: largest metadata shim, bytes.
        sources: figure name -> its source (see :meth:`source_of`).
        path: the file the model was read from.
    """

    name: str
    kind: str
    description: str
    cores: int
    clock_ghz: float
    op_classes: tuple[str, ...]
    map_kinds: tuple[str, ...]
    max_instructions: int | None
    max_maps: int
    max_map_entries: int
    verdicts: tuple[str, ...]
    tiers: tuple[Tier, ...]
    op_cost_ns: Mapping[str, float]
    map_cost_ns: Mapping[str, float]
    per_packet_ns: float
    crossing_ns: float
    shim_byte_ns: float
    max_shim_bytes: int
    sources: Mapping[str, str]
    excluded_opcodes: tuple[str, ...] = ()
    opcode_cost_ns: Mapping[str, float] = field(default_factory=dict)
    map_op_cost_ns: Mapping[str, float] = field(default_factory=dict)
    operand_cost_ns: Mapping[str, float] = field(default_factory=dict)
    map_key_byte_ns: Mapping[str, float] = field(default_factory=dict)
    max_operand_bits: Mapping[str, int] = field(default_factory=dict)
    constant_divisor_only: bool = False
    atomic_counter_kinds: tuple[str, ...] = ()
    zero_init_atomic: bool = False
    no_eviction_kinds: Mapping[str, str] = field(default_factory=dict)
    multicast: bool = False
    host_clock_period_ns: int | None = None
    path: str = ""

    # ------------------------------------------------------------------ sources
    def source_of(self, figure: str) -> str:
        """The source of a figure: ``"per_packet_ns"``, ``"op_cost_ns.alu"``,
        ``"map_cost_ns.hash"``, ``"tiers.EMEM"`` ... A table entry without its own source
        falls back to the table's (``"op_cost_ns"``).

        Raises:
            KeyError: the figure has no source.
        """
        if figure in self.sources:
            return self.sources[figure]
        table = figure.split(".", 1)[0]
        if table != figure and table in self.sources:
            return self.sources[table]
        raise KeyError(figure)

    def is_measured(self, figure: str) -> bool:
        """Whether the figure's source says ``measured:`` (else it is modelled or cited)."""
        return self.source_of(figure).lstrip().lower().startswith("measured")

    def figures(self) -> list[str]:
        """Names of every figure in the model (scalars, table entries, tiers)."""
        out = [f for f in SCALAR_FIELDS if getattr(self, f) is not None]
        out += [f"op_cost_ns.{k}" for k in self.op_cost_ns]
        out += [f"opcode_cost_ns.{k}" for k in self.opcode_cost_ns]
        out += [f"map_cost_ns.{k}" for k in self.map_cost_ns]
        out += [f"map_op_cost_ns.{k}" for k in self.map_op_cost_ns]
        out += [f"operand_cost_ns.{k}" for k in self.operand_cost_ns]
        out += [f"map_key_byte_ns.{k}" for k in self.map_key_byte_ns]
        out += [f"max_operand_bits.{k}" for k in self.max_operand_bits]
        if self.constant_divisor_only:
            out.append("constant_divisor_only")
        if self.atomic_counter_kinds:
            out.append("atomic_counter_kinds")
        if self.zero_init_atomic:
            out.append("zero_init_atomic")
        out += [f"no_eviction_kinds.{k}" for k in self.no_eviction_kinds]
        if self.host_clock_period_ns is not None:
            out.append("host_clock_period_ns")
        out += [f"tiers.{t.name}" for t in self.tiers]
        return out

    def figure_value(self, figure: str) -> object:
        """The value of a figure named as in :meth:`figures` (a tier: ``(bytes, access_ns)``;
        a flag or list: as stored). Raises KeyError for an unknown figure."""
        table, _, key = figure.partition(".")
        if table == "tiers":
            t = self.tier(key)
            return (t.mem_bytes, t.access_ns)
        if not hasattr(self, table):
            raise KeyError(figure)
        value = getattr(self, table)
        return value[key] if key else value

    def figure_rows(self) -> list[tuple[str, object, str, bool]]:
        """``(figure, value, source, measured)`` for every figure (docs/offload.md's NIC model
        tables; ``measured`` as :meth:`is_measured`)."""
        return [(f, self.figure_value(f), self.source_of(f), self.is_measured(f))
                for f in self.figures()]

    def figure_kind(self, figure: str) -> str:
        """``"measured"`` (the source says ``measured:``), ``"modelled"`` (it says modelled
        or assumed) or ``"cited"`` (a published limit or specification)."""
        if self.is_measured(figure):
            return "measured"
        head = self.source_of(figure).lstrip().lower()[:48]
        return "modelled" if "modelled" in head or "assum" in head else "cited"

    def figures_markdown(self, source_chars: int = 200) -> str:
        """The docs/targets.md table of every figure: value, kind (:meth:`figure_kind`) and
        its source, abridged to ``source_chars`` characters (the toml has it verbatim)."""
        out = ["| figure | value | kind | source (abridged; the toml has it verbatim) |",
               "|---|---|---|---|"]
        for fig, value, src, _ in self.figure_rows():
            if isinstance(value, tuple) and len(value) == 2:     # a tier
                shown = f"{value[0]:,} B; {value[1]:g} ns"
            elif isinstance(value, bool):
                shown = "yes" if value else "no"
            elif isinstance(value, int):
                shown = f"{value:,}"
            elif isinstance(value, float):
                shown = f"{value:g}"
            elif isinstance(value, (tuple, list)):
                shown = ", ".join(map(str, value))
            else:
                shown = str(value)
            text = " ".join(src.split())
            for prefix in ("modelled: ", "modelled "):
                if text.lower().startswith(prefix):
                    text = text[len(prefix):]
            if len(text) > source_chars:
                text = text[:source_chars - 3].rstrip() + "..."
            out.append(f"| {fig} | {shown} | {self.figure_kind(fig)} | "
                       f"{text.replace('|', '/')} |")
        return "\n".join(out) + "\n"

    # ------------------------------------------------------------------ tiers
    def tier(self, name: str | None = None) -> Tier:
        """The tier called ``name`` (None: the fastest). Raises ModelError if unknown."""
        if name is None:
            return self.tiers[0]
        for t in self.tiers:
            if t.name == name:
                return t
        raise ModelError(f"stage model {self.name} has no memory tier {name!r}; tiers: "
                         + ", ".join(t.name for t in self.tiers))

    def default_tier(self, state: StateDecl) -> Tier:
        """The fastest tier that can hold ``state`` whole (see :func:`state_mem_bytes`), or
        the largest tier when none can (the caller's capacity check then fails)."""
        need = state_mem_bytes(state)
        for t in self.tiers:
            if t.mem_bytes >= need:
                return t
        return max(self.tiers, key=lambda t: t.mem_bytes)

    def holds_kind(self, kind: str) -> bool:
        """Whether this stage can hold a state of ``kind``: one of :attr:`map_kinds`, or a
        ``devmap`` (multicast group) where :attr:`multicast` is true."""
        return kind in self.map_kinds or (kind == "devmap" and self.multicast)

    def holds_without_eviction(self, kind: str) -> str | None:
        """The map kind this stage uses for a state of ``kind`` that never fills, or None.

        ``kind`` itself when the stage holds it (:attr:`map_kinds`); else
        :attr:`no_eviction_kinds` ``[kind]`` (Agilio: an ``lru_hash`` as a ``hash``: with no
        eviction the two behave the same, so a plan may put such a state here only when it
        guarantees that the table never holds more entries than its capacity, e.g. the state
        of a fixed set of flows the NIC's flow classifier admits).
        """
        if kind in self.map_kinds:
            return kind
        return self.no_eviction_kinds.get(kind)

    # ------------------------------------------------------------------ capability
    def supports_op(self, op: Op, program: Program | None = None,
                    kinds: Mapping[str, str] | None = None) -> bool:
        """Whether this stage can run ``op`` (its class, its opcode, its state's kind and,
        for ``ret``, its verdict). ``kinds``: state name -> the kind this stage holds it as,
        for states a plan holds here under another kind (:meth:`holds_without_eviction`;
        the caller guarantees the plan's condition)."""
        if op.op_class not in self.op_classes or op.opcode in self.excluded_opcodes:
            return False
        if op.opcode == "ret" and op.attrs.get("verdict") not in self.verdicts:
            return False
        if op.opcode == "mcast" and not self.multicast:
            return False
        if program is not None and "state" in op.attrs:
            kind = (kinds or {}).get(op.attrs["state"]) or program.state(op.attrs["state"]).kind
            if not self.holds_kind(kind):
                return False
            if kind in self.atomic_counter_kinds and op.state_writes() \
                    and op.opcode != "atomic_add":
                return False
            # a map.update with a non-zero first value of an atomic counter runs too where
            # counters must start at zero (zero_init_atomic): split() lowers the NIC stage
            # with the atomic-init pass and block_cost_ns charges that lowering
            return True
        if program is not None and op.opcode in self.max_operand_bits:
            if operand_bits(program, op) > self.max_operand_bits[op.opcode]:
                return False
            if op.opcode in ("div", "mod") and self.constant_divisor_only \
                    and not is_constant(program, op.args[1]):
                return False
        return True

    # ------------------------------------------------------------------ costs
    def op_ns(self, op: Op, state_kind: str | None = None, tier: str | Tier | None = None,
              charge: str | None = None, key_bytes: int | None = None) -> float:
        """Predicted ns of one execution of ``op`` here (formula in the module docstring).

        Args:
            op: the IR op.
            state_kind: kind of the state the op touches (required for map.lookup/update/
                delete; ignored otherwise).
            tier: tier (name or :class:`Tier`) of that state; None: the fastest tier.
            charge: the op class to charge instead of the op's own (see :func:`charged_ops`:
                a division by a constant costs an ALU op or a multiply).
            key_bytes: key size of the state (``StateDecl.key_bytes``) for map calls; adds
                ``map_key_byte_ns[kind] x (key_bytes - 8)`` (None: no key-size term).
        Raises:
            ModelError: the model has no cost for the op's class or the state's kind.
        """
        cls = op.op_class
        if charge is not None and charge != cls:
            return self._class_cost(charge)
        if op.opcode == "mcast" and "mcast" not in self.opcode_cost_ns:
            # one bpf_redirect_map call (the helper figure); the per-port clones are the
            # kernel's work after the program and are not modelled (see ``multicast``)
            return self._class_cost("helper")
        if cls in MAP_CALL_CLASSES:
            if state_kind is None:
                raise ModelError(f"{op.opcode} needs the kind of its state to be costed")
            pair = f"{state_kind}.{cls}"
            if pair in self.map_op_cost_ns:
                base = self.map_op_cost_ns[pair]
            else:
                base = self._class_cost(cls) + self._kind_cost(state_kind)
            if key_bytes is not None and state_kind in self.map_key_byte_ns:
                base = max(0.0, base + self.map_key_byte_ns[state_kind] * (key_bytes - 8))
        elif op.opcode in self.opcode_cost_ns:
            base = self.opcode_cost_ns[op.opcode]
        else:
            base = self._class_cost(cls)
        if op.opcode in self.operand_cost_ns and len(op.args) > 1:
            base += self.operand_cost_ns[op.opcode] * (len(op.args) - 1)
        if cls in MAP_OP_CLASSES:
            t = tier if isinstance(tier, Tier) else self.tier(tier)
            base += t.access_ns
        return base

    def _class_cost(self, cls: str) -> float:
        try:
            return self.op_cost_ns[cls]
        except KeyError:
            raise ModelError(f"stage model {self.name} cannot run op class {cls} "
                             f"(no cost for it)") from None

    def _kind_cost(self, kind: str) -> float:
        try:
            return self.map_cost_ns[kind]
        except KeyError:
            raise ModelError(f"stage model {self.name} cannot hold a {kind} state") from None

    def block_cost_ns(self, program: Program, block: Block,
                      tiers: Mapping[str, str] | None = None) -> float:
        """Sum of :meth:`op_ns` over the ops of ``block`` that the generated code really
        executes (:func:`charged_ops`), ns per execution of the block.

        Args:
            tiers: state name -> tier name; a state not listed gets :meth:`default_tier`.
        """
        total = 0.0
        for op, charge in charged_ops(block):
            if charge is None:
                continue
            name = op.attrs.get("state") if op.op_class in MAP_OP_CLASSES else None
            if name is None:
                total += self.op_ns(op, charge=charge)
                continue
            state = program.state(name)
            tier = (tiers or {}).get(name)
            placed = self.tier(tier) if tier else self.default_tier(state)
            total += self.op_ns(op, state.kind, placed, key_bytes=state.key_bytes)
            if self.zero_init_atomic and op.opcode == "map.update":
                total += self._atomic_init_ns(program, op, state, placed)
        return total

    def _atomic_init_ns(self, program: Program, op: Op, state: StateDecl, tier: Tier) -> float:
        """Extra ns of the ``atomic-init`` lowering of the insert ``op`` (a lookup of the
        inserted key and one ``atomic_add`` per counter field it sets, see
        :mod:`cora.compiler.passes.atomic_add`); 0 when it inserts no non-zero counter."""
        fields = nonzero_atomic_init(program, op)
        if not fields:
            return 0.0
        lookup = Op("map.lookup", "_init", op.args[:int(op.attrs["nkeys"])],
                    {"state": state.name})
        add = Op("atomic_add", None, ("_init", "_v"), {"state": state.name, "index": fields[0]})
        return (self.op_ns(lookup, state.kind, tier, key_bytes=state.key_bytes)
                + len(fields) * self.op_ns(add, state.kind, tier))

    def crossing_cost_ns(self, shim_bytes: int) -> float:
        """Cost, at the receiving stage, of one packet crossing into it with a shim of
        ``shim_bytes`` bytes: ``crossing_ns + shim_byte_ns * shim_bytes``."""
        return self.crossing_ns + self.shim_byte_ns * shim_bytes


def charged_ops(block: Block) -> list[tuple[Op, str | None]]:
    """The ops of ``block`` with the op class each is charged as (None: not executed).

    Models what clang -O2 does to the generated C of one block (local value numbering):

    - a pure op (:attr:`cora.compiler.ir.ops.OpDef.pure`: its result depends only on its
      operands, attributes and the received frame) that repeats an earlier one of the block with the
      same operands (same values: registers not reassigned in between) and attributes costs
      nothing (e.g. count-min ``add`` and ``estimate`` hash the same key with the same
      seeds); header loads are forgotten after a header store;
    - ``div``/``mod`` by a constant power of two is a shift or mask (charged ``alu``), by
      another constant a multiply by the reciprocal (charged ``mul``).
    """
    out: list[tuple[Op, str | None]] = []
    vn: dict[str, object] = {}          # register -> value number
    consts: dict[object, int] = {}      # value number -> constant value
    seen: dict[tuple, object] = {}      # expression -> value number
    fresh = 0
    for op in block.ops:
        if op.opcode == "hdr.store":
            seen = {k: v for k, v in seen.items() if k[0] not in ("hdr.load", "pkt.len")}
        charge: str | None = op.op_class
        if op.opcode in PURE_OPCODES and op.dest is not None:
            attrs = tuple(sorted((k, v if not isinstance(v, list) else tuple(v))
                                 for k, v in op.attrs.items()))
            key = (op.opcode, attrs, tuple(vn.get(a, ("reg", a)) for a in op.args))
            if key in seen:
                vn[op.dest] = seen[key]
                out.append((op, None))
                continue
            fresh += 1
            num = ("vn", fresh)
            seen[key] = num
            vn[op.dest] = num
            if op.opcode == "const":
                consts[num] = int(op.attrs.get("value", 0))
            if op.opcode in ("div", "mod") and len(op.args) == 2:
                divisor = consts.get(vn.get(op.args[1]))
                if divisor:
                    charge = "alu" if divisor & (divisor - 1) == 0 else "mul"
        elif op.dest is not None:
            fresh += 1
            vn[op.dest] = ("vn", fresh)
        out.append((op, charge))
    return out


def operand_bits(program: Program, op: Op) -> int:
    """Widest integer among the op's operands and result, bits (refs count 64)."""
    regs = [*op.args, *([op.dest] if op.dest else [])]
    return max((getattr(program.regs.get(r), "width", 64) for r in regs), default=0)


def is_constant(program: Program, reg: str) -> bool:
    """Whether every assignment of register ``reg`` in ``program`` is a ``const``."""
    defs = [op for _, op in program.ops() if op.dest == reg]
    return bool(defs) and all(op.opcode == "const" for op in defs)


def atomic_fields(program: Program, state: str) -> set[int]:
    """Value field indexes of ``state`` that some ``atomic_add`` of ``program`` adds to."""
    return {int(op.attrs["index"]) for _, op in program.ops()
            if op.opcode == "atomic_add" and op.attrs.get("state") == state}


def nonzero_atomic_init(program: Program, op: Op) -> list[int]:
    """Value field indexes that the ``map.update`` ``op`` may set to a non-zero value while
    the program adds to them atomically (the nfp offload refuses such an update: its atomic
    counters must start at zero, ``nfp_bpf_map_update_value_ok`` in the kernel's
    drivers/net/ethernet/netronome/nfp/bpf/verifier.c). [] when there is none."""
    fields = atomic_fields(program, op.attrs["state"])
    if not fields:
        return []
    values = op.args[int(op.attrs["nkeys"]):]
    return sorted(i for i in fields if i < len(values)
                  and not is_constant_value(program, values[i], 0))


def is_constant_value(program: Program, reg: str, value: int) -> bool:
    """Whether every assignment of ``reg`` in ``program`` is ``const value``."""
    defs = [op for _, op in program.ops() if op.dest == reg]
    return bool(defs) and all(op.opcode == "const" and op.attrs.get("value") == value
                              for op in defs)


#: opcodes that leave a counter state mergeable (see :func:`mergeable_counters`)
_COUNTER_OPCODES = frozenset({"map.lookup", "atomic_add"})


def inplace_alternatives(program: Program) -> dict[str, str]:
    """In-place write blocks a stage without map value stores can replace by their insert:
    ``{X: U}`` for each diamond ``P: br %found, X, U`` that the ``update-in-place`` pass
    (:mod:`cora.compiler.passes.map_lookup`) makes, where ``%found = ref.found %h``, X is
    ``ref.store %h`` of every value field then (``const`` and) ``jmp J``, and U is
    ``map.update`` of the same state with the same values into the same register then
    ``jmp J`` (for a map with ``on_full``: U ends ``br %ok, J, F`` on the update's result
    and X sets that register to 1 before ``jmp J``; an update of a present key succeeds even
    in a full map). A ``bpf_map_update_elem`` of the whole entry has the same effect as
    storing every field of the found entry, so a stage that refuses ``ref.store`` (the nfp JIT:
    "map writes not supported"; whole-entry updates are accepted) may branch straight to U:
    :func:`cora.compiler.offload.split.split` lowers the NIC stage so.
    """
    blocks = {b.label: b for b in program.blocks}
    out: dict[str, str] = {}
    for p in program.blocks:
        t = p.terminator
        if t.opcode != "br" or len(p.ops) < 2:
            continue
        found = p.ops[-2]
        x_l, u_l = t.attrs["targets"]
        if found.opcode != "ref.found" or found.dest != t.args[0]:
            continue
        x, u = blocks.get(x_l), blocks.get(u_l)
        if x is None or u is None or len(u.ops) != 2 or u.ops[0].opcode != "map.update":
            continue
        upd, join = u.ops[0], u.ops[1]
        stores = [op for op in x.ops if op.opcode == "ref.store"]
        rest = [op for op in x.ops if op.opcode != "ref.store"]
        n = upd.attrs["nkeys"]
        if rest[:-1] and not (len(rest) == 2 and rest[0].opcode == "const"
                              and rest[0].dest == upd.dest):
            continue
        if not rest or rest[-1].opcode != "jmp" or len(stores) != len(upd.args) - n:
            continue
        if join.opcode == "jmp":
            if rest[-1].attrs["targets"] != join.attrs["targets"]:
                continue
        elif not (join.opcode == "br" and join.args == (upd.dest,) and len(rest) == 2
                  and rest[0].attrs.get("value") == 1
                  and join.attrs["targets"][0] == rest[-1].attrs["targets"][0]):
            # a map with on_full: U branches on the update's success, and X says "succeeded"
            # (an update of a key that is present succeeds even in a full map)
            continue
        if all(op.args == (found.args[0], v) and op.attrs.get("index") == j
               and op.attrs.get("state") == upd.attrs["state"]
               for j, (op, v) in enumerate(zip(stores, upd.args[n:], strict=True))):
            out[x_l] = u_l
    return out


def mergeable_counters(program: Program) -> list[str]:
    """States the program only adds to: every op naming them is ``map.lookup`` or
    ``atomic_add`` (no read of a value or of presence, no insert, delete or store), on an
    ``array`` or ``percpu_array`` (a hash map would need inserts to grow).

    Such a state may be split over stages: each stage holds its own copy and adds into it, and
    the control plane reads the sum of the copies, exactly as it sums a ``percpu_array`` over
    CPUs; the program's behaviour cannot tell the difference because it never reads the state.
    A partitioner may therefore place such a state on every stage that adds to it instead of
    on one (e.g. firewall's ``drops``: its malformed-frame drops could then happen on a NIC
    while later drops happen on the host). Sorted by name.
    """
    ops_of: dict[str, set[str]] = {}
    for _, op in program.ops():
        name = op.state
        if name is not None:
            ops_of.setdefault(name, set()).add(op.opcode)
    return sorted(s.name for s in program.states
                  if s.kind in ("array", "percpu_array") and s.name in ops_of
                  and ops_of[s.name] <= _COUNTER_OPCODES and "atomic_add" in ops_of[s.name])


def state_mem_bytes(state: StateDecl) -> int:
    """Bytes a state object occupies: capacity x (key bytes + value bytes), keys and values
    laid out as in :func:`cora.compiler.ir.entry_layout` (no per-entry overhead counted)."""
    return state.capacity * (state.key_bytes + state.value_bytes)


def predict_ns_per_packet(program: Program, model: StageModel, block_freq: Mapping[str, float],
                          tiers: Mapping[str, str] | None = None,
                          blocks: Iterable[str] | None = None) -> float:
    """Predicted ns/packet of ``program`` (or of the blocks ``blocks`` of it) on ``model``.

    ``per_packet_ns + sum over blocks b of block_freq[b] * block_cost_ns(b)`` (docs/offload.md).

    Args:
        program: the IR program.
        model: the stage model.
        block_freq: block label -> fraction of packets that execute it (the traffic profile,
            e.g. ``cora.compiler.offload.profile.Profile.block_freq``), each >= 0; a block not
            listed counts 0 (never executed).
        tiers: state name -> tier name on this stage (default: :meth:`StageModel.default_tier`).
        blocks: the labels placed on this stage (default: every block).
    Returns:
        ns per packet (float).
    Raises:
        ModelError: the model cannot cost an op of a counted block.
        ValueError: a negative frequency.
    """
    wanted = None if blocks is None else set(blocks)
    total = model.per_packet_ns
    for block in program.blocks:
        if wanted is not None and block.label not in wanted:
            continue
        f = block_freq.get(block.label, 0.0)
        if f < 0:
            raise ValueError(f"negative frequency {f} for block {block.label}")
        if f:
            total += f * model.block_cost_ns(program, block, tiers)
    return total


def host_cores(rate_mpps: float, host_ns_per_packet: float) -> float:
    """Host cores busy at ``rate_mpps``: R * 1e6 * ns / 1e9 (docs/offload.md)."""
    return rate_mpps * 1e6 * host_ns_per_packet / 1e9


def nic_utilization(rate_mpps: float, nic_ns_per_packet: float, model: StageModel) -> float:
    """NIC load at ``rate_mpps``: R * 1e6 * ns / (1e9 * cores); must stay <= 1."""
    return rate_mpps * 1e6 * nic_ns_per_packet / (1e9 * model.cores)


# ---------------------------------------------------------------------------- loading
def _models_dir() -> Path:
    return Path(str(resources.files("cora.compiler.offload") / "models"))


def available_models() -> list[str]:
    """Names of the stage models shipped in ``compiler/offload/models/`` (sorted)."""
    return sorted(p.stem for p in _models_dir().glob("*.toml"))


def model_path(name: str) -> Path:
    """The file of model ``name``. Raises ModelError for an unknown name."""
    path = _models_dir() / f"{name}.toml"
    if not path.is_file():
        raise ModelError(f"unknown stage model {name!r}; available: "
                         + ", ".join(available_models()))
    return path


def load_model(name: str | Path) -> StageModel:
    """Read and check a stage model.

    Args:
        name: a shipped model's name (``xdp``, ``user``, ``agilio``, ``bluefield2``; see
            :func:`available_models`) or the path of a ``.toml`` file.
    Returns:
        the :class:`StageModel`.
    Raises:
        ModelError: unknown name, unreadable or malformed file, a missing field, an op class
            or state kind it allows without a cost, or a figure without a source.
    """
    path = Path(name) if str(name).endswith(".toml") else model_path(str(name))
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ModelError(f"cannot read stage model {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"{path}: not valid TOML: {exc}") from None
    return model_from_dict(data, str(path))


def model_from_dict(data: dict, path: str = "<dict>") -> StageModel:
    """Build and check a :class:`StageModel` from parsed TOML (see :func:`load_model`)."""
    def need(key):
        if key not in data:
            raise ModelError(f"{path}: missing field {key!r}")
        return data[key]

    try:
        tiers = tuple(Tier(str(t["name"]), int(t["bytes"]), float(t["access_ns"]))
                      for t in need("tiers"))
        max_instr = need("max_instructions")
        model = StageModel(
            name=str(need("name")), kind=str(need("kind")), description=str(need("description")),
            cores=int(need("cores")), clock_ghz=float(need("clock_ghz")),
            op_classes=tuple(need("op_classes")), map_kinds=tuple(need("map_kinds")),
            excluded_opcodes=tuple(data.get("excluded_opcodes", ())),
            max_instructions=None if max_instr in (0, None) else int(max_instr),
            max_maps=int(need("max_maps")), max_map_entries=int(need("max_map_entries")),
            verdicts=tuple(need("verdicts")), tiers=tiers,
            op_cost_ns={k: float(v) for k, v in need("op_cost_ns").items()},
            opcode_cost_ns={k: float(v) for k, v in data.get("opcode_cost_ns", {}).items()},
            map_cost_ns={k: float(v) for k, v in need("map_cost_ns").items()},
            map_op_cost_ns={k: float(v) for k, v in data.get("map_op_cost_ns", {}).items()},
            operand_cost_ns={k: float(v) for k, v in data.get("operand_cost_ns", {}).items()},
            map_key_byte_ns={k: float(v) for k, v in data.get("map_key_byte_ns", {}).items()},
            max_operand_bits={k: int(v) for k, v in data.get("max_operand_bits", {}).items()},
            constant_divisor_only=bool(data.get("constant_divisor_only", False)),
            atomic_counter_kinds=tuple(data.get("atomic_counter_kinds", ())),
            zero_init_atomic=bool(data.get("zero_init_atomic", False)),
            no_eviction_kinds={str(k): str(v)
                               for k, v in data.get("no_eviction_kinds", {}).items()},
            multicast=bool(data.get("multicast", False)),
            host_clock_period_ns=None if data.get("host_clock_period_ns") is None
            else int(data["host_clock_period_ns"]),
            per_packet_ns=float(need("per_packet_ns")), crossing_ns=float(need("crossing_ns")),
            shim_byte_ns=float(need("shim_byte_ns")), max_shim_bytes=int(need("max_shim_bytes")),
            sources={k: str(v) for k, v in need("sources").items()}, path=path)
    except (TypeError, ValueError, KeyError) as exc:
        raise ModelError(f"{path}: malformed stage model: {exc}") from None
    check_model(model)
    return model


def check_model(model: StageModel) -> None:
    """Raise ModelError unless the model is complete and every figure has a source."""
    where = model.path or model.name
    if model.kind not in KINDS:
        raise ModelError(f"{where}: kind must be one of {KINDS}, not {model.kind!r}")
    bad = [c for c in model.op_classes if c not in ALL_OP_CLASSES]
    if bad:
        raise ModelError(f"{where}: unknown op classes {bad}")
    bad = [k for k in model.map_kinds if k not in STATE_KINDS]
    if bad:
        raise ModelError(f"{where}: unknown state kinds {bad}")
    bad = [k for k in (*model.atomic_counter_kinds, *model.no_eviction_kinds,
                       *model.no_eviction_kinds.values()) if k not in STATE_KINDS]
    bad += [k for k in model.atomic_counter_kinds if k not in model.map_kinds]
    bad += [v for k, v in model.no_eviction_kinds.items() if v not in model.map_kinds]
    if bad:
        raise ModelError(f"{where}: atomic_counter_kinds / no_eviction_kinds name kinds it "
                         f"does not hold or that do not exist: {bad}")
    bad = [v for v in model.verdicts if v not in VERDICTS]
    if bad:
        raise ModelError(f"{where}: unknown verdicts {bad}")
    if model.multicast and "multicast" not in model.sources:
        raise ModelError(f"{where}: multicast = true needs a source (sources.multicast)")
    if model.multicast and "helper" not in model.op_classes:
        raise ModelError(f"{where}: multicast = true needs the helper op class (mcast is "
                         "charged as one helper call)")
    if model.host_clock_period_ns is not None and (
            model.host_clock_period_ns <= 0 or "now" in model.excluded_opcodes
            or "helper" not in model.op_classes):
        raise ModelError(f"{where}: host_clock_period_ns must be a positive period in ns, "
                         "with now() not excluded and the helper op class allowed (now() "
                         "reads the host-fed clock)")
    if not model.tiers:
        raise ModelError(f"{where}: at least one memory tier is needed")
    missing = [c for c in model.op_classes if c not in model.op_cost_ns]
    if missing:
        raise ModelError(f"{where}: no op_cost_ns for allowed op classes {missing}")
    missing = [k for k in model.map_kinds if k not in model.map_cost_ns]
    if missing:
        raise ModelError(f"{where}: no map_cost_ns for allowed state kinds {missing}")
    for fig in model.figures():
        try:
            src = model.source_of(fig)
        except KeyError:
            raise ModelError(f"{where}: figure {fig} has no entry in [sources]") from None
        if not src.strip():
            raise ModelError(f"{where}: figure {fig} has an empty source")
    negative = [f for f in model.figures() if f.split(".")[0] in
                ("op_cost_ns", "opcode_cost_ns", "map_cost_ns", "map_op_cost_ns",
                 "operand_cost_ns", "map_key_byte_ns")
                and _figure_value(model, f) < 0]
    if negative:
        raise ModelError(f"{where}: negative costs {negative}")


def _figure_value(model: StageModel, figure: str) -> float:
    table, _, key = figure.partition(".")
    return float(getattr(model, table)[key]) if key else float(getattr(model, table))


__all__ = ["ALL_OP_CLASSES", "ModelError", "atomic_fields", "charged_ops", "is_constant",
           "is_constant_value", "mergeable_counters", "nonzero_atomic_init", "operand_bits",
           "StageModel", "Tier", "available_models",
           "check_model", "host_cores", "inplace_alternatives", "load_model",
           "model_from_dict", "model_path",
           "nic_utilization", "predict_ns_per_packet", "state_mem_bytes"]
