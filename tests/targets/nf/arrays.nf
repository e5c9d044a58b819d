// arrays.nf: fixed-size arrays in a state value, a struct field, a map value and a local,
// indexed by constants and unrolled loop variables (tests/targets/test_arrays_differential.py).
const K = 8;
struct Slot { bitmap: u32, count: u32, sums: i32[K] }
state slots: array<Slot>[4];
state hist: map<u32, u16[4]>[64] on_full skip;
on packet {
    if (!tcp.valid) { pass; }
    let v: i32[4] = (1, -2, 3, -4);
    let idx = tcp.seq & 3;
    for (i in 0..K) {
        slots[idx].sums[i] += (tcp.ack >> i) as i32 - v[i % 4];
    }
    slots[idx].count += 1;
    for (j in 0..4) {
        v[j] = v[3 - j] * 2;
        hist[tcp.sport as u32][j] += v[j] as u16;
    }
    tcp.ack = slots[idx].sums[K - 1] as u32 + v[0] as u32;
    pass;
}
