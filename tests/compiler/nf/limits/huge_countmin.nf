// expect: run
// A count-min sketch 1 M counters wide (4 rows).
state cm: countmin<4, 1048576>;
on packet {
    if (!ipv4.valid) { pass; }
    cm.add(ipv4.saddr, pkt.len);
    pass;
}
