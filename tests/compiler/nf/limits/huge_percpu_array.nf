// expect: reject
// A per-CPU array of 16 M slots: the kernel allocates each slot separately (minutes).
state p: percpu_array<u64>[16777216];
on packet {
    p[pkt.len] += 1;
    pass;
}
