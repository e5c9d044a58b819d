// tc_verdicts.nf: every verdict chosen by the frame (test of the tc target's action mapping).
// UDP destination port 1..3 picks drop / tx / redirect(to the source port's low byte);
// other frames pass, counting packets and bytes (pkt.len) per verdict taken.

struct Seen { packets: u64, bytes: u64 }

state seen: map<u32, Seen>[16] on_full skip;

on packet {
    if (!udp.valid) { seen[0].packets += 1; seen[0].bytes += pkt.len; pass; }
    let choice: u32 = udp.dport as u32;
    seen[choice & 15].packets += 1;
    seen[choice & 15].bytes += pkt.len;
    if (choice == 1) { drop; }
    if (choice == 2) { tx; }
    if (choice == 3) { redirect((udp.sport & 255) as u32); }
    pass;
}
