// synguard.nf: TCP SYN flood detection and mitigation, per destination address.
//
// Detection
//   For every IPv4 destination, SYNs (SYN set, ACK clear) are counted in fixed windows of
//   WINDOW_NS (1 s). When one window holds more than SYN_THRESHOLD (1,000) SYNs, the destination
//   is under attack until ATTACK_HOLD_NS (10 s) after the last SYN over the threshold.
//
// Mitigation while a destination is under attack
//   - A SYN from a source without an established record is dropped (UNKNOWN).
//   - A SYN from a source with a record passes while that source has sent at most
//     SRC_SYN_LIMIT (20) SYNs in its current WINDOW_NS window, and is dropped beyond (RATE).
//   Outside attacks every SYN passes. Non-SYN segments, non-TCP and non-IPv4 frames always pass.
//
// Established records
//   A source gets a record when it sends a TCP segment with ACK set and SYN and RST clear (the
//   third packet of a handshake, or any later segment of a connection) to a destination that
//   is not under attack. Records older than KNOWN_TTL_NS (1 hour since the last such segment;
//   the time is refreshed at most once per KNOWN_REFRESH_NS, 1 s) count as absent. Records are not learned during an attack, so a flood that starts during
//   an attack cannot register its sources.
//
// Honest limits
//   Without seeing the server's SYN-ACK (XDP sees one direction) the ACK is not verified, so
//   an attacker that sends ACK segments with a spoofed source in peacetime can register that
//   source; its SYNs are then still held to SRC_SYN_LIMIT per window. New legitimate clients
//   cannot connect to a destination while it is under attack (the price of this simple
//   scheme; SYN cookies would avoid it but need the NF to answer SYNs). Fixed windows let a
//   burst straddling two windows reach up to twice the threshold before detection.
//
// State
//   dst_windows: map<ip4, DstWindow>[16384]: destination -> (window start ns, SYNs in that
//     window, ns until which it is under attack); when full, new destinations are not tracked
//     and their SYNs pass (on_full pass: fail open).
//   known: lru_map<ip4, u64>[65536]: source -> ns of its last established segment.
//   src_windows: lru_map<ip4, SrcWindow>[65536]: source -> (window start ns, SYNs in it), only
//     kept for SYNs to destinations under attack.
//   stats: percpu_array<u64>[4]: [0] SYNs seen, [1] dropped UNKNOWN, [2] dropped RATE,
//     [3] windows that started or extended an attack.

const WINDOW_NS: u64 = 1_000_000_000;
const SYN_THRESHOLD: u32 = 1000;
const ATTACK_HOLD_NS: u64 = 10_000_000_000;
const SRC_SYN_LIMIT: u32 = 20;
const KNOWN_TTL_NS: u64 = 3_600_000_000_000;
const KNOWN_REFRESH_NS: u64 = 1_000_000_000;

const STAT_SYN: u32 = 0;
const STAT_DROP_UNKNOWN: u32 = 1;
const STAT_DROP_RATE: u32 = 2;
const STAT_ATTACK: u32 = 3;

struct DstWindow { start_ns: u64, syns: u32, attack_until_ns: u64 }
struct SrcWindow { start_ns: u64, syns: u32 }

state dst_windows: map<ip4, DstWindow>[16384] on_full pass;
state known: lru_map<ip4, u64>[65536] on_full evict;
state src_windows: lru_map<ip4, SrcWindow>[65536] on_full evict;
state stats: percpu_array<u64>[4];

fn count(index: u32) {
    stats[index] += 1;
}

on packet {
    if (!tcp.valid || !ipv4.valid) { pass; }
    let src = ipv4.saddr;
    let dst = ipv4.daddr;
    let t = now();
    let syn = (tcp.flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;

    if (!syn) {
        // Learn established sources, but only in peacetime. The record is refreshed at most
        // once per KNOWN_REFRESH_NS: an LRU map update allocates an element.
        if ((tcp.flags & (TCP_ACK | TCP_SYN | TCP_RST)) == TCP_ACK
            && t >= dst_windows[dst].attack_until_ns) {
            if (!(src in known) || t >= known[src] + KNOWN_REFRESH_NS) { known[src] = t; }
        }
        pass;
    }

    // Count the SYN in the destination's window (a SYN outside the window starts a new one)
    // and write the entry whole, once: a found entry is written in place, and a NIC that
    // refuses stores into map values (Agilio) writes it with one map update instead.
    count(STAT_SYN);
    let w = dst_windows[dst];
    let start_ns = w.start_ns;
    let syns: u32 = 1;
    if (t >= w.start_ns + WINDOW_NS || t < w.start_ns) {
        start_ns = t;
    } else {
        syns = w.syns + 1;
    }
    let attack_until_ns = w.attack_until_ns;
    if (syns > SYN_THRESHOLD) {
        if (syns == SYN_THRESHOLD + 1) { count(STAT_ATTACK); }
        attack_until_ns = t + ATTACK_HOLD_NS;
    }
    dst_windows[dst] = DstWindow { start_ns: start_ns, syns: syns,
                                   attack_until_ns: attack_until_ns };
    if (t >= attack_until_ns) { pass; }

    // Under attack: only known sources, each at a limited SYN rate.
    if (!(src in known) || (t > known[src] && t - known[src] > KNOWN_TTL_NS)) {
        count(STAT_DROP_UNKNOWN);
        drop;
    }
    let s = src_windows[src];
    let src_start_ns = s.start_ns;
    let src_syns: u32 = 1;
    if (t >= s.start_ns + WINDOW_NS || t < s.start_ns) {
        src_start_ns = t;
    } else {
        src_syns = s.syns + 1;
    }
    src_windows[src] = SrcWindow { start_ns: src_start_ns, syns: src_syns };
    if (src_syns > SRC_SYN_LIMIT) {
        count(STAT_DROP_RATE);
        drop;
    }
    pass;
}
