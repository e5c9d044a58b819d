"""User-declared headers (``header H after P.f == V { ... }``): layout, validity, reads and
writes in the interpreter, and the checker's diagnostics (docs/language.md,
"User-declared headers")."""

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from cora.compiler.driver import check_source, compile_source
from cora.compiler.interp import Interpreter
from cora.compiler.ir.semantics import internet_checksum

from .diagnostic_helpers import assert_one_diagnostic

VXLAN = ("header vxlan after udp.dport == 4789 { flags: u8, reserved: u32 (24), "
         "vni: u32 (24), reserved2: u8 }\n")


def _udp(dport: int, payload: bytes) -> bytes:
    return bytes(Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=7, dport=dport)
                 / payload)


def test_layout_counts_bits_from_the_udp_header():
    c = compile_source(VXLAN + "header inner after vxlan.flags == 8 { dst: mac, src: mac }\n"
                       "on packet { if (inner.src == 02:00:00:00:00:01) { drop; } pass; }\n",
                       "v.nf")
    loads = [(op.attrs["bit"], op.attrs["bits"]) for _, op in c.ops()
             if op.opcode == "hdr.load_at"]
    assert (64, 8) in loads          # vxlan.flags: right after the 8-byte UDP header
    assert (64 + 64 + 48, 48) in loads   # inner.src: after VXLAN's 8 bytes and inner.dst
    has = {op.attrs["bytes"] for _, op in c.ops() if op.opcode == "hdr.has"}
    assert has == {16, 28}


def test_vni_rewrite_keeps_the_checksum_and_short_frames_are_invalid():
    it = Interpreter(compile_source(
        VXLAN + "on packet {\n  if (!vxlan.valid) { pass; }\n  vxlan.vni += 1;\n"
        "  if (vxlan.vni == 0x123457) { tx; }\n  drop;\n}\n", "v.nf"))
    frame = _udp(4789, bytes([8, 0, 0, 0, 0x12, 0x34, 0x56, 0]) + b"payload!")
    out = it.run(frame)
    assert out.verdict == "tx" and out.frame[42 + 4:42 + 7] == bytes([0x12, 0x34, 0x57])
    udp = out.frame[34:]
    pseudo = out.frame[26:34] + bytes([0, 17]) + len(udp).to_bytes(2, "big")
    assert internet_checksum(pseudo + udp) == 0
    assert it.run(_udp(4789, bytes(7))).verdict == "pass"           # one byte short
    assert it.run(_udp(4790, bytes(8))).verdict == "pass"           # another port
    assert it.run(frame[:-8]).verdict == "tx"                       # exactly 8 bytes


def test_reading_an_invalid_header_gives_zero_and_writing_does_nothing():
    it = Interpreter(compile_source(
        "header h after udp.dport == 9 { a: u16, v: i32[2] }\n"
        "on packet {\n  h.v[1] = -1;\n  if (h.a == 0 && h.v[0] == 0) { drop; }\n  pass;\n}\n",
        "h.nf"))
    frame = _udp(10, bytes(range(1, 11)))
    out = it.run(frame)
    assert out.verdict == "drop" and out.frame == frame
    out = it.run(_udp(9, bytes(range(1, 11))))
    assert out.verdict == "pass" and out.frame[42 + 6:42 + 10] == b"\xff\xff\xff\xff"


CASES = [
    ('tcp_parent',
     'header h after tcp.dport == 1 { a: u8 }\non packet { pass; }\n',
     "x.nf:1:16: error: a header follows udp or a header declared before it; 'tcp' cannot be "
     "a parent (its payload starts at a variable offset)",
     '               ^~~'),
    ('unknown_parent_field',
     'header h after udp.dprt == 1 { a: u8 }\non packet { pass; }\n',
     "x.nf:1:20: error: unknown field 'dprt' of header udp (did you mean 'dport'?)",
     '                   ^~~~'),
    ('selector_too_big',
     'header h after udp.dport == 70000 { a: u8 }\non packet { pass; }\n',
     'x.nf:1:29: error: the literal 70000 does not fit in u16 (at most 65535)',
     '                            ^~~~~'),
    ('not_whole_bytes',
     'header h after udp.dport == 1 { a: u8 (4) }\non packet { pass; }\n',
     "x.nf:1:8: error: header 'h' is 4 bits long; a header is a whole number of bytes (add a "
     "padding field)",
     '       ^'),
    ('bits_on_signed',
     'header h after udp.dport == 1 { a: i8 (4), b: u8 (4) }\non packet { pass; }\n',
     "x.nf:1:33: error: a bit width (N) applies to an unsigned field of at least N bits (e.g. "
     "'vni: u32 (24)'), not to i8 (4)",
     '                                ^~~~~~~~~'),
    ('bool_field',
     'header h after udp.dport == 1 { a: bool }\non packet { pass; }\n',
     'x.nf:1:36: error: a header field is an integer, ip4 or mac, or an array of them, not bool',
     '                                   ^~~~'),
    ('duplicate_field',
     'header h after udp.dport == 1 { a: u8, a: u8 }\non packet { pass; }\n',
     "x.nf:1:40: error: field 'a' appears twice in header 'h'",
     '                                       ^~~~~'),
    ('unknown_field',
     'header h after udp.dport == 1 { a: u8 }\non packet { if (h.b == 1) { drop; } }\n',
     "x.nf:2:19: error: unknown field 'b' of header h",
     '                  ^'),
    ('valid_is_read_only',
     'header h after udp.dport == 1 { a: u8 }\non packet { h.valid = true; }\n',
     "x.nf:2:15: error: 'h.valid' is read-only: it says whether the frame holds the header",
     '              ^~~~~'),
    ('builtin_name',
     'header ipv4 after udp.dport == 1 { a: u8 }\non packet { pass; }\n',
     "x.nf:1:8: error: 'ipv4' is a built-in name; choose another name",
     '       ^~~~'),
    ('header_as_value',
     'header h after udp.dport == 1 { a: u8 }\non packet { let x = h; }\n',
     "x.nf:2:21: error: 'h' is a header, not a value; use a field such as h.a or h.valid",
     '                    ^'),
    ('array_field_index',
     'header h after udp.dport == 1 { v: u8[4] }\non packet { let x = h.v[4]; }\n',
     'x.nf:2:25: error: index 4 is out of range for u8[4] (0..3)',
     '                        ^'),
]


@pytest.mark.parametrize("name,src,head,caret", CASES, ids=[c[0] for c in CASES])
def test_header_diagnostics(name, src, head, caret):
    assert_one_diagnostic(src, head, caret)


def test_header_names_may_be_used_as_words_elsewhere():
    """'header' and 'after' are keywords only at the top level."""
    assert check_source("on packet {\n  let header = 1;\n  let after = header + 1;\n"
                        "  if (after == 2) { drop; }\n}\n", "x.nf") == []
