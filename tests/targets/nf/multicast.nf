// multicast.nf: the multicast verdict (docs/language.md, "Multicast") next to redirect, drop
// and pass; run in the kernel and the interpreter by tests/targets/test_multicast_kernel.py.
state workers: group[8];
state others: group[2];
state hits: array<u64>[4];
on packet {
    if (!ipv4.valid || !udp.valid) { pass; }
    hits[0] += 1;
    ipv4.ttl = ipv4.ttl - 1;
    ipv4.daddr = 10.9.9.9;
    udp.sport = 4242;
    match (udp.dport) {
        9 => { multicast(workers, exclude_ingress); }
        10 => { hits[1] += 1; multicast(others); }
        11 => { redirect(1); }
        12 => { drop; }
        _ => { multicast(workers); }
    }
}
