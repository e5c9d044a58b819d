"""Diagnostics: exact ``file:line:col: error:`` lines and carets for distinct user mistakes."""

import pytest

from cora.compiler.driver import check_source, compile_file, compile_source
from cora.compiler.frontend.diagnostics import (
    CompileError,
    Diagnostic,
    format_diagnostic,
    format_diagnostics,
)
from cora.errors import InputError

from .diagnostic_helpers import assert_one_diagnostic

# (name, source, expected first line, expected caret line)
CASES = [
    ('syntax_missing_semicolon',
     'on packet {\n    let x = 1\n    pass;\n}\n',
     "x.nf:3:5: error: unexpected 'pass', expected ';'",
     '    ^~~~'),
    ('syntax_bad_char',
     'on packet {\n    let x = 1 @ 2;\n}\n',
     "x.nf:2:15: error: unexpected character '@'",
     '              ^'),
    ('syntax_eof',
     'on packet {\n    pass;\n',
     "x.nf:2:10: error: unexpected end of file, expected '}'",
     '         ^'),
    ('undefined_name',
     'on packet {\n    let total = 1;\n    if (totl > 2) { drop; }\n}\n',
     "x.nf:3:9: error: undefined name 'totl' (did you mean 'total'?)",
     '        ^~~~'),
    ('unknown_header_field',
     'on packet {\n    if (ipv4.sadr == 10.0.0.1) { drop; }\n}\n',
     "x.nf:2:14: error: unknown field 'sadr' of header ipv4 (did you mean 'saddr'?)",
     '             ^~~~'),
    ('unknown_header',
     'on packet {\n    if (ipv5.valid) { drop; }\n}\n',
     "x.nf:2:9: error: undefined name 'ipv5' (did you mean 'ipv6'?)",
     '        ^~~~'),
    ('width_mismatch',
     'on packet {\n    let p: u16 = ipv4.saddr;\n}\n',
     "x.nf:2:18: error: expected u16, found ip4 (narrowing needs 'as u16', which truncates)",
     '                 ^~~~~~~~~~'),
    ('literal_too_big',
     'on packet {\n    if (ipv4.ttl == 300) { drop; }\n}\n',
     'x.nf:2:21: error: the literal 300 does not fit in u8 (at most 255)',
     '                    ^~~'),
    ('readonly_field',
     'on packet {\n    ipv4.csum = 0;\n}\n',
     'x.nf:2:5: error: ipv4.csum is read-only (the compiler fixes checksums)',
     '    ^~~~~~~~~'),
    ('assign_const',
     'const LIMIT: u32 = 10;\non packet {\n    LIMIT = 3;\n}\n',
     "x.nf:3:5: error: cannot assign to the constant 'LIMIT'",
     '    ^~~~~'),
    ('capacity_missing',
     'state flows: map<Flow, u64> on_full skip;\non packet { pass; }\n',
     "x.nf:1:14: error: state 'flows' needs a capacity: write map<K, V>[N], e.g. map<K, V>[1024]",
     '             ^~~'),
    ('capacity_zero',
     'state flows: map<Flow, u64>[0] on_full skip;\non packet { pass; }\n',
     "x.nf:1:29: error: the capacity of 'flows' must be at least 1",
     '                            ^'),
    ('capacity_over',
     'state flows: map<Flow, u64>[20000000] on_full skip;\non packet { pass; }\n',
     "x.nf:1:29: error: capacity 20,000,000 of 'flows' is over the limit of 16,777,216 entries",
     '                            ^~~~~~~~'),
    ('policy_missing',
     'state flows: map<Flow, u64>[1024];\non packet { pass; }\n',
     "x.nf:1:7: error: state 'flows' (map) can fill up: say what happens to a new key then with "
     "'on_full skip', 'on_full drop' or 'on_full pass' before the ';'",
     '      ^~~~~'),
    ('policy_wrong_lru',
     'state conns: lru_map<Flow, u64>[1024] on_full skip;\non packet { pass; }\n',
     "x.nf:1:47: error: lru_map evicts when full: write 'on_full evict', not 'on_full skip' (use "
     "map<K, V> for skip/drop/pass)",
     '                                              ^~~~'),
    ('policy_on_array',
     'state c: array<u64>[8] on_full drop;\non packet { pass; }\n',
     "x.nf:1:32: error: array never fills up, so it takes no full policy; remove 'on_full drop'",
     '                               ^~~~'),
    ('loop_not_const',
     'on packet {\n    let n = 4;\n    for (i in 0..n) { pass; }\n}\n',
     "x.nf:3:18: error: loop bounds must be constants (a literal or a 'const'), so the loop can be "
     "unrolled",
     '                 ^'),
    ('loop_too_long',
     'on packet {\n    for (i in 0..1000) { pass; }\n}\n',
     'x.nf:2:18: error: this loop runs 1000 times; at most 256 iterations are allowed (loops are '
     'unrolled)',
     '                 ^~~~'),
    ('recursion',
     'fn f(x: u32) -> u32 {\n    return f(x - 1);\n}\non packet {\n    let y = f(3);\n}\n',
     "x.nf:2:12: error: recursive call: f -> f; functions are inlined, so recursion is not allowed "
     "(use a bounded 'for' loop)",
     '           ^~~~~~~~'),
    ('return_outside',
     'on packet {\n    return;\n}\n',
     "x.nf:2:5: error: 'return' outside a function; to end processing in 'on packet' use a verdict "
     "(pass; drop; tx; redirect(port);)",
     '    ^~~~~~~'),
    ('wrong_arg_count',
     'fn f(a: u32, b: u32) -> u32 { return a + b; }\non packet {\n    let y = f(1);\n}\n',
     "x.nf:3:13: error: function 'f' takes 2 arguments, got 1",
     '            ^~~~'),
    ('no_on_packet',
     'const X: u32 = 1;\n',
     "x.nf:1:1: error: the program has no 'on packet { ... }' block; add one (it is the entry "
     "point)",
     '^'),
    ('two_on_packet',
     'on packet { pass; }\non packet { drop; }\n',
     "x.nf:2:1: error: more than one 'on packet' block (the first is at line 1); merge them",
     '^~~~~~~~~~~~~~~~~~~'),
    ('duplicate_decl',
     'const X: u32 = 1;\nconst X: u32 = 2;\non packet { pass; }\n',
     "x.nf:2:7: error: 'X' is already declared at line 1",
     '      ^'),
    ('prefix_as_value',
     'on packet {\n    let p = 10.0.0.0/8;\n}\n',
     "x.nf:2:13: error: a prefix is not a value here; use it in 'x in PREFIX', a match pattern, an "
     "lpm key or a 'const'",
     '            ^~~~~~~~~~'),
    ('bool_condition',
     'on packet {\n    if (ipv4.ttl) { drop; }\n}\n',
     "x.nf:2:9: error: a condition must be bool, found u8 (compare it, e.g. 'x != 0')",
     '        ^~~~~~~~'),
    ('unknown_type',
     'struct S { a: u128 }\non packet { pass; }\n',
     "x.nf:1:15: error: unknown type 'u128' (integer types are u8, u16, u32, u64 and i8, i16, "
     "i32, i64)",
     '              ^~~~'),
    ('unknown_state_kind',
     'state s: hashmap<u32, u32>[10] on_full skip;\non packet { pass; }\n',
     "x.nf:1:10: error: unknown state kind 'hashmap' (did you mean 'map'?); the kinds are map, "
     "lru_map, lpm, array, percpu_array, countmin, group",
     '         ^~~~~~~'),
    ('struct_missing_field',
     'struct C { a: u32, b: u32 }\non packet {\n    let c = C { a: 1 };\n}\n',
     "x.nf:3:13: error: C literal lacks the field 'b'",
     '            ^~~~~~~~~~'),
    ('fn_no_return',
     'fn f(x: u32) -> u32 {\n    if (x > 1) { return 1; }\n}\non packet { pass; }\n',
     "x.nf:1:4: error: function 'f' can reach its end without returning a u32; add a 'return'",
     '   ^'),
    ('index_non_state',
     'on packet {\n    let x = 1;\n    let y = x[0];\n}\n',
     'x.nf:3:13: error: only state objects and arrays can be indexed (s[key], a[i]); this '
     'is a u32',
     '            ^~~~'),
    ('countmin_index',
     'state s: countmin<4, 1024>;\non packet {\n    let y = s[ipv4.saddr];\n}\n',
     "x.nf:3:13: error: 's' is a countmin sketch: read it with s.estimate(key)",
     '            ^~~~~~~~~~~~~'),
    ('did_you_mean_state',
     'state flows: map<Flow, u64>[16] on_full skip;\non packet {\n    flws[flow] += 1;\n}\n',
     "x.nf:3:5: error: undefined name 'flws' (did you mean 'flows'?)",
     '    ^~~~'),
    ('mac_arith',
     'on packet {\n    let m = ethernet.dst + 1;\n}\n',
     "x.nf:2:26: error: '+' needs integers, found mac and u32",
     '                         ^'),
]


@pytest.mark.parametrize("name,src,head,caret", CASES, ids=[c[0] for c in CASES])
def test_one_mistake_one_exact_diagnostic(name, src, head, caret):
    assert_one_diagnostic(src, head, caret)


def test_all_errors_of_a_file_in_one_run_sorted():
    src = ("state flows: map<Flow, u64>[0] on_full skip;\n"
           "on packet {\n"
           "    ipv4.csum = 1;\n"
           "    let x: u8 = 256;\n"
           "    if (ipv4.sadr == 1) { drop; }\n"
           "    return;\n"
           "}\n")
    diags = check_source(src, "f.nf")
    assert [(d.line, d.col) for d in diags] == [(1, 29), (3, 5), (4, 17), (5, 14), (6, 5)]
    text = format_diagnostics(list(reversed(diags)), src)
    heads = [ln for ln in text.split("\n") if ln.startswith("f.nf:")]
    assert heads == [f"f.nf:{d.line}:{d.col}: error: {d.message}" for d in diags]
    with pytest.raises(CompileError) as info:
        compile_source(src, "f.nf")
    assert len(info.value.diagnostics) == 5
    assert "and 4 more errors" in info.value.message


def test_several_syntax_errors_reported():
    src = "on packet {\n    let x = ;\n    let y = 1 2;\n    pass;\n}\n"
    diags = check_source(src, "s.nf")
    assert [(d.line, d.col) for d in diags] == [(2, 13), (3, 15)]
    assert diags[0].message == "unexpected ';', expected an expression"
    assert diags[1].message == "unexpected '2', expected ';'"


def test_assignment_in_a_condition_suggests_equality():
    src = "on packet {\n    if (ipv4.ttl = 1) { drop; }\n}\n"
    diags = check_source(src, "e.nf")
    assert [(d.line, d.col, d.message) for d in diags] == [
        (2, 18, "unexpected '=', expected ')' (did you mean '=='?)")]


def test_caret_keeps_tabs_and_length():
    src = "on packet {\n\tif (ipv4.sadr == 1) { drop; }\n}\n"
    d = check_source(src, "t.nf")[0]
    lines = format_diagnostic(d, src).split("\n")
    assert lines[2] == "\t" + " " * 9 + "^~~~"


def test_format_without_source_line():
    d = Diagnostic("a.nf", 9, 1, "boom")
    assert format_diagnostic(d, "one line\n") == "a.nf:9:1: error: boom"


@pytest.mark.parametrize("src", ["", "   \n\n", "\x00\x01\x02\xff", "on", "}", "on packet",
                                 "state", "\ufeffon packet { pass; }", "on packet { pass; }}"])
def test_weird_input_gives_diagnostics_not_tracebacks(src):
    diags = check_source(src, "w.nf")
    assert diags and all(isinstance(d, Diagnostic) for d in diags)
    assert all(d.line >= 1 and d.col >= 1 for d in diags)


def test_deep_nesting_is_an_error_not_a_recursion_error():
    src = "on packet {\n    let x = " + "-" * 5000 + "1;\n}\n"
    diags = check_source(src, "d.nf")
    assert len(diags) == 1 and "nesting too deep" in diags[0].message
    src = "on packet {\n" + "if (true) {\n" * 400 + "}\n" * 400 + "}\n"
    diags = check_source(src, "d.nf")
    assert len(diags) == 1 and "nesting too deep" in diags[0].message
    # many parentheses add no depth
    src = "on packet {\n    let x = " + "(" * 500 + "1" + ")" * 500 + ";\n}\n"
    assert check_source(src, "d.nf") == []


def test_compile_file_unreadable(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        compile_file(tmp_path / "missing.nf")
    with pytest.raises(InputError, match="is a directory"):
        compile_file(tmp_path)
    bad = tmp_path / "bad.nf"
    bad.write_bytes(b"\xff\xfe on packet { pass; }")
    with pytest.raises(CompileError):
        compile_file(bad)


def test_compile_file_names_program_after_stem(tmp_path):
    f = tmp_path / "my_nf.nf"
    f.write_text("on packet { drop; }\n")
    p = compile_file(f)
    assert p.name == "my_nf" and p.source == str(f)


def test_total_state_over_one_gib():
    src = ("state a: map<Flow, (u64, u64, u64, u64)>[16000000] on_full skip;\n"
           "state b: map<Flow, (u64, u64, u64, u64)>[16000000] on_full skip;\n"
           "on packet { pass; }\n")
    diags = check_source(src, "x.nf")
    assert len(diags) == 1
    d = diags[0]
    # bytes per entry as the IR lays them out (the contract shared with the backends)
    from cora.compiler.ir import StateDecl, StateField
    decl = StateDecl("a", "hash", tuple(StateField(n, w) for n, w in (
        ("saddr", 32), ("daddr", 32), ("sport", 16), ("dport", 16), ("proto", 8))),
        tuple(StateField(f"f{i}", 64) for i in range(4)), 16000000, "skip")
    total = 2 * 16000000 * (decl.key_bytes + decl.value_bytes)
    assert (d.line, d.col) == (2, 7)
    assert d.message == (f"state totals {total:,} bytes with 'b', over the limit of 1 GiB "
                         f"(1,073,741,824 bytes); lower some capacities")


def test_syntax_recovery_keeps_blocks_balanced():
    src = ("on packet {\n"
           "    if ipv4.ttl > 1 { drop; }\n"
           "    for i in 0..4 { pass; }\n"
           "    let y = ;\n"
           "}\n")
    diags = check_source(src, "r.nf")
    assert [(d.line, d.col, d.message) for d in diags] == [
        (2, 8, "unexpected 'ipv4', expected '('"),
        (3, 9, "unexpected 'i', expected '('"),
        (4, 13, "unexpected ';', expected an expression")]


@pytest.mark.slow
def test_driver_module_prints_ir_or_diagnostics(tmp_path):
    import subprocess
    import sys
    good = tmp_path / "good.nf"
    good.write_text("on packet { if (ipv4.ttl == 0) { drop; } pass; }\n")
    bad = tmp_path / "bad.nf"
    bad.write_text("on packet {\n    ipv4.csum = 0;\n}\n")
    run = [sys.executable, "-m", "cora.compiler.driver"]
    r = subprocess.run(run + [str(good)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("nf good\n") and "ret drop" in r.stdout
    r = subprocess.run(run + [str(bad)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.splitlines()[0] == (f"{bad}:2:5: error: ipv4.csum is read-only "
                                        f"(the compiler fixes checksums)")
    r = subprocess.run(run + [str(tmp_path / "nope.nf")], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1 and "no such file" in r.stderr and "Traceback" not in r.stderr


def test_for_range_below_its_start_is_an_error():
    from cora.compiler.driver import check_source

    diags = check_source("on packet {\n    for (i in 10..2) { drop; }\n    pass;\n}\n", "f.nf")
    assert [(d.line, "empty range 10..2" in d.message) for d in diags] == [(2, True)]
