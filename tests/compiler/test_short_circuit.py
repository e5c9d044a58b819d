"""``short-circuit`` (:mod:`cora.compiler.passes.short_circuit`): a branch on and/or/not of
flags becomes branches on the flags; what only the second flag needs moves behind the first
test, but never past a side effect, nor a multiplication or division."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cora.compiler.ir.text import parse_program, print_program
from cora.compiler.ir.verify import verify
from cora.compiler.passes import run_pipeline

from .interp_helpers import behaviour, build, packet_specs

PRELUDE = "nf sc\n"


def _run(text: str):
    program = parse_program(PRELUDE + text)
    verify(program)
    run_pipeline(program, ["short-circuit"])
    return program


def _block(program, label):
    return next(b for b in program.blocks if b.label == label)


def test_condition_used_twice_is_not_split():
    p = _run("""bb0:
  %a:u1 = hdr.valid tcp
  %b:u1 = hdr.valid udp
  %c:u1 = or %a, %b
  br %c, bb1, bb2
bb1:
  br %c, bb2, bb3
bb2:
  ret pass
bb3:
  ret drop
""")
    assert [op.opcode for op in _block(p, "bb0").ops] == ["hdr.valid", "hdr.valid", "or", "br"]


def test_load_stays_before_a_store_and_division_stays_put():
    p = _run("""bb0:
  %a:u1 = hdr.valid tcp
  %x:u16 = hdr.load tcp.sport
  %seven:u16 = const 7
  %q:u16 = div %x, %seven
  %one:u16 = const 1
  hdr.store tcp.sport, %one
  %b:u1 = eq %q, %one
  %c:u1 = and %a, %b
  br %c, bb1, bb2
bb1:
  ret pass
bb2:
  ret drop
""")
    entry = [op.opcode for op in p.blocks[0].ops]
    # the load and the division stay before the store; only the comparison moved
    assert entry == ["hdr.valid", "hdr.load", "const", "div", "const", "hdr.store", "br"]
    assert [op.opcode for op in _block(p, "sc0").ops] == ["eq", "br"]
    assert "and" not in print_program(p)


SAME_TEXT = PRELUDE + """bb0:
  %t:u1 = hdr.valid tcp
  %u:u1 = hdr.valid udp
  %v:u1 = hdr.valid ipv4
  %nu:u1 = not %u
  %nt:u1 = not %t
  %l:u1 = and %t, %nu
  %r:u1 = and %v, %nt
  %c:u1 = or %l, %r
  br %c, bb1, bb2
bb1:
  ret pass
bb2:
  ret drop
"""


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.just(0), st.one_of(packet_specs().map(build), st.binary(max_size=60))),
                min_size=1, max_size=6))
def test_same_verdicts_as_before(frames):
    """``(tcp && !udp) || (ipv4 && !tcp)`` as and/or and as branches: same behaviour on
    generated frames (TCP, UDP, other IPv4, junk)."""
    before = parse_program(SAME_TEXT)
    after = parse_program(SAME_TEXT)
    run_pipeline(after, ["short-circuit"])
    assert not {"or", "and", "not"} & {op.opcode for _, op in after.ops()}
    assert behaviour(after, frames) == behaviour(before, frames)
