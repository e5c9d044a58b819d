"""Signed integers (i8..i64) and the overflow tests: semantics, checker diagnostics, and the
interpreter against exact Python arithmetic (docs/language.md, "Signed integers")."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from cora.compiler.driver import check_source, compile_source
from cora.compiler.interp import Interpreter
from cora.compiler.ir import semantics as sem

from .diagnostic_helpers import assert_one_diagnostic

WIDTHS = (8, 16, 32, 64)


def signed(v: int, w: int) -> int:
    return v - (1 << w) if v >> (w - 1) else v


@pytest.mark.parametrize("a,b,q,r", [
    (-7, 2, -3, -1), (7, -2, -3, 1), (-7, -2, 3, -1), (7, 2, 3, 1), (0, -5, 0, 0),
    (-128, -1, -128, 0),   # MIN / -1 wraps to MIN; MIN % -1 is 0
    (-128, 0, 0, -128),    # by zero: quotient 0, remainder the dividend (as unsigned)
    (127, -128, 0, 127),
])
def test_signed_division_truncates_toward_zero_as_c99(a, b, q, r):
    w = 8
    assert signed(sem.sdiv(a & 0xFF, b & 0xFF, w), w) == q
    assert signed(sem.smod(a & 0xFF, b & 0xFF, w), w) == r


@settings(max_examples=300)
@given(w=st.sampled_from(WIDTHS), data=st.data())
def test_signed_division_identity_and_remainder_sign(w, data):
    a = data.draw(st.integers(0, (1 << w) - 1))
    b = data.draw(st.integers(1, (1 << w) - 1))
    q, r = sem.sdiv(a, b, w), sem.smod(a, b, w)
    assert (q * b + r) & sem.mask(w) == a             # a == (a/b)*b + a%b, mod 2**w
    sa, sb, sr = signed(a, w), signed(b, w), signed(r, w)
    assert abs(sr) < abs(sb) and (sr == 0 or (sr < 0) == (sa < 0))


def test_arithmetic_shift_and_sign_extension():
    assert sem.sar(0x80, 1, 8) == 0xC0 and sem.sar(0x80, 7, 8) == 0xFF
    assert sem.sar(0x80, 200, 8) == 0xFF and sem.sar(0x40, 200, 8) == 0
    assert sem.sext(0xFF, 8, 32) == 0xFFFF_FFFF and sem.sext(0x7F, 8, 64) == 0x7F
    assert sem.slt(0xFF, 0, 8) == 1 and sem.sgt(0x7F, 0x80, 8) == 1


def _tcp(seq: int, ack: int) -> bytes:
    return bytes(Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(seq=seq, ack=ack))


# add/sub/mul_overflows at each width (signed and unsigned) on tcp.seq/ack, one bit each
_OVF_NF = """
on packet {
    if (!tcp.valid) { pass; }
    let f: u32 = 0;
    let a8: i8 = tcp.seq as i8;   let b8: i8 = tcp.ack as i8;
    let a16: i16 = tcp.seq as i16; let b16: i16 = tcp.ack as i16;
    let a32: i32 = tcp.seq as i32; let b32: i32 = tcp.ack as i32;
    let a64: i64 = ((tcp.seq as i64) << 32) | (tcp.ack as i64);
    let b64: i64 = ((tcp.ack as i64) << 32) | (tcp.seq as i64);
    let u64a: u64 = (tcp.seq as u64) << 32 | tcp.ack;
    let u64b: u64 = (tcp.ack as u64) << 32 | tcp.seq;
    if (add_overflows(a8, b8)) { f |= 1 << 0; }
    if (sub_overflows(a8, b8)) { f |= 1 << 1; }
    if (mul_overflows(a8, b8)) { f |= 1 << 2; }
    if (add_overflows(a16, b16)) { f |= 1 << 3; }
    if (sub_overflows(a16, b16)) { f |= 1 << 4; }
    if (mul_overflows(a16, b16)) { f |= 1 << 5; }
    if (add_overflows(a32, b32)) { f |= 1 << 6; }
    if (sub_overflows(a32, b32)) { f |= 1 << 7; }
    if (mul_overflows(a32, b32)) { f |= 1 << 8; }
    if (add_overflows(a64, b64)) { f |= 1 << 9; }
    if (sub_overflows(a64, b64)) { f |= 1 << 10; }
    if (mul_overflows(a64, b64)) { f |= 1 << 11; }
    if (add_overflows(tcp.seq, tcp.ack)) { f |= 1 << 12; }
    if (sub_overflows(tcp.seq, tcp.ack)) { f |= 1 << 13; }
    if (mul_overflows(tcp.seq, tcp.ack)) { f |= 1 << 14; }
    if (add_overflows(u64a, u64b)) { f |= 1 << 15; }
    if (sub_overflows(u64a, u64b)) { f |= 1 << 16; }
    if (mul_overflows(u64a, u64b)) { f |= 1 << 17; }
    tcp.ack = f;
    pass;
}
"""


def _expected_flags(seq: int, ack: int) -> int:
    def fits(v: int, w: int, is_signed: bool) -> bool:
        return -(1 << (w - 1)) <= v < (1 << (w - 1)) if is_signed else 0 <= v < (1 << w)

    cases = []
    for w in (8, 16, 32):
        cases.append((signed(seq & sem.mask(w), w), signed(ack & sem.mask(w), w), w, True))
    a64, b64 = (seq << 32) | ack, (ack << 32) | seq
    cases.append((signed(a64, 64), signed(b64, 64), 64, True))
    cases.append((seq, ack, 32, False))
    cases.append((a64, b64, 64, False))
    f, bit = 0, 0
    for a, b, w, s in cases:
        for exact in (a + b, a - b, a * b):
            if not fits(exact, w, s):
                f |= 1 << bit
            bit += 1
    return f


_EDGE32 = st.sampled_from([0, 1, 2, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFF_FFFF,
                           0x8000_0000, 0xFFFF_FFFF, 0xFFFF_FFFE, 0x8000_0001]) | \
    st.integers(0, 0xFFFF_FFFF)


@settings(max_examples=300, deadline=None)
@given(seq=_EDGE32, ack=_EDGE32)
def test_overflow_tests_match_exact_arithmetic(seq, ack):
    it = Interpreter(compile_source(_OVF_NF, "ovf.nf"))
    out = it.run(_tcp(seq, ack)).frame
    assert int.from_bytes(out[42:46], "big") == _expected_flags(seq, ack)


def test_signed_operations_in_the_interpreter():
    src = """
    on packet {
        if (!tcp.valid) { pass; }
        let a: i32 = tcp.seq as i32;
        let q = a / -2;
        let r = a % 3;
        let s = a >> 1;
        let wide: i64 = a;
        tcp.seq = q as u32;
        tcp.ack = (r as i64 + s - wide) as u32;
        if (a < -5) { drop; }
        match (a) { -5..-1 => { tx; } _ => { } }
        pass;
    }"""
    it = Interpreter(compile_source(src, "s.nf"))
    for a in (-9, -7, -3, 0, 6, 2**31 - 1, -2**31):
        res = it.run(_tcp(a & 0xFFFF_FFFF, 0))
        q = int(a / -2) if a != -2**31 else 2**30
        r = a - 3 * int(a / 3)
        assert signed(int.from_bytes(res.frame[38:42], "big"), 32) == q
        assert signed(int.from_bytes(res.frame[42:46], "big"), 32) == \
            signed((r + (a >> 1) - a) & 0xFFFF_FFFF, 32)
        assert res.verdict == ("drop" if a < -5 else "tx" if a < 0 else "pass")


CASES = [
    ('mix_signed_unsigned',
     'on packet {\n    let a: i32 = 1;\n    let b: u32 = 2;\n    let c = a + b;\n}\n',
     "x.nf:4:15: error: '+' mixes signed i32 and u32: convert one with 'as' "
     "(e.g. 'as i64' or 'as u32')",
     '              ^'),
    ('compare_signed_unsigned',
     'on packet {\n    let a: i16 = 1;\n    if (a < tcp.seq) { drop; }\n}\n',
     "x.nf:3:11: error: '<' mixes signed i16 and u32: convert one with 'as' "
     "(e.g. 'as i64' or 'as u32')",
     '          ^'),
    ('signed_to_unsigned',
     'on packet {\n    let a: i32 = 1;\n    let b: u64 = a;\n}\n',
     "x.nf:3:18: error: expected u64, found i32 (signed and unsigned do not mix implicitly; "
     "'as u64' converts, keeping the two's-complement bits)",
     '                 ^'),
    ('signed_literal_too_big',
     'on packet {\n    let a: i8 = 128;\n}\n',
     'x.nf:2:17: error: the literal 128 does not fit in i8 (at most 127)',
     '                ^~~'),
    ('signed_literal_too_small',
     'on packet {\n    let a: i8 = -129;\n}\n',
     'x.nf:2:18: error: the literal 129 does not fit in i8 (at most 128)',
     '                 ^~~'),
    ('overflow_arity',
     'on packet {\n    if (add_overflows(1)) { drop; }\n}\n',
     'x.nf:2:9: error: add_overflows(a, b) takes 2 arguments, got 1',
     '        ^~~~~~~~~~~~~~~~'),
    ('overflow_on_ip4',
     'on packet {\n    if (add_overflows(ipv4.saddr, ipv4.daddr)) { drop; }\n}\n',
     'x.nf:2:9: error: add_overflows needs integer operands, found ip4',
     '        ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~'),
    ('negative_pattern_word',
     'on packet {\n    match (ipv4.ttl as i8) { ~3 => { drop; } _ => { } }\n}\n',
     "x.nf:2:30: error: a pattern is a constant; '~' does not apply here "
     "(only '-N' for a negative number)",
     '                             ^'),
]


@pytest.mark.parametrize("name,src,head,caret", CASES, ids=[c[0] for c in CASES])
def test_signed_diagnostics(name, src, head, caret):
    assert_one_diagnostic(src, head, caret)


def test_signed_programs_check_clean():
    src = ("const LOW: i32 = -2147483648;\nstruct S { v: i16 }\n"
           "state s: map<i32, S>[16] on_full skip;\n"
           "on packet {\n    let a: i32 = LOW;\n    let b: i8 = -128;\n"
           "    let c: i64 = a + b + (3 as u16);\n    s[a] = S { v: b };\n"
           "    s[-1].v -= 1;\n    if (c >= -1 && !sub_overflows(b, 1)) { drop; }\n}\n")
    assert check_source(src, "x.nf") == []


def test_agilio_refuses_signed_division_with_the_line_and_bluefield_runs_it():
    from cora.compiler.offload.nic_checks import unsupported

    p = compile_source("on packet {\n  if (!tcp.valid) { pass; }\n"
                       "  let a: i32 = tcp.seq as i32;\n  tcp.ack = (a / -3) as u32;\n"
                       "  pass;\n}\n", "t.nf")
    reasons = unsupported(p, "agilio")
    assert any(r.startswith("t.nf:4:") and "signed div" in r for r in reasons), reasons
    assert unsupported(p, "bluefield2") == []
