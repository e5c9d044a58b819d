"""The eBPF backends' limits as ``cora check`` reports them (compiler/frontend/check/backend.py),
the state name mangling of the C emitter, and unused states left out (no root needed; the
kernel side is tests/compiler/test_limits_corpus.py)."""

from __future__ import annotations

import pytest

from cora.compiler.driver import check_source, compile_source
from cora.compiler.frontend.check import backend
from cora.targets.ebpf.emit import STATE_C_PREFIX, map_c_name
from cora.targets.xdp import XdpTarget


def _maps(n_used: int, n_unused: int = 0) -> str:
    lines = [f"state m{i}: array<u64>[4];" for i in range(n_used)]
    lines += [f"state idle{i}: array<u64>[4];" for i in range(n_unused)]
    lines += ["on packet {"] + [f"    m{i}[0] += 1;" for i in range(n_used)] + ["    pass;", "}"]
    return "\n".join(lines) + "\n"


def _errors(src: str) -> list:
    return [d for d in check_source(src, "t.nf") if d.severity == "error"]


def test_the_limits_follow_the_kernel_constants():
    assert backend.MAX_USED_MAPS == 64 and backend.MAX_STACK_BYTES == 512
    assert backend.MAX_JUMP_INSNS == 32767
    assert backend.MAX_STATES_USED == 64 - backend.RUNTIME_MAPS
    assert backend.MAX_PROGRAM_INSNS <= backend.MAX_JUMP_INSNS


def test_maps_used_at_the_limit_pass_and_one_more_is_rejected_at_its_declaration():
    assert _errors(_maps(backend.MAX_STATES_USED)) == []
    errs = _errors(_maps(backend.MAX_STATES_USED + 1))
    assert len(errs) == 1
    over = backend.MAX_STATES_USED
    assert (errs[0].line, errs[0].col) == (over + 1, 7)  # the name in 'state mNN: ...'
    assert f"'m{over}'" in errs[0].message and "64 maps" in errs[0].message


def test_unused_states_count_for_nothing_and_are_not_lowered():
    src = _maps(backend.MAX_STATES_USED, n_unused=50)
    assert _errors(src) == []
    program = compile_source(src, "t.nf")
    assert len(program.states) == backend.MAX_STATES_USED
    assert not any(s.name.startswith("idle") for s in program.states)


def _rewrite_loop(n: int) -> str:
    return ("on packet {\n    if (!ipv4.valid) { pass; }\n"
            f"    for (i in 0..{n}) {{\n        ipv4.saddr = ipv4.saddr + 1;\n    }}\n"
            "    pass;\n}\n")


def test_a_loop_of_header_rewrites_over_the_budget_is_blamed_on_the_loop():
    assert _errors(_rewrite_loop(40)) == []
    errs = _errors(_rewrite_loop(200))
    assert len(errs) == 1
    assert (errs[0].line, errs[0].col) == (3, 5)
    assert "for (i in 0..200)" in errs[0].message and "jump range" in errs[0].message


def test_address_stores_cost_their_three_checksum_fixups():
    one = compile_source(_rewrite_loop(10), "t.nf")
    est = backend.estimate_ebpf_instructions(one)
    base = backend.EBPF_INSNS["hdr.store"]
    assert est >= backend.EBPF_PROLOGUE + 10 * 3 * base
    assert backend.hdr_store_checksums("ipv4", "ttl") == 1
    assert backend.hdr_store_checksums("ipv4", "saddr") == 3


@pytest.mark.parametrize("n_fields, ok", [(40, True), (60, False)])
def test_a_map_value_over_the_stack_is_rejected_at_the_state(n_fields: int, ok: bool):
    fields = ", ".join(f"f{i}: u64" for i in range(n_fields))
    init = ", ".join(f"f{i}: {i}" for i in range(n_fields))
    src = (f"struct W {{ {fields} }}\nstate w: map<u32, W>[64] on_full skip;\n"
           f"on packet {{\n    w[1] = W {{ {init} }};\n    pass;\n}}\n")
    errs = _errors(src)
    if ok:
        assert errs == []
    else:
        assert len(errs) == 1 and (errs[0].line, errs[0].col) == (2, 7)
        assert "512-byte stack" in errs[0].message


def test_per_cpu_array_slots_are_limited_at_the_capacity():
    src = ("state p: percpu_array<u64>[2097152];\n"
           "on packet {\n    p[pkt.len] += 1;\n    pass;\n}\n")
    errs = _errors(src)
    assert len(errs) == 1 and (errs[0].line, errs[0].col) == (1, 28)
    assert _errors(src.replace("2097152", "1048576")) == []


def test_every_state_name_is_prefixed_in_the_generated_c():
    names = ["s32", "__u64", "size_t", "NULL", "XDP_PASS", "memcpy", "int", "data_end",
             "cora_env", "r_x"]
    src = "\n".join(f"state {n}: array<u64>[2];" for n in names)
    src += "\non packet {\n" + "".join(f"    {n}[0] += 1;\n" for n in names) + "    pass;\n}\n"
    program = compile_source(src, "t.nf")
    c_text = XdpTarget().generate(program).files["prog.c"]
    for s in program.states:
        assert map_c_name(s) == STATE_C_PREFIX + s.name
        assert f", {STATE_C_PREFIX}{s.name}, 2," in c_text
    assert "BPF_F_TABLE(\"array\", s32_index_t" not in c_text
