"""Regression tests for checker bugs fixed in issue 7: each program gets exactly the one
diagnostic written here (text and caret), where it used to get a wrong, extra or no error."""

import pytest

from cora.compiler.driver import check_source, compile_source

from .diagnostic_helpers import assert_one_diagnostic

LPM = "state routes: lpm<ip4, u32>[16] on_full skip;\n"

# (name, source, the one diagnostic's header line, its caret line)
CASES = [
    # names of headers and built-ins may not be reused by locals, parameters or loop variables
    ("let shadows a built-in function",
     "on packet {\n    let now = 1;\n}\n",
     "x.nf:2:5: error: 'now' is a built-in name; choose another name",
     "    ^~~~~~~~~~~~"),
    ("let shadows a built-in constant",
     "on packet {\n    let PROTO_TCP = 1;\n}\n",
     "x.nf:2:5: error: 'PROTO_TCP' is a built-in name; choose another name",
     "    ^~~~~~~~~~~~~~~~~~"),
    ("parameter shadows a header",
     "fn f(ipv4: u32) -> u32 { return ipv4; }\non packet {\n    let x = f(1);\n}\n",
     "x.nf:1:6: error: parameter 'ipv4' is a built-in name; choose another name",
     "     ^~~~~~~~~"),
    ("loop variable shadows pkt",
     "on packet {\n    for (pkt in 0..4) { }\n}\n",
     "x.nf:2:10: error: loop variable 'pkt' is a built-in name; choose another name",
     "         ^~~"),
    # a duplicate parameter is one error, not also a false arity error at each call
    ("duplicate parameter",
     "fn f(a: u32, a: u32) -> u32 { return a; }\non packet {\n    let x = f(1, 2);\n}\n",
     "x.nf:1:14: error: parameter 'a' appears twice",
     "             ^~~~~~"),
    # docs/language.md: a mac takes only == and !=
    ("match on a mac",
     "on packet {\n    match (ethernet.dst) { 02:00:00:00:00:01 => { tx; } }\n}\n",
     "x.nf:2:12: error: match does not apply to a mac (a mac takes only '==' and '!='); "
     "compare it with 'if (m == ...)'",
     "           ^~~~~~~~~~~~"),
    # delete on an lpm with a prefix says so (it used to say a prefix is not a value here)
    ("delete an lpm prefix literal",
     LPM + "on packet {\n    delete routes[10.0.0.0/8];\n}\n",
     "x.nf:3:19: error: delete on the lpm 'routes' takes an address and removes the entry "
     "of exactly that address (full length); a prefix entry (addr/len) cannot be deleted",
     "                  ^~~~~~~~~~"),
    ("delete an lpm addr/len",
     LPM + "on packet {\n    delete routes[ipv4.saddr/24];\n}\n",
     "x.nf:3:19: error: delete on the lpm 'routes' takes an address and removes the entry "
     "of exactly that address (full length); a prefix entry (addr/len) cannot be deleted",
     "                  ^~~~~~~~~~~~~"),
    # a local that shadows a state is not that state, for delete as for indexing
    ("delete through a local shadowing a state",
     "state seen: map<u32, u32>[16] on_full skip;\n"
     "on packet {\n    let seen = 1;\n    delete seen[2];\n}\n",
     "x.nf:4:12: error: delete takes a state entry: 'delete s[key];'",
     "           ^~~~~~~"),
    # an unterminated block comment is named as such, not as an unexpected '/'
    ("unterminated block comment",
     "on packet {\n    pass; /* not closed\n}\n",
     "x.nf:2:11: error: unterminated comment: this '/*' has no closing '*/'",
     "          ^~"),
]


@pytest.mark.parametrize("name,src,head,caret", CASES, ids=[c[0] for c in CASES])
def test_one_exact_diagnostic(name, src, head, caret):
    assert_one_diagnostic(src, head, caret)


def test_lpm_delete_by_address_still_compiles():
    program = compile_source(LPM + "on packet {\n    delete routes[ipv4.saddr];\n}\n", "x.nf")
    assert any(op.opcode == "map.delete" for b in program.blocks for op in b.ops)


def test_comment_markers_inside_line_comments_are_ignored():
    src = "// a /* in a line comment\non packet {\n    pass; /* closed */\n}\n"
    assert check_source(src, "x.nf") == []


def test_error_before_an_unterminated_comment_is_reported_first():
    src = "on packet {\n    let = 1;\n    /* open\n}\n"
    diags = check_source(src, "x.nf")
    assert diags and diags[0].line == 2 and "comment" not in diags[0].message


def _nodes(node, out):
    from cora.compiler.frontend import ast as A
    if isinstance(node, A.Node):
        out.append(node)
        for v in vars(node).values():
            _nodes(v, out)
    elif isinstance(node, tuple):
        for x in node:
            _nodes(x, out)
    return out


def test_node_keys_are_unique_in_every_nf():
    """The checker's output is keyed by node_key: no two AST nodes of a parse may share one."""
    from collections import Counter
    from pathlib import Path

    from cora.compiler.frontend.check import node_key
    from cora.compiler.frontend.parse import parse_source

    root = Path(__file__).resolve().parents[2]
    files = sorted((root / "netfuncs").glob("*.nf")) + \
        sorted((root / "tests/compiler/nf").glob("*.nf"))
    assert files
    for f in files:
        module, diags = parse_source(f.read_text(), str(f))
        if module is None:
            continue
        nodes = {id(n): n for n in _nodes(module, [])}.values()
        counts = Counter(node_key(n) for n in nodes)
        assert len(nodes) > 20
        dupes = {k for k, n in counts.items() if n > 1}
        assert not dupes, (f.name, sorted(dupes)[:5])
