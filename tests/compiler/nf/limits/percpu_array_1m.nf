// expect: run
// A per-CPU array of 1 M slots, the most allowed.
state p: percpu_array<u64>[1048576];
on packet {
    p[pkt.len] += 1;
    pass;
}
