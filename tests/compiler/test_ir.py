"""IR verifier and textual round trip."""

import pytest

from cora.compiler.ir import IntType, IRError, Op
from cora.compiler.ir.text import parse_program, print_program
from cora.compiler.ir.verify import verify

from .ir_examples import flowcount_ir


def test_flowcount_ir_verifies_and_round_trips():
    p = flowcount_ir()
    verify(p)
    text = print_program(p)
    q = parse_program(text)
    verify(q)
    assert print_program(q) == text
    assert q.states == p.states
    assert q.regs == p.regs


def test_verifier_rejects_use_before_assignment_on_one_path():
    p = flowcount_ir()
    # drop the assignment of sport on the UDP path
    for block in p.blocks:
        block.ops = [op for op in block.ops
                     if not (op.opcode == "hdr.load" and op.attrs.get("header") == "udp")]
    with pytest.raises(IRError, match="before it is assigned"):
        verify(p)


def test_verifier_rejects_width_mismatch_and_readonly_store():
    p = flowcount_ir()
    entry = p.blocks[0]
    p.regs["bad"] = IntType(8)
    entry.ops.insert(0, Op("const", "bad", (), {"value": 300}))
    with pytest.raises(IRError, match="does not fit"):
        verify(p)
    p = flowcount_ir()
    p.regs["v"] = IntType(16)
    p.blocks[0].ops[:0] = [Op("const", "v", (), {"value": 1}),
                           Op("hdr.store", None, ("v",), {"header": "ipv4", "field": "csum"})]
    with pytest.raises(IRError, match="read-only"):
        verify(p)


def test_verifier_rejects_cycles():
    p = flowcount_ir()
    last = p.blocks[1]  # the 'done' block returns; make it jump back to the entry
    last.ops[-1] = Op("jmp", None, (), {"targets": (p.blocks[0].label,)})
    with pytest.raises(IRError, match="cycle"):
        verify(p)
