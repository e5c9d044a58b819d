// nat.nf: source NAT (NAPT) of an inside network behind one public IPv4 address.
//
// What it does
//   Outbound: a TCP or UDP packet from INSIDE (10.11.1.0/24) to an address outside INSIDE gets
//   source address PUBLIC_ADDR and a public source port from [PORT_MIN, PORT_MIN + PORT_COUNT);
//   verdict pass (the kernel routes it on). Each flow gets its own port (address- and
//   port-dependent mapping, RFC 4787 section 4.1): the port is PORT_MIN + (hash(flow) + i) mod
//   PORT_COUNT for the first i in 0..PROBES-1 whose (proto, port) binding is free or expired;
//   if all PROBES candidates are taken the packet is dropped (NO_PORT).
//   Inbound: a TCP or UDP packet to PUBLIC_ADDR whose destination port is in the NAT range is
//   translated back (destination address and port) if a live binding exists for (proto, port)
//   and the packet comes from the remote endpoint of that binding (address- and
//   port-dependent filtering, RFC 4787 section 5); otherwise it is dropped (NO_BINDING).
//   Packets to PUBLIC_ADDR outside the NAT port range pass untouched (the gateway's own
//   services). The compiler fixes the IPv4 and TCP/UDP checksums after every rewrite.
//
// Not translated
//   Inside-to-inside traffic passes untouched. From inside to outside, ICMP, other protocols
//   and non-first fragments are dropped (UNTRANSLATABLE) rather than leak inside addresses.
//   Non-IPv4 frames and IPv4 traffic that is neither from INSIDE nor to PUBLIC_ADDR pass.
//
// State
//   nat_out: lru_map<Flow, u16>[65536]: inside 5-tuple -> public port. A mapping is trusted only
//     while nat_in still holds the matching binding; otherwise a new port is allocated.
//   nat_in: map<(u8, u16), Binding>[16384]: (proto, public port) -> inside endpoint, remote
//     endpoint and last-use time (ns). At most 2 * PORT_COUNT keys exist, so it cannot fill.
//     Bindings idle longer than TCP_TIMEOUT_NS / UDP_TIMEOUT_NS may be taken by a new flow.
//   stats: percpu_array<u64>[8]: counters indexed by the STAT_* constants.
//
// Assumptions
//   The program sees both directions (attach it on the inside and outside interfaces of the
//   gateway, sharing the maps). TCP FIN/RST do not free a port early: bindings age out.

const INSIDE = 10.11.1.0/24;
const PUBLIC_ADDR: ip4 = 10.11.0.1;
const PORT_MIN: u32 = 20000;
const PORT_COUNT: u32 = 8192;
const PROBES: u32 = 8;

// Binding idle timeouts (ns): TCP 300 s, UDP 30 s (RFC 4787 REQ-5 asks for at least 120 s
// for UDP in general; 30 s is a common choice for short request/response traffic).
const TCP_TIMEOUT_NS: u64 = 300_000_000_000;
const UDP_TIMEOUT_NS: u64 = 30_000_000_000;

// Counters: indices into `stats`.
const STAT_OUT: u32 = 0;
const STAT_IN: u32 = 1;
const STAT_NEW_BINDING: u32 = 2;
const STAT_DROP_NO_PORT: u32 = 3;
const STAT_DROP_NO_BINDING: u32 = 4;
const STAT_DROP_UNTRANSLATABLE: u32 = 5;

struct Binding {
    inside_addr: ip4,
    inside_port: u16,
    remote_addr: ip4,
    remote_port: u16,
    last_ns: u64,
}

state nat_out: lru_map<Flow, u16>[65536] on_full evict;
state nat_in: map<(u8, u16), Binding>[16384] on_full drop;
state stats: percpu_array<u64>[8];

fn count(index: u32) {
    stats[index] += 1;
}

fn expired(b: Binding, proto: u8, t: u64) -> bool {
    let limit = UDP_TIMEOUT_NS;
    if (proto == PROTO_TCP) { limit = TCP_TIMEOUT_NS; }
    return t > b.last_ns && t - b.last_ns > limit;
}

// Whether binding `b` belongs to the inside flow `f`.
fn owns(b: Binding, f: Flow) -> bool {
    return b.inside_addr == f.saddr && b.inside_port == f.sport
        && b.remote_addr == f.daddr && b.remote_port == f.dport;
}

on packet {
    if (!ipv4.valid) { pass; }
    let t = now();

    // Outbound: inside -> outside.
    if (ipv4.saddr in INSIDE) {
        if (ipv4.daddr in INSIDE) { pass; }
        if (!(tcp.valid || udp.valid)) {
            count(STAT_DROP_UNTRANSLATABLE);
            drop;
        }
        let f = flow;
        let port: u16 = 0;
        if (f in nat_out) {
            let p = nat_out[f];
            if ((f.proto, p) in nat_in && owns(nat_in[(f.proto, p)], f)) { port = p; }
        }
        if (port == 0) {
            let h = hash(f.saddr, f.daddr, f.sport, f.dport, f.proto);
            for (i in 0..PROBES) {
                if (port == 0) {
                    let candidate = (PORT_MIN + (h + i) % PORT_COUNT) as u16;
                    let key = (f.proto, candidate);
                    if (!(key in nat_in) || expired(nat_in[key], f.proto, t)) { port = candidate; }
                }
            }
            if (port == 0) {
                count(STAT_DROP_NO_PORT);
                drop;
            }
            nat_out[f] = port;
            count(STAT_NEW_BINDING);
        }
        nat_in[(f.proto, port)] = Binding { inside_addr: f.saddr, inside_port: f.sport,
                                            remote_addr: f.daddr, remote_port: f.dport,
                                            last_ns: t };
        ipv4.saddr = PUBLIC_ADDR;
        if (tcp.valid) { tcp.sport = port; } else { udp.sport = port; }
        count(STAT_OUT);
        pass;
    }

    // Inbound: outside -> public address.
    if (ipv4.daddr == PUBLIC_ADDR && (tcp.valid || udp.valid)) {
        let f = flow;
        if (f.dport < PORT_MIN || f.dport >= PORT_MIN + PORT_COUNT) { pass; }
        let key = (f.proto, f.dport);
        if (!(key in nat_in)) {
            count(STAT_DROP_NO_BINDING);
            drop;
        }
        let b = nat_in[key];
        if (b.remote_addr != f.saddr || b.remote_port != f.sport || expired(b, f.proto, t)) {
            count(STAT_DROP_NO_BINDING);
            drop;
        }
        nat_in[key].last_ns = t;
        ipv4.daddr = b.inside_addr;
        if (tcp.valid) { tcp.dport = b.inside_port; } else { udp.dport = b.inside_port; }
        count(STAT_IN);
        pass;
    }
    pass;
}
