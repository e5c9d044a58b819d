"""Header validity facts (:mod:`cora.targets.ebpf.validity`): which header loads the generated
C leaves unguarded, which headers the parser skips, and that the kernel still equals the
interpreter on every capture and on generated frames (IPv6, VLAN tags, short headers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cora.compiler.driver import compile_file, compile_source
from cora.compiler.ir.text import parse_program
from cora.compiler.ir.verify import verify
from cora.targets import get_target
from cora.targets.ebpf.validity import Facts, header_facts, parse_needed

from .packets import sample_frames

NETFUNCS = Path(__file__).resolve().parents[2] / "netfuncs"

#: an or-clause narrowed by a failed test, an and, a not, and a join that loses a fact
IR = """\
nf facts
bb0:
  %t:u1 = hdr.valid tcp
  %u:u1 = hdr.valid udp
  %either:u1 = or %t, %u
  br %either, bb1, bb9
bb1:
  %t2:u1 = hdr.valid tcp
  br %t2, bb2, bb3
bb2:
  %a:u16 = hdr.load tcp.dport
  jmp bb4
bb3:
  %b:u16 = hdr.load udp.dport
  jmp bb4
bb4:
  %c:u32 = hdr.load ipv4.saddr
  %v4:u1 = hdr.valid ipv4
  %nv4:u1 = not %v4
  br %nv4, bb9, bb5
bb5:
  %d:u32 = hdr.load ipv4.daddr
  ret drop
bb9:
  ret pass
"""


def _facts_by_dest(program) -> dict[str, frozenset[str]]:
    facts = header_facts(program)
    return {op.dest: facts[id(op)].valid() for _, op in program.ops() if op.dest}


def test_branches_prove_headers_valid():
    program = parse_program(IR)
    verify(program)
    valid = _facts_by_dest(program)
    assert "tcp" in valid["a"] and "udp" not in valid["a"]
    assert "udp" in valid["b"]                       # (tcp or udp) and not tcp
    assert {"ethernet"} <= valid["a"] and {"ethernet"} <= valid["b"]   # implied outer header
    assert "tcp" not in valid["c"] and "udp" not in valid["c"]         # lost at the join
    assert "ipv4" not in valid["c"]                  # IPv4 or IPv6: not known which
    assert "ipv4" in valid["d"]                      # through the not
    assert "tcp" not in valid["t"]                   # nothing known at the entry


def test_facts_meet_and_conjunction():
    tcp, v4 = Facts(frozenset({frozenset({"tcp"})})), Facts(invalid=frozenset({"ipv6"}))
    both = tcp.both(v4)
    assert both.valid() == {"tcp", "ipv4", "ethernet"}   # tcp -> ipv4|ipv6, ipv6 absent
    assert both.meet(Facts()).valid() == frozenset()
    assert both.meet(tcp.both(Facts())).valid() == {"tcp", "ethernet"}


def test_meet_keeps_the_union_of_one_clause_per_edge():
    """``tcp.valid || udp.valid`` tested as two branches (short-circuit): TCP valid on one
    edge, UDP valid and TCP absent on the other; after the join one of them is valid, and
    where TCP is then found absent, UDP is valid."""
    tcp = Facts(frozenset({frozenset({"tcp"})})).both(Facts())
    udp = Facts(frozenset({frozenset({"udp"})}), frozenset({"tcp"})).both(Facts())
    joined = tcp.meet(udp)
    assert frozenset({"tcp", "udp"}) in joined.clauses
    assert joined.valid() == {"ethernet"}
    assert joined.both(Facts(invalid=frozenset({"tcp"}))).valid() >= {"udp", "ethernet"}
    assert joined.invalid == frozenset()


def test_flowcount_loads_unguarded_and_parser_skips_ipv6_and_vlan():
    program = compile_file(NETFUNCS / "flowcount.nf")
    assert parse_needed(program) == {"ipv6": False, "vlan": False}
    c = next(iter(get_target("xdp").generate(program).files.values()))
    assert "0x86dd" not in c and "0x8100" not in c
    assert "if (v_ipv4)" not in c and "if (v_tcp)" not in c and "if (v_udp)" not in c


SRC_PROVEN = """\
on packet {
    if (ethernet.type != ETH_P_IPV4) { pass; }
    if (!(tcp.valid || udp.valid)) { pass; }
    if (tcp.valid) {
        if (tcp.dport == 80) { drop; }
        pass;
    }
    if (udp.sport == 53) { drop; }
    pass;
}
"""

#: tcp read without an IPv4 test: IPv6 (which may carry it) and VLAN must still be parsed
SRC_UNPROVEN = """\
on packet {
    if (tcp.valid && tcp.dport == 80) { drop; }
    if (ipv4.valid && ipv4.ttl == 1) { drop; }
    pass;
}
"""


def test_parser_keeps_what_an_op_could_tell():
    assert parse_needed(compile_source(SRC_PROVEN, "proven.nf")) == \
        {"ipv6": False, "vlan": False}
    assert parse_needed(compile_source(SRC_UNPROVEN, "unproven.nf")) == \
        {"ipv6": True, "vlan": True}
    c = next(iter(get_target("xdp").generate(
        compile_source(SRC_UNPROVEN, "unproven.nf")).files.values()))
    assert "0x86dd" in c and "0x8100" in c


@pytest.mark.kernel
@pytest.mark.parametrize("src", [SRC_PROVEN, SRC_UNPROVEN], ids=["proven", "unproven"])
def test_kernel_equals_interpreter(bcc_module, src):
    from cora.runtime.engine import InterpEngine, KernelEngine
    from cora.runtime.run import run_frames
    from cora.settings import trace_files
    from cora.testbed.replay import read_pcap

    program = compile_source(src, "validity.nf")
    traces = [read_pcap(str(t)) for t in trace_files()]
    traces.append([(n * 1000, f) for n, f in enumerate(sample_frames(300))])
    mismatches, details, verdicts = 0, [], set()
    with KernelEngine(program) as k, InterpEngine(program) as i:
        for frames in traces:
            report = run_frames(program, frames, engine="both", engines=(k, i))
            mismatches += report.mismatches
            details += report.details
            verdicts |= {v for v, n in report.verdicts.items() if n}
    assert mismatches == 0, details[:3]
    assert {"pass", "drop"} <= verdicts
