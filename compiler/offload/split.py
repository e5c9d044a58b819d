"""Split an NF into one program per offload stage, following a partition plan.

Contract: docs/offload.md. A plan (:class:`cora.compiler.offload.partition.Plan`, or its JSON from
``cora plan --json``) puts every IR block on a stage ``nic`` -> ``kernel`` -> ``user`` and
never moves a packet back. :func:`split_program` turns the whole program into one
:class:`StageProgram` per stage that holds blocks, in pipeline order:

- each stage program holds only its stage's blocks and the state objects its blocks touch
  (a state the program writes lives on exactly one stage; a read-only state, such as an lpm
  rule table, is replicated on every stage that reads it);
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
    c_bytes,
    shim_bytes,
)
from cora.compiler.ir.verify import verify
from cora.compiler.offload.partition import STAGES, Plan, live_in
from cora.errors import CoraError

#: Header fields that steer the fixed parser and may be written (the others are read-only):
#: a later stage re-parses the frame, so an earlier stage must not change them.
PARSE_STEERING_FIELDS = (("ipv4", "frag_offset"),)
RESUME_LABEL = "resume"


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
    """

    stage: str
    program: Program
    first: bool
    final: bool
    owned_states: list[str] = field(default_factory=list)
    replicated_states: list[str] = field(default_factory=list)
    resumes: dict[str, int] = field(default_factory=dict)


@dataclass
class SplitResult:
    """What :func:`split` returns: the stages in pipeline order and every shim layout."""

    stages: list[StageProgram]
    shims: list[ShimLayout]

    def layout_json(self, nf: str) -> dict:
        """The shim layout document written by ``cora compile --plan`` (``shim.json``)."""
        return {"nf": nf, "byte_order": "big-endian", "resume_id_bytes": 2,
                "done_resume_id": SHIM_DONE,
                "stages": [{"stage": s.stage, "blocks": [b.label for b in s.program.blocks],
                            "first": s.first, "final": s.final,
                            "owned_states": s.owned_states,
                            "replicated_states": s.replicated_states,
                            "resumes": s.resumes} for s in self.stages],
                "shims": [sh.to_json() for sh in self.shims]}


def _plan_parts(plan) -> tuple[dict[str, str], dict[str, list[tuple[str, str]]], list[dict]]:
    """(block -> stage, state -> [(stage, tier)], shim list) from a Plan or its JSON."""
    if isinstance(plan, Plan):
        return dict(plan.block_stage), dict(plan.state_place), list(plan.shim)
    if isinstance(plan, dict):
        data = plan.get("plan", plan) if "blocks" not in plan else plan
        if not isinstance(data, dict) or "blocks" not in data:
            raise SplitError("not a cora plan (expected the output of `cora plan --json`)")
        try:
            p = Plan.from_json({"blocks": data["blocks"], "states": data.get("states", {}),
                                "shim": data.get("shim", [])})
        except (KeyError, TypeError, AttributeError):
            raise SplitError("not a cora plan (malformed states or shim)") from None
        return p.block_stage, p.state_place, p.shim
    raise SplitError(f"not a plan: {type(plan).__name__}")


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


def split(program: Program, plan) -> SplitResult:
    """Split ``program`` by ``plan`` (a :class:`Plan` or ``cora plan --json`` output).

    Returns:
        a :class:`SplitResult` (stages in pipeline order, only stages holding blocks).
    Raises:
        SplitError: the plan does not fit the program (see the module docstring).
    """
    verify(program)
    block_stage, state_place, plan_shims = _plan_parts(plan)
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
    for entry in plan_shims:
        to = entry.get("to")
        if to in shims and "registers" in entry:
            carried = [r["name"] for r in entry["registers"]]
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
    for s in program.states:
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

    result = []
    for pos, k in enumerate(used):
        mine = [b for b in program.blocks if stage_of.get(b.label) == k]
        blocks: list[Block] = []
        resumes: dict[str, int] = {}
        if pos > 0:
            targets = sorted((v for v in shims if stage_of[v] == k), key=index.__getitem__)
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
            if term.opcode in ("br", "jmp"):
                term.attrs["targets"] = tuple(
                    _cross(t, cross_blocks, index, shims) if stage_of[t] > k else t
                    for t in term.attrs["targets"])
            elif term.opcode == "ret" and term.attrs["verdict"] == "pass" and k != last:
                nb.ops[-1:] = [Op("shim.push", None, (), {"resume": SHIM_DONE}, term.span),
                               term]
            blocks.append(nb)
        blocks += list(cross_blocks.values())
        sp = Program(f"{program.name}_{STAGES[k]}", source=program.source)
        sp.blocks = blocks
        keep = set(owned[k]) | set(replicas[k])
        sp.states = [s for s in program.states if s.name in keep]
        used_regs = _used_regs(blocks)
        sp.regs = {r: t for r, t in program.regs.items() if r in used_regs}
        reach = {b.label for b in sp.topological_blocks()}
        sp.blocks = [b for b in sp.blocks if b.label in reach]
        used_regs = _used_regs(sp.blocks)
        sp.regs = {r: t for r, t in sp.regs.items() if r in used_regs}
        try:
            verify(sp)
        except IRError as exc:  # a bug here, not the user's: say which stage
            raise SplitError(f"stage {STAGES[k]} of {program.name} does not verify: {exc}") \
                from None
        result.append(StageProgram(STAGES[k], sp, pos == 0, k == last, owned[k], replicas[k],
                                   resumes))
    return SplitResult(result, sorted(shims.values(), key=lambda s: s.resume_id))


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
        insns: float = 0
        for b in st.program.blocks:
            for op in b.ops:
                if op.opcode.startswith("shim."):
                    continue
                insns += INSNS_PER_OP.get(op.op_class, 4)
                if not nic_model.supports_op(op, st.program):
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


__all__ = ["PARSE_STEERING_FIELDS", "ShimLayout", "SplitError", "SplitResult", "StageProgram",
           "check_nic_model", "cut_plan", "load_plan_file", "nic_stage_problems", "split",
           "split_program"]
