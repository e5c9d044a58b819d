// expect: reject
// A bounded loop of header rewrites: each rewrite fixes the IPv4 and the TCP/UDP checksums.
on packet {
    if (!ipv4.valid) { pass; }
    for (i in 0..250) {
        ipv4.ttl = ipv4.ttl - 1;
        ipv4.saddr = ipv4.saddr + 1;
    }
    pass;
}
