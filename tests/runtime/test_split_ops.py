"""The shim ops (shim.push / shim.pop): text form, verifier rules, interpreter semantics, and
the generated XDP C against the interpreter on hand-made shims (every register width, short
and malformed shims, forward and final stages)."""

from __future__ import annotations

import pytest

from cora.compiler.interp import Interpreter
from cora.compiler.ir import SHIM_DONE, Block, IntType, IRError, Op, Program, shim_bytes
from cora.compiler.ir.text import parse_program, print_program
from cora.compiler.ir.verify import verify

WIDTHS = (1, 8, 16, 32, 48, 64, 128)
FRAME = bytes(range(14)) + bytes(50)   # an Ethernet frame the parser accepts (type 0x0c0d)


def push_program() -> Program:
    """Loads consts of every width, pushes them with resume id 7."""
    p = Program("push")
    ops = []
    for w in WIDTHS:
        p.regs[f"r{w}"] = IntType(w)
        ops.append(Op("const", f"r{w}", (), {"value": (1 << w) - 1 - (w // 2)}))
    ops.append(Op("shim.push", None, tuple(f"r{w}" for w in WIDTHS), {"resume": 7}))
    ops.append(Op("ret", None, (), {"verdict": "pass"}))
    p.blocks = [Block("bb0", ops)]
    return p


def pop_program(final: bool) -> Program:
    """Pops id 7 (all widths) to a block that stores r48 into ethernet.src (so the bytes show
    the restored value) and drops when r8 is 0xfa, else tx; id 3 (no registers) -> pass."""
    p = Program("pop")
    for w in WIDTHS:
        p.regs[f"r{w}"] = IntType(w)
    p.regs["c"] = IntType(8)
    p.regs["eq"] = IntType(1)
    p.regs["sum"] = IntType(64)
    p.regs["t"] = IntType(64)
    pop = Op("shim.pop", None, (), {"resume": (7, 3), "targets": ("bb1", "bb2"),
                                    "regs": (tuple(f"r{w}" for w in WIDTHS), ()),
                                    "final": final})
    body = [Op("hdr.store", None, ("r48",), {"header": "ethernet", "field": "src"}),
            Op("trunc", "t", ("r128",), {}),
            Op("add", "sum", ("t", "r64"), {}),
            Op("zext", "t", ("r32",), {}),
            Op("add", "sum", ("sum", "t"), {}),
            Op("trunc", "t", ("sum",), {}),
            Op("const", "c", (), {"value": 0xfa}),
            Op("eq", "eq", ("r8", "c"), {}),
            Op("br", None, ("eq",), {"targets": ("bb3", "bb4")})]
    p.blocks = [Block("resume", [pop]), Block("bb1", body),
                Block("bb2", [Op("ret", None, (), {"verdict": "pass"})]),
                Block("bb3", [Op("ret", None, (), {"verdict": "drop"})]),
                Block("bb4", [Op("ret", None, (), {"verdict": "tx"})])]
    return p


def test_text_round_trip_and_verify():
    for p in (push_program(), pop_program(True), pop_program(False)):
        verify(p)
        text = print_program(p)
        again = parse_program(text)
        verify(again)
        assert print_program(again) == text


def test_verifier_rules():
    p = push_program()
    p.blocks[0].ops.insert(-1, Op("const", "r8", (), {"value": 1}))  # push not last
    with pytest.raises(IRError, match="followed by ret pass"):
        verify(p)
    p = push_program()
    p.blocks[0].ops[-1] = Op("ret", None, (), {"verdict": "drop"})
    with pytest.raises(IRError, match="followed by ret pass"):
        verify(p)
    p = pop_program(True)
    p.blocks[0].ops.insert(0, Op("const", "c", (), {"value": 1}))
    with pytest.raises(IRError, match="only op of the entry"):
        verify(p)
    p = pop_program(True)
    p.blocks[0].ops[0].attrs["resume"] = (7, SHIM_DONE)
    with pytest.raises(IRError, match="below 0xFFFF"):
        verify(p)
    p = pop_program(True)   # bb2 uses r8, which id 3 does not restore
    p.blocks[2].ops.insert(0, Op("mov", "c", ("r8",), {}))
    with pytest.raises(IRError, match="before it is assigned"):
        verify(p)


def _shim() -> bytes:
    out = Interpreter(push_program()).run(FRAME)
    return out.frame


def test_interpreter_push_then_pop_restores_registers():
    out = Interpreter(push_program()).run(FRAME)
    n = shim_bytes(WIDTHS)
    assert out.verdict == "pass" and len(out.frame) == len(FRAME) + n
    assert out.frame[:2] == (7).to_bytes(2, "big") and out.frame[n:] == FRAME
    r48 = (1 << 48) - 1 - 24
    assert out.frame[2 + 1 + 1 + 2 + 4:2 + 1 + 1 + 2 + 4 + 8] == r48.to_bytes(8, "big")
    res = Interpreter(pop_program(True)).run(out.frame)
    assert res.verdict == "tx"          # r8 = 255 - 4 = 0xfb, not 0xfa
    assert res.frame[6:12] == r48.to_bytes(6, "big") and len(res.frame) == len(FRAME)


@pytest.mark.parametrize("final", [True, False])
def test_interpreter_forward_and_final(final):
    it = Interpreter(pop_program(final))
    done = SHIM_DONE.to_bytes(2, "big") + FRAME
    later = (9).to_bytes(2, "big") + FRAME
    assert it.run(done).verdict == "pass"
    assert it.run(done).frame == (FRAME if final else done)
    assert it.run(later).verdict == ("drop" if final else "pass")
    assert it.run(later).frame == later
    assert it.run(b"\x00").verdict == ("drop" if final else "pass")
    assert it.run((7).to_bytes(2, "big") + bytes(5)).verdict == "drop"   # truncated shim
    three = it.run((3).to_bytes(2, "big") + FRAME)
    assert three.verdict == "pass" and three.frame == FRAME


@pytest.mark.kernel
def test_kernel_matches_interpreter_on_shims(bcc_module):
    from cora.runtime.engine import InterpEngine, KernelEngine

    pushed = _shim()
    frames = [pushed, SHIM_DONE.to_bytes(2, "big") + FRAME, (9).to_bytes(2, "big") + FRAME,
              (3).to_bytes(2, "big") + FRAME, (7).to_bytes(2, "big") + bytes(30),
              (7).to_bytes(2, "big") + bytes(12), pushed[:2] + bytes(40) + FRAME]
    with KernelEngine(push_program()) as k:
        out = k.run(FRAME)
        assert (out.verdict, out.frame) == ("pass", pushed)
    for final in (True, False):
        prog = pop_program(final)
        with KernelEngine(prog) as k:
            i = InterpEngine(prog)
            for f in frames:
                a, b = k.run(f), i.run(f)
                assert (a.verdict, a.frame) == (b.verdict, b.frame), (final, f[:4].hex())
