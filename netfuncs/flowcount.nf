// flowcount.nf: packets and bytes per IPv4 TCP/UDP flow.
//
// What it does
//   Counts every IPv4 TCP or UDP frame in a hash map keyed by its 5-tuple. It never drops or
//   rewrites anything: every frame passes. This is the reference NF of issue 2, section 7, and
//   the one the benchmark compares against a hand-written XDP program.
//
// State
//   flows: map<Flow, Counts>[65536], key (saddr, daddr, sport, dport, proto) as the built-in
//   Flow, value (packets, bytes); `bytes` adds the whole frame length (pkt.len, Ethernet
//   header included). When the map is full a new flow is not counted (on_full skip); flows
//   already in the map keep counting.
//
// Which frames are counted (all others pass uncounted)
//   - Ethernet with ethertype 0x0800 directly after the MAC addresses. A VLAN-tagged frame is
//     not counted, even if IPv4 follows the tag.
//   - The IPv4 header is valid: 20 bytes in the frame, IHL >= 5 and all IHL*4 bytes present
//     (the language's `ipv4.valid`; the version nibble is not checked).
//   - Fragment offset 0 and a complete L4 header right after the IHL*4 bytes: 20 bytes for TCP,
//     8 for UDP (the language's `tcp.valid` / `udp.valid`). Other protocols are not counted.
//
// Assumptions
//   Each `+=` compiles to one atomic add (passes atomic-add, atomic-init), so two CPUs
//   counting the same flow at the same instant lose no increment once the flow is in the map.

struct Counts { packets: u64, bytes: u64 }

state flows: map<Flow, Counts>[65536] on_full skip;

on packet {
    // Ethernet + IPv4 only, with no VLAN tag in between.
    if (ethernet.type != ETH_P_IPV4) { pass; }
    if (!ipv4.valid) { pass; }
    if (!(tcp.valid || udp.valid)) { pass; }
    flows[flow].packets += 1;
    flows[flow].bytes += pkt.len;
    pass;
}
