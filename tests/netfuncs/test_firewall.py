"""firewall.nf: the policy of its header comment, rule by rule, with state and drop counters."""

from __future__ import annotations

from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Dot1Q, Ether

from .nfkit import NF, compile_nf, eth, icmp, ip, nf_fixtures, tcp, udp

# Drop reasons (firewall.nf DROP_* constants).
MALFORMED, FRAGMENT, ICMP_, PROTO, DEST, PORT, TCP_STATE = range(7)

IN1, IN2 = "10.11.1.10", "10.11.1.20"          # inside (10.11.1.0/24)
OUT1, OUT2 = "10.11.0.5", "10.11.0.6"          # outside
S = 1_000_000_000                              # ns per second


program, fw = nf_fixtures("firewall", "fw")


def drops(fw):
    return [fw.counter("drops", i) for i in range(8)]


def expect_drop(fw, frame, reason, t=0):
    before = drops(fw)
    out = fw.send(frame, t)
    assert out.verdict == "drop"
    after = drops(fw)
    assert after[reason] == before[reason] + 1
    assert sum(after) == sum(before) + 1


def expect_pass(fw, frame, t=0):
    out = fw.send(frame, t)
    assert out.verdict == "pass"
    assert out.frame == bytes(frame), "the firewall never rewrites"


def fkey(src, dst, sport, dport, proto):
    return (ip(src), ip(dst), sport, dport, proto)


def test_non_ipv4_passes(fw):
    expect_pass(fw, Ether() / ARP())
    expect_pass(fw, Ether() / IPv6(src="fd00::1", dst="fd00::2") / TCP(dport=8080))
    assert fw.table("conns") == {} and sum(drops(fw)) == 0


def test_outbound_tcp_creates_state_and_replies_pass(fw):
    expect_pass(fw, tcp(IN1, OUT1, 40000, 5201, "S"), t=5 * S)
    assert fw.table("conns") == {fkey(IN1, OUT1, 40000, 5201, 6): (5 * S, 0)}
    expect_pass(fw, tcp(OUT1, IN1, 5201, 40000, "SA"), t=6 * S)
    expect_pass(fw, tcp(OUT1, IN1, 5201, 40000, "A", payload=b"data"), t=7 * S)
    assert fw.table("conns") == {fkey(IN1, OUT1, 40000, 5201, 6): (7 * S, 0)}
    # the same outside host on another port has no state and 5201 is no service port
    expect_drop(fw, tcp(OUT1, IN1, 5201, 40001, "SA"), PORT, t=7 * S)
    # and a different inside host was not contacted
    expect_drop(fw, tcp(OUT1, IN2, 5201, 40000, "A"), PORT, t=7 * S)


def test_new_inbound_connections_only_to_service_ports(fw):
    for port in (22, 80, 443):
        expect_pass(fw, tcp(OUT1, IN1, 50000 + port, port, "S"))
    expect_drop(fw, tcp(OUT1, IN1, 50000, 8080, "S"), PORT)
    expect_drop(fw, udp(OUT1, IN1, 50000, 5353), PORT)
    expect_pass(fw, udp(OUT1, IN1, 50001, 443))                  # QUIC
    expect_drop(fw, tcp(OUT1, OUT2, 50000, 80, "S"), DEST)       # not to an inside address
    assert len(fw.table("conns")) == 4


def test_inbound_tcp_must_start_with_a_syn(fw):
    for flags in ("A", "SA", "R", "F", "PA"):
        expect_drop(fw, tcp(OUT1, IN1, 50000, 80, flags), TCP_STATE)
    assert fw.table("conns") == {}


def test_accepted_inbound_connection_continues_both_ways(fw):
    expect_pass(fw, tcp(OUT1, IN1, 50000, 22, "S"), t=1 * S)
    expect_pass(fw, tcp(IN1, OUT1, 22, 50000, "SA"), t=2 * S)    # server reply from inside
    expect_pass(fw, tcp(OUT1, IN1, 50000, 22, "A"), t=3 * S)     # no longer a SYN: by state
    # the reply refreshed the inbound entry instead of creating a second one
    assert fw.table("conns") == {fkey(OUT1, IN1, 50000, 22, 6): (3 * S, 0)}


def test_udp_state_expires_after_its_timeout(fw):
    expect_pass(fw, udp(IN1, OUT1, 40000, 53), t=0)
    expect_pass(fw, udp(OUT1, IN1, 53, 40000), t=30 * S)            # exactly 30 s idle: live
    expect_pass(fw, udp(OUT1, IN1, 53, 40000), t=60 * S)            # refreshed at 30 s
    expect_drop(fw, udp(OUT1, IN1, 53, 40000), PORT, t=90 * S + 1)  # idle > 30 s
    assert fw.table("conns") == {}                                  # expired entry deleted


def test_tcp_established_timeout_is_longer(fw):
    expect_pass(fw, tcp(IN1, OUT1, 40000, 5201, "S"), t=0)
    expect_pass(fw, tcp(OUT1, IN1, 5201, 40000, "A"), t=299 * S)
    expect_drop(fw, tcp(OUT1, IN1, 5201, 40000, "A"), PORT, t=600 * S)


def test_rst_deletes_the_connection(fw):
    expect_pass(fw, tcp(IN1, OUT1, 40000, 5201, "S"))
    expect_pass(fw, tcp(OUT1, IN1, 5201, 40000, "R"))               # the RST itself passes
    assert fw.table("conns") == {}
    expect_drop(fw, tcp(OUT1, IN1, 5201, 40000, "A"), PORT)


def test_fin_from_both_sides_shortens_the_timeout(fw):
    k = fkey(IN1, OUT1, 40000, 5201, 6)
    expect_pass(fw, tcp(IN1, OUT1, 40000, 5201, "S"), t=0)
    expect_pass(fw, tcp(IN1, OUT1, 40000, 5201, "FA"), t=1 * S)
    assert fw.get("conns", k) == (1 * S, 1)
    expect_pass(fw, tcp(OUT1, IN1, 5201, 40000, "FA"), t=2 * S)
    assert fw.get("conns", k) == (2 * S, 3)
    expect_drop(fw, tcp(OUT1, IN1, 5201, 40000, "A"), PORT, t=13 * S)   # > 10 s after
    # a connection with one FIN only keeps the long timeout
    expect_pass(fw, tcp(IN2, OUT1, 40000, 5201, "S"), t=0)
    expect_pass(fw, tcp(IN2, OUT1, 40000, 5201, "FA"), t=1 * S)
    expect_pass(fw, tcp(OUT1, IN2, 5201, 40000, "A"), t=13 * S)


def test_syn_from_originator_reopens_a_closing_entry(fw):
    k = fkey(IN1, OUT1, 40000, 5201, 6)
    fw.send(tcp(IN1, OUT1, 40000, 5201, "FA"), 0)
    fw.send(tcp(OUT1, IN1, 5201, 40000, "FA"), 0)
    assert fw.get("conns", k)[1] == 3
    fw.send(tcp(IN1, OUT1, 40000, 5201, "S"), 1 * S)
    assert fw.get("conns", k) == (1 * S, 0)


def test_icmp_rules(fw):
    expect_pass(fw, icmp(IN1, OUT1, type_=8, id_=77))                # ping out: tracked
    assert fw.table("conns") == {fkey(IN1, OUT1, 77, 77, 1): (0, 0)}
    expect_pass(fw, icmp(OUT1, IN1, type_=0, id_=77))                # its reply
    expect_drop(fw, icmp(OUT1, IN1, type_=0, id_=78), ICMP_)         # unsolicited reply
    expect_pass(fw, icmp(OUT1, IN1, type_=8, id_=5))                 # ping in
    expect_drop(fw, icmp(OUT1, OUT2, type_=8, id_=5), DEST)
    expect_pass(fw, icmp(OUT1, IN1, type_=3, code=4))                # frag needed (PMTUD)
    expect_pass(fw, icmp(OUT1, IN1, type_=11))                       # time exceeded
    expect_drop(fw, icmp(OUT1, IN1, type_=5), ICMP_)                 # redirect
    expect_drop(fw, icmp(OUT1, IN1, type_=13), ICMP_)                # timestamp
    assert len(fw.table("conns")) == 1                               # ping in is not tracked


def test_other_protocols_and_fragments_from_outside_are_dropped(fw):
    gre = eth() / IP(src=OUT1, dst=IN1, proto=47) / (b"\x00" * 24)
    expect_drop(fw, gre, PROTO)
    expect_pass(fw, eth() / IP(src=IN1, dst=OUT1, proto=47) / (b"\x00" * 24))
    expect_drop(fw, udp(OUT1, IN1, 53, 40000, frag=100), FRAGMENT)
    expect_pass(fw, udp(IN1, OUT1, 40000, 53, frag=100))
    assert fw.table("conns") == {}                  # a fragment carries no ports: no state


def test_malformed_ipv4_is_dropped(fw):
    good = bytes(tcp(OUT1, IN1, 50000, 80, "S"))
    bad_ihl = bytearray(good)
    bad_ihl[14] = 0x44
    expect_drop(fw, bytes(bad_ihl), MALFORMED)
    expect_drop(fw, good[:14 + 12], MALFORMED)                      # header cut short
    expect_drop(fw, good[:14 + 20 + 10], MALFORMED)                 # TCP header cut short
    expect_drop(fw, bytes(tcp(IN1, OUT1, 1, 2))[:14 + 20 + 4], MALFORMED)  # also from inside
    expect_drop(fw, bytes(icmp(OUT1, IN1))[:14 + 20 + 4], MALFORMED)


def test_vlan_tagged_traffic_is_filtered_too(fw):
    tagged = Ether() / Dot1Q(vlan=7) / IP(src=OUT1, dst=IN1) / TCP(sport=1, dport=8080, flags="S")
    expect_drop(fw, tagged, PORT)
    ok = Ether() / Dot1Q(vlan=7) / IP(src=OUT1, dst=IN1) / TCP(sport=1, dport=443, flags="S")
    expect_pass(fw, ok)


def test_inside_to_inside_passes(fw):
    expect_pass(fw, tcp(IN1, IN2, 40000, 9999, "S"))
    expect_pass(fw, tcp(IN2, IN1, 9999, 40000, "SA"))


def test_demo_mix(fw):
    """The demo's traffic shape: flows from inside pass, new inbound to other ports drop."""
    verdicts = {"pass": 0, "drop": 0}
    for i in range(20):
        t = i * 1000
        verdicts[fw.send(udp(f"10.11.1.{i + 1}", "10.11.0.2", 10000 + i, 9000), t).verdict] += 1
        verdicts[fw.send(udp("10.11.0.2", f"10.11.1.{i + 1}", 9000, 10000 + i), t).verdict] += 1
        verdicts[fw.send(udp("10.11.0.3", f"10.11.1.{i + 1}", 9000, 10000 + i), t).verdict] += 1
    assert verdicts == {"pass": 40, "drop": 20}
    assert fw.counter("drops", PORT) == 20
    assert len(fw.table("conns")) == 20


def test_full_table_evicts_least_recently_used(tmp_path):
    small = NF(compile_nf("firewall", tmp_path,
                          replace={"state conns: lru_map<Flow, Conn>[65536]":
                                   "state conns: lru_map<Flow, Conn>[2]"}))
    small.send(udp(IN1, OUT1, 1, 53), 0)
    small.send(udp(IN1, OUT1, 2, 53), 1)
    small.send(udp(OUT1, IN1, 53, 1), 2)              # flow 1 used again: flow 2 is LRU
    small.send(udp(IN1, OUT1, 3, 53), 3)              # evicts flow 2
    assert small.send(udp(OUT1, IN1, 53, 2), 4).verdict == "drop"
    assert small.send(udp(OUT1, IN1, 53, 1), 4).verdict == "pass"
    assert small.send(udp(OUT1, IN1, 53, 3), 4).verdict == "pass"
