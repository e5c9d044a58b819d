"""Keys built once (:mod:`cora.targets.ebpf.keyshare`): a lookup, update or delete reuses its
state's key struct when that holds its key on every path to it (copies followed, a
redefined key register or another key built in between defeats it)."""

from __future__ import annotations

from pathlib import Path

from cora.compiler.driver import compile_file
from cora.compiler.ir.text import parse_program
from cora.compiler.ir.verify import verify
from cora.targets import get_target
from cora.targets.ebpf.keyshare import plan_keys, reused_keys

NETFUNCS = Path(__file__).resolve().parents[2] / "netfuncs"

# Every test program starts the same: state m, two address keys, a lookup by the first.
PRELUDE = """\
nf keys
state m: hash key(a:u32) value(v:u32) capacity 64 on_full skip origin map
bb0:
  %a:u32 = hdr.load ipv4.saddr
  %b:u32 = hdr.load ipv4.daddr
  %one:u32 = const 1
  %r:ref<m> = map.lookup m(%a)
  %f:u1 = ref.found m %r
"""

IR = PRELUDE + """\
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


def _ops(program):
    return {(b.label, op.opcode): op for b in program.blocks for op in b.ops}


def test_update_reuses_lookup_key_unless_redefined():
    program = parse_program(IR)
    verify(program)
    ops = _ops(program)
    reused = reused_keys(program, {"m"})
    assert id(ops[("bb1", "map.update")]) in reused
    assert id(ops[("bb0", "map.lookup")]) not in reused   # the first build
    assert id(ops[("bb3", "map.delete")]) not in reused   # %a redefined on bb2's path
    assert id(ops[("bb4", "map.delete")]) not in reused   # another key register
    assert reused_keys(program, set()) == set()           # only the states asked for


# Two keys of one state, reached through copies on two branches: the struct holds the key
# ``%c`` names on both paths into bb3 (bb1 built %b's, bb2 %a's), so bb3's update reuses it;
# bb4 comes from bb3 and bb5, whose key is built only on one of its paths.
IR_COPIES = PRELUDE + """\
  br %f, bb2, bb1
bb1:
  %t:u32 = mov %b
  %s:ref<m> = map.lookup m(%t)
  %g:u1 = ref.found m %s
  %c:u32 = mov %t
  br %g, bb3, bb5
bb2:
  %c:u32 = mov %a
  jmp bb3
bb3:
  %ok:u1 = map.update m(%c) = (%one)
  br %ok, bb4, bb6
bb5:
  %c:u32 = mov %b
  br %f, bb4, bb6
bb4:
  map.delete m(%c)
  ret pass
bb6:
  map.delete m(%a)
  ret drop
"""


def test_reuse_across_branches_through_copies():
    program = parse_program(IR_COPIES)
    verify(program)
    ops = _ops(program)
    reused = reused_keys(program, {"m"})
    assert id(ops[("bb1", "map.lookup")]) not in reused   # another key than bb0's
    assert id(ops[("bb3", "map.update")]) in reused       # %c's key built on both paths
    assert id(ops[("bb4", "map.delete")]) in reused       # the struct holds %c on both
    assert id(ops[("bb6", "map.delete")]) not in reused   # via bb3 the struct may hold %b


IR_UNBUILT = """\
nf keys
state m: hash key(a:u32) value(v:u32) capacity 64 on_full skip origin map
bb0:
  %a:u32 = hdr.load ipv4.saddr
  %p:u1 = hdr.valid tcp
  br %p, bb1, bb2
bb1:
  %r:ref<m> = map.lookup m(%a)
  jmp bb2
bb2:
  map.delete m(%a)
  %a:u32 = const 7
  %c:u32 = const 7
  %s:ref<m> = map.lookup m(%a)
  map.delete m(%c)
  ret pass
"""


def test_build_on_one_branch_only_is_not_reused():
    program = parse_program(IR_UNBUILT)
    verify(program)
    reused = reused_keys(program, {"m"})
    ops = [op for b in program.blocks for op in b.ops if op.opcode.startswith("map.")]
    lookup1, delete1, lookup2, delete2 = ops
    assert id(delete1) not in reused   # bb0 -> bb2 reaches it with nothing built
    assert id(lookup2) not in reused   # %a redefined
    assert id(delete2) in reused       # the same constant


def test_flowcount_builds_its_key_once():
    c = next(iter(get_target("xdp").generate(
        compile_file(NETFUNCS / "flowcount.nf")).files.values()))
    assert c.count("_key_cs_flows.f_saddr =") == 1
    assert "cs_flows.update(&_key_cs_flows," in c and "cs_flows.lookup(&_key_cs_flows)" in c


def test_firewall_builds_each_connection_key_once_per_path():
    """The reversed and the forward 5-tuple of ``live()`` are built; the path that looks
    nothing up (neither TCP, UDP nor an echo) builds the forward key on its edge into the
    join, so a new connection's lookup and ``track()``'s delete and update reuse whichever
    of them ``conn`` holds."""
    program = compile_file(NETFUNCS / "firewall.nf")
    c = next(iter(get_target("xdp").generate(program).files.values()))
    conns = [op for b in program.topological_blocks() for op in b.ops
             if op.opcode in ("map.lookup", "map.update", "map.delete")
             and op.attrs["state"] == "conns"]
    plan = plan_keys(program, {"conns"})
    assert [op.opcode for op in conns if id(op) not in plan.reused] == ["map.lookup"] * 2
    assert len(plan.edge_builds) == 1
    assert c.count("_key_cs_conns.f_saddr =") == 3
    # without the edge build, every lookup after the join builds the key again
    assert len(reused_keys(program, {"conns"})) < len(plan.reused)


# bb1 looks %a up, bb2 does not; both join at bb3, whose lookup and delete of %a would
# build the key again unless bb2's edge builds it.
IR_EDGE = """\
nf keys
state m: hash key(a:u32) value(v:u32) capacity 64 on_full skip origin map
bb0:
  %a:u32 = hdr.load ipv4.saddr
  %p:u1 = hdr.valid tcp
  br %p, bb1, bb2
bb1:
  %r:ref<m> = map.lookup m(%a)
  jmp bb3
bb2:
  %b:u32 = mov %a
  jmp bb3
bb3:
  %s:ref<m> = map.lookup m(%a)
  map.delete m(%a)
  ret pass
"""


def test_edge_build_makes_the_join_reuse_the_key():
    program = parse_program(IR_EDGE)
    verify(program)
    ops = [op for b in program.blocks for op in b.ops if op.opcode.startswith("map.")]
    lookup1, lookup2, delete = ops
    assert id(lookup2) not in reused_keys(program, {"m"})   # bb2's path built nothing
    plan = plan_keys(program, {"m"})
    assert plan.edge_builds == {("bb2", "bb3"): [("m", ("a",))]}
    assert {id(lookup2), id(delete)} <= plan.reused and id(lookup1) not in plan.reused
    c = next(iter(get_target("xdp").generate(program).files.values()))
    assert c.count("_key_cs_m.f_a =") == 2   # bb1's lookup and bb2's edge


def test_padding_zeroed_by_the_widened_field_store():
    c = next(iter(get_target("xdp").generate(
        compile_file(NETFUNCS / "flowcount.nf")).files.values()))
    assert "*(u32 *)&_key_cs_flows.f_proto = (u32)(" in c
    assert "_pad0, 0" not in c
