"""Network byte order in the generated C (:mod:`cora.targets.ebpf.byteorder`): which
registers the C keeps in wire order (through copies, joins, bitwise ops and comparisons),
where it swaps, and that the kernel still equals the interpreter."""

from __future__ import annotations

from pathlib import Path

import pytest

from cora.compiler.driver import compile_file
from cora.compiler.ir.text import parse_program
from cora.compiler.ir.verify import verify
from cora.targets import get_target
from cora.targets.ebpf.byteorder import network_order_regs

NETFUNCS = Path(__file__).resolve().parents[2] / "netfuncs"

HEAD = ("nf order\n"
        "state h: hash key(a:u32, p:u16) value(v:u32) capacity 64 on_full skip origin map\n"
        "state arr: array key(i:u32) value(v:u32) capacity 4 origin array\n")

#: a header field copied on two paths (a join), through movs and bitwise ops into keys, also
#: hashed, compared with constants, written back into the header, and a map value joining a
#: wire-order group through a copy
PROGRAM = HEAD + """\
bb0:
  %tcp:u1 = hdr.valid tcp
  %ip:u1 = hdr.valid ipv4
  br %ip, bb1, bb9
bb1:
  %sa:u32 = hdr.load ipv4.saddr
  %da:u32 = hdr.load ipv4.daddr
  br %tcp, bb2, bb3
bb2:
  %port:u16 = hdr.load tcp.dport
  jmp bb4
bb3:
  %port:u16 = hdr.load udp.dport
  jmp bb4
bb4:
  %k:u32 = mov %sa
  %mask:u32 = const 4294967040
  %net:u32 = and %k, %mask
  %pfx:u32 = const 168493312
  %inside:u1 = eq %net, %pfx
  %kp:u16 = mov %port
  %r0:ref<h> = map.lookup h(%k, %kp)
  %r1:ref<h> = map.lookup h(%net, %kp)
  %hsh:u32 = hash 0 (%k, %kp)
  %zero:u32 = const 0
  %r2:ref<arr> = map.lookup arr(%zero)
  %v:u32 = ref.load arr %r2.0
  %sel:u32 = select %inside, %da, %v
  %r3:ref<h> = map.lookup h(%sel, %kp)
  %r4:ref<h> = map.lookup h(%sel, %kp)
  %ok:u1 = map.update h(%k, %kp) = (%hsh)
  hdr.store ipv4.daddr, %sel
  %c443:u16 = const 443
  %is443:u1 = eq %kp, %c443
  br %is443, bb5, bb9
bb5:
  ret drop
bb9:
  ret pass
"""


def _program(text: str = PROGRAM):
    p = parse_program(text)
    verify(p)
    return p


def test_copies_joins_and_bitwise_ops_stay_in_network_order():
    regs = network_order_regs(_program())
    # copies of loaded fields, a register set on two paths, an and-mask with its constants
    assert {"sa", "k", "net", "mask", "pfx", "port", "kp", "c443"} <= regs
    # a map value copied into keys joins the group (one swap where it is loaded)
    assert {"da", "sel", "v"} <= regs
    # arithmetic results and 1-bit flags are never candidates
    assert not {"hsh", "inside", "is443", "zero"} & regs


def test_c_swaps_only_where_the_value_is_computed_with():
    c = get_target("xdp").generate(_program()).files["prog.c"]
    assert "r_sa = *(u32 *)(h_ipv4 + 12);" in c
    assert "r_port = *(u16 *)(h_tcp + 2);" in c and "r_port = *(u16 *)(h_udp + 2);" in c
    # the second lookup of (sel, kp) reuses the key struct (keyshare.py); the update of
    # (k, kp) rebuilds it: h's struct held other keys since the first lookup
    assert c.count(".f_a = r_sel;") == 1 and "built before */" in c
    assert c.count(".f_a = r_k;") == 2
    assert ".f_a = r_net;" in c and ".f_a = r_sel;" in c
    assert "bpf_ntohl((u32)r_k)" in c and "bpf_ntohs((u16)r_kp)" in c  # hashed: host order
    # constants in a wire-order group: swapped literals
    assert "r_mask = 16777215U;" in c and "r_pfx = 68362U;" in c and "r_c443 = 47873U;" in c
    assert "bpf_ntohl((u32)r_r2->f_v)" in c  # the value converted once, where it is loaded
    assert "*(u32 *)(h_ipv4 + 16) = r_sel;" in c  # stored as it is


def test_swaps_are_counted_both_ways():
    """``a``: loaded (a swap in host order), one key (a swap in host order), two arithmetic
    uses (a swap each in network order): a tie, host order kept. ``d``: one arithmetic use
    against a load and a key: network order."""
    p = _program(HEAD + """\
bb0:
  %a:u32 = hdr.load ipv4.saddr
  %p:u16 = hdr.load tcp.dport
  %one:u32 = const 1
  %b:u32 = add %a, %one
  %c:u32 = sub %a, %one
  %r:ref<h> = map.lookup h(%a, %p)
  %r2:ref<arr> = map.lookup arr(%b)
  %r3:ref<arr> = map.lookup arr(%c)
  %d:u32 = hdr.load ipv4.daddr
  %e:u32 = add %d, %one
  %r4:ref<h> = map.lookup h(%d, %p)
  ret pass
""")
    regs = network_order_regs(p)
    assert "p" in regs and "d" in regs
    assert not {"a", "b", "c", "e", "one"} & regs


def test_shim_registers_stay_in_host_order():
    p = _program("nf shim\n"
                 "state h: hash key(a:u32) value(v:u32) capacity 4 on_full skip origin map\n"
                 """\
bb0:
  shim.pop final {7: bb1(%a:u32)}
bb1:
  %r:ref<h> = map.lookup h(%a)
  %s:ref<h> = map.lookup h(%a)
  ret pass
""")
    assert "a" not in network_order_regs(p)


def test_library_keys_take_no_byte_swap():
    """lb and firewall build their flow keys from copied header fields: no key field of
    theirs is swapped (lb's backend address, a map value, is swapped once where loaded)."""
    for nf in ("lb", "firewall", "flowcount"):
        c = get_target("xdp").generate(compile_file(NETFUNCS / f"{nf}.nf")).files["prog.c"]
        key_lines = [ln for ln in c.splitlines() if "_t" in ln and ".f_" in ln and "= bpf_" in ln]
        assert key_lines == [], (nf, key_lines[:3])


@pytest.mark.kernel
def test_network_order_program_kernel_equals_interpreter(bcc_module):
    from cora.runtime.engine import InterpEngine, KernelEngine
    from cora.runtime.run import run_frames
    from cora.settings import trace_files
    from cora.testbed.replay import read_pcap
    program = _program()
    traces = [read_pcap(str(t)) for t in trace_files()]
    assert len(traces) >= 200
    mismatches, details = 0, []
    with KernelEngine(program) as k, InterpEngine(program) as i:
        for frames in traces:
            report = run_frames(program, frames, engine="both", engines=(k, i))
            mismatches += report.mismatches
            details += report.details
    assert mismatches == 0, details[:3]
