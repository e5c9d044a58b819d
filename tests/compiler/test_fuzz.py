"""Grammar fuzzing: whatever the text, the front end answers with diagnostics or a verified
program, never a traceback.

Inputs: strings generated from the grammar itself (``hypothesis.extra.lark.from_lark``), valid
programs (the NF library and tests/compiler/nf) mutated by deleting, duplicating, swapping and
inserting tokens and by truncation, and random bytes. Each property runs a few hundred
examples in total (< 60 s).
"""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark

from cora.compiler.driver import check_source, compile_source
from cora.compiler.frontend.diagnostics import CompileError, Diagnostic
from cora.compiler.frontend.parse import parser
from cora.compiler.ir import Program
from cora.compiler.ir.verify import verify

ROOT = Path(__file__).resolve().parents[2]
SEEDS = sorted((ROOT / "netfuncs").glob("*.nf")) + sorted((ROOT / "tests/compiler/nf").glob("*.nf"))
SEED_TEXTS = [p.read_text() for p in SEEDS]

# words and symbols the mutator inserts
VOCAB = ["let", "if", "else", "match", "for", "in", "fn", "return", "state", "const", "struct",
         "on", "packet", "pass", "drop", "tx", "redirect", "delete", "as", "true", "false",
         "ipv4", "tcp", ".valid", ".saddr", "flow", "pkt.len", "now()", "rand()", "hash(",
         "u8", "u64", "bool", "ip4", "map", "array", "lpm", "countmin", "on_full", "skip",
         "{", "}", "(", ")", "[", "]", "<", ">", ";", ",", ":", "=", "+=", "==", "&&", "||", "!",
         "-", "~", "..", "=>", "|", "_", "0", "1", "255", "65536", "99999999999999999999999",
         "10.0.0.0/8", "10.0.0.1", "02:00:00:00:00:01", "x", "flows", "Counts", "/*", "//",
         "\n", " "]

# Terminals drawn with spaces around them (so keywords and names do not run together) and,
# for names, mostly ones the checker knows, so generated programs get past name resolution.
NAMES = ["x", "y", "packet", "ipv4", "tcp", "udp", "vlan", "valid", "saddr", "ttl", "flow",
         "pkt", "len", "flows", "u8", "u16", "u32", "u64", "bool", "ip4", "Flow", "map",
         "lru_map", "array", "lpm", "countmin", "skip", "evict", "now", "rand", "hash", "add",
         "estimate", "_", "TCP_SYN", "S", "f"]


def _terminal_strategies():
    out = {}
    for t in parser().terminals:
        if t.name in ("WS", "COMMENT", "BLOCK_COMMENT"):
            out[t.name] = st.sampled_from({"WS": [" ", "\n", "\t"],
                                           "COMMENT": ["// c\n", "//\n"],
                                           "BLOCK_COMMENT": ["/* c */", "/**/"]}[t.name])
            continue
        if t.name == "NAME":
            strat = st.one_of(st.sampled_from(NAMES),
                              st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,5}\Z"))
        elif t.name == "INT":
            strat = st.one_of(st.integers(0, 300).map(str),
                              st.sampled_from(["0x2a", "0b101", "1_000", "4294967296"]))
        elif t.pattern.type == "str":
            strat = st.just(t.pattern.value)
        else:
            strat = st.from_regex(t.pattern.to_regexp(), fullmatch=True)
        out[t.name] = strat.map(lambda s: f" {s} ")
    return out


FUZZ = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])


def assert_front_end_answers(text: str) -> None:
    """check_source returns diagnostics; compile_source agrees with it and verifies."""
    diags = check_source(text, "fuzz.nf")
    assert isinstance(diags, list)
    assert all(isinstance(d, Diagnostic) and d.line >= 1 and d.col >= 1 for d in diags)
    assert diags == sorted(diags, key=lambda d: (d.line, d.col, d.severity != "error",
                                                 d.message))
    try:
        program = compile_source(text, "fuzz.nf", passes=False)
    except CompileError as exc:
        assert diags, "compile_source failed but check_source found nothing"
        assert exc.diagnostics == diags
        assert exc.rendered.startswith("fuzz.nf:")
        return
    assert not diags
    assert isinstance(program, Program)
    verify(program)


@pytest.mark.slow
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(from_lark(parser(), start="start", explicit=_terminal_strategies()))
def test_grammar_generated_text(text):
    assert_front_end_answers(text)
    # generated declarations rarely come with a packet handler: add one to reach the checker
    assert_front_end_answers(text + "\non packet { pass; }\n")


@st.composite
def mutated(draw):
    text = draw(st.sampled_from(SEED_TEXTS))
    for _ in range(draw(st.integers(1, 4))):
        n = len(text)
        i = draw(st.integers(0, n))
        j = draw(st.integers(i, min(n, i + 40)))
        kind = draw(st.sampled_from(["delete", "insert", "duplicate", "truncate", "swap"]))
        if kind == "delete":
            text = text[:i] + text[j:]
        elif kind == "insert":
            word = draw(st.sampled_from(VOCAB))
            text = text[:i] + " " + word + " " + text[i:]
        elif kind == "duplicate":
            text = text[:j] + text[i:j] + text[j:]
        elif kind == "truncate":
            text = text[:i]
        else:
            k = draw(st.integers(0, n))
            a, b = sorted((i, k))
            text = text[:a] + text[j:] + text[a:j] if a < i else text
    return text


@pytest.mark.slow
@FUZZ
@given(mutated())
def test_mutated_valid_programs(text):
    assert_front_end_answers(text)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes(data):
    assert_front_end_answers(data.decode("utf-8", errors="replace"))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(SEED_TEXTS), st.data())
def test_every_prefix_of_a_valid_program(text, data):
    cut = data.draw(st.integers(0, len(text)))
    assert_front_end_answers(text[:cut])


def test_seed_programs_compile():
    assert SEED_TEXTS, "no NF programs found to mutate"
    for path, text in zip(SEEDS, SEED_TEXTS, strict=True):
        assert check_source(text, str(path)) == [], path
