"""Keys built once (:mod:`cora.targets.ebpf.keyshare`): an update or delete reuses the key
struct of the lookup that dominates it, unless a key register may change in between."""

from __future__ import annotations

from pathlib import Path

from cora.compiler.driver import compile_file
from cora.compiler.ir.text import parse_program
from cora.compiler.ir.verify import verify
from cora.targets import get_target
from cora.targets.ebpf.keyshare import shared_keys

NETFUNCS = Path(__file__).resolve().parents[2] / "netfuncs"

IR = """\
nf keys
state m: hash key(a:u32) value(v:u32) capacity 64 on_full skip origin map
bb0:
  %a:u32 = hdr.load ipv4.saddr
  %b:u32 = hdr.load ipv4.daddr
  %one:u32 = const 1
  %r:ref<m> = map.lookup m(%a)
  %f:u1 = ref.found m %r
  br %f, bb1, bb2
bb1:
  %ok:u1 = map.update m(%a) = (%one)
  br %ok, bb3, bb4
bb2:
  %a:u32 = mov %b
  jmp bb3
bb3:
  map.delete m(%a)
  ret pass
bb4:
  map.delete m(%b)
  ret drop
"""


def test_update_reuses_lookup_key_unless_redefined():
    program = parse_program(IR)
    verify(program)
    ops = {(b.label, op.opcode): op for b in program.blocks for op in b.ops}
    shared = shared_keys(program)
    lookup = ops[("bb0", "map.lookup")]
    assert shared[id(ops[("bb1", "map.update")])] == id(lookup)
    assert id(ops[("bb3", "map.delete")]) not in shared   # %a redefined on bb2's path
    assert id(ops[("bb4", "map.delete")]) not in shared   # another key register


def test_flowcount_builds_its_key_once():
    c = next(iter(get_target("xdp").generate(
        compile_file(NETFUNCS / "flowcount.nf")).files.values()))
    assert c.count("_key0.f_saddr =") == 1
    assert "cs_flows.update(&_key0," in c and "cs_flows.lookup(&_key0)" in c


def test_padding_zeroed_by_the_widened_field_store():
    c = next(iter(get_target("xdp").generate(
        compile_file(NETFUNCS / "flowcount.nf")).files.values()))
    assert "*(u32 *)&_key0.f_proto = (u32)(" in c
    assert "_pad0, 0" not in c
