"""NIC checks reject what each NIC cannot run, naming the construct; BlueField-2 runs the
whole library; the instruction estimate tracks clang's real output."""

import dataclasses
from pathlib import Path

import pytest

from cora.compiler.driver import compile_file, compile_source
from cora.compiler.ir.text import parse_program
from cora.compiler.offload.nic_checks import (
    AgilioChecks,
    estimate_ebpf_instructions,
    get_checks,
    nic_targets,
    unsupported,
)
from cora.compiler.offload.split import cut_plan, split
from cora.compiler.offload.stage_model import ModelError
from cora.compiler.passes import run_pipeline
from cora.runtime.loader import ebpf_instructions

NETFUNCS = Path(__file__).resolve().parents[2] / "netfuncs"
LIBRARY = sorted(NETFUNCS.glob("*.nf"))


def nf(text: str, name: str = "t.nf"):
    return compile_source(text, name)


def test_targets():
    assert nic_targets() == ["agilio", "bluefield2"]
    with pytest.raises(ModelError, match="unknown NIC target"):
        get_checks("tofino")


def test_agilio_rejects_an_lru_map_by_name():
    p = nf("state seen: lru_map<ip4, u64>[1024] on_full evict;\n"
           "on packet { if (!ipv4.valid) { pass; } seen[ipv4.saddr] = 1; pass; }\n")
    reasons = unsupported(p, "agilio")
    assert any("state seen is an lru_map" in r and "only hash and array" in r for r in reasons)
    assert any(r.startswith("t.nf:1:") for r in reasons)
    assert unsupported(p, "bluefield2") == []


def test_agilio_rejects_a_redirect_verdict():
    p = nf("on packet { if (!ipv4.valid) { pass; } redirect(3); }\n")
    reasons = unsupported(p, "agilio")
    assert any("redirect verdict" in r and "XDP_REDIRECT" in r for r in reasons), reasons
    assert unsupported(p, "bluefield2") == []


def test_agilio_accepts_a_hash_map_program_that_updates_whole_entries():
    p = nf("struct C { n: u32 }\nstate c: map<ip4, C>[1024] on_full skip;\n"
           "on packet { if (!ipv4.valid) { pass; } c[ipv4.saddr] = C { n: 1 }; drop; }\n")
    assert unsupported(p, "agilio") == []


def test_agilio_rejects_in_place_writes_but_runs_the_clock_hashes_and_multiplies():
    p = nf("struct C { n: u64 }\nstate c: map<ip4, C>[1024] on_full skip;\n"
           "on packet {\n"
           "  if (!ipv4.valid) { pass; }\n"
           "  let t = now();\n"
           "  let h = hash(ipv4.saddr);\n"
           "  if (ipv4.saddr in c) { c[ipv4.saddr].n = t * (h as u64); }\n"
           "  pass;\n}\n")
    text = "\n".join(unsupported(p, "agilio"))
    assert "now()" not in text      # the host-fed clock (agilio.toml, host_clock_period_ns)
    assert "in-place write of a field of c" in text
    # a NIC model without a host-fed clock refuses now() in the nfp driver's words
    clockless = AgilioChecks(dataclasses.replace(get_checks("agilio").model,
                                                 host_clock_period_ns=None))
    assert any("now() needs bpf_ktime_get_ns" in r for r in clockless.unsupported(p))
    # hash and 64-bit multiplies run on the model's assumed u32 lowering (agilio.toml)
    assert "hash(" not in text and "multipl" not in text
    assert "lowering" in get_checks("agilio").model.source_of("op_cost_ns.hash")


def test_agilio_holds_a_percpu_array_of_atomic_counters_only():
    counter = nf("state s: percpu_array<u64>[4];\n"
                 "on packet { s[0] += 1; pass; }\n")
    assert any(op.opcode == "atomic_add" for _, op in counter.ops())
    assert unsupported(counter, "agilio") == []
    plain = nf("state s: percpu_array<u64>[4];\n"
               "on packet { s[0] = 5; pass; }\n")
    text = "\n".join(unsupported(plain, "agilio"))
    assert "plain array of atomic counters" in text, text
    lpm = nf("state r: lpm<ip4, u32>[16] on_full skip;\n"
             "on packet { if (!ipv4.valid) { pass; } if (ipv4.saddr in r) { drop; } pass; }\n")
    assert any("lpm map" in r for r in unsupported(lpm, "agilio"))


def test_agilio_counter_inserts_must_start_at_zero():
    """The nfp verifier's rule (nfp_bpf_map_update_value_ok): an update may store only zeros
    into atomic counter words. The atomic-init pass makes flowcount's insert comply."""
    text = """nf t
source t.nf
state c: hash key(k:u32) value(n:u64) capacity 4 on_full skip origin map
bb0:
  %k:u32 = hdr.load ipv4.saddr
  %one:u64 = const 1
  %h:ref<c> = map.lookup c(%k)
  atomic_add c %h.0, %one
  %ok:u1 = map.update c(%k) = (%one)
  ret pass
"""
    p = parse_program(text)
    reasons = unsupported(p, "agilio")
    assert any("initialised to zero" in r and "field(s) n" in r for r in reasons), reasons
    model = get_checks("agilio").model
    # the stage model plans the insert on the NIC (split() lowers the NIC stage with
    # atomic-init, and block_cost_ns charges the lowering's lookup and add) ...
    upd = next(op for _, op in p.ops() if op.opcode == "map.update")
    assert model.supports_op(upd, p)
    blk = p.blocks[0]
    plain = parse_program(text.replace("  %ok:u1 = map.update c(%k) = (%one)\n", ""))
    assert model.block_cost_ns(p, blk) > model.block_cost_ns(plain, plain.blocks[0]) + \
        model.op_ns(upd, "hash")
    run_pipeline(p, ["atomic-init"])
    assert unsupported(p, "agilio") == []
    assert all(model.supports_op(op, p) for _, op in p.ops())
    # ... the host build keeps the plain insert, and flowcount's NIC stage is lowered
    flowcount = compile_file(NETFUNCS / "flowcount.nf")
    assert unsupported(flowcount, "agilio")
    nic = split(flowcount, cut_plan(flowcount, len(flowcount.blocks))).stages[0]
    assert nic.stage == "nic" and unsupported(nic.program, "agilio") == []


def test_lru_maps_only_without_eviction_on_agilio():
    agilio, bf2 = get_checks("agilio").model, get_checks("bluefield2").model
    assert agilio.holds_without_eviction("lru_hash") == "hash"
    assert agilio.holds_without_eviction("hash") == "hash"
    assert agilio.holds_without_eviction("lpm") is None
    assert bf2.holds_without_eviction("lru_hash") == "lru_hash"
    assert "lru_hash" not in agilio.map_kinds   # plain checks and supports_op refuse it


def test_agilio_entry_size_and_total_entries():
    p = nf("struct Big { a: u64, b: u64, c: u64, d: u64, e: u64, f: u64, g: u64, h: u64 }\n"
           "state big: map<ip4, Big>[4000000] on_full skip;\n"
           "on packet { if (!ipv4.valid) { pass; } big[ipv4.saddr] = Big { a: 1, b: 1, c: 1, "
           "d: 1, e: 1, f: 1, g: 1, h: 1 }; pass; }\n")
    text = "\n".join(unsupported(p, "agilio"))
    assert "72-byte entries" in text
    assert "4,000,000 map entries" in text


def test_only_the_stage_blocks_are_checked():
    p = compile_file(NETFUNCS / "firewall.nf")
    entry = p.blocks[0].label
    assert unsupported(p, "agilio", plan_stage_blocks=[entry]) == []
    assert unsupported(p, "agilio", plan_stage_blocks=[]) == []
    assert unsupported(p, "agilio")  # the whole firewall cannot run there


def test_memory_tier_capacity():
    p = nf("struct C { n: u32 }\nstate c: map<ip4, C>[100000] on_full skip;\n"
           "on packet { if (!ipv4.valid) { pass; } c[ipv4.saddr] = C { n: 1 }; pass; }\n")
    assert unsupported(p, "agilio") == []  # default tier: the fastest that holds it
    reasons = unsupported(p, "agilio", tiers={"c": "CLS"})
    assert any("memory tier CLS" in r and "800,000 bytes" in r for r in reasons), reasons


def test_instruction_limit():
    p = compile_file(NETFUNCS / "nat.nf")
    checks = get_checks("agilio")
    n = checks.estimated_instructions(p)
    assert n > 1000
    smaller = type(checks.model)(**{**checks.model.__dict__, "max_instructions": n - 1})
    small = type(checks)(smaller)
    assert any("instructions" in r and "at most" in r for r in small.size_reasons(p, None))
    assert checks.size_reasons(p, None) == []


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.stem)
def test_bluefield2_runs_the_whole_library(path):
    assert unsupported(compile_file(path), "bluefield2") == []


@pytest.mark.kernel
@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.stem)
def test_instruction_estimate_tracks_clang(path):
    p = compile_file(path)
    exact = ebpf_instructions(p)
    estimate = estimate_ebpf_instructions(p)
    assert exact > 50
    # An estimate under the real count is the dangerous side (a program `cora check` passes
    # could then fail to load), so it may be at most 25 % under; over the count only costs
    # headroom. clang merges the null checks of one shared entry (lookup sharing, update in
    # place), and the emitter drops the byte swaps of registers kept in network order
    # (cora.targets.ebpf.byteorder), the validity guards of headers proved valid
    # (cora.targets.ebpf.validity) and rebuilt keys (cora.targets.ebpf.keyshare); the per-op
    # estimate sees none of them, nor that clang drops the and/or of a condition tested as
    # branches (cora.compiler.passes.short_circuit). Measured 2026-12-01 after short-circuit
    # (estimate vs clang): flowcount 135 vs 65 (+108 %), synguard 386 vs 241 (+60 %), nat
    # +35 %, firewall +33 %, ratelimit +33 %, lb +30 %, heavyhitter +25 %.
    assert -0.25 <= (estimate - exact) / exact < 1.2, (estimate, exact)


def test_agilio_instruction_estimate_counts_the_multiply_lowering():
    from cora.compiler.offload.nic_checks import NFP_INSNS_PER_EBPF, NFP_WIDE_MUL_INSNS
    p = compile_file(NETFUNCS / "heavyhitter.nf")
    hashes = sum(len(op.args) for _, op in p.ops() if op.opcode == "hash")
    base = round(estimate_ebpf_instructions(p) * NFP_INSNS_PER_EBPF)
    assert hashes > 0
    assert get_checks("agilio").estimated_instructions(p) == base + 2 * NFP_WIDE_MUL_INSNS * hashes
