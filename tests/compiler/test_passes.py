"""IR passes: what each one does, that the verifier runs after each, and that the pipeline
preserves semantics (interpreter before == after on real traces and random frames)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cora.compiler.ir import IRError, Op
from cora.compiler.ir.text import parse_program, print_program
from cora.compiler.ir.verify import verify
from cora.compiler.passes import (
    DEFAULT_PIPELINE,
    PASSES,
    ConstantFolding,
    DeadCodeElimination,
    JumpThreading,
    SimplifyCFG,
    run_default,
    run_pipeline,
)

from .interp_helpers import behaviour, build, packet_specs, trace_records
from .ir_programs import PROGRAMS, arith_ir


def opcodes(program) -> list[str]:
    return [op.opcode for _, op in program.ops()]


def test_registry_and_pass_shape():
    assert set(PASSES) == {"const-fold", "simplify-cfg", "jump-thread", "dce", "lookup-share",
                           "lookup-merge", "branch-thread", "short-circuit",
                           "update-in-place", "atomic-add", "atomic-init", "sink-now"}
    assert set(DEFAULT_PIPELINE) <= set(PASSES)
    for name, cls in PASSES.items():
        p = cls()
        assert p.name == name
        with pytest.raises(dataclasses.FrozenInstanceError):
            p.name = "other"                     # frozen
    with pytest.raises(KeyError, match="unknown pass"):
        run_pipeline(arith_ir(), ["no-such-pass"])


def test_constant_folding_on_arith():
    p = arith_ir()
    ConstantFolding().apply(p)
    verify(p)
    defs = {op.dest: op for _, op in p.ops() if op.dest}
    assert defs["c15"].opcode == "const" and defs["c15"].attrs["value"] == 8
    assert defs["c120"].opcode == "const" and defs["c120"].attrs["value"] == 64
    assert defs["true"].opcode == "const" and defs["true"].attrs["value"] == 1
    assert defs["h"].opcode == "const" and defs["h"].attrs["value"] == 1
    # the branch on the constant became a jump to its true target
    assert p.blocks[0].ops[-1].opcode == "jmp"
    assert p.blocks[0].ops[-1].attrs["targets"] == ("bb1",)
    # operands that come from the frame are not folded
    assert defs["a0"].opcode == "div" and defs["unused"].opcode == "mul"


def test_folding_needs_single_assignment():
    text = """\
nf twice
bb0:
  %v:u1 = hdr.valid tcp
  %x:u8 = const 1
  br %v, bb1, bb2
bb1:
  %x:u8 = const 2
  jmp bb2
bb2:
  %y:u8 = add %x, %x
  %z:u32 = zext %y
  ret redirect %z
"""
    p = parse_program(text)
    ConstantFolding().apply(p)
    assert "add" in opcodes(p)                   # %x is assigned twice: not a constant


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["add", "sub", "mul", "div", "mod", "and", "or", "xor", "shl", "shr",
                        "eq", "ne", "lt", "le", "gt", "ge", "not", "zext", "trunc", "select"]),
       st.sampled_from([8, 16, 32, 64]), st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1),
       st.integers(0, 1))
def test_folded_value_equals_interpreted_value(code, w, a, b, c):
    """Each foldable op, folded, gives the value the interpreter computes unfolded."""
    a, b = a % 2**w, (b % 2**w) if b % 3 else b % (w + 2)     # small shift counts too
    out_w = {"zext": 64, "trunc": 8}.get(code, 1 if code in ("eq", "ne", "lt", "le", "gt",
                                                              "ge") else w)
    if code == "select":
        body = (f"  %c:u1 = const {c}\n  %a:u{w} = const {a}\n  %b:u{w} = const {b}\n"
                f"  %r:u{w} = select %c, %a, %b\n")
    elif code in ("not", "zext", "trunc"):
        body = f"  %a:u{w} = const {a}\n  %r:u{out_w} = {code} %a\n"
    else:
        body = f"  %a:u{w} = const {a}\n  %b:u{w} = const {b}\n  %r:u{out_w} = {code} %a, %b\n"
    text = (f"nf fold\n"
            f"state s: hash key(k:u8) value(v:u{out_w}) capacity 1 on_full skip origin map\n"
            f"bb0:\n{body}  %k:u8 = const 0\n  %ok:u1 = map.update s(%k) = (%r)\n  ret pass\n"
            )
    p = parse_program(text)
    before = behaviour(p, [(0, b"")])
    run_pipeline(p, ["const-fold", "dce"])
    assert [op.opcode for op in p.blocks[0].ops] == ["const", "const", "map.update", "ret"]
    assert behaviour(p, [(0, b"")]) == before


def test_simplify_cfg_and_jump_threading_on_arith():
    p = arith_ir()
    n_blocks = len(p.blocks)
    JumpThreading().apply(p)
    verify(p)
    # br %true, bb1, bb2 now targets bb4 directly on the true side (bb1 -> bb3 -> bb4 empty)
    assert p.blocks[0].ops[-1].attrs["targets"] == ("bb4", "bb2")
    SimplifyCFG().apply(p)
    verify(p)
    labels = [b.label for b in p.blocks]
    assert "bb1" not in labels and "bb3" not in labels and len(labels) < n_blocks


def test_simplify_cfg_same_target_branch_and_merge():
    text = """\
nf same
bb0:
  %v:u1 = hdr.valid ipv4
  br %v, bb1, bb1
bb1:
  %n:u32 = pkt.len
  jmp bb2
bb2:
  ret redirect %n
bb3:
  ret drop
"""
    p = parse_program(text)
    SimplifyCFG().apply(p)
    verify(p)
    assert [b.label for b in p.blocks] == ["bb0"]          # bb3 unreachable, bb1/bb2 merged
    assert opcodes(p) == ["hdr.valid", "pkt.len", "ret"]


def test_dce_keeps_side_effects():
    text = """\
nf effects
state l: lru_hash key(k:u32) value(v:u32) capacity 2 on_full evict origin lru_map
state h: hash key(k:u32) value(v:u32) capacity 2 on_full skip origin map
bb0:
  %k:u32 = const 1
  %lr:ref<l> = map.lookup l(%k)
  %hr:ref<h> = map.lookup h(%k)
  %r:u32 = rand
  %n:u64 = now
  %x:u32 = hash 0 (%k)
  %ok:u1 = map.update h(%k) = (%k)
  map.delete l(%k)
  ret pass
"""
    p = parse_program(text)
    DeadCodeElimination().apply(p)
    verify(p)
    assert opcodes(p) == ["const", "map.lookup", "rand", "map.update", "map.delete", "ret"]
    lookups = [op for _, op in p.ops() if op.opcode == "map.lookup"]
    assert [op.attrs["state"] for op in lookups] == ["l"]
    assert "hr" not in p.regs and "n" not in p.regs and "x" not in p.regs


def test_dce_on_arith_removes_dead_chain():
    p = arith_ir()
    run_pipeline(p, ["dce"])
    dests = {op.dest for _, op in p.ops()}
    assert "unused" not in dests and "unused2" not in dests and "dead" not in dests
    assert "a0" in dests                           # feeds the map update


def test_run_pipeline_verifies_after_each_pass(monkeypatch):
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class DropTerminators:
        name: str = "broken"

        def apply(self, program):
            program.blocks[0].ops.pop()

    monkeypatch.setitem(PASSES, "broken", DropTerminators)
    with pytest.raises(IRError, match="after pass broken"):
        run_pipeline(arith_ir(), ["dce", "broken"])


def test_default_pipeline_shrinks_and_reaches_fixed_point():
    for name, make in PROGRAMS.items():
        p = make()
        n_ops = len(opcodes(p))
        run_default(p, verify_each=True)
        verify(p)
        once = print_program(p)
        run_default(p)
        assert print_program(p) == once, name             # fixed point
        # atomic-init trades ops for NIC compatibility (an insert of an atomic counter
        # becomes update + lookup + atomic adds); every other pass only shrinks
        grown = sum(1 for _, op in p.ops() if op.opcode == "map.lookup"
                    and (op.dest or "").startswith("init")) * 2
        assert len(opcodes(p)) <= n_ops + grown, name
    p = arith_ir()
    n_ops, n_blocks = len(opcodes(p)), len(p.blocks)
    run_default(p)
    assert len(opcodes(p)) < n_ops - 5 and len(p.blocks) < n_blocks


# --------------------------------------------------------------- semantics preservation

ALL_FRAMES = None


def _trace_frames() -> list[tuple[int, bytes]]:
    global ALL_FRAMES
    if ALL_FRAMES is None:
        ALL_FRAMES = [r for _, records in trace_records() for r in records]
    return ALL_FRAMES


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PROGRAMS))
@pytest.mark.parametrize("pipeline", [("const-fold",), ("simplify-cfg",), ("jump-thread",),
                                      ("dce",), ("short-circuit",), DEFAULT_PIPELINE])
def test_passes_preserve_behaviour_on_real_traces(name, pipeline):
    frames = _trace_frames()
    before = behaviour(PROGRAMS[name](), frames)
    p = PROGRAMS[name]()
    run_pipeline(p, pipeline)
    if pipeline == DEFAULT_PIPELINE:
        run_default(p, verify_each=True)
    assert behaviour(p, frames) == before


frame_bytes = st.one_of(packet_specs().map(build), st.binary(max_size=80))


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(PROGRAMS)),
       st.lists(st.tuples(st.integers(0, 2**64 - 1), frame_bytes), min_size=1, max_size=12))
def test_default_pipeline_preserves_behaviour_on_random_frames(name, frames):
    before = behaviour(PROGRAMS[name](), frames)
    p = PROGRAMS[name]()
    run_default(p, verify_each=True)
    assert behaviour(p, frames) == before


def test_op_identity_preserved_for_span_mapping():
    # folded ops keep their source positions (diagnostics map back to NF lines)
    text = "nf s\nbb0:\n  %a:u8 = const 1 @3:5\n  %b:u8 = add %a, %a @4:7\n" \
           "  %c:u32 = zext %b @4:7\n  ret redirect %c @5:1\n"
    p = parse_program(text)
    ConstantFolding().apply(p)
    add = p.blocks[0].ops[1]
    assert add.opcode == "const" and add.attrs["value"] == 2 and str(add.span) == "4:7"
    assert isinstance(add, Op)
