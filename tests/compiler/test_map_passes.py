"""The map-lookup passes on the NF library: what the firewall's track() lookup becomes
(lookup-merge after branch-thread), and copy-aware sharing."""

from __future__ import annotations

from pathlib import Path

from cora.compiler.driver import compile_file
from cora.compiler.ir import RefType
from cora.compiler.ir.text import parse_program, print_program
from cora.compiler.passes import run_pipeline

NETFUNCS = Path(__file__).resolve().parents[2] / "netfuncs"


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_firewall_track_lookup_reuses_the_live_lookup():
    """track()'s ``conns[k]`` is looked up again only on the edges where no lookup of the
    connection's key is available (a new connection): on the established paths it is the
    reference live() returned (a ``mov``)."""
    path = NETFUNCS / "firewall.nf"
    line = _line_of(path, "let fin = conns[k].fin;")
    p = compile_file(path)
    at_line = [(b.label, op) for b, op in p.ops() if op.span and op.span.line == line
               and op.dest is not None and isinstance(p.regs[op.dest], RefType)]
    lookups = [lab for lab, op in at_line if op.opcode == "map.lookup"]
    moves = [op for _, op in at_line if op.opcode == "mov"]
    assert moves, "track's lookup was not merged"
    assert all(lab.startswith("merge") for lab in lookups), lookups
    # the references merged come from live()'s two lookups (reversed key and key)
    merged = {op.args[0] for op in moves}
    sources = {op.args[0] for _, op in p.ops() if op.opcode == "mov" and op.dest in merged}
    live_line = _line_of(path, "if (!(k in conns))")
    live_refs = {op.dest for _, op in p.ops() if op.opcode == "map.lookup"
                 and op.span and op.span.line == live_line}
    assert len(sources & live_refs) >= 2, (sources, live_refs)


def test_lookup_share_through_copies():
    """A lookup of a copy of a key already looked up reuses the reference."""
    p = parse_program("""nf copies
state h: hash key(k:u32) value(v:u64) capacity 4 on_full skip origin map
bb0:
  %a:u32 = hdr.load ipv4.saddr
  %r1:ref<h> = map.lookup h(%a)
  %b:u32 = mov %a
  %c:u32 = mov %b
  %r2:ref<h> = map.lookup h(%c)
  %v:u64 = ref.load h %r2.0
  ret pass
""")
    run_pipeline(p, ["lookup-share"])
    assert "%r2:ref<h> = mov %r1" in print_program(p)


def test_lookup_share_forgets_a_copy_whose_source_changes():
    """A copy stops matching once the key register it copied is assigned again."""
    p = parse_program("""nf copies
state h: hash key(k:u32) value(v:u64) capacity 4 on_full skip origin map
bb0:
  %a:u32 = hdr.load ipv4.saddr
  %b:u32 = mov %a
  %r1:ref<h> = map.lookup h(%a)
  %b:u32 = hdr.load ipv4.daddr
  %r2:ref<h> = map.lookup h(%b)
  %v:u64 = ref.load h %r2.0
  ret pass
""")
    run_pipeline(p, ["lookup-share"])
    assert "%r2:ref<h> = map.lookup h(%b)" in print_program(p)


def test_lookup_merge_leaves_a_join_without_any_lookup_before():
    """No incoming edge has the lookup: nothing is moved (moving would add work)."""
    src = """nf nomerge
state h: hash key(k:u32) value(v:u64) capacity 4 on_full skip origin map
bb0:
  %a:u32 = hdr.load ipv4.saddr
  %t:u1 = hdr.valid tcp
  br %t, bb1, bb2
bb1:
  jmp bb2
bb2:
  %r:ref<h> = map.lookup h(%a)
  %v:u64 = ref.load h %r.0
  ret pass
"""
    p = parse_program(src)
    run_pipeline(p, ["lookup-merge"])
    assert print_program(p) == print_program(parse_program(src))
