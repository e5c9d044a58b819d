// expect: reject
// Nested loops of header rewrites: 16 x 16 iterations of a checksum-fixing store.
on packet {
    if (!ipv4.valid) { pass; }
    for (i in 0..16) {
        for (j in 0..16) {
            ipv4.daddr = ipv4.daddr ^ 1;
        }
    }
    pass;
}
