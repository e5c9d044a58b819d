// signed.nf: every signed operation and overflow test on operands read from the frame, for
// the kernel == interpreter differential test (tests/targets/test_signed_differential.py).
// Results go to state, to header fields (so the output bytes carry them) and to the verdict.
struct Res { q32: i32, r32: i32, sh32: i32, q8: i8, r8: i8, q16: i16, q64: i64, r64: i64,
             sh64: i64, wide: i64, flags: u32 }

state results: map<u32, Res>[4096] on_full skip;
state sums: array<i64>[4];

const NEG: i32 = -7;

fn clamp8(v: i32) -> i8 {
    if (v < -128) { return -128; }
    if (v > 127) { return 127; }
    return v as i8;
}

on packet {
    if (!tcp.valid) { pass; }
    let a: i32 = tcp.seq as i32;
    let b: i32 = tcp.ack as i32;
    let c: i8 = ipv4.ttl as i8;
    let d: i8 = tcp.sport as i8;
    let e: i16 = tcp.dport as i16;
    let x: i64 = (a as i64) * 0x100000000 + tcp.sport;
    let y: i64 = b - (e as i64) * 0x1000000000000;
    let amount = (tcp.flags as u32) & 63;
    let f: u32 = 0;
    if (a < b) { f |= 1; }
    if (a <= b) { f |= 2; }
    if (c > d) { f |= 4; }
    if (e >= -1) { f |= 8; }
    if (add_overflows(a, b)) { f |= 0x10; }
    if (sub_overflows(a, b)) { f |= 0x20; }
    if (mul_overflows(a, b)) { f |= 0x40; }
    if (add_overflows(c, d)) { f |= 0x80; }
    if (mul_overflows(c, d)) { f |= 0x100; }
    if (mul_overflows(x, y)) { f |= 0x200; }
    if (add_overflows(x, y)) { f |= 0x400; }
    if (sub_overflows(x, y)) { f |= 0x800; }
    if (add_overflows(tcp.seq, tcp.ack)) { f |= 0x1000; }
    if (sub_overflows(tcp.seq, tcp.ack)) { f |= 0x2000; }
    if (mul_overflows(tcp.seq, tcp.ack)) { f |= 0x4000; }
    if (mul_overflows((tcp.seq as u64) << 16, (tcp.ack as u64) << 8)) { f |= 0x8000; }
    if (sub_overflows(e, e as i16 * 2)) { f |= 0x10000; }
    if (x < y) { f |= 0x20000; }
    if (a == NEG || b > NEG) { f |= 0x40000; }
    match (e) {
        -32768..-1000 => { f |= 0x100000; }
        -999..-1 | 7 => { f |= 0x200000; }
        0 => { f |= 0x400000; }
        _ => { }
    }
    let r = Res {
        q32: a / b, r32: a % b, sh32: a >> amount, q8: c / d, r8: c % d,
        q16: e / (d as i16), q64: x / y, r64: x % y, sh64: x >> (amount * 2),
        wide: (c as i64) + (e as i32) - (a as u32 as i64) + (clamp8(b) as i64), flags: f,
    };
    results[tcp.seq] = r;
    sums[0] += x;
    sums[1] += c;
    sums[2] -= (-a) as i64;
    sums[3] = sums[3] >> 1;
    tcp.seq = r.q32 as u32;
    tcp.ack = f;
    ipv4.id = (r.q16 + (r.sh64 as i16)) as u16;
    tcp.window = (r.r8 as i16 - (r.sh32 as i16)) as u16;
    if (r.q64 < -1000) { drop; }
    if (r.r8 < 0 || (-r.r32) > 5) { tx; }
    pass;
}
