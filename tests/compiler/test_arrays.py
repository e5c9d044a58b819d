"""Fixed-size arrays ``T[N]``: compile-time bounds proofs and their diagnostics, flattening to
registers and state fields, and the interpreter on loops over array elements
(docs/language.md, "Arrays")."""

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from cora.compiler.driver import check_source, compile_source
from cora.compiler.interp import Interpreter

from .diagnostic_helpers import assert_one_diagnostic

CASES = [
    ('constant_index_out_of_range',
     'on packet {\n    let a: u8[4] = (1, 2, 3, 4);\n    let b = a[4];\n}\n',
     'x.nf:3:15: error: index 4 is out of range for u8[4] (0..3)',
     '              ^'),
    ('loop_index_out_of_range',
     'on packet {\n    let a: u8[4] = (1, 2, 3, 4);\n    for (i in 0..4) { a[i + 1] = 0; }\n}\n',
     'x.nf:3:25: error: this index takes the values 1..4, out of range for u8[4] (0..3)',
     '                        ^~~~~'),
    ('loop_index_below_zero',
     'on packet {\n    let a: u8[4] = (1, 2, 3, 4);\n    for (i in 0..4) { a[i - 1] = 0; }\n}\n',
     'x.nf:3:25: error: this index takes the values -1..2, out of range for u8[4] (0..3)',
     '                        ^~~~~'),
    ('runtime_index',
     'on packet {\n    let a: u8[4] = (1, 2, 3, 4);\n    let b = a[ipv4.ttl];\n}\n',
     "x.nf:3:15: error: an array index must be a constant or a 'for' loop variable combined "
     "with constants (+ - * / %), so that its range is known at compile time",
     '              ^~~~~~~~'),
    ('empty_array',
     'struct S { v: u32[0] }\non packet { pass; }\n',
     'x.nf:1:19: error: an array has 1 to 4096 elements, not 0',
     '                  ^'),
    ('array_size_not_constant',
     'const N = 4;\nstruct S { v: u32[N + M] }\non packet { pass; }\n',
     "x.nf:2:23: error: undefined name 'M'",
     '                      ^'),
    ('index_a_scalar',
     'on packet {\n    let x: u32 = 1;\n    let b = x[0];\n}\n',
     'x.nf:3:13: error: only state objects and arrays can be indexed (s[key], a[i]); this is '
     'a u32',
     '            ^~~~'),
    ('state_value_element_out_of_range',
     'state s: array<i32[4]>[8];\non packet {\n    s[1][9] = 1;\n}\n',
     'x.nf:3:10: error: index 9 is out of range for i32[4] (0..3)',
     '         ^'),
]


@pytest.mark.parametrize("name,src,head,caret", CASES, ids=[c[0] for c in CASES])
def test_array_diagnostics(name, src, head, caret):
    assert_one_diagnostic(src, head, caret)


def test_division_and_remainder_of_loop_variables_are_proven_in_range():
    src = ("on packet {\n    let a: u8[4] = (1, 2, 3, 4);\n"
           "    for (i in 0..8) { a[i / 2] += 1; a[i % 4] -= 1; a[(i * 3) % 4] ^= 1; }\n}\n")
    assert check_source(src, "x.nf") == []


def test_arrays_flatten_to_state_fields_in_order():
    p = compile_source("struct Slot { n: u32, sums: i32[3] }\nstate s: array<Slot>[2];\n"
                       "on packet { s[0].sums[2] += 1; pass; }\n", "x.nf")
    fields = [(f.name, f.width) for f in p.states[0].value]
    assert fields == [("n", 32), ("sums_e0", 32), ("sums_e1", 32), ("sums_e2", 32)]
    # the `+=` writes element 2, flattened field 3 (as an atomic add after the atomic-add pass)
    stores = [op for _, op in p.ops() if op.opcode in ("ref.store", "atomic_add")]
    assert [op.attrs["index"] for op in stores] == [3]


def test_loop_over_a_state_array_in_the_interpreter():
    src = """
    struct Acc { sums: i32[4], n: u32 }
    state acc: array<Acc>[1];
    on packet {
        if (!tcp.valid) { pass; }
        let v: i32[4] = (10, -20, 30, -40);
        for (i in 0..4) { acc[0].sums[3 - i] += v[i] * (tcp.seq as i32); }
        acc[0].n += 1;
        tcp.ack = acc[0].sums[0] as u32;
        pass;
    }"""
    it = Interpreter(compile_source(src, "a.nf"))
    frame = bytes(Ether() / IP() / TCP(seq=3))
    for _ in range(2):
        out = it.run(frame)
    assert int.from_bytes(out.frame[42:46], "big") == (-40 * 3 * 2) & 0xFFFF_FFFF
    state = it.dump_state()["maps"]["acc"]
    assert state == [{"key": [0], "value": [-240 & 0xFFFF_FFFF, 180, -120 & 0xFFFF_FFFF, 60, 2]}]
