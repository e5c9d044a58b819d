// flowcount.nf: packets and bytes per IPv4 TCP/UDP flow.
struct Counts { packets: u64, bytes: u64 }

state flows: map<Flow, Counts>[65536] on_full skip;

on packet {
    if (!ipv4.valid || !(tcp.valid || udp.valid)) { pass; }
    flows[flow].packets += 1;
    flows[flow].bytes += pkt.len;
    pass;
}
