"""``atomic (s[k]) { ... }`` (docs/language.md, "Atomic blocks"): what the checker refuses
inside one (what the kernel verifier refuses under a bpf_spin_lock), the IR it lowers to
(one lookup, ``ref.lock``, in-place accesses through that reference, ``ref.unlock``), the
locked value layout, and the interpreter's sequential semantics (the kernel's concurrent
runs: tests/targets/test_atomic_kernel.py)."""

import pytest

from cora.compiler.driver import check_source, compile_source
from cora.compiler.interp import Interpreter
from cora.compiler.ir.ops import has_spin_lock, locked_value_bytes
from cora.compiler.ir.text import parse_program, print_program
from cora.compiler.ir.verify import verify
from cora.targets.ebpf.maps import pack_value, value_size

from .diagnostic_helpers import assert_one_diagnostic

TALLY = """
struct Tally { frames: u64, bytes: u64, max_len: u32, hist: u32[4] }
state tally: array<Tally>[2];
on packet {
    let len = pkt.len;
    atomic (tally[len % 2]) {
        let n = tally[len % 2].frames;
        tally[len % 2].frames = n + 1;
        tally[len % 2].bytes = tally[len % 2].bytes + len;
        if (len > tally[len % 2].max_len) { tally[len % 2].max_len = len; }
        for (i in 0..4) {
            if (len % 4 == i) { tally[len % 2].hist[i] += 1; }
        }
    }
    drop;
}
"""


def test_lowers_to_one_lookup_a_lock_and_an_unlock_around_the_body():
    p = compile_source(TALLY, "t.nf")
    ops = [op.opcode for _, op in p.ops()]
    assert ops.count("map.lookup") == 1
    assert ops.count("ref.lock") == 1 and ops.count("ref.unlock") == 1
    first, last = ops.index("ref.lock"), ops.index("ref.unlock")
    assert ops.index("map.lookup") < first
    # every access of the entry is between the lock and the unlock, through one reference
    refs = {op.args[0] for _, op in p.ops() if op.opcode in
            ("ref.load", "ref.store", "atomic_add", "ref.lock", "ref.unlock")}
    assert len(refs) == 1
    assert all(first < i < last for i, o in enumerate(ops)
               if o in ("ref.load", "ref.store", "atomic_add"))
    assert has_spin_lock(p.state("tally"))
    # the IR text keeps the lock (params) and parses back
    text = print_program(p)
    assert "params(spin_lock=1)" in text
    again = parse_program(text)
    verify(again)
    assert print_program(again) == text


def test_locked_value_layout_puts_the_lock_after_the_fields():
    s = compile_source(TALLY, "t.nf").state("tally")
    # frames, bytes: 16 bytes; max_len and 4 hist: 20 -> 36, padded to 40 (u64 alignment);
    # the 4-byte lock at 40, the whole rounded to 48 (what the verifier reports as vs=48)
    assert s.value_bytes == 40
    assert locked_value_bytes(s) == (40, 48)
    assert value_size(s) == 48
    packed = pack_value(s, tuple(range(1, len(s.value) + 1)))
    assert len(packed) == 48 and packed[40:] == bytes(8)


def test_interpreter_runs_the_block_sequentially():
    it = Interpreter(compile_source(TALLY, "t.nf"))
    lens = [60, 61, 62, 63, 64, 60, 99]
    for n in lens:
        assert it.run(bytes(n)).verdict == "drop"
    got = dict(it.state_entries("tally"))
    for parity in (0, 1):
        mine = [n for n in lens if n % 2 == parity]
        hist = [sum(1 for n in mine if n % 4 == i) for i in range(4)]
        assert got[(parity,)] == (len(mine), sum(mine), max(mine), *hist)


def test_an_absent_key_reads_zero_and_inserts_nothing():
    src = """
struct V { a: u32, b: u32 }
state m: map<u32, V>[16] on_full skip;
state seen: array<u32>[1];
on packet {
    let k = pkt.len;
    if (k == 70) { m[k] = V { a: 5, b: 0 }; }
    let got: u32 = 0;
    atomic (m[k]) {
        m[k].a += 1;
        m[k].b = m[k].a * 2;
        got = m[k].a;
    }
    seen[0] = got;
    drop;
}
"""
    it = Interpreter(compile_source(src, "m.nf"))
    it.run(bytes(60))
    assert it.state_entries("m") == [] and it.lookup("seen", (0,)) == (0,)
    it.run(bytes(70))
    assert it.state_entries("m") == [((70,), (6, 12))] and it.lookup("seen", (0,)) == (6,)


def test_a_program_without_atomic_blocks_has_no_lock():
    p = compile_source("state c: array<u64>[1];\non packet { c[0] += 1; drop; }", "c.nf")
    assert not has_spin_lock(p.state("c"))
    assert not any(op.opcode in ("ref.lock", "ref.unlock") for _, op in p.ops())


HEAD = """struct V { a: u32, b: u32 }
state m: map<u32, V>[16] on_full skip;
state o: array<u32>[4];
"""


def _in_block(body: str, before: str = "") -> str:
    return HEAD + "on packet {\n    let k = 3;\n" + before + \
        "    atomic (m[k]) {\n        " + body + "\n    }\n    pass;\n}\n"


# line 7 is the body's line; "        " (8 spaces) precede the body
ATOMIC_DIAGNOSTICS = [
    ("other state", _in_block("o[0] += 1;"),
     "x.nf:7:9: error: 'o' inside an atomic block on 'm': it is a helper call, which the kernel "
     "verifier refuses while a spin lock is held (bpf_map_lookup_elem); only the locked entry "
     "may be used", "        ^~~~"),
    ("other entry", _in_block("m[4].b = 2;"),
     "x.nf:7:11: error: another entry of 'm' inside the atomic block on its entry [k]: only the "
     "locked entry may be used", "          ^"),
    ("shadowed key", _in_block("let k = 4; m[k].b = 2;"),
     "x.nf:7:22: error: another entry of 'm' inside the atomic block on its entry [k]: only "
     "the locked entry may be used", "                     ^"),
    ("header in the key", HEAD + "on packet {\n    atomic (m[ipv4.ttl as u32]) {\n"
     "        ipv4.ttl = 1;\n    }\n    pass;\n}\n",
     "x.nf:6:9: error: 'ipv4.ttl' is part of the locked key [ipv4.ttl as u32]; it cannot "
     "change inside the block", "        ^~~~~~~~"),
    ("whole entry", _in_block("m[k] = V { a: 1, b: 2 };"),
     "x.nf:7:9: error: a whole entry written inside an atomic block is an insert "
     "(bpf_map_update_elem), a helper call the kernel verifier refuses while a spin lock is "
     "held; assign its fields", "        ^~~~~~~~~~~~~~~~~~~~~~~~"),
    ("key changes", _in_block("k = 4;"),
     "x.nf:7:9: error: 'k' is part of the locked key [k]; it cannot change inside the block",
     "        ^"),
    ("helper now", _in_block("let t = now();"),
     "x.nf:7:17: error: now() inside an atomic block: it is a helper call, which the kernel "
     "verifier refuses while a spin lock is held; call it before the block",
     "                ^~~~~"),
    ("helper rand", _in_block("m[k].a = rand();"),
     "x.nf:7:18: error: rand() inside an atomic block: it is a helper call, which the kernel "
     "verifier refuses while a spin lock is held; call it before the block",
     "                 ^~~~~~"),
    ("in", _in_block("if (3 in m) { m[k].a = 1; }"),
     "x.nf:7:13: error: 'in' on a state inside an atomic block: it is a helper call, which the "
     "kernel verifier refuses while a spin lock is held (bpf_map_lookup_elem); test it before "
     "the block", "            ^~~~~~"),
    ("multicast", HEAD + "state g: group[4];\non packet {\n    let k = 3;\n"
     "    atomic (m[k]) {\n        multicast(g);\n    }\n    pass;\n}\n",
     "x.nf:8:9: error: a verdict inside an atomic block would leave with the lock held; set a "
     "local and act on it after the block", "        ^~~~~~~~~~~~~"),
    ("verdict", _in_block("drop;"),
     "x.nf:7:9: error: a verdict inside an atomic block would leave with the lock held; set a "
     "local and act on it after the block", "        ^~~~~"),
    ("nested", _in_block("atomic (m[k]) { m[k].a = 1; }"),
     "x.nf:7:9: error: atomic blocks do not nest: the kernel verifier allows one spin lock "
     "held at a time", "        ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~"),
    ("pkt.len", _in_block("m[k].a = pkt.len;"),
     "x.nf:7:18: error: pkt.len inside an atomic block: on XDP it is a helper call for frames "
     "past 2,048 bytes (bpf_xdp_get_buff_len), which the kernel verifier refuses while a spin "
     "lock is held; read it into a local before the block", "                 ^~~~~~~"),
    ("delete", _in_block("delete m[5];"),
     "x.nf:7:9: error: 'delete' inside an atomic block: it is a helper call, which the kernel "
     "verifier refuses while a spin lock is held (bpf_map_delete_elem)",
     "        ^~~~~~~~~~~~"),
    ("function call", HEAD + "fn f() -> u32 { return 1; }\non packet {\n    let k = 3;\n"
     "    atomic (m[k]) { m[k].a = f(); }\n    pass;\n}\n",
     "x.nf:7:30: error: a call of 'f' inside an atomic block: write its statements in the "
     "block (functions are not checked for what a spin lock allows)",
     "                             ^~~"),
    ("lru", "state l: lru_map<u32, u32>[4] on_full evict;\n"
     "on packet { atomic (l[1]) { l[1] += 1; } pass; }\n",
     "x.nf:2:21: error: atomic works on an entry of a map or an array, not of lru_map 'l': the "
     "kernel keeps no spin lock in an LRU hash map", "                    ^~~~"),
    ("percpu", "state p: percpu_array<u64>[4];\n"
     "on packet { atomic (p[1]) { p[1] += 1; } pass; }\n",
     "x.nf:2:21: error: atomic works on an entry of a map or an array, not of percpu_array "
     "'p': each CPU has its own copy of a per-CPU value, so no lock is needed: update it "
     "directly", "                    ^~~~"),
    ("not an entry", "on packet { let x = 1; atomic (x) { x = 2; } pass; }\n",
     "x.nf:1:32: error: atomic takes a state entry: 'atomic (s[key]) { ... }'",
     "                               ^"),
    ("unknown state", HEAD + "on packet { atomic (mm[1]) { } pass; }\n",
     "x.nf:4:21: error: undefined name 'mm' (did you mean 'm'?)", "                    ^~"),
    ("key reads state", HEAD + "on packet { atomic (m[o[0]]) { } pass; }\n",
     "x.nf:4:23: error: the key of an atomic block cannot read state (the lookup happens "
     "before the lock); read it into a local first", "                      ^~~~"),
]


@pytest.mark.parametrize("name,src,head,caret", ATOMIC_DIAGNOSTICS,
                         ids=[d[0] for d in ATOMIC_DIAGNOSTICS])
def test_atomic_diagnostics(name, src, head, caret):
    assert_one_diagnostic(src, head, caret)


def test_all_errors_of_a_block_are_reported_at_once():
    src = _in_block("o[0] += 1; drop;")
    assert len(check_source(src, "x.nf")) == 2


def test_what_a_block_may_hold():
    """Locals, loops, branches, header reads and writes, hash and overflow tests are fine."""
    src = HEAD + """on packet {
    let k = 3;
    let len = pkt.len;
    atomic (m[k]) {
        let s = m[k].a;
        for (i in 0..4) { if (add_overflows(s, i)) { s = 0; } else { s = s + i; } }
        m[k].a = s + hash(len) % 2;
        ipv4.ttl = 7;
        m[k].b = ipv4.ttl;
    }
    pass;
}
"""
    assert check_source(src, "x.nf") == []
    compile_source(src, "x.nf")


def test_agilio_refuses_an_atomic_block_and_bluefield2_runs_it():
    from cora.compiler.offload.nic_checks import unsupported

    p = compile_source(TALLY, "t.nf")
    reasons = unsupported(p, "agilio")
    assert any("atomic block on tally: bpf_spin_lock" in r for r in reasons), reasons
    assert not any("spin" in r for r in unsupported(p, "bluefield2"))


@pytest.mark.parametrize("body,error", [
    ("  ref.lock n %r\n  ret pass\n", "ret while the lock of %r is held"),
    ("  ref.lock n %r\n  ref.lock n %r\n  ref.unlock n %r\n  ret pass\n",
     "ref.lock while the lock"),
    ("  ref.unlock n %r\n  ret pass\n", "ref.unlock without its lock held"),
    ("  ref.lock n %r\n  %t:u64 = now\n  ref.unlock n %r\n  ret pass\n", "now while"),
    ("  ref.lock n %r\n  br %c, bb1, bb2\nbb1:\n  ref.unlock n %r\n  jmp bb2\nbb2:\n"
     "  ret pass\n", "different locks held"),
])
def test_ir_verifier_checks_the_lock_discipline(body, error):
    from cora.compiler.ir import IRError

    text = ("nf x\nstate n: array key(i:u32) value(c:u32) capacity 4 origin array "
            "params(spin_lock=1)\nbb0:\n  %k:u32 = const 0\n  %c:u1 = const 1\n"
            "  %r:ref<n> = map.lookup n(%k)\n" + body)
    with pytest.raises(IRError, match=error):
        verify(parse_program(text))
