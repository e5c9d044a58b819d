state arith: array<u64>[16];
state words: map<(u16, u8), (u32, u64)>[64] on_full skip;
state lru: lru_map<ip4, u32>[1024] on_full evict;
state routes: lpm<ip4, u16>[16] on_full skip = { 10.0.0.0/8: 1, 10.1.0.0/16: 2, 192.168.1.0/24: 3 };
state pc: percpu_array<u32>[4];
state cms: countmin<2, 64>;
state six: map<ip6, u64>[32] on_full drop;
state macs: map<mac, u8>[16] on_full pass;

on packet {
    let a: u32 = pkt.len;
    let b: u8 = a as u8;
    arith[0] = (a / (b as u32 & 3)) as u64;
    arith[1] = (a % (b as u32 & 1)) as u64;
    arith[2] = ((a << (b & 63)) as u64);
    arith[3] = ((a >> (b & 7)) as u64) * 0xffffffff;
    arith[4] = (~a) as u64 - 5;
    arith[5] = hash(a, b, ethernet.src) as u64;
    arith[6] = now();
    arith[7] = rand() as u64;
    arith[8] = rand() as u64 ^ 7;
    macs[ethernet.src] = b;
    pc[a & 3] += 1;
    cms.add(ethernet.dst, a);
    arith[9] = cms.estimate(ethernet.dst) as u64;
    if (ipv6.valid) {
        six[ipv6.saddr] += 1;
        ipv6.hop_limit = ipv6.hop_limit - 1;
        ipv6.flow_label = 0x12345;
        if (b & 1 == 1) { ipv6.daddr = ipv6.saddr; }
    }
    if (ipv4.valid) {
        words[(ipv4.id, ipv4.ttl)] = (ipv4.saddr, now());
        let w0 = ipv4.saddr;
        atomic (words[(ipv4.id, ipv4.ttl)]) {
            let old = words[(ipv4.id, ipv4.ttl)].1;
            words[(ipv4.id, ipv4.ttl)].1 = old * 3 + 1;
            if (old % 2 == 0) { words[(ipv4.id, ipv4.ttl)].0 = w0 ^ 0xff; }
        }
        lru[ipv4.saddr] = a;
        arith[10] = routes[ipv4.daddr] as u64;
        if (ipv4.saddr in 10.0.0.0/8) { routes[ipv4.saddr/32] = 7; routes[ipv4.daddr/20] = 9; }
        ipv4.ttl = ipv4.ttl - 1;
        ipv4.dscp = 46;
        ipv4.ecn = 1;
        if (tcp.valid) {
            tcp.sport = tcp.sport + 1;
            tcp.flags = tcp.flags | TCP_ACK;
            ipv4.saddr = 10.9.8.7;
        } else if (udp.valid) {
            udp.dport = 53;
            ipv4.daddr = 192.168.1.1;
        } else if (icmp.valid) {
            icmp.seq = icmp.seq + 1;
            icmp.type = 0;
        }
    }
    if (vlan.valid) { vlan.vid = 42; vlan.pcp = 5; }
    match (b & 7) {
        0 => { drop; }
        1 | 2 => { tx; }
        _ => { pass; }
    }
}
