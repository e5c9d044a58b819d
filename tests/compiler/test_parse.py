"""Parser: AST shapes, precedence (docs/language.md, "Expressions"), literals and spans."""

import pytest

from cora.compiler.frontend import ast as A
from cora.compiler.frontend.parse import MAX_NESTING, parse_int, parse_source


def parse_expr(text: str) -> A.Node:
    module, diags = parse_source(f"on packet {{ let x = {text}; }}", "p.nf")
    assert diags == [], diags
    return module.items[0].body.stmts[0].value


def shape(e):
    """A compact string of an expression tree."""
    if isinstance(e, A.Binary):
        return f"({shape(e.left)} {e.op} {shape(e.right)})"
    if isinstance(e, A.Unary):
        return f"({e.op}{shape(e.operand)})"
    if isinstance(e, A.Cast):
        return f"({shape(e.expr)} as {e.type.name})"
    if isinstance(e, A.Name):
        return e.id
    if isinstance(e, A.IntLit):
        return str(e.value)
    if isinstance(e, A.Field):
        return f"{shape(e.obj)}.{e.name}"
    if isinstance(e, A.Index):
        return f"{shape(e.obj)}[{shape(e.index)}]"
    if isinstance(e, A.Call):
        return f"{shape(e.func)}({', '.join(shape(a) for a in e.args)})"
    if isinstance(e, A.PrefixLit):
        return e.text
    return type(e).__name__


@pytest.mark.parametrize("text,expected", [
    ("a || b && c", "(a || (b && c))"),
    ("a && b == c", "(a && (b == c))"),
    ("a == b in s", "(a == (b in s))"),
    ("a in s | b", "(a in (s | b))"),
    ("a | b ^ c & d", "(a | (b ^ (c & d)))"),
    ("a & b << c", "(a & (b << c))"),
    ("a << b + c", "(a << (b + c))"),
    ("a + b * c - d", "((a + (b * c)) - d)"),
    ("-a * b", "((-a) * b)"),
    ("!a.valid", "(!a.valid)"),
    ("-x as u16", "(-(x as u16))"),
    ("x as u8 as u32", "((x as u8) as u32)"),
    ("s[k].f", "s[k].f"),
    ("f(a, b)(c)", "f(a, b)(c)"),
    ("cm.estimate(flow)", "cm.estimate(flow)"),
    ("a < b == c >= d", "(((a < b) == c) >= d)"),
    ("a >> 2 >> 1", "((a >> 2) >> 1)"),
    ("ip in 10.0.0.0/8", "(ip in 10.0.0.0/8)"),
    ("(a + b) * c", "((a + b) * c)"),
    ("~~a", "(~(~a))"),
])
def test_precedence(text, expected):
    assert shape(parse_expr(text)) == expected


@pytest.mark.parametrize("text,value", [("42", 42), ("0x2a", 42), ("0b101010", 42),
                                        ("1_000", 1000), ("0xFF_FF", 65535)])
def test_integer_literals(text, value):
    assert parse_int(text) == value
    assert parse_expr(text) == A.IntLit(value, None)


def test_address_literals():
    assert parse_expr("10.0.0.1").value == 167772161
    p = parse_expr("192.168.0.0/16")
    assert (p.addr, p.plen) == (0xC0A80000, 16)
    assert parse_expr("02:00:00:00:00:01").value == 0x020000000001
    assert parse_expr("aa:bb:cc:dd:ee:ff").value == 0xAABBCCDDEEFF


def test_spans_point_at_source():
    src = "on packet {\n    if (ipv4.ttl == 1) { drop; }\n}\n"
    module, _ = parse_source(src, "p.nf")
    stmt = module.items[0].body.stmts[0]
    assert isinstance(stmt, A.If)
    cond = stmt.cond
    assert (cond.span.line, cond.span.col, cond.span.end_col) == (2, 9, 22)
    assert (cond.op_span.line, cond.op_span.col) == (2, 18)
    assert (cond.left.name_span.col, cond.left.name_span.length) == (14, 3)
    verdict = stmt.then.stmts[0]
    assert isinstance(verdict, A.Verdict) and verdict.kind == "drop"
    assert (verdict.span.line, verdict.span.col) == (2, 26)


def test_declarations_parse_to_nodes():
    src = """
struct S { a: u8, b: (u16, ip4), }
const C: u32 = 3;
const P = 10.0.0.0/8;
state m: map<S, u64>[C * 2] on_full skip = { S { a: 1, b: (2, 1.1.1.1) }: 5 };
state cm: countmin<4, 64>;
fn f(x: u32, y: S) -> bool { return x == 1; }
on packet {
    match (ipv4.ttl) { 1 | 2 => { drop; } 3..9 => {} _ => { tx; } }
    for (i in 0..4) { m[S { a: i as u8, b: (1, 2.2.2.2) }] += 1; }
    delete m[S { a: 1, b: (2, 1.1.1.1) }];
    redirect(3);
}
"""
    module, diags = parse_source(src, "p.nf")
    assert diags == []
    kinds = [type(i).__name__ for i in module.items]
    assert kinds == ["StructDecl", "ConstDecl", "ConstDecl", "StateDecl", "StateDecl", "FnDecl",
                     "OnDecl"]
    st = module.items[3]
    assert (st.name, st.kind, st.policy) == ("m", "map", "skip")
    assert isinstance(st.capacity, A.Binary) and len(st.init) == 1
    cm = module.items[4]
    assert cm.args == (A.IntArg(4, None), A.IntArg(64, None)) and cm.capacity is None
    body = module.items[6].body.stmts
    arms = body[0].arms
    assert [type(p).__name__ for a in arms for p in a.patterns] == [
        "PatValue", "PatValue", "PatRange", "PatWild"]
    assert isinstance(body[1], A.For) and body[1].var == "i"
    assert isinstance(body[2], A.Delete)
    assert isinstance(body[3], A.Verdict) and body[3].kind == "redirect"


def test_equality_ignores_spans():
    a = parse_expr("flows[flow].packets")
    b = parse_source("on packet {\n\n   let y =   flows[flow].packets ; }", "q.nf")[0] \
        .items[0].body.stmts[0].value
    assert a == b and a.span != b.span


def test_nesting_limit_reported_once():
    src = "on packet { let x = " + "!" * (MAX_NESTING + 10) + "true; }"
    module, diags = parse_source(src, "p.nf")
    assert module is None and len(diags) == 1
    assert diags[0].message.startswith("nesting too deep")


@pytest.mark.parametrize("src,message", [
    ("on packet { x = 300.1.1.1; }", "malformed IPv4 address '300.1.1.1': each part must be "
                                     "0..255"),
    ("on packet { x = 1.2.3.4/33; }", "malformed IPv4 prefix '1.2.3.4/33': the length must be "
                                      "0..32"),
    ("on packet { x = 0x_; }", "malformed integer literal '0x_'"),
])
def test_malformed_literals(src, message):
    module, diags = parse_source(src, "p.nf")
    assert module is None and [d.message for d in diags] == [message]
