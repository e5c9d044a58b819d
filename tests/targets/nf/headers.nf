// headers.nf: user-declared headers after UDP (VXLAN, RFC 7348, with the inner Ethernet
// header, and an aggregation header with an i32 array), read and written, for the kernel ==
// interpreter differential test (tests/targets/test_headers_differential.py).
header vxlan after udp.dport == 4789 { flags: u8, reserved: u32 (24), vni: u32 (24), reserved2: u8 }
header inner after vxlan.flags == 0x08 { dst: mac, src: mac, type: u16 }
header agg after udp.dport == 9000 { job: u16, slot: u8 (7), shadow: u8 (1), count: u8,
                                     vals: i32[8] }

state vnis: map<u32, u64>[64] on_full skip;
state sums: array<i32[8]>[4];

on packet {
    if (vxlan.valid) {
        vnis[vxlan.vni] += 1;
        vxlan.vni = vxlan.vni + 1;
        if (inner.valid) {
            inner.src = 02:00:00:00:00:09;
            if (inner.type == 0x0800) { drop; }
        }
        tx;
    }
    if (!agg.valid) {
        agg.job = 7;            // does nothing: the header is not in the frame
        pass;
    }
    let s = agg.slot & 3;
    for (i in 0..8) {
        sums[s][i] += agg.vals[i];
        agg.vals[i] = sums[s][i];
    }
    agg.shadow ^= 1;
    agg.count += 1;
    if (add_overflows(agg.vals[0], agg.vals[7])) { drop; }
    tx;
}
