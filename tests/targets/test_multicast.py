"""The multicast verdict (docs/language.md, "Multicast"): checker diagnostics, the IR op,
the interpreter's semantics (one output frame per port of the group), the XDP code and the
tc target's refusal. The kernel runs are in ``test_multicast_kernel.py``."""

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from cora.compiler.driver import compile_source
from cora.compiler.interp import Interpreter
from cora.compiler.ir.text import parse_program, print_program
from cora.errors import CoraError
from cora.targets import get_target

from ..compiler.diagnostic_helpers import assert_one_diagnostic

NF = """\
state workers: group[4];
state hits: array<u64>[1];
on packet {
    if (!ipv4.valid) { pass; }
    hits[0] += 1;
    ipv4.ttl = ipv4.ttl - 1;
    if (udp.valid && udp.dport == 9) { multicast(workers, exclude_ingress); }
    multicast(workers);
}
"""


def frame(dport: int = 7, ttl: int = 64) -> bytes:
    return bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") /
                 IP(src="10.0.0.1", dst="10.0.0.2", ttl=ttl) / UDP(sport=5, dport=dport) /
                 b"payload!")


@pytest.fixture
def program():
    return compile_source(NF, "m.nf")


# ---------------------------------------------------------------------------- front end

def test_group_lowers_to_a_devmap_and_multicast_to_the_mcast_op(program):
    (g,) = [s for s in program.states if s.name == "workers"]
    assert (g.kind, g.capacity, g.origin) == ("devmap", 4, "group")
    assert [(f.name, f.width) for f in g.key] == [("index", 32)]
    assert [(f.name, f.width) for f in g.value] == [("ifindex", 32)]
    mcasts = [op for _, op in program.ops() if op.opcode == "mcast"]
    assert sorted(op.attrs["exclude_ingress"] for op in mcasts) == [False, True]
    assert all(op.is_terminator and op.state_reads() == ("workers",) for op in mcasts)
    text = print_program(program)
    assert "mcast workers exclude_ingress" in text
    assert print_program(parse_program(text)) == text


@pytest.mark.parametrize("src,head,caret", [
    ("state g: group[4];\nstate m: map<u32, u32>[4] on_full skip;\n"
     "on packet { multicast(m); }\n",
     "x.nf:3:23: error: 'm' is a map, not a group: multicast sends to a declared "
     "'state NAME: group[N];'",
     "                      ^"),
    ("state workers: group[4];\non packet { multicast(worker); }\n",
     "x.nf:2:23: error: unknown group 'worker' (did you mean 'workers'?)",
     "                      ^~~~~~"),
    ("on packet { multicast(g); }\n",
     "x.nf:1:23: error: unknown group 'g'; declare it with 'state g: group[N];'",
     "                      ^"),
    ("state g: group[4];\non packet { multicast(g, exclude_egress); }\n",
     "x.nf:2:26: error: unknown multicast option 'exclude_egress' (did you mean "
     "'exclude_ingress'?)",
     "                         ^~~~~~~~~~~~~~"),
    ("state g: group[4];\non packet { let x: u32 = 1; multicast(x); }\n",
     "x.nf:2:39: error: 'x' is a local variable, not a group: multicast sends to a "
     "declared 'state NAME: group[N];'",
     "                                      ^"),
    ("state g: group[4];\non packet { g[0] = 3; multicast(g); }\n",
     "x.nf:2:13: error: group 'g' is filled by the control plane and used only by "
     "'multicast(g);': it cannot be read or written here",
     "            ^"),
    ("state g: group[4];\non packet { if (3 in g) { drop; } multicast(g); }\n",
     "x.nf:2:22: error: group 'g' is filled by the control plane and used only by "
     "'multicast(g);': it cannot be read or written here",
     "                     ^"),
    ("state g: group<u32>[4];\non packet { multicast(g); }\n",
     "x.nf:1:10: error: group takes no type parameters: write group[N], e.g. "
     "state g: group[8];",
     "         ^~~~~"),
    ("state g: group[4] on_full drop;\non packet { multicast(g); }\n",
     "x.nf:1:27: error: a group is filled only by the control plane, so it takes no full "
     "policy; remove 'on_full drop'",
     "                          ^~~~"),
    ("state g: group[4] = { 0: 3 };\non packet { multicast(g); }\n",
     "x.nf:1:23: error: group 'g' takes no initial entries: its ports are interface "
     "indexes known only where it is deployed; fill it with 'cora group' or "
     "cora.runtime.groups.set_group",
     "                      ^~~~"),
    ("state g: group;\non packet { multicast(g); }\n",
     "x.nf:1:10: error: state 'g' needs a capacity: write group[N], e.g. group[1024]",
     "         ^~~~~"),
    ("state g: group[4];\non packet { let y = multicast(g); }\n",
     "x.nf:2:21: error: multicast(group) is a statement: write 'multicast(group);'",
     "                    ^~~~~~~~~~~~"),
])
def test_multicast_diagnostics(src, head, caret):
    assert_one_diagnostic(src, head, caret)


def test_tc_target_refuses_multicast_with_the_nf_line(program):
    with pytest.raises(CoraError, match=r"7:40: mcast: multicast is XDP-only"):
        get_target("tc").generate(program)


def test_xdp_code_broadcasts_through_the_devmap(program):
    c = get_target("xdp").generate(program, count_verdicts=True).files["prog.c"]
    assert "BPF_DEVMAP(cs_workers, 4);" in c
    assert "return cs_workers.redirect_map(0, 24); /* multicast */" in c   # BROADCAST|EXCL
    assert "return cs_workers.redirect_map(0, 8); /* multicast */" in c    # BROADCAST
    assert "cora_count(5);" in c and "BPF_PERCPU_ARRAY(cora_verdicts, u64, 6);" in c


# --------------------------------------------------------------------------- interpreter

def test_interpreter_returns_one_output_frame_per_port(program):
    it = Interpreter(program)
    it.set_group("workers", [7, 3, 9])
    res = it.run(frame(ttl=64), ingress_ifindex=3)
    assert res.verdict == "multicast" and res.port is None
    assert res.ports == (7, 3, 9)              # slot order; ingress kept without the option
    want = frame(ttl=63)                       # the rewritten frame (TTL, IPv4 checksum)
    assert res.outputs == [(7, want), (3, want), (9, want)]
    assert it.lookup("hits", (0,)) == (1,)


def test_exclude_ingress_leaves_out_the_arrival_port(program):
    it = Interpreter(program)
    it.set_group("workers", [7, 3, 9])
    assert it.run(frame(dport=9), ingress_ifindex=3).ports == (7, 9)
    assert it.run(frame(dport=9), ingress_ifindex=5).ports == (7, 3, 9)
    assert it.run(frame(dport=9)).ports == (7, 3, 9)   # ingress 0: no interface


def test_empty_group_sends_nothing_and_refill_replaces(program):
    it = Interpreter(program)
    res = it.run(frame())
    assert res.verdict == "multicast" and res.outputs == []
    it.set_group("workers", [4, 5, 6, 8])
    it.set_group("workers", [2])
    assert it.run(frame()).ports == (2,)
    assert it.state_entries("workers") == [((0,), (2,))]


@pytest.mark.parametrize("ports,msg", [
    ([1, 2, 3, 4, 5], "holds at most 4 ports, got 5"),
    ([1, 1], "port 1 is listed twice"),
    ([0], "0 is not an interface index"),
    ([1 << 32], "is not an interface index"),
])
def test_set_group_refuses_bad_ports(program, ports, msg):
    it = Interpreter(program)
    with pytest.raises(ValueError, match=msg):
        it.set_group("workers", ports)
    with pytest.raises(ValueError, match="not a multicast group"):
        it.set_group("hits", [1])


def test_other_verdicts_have_no_multicast_outputs(program):
    it = Interpreter(program)
    res = it.run(bytes(Ether(type=0x88B5) / (b"\x00" * 20)))   # not IPv4: pass
    assert res.verdict == "pass" and res.ports == () and res.outputs == []


def test_multicast_inside_a_function_ends_the_packet():
    program = compile_source("""\
state g: group[2];
state n: array<u32>[1];
fn flood() { ipv4.ttl = 1; multicast(g, exclude_ingress); }
on packet {
    if (ipv4.valid) { flood(); }
    n[0] += 1;                     // reached only by frames that are not IPv4
    pass;
}
""", "f.nf")
    it = Interpreter(program)
    it.set_group("g", [4, 6])
    res = it.run(frame(), ingress_ifindex=6)
    assert res.verdict == "multicast" and res.ports == (4,) and res.frame[22] == 1
    assert it.lookup("n", (0,)) == (0,)
