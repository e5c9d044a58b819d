"""Malformed frames: real frames with random byte corruption in the header area and random
truncation, and pure random bytes, through every example program and every NF of the library.
The interpreter never raises, keeps the frame length, writes only within parsed headers'
reach, and every stored key/value fits its declared width."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cora.compiler.driver import compile_file
from cora.compiler.interp import Interpreter

from .interp_helpers import trace_records
from .ir_programs import PROGRAMS

NETFUNCS = sorted((Path(__file__).resolve().parents[2] / "netfuncs").glob("*.nf"))


def _programs():
    out = {name: make() for name, make in PROGRAMS.items()}
    out.update({f"nf:{p.stem}": compile_file(p) for p in NETFUNCS})
    return out


_REAL = None


def real_frames() -> list[bytes]:
    global _REAL
    if _REAL is None:
        _REAL = [f for _, records in trace_records() for _, f in records if len(f) >= 14]
    return _REAL


@st.composite
def corrupted_frames(draw) -> bytes:
    frames = real_frames()
    buf = bytearray(frames[draw(st.integers(0, len(frames) - 1))])
    for _ in range(draw(st.integers(0, 6))):
        i = draw(st.integers(0, min(len(buf), 80) - 1))
        buf[i] = draw(st.sampled_from([0x00, 0xFF, 0x45, 0x4F, 0x40, 0x06, 0x11, 0x01, 0x08,
                                       0x81, 0x86, 0xDD, draw(st.integers(0, 255))]))
    cut = draw(st.one_of(st.just(len(buf)), st.integers(0, len(buf))))
    return bytes(buf[:cut])


def _check_state(it: Interpreter) -> None:
    dump = it.dump_state()
    json.dumps(dump)                                   # plain ints and lists only
    for decl in it.program.states:
        key_widths = ([decl.key[0].width, 32] if decl.kind == "lpm"
                      else [f.width for f in decl.key])
        for entry in dump["maps"][decl.name]:
            assert all(0 <= v < 1 << w for v, w in zip(entry["key"], key_widths, strict=True))
            assert all(0 <= v < 1 << f.width
                       for v, f in zip(entry["value"], decl.value, strict=True))
            assert len(entry["value"]) == len(decl.value)


@pytest.fixture(scope="module")
def programs():
    return _programs()


@pytest.mark.slow
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(corrupted_frames(), st.binary(max_size=120)), min_size=1,
                max_size=15))
def test_malformed_frames_never_break_the_interpreter(programs, frames):
    for name, program in programs.items():
        it = Interpreter(program)
        for i, frame in enumerate(frames):
            r = it.run(frame, now_ns=i * 1_000_000_000)
            assert r.verdict in ("pass", "drop", "tx", "redirect"), name
            assert len(r.frame) == len(frame), name
            assert (r.port is not None) == (r.verdict == "redirect"), name
            if r.port is not None:
                assert 0 <= r.port < 2**32
            if len(frame) < 14:
                assert r.frame == frame, name           # no header: nothing to write
        _check_state(it)
