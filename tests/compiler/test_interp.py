"""The reference interpreter: flowcount on real traces against an independent oracle, header
rewrites and checksums against scapy, malformed frames, and the state kinds' semantics."""

from __future__ import annotations

import ipaddress

import dpkt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_NOP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import Raw

from cora.compiler.interp import FrameResult, Interpreter
from cora.compiler.ir import IRError, StateDecl, StateField
from cora.compiler.ir import semantics as sem
from cora.compiler.ir.headers import HEADERS
from cora.compiler.ir.text import parse_program

from .interp_helpers import (
    MACS,
    build,
    flowcount_oracle,
    ip4_str,
    ip6_str,
    mac_str,
    packet_specs,
    trace_records,
)
from .ir_examples import flowcount_ir
from .ir_programs import PROGRAMS, lpm_ir, lru_ir, rewrite_ir


def dpkt_flow_keys(frames: list[bytes]) -> set[tuple]:
    """Flow keys of the frames dpkt decodes as untagged Ethernet/IPv4 (first fragment)/TCP|UDP:
    a third-party cross-check of :func:`flowcount_oracle`'s parsing."""
    keys = set()
    for f in frames:
        if f[12:14] != b"\x08\x00":
            continue
        try:
            ip = dpkt.ethernet.Ethernet(f).data
        except (dpkt.UnpackError, dpkt.NeedData):
            continue
        if not isinstance(ip, dpkt.ip.IP) or ip.offset:
            continue
        l4 = ip.data
        if isinstance(l4, (dpkt.tcp.TCP, dpkt.udp.UDP)):
            keys.add((int.from_bytes(ip.src, "big"), int.from_bytes(ip.dst, "big"),
                      l4.sport, l4.dport, ip.p))
    return keys


@pytest.mark.slow
def test_flowcount_matches_independent_oracle_on_every_trace():
    counted_traces = total_frames = n_flows = n_dpkt = 0
    for name, records in trace_records():
        it = Interpreter(flowcount_ir())
        for ts, frame in records:
            r = it.run(frame, ts)
            assert r.verdict == "pass" and r.port is None, name
            assert r.frame == frame, name             # flowcount never writes headers
        expected = flowcount_oracle([f for _, f in records])
        got = {k: v for k, v in it.state_entries("flows")}
        assert got == expected, name
        dump = it.dump_state()["maps"]["flows"]
        assert [tuple(e["key"]) for e in dump] == sorted(expected)
        dpkt_keys = dpkt_flow_keys([f for _, f in records])
        assert dpkt_keys <= set(expected), name
        n_flows += len(expected)
        n_dpkt += len(dpkt_keys)
        counted_traces += bool(expected)
        total_frames += len(records)
    # the trace set really exercises the counting path
    assert counted_traces > 50 and total_frames > 2000
    # dpkt rejects a few malformed frames the spec counts, but finds nearly every flow
    assert n_dpkt >= 0.9 * n_flows


def test_flowcount_touched_and_full_map():
    p = flowcount_ir()
    p.states[0].capacity = 2
    it = Interpreter(p)
    frames = [bytes(Ether(**MACS) / IP(src=f"10.0.0.{i}", dst="10.0.0.99") / UDP(sport=i, dport=53))
              for i in (1, 2, 3, 1)]
    results = [it.run(f) for f in frames]
    assert all(r.verdict == "pass" for r in results)
    key1 = (0x0A000001, 0x0A000063, 1, 53, 17)
    assert results[0].touched == {("flows", key1)}
    # the third flow does not fit: not counted, the first is counted twice
    assert it.lookup("flows", key1) == (2, 2 * len(frames[0]))
    assert it.lookup("flows", (0x0A000003, 0x0A000063, 3, 53, 17)) is None
    assert len(it.state_entries("flows")) == 2


# ------------------------------------------------------------------ rewrites and checksums

def _set_tos(shift: int, bits: int):
    """Setter of the DSCP (shift 2, 6 bits) or ECN (shift 0, 2 bits) part of scapy's IP.tos."""
    def setter(kw: dict, v: int) -> None:
        m = ((1 << bits) - 1) << shift
        kw["tos"] = (kw["tos"] & ~m) | ((v << shift) & m)
    return setter


def _attr(name: str, conv=int):
    def setter(kw: dict, v: int) -> None:
        kw[name] = conv(v)
    return setter


# (header, field) -> (scapy layer, setter of that layer's constructor arguments from the
# field's new value); every writable field of every header.
SCAPY_FIELDS = {
    ("ethernet", "dst"): (Ether, _attr("dst", mac_str)),
    ("ethernet", "src"): (Ether, _attr("src", mac_str)),
    ("vlan", "pcp"): (Dot1Q, _attr("prio")), ("vlan", "dei"): (Dot1Q, _attr("dei")),
    ("vlan", "vid"): (Dot1Q, _attr("vlan")),
    ("ipv4", "dscp"): (IP, _set_tos(2, 6)), ("ipv4", "ecn"): (IP, _set_tos(0, 2)),
    ("ipv4", "id"): (IP, _attr("id")), ("ipv4", "flags"): (IP, _attr("flags")),
    ("ipv4", "frag_offset"): (IP, _attr("frag")), ("ipv4", "ttl"): (IP, _attr("ttl")),
    ("ipv4", "saddr"): (IP, _attr("src", ip4_str)), ("ipv4", "daddr"): (IP, _attr("dst", ip4_str)),
    ("ipv6", "tclass"): (IPv6, _attr("tc")), ("ipv6", "flow_label"): (IPv6, _attr("fl")),
    ("ipv6", "hop_limit"): (IPv6, _attr("hlim")),
    ("ipv6", "saddr"): (IPv6, _attr("src", ip6_str)),
    ("ipv6", "daddr"): (IPv6, _attr("dst", ip6_str)),
    ("tcp", "sport"): (TCP, _attr("sport")), ("tcp", "dport"): (TCP, _attr("dport")),
    ("tcp", "seq"): (TCP, _attr("seq")), ("tcp", "ack"): (TCP, _attr("ack")),
    ("tcp", "flags"): (TCP, _attr("flags")), ("tcp", "window"): (TCP, _attr("window")),
    ("tcp", "urg"): (TCP, _attr("urgptr")),
    ("udp", "sport"): (UDP, _attr("sport")), ("udp", "dport"): (UDP, _attr("dport")),
    ("icmp", "type"): (ICMP, _attr("type")), ("icmp", "code"): (ICMP, _attr("code")),
    ("icmp", "id"): (ICMP, _attr("id")), ("icmp", "seq"): (ICMP, _attr("seq")),
}


def test_scapy_field_table_covers_every_writable_field():
    writable = {(h.name, f.name) for h in HEADERS.values() for f in h.fields if not f.readonly}
    assert set(SCAPY_FIELDS) == writable


def reg_width(header: str, field: str) -> int:
    """Register width of a header field: the width of its language type (u8 for a 3-bit
    field), docs/language.md."""
    t = HEADERS[header].field(field).type_name
    return {"ip4": 32, "mac": 48, "ip6": 128}.get(t) or int(t[1:])


def store_program(writes: list[tuple[str, str, int]]):
    """An IR program that stores constants into header fields in order, then passes."""
    lines = ["nf stores", "bb0:"]
    for i, (h, f, v) in enumerate(writes):
        lines += [f"  %c{i}:u{reg_width(h, f)} = const {v}", f"  hdr.store {h}.{f}, %c{i}"]
    lines.append("  ret pass")
    return parse_program("\n".join(lines) + "\n")


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(packet_specs(), st.data())
def test_header_stores_fix_checksums_like_scapy_full_recompute(spec, data):
    """After stores by the interpreter, every checksum equals what scapy computes from
    scratch for the packet with the new field values (RFC 1624 incremental == RFC 1071
    full), UDP's "no checksum" 0 stays 0 and unparsed headers are not written."""
    frame = build(spec)
    writes = data.draw(st.lists(st.sampled_from(sorted(SCAPY_FIELDS)), max_size=6))
    program_writes, expected = [], {k: dict(v) for k, v in spec.items()}
    for h, f in writes:
        layer, setter = SCAPY_FIELDS[(h, f)]
        if (h, f) == ("icmp", "type"):
            v = data.draw(st.sampled_from([0, 8]))          # keep scapy's echo layout
        else:                                               # any register value: the store
            v = data.draw(st.integers(0, 2**reg_width(h, f) - 1))   # truncates to the field
        program_writes.append((h, f, v))
        if layer in expected:                               # a store to an absent header
            setter(expected[layer], v & ((1 << HEADERS[h].field(f).bit_width) - 1))
    result = Interpreter(store_program(program_writes)).run(frame)
    assert result.verdict == "pass"
    want = build(expected)
    assert result.frame == want


def test_udp_checksum_computed_zero_is_sent_as_ffff():
    # With source port 0 the UDP sum is S0 and scapy's checksum c0 = ~S0; source port c0
    # makes the sum 0xffff, i.e. a computed checksum of 0, which RFC 768 sends as 0xffff.
    base = Ether(**MACS) / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=0, dport=2) / Raw(b"ab")
    frame = bytes(base)
    sport = Ether(frame)[UDP].chksum
    want = (Ether(**MACS) / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=sport, dport=2)
            / Raw(b"ab"))
    assert Ether(bytes(want))[UDP].chksum == 0xFFFF            # scapy agrees it is that case
    out = Interpreter(store_program([("udp", "sport", sport)])).run(frame).frame
    assert out == bytes(want)


def test_tcp_and_ipv4_checksums_that_become_zero_are_zero():
    # RFC 1624 section 3: eqn. 3 gives 0x0000 where a full recompute gives 0x0000 (eqn. 2
    # would give 0xffff). Same trick as above: the field value that makes the sum 0xffff.
    frame = bytes(Ether(**MACS) / IP(src="10.0.0.1", dst="10.0.0.2", id=0) / TCP(sport=0) / b"x")
    tcp_zero = Ether(frame)[TCP].chksum                  # source port giving TCP csum 0
    ip_zero = Ether(frame)[IP].chksum                    # IPv4 id giving header csum 0
    want = Ether(bytes(Ether(**MACS) / IP(src="10.0.0.1", dst="10.0.0.2", id=ip_zero)
                       / TCP(sport=tcp_zero) / b"x"))
    assert want[TCP].chksum == 0 and want[IP].chksum == 0
    prog = store_program([("tcp", "sport", tcp_zero), ("ipv4", "id", ip_zero)])
    assert Interpreter(prog).run(frame).frame == bytes(want)


def test_rewrite_program_verdicts_and_checksums():
    it = Interpreter(rewrite_ir())
    tcp = bytes(Ether(**MACS) / IP(src="1.2.3.4", dst="5.6.7.8", ttl=64) / TCP(dport=80, flags="S"))
    r = it.run(tcp)
    assert r.verdict == "pass"
    out = Ether(r.frame)
    assert out[IP].ttl == 63 and out[IP].src == ip4_str(0x01020304 ^ 0x0A000001)
    assert out[TCP].dport == 8160 and out[TCP].flags == 0x0A and out[TCP].window == 512
    exp = out.copy()
    del exp[IP].chksum, exp[TCP].chksum
    assert bytes(exp) == r.frame
    low = bytes(Ether(**MACS) / IP(ttl=1) / TCP())
    assert it.run(low).verdict == "drop"
    udp = bytes(Ether(**MACS) / IP(src="1.2.3.4", ttl=9) / UDP(sport=5000))
    r = it.run(udp)
    h = sem.hash32(7, [(0x01020304, 32), (5000, 16)])
    assert (r.verdict, r.port) == ("redirect", h % 4)
    assert Ether(r.frame)[UDP].sport == h & 0xFFFF
    icmp = bytes(Ether(**MACS) / IP(ttl=9) / ICMP(type=8, id=0x1234))
    r = it.run(icmp)
    assert r.verdict == "tx" and Ether(r.frame)[ICMP].id == 0xEDCB
    v6 = bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:09")
               / IPv6(dst="2001:db8::ffff", hlim=64) / UDP())
    r = it.run(v6)
    out = Ether(r.frame)
    assert r.verdict == "pass" and out[IPv6].dst == "2001:db8::1:0" and out[IPv6].hlim == 32
    assert out.dst == "02:00:00:00:00:01"
    exp = out.copy()
    del exp[UDP].chksum
    assert bytes(exp) == r.frame                 # pseudo-header fix-up for the IPv6 address


# --------------------------------------------------------------------------- bad frames

def _sample_frames() -> list[bytes]:
    """A few real frames of different kinds from the traces, plus synthetic ones."""
    kinds: dict[str, bytes] = {}
    for _, records in trace_records():
        for _, f in records:
            if len(f) < 14:
                continue
            et = f[12:14]
            key = {b"\x08\x00": "ip4", b"\x86\xdd": "ip6", b"\x81\x00": "vlan"}.get(et, "other")
            if key == "ip4" and len(f) > 23:
                key += str(f[23])
            kinds.setdefault(key, f)
    frames = list(kinds.values())
    frames += [bytes(Ether(**MACS) / Dot1Q() / IP(options=[IPOption_NOP()] * 8) / TCP() / b"x"),
               bytes(Ether(**MACS) / IPv6() / TCP()), bytes(Ether(**MACS) / IP() / ICMP())]
    return frames


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_every_prefix_of_real_frames_runs(name):
    """Every prefix (0..len bytes) of sample frames runs without error; the frame keeps its
    length, bytes past the parsed headers never change, and a frame without an Ethernet
    header is never written."""
    it = Interpreter(PROGRAMS[name]())
    frames = _sample_frames()
    assert len(frames) >= 6
    for frame in frames:
        for n in range(len(frame) + 1):
            prefix = frame[:n]
            r = it.run(prefix, now_ns=n)
            assert isinstance(r, FrameResult)
            assert r.verdict in ("pass", "drop", "tx", "redirect")
            assert len(r.frame) == n
            if n < 14:
                assert r.frame == prefix
            assert r.frame[78:] == prefix[78:]   # past eth+vlan+ipv6(40)+tcp(20)
    assert it.dump_state()["maps"].keys() == {s.name for s in it.program.states}


def test_bogus_lengths_and_ihl():
    it = Interpreter(flowcount_ir())
    good = bytearray(bytes(Ether(**MACS) / IP(src="1.1.1.1", dst="2.2.2.2")
                           / UDP(sport=7, dport=9)))
    bad_ihl = bytearray(good)
    bad_ihl[14] = 0x44                                  # IHL 4 < 5: not valid IPv4
    big_ihl = bytearray(good)
    big_ihl[14] = 0x4F                                  # 60-byte header, frame too short
    bad_len = bytearray(good)
    bad_len[16:18] = b"\xff\xff"                        # total length ignored
    frag = bytearray(good)
    frag[20:22] = b"\x00\x01"                           # fragment offset 1: no UDP
    for f in (bad_ihl, big_ihl, frag):
        it.run(bytes(f))
    assert it.state_entries("flows") == []
    it.run(bytes(bad_len))
    assert it.state_entries("flows") == [((0x01010101, 0x02020202, 7, 9, 17), (1, len(good)))]


# ------------------------------------------------------------------------- state kinds

def _udp(src: str, sport: int, dst: str = "10.9.9.9") -> bytes:
    return bytes(Ether(**MACS) / IP(src=src, dst=dst) / UDP(sport=sport, dport=1))


def _ip_int(a: str) -> int:
    return int(ipaddress.IPv4Address(a))


def test_lru_exact_eviction_rand_and_now():
    it = Interpreter(lru_ir())
    keys = [(f"10.0.0.{i}", 100 + i) for i in range(6)]
    for i, (a, p) in enumerate(keys[:5]):
        it.run(_udp(a, p), now_ns=1000 + i)
    it.run(_udp(*keys[0]), now_ns=2000)                # hit: key 0 becomes most recent
    r = it.run(_udp(*keys[5]), now_ns=3000)            # full: evicts key 1, the LRU
    assert (("conn", (_ip_int(keys[1][0]), keys[1][1]))) in r.touched
    stored = {k for k, _ in it.state_entries("conn")}
    assert stored == {(_ip_int(a), p) for a, p in keys if (a, p) != keys[1]}
    x, tags = 1, []
    for _ in range(6):
        x = sem.xorshift32(x)
        tags.append(x)
    # rand() is called only on inserts: keys 0..4 then key 5 get the first six values
    assert it.lookup("conn", (_ip_int(keys[0][0]), keys[0][1])) == (2, tags[0], 2000)
    assert it.lookup("conn", (_ip_int(keys[5][0]), keys[5][1])) == (1, tags[5], 3000)
    # a TCP RST deletes its key and drops
    rst = bytes(Ether(**MACS) / IP(src=keys[2][0]) / TCP(sport=keys[2][1], flags="R"))
    assert it.run(rst).verdict == "drop"
    assert it.lookup("conn", (_ip_int(keys[2][0]), keys[2][1])) is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 7), max_size=40))
def test_lru_matches_list_model(seq):
    """Exact LRU against a list model (front = least recently used)."""
    it = Interpreter(lru_ir())
    model: list[int] = []
    for k in seq:
        it.run(_udp("10.0.0.1", k))
        if k in model:
            model.remove(k)
        elif len(model) == 5:
            model.pop(0)
        model.append(k)
        assert sorted(p for (_, p), _ in it.state_entries("conn")) == sorted(model)
    hits = [v[0] for _, v in it.state_entries("conn")]
    assert hits == [_hits_since_insert(seq, k) for k in sorted(model)]


def _hits_since_insert(seq: list[int], k: int) -> int:
    """Hits of key ``k`` since its last insertion under the LRU(5) model."""
    model: list[int] = []
    hits = 0
    for x in seq:
        if x in model:
            model.remove(x)
            if x == k:
                hits += 1
        else:
            if len(model) == 5:
                model.pop(0)
            if x == k:
                hits = 1
        model.append(x)
    return hits


class LpmModel:
    """Independent model of the router program: prefixes as ipaddress networks."""

    def __init__(self, init):
        self.routes = {(a, p): v for (a, p), v in init}
        self.perport: dict[int, list[int]] = {}
        self.total = 0

    def match(self, addr: int):
        best = None
        for (a, p), v in self.routes.items():
            if ipaddress.IPv4Address(addr) in ipaddress.IPv4Network((a, p)):
                if best is None or p > best[0][1]:
                    best = ((a, p), v)
        return best

    def run(self, saddr: int, daddr: int, length: int):
        m = self.match(daddr)
        port = m[1][0] if m else 0
        slot = self.perport.setdefault(port, [0, 0])
        slot[0] += 1
        slot[1] += length
        self.total += 1
        net = (saddr & 0xFFFFFF00, 24)
        if net in self.routes or len(self.routes) < 8:
            self.routes[net] = (7,)
        if m is None:
            return ("drop", None)
        if port == 9:
            self.routes.pop((daddr, 32), None)
            return ("pass", None)
        return ("redirect", port)


POOL = ["10.1.2.3", "10.2.0.1", "192.168.1.1", "192.168.1.77", "8.8.8.8", "172.16.0.1",
        "10.1.255.255", "11.0.0.1", "192.168.2.1", "203.0.113.9"]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(POOL), st.sampled_from(POOL)), max_size=25))
def test_lpm_and_arrays_match_model(pairs):
    program = lpm_ir()
    it = Interpreter(program)
    model = LpmModel(program.state("routes").init)
    for src, dst in pairs:
        frame = _udp(src, 1, dst)
        r = it.run(frame)
        assert (r.verdict, r.port) == model.run(_ip_int(src), _ip_int(dst), len(frame))
    assert it.state_entries("routes") == sorted(model.routes.items())
    assert it.state_entries("perport") == sorted(((p,), tuple(v))
                                                 for p, v in model.perport.items())
    assert it.state_entries("total") == ([((0,), (model.total,))] if model.total else [])


def test_lpm_details():
    program = lpm_ir()
    it = Interpreter(program)
    # masked on insert, exact-key lookup API with (addr, plen)
    assert it.lookup("routes", (_ip_int("10.1.99.99"), 16)) == (2,)
    assert it.lookup("routes", (_ip_int("10.1.0.0"), 17)) is None
    r = it.run(_udp("172.16.5.6", 1, "10.1.2.3"))
    assert (r.verdict, r.port) == ("redirect", 2)
    assert ("routes", (_ip_int("10.1.0.0"), 16)) in r.touched
    assert ("routes", (_ip_int("172.16.5.0"), 24)) in r.touched      # the learned prefix
    assert it.lookup("routes", (_ip_int("172.16.5.0"), 24)) == (7,)
    # the /32 of 8.8.8.8 routes to 9 and is deleted; then 0/0 (also port 9) matches
    r = it.run(_udp("172.16.5.6", 1, "8.8.8.8"))
    assert r.verdict == "pass" and it.lookup("routes", (_ip_int("8.8.8.8"), 32)) is None
    assert ("routes", (0, 0)) in it.run(_udp("172.16.5.6", 1, "8.8.8.8")).touched
    # arrays: out-of-range update returned 0 and left no slot; only non-zero slots dumped
    assert it.lookup("perport", (12,)) is None
    assert it.lookup("perport", (5,)) == (0, 0)
    dump = it.dump_state()["maps"]
    assert [e["key"] for e in dump["perport"]] == [[2], [9]]
    assert dump["total"] == [{"key": [0], "value": [3]}]


def test_hash_full_update_returns_zero_and_replace_works():
    text = """\
nf full
state m: hash key(k:u16) value(v:u32) capacity 2 on_full skip origin map
state ok: array key(index:u32) value(v:u8) capacity 8 origin array
bb0:
  %k:u16 = hdr.load udp.sport
  %v:u32 = pkt.len
  %r:u1 = map.update m(%k) = (%v)
  %rr:u8 = zext %r
  %i32:u32 = zext %k
  %w:u1 = map.update ok(%i32) = (%rr)
  ret pass
"""
    it = Interpreter(parse_program(text))
    for sport in (1, 2, 3, 1):
        it.run(_udp("1.1.1.1", sport))
    assert [k for k, _ in it.state_entries("m")] == [(1,), (2,)]
    # update results recorded per key: key 3 (new, map full) -> 0, others 1
    assert it.state_entries("ok") == [((1,), (1,)), ((2,), (1,))]
    assert it.lookup("ok", (3,)) == (0,)


def test_init_entries_loaded_and_overflow_rejected():
    decl = StateDecl("m", "hash", (StateField("k", 32),), (StateField("v", 32),), 2, "skip",
                     init=(((1,), (10,)), ((2,), (20,))))
    p = flowcount_ir()
    p.states.append(decl)
    it = Interpreter(p)
    assert it.state_entries("m") == [((1,), (10,)), ((2,), (20,))]
    decl.init = decl.init + (((3,), (30,)),)
    with pytest.raises(IRError, match="does not fit"):
        Interpreter(p)
    with pytest.raises(ValueError):
        Interpreter(flowcount_ir(), rand_seed=0)


def test_rand_state_kept_across_frames_and_seeded():
    text = """\
nf r
state s: array key(index:u32) value(v:u32) capacity 4 origin array
bb0:
  %x:u32 = rand
  %y:u32 = rand
  %i:u32 = const 0
  %j:u32 = const 1
  %a:u1 = map.update s(%i) = (%x)
  %b:u1 = map.update s(%j) = (%y)
  ret pass
"""
    seq, x = [], 42
    for _ in range(6):
        x = sem.xorshift32(x)
        seq.append(x)
    it = Interpreter(parse_program(text), rand_seed=42)
    got = []
    for _ in range(3):
        it.run(b"")
        got += [it.lookup("s", (0,))[0], it.lookup("s", (1,))[0]]
    assert got == seq
