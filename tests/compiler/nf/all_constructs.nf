// Every construct of docs/language.md in one program (compiles; used by test_lower).
/* block comment */
struct Counts { packets: u64, bytes: u64 }
struct Key { src: ip4, port: u16 }

const LIMIT: u32 = 1_000;
const SHIFT = 0b11;
const MASK = 0xff;
const INTERNAL = 10.0.0.0/8;
const GATEWAY = 10.0.0.1;
const ROUTER_MAC = 02:00:00:00:00:01;
const ROWS = 4;

state flows: map<Flow, Counts>[65536] on_full skip;
state conns: lru_map<Key, (u64, bool)>[1024] on_full evict;
state routes: lpm<ip4, u32>[256] on_full drop = { 10.1.0.0/16: 1, INTERNAL: 2, 192.168.1.0/24: 3 };
state ports: array<u16>[16] = { 0: 80, 1: 443 };
state pcpu: percpu_array<u64>[4];
state sketch: countmin<ROWS, 1024>;
state seen: map<ip4, bool>[64] on_full pass;

fn is_internal(a: ip4) -> bool {
    return a in INTERNAL;
}

fn bump(k: Key, n: u32) {
    conns[k].0 += n;
    if (k.port == 22) { conns[k].1 = true; }
}

fn pick(x: u32, y: u32) -> u32 {
    if (x < y) { return x; } else { return y; }
}

on packet {
    if (!ethernet.valid) { drop; }
    if (ethernet.dst == ROUTER_MAC && vlan.valid) { vlan.pcp = 3; }
    if (ipv6.valid) {
        if (ipv6.saddr == ipv6.daddr) { drop; }
        ipv6.hop_limit -= 1;
        pass;
    }
    if (!ipv4.valid) { pass; }
    flows[flow].packets += 1;
    flows[flow].bytes += pkt.len;
    let f: Flow = flow;
    let k = Key { src: ipv4.saddr, port: f.dport };
    bump(k, 1);
    let t = (ipv4.ttl, ipv4.id);
    let mut_total: u64 = t.0 as u64 + t.1;
    mut_total *= 2;
    mut_total <<= SHIFT;
    mut_total = mut_total / 3 % 7 - 1;
    let b = (mut_total & MASK) ^ 5 | 1;
    match (ipv4.proto) {
        PROTO_TCP => {
            if ((tcp.flags & TCP_SYN) != 0 && (tcp.flags & TCP_ACK) == 0) { sketch.add(ipv4.saddr, 1); }
            tcp.window = 1024;
        }
        PROTO_UDP | 1 => { udp.sport = ports[1]; }
        100..200 => { drop; }
        _ => {}
    }
    match (ipv4.daddr) {
        192.168.0.0/16 => { ipv4.ttl = 64; }
        GATEWAY => { tx; }
        _ => {}
    }
    if (sketch.estimate(ipv4.saddr) > LIMIT) { drop; }
    for (i in 0..4) {
        pcpu[i] += 1;
        if (ports[i] == tcp.dport) { redirect(i + 2); }
    }
    if (is_internal(ipv4.saddr) && ipv4.daddr in 172.16.0.0/12) { ipv4.saddr = GATEWAY; }
    let r = routes[ipv4.daddr];
    routes[ipv4.saddr / 24] = 7;
    routes[192.168.7.0/24] = 9;
    if (ipv4.saddr in seen) { delete seen[ipv4.saddr]; } else { seen[ipv4.saddr] = true; }
    let h = hash(flow, now(), rand() as u8);
    let m = pick(h, r);
    let ok = !(m == 0) || b > 3 && ~h != 0 && -h != 1;
    if (ok) { icmp.id = 1; }
    let c: Counts = (1, 2);
    c.bytes = c.packets + pkt.len;
    flows[flow] = c;
    if ((ipv4.ttl != 0) as u8 == 1) { pass; }
    if (false) { drop; } else if (true) { tx; } else { pass; }
}
