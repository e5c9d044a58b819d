"""Hand-written IR programs (textual IR) shared by the interpreter and pass tests.

Each exercises a different part of the IR: header rewrites with checksums, every arithmetic
op, LRU/LPM/array state, rand/now/hash, all verdicts, and code the passes can simplify
(constants, dead code, empty blocks, constant branches). ``tests/compiler/test_ir.py``
checks that they all verify and round-trip through the text form.
"""

from cora.compiler.ir.text import parse_program

from .ir_examples import flowcount_ir

# Rewrites headers (TTL decrement, address/port NAT-like rewrite), drops TTL <= 1, redirects
# UDP to a port derived from a hash, tx for ICMP, passes the rest.
REWRITE = """\
nf rewrite
bb0:
  %ip:u1 = hdr.valid ipv4
  br %ip, bb1, bb9
bb1:
  %ttl:u8 = hdr.load ipv4.ttl
  %one8:u8 = const 1
  %low:u1 = le %ttl, %one8
  br %low, bb8, bb2
bb2:
  %ttl2:u8 = sub %ttl, %one8
  hdr.store ipv4.ttl, %ttl2
  %nat:u32 = const 167772161
  %sa:u32 = hdr.load ipv4.saddr
  %x:u32 = xor %sa, %nat
  hdr.store ipv4.saddr, %x
  %tcp:u1 = hdr.valid tcp
  %udp:u1 = hdr.valid udp
  br %tcp, bb3, bb4
bb3:
  %dp:u16 = hdr.load tcp.dport
  %k:u16 = const 8080
  %dp2:u16 = add %dp, %k
  hdr.store tcp.dport, %dp2
  %fl:u8 = hdr.load tcp.flags
  %m:u8 = const 8
  %fl2:u8 = or %fl, %m
  hdr.store tcp.flags, %fl2
  %wnd:u16 = const 512
  hdr.store tcp.window, %wnd
  ret pass
bb4:
  br %udp, bb5, bb6
bb5:
  %sp:u16 = hdr.load udp.sport
  %h:u32 = hash 7 (%sa, %sp)
  %c4:u32 = const 4
  %port:u32 = mod %h, %c4
  %sp2:u16 = trunc %h
  hdr.store udp.sport, %sp2
  ret redirect %port
bb6:
  %icmp:u1 = hdr.valid icmp
  br %icmp, bb7, bb9
bb7:
  %id:u16 = hdr.load icmp.id
  %nid:u16 = not %id
  hdr.store icmp.id, %nid
  %t:u8 = const 0
  hdr.store icmp.type, %t
  ret tx
bb8:
  ret drop
bb9:
  %v6:u1 = hdr.valid ipv6
  br %v6, bb10, bb11
bb10:
  %a6:u128 = hdr.load ipv6.daddr
  %one128:u128 = const 1
  %a6n:u128 = add %a6, %one128
  hdr.store ipv6.daddr, %a6n
  %hl:u8 = hdr.load ipv6.hop_limit
  %c1:u8 = const 1
  %hl2:u8 = shr %hl, %c1
  hdr.store ipv6.hop_limit, %hl2
  jmp bb11
bb11:
  %mac:u48 = hdr.load ethernet.src
  hdr.store ethernet.dst, %mac
  ret pass
"""

# Every arithmetic/compare op on header-derived operands (so shifts by >= width and division
# by zero occur on real frames), results kept in a hash map keyed by frame length. Also holds
# constants to fold, dead code, an empty block chain and a constant branch.
ARITH = ("nf arith\n"
         "state res: hash key(len:u32) value(a:u32, b:u32, c:u32, d:u32, e:u64, f:u8, g:u16, h:u1) "
         "capacity 64 on_full skip origin map\n"
         """\
bb0:
  %n:u32 = pkt.len
  %x:u32 = hdr.load ipv4.saddr
  %y8:u8 = hdr.load ipv4.ttl
  %y:u32 = zext %y8
  %c3:u32 = const 3
  %c5:u32 = const 5
  %c15:u32 = add %c3, %c5
  %c120:u32 = mul %c15, %c15
  %unused:u32 = mul %x, %c120
  %unused2:u32 = sub %unused, %c3
  %true:u1 = lt %c3, %c5
  br %true, bb1, bb2
bb1:
  jmp bb3
bb2:
  %dead:u32 = const 99
  jmp bb3
bb3:
  jmp bb4
bb4:
  %a0:u32 = div %x, %y
  %a1:u32 = mod %x, %y
  %a:u32 = add %a0, %a1
  %b0:u32 = shl %x, %y
  %b1:u32 = shr %x, %y
  %b:u32 = xor %b0, %b1
  %c0:u32 = sub %c120, %x
  %c:u32 = mul %c0, %n
  %d0:u32 = not %x
  %d1:u32 = and %d0, %c120
  %d:u32 = or %d1, %c15
  %e0:u64 = zext %x
  %e1:u64 = zext %n
  %e2:u64 = mul %e0, %e1
  %nw:u64 = now
  %e:u64 = add %e2, %nw
  %f:u8 = trunc %b
  %g0:u1 = gt %x, %c
  %g1:u1 = ge %n, %c120
  %g2:u1 = ne %g0, %g1
  %g3:u1 = eq %a, %b
  %g4:u1 = and %g2, %g3
  %g5:u16 = trunc %d
  %g6:u16 = trunc %c
  %g:u16 = select %g4, %g5, %g6
  %h:u1 = le %c15, %c120
  %ok:u1 = map.update res(%n) = (%a, %b, %c, %d, %e, %f, %g, %h)
  %c64:u32 = const 64
  %big:u1 = gt %n, %c64
  br %big, bb5, bb6
bb5:
  ret pass
bb6:
  ret drop
""")

# LRU flow table with rand()-tagged entries, hit counts and a delete on TCP RST.
LRU = ("nf lrutable\n"
       "state conn: lru_hash key(saddr:u32, sport:u16) value(hits:u32, tag:u32, last:u64) "
       "capacity 5 on_full evict origin lru_map\n"
       """\
bb0:
  %ip:u1 = hdr.valid ipv4
  br %ip, bb1, bb5
bb1:
  %sa:u32 = hdr.load ipv4.saddr
  %tcp:u1 = hdr.valid tcp
  %udp:u1 = hdr.valid udp
  %z16:u16 = const 0
  %sp:u16 = mov %z16
  br %tcp, bb2, bb6
bb6:
  br %udp, bb7, bb3
bb7:
  %sp:u16 = hdr.load udp.sport
  jmp bb3
bb2:
  %sp:u16 = hdr.load tcp.sport
  %fl:u8 = hdr.load tcp.flags
  %rst:u8 = const 4
  %r:u8 = and %fl, %rst
  %z8:u8 = const 0
  %isrst:u1 = ne %r, %z8
  br %isrst, bb8, bb3
bb8:
  map.delete conn(%sa, %sp)
  ret drop
bb3:
  %ref:ref<conn> = map.lookup conn(%sa, %sp)
  %f:u1 = ref.found conn %ref
  %nw:u64 = now
  br %f, bb4, bb9
bb4:
  %h:u32 = ref.load conn %ref.0
  %one:u32 = const 1
  %h2:u32 = add %h, %one
  ref.store conn %ref.0, %h2
  ref.store conn %ref.2, %nw
  ret pass
bb9:
  %one1:u32 = const 1
  %tag:u32 = rand
  %ok:u1 = map.update conn(%sa, %sp) = (%one1, %tag, %nw)
  ret pass
bb5:
  ret pass
""")

# LPM routing: longest-prefix match on the destination, per-port counters in an array, a
# total in a percpu_array, learn /24s of sources into the table (capacity-limited), delete the
# exact /32 of a destination routed to port 9, unknown destinations dropped.
LPM = ("nf router\n"
       "state routes: lpm key(addr:u32) value(port:u32) capacity 8 on_full skip origin lpm init {"
       "(0, 0): (9), (167772160, 8): (1), (167837696, 16): (2), (3232235776, 24): (3), "
       "(3232235777, 32): (4), (134744072, 32): (9)}\n"
       """\
state perport: array key(index:u32) value(packets:u64, bytes:u64) capacity 10 origin array
state total: percpu_array key(index:u32) value(packets:u64) capacity 1 origin percpu_array
bb0:
  %ip:u1 = hdr.valid ipv4
  br %ip, bb1, bb6
bb1:
  %da:u32 = hdr.load ipv4.daddr
  %r:ref<routes> = map.lookup routes(%da)
  %f:u1 = ref.found routes %r
  %port:u32 = ref.load routes %r.0
  %cnt:ref<perport> = map.lookup perport(%port)
  %p:u64 = ref.load perport %cnt.0
  %one:u64 = const 1
  %p2:u64 = add %p, %one
  ref.store perport %cnt.0, %p2
  %b:u64 = ref.load perport %cnt.1
  %n:u32 = pkt.len
  %n64:u64 = zext %n
  %b2:u64 = add %b, %n64
  ref.store perport %cnt.1, %b2
  %z:u32 = const 0
  %t:ref<total> = map.lookup total(%z)
  %tp:u64 = ref.load total %t.0
  %tp2:u64 = add %tp, %one
  ref.store total %t.0, %tp2
  %sa:u32 = hdr.load ipv4.saddr
  %c24:u32 = const 24
  %c7:u32 = const 7
  %learned:u1 = map.update routes(%sa, %c24) = (%c7)
  %c12:u32 = const 12
  %oob:u1 = map.update perport(%c12) = (%one, %one)
  br %f, bb2, bb3
bb2:
  %c9:u32 = const 9
  %isdef:u1 = eq %port, %c9
  br %isdef, bb4, bb5
bb3:
  ret drop
bb4:
  map.delete routes(%da)
  ret pass
bb5:
  ret redirect %port
bb6:
  ret pass
""")


def rewrite_ir():
    """Header rewrites with checksum fix-ups, every verdict."""
    return parse_program(REWRITE)


def arith_ir():
    """Every arithmetic op; foldable constants, dead code, empty blocks, constant branch."""
    return parse_program(ARITH)


def lru_ir():
    """lru_hash with rand/now, ref.load/store, delete."""
    return parse_program(LRU)


def lpm_ir():
    """lpm with initial prefixes, arrays, percpu_array, redirect."""
    return parse_program(LPM)


#: name -> constructor of every example program (fresh object per call).
PROGRAMS = {"flowcount": flowcount_ir, "rewrite": rewrite_ir, "arith": arith_ir,
            "lru": lru_ir, "lpm": lpm_ir}
