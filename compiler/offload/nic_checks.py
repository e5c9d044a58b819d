"""What a NIC stage can run: the checks each NIC target applies to (part of) an IR program.

``get_checks(name).unsupported(program, plan_stage_blocks=None, tiers=None) -> list[str]``
returns one reason per line, in words, naming the construct and its NF source position
(``[]`` when the stage can run there). The partitioner uses the model's capabilities to
build its constraints; these checks are the word-for-word reasons for a user, and the gate a
NIC stage program passes before it is deployed (it then runs as XDP in a namespace in front
of the host: no NIC hardware is on these machines).

Agilio CX (Netronome NFP-4000) eBPF offload, from the kernel's nfp driver
(drivers/net/ethernet/netronome/nfp/bpf/verifier.c and offload.c):

- maps: only BPF_MAP_TYPE_HASH and BPF_MAP_TYPE_ARRAY ("map type not supported"): no LRU
  hash or LPM trie. A ``percpu_array`` whose every write is an ``atomic_add`` is held as a
  plain array of atomic counters (the NIC has no per-CPU memory; one atomically added counter
  equals the per-CPU sum the host reads); key+value, each rounded up to 8 bytes, within the
  firmware's element size (64 bytes per entry in Mizar's offload notes and libkefir's
  hardware offload notes); entries over all maps within 3,072,000; maps within the
  firmware's map limit. An ``lru_hash`` is refused: a plain hash map behaves the same only
  while it never fills, which these checks cannot know (a traffic-split plan that bounds
  the table may use :meth:`StageModel.holds_without_eviction`);
- helpers: map lookup/update/delete, bpf_get_prandom_u32, xdp_adjust_head/tail and
  perf_event_output only: no bpf_ktime_get_ns (so ``now()`` reads a host-fed clock map
  instead, :attr:`StageModel.host_clock_period_ns`; a model without one refuses it), no
  bpf_redirect (so no
  ``redirect`` verdict, i.e. no XDP_REDIRECT), no bpf_xdp_get_buff_len (the NIC stage is
  generated without multi-buffer support);
- no stores into map values ("map writes not supported"), so no in-place field update of
  a found entry (``ref.store``); atomic adds (BPF_ATOMIC | BPF_ADD, formerly BPF_XADD) into
  map values are accepted (``nfp_bpf_check_atomic``), so a counter compiled to
  ``atomic_add`` (the ``atomic-add`` pass) runs; such counter fields must be initialised to
  zero by every ``map.update`` of the map (``nfp_bpf_map_update_value_ok``);
- multiplies only of operands within u32 ("NFP supports u16 and u32 multiplication"). The
  model lets ``hash`` and 64-bit ``mul`` run on the assumption that the NIC stage's code
  generator builds a 64-bit product from three u32 multiplies (lo*lo + (hi*lo + lo*hi) << 32),
  charged as such by the agilio model; cora's C emitter does not do this lowering yet (the
  NIC stage here is emulated as XDP), so a real Agilio would refuse those programs until it
  does. No divide instruction: division only by a constant within u32 (reciprocal
  multiplication);
- at most about 2,800 instructions per program (``max_instructions`` of the agilio model).
  The NFP instruction count is estimated from the IR: :func:`estimate_ebpf_instructions`
  (per-op eBPF instruction counts of the xdp code generator, checked against bcc's output
  for the NF library in tests) times :data:`NFP_INSNS_PER_EBPF` (1.5, a modelled
  assumption: the nfp JIT turns a 64-bit eBPF ALU op into two 32-bit NFP instructions and
  most others into one).

BlueField-2: the stage is an ordinary XDP program in the Linux of its 8 Arm A72 cores, so
every IR op, state kind and verdict runs; the checks are the kernel's limits (instructions,
maps) and the DPU's memory (its model's tier).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cora.compiler.frontend.check.backend import (
    EBPF_INSNS,
    EBPF_PROLOGUE,
    estimate_ebpf_instructions,
)
from cora.compiler.ir import Op, Program, StateDecl
from cora.compiler.offload.stage_model import (
    StageModel,
    is_constant,
    load_model,
    nonzero_atomic_init,
    operand_bits,
    state_mem_bytes,
)

#: NFP instructions per eBPF instruction (modelled assumption, see module docstring).
NFP_INSNS_PER_EBPF = 1.5
#: NFP instructions of one 64-bit multiply built from three u32 multiplies (modelled: ~5
#: multiply-step instructions each plus 4 shifts and adds; agilio.toml, op_cost_ns.mul). A
#: ``hash`` does two per operand (one splitmix64 round).
NFP_WIDE_MUL_INSNS = 19
#: Largest key + value (each rounded up to 8 bytes) of one offloaded map entry, bytes
#: (Mizar's XDP offload notes: "a maximum limit of 64 bytes per entry").
AGILIO_MAX_ENTRY_BYTES = 64


def _where(program: Program, op: Op) -> str:
    src = program.source or program.name
    return f"{src}:{op.span.line}:{op.span.col}" if op.span else src


def _state_where(program: Program, state: StateDecl) -> str:
    src = program.source or program.name
    return f"{src}:{state.span.line}:{state.span.col}" if state.span else src


@dataclass
class NicChecks:
    """The checks of one NIC target, driven by its stage model's capabilities.

    Attributes:
        model: the NIC's :class:`~cora.compiler.offload.stage_model.StageModel`.
    """

    model: StageModel

    @property
    def name(self) -> str:
        """The NIC target's name (``agilio``, ``bluefield2``)."""
        return self.model.name

    def stage_ops(self, program: Program, blocks: Iterable[str] | None):
        """(block, op) of the blocks on the stage (all when ``blocks`` is None)."""
        wanted = None if blocks is None else set(blocks)
        for block in program.blocks:
            if wanted is None or block.label in wanted:
                for op in block.ops:
                    yield block, op

    def stage_states(self, program: Program, blocks: Iterable[str] | None) -> list[StateDecl]:
        """State objects the stage's ops touch, in declaration order (all states of the
        program when ``blocks`` is None)."""
        if blocks is None:
            return list(program.states)
        used = {op.attrs["state"] for _, op in self.stage_ops(program, blocks)
                if "state" in op.attrs}
        return [s for s in program.states if s.name in used]

    def unsupported(self, program: Program, plan_stage_blocks: Iterable[str] | None = None,
                    tiers: Mapping[str, str] | None = None) -> list[str]:
        """Reasons, one per construct, why the stage cannot run on this NIC ([] if it can).

        Args:
            program: the NF's IR program.
            plan_stage_blocks: labels of the blocks placed on the NIC (None: the whole NF).
            tiers: state name -> memory tier chosen on the NIC (None: the fastest tier that
                holds each state, :meth:`StageModel.default_tier`).
        """
        blocks = None if plan_stage_blocks is None else list(plan_stage_blocks)
        reasons: list[str] = []
        seen: set[tuple[str, str]] = set()
        for _, op in self.stage_ops(program, blocks):
            for why in self.op_reasons(program, op):
                key = (why, _where(program, op))
                if key not in seen:
                    seen.add(key)
                    reasons.append(f"{_where(program, op)}: {why}")
        reasons += self.state_reasons(program, self.stage_states(program, blocks), tiers)
        reasons += self.size_reasons(program, blocks)
        return reasons

    # -- per op ---------------------------------------------------------------------
    def op_reasons(self, program: Program, op: Op) -> list[str]:
        """Why this NIC cannot run ``op`` (generic: class, opcode and verdict)."""
        m = self.model
        if op.opcode == "ret" and op.attrs.get("verdict") not in m.verdicts:
            return [f"verdict {op.attrs.get('verdict')} is not supported on {m.name} "
                    f"(supported: {', '.join(m.verdicts)})"]
        if op.op_class not in m.op_classes or op.opcode in m.excluded_opcodes:
            return [f"{op.opcode} ({op.op_class}) cannot run on {m.name}"]
        if op.opcode == "mcast" and not m.multicast:
            return [f"multicast({op.attrs.get('state')}) needs a devmap and "
                    f"bpf_redirect_map with BPF_F_BROADCAST; {m.name} has no multicast "
                    f"(its model: {m.sources.get('multicast', 'multicast = false')})"]
        return []

    # -- per state ------------------------------------------------------------------
    def state_reasons(self, program: Program, states: list[StateDecl],
                      tiers: Mapping[str, str] | None) -> list[str]:
        """Map kinds, map count, entries and memory per tier."""
        m, out = self.model, []
        for s in states:
            if not m.holds_kind(s.kind):
                out.append(f"{_state_where(program, s)}: state {s.name} is a {s.kind} map; "
                           f"{m.name} holds only {', '.join(m.map_kinds)} maps")
        if len(states) > m.max_maps:
            out.append(f"{len(states)} maps on the stage; {m.name} holds at most {m.max_maps}")
        entries = sum(s.capacity for s in states)
        if entries > m.max_map_entries:
            out.append(f"{entries:,} map entries on the stage; {m.name} holds at most "
                       f"{m.max_map_entries:,}")
        use: dict[str, int] = {}
        for s in states:
            tier = m.tier((tiers or {}).get(s.name)) if (tiers or {}).get(s.name) \
                else m.default_tier(s)
            use[tier.name] = use.get(tier.name, 0) + state_mem_bytes(s)
        for t in m.tiers:
            if use.get(t.name, 0) > t.mem_bytes:
                names = [s.name for s in states
                         if ((tiers or {}).get(s.name) or m.default_tier(s).name) == t.name]
                out.append(f"state {', '.join(names)} needs {use[t.name]:,} bytes in "
                           f"{m.name} memory tier {t.name}, which holds {t.mem_bytes:,}")
        return out

    # -- program size ---------------------------------------------------------------
    def size_reasons(self, program: Program, blocks: list[str] | None) -> list[str]:
        """The instruction limit (estimated, see :func:`estimate_ebpf_instructions`)."""
        m = self.model
        if m.max_instructions is None:
            return []
        n = self.estimated_instructions(program, blocks)
        if n > m.max_instructions:
            return [f"the stage program needs about {n:,} instructions on {m.name}; at most "
                    f"{m.max_instructions:,} fit (estimated from the IR)"]
        return []

    def estimated_instructions(self, program: Program, blocks: list[str] | None = None) -> int:
        """Instructions of the stage program on this NIC (eBPF estimate x NIC factor)."""
        return estimate_ebpf_instructions(program, blocks)


class AgilioChecks(NicChecks):
    """Netronome Agilio CX eBPF offload restrictions (see module docstring)."""

    def op_reasons(self, program: Program, op: Op) -> list[str]:
        """Agilio's reasons for ``op``, each naming the construct and the nfp rule."""
        c = op.opcode
        if c == "ret" and op.attrs.get("verdict") == "redirect":
            return ["redirect verdict: XDP_REDIRECT (bpf_redirect) is not supported by the "
                    "Agilio eBPF offload"]
        if c == "mcast":
            return [f"multicast({op.attrs.get('state')}): XDP_REDIRECT and devmaps "
                    "(bpf_redirect_map) are not supported by the Agilio eBPF offload (nfp "
                    "JIT: no redirect helper; offloaded maps are hash and array only)"]
        if c == "now" and self.model.host_clock_period_ns is None:
            return ["now() needs bpf_ktime_get_ns, which the Agilio (NFP) firmware does not "
                    "provide to offloaded programs"]
        if c in ("ref.lock", "ref.unlock"):
            return [f"atomic block on {op.attrs.get('state')}: bpf_spin_lock is not among the "
                    f"helpers the Agilio (NFP) eBPF offload accepts"]
        if c == "ref.store":
            return [f"in-place write of a field of {op.attrs.get('state')} (map value store): "
                    f"the Agilio offload rejects stores into map values (only atomic adds, "
                    f"which cora uses for a counter `+=` whose old value is not otherwise "
                    f"used); write the entry with a map update instead"]
        state = op.attrs.get("state")
        if state is not None and op.state_writes() and c != "atomic_add" \
                and program.state(state).kind in self.model.atomic_counter_kinds:
            return [f"{c} of {state}, a {program.state(state).kind}: the Agilio offload holds "
                    f"it as a plain array of atomic counters, so only atomic adds (a counter "
                    f"`+=`) may write it"]
        if c == "map.update" and self.model.zero_init_atomic:
            bad = nonzero_atomic_init(program, op)
            if bad:
                names = ", ".join(program.state(str(state)).value[i].name for i in bad)
                return [f"update of {state} may store a non-zero value into the atomic "
                        f"counter field(s) {names}: the Agilio offload requires atomic "
                        f"counters to be initialised to zero by bpf_map_update_elem()"]
        limit = self.model.max_operand_bits.get(c)
        if c == "mul" and limit and operand_bits(program, op) > limit:
            return [f"{operand_bits(program, op)}-bit multiply: the Agilio offload multiplies "
                    f"only operands within u{limit}"]
        if c in ("sdiv", "smod"):
            return [f"signed {c[1:]} (/ or % of signed integers): the NFP has no divide "
                    f"instruction and the Agilio offload divides only unsigned values by a "
                    f"constant (kernel nfp driver, nfp/bpf/verifier.c)"]
        if c in ("div", "mod"):
            if limit and operand_bits(program, op) > limit:
                return [f"{operand_bits(program, op)}-bit {c}: the Agilio offload divides "
                        f"only values within u{limit}"]
            if self.model.constant_divisor_only and not is_constant(program, op.args[1]):
                return [f"{c} by a variable: the NFP has no divide instruction; the Agilio "
                        f"offload divides only by a constant"]
        return super().op_reasons(program, op)

    def state_reasons(self, program: Program, states: list[StateDecl],
                      tiers: Mapping[str, str] | None) -> list[str]:
        """Agilio map kinds in Agilio's words, the entry size limit, then the generic ones."""
        out = []
        for s in states:
            if s.kind == "lru_hash":
                out.append(f"{_state_where(program, s)}: state {s.name} is an lru_map "
                           f"(BPF_MAP_TYPE_LRU_HASH); the Agilio offload supports only hash "
                           f"and array maps")
            elif s.kind == "lpm":
                out.append(f"{_state_where(program, s)}: state {s.name} is an lpm map "
                           f"(BPF_MAP_TYPE_LPM_TRIE); the Agilio offload supports only hash "
                           f"and array maps")
            entry = -(-s.key_bytes // 8) * 8 + -(-s.value_bytes // 8) * 8
            if entry > AGILIO_MAX_ENTRY_BYTES:
                out.append(f"{_state_where(program, s)}: state {s.name} has {entry}-byte "
                           f"entries (key + value, each rounded up to 8); the Agilio offload "
                           f"takes at most {AGILIO_MAX_ENTRY_BYTES}")
        rest = super().state_reasons(program, states, tiers)
        return out + [r for r in rest if " map; " not in r]

    def estimated_instructions(self, program: Program, blocks: list[str] | None = None) -> int:
        """NFP instructions: eBPF estimate x :data:`NFP_INSNS_PER_EBPF`, plus
        :data:`NFP_WIDE_MUL_INSNS` per ``mul`` and two per ``hash`` operand (the assumed u32
        lowering of 64-bit multiplies)."""
        wide = sum(NFP_WIDE_MUL_INSNS * (1 if op.opcode == "mul" else 2 * len(op.args))
                   for _, op in self.stage_ops(program, blocks)
                   if op.opcode in ("mul", "hash"))
        return int(round(estimate_ebpf_instructions(program, blocks) * NFP_INSNS_PER_EBPF)) + wide


class Bluefield2Checks(NicChecks):
    """BlueField-2 Arm cores run ordinary XDP: only limits and memory are checked."""


_CHECKS = {"agilio": AgilioChecks, "bluefield2": Bluefield2Checks}


def nic_targets() -> list[str]:
    """Names of the NIC targets with checks."""
    return sorted(_CHECKS)


def get_checks(name: str) -> NicChecks:
    """The checks of NIC target ``name``; raises ModelError for an unknown name."""
    from cora.compiler.offload.stage_model import ModelError

    if name not in _CHECKS:
        raise ModelError(f"unknown NIC target {name!r}; available: {', '.join(nic_targets())}")
    return _CHECKS[name](load_model(name))


def unsupported(program: Program, nic: str, plan_stage_blocks: Iterable[str] | None = None,
                tiers: Mapping[str, str] | None = None) -> list[str]:
    """Shorthand for ``get_checks(nic).unsupported(program, plan_stage_blocks, tiers)``."""
    return get_checks(nic).unsupported(program, plan_stage_blocks, tiers)


__all__ = ["EBPF_INSNS", "EBPF_PROLOGUE", "NFP_INSNS_PER_EBPF", "NFP_WIDE_MUL_INSNS",
           "AgilioChecks", "Bluefield2Checks", "NicChecks",
           "estimate_ebpf_instructions", "get_checks", "nic_targets", "unsupported"]
