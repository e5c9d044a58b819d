// expect: run
// A hash map of 16 M entries (preallocated by the kernel).
state flows: map<(ip4, ip4), u64>[16777216] on_full skip;
on packet {
    if (!ipv4.valid) { pass; }
    flows[(ipv4.saddr, ipv4.daddr)] += 1;
    pass;
}
