"""The op registry (cora.compiler.ir.ops) is the one definition of every opcode: the interpreter
and the eBPF C emitter implement exactly its opcodes, and what other modules know about an
opcode (op classes, side effects, instruction estimates, text form) is derived from it."""

from __future__ import annotations

import pytest

from cora.compiler.interp import INTERP_IMPLS
from cora.compiler.ir import OP_CLASS, OPS, IRError, Op
from cora.compiler.ir.ops import (
    ALL_OP_CLASSES,
    PURE_OPCODES,
    SIDE_EFFECT_OPS,
    TERMINATORS,
    ImplTable,
)
from cora.compiler.ir.text import parse_program, print_program
from cora.compiler.offload import nic_checks
from cora.targets.ebpf.emit import EMIT_IMPLS


def test_every_opcode_has_an_interpreter_implementation():
    assert INTERP_IMPLS.missing() == []


def test_every_opcode_has_an_emitter_implementation():
    assert EMIT_IMPLS.missing() == []


def test_registry_interpreter_and_emitter_agree_on_the_opcodes():
    assert INTERP_IMPLS.opcodes() == EMIT_IMPLS.opcodes() == frozenset(OPS)


def test_impl_table_refuses_unknown_and_duplicate_opcodes():
    table: ImplTable = ImplTable("test engine")
    with pytest.raises(IRError, match="no op frobnicate in the registry"):
        table.register("frobnicate")
    table.register("add")(lambda: None)
    with pytest.raises(IRError, match="add implemented twice"):
        table.register("add")(lambda: None)
    with pytest.raises(IRError, match="no implementation of sub"):
        table["sub"]
    assert "sub" in table.missing() and "add" not in table.missing()


def test_derived_tables_follow_the_definitions():
    assert set(OP_CLASS) == set(OPS)
    assert set(ALL_OP_CLASSES) == {d.op_class for d in OPS.values()}
    assert set(TERMINATORS) == {"br", "jmp", "ret", "mcast", "shim.pop"}
    assert {"hdr.store", "ref.store", "map.update", "map.delete", "rand", "br", "jmp",
            "ret"} <= SIDE_EFFECT_OPS
    assert not SIDE_EFFECT_OPS & PURE_OPCODES
    assert set(nic_checks.EBPF_INSNS) == set(OPS)
    for name, d in OPS.items():
        assert d.name == name and d.syntax.form and d.summary
        if d.terminator:
            assert d.result == "none" and d.side_effect
        if d.branches:
            assert d.terminator and "targets" in d.attrs
        if d.fold is not None:
            assert d.pure


def test_op_properties_come_from_the_registry():
    delete = Op("map.delete", None, ("k",), {"state": "s"})
    assert delete.op_class == "map_delete"
    assert delete.state_writes() == ("s",) and delete.state_reads() == ()
    assert delete.state == "s" and not delete.is_terminator
    store = Op("hdr.store", None, ("v",), {"header": "ipv4", "field": "ttl"})
    assert store.header_access() == ("ipv4", "ttl", "w")
    assert Op("nope").is_terminator is False


def test_unknown_opcode_is_an_ir_error_in_text_and_verifier():
    with pytest.raises(IRError, match="unknown opcode frob"):
        parse_program("nf x\nbb0:\n  %a:u8 = frob\n  ret pass\n")


def test_every_op_syntax_round_trips():
    """One program holding every opcode prints and parses back to the same text."""
    text = """nf all
state s: hash key(k:u8) value(v:u16) capacity 4 on_full skip origin map
state n: array key(i:u32) value(c:u32) capacity 4 origin map params(spin_lock=1)
state g: devmap key(index:u32) value(ifindex:u32) capacity 4 origin group
bb0:
  shim.pop final {7: bb1(%a:u8, %w:u16)}
bb1:
  %b:u8 = const 3
  %c:u8 = mov %a
  %d:u16 = zext %b
  %e:u8 = trunc %d
  %cnd:u1 = eq %a, %b
  %f:u8 = select %cnd, %a, %b
  %g:u8 = not %f
  %h:u8 = add %a, %b
  %i:u8 = sub %a, %b
  %j:u8 = mul %a, %b
  %k:u8 = div %a, %b
  %l:u8 = mod %a, %b
  %m:u8 = and %a, %b
  %n:u8 = or %a, %b
  %o:u8 = xor %a, %b
  %p:u8 = shl %a, %b
  %q:u8 = shr %a, %b
  %c1:u1 = ne %a, %b
  %c2:u1 = lt %a, %b
  %c3:u1 = le %a, %b
  %c4:u1 = gt %a, %b
  %c5:u1 = ge %a, %b
  %sd:u8 = sdiv %a, %b
  %sm:u8 = smod %a, %b
  %sr:u8 = sar %a, %b
  %sx:u16 = sext %a
  %c6:u1 = slt %a, %b
  %c7:u1 = sle %a, %b
  %c8:u1 = sgt %a, %b
  %c9:u1 = sge %a, %b
  %v4:u1 = hdr.valid ipv4
  %ttl:u8 = hdr.load ipv4.ttl @3:4
  hdr.store ipv4.ttl, %ttl
  %hh:u1 = hdr.has udp 12
  %ha:u32 = hdr.load_at udp+64:24
  hdr.store_at udp+68:12, %ha
  %len:u32 = pkt.len
  %t:u64 = now
  %r:u32 = rand
  %hs:u32 = hash 5 (%a, %len)
  %ref:ref<s> = map.lookup s(%a)
  %fd:u1 = ref.found s %ref
  %val:u16 = ref.load s %ref.0
  ref.store s %ref.0, %w
  %cref:ref<n> = map.lookup n(%len)
  ref.lock n %cref
  atomic_add n %cref.0, %len
  ref.unlock n %cref
  %ok:u1 = map.update s(%a) = (%w)
  map.delete s(%a)
  br %cnd, bb2, bb3
bb2:
  jmp bb4
bb3:
  %port:u32 = const 1
  br %c1, bb5, bb6
bb4:
  shim.push 9 (%a, %w)
  ret pass
bb5:
  ret redirect %port
bb6:
  mcast g exclude_ingress
"""
    program = parse_program(text)
    assert {op.opcode for _, op in program.ops()} == set(OPS)
    from cora.compiler.ir.verify import verify
    verify(program)
    assert print_program(program) == text
