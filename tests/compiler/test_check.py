"""Checker: one snippet per construct of docs/language.md compiles to verified IR, and the
typing rules (literal types, widening, narrowing, tuple/struct conversion) hold."""

from pathlib import Path

import pytest

from cora.compiler.driver import check_source, compile_source
from cora.compiler.frontend import types as T
from cora.compiler.frontend.check import check_module
from cora.compiler.frontend.parse import parse_source
from cora.compiler.ir.verify import verify

NF_DIR = Path(__file__).with_name("nf")


def body(stmts: str, decls: str = "") -> str:
    return f"{decls}\non packet {{\n{stmts}\n}}\n"


# (construct, program) — every one must compile and verify
CONSTRUCTS = [
    ("line and block comments", body("// c\n /* b\n c */ pass;")),
    ("integer literals", body("let a: u32 = 42; let b: u32 = 0x2a; let c: u32 = 0b101010;"
                              " let d: u64 = 1_000_000;")),
    ("ipv4 literal", body("if (ipv4.saddr == 10.0.0.1) { drop; }")),
    ("mac literal", body("if (ethernet.dst == 02:00:00:00:00:01) { drop; }")),
    ("booleans", body("let t = true; let f = false; if (t && !f) { pass; }")),
    ("all integer types", body("let a: u8 = 1; let b: u16 = 2; let c: u32 = 3; let d: u64 = 4;"
                               " let e: bool = a < b as u8;")),
    ("ip4 mixes with u32", body("let a: u32 = ipv4.saddr; let b: ip4 = a + 1;")),
    ("mac and ip6 equality and assignment",
     body("let m = ethernet.src; ethernet.dst = m; if (ipv6.saddr != ipv6.daddr) { drop; }")),
    ("tuples", body("let t = (ipv4.ttl, ipv4.id, true); let x = t.1 + t.0; if (t.2) { pass; }")),
    ("structs", body("let s = S { a: 1, b: ipv4.id }; s.a = s.b as u8;",
                     "struct S { a: u8, b: u16 }")),
    ("Flow built-in struct", body("let f = flow; if (f.proto == PROTO_TCP && f.dport == 80)"
                                  " { drop; }")),
    ("tuple converts to struct", body("let s: S = (1, 2);", "struct S { a: u8, b: u16 }")),
    ("const with type and untyped", body("let x: u8 = A + B;",
                                         "const A: u8 = 3;\nconst B = A + 1;")),
    ("prefix const", body("if (ipv4.saddr in NET) { drop; }", "const NET = 10.0.0.0/8;")),
    ("map state", body("m[ipv4.saddr] = 1;", "state m: map<ip4, u32>[16] on_full skip;")),
    ("map on_full drop/pass", body("a[1] = 1; b[2] = 2;",
                                   "state a: map<u32, u32>[4] on_full drop;\n"
                                   "state b: map<u32, u32>[4] on_full pass;")),
    ("lru_map state", body("l[flow] += 1;", "state l: lru_map<Flow, u64>[16] on_full evict;")),
    ("lpm state with prefix entries",
     body("redirect(r[ipv4.daddr]);",
          "state r: lpm<ip4, u32>[8] on_full skip = { 10.0.0.0/8: 1, 0.0.0.0/0: 2 };")),
    ("array state", body("a[3] = a[2] + 1;", "state a: array<u64>[4] = { 0: 7 };")),
    ("percpu_array state", body("p[0] += 1;", "state p: percpu_array<u64>[1];")),
    ("countmin state", body("s.add(flow, 1); if (s.estimate(flow) > 100) { drop; }",
                            "state s: countmin<4, 2048>;")),
    ("struct and tuple keys and values",
     body("t[(ipv4.saddr, 1)] = K { a: 1, b: true }; let v = t[(ipv4.saddr, 1)].b;",
          "struct K { a: u32, b: bool }\nstate t: map<(ip4, u16), K>[8] on_full skip;")),
    ("state initial entries", body("pass;", "state m: map<u32, (u8, u8)>[4] on_full skip = "
                                            "{ 1: (2, 3), 4: (5, 6) };")),
    ("capacity from a constant", body("pass;", "const N = 1 << 10;\n"
                                               "state m: map<u32, u32>[N * 2] on_full skip;")),
    ("header validity", body("if (ethernet.valid && vlan.valid && ipv4.valid && ipv6.valid"
                             " && tcp.valid && udp.valid && icmp.valid) { drop; }")),
    ("all readable header fields",
     body("let a = ethernet.type + vlan.pcp + vlan.dei + vlan.vid + vlan.type;"
          " let b = ipv4.version + ipv4.ihl + ipv4.dscp + ipv4.ecn + ipv4.len + ipv4.id"
          " + ipv4.flags + ipv4.frag_offset + ipv4.ttl + ipv4.proto + ipv4.csum;"
          " let c = ipv6.version + ipv6.tclass + ipv6.flow_label + ipv6.len + ipv6.nexthdr"
          " + ipv6.hop_limit;"
          " let d = tcp.sport + tcp.dport + tcp.seq + tcp.ack + tcp.doff + tcp.flags"
          " + tcp.window + tcp.csum + tcp.urg;"
          " let e = udp.sport + udp.dport + udp.len + udp.csum + icmp.type + icmp.code"
          " + icmp.csum + icmp.id + icmp.seq;")),
    ("writable header fields",
     body("ethernet.dst = ethernet.src; vlan.pcp = 1; vlan.dei = 0; vlan.vid = 3;"
          " ipv4.dscp = 1; ipv4.ecn = 0; ipv4.id = 7; ipv4.flags = 2; ipv4.frag_offset = 0;"
          " ipv4.ttl = 9; ipv4.saddr = 1.2.3.4; ipv4.daddr = ipv4.saddr;"
          " ipv6.tclass = 0; ipv6.flow_label = 5; ipv6.hop_limit = 3; ipv6.saddr = ipv6.daddr;"
          " tcp.sport = 1; tcp.dport = 2; tcp.seq = 3; tcp.ack = 4; tcp.flags = TCP_SYN;"
          " tcp.window = 5; tcp.urg = 0; udp.sport = 1; udp.dport = 2; icmp.type = 0;"
          " icmp.code = 0; icmp.id = 1; icmp.seq = 2;")),
    ("pkt.len", body("if (pkt.len > 1500) { drop; }")),
    ("now rand hash", body("let t = now(); let r = rand(); let h = hash(flow, t, r, true);")),
    ("built-in constants", body("let a = TCP_FIN | TCP_SYN | TCP_RST | TCP_PSH | TCP_ACK"
                                " | TCP_URG | TCP_ECE | TCP_CWR; let b = PROTO_ICMP + PROTO_TCP"
                                " + PROTO_UDP; let c = ETH_P_IPV4 + ETH_P_IPV6 + ETH_P_ARP;")),
    ("arithmetic and bitwise", body("let x: u32 = ipv4.saddr; let y = (x + 1 - 2) * 3 / 4 % 5;"
                                    " let z = (y & 1) | (y ^ 2) | (y << 3) | (y >> 1) | ~y;"
                                    " let w = -z;")),
    ("comparisons", body("let x = ipv4.ttl; if (x == 1 || x != 2 && x < 3 || x <= 4 ||"
                         " x > 5 || x >= 6) { drop; }")),
    ("as casts", body("let a = ipv4.saddr as u16; let b = (ipv4.ttl > 3) as u8;"
                      " let c = ipv4.ttl as u64; let d = 5 as ip4;")),
    ("let with and without type; mutable locals",
     body("let a = 1; let b: u64 = 2; a = 3; b += a;")),
    ("every compound assignment", body("let x: u32 = 100; x += 1; x -= 1; x *= 2; x /= 3;"
                                       " x %= 7; x &= 0xff; x |= 1; x ^= 2; x <<= 1; x >>= 2;")),
    ("state field updates", body("m[1].a = 2; m[1].b += 3; m[2].a -= 1; delete m[3];",
                                 "struct V { a: u32, b: u64 }\n"
                                 "state m: map<u32, V>[8] on_full skip;")),
    ("if / else if / else", body("if (ipv4.ttl == 1) { drop; } else if (ipv4.ttl == 2)"
                                 " { tx; } else { pass; }")),
    ("match with alternatives, ranges, prefixes, wildcard",
     body("match (ipv4.saddr) { 10.0.0.0/8 | 172.16.0.0/12 => { drop; } 1.1.1.1 => { tx; }"
          " _ => {} } match (tcp.dport) { 22 | 23 => { drop; } 1000..2000 => { pass; } }")),
    # a mac takes only == and != (docs/language.md), so it is compared, not matched
    ("match on bool, mac compared",
     body("match (tcp.valid) { true => { pass; } false => { drop; } }"
          " if (ethernet.dst == 02:00:00:00:00:01) { tx; }")),
    ("bounded for", body("for (i in 0..256) { a[i] = i; }", "state a: array<u32>[256];")),
    ("for with const bounds", body("for (i in LO..HI) { if (i == 3) { drop; } }",
                                   "const LO = 1;\nconst HI: u32 = 4;")),
    ("verdicts", body("if (ipv4.ttl == 0) { pass; } if (ipv4.ttl == 1) { drop; }"
                      " if (ipv4.ttl == 2) { tx; } redirect(ipv4.ttl);")),
    ("functions with return values, void functions, verdicts inside",
     body("let y = f(1, 2); g(); if (y > 2) { drop; }",
          "fn f(a: u32, b: u16) -> u32 { return a + b; }\n"
          "fn g() { if (ipv4.ttl == 0) { drop; } return; }")),
    ("functions calling functions", body("redirect(h(1));",
                                         "fn f(x: u32) -> u32 { return x + 1; }\n"
                                         "fn h(x: u32) -> u32 { return f(f(x)); }")),
    ("k in s", body("if (ipv4.saddr in m) { drop; }", "state m: map<ip4, u8>[4] on_full skip;")),
    ("struct literal of Flow", body("let f = Flow { saddr: 1.1.1.1, daddr: 2.2.2.2, sport: 1,"
                                    " dport: 2, proto: 6 }; m[f] = 1;",
                                    "state m: map<Flow, u8>[4] on_full skip;")),
    ("nested blocks and shadowing", body("let x = 1; { let x = 2; x += 1; } x += 1;")),
    ("code after a verdict is dropped", body("drop; pass;")),
    ("empty program body", body("")),
]


@pytest.mark.parametrize("name,src", CONSTRUCTS, ids=[c[0] for c in CONSTRUCTS])
def test_construct_compiles_and_verifies(name, src):
    assert check_source(src, "c.nf") == []
    program = compile_source(src, "c.nf", passes=False)
    verify(program)
    lines = src.count("\n") + 1
    assert all(op.span is not None and 1 <= op.span.line <= lines for _b, op in program.ops())
    program = compile_source(src, "c.nf", passes=True)
    verify(program)


def test_test_nf_snippets_compile():
    files = sorted(NF_DIR.glob("*.nf"))
    assert files
    for f in files:
        assert check_source(f.read_text(), str(f)) == [], f


def checked(src):
    module, diags = parse_source(src, "c.nf")
    assert not diags
    return check_module(module, "c.nf")


def test_literal_takes_context_type_and_defaults_to_u32():
    c = checked(body("let a = 1; let b = 5000000000; let d: u8 = 7; let e = ipv4.ttl + 1;"))
    assert c.ok
    lets = c.entry.body.stmts
    assert [c.sym_of(s).ty for s in lets] == [T.U32, T.U64, T.U8, T.U8]


def test_binary_widens_to_the_wider_operand():
    c = checked(body("let a = ipv4.ttl + ipv4.id; let b = ipv4.id * pkt.len;"
                     " let s = ipv4.saddr + ipv4.daddr; let h = ipv4.ttl << 9;"))
    assert [c.sym_of(s).ty for s in c.entry.body.stmts] == [T.U16, T.U32, T.IP4, T.U8]


@pytest.mark.parametrize("stmt,message", [
    ("let a: u8 = ipv4.id;", "expected u8, found u16 (narrowing needs 'as u8', which truncates)"),
    ("let a: u32 = tcp.valid;", "expected u32, found bool (write 'as u32' to get 0 or 1)"),
    ("let a: bool = 1;", "expected bool, found u32 (compare it, e.g. 'x != 0')"),
    ("let a: u8 = 256;", "the literal 256 does not fit in u8 (at most 255)"),
    ("let m = ethernet.dst < ethernet.src;", "'<' needs integers, found mac and mac"),
    ("let m = ethernet.dst == 1;", "cannot compare mac with u32"),
    ("let x = flow.sport + ipv6.saddr;", "'+' needs integers, found u16 and ip6"),
    ("let x = !ipv4.ttl;", "'!' needs a bool, found u8 (use '~' for a bitwise complement)"),
    ("let x = ipv4.ttl && true;", "'&&' needs bool operands, found u8 (use '&' for bitwise)"),
    ("let x: (u8, u8) = (1, 2, 3);", "expected (u8, u8), found (u32, u32, u32)"),
    ("ipv4.valid = true;", "'ipv4.valid' is read-only: it says whether the parser found the "
                           "header"),
    ("flow.sport = 1;", "'flow.sport' is read-only; write ipv4.saddr and the other header "
                        "fields instead"),
    ("pkt.len = 1;", "'pkt.len' is read-only; write header fields instead"),
    ("ipv4 = 1;", "cannot assign to the header 'ipv4'; assign its fields, e.g. ipv4.version"),
    ("tcp.doff = 5;", "tcp.doff is read-only (it steers the packet parser or is computed by "
                      "the compiler)"),
    ("let h = hash();", "hash(...) needs at least one argument"),
    ("let t = now(1);", "now() takes no arguments, got 1"),
    ("let x = ipv4;", "'ipv4' is a header, not a value; use a field such as ipv4.daddr or "
                      "ipv4.valid"),
    ("let x = pkt.size;", "pkt has only the field 'len', not 'size'"),
    ("1 + 2;", "this expression does nothing; only calls can stand alone as statements (did "
               "you mean an assignment '='?)"),
    ("let x = rand;", "'rand' is a function; call it: rand(...)"),
    ("for (i in 0..4) { i = 2; }", "cannot assign to the loop variable 'i'"),
    ("match (ipv4.ttl) { 5..2 => {} }", "empty range 5..2: the low end must not be above the "
                                        "high end"),
    ("match (ipv4.ttl) { 10.0.0.0/8 => {} }", "a prefix pattern needs an ip4 subject, not u8"),
    ("let y = 3; match (ipv4.ttl) { y => {} }", "patterns must be constants; 'y' is a variable "
                                                "(compare with 'if (y == ...)' instead)"),
    ("if (ipv4.ttl in 10.0.0.0/8) {}", "a prefix test needs an ip4 on the left, found u8"),
    ("if (ipv4.saddr in 5) {}", "the right side of 'in' must be a state object or an IPv4 "
                                "prefix, found u32"),
    ("let x = foo(1);", "undefined function 'foo'"),
    ("let x = S { a: 1 };", "unknown struct 'S'"),
    ("let t = (1, 2); let x = t.5;", "(u32, u32) has no field '5' (tuple fields are .0 to .1)"),
    ("redirect(ethernet.dst);", "expected u32, found mac"),
    ("let v = r[ipv4.daddr / 8];", "'r[addr/len]' only inserts a prefix (with '='); a lookup "
                                   "takes an address: r[addr]"),
])
def test_type_errors(stmt, message):
    diags = check_source(body(stmt, "state r: lpm<ip4, u32>[4] on_full skip;"), "c.nf")
    assert [d.message for d in diags] == [message]


@pytest.mark.parametrize("decls,message", [
    ("state m: map<u32>[4] on_full skip;", "map takes 2 parameters (map<K, V>[N]), got 1"),
    ("state m: countmin<4, 8>[16];", "countmin<D, W> has no capacity: its size is D*W "
                                     "counters; remove '[...]'"),
    ("state m: countmin<0, 8>;", "countmin depth D must be at least 1"),
    ("state m: countmin<64, 8>;", "countmin depth 64 is over the limit of 16 rows"),
    ("state m: lpm<u16, u8>[4] on_full skip;", "the key of an lpm must be ip4 (or ip6), not u16"),
    ("state m: map<u32, u32>[4] on_full evict;", "unknown full policy 'evict' for map: write "
                                                 "'skip', 'drop' or 'pass' (only lru_map "
                                                 "evicts)"),
    ("state m: lru_map<u32, u32>[4];", "lru_map 'm' evicts the least recently used entry when "
                                       "full: write 'on_full evict' before the ';'"),
    ("state m: map<u32, u32>[2] on_full skip = { 1: 1, 2: 2, 3: 3 };",
     "3 initial entries do not fit the capacity 2"),
    ("state m: array<u32>[2] = { 5: 1 };", "index 5 is out of range for 'm' (2 slots)"),
    ("const X: u32 = ipv4.ttl;", "a constant's value must be computable at compile time "
                                 "(literals and earlier constants only)"),
    ("const ipv4 = 3;", "'ipv4' is a built-in name; choose another name"),
    ("struct S { a: u8, a: u16 }", "field 'a' appears twice in struct 'S'"),
    ("struct S { a: T }\nstruct T { b: u8 }", "struct 'T' is used before its declaration at "
                                              "line 2; move it up"),
    ("fn f(a: u8, a: u8) {}", "parameter 'a' appears twice"),
    ("fn f() -> u8 { return; }", "function 'f' must return a u8"),
    ("fn f() { return 1; }", "function 'f' returns nothing; declare it '-> T' to return a value"),
])
def test_declaration_errors(decls, message):
    diags = check_source(body("pass;", decls), "c.nf")
    assert [d.message for d in diags] == [message]


def test_mutual_recursion_and_inline_depth():
    src = body("let x = a(1);", "fn a(x: u32) -> u32 { return b(x); }\n"
                                "fn b(x: u32) -> u32 { return a(x); }")
    msgs = [d.message for d in check_source(src, "c.nf")]
    assert len(msgs) == 1 and msgs[0].startswith("recursive call: a -> b -> a")
    chain = "\n".join(f"fn f{i}() {{ f{i + 1}(); }}" for i in range(40)) + "\nfn f40() {}"
    msgs = [d.message for d in check_source(body("f0();", chain), "c.nf")]
    assert msgs and all("nested more than 32 deep" in m for m in msgs)


def test_unknown_event():
    diags = check_source("on frame { pass; }\n", "c.nf")
    assert [(d.line, d.col, d.message) for d in diags] == [
        (1, 4, "unknown event 'frame': the only event is 'packet' (write 'on packet { ... }')")]


def test_unrolled_size_is_bounded():
    src = body("for (i in 0..256) {\n    for (j in 0..16) { a[j] += i; }\n}",
               "state a: array<u32>[256];")
    diags = check_source(src, "u.nf")
    assert [(d.line, d.col) for d in diags] == [(3, 1)]  # the outer loop
    assert diags[0].message == (
        "after unrolling loops and inlining functions this program has about 4,353 "
        "statements; at most 2,048 are allowed (the kernel verifier's budget): lower loop "
        "bounds or shorten the program")
    # the same through a function called in a loop
    src = body("for (i in 0..256) { f(); }",
               "state a: array<u32>[256];\nfn f() { for (j in 0..16) { a[j] += 1; } }")
    assert len(check_source(src, "u.nf")) == 1
    # 256 x 4 is fine
    src = body("for (i in 0..256) { a[i] += 1; a[i] += 2; a[i] += 3; a[i] += 4; }",
               "state a: array<u32>[256];")
    assert check_source(src, "u.nf") == []
