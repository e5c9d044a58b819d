"""The map ABI of hash keys (network byte order, explicit padding) and the C built for it:
header fields copied into a key as on the wire, every key byte written without a memset."""

from __future__ import annotations

import struct
from pathlib import Path

from cora.compiler.driver import compile_file
from cora.compiler.ir.text import parse_program, parse_state
from cora.targets import get_target
from cora.targets.ebpf.maps import pack_key, pack_value, unpack_key

NETFUNCS = Path(__file__).resolve().parents[2] / "netfuncs"
FLOW = ("state f: hash key(saddr:u32, daddr:u32, sport:u16, dport:u16, proto:u8) "
        "value(n:u64) capacity 4 on_full skip origin map")


def test_hash_key_is_network_order_with_zero_padding():
    s = parse_state(FLOW)
    key = (0x0A000001, 0xC0A80102, 443, 51000, 6)
    raw = pack_key(s, key)
    assert raw == struct.pack("!IIHHB3x", *key)  # the hand-written references' layout
    assert unpack_key(s, raw) == key
    assert pack_value(s, (1,)) == (1).to_bytes(8, "little")  # values stay in host order


def test_lru_key_is_network_order_and_array_index_is_not():
    lru = parse_state("state l: lru_hash key(k:u16) value(v:u8) capacity 4 on_full evict "
                      "origin lru_map")
    assert pack_key(lru, (0x1234,)) == b"\x12\x34"
    arr = parse_state("state a: array key(i:u32) value(v:u64) capacity 4 on_full skip "
                      "origin array")
    assert pack_key(arr, (1,)) == (1).to_bytes(4, "little")


def test_flowcount_key_copies_wire_bytes():
    c = get_target("xdp").generate(compile_file(NETFUNCS / "flowcount.nf")).files["prog.c"]
    key = "_key_cs_flows"  # one key struct per map (cora.targets.ebpf.keyshare)
    key_build = c[c.index(f"{key}.f_saddr ="):c.index(f"cs_flows.lookup(&{key})")]
    assert "memset(&_key_cs_flows," not in key_build and "bswap" not in key_build
    # the padding after proto is zeroed by proto's widened store
    assert "bpf_ntohl" not in c and "*(u32 *)&_key_cs_flows.f_proto = (u32)(" in key_build
    assert "u8 _pad0[3];" in c


def test_key_from_a_computed_value_is_swapped():
    """A key register that is not only a copied header field is converted on the way in."""
    p = parse_program("""nf computed
state h: hash key(k:u32) value(v:u64) capacity 4 on_full skip origin map
bb0:
  %a:u32 = hdr.load ipv4.saddr
  %one:u32 = const 1
  %k:u32 = add %a, %one
  %r:ref<h> = map.lookup h(%k)
  %b:u32 = hdr.load ipv4.daddr
  %s:ref<h> = map.lookup h(%b)
  ret pass
""")
    c = get_target("xdp").generate(p).files["prog.c"]
    assert ".f_k = bpf_ntohl((u32)r_k);" in c  # computed: converted into the key
    assert ".f_k = r_b;" in c  # only a key: the wire bytes as they are
    assert "r_b = *(u32 *)(h_ipv4 + 16);" in c
    assert "r_a = (u32)(((u64)bpf_ntohl(" in c  # also used in arithmetic: host order
