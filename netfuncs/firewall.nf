// firewall.nf: a stateful IPv4 firewall between an inside network and the outside.
//
// Addresses
//   Inside is INSIDE = 10.11.1.0/24; every other address is outside.
//
// Policy, first rule that applies wins
//   1. Frames that are not IPv4 (ARP, IPv6, LLDP, ...) pass: this NF filters IPv4 only, and ARP
//      must get through for anything to work. An 802.1Q/802.1ad tag is looked through.
//   2. IPv4 frames with a cut-short or malformed IPv4 header, or a first fragment whose TCP, UDP
//      or ICMP header is incomplete, are dropped (MALFORMED).
//   3. Everything from inside passes (outbound and inside-to-inside traffic). TCP and UDP flows
//      and ICMP echo requests from inside create or refresh a connection-table entry.
//   4. From outside:
//      a. non-first fragments are dropped (FRAGMENT): they carry no port to check;
//      b. packets of a live connection pass: replies to connections opened from inside, ICMP
//         echo replies to echo requests sent from inside, and further packets of inbound
//         connections accepted by rule (e);
//      c. ICMP: echo requests to inside pass (without state); destination unreachable and
//         time exceeded pass (path MTU discovery and traceroute need them; the header quoted
//         inside them is not checked); every other ICMP message is dropped (ICMP);
//      d. protocols other than TCP, UDP and ICMP are dropped (PROTO);
//      e. new TCP/UDP connections are accepted only to an inside address (else DEST) and to
//         one of the service ports 22, 80 or 443 (else PORT); a new TCP connection must start
//         with a SYN without ACK, RST or FIN (else TCP_STATE). Accepted connections create an
//         entry, so their later packets pass by rule (b).
//
// TCP handling
//   A RST in either direction is let through and deletes the connection's entry. A FIN is
//   remembered per direction; once both sides have sent a FIN the entry expires after
//   CLOSING_TIMEOUT_NS instead of TCP_TIMEOUT_NS. A SYN from the originator reopens a closing
//   entry (port reuse). Sequence numbers are not checked (Linux conntrack checks TCP windows
//   unless nf_conntrack_tcp_be_liberal is set); a connection already in progress is picked up
//   mid-stream when its inside end sends, as with nf_conntrack_tcp_loose=1.
//
// State
//   conns: lru_map<Flow, Conn>[65536]: connection table keyed by the 5-tuple as sent by the
//     side that opened the connection (ICMP echo: sport = dport = echo identifier, proto 1);
//     value: time of the last packet (ns) and FIN bits (1: originator, 2: responder). Entries
//     idle longer than their timeout count as absent and are deleted when next looked up;
//     when the table is full the least recently used entry is evicted.
//   drops: percpu_array<u64>[8]: dropped frames per reason, indexed by the DROP_* constants.
//
// Assumptions
//   The program must see both directions of a connection (attach it on every interface of
//   the router/bridge it protects, sharing the maps); attached on one interface it sees only
//   that interface's ingress.

const INSIDE = 10.11.1.0/24;

// Idle timeouts (ns). TCP: 300 s; after FINs from both sides: 10 s; UDP and ICMP echo: 30 s.
const TCP_TIMEOUT_NS: u64 = 300_000_000_000;
const CLOSING_TIMEOUT_NS: u64 = 10_000_000_000;
const UDP_TIMEOUT_NS: u64 = 30_000_000_000;

// ICMP types (RFC 792).
const ICMP_ECHO_REPLY: u8 = 0;
const ICMP_DEST_UNREACH: u8 = 3;
const ICMP_ECHO_REQUEST: u8 = 8;
const ICMP_TIME_EXCEEDED: u8 = 11;

// Drop reasons: indices into `drops`.
const DROP_MALFORMED: u32 = 0;
const DROP_FRAGMENT: u32 = 1;
const DROP_ICMP: u32 = 2;
const DROP_PROTO: u32 = 3;
const DROP_DEST: u32 = 4;
const DROP_PORT: u32 = 5;
const DROP_TCP_STATE: u32 = 6;

// FIN bits in Conn.fin.
const FIN_ORIG: u8 = 1;
const FIN_REPLY: u8 = 2;

struct Conn { last_ns: u64, fin: u8 }

state conns: lru_map<Flow, Conn>[65536] on_full evict;
state drops: percpu_array<u64>[8];

// Count a drop and end the packet.
fn refuse(reason: u32) {
    drops[reason] += 1;
    drop;
}

// The 5-tuple of the opposite direction.
fn reversed(k: Flow) -> Flow {
    return Flow { saddr: k.daddr, daddr: k.saddr, sport: k.dport, dport: k.sport, proto: k.proto };
}

fn timeout_ns(proto: u8, fin: u8) -> u64 {
    if (proto == PROTO_TCP) {
        if (fin == (FIN_ORIG | FIN_REPLY)) { return CLOSING_TIMEOUT_NS; }
        return TCP_TIMEOUT_NS;
    }
    return UDP_TIMEOUT_NS;
}

// Whether `k` has a connection entry that has not expired at time `t`; deletes an expired one.
fn live(k: Flow, t: u64) -> bool {
    if (!(k in conns)) { return false; }
    let c = conns[k];
    if (t > c.last_ns && t - c.last_ns > timeout_ns(k.proto, c.fin)) {
        delete conns[k];
        return false;
    }
    return true;
}

// Create or refresh the entry `k` for a packet sent by the originator (from_orig) or the
// responder; TCP RST deletes it, FIN sets the sender's bit, a SYN from the originator clears
// them. A new entry starts with no FIN bits (reading an absent entry gives 0).
fn track(k: Flow, t: u64, from_orig: bool) {
    let fin = conns[k].fin;
    if (tcp.valid) {
        if ((tcp.flags & TCP_RST) != 0) {
            delete conns[k];
            return;
        }
        if (from_orig && (tcp.flags & (TCP_SYN | TCP_ACK)) == TCP_SYN) { fin = 0; }
        if ((tcp.flags & TCP_FIN) != 0) {
            if (from_orig) { fin = fin | FIN_ORIG; } else { fin = fin | FIN_REPLY; }
        }
    }
    conns[k] = Conn { last_ns: t, fin: fin };
}

fn service_port(port: u16) -> bool {
    match (port) {
        22 | 80 | 443 => { return true; }
        _ => { return false; }
    }
}

on packet {
    // 1. IPv4 only (after an optional VLAN tag).
    let l3type = ethernet.type;
    if (vlan.valid) { l3type = vlan.type; }
    if (l3type != ETH_P_IPV4) { pass; }

    // 2. Malformed headers.
    if (!ipv4.valid) { refuse(DROP_MALFORMED); }
    let proto = ipv4.proto;
    if (ipv4.frag_offset == 0) {
        if ((proto == PROTO_TCP && !tcp.valid) || (proto == PROTO_UDP && !udp.valid)
            || (proto == PROTO_ICMP && !icmp.valid)) {
            refuse(DROP_MALFORMED);
        }
    }

    let t = now();
    let inside = ipv4.saddr in INSIDE;
    let ports = tcp.valid || udp.valid;
    // Tracked packets: TCP, UDP, echo requests from inside and echo replies from outside.
    let echo = false;
    if (icmp.valid) {
        if (inside) { echo = icmp.type == ICMP_ECHO_REQUEST; }
        else { echo = icmp.type == ICMP_ECHO_REPLY; }
    }
    // Connection key: the 5-tuple; an ICMP echo is identified by its identifier (RFC 792).
    let k: Flow = flow;
    if (echo) {
        k = Flow { saddr: ipv4.saddr, daddr: ipv4.daddr, sport: icmp.id, dport: icmp.id,
                   proto: PROTO_ICMP };
    }

    // The live connection this packet belongs to: sent by its responder (reversed key) or
    // by its originator.
    let conn = k;
    let from_orig = true;
    let found = false;
    if (ports || echo) {
        let r = reversed(k);
        if (live(r, t)) {
            conn = r;
            from_orig = false;
            found = true;
        } else if (live(k, t)) {
            found = true;
        }
    }

    if (!found) {
        if (inside) {
            // 3. From inside: allowed; TCP/UDP and echo requests open a connection.
            if (!(ports || echo)) { pass; }
        } else {
            // 4a. From outside: fragments.
            if (ipv4.frag_offset != 0) { refuse(DROP_FRAGMENT); }
            // 4c. ICMP without state.
            if (icmp.valid) {
                match (icmp.type) {
                    ICMP_ECHO_REQUEST => {
                        if (ipv4.daddr in INSIDE) { pass; }
                        refuse(DROP_DEST);
                    }
                    ICMP_DEST_UNREACH | ICMP_TIME_EXCEEDED => { pass; }
                    _ => { refuse(DROP_ICMP); }
                }
            }
            // 4d. Other protocols.
            if (!ports) { refuse(DROP_PROTO); }
            // 4e. New inbound connections.
            if (!(ipv4.daddr in INSIDE)) { refuse(DROP_DEST); }
            if (!service_port(flow.dport)) { refuse(DROP_PORT); }
            if (tcp.valid && (tcp.flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN)) != TCP_SYN) {
                refuse(DROP_TCP_STATE);
            }
        }
    }
    // 4b (found) and new connections from rules 3 and 4e: create or refresh the entry.
    track(conn, t, from_orig);
    pass;
}
