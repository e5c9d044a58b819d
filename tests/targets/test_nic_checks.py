"""NIC checks reject what each NIC cannot run, naming the construct; BlueField-2 runs the
whole library; the instruction estimate tracks clang's real output."""

from pathlib import Path

import pytest

from cora.compiler.driver import compile_file, compile_source
from cora.compiler.offload.nic_checks import (
    estimate_ebpf_instructions,
    get_checks,
    nic_targets,
    unsupported,
)
from cora.compiler.offload.stage_model import ModelError
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


def test_agilio_rejects_in_place_writes_clock_hashes_and_wide_multiplies():
    p = nf("struct C { n: u64 }\nstate c: map<ip4, C>[1024] on_full skip;\n"
           "on packet {\n"
           "  if (!ipv4.valid) { pass; }\n"
           "  let t = now();\n"
           "  let h = hash(ipv4.saddr);\n"
           "  if (ipv4.saddr in c) { c[ipv4.saddr].n = t * (h as u64); }\n"
           "  pass;\n}\n")
    text = "\n".join(unsupported(p, "agilio"))
    assert "now() needs bpf_ktime_get_ns" in text
    assert "hash(...) multiplies 64-bit words" in text
    assert "64-bit multiply" in text
    assert "in-place write of a field of c" in text


def test_agilio_rejects_percpu_and_lpm_maps():
    p = nf("state s: percpu_array<u64>[4];\n"
           "on packet { s[0] += 1; pass; }\n")
    assert any("percpu_array" in r for r in unsupported(p, "agilio"))


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
    # headroom. After lookup sharing and update in place (issue 10) clang merges the null
    # checks of one shared entry, which the per-op estimate does not see: synguard measured
    # 400 estimated vs 251 (+59 %), ratelimit +36 %, the rest between -6 % and +25 %.
    assert -0.25 <= (estimate - exact) / exact < 0.65, (estimate, exact)
