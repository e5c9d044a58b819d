"""firewall.nf against an independent Python model of its documented policy (hypothesis):
random packet sequences over a small address/port universe, verdicts and the whole
connection table compared after every frame."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP

from .nfkit import NF, eth, ip, program_fixture

S = 1_000_000_000
INSIDE = ("10.11.1.1", "10.11.1.2")
OUTSIDE = ("10.11.0.1", "198.51.100.9")
PORTS = (22, 80, 443, 5000, 6000)
TCP_FLAGS = {"S": 0x02, "SA": 0x12, "A": 0x10, "PA": 0x18, "FA": 0x11, "R": 0x04, "RA": 0x14}
TCP_TIMEOUT, CLOSING_TIMEOUT, UDP_TIMEOUT = 300 * S, 10 * S, 30 * S
SERVICES = {22, 80, 443}
MALFORMED, FRAGMENT, ICMP_, PROTO, DEST, PORT, TCP_STATE = range(7)


class Model:
    """The policy of firewall.nf's header comment, written from the comment alone."""

    def __init__(self):
        self.conns: dict[tuple, list[int]] = {}      # key -> [last_ns, fin bits]
        self.drops = [0] * 8

    def _timeout(self, proto, fin):
        if proto == 6:
            return CLOSING_TIMEOUT if fin == 3 else TCP_TIMEOUT
        return UDP_TIMEOUT

    def _live(self, k, t):
        c = self.conns.get(k)
        if c is None:
            return False
        if t > c[0] and t - c[0] > self._timeout(k[4], c[1]):
            del self.conns[k]
            return False
        return True

    def _track(self, k, t, from_orig, flags):
        fin = self.conns.get(k, [0, 0])[1]
        if flags is not None:
            if flags & 0x04:
                self.conns.pop(k, None)
                return
            if from_orig and flags & 0x12 == 0x02:
                fin = 0
            if flags & 0x01:
                fin |= 1 if from_orig else 2
        self.conns[k] = [t, fin]

    def _drop(self, reason):
        self.drops[reason] += 1
        return "drop"

    def step(self, p, t):
        src, dst, kind = p["src"], p["dst"], p["kind"]
        inside = src.startswith("10.11.1.")
        dst_inside = dst.startswith("10.11.1.")
        frag = p["frag"]
        flags = TCP_FLAGS[p["flags"]] if kind == "tcp" and not frag else None
        ports = kind in ("tcp", "udp") and not frag
        echo = False
        if kind == "icmp" and not frag:
            echo = p["icmp_type"] == (8 if inside else 0)
        if echo:
            k = (ip(src), ip(dst), p["sport"], p["sport"], 1)
        elif ports:
            k = (ip(src), ip(dst), p["sport"], p["dport"], 6 if kind == "tcp" else 17)
        else:
            k = (0, 0, 0, 0, 0)
        conn, from_orig, found = k, True, False
        if ports or echo:
            r = (k[1], k[0], k[3], k[2], k[4])
            if self._live(r, t):
                conn, from_orig, found = r, False, True
            elif self._live(k, t):
                found = True
        if not found:
            if inside:
                if not (ports or echo):
                    return "pass"
            else:
                if frag:
                    return self._drop(FRAGMENT)
                if kind == "icmp":
                    ty = p["icmp_type"]
                    if ty == 8:
                        return "pass" if dst_inside else self._drop(DEST)
                    if ty in (3, 11):
                        return "pass"
                    return self._drop(ICMP_)
                if not ports:
                    return self._drop(PROTO)
                if not dst_inside:
                    return self._drop(DEST)
                if p["dport"] not in SERVICES:
                    return self._drop(PORT)
                if kind == "tcp" and flags & 0x17 != 0x02:
                    return self._drop(TCP_STATE)
        self._track(conn, t, from_orig, flags)
        return "pass"


def build(p):
    ip_layer = IP(src=p["src"], dst=p["dst"], frag=p["frag"])
    if p["kind"] == "tcp":
        return eth() / ip_layer / TCP(sport=p["sport"], dport=p["dport"], flags=p["flags"])
    if p["kind"] == "udp":
        return eth() / ip_layer / UDP(sport=p["sport"], dport=p["dport"]) / b"u"
    if p["kind"] == "icmp":
        return eth() / ip_layer / ICMP(type=p["icmp_type"], id=p["sport"]) / b"i"
    return eth() / IP(src=p["src"], dst=p["dst"], proto=47, frag=p["frag"]) / (b"\x00" * 8)


# A few connections (endpoints, protocol); every packet belongs to one of them, in either
# direction, so that sequences exercise state (replies, FIN/RST, timeouts) and not only rules.
connection = st.fixed_dictionaries({
    "src": st.sampled_from(INSIDE + OUTSIDE),
    "dst": st.sampled_from(INSIDE + OUTSIDE),
    "kind": st.sampled_from(["tcp", "tcp", "tcp", "udp", "udp", "icmp", "gre"]),
    "sport": st.sampled_from(PORTS),
    "dport": st.sampled_from(PORTS),
})
step = st.fixed_dictionaries({
    "conn": st.integers(0, 2),
    "reverse": st.booleans(),
    "flags": st.sampled_from(["S", "S", "SA", "A", "A", "PA", "FA", "FA", "R", "RA"]),
    "icmp_type": st.sampled_from([0, 0, 3, 5, 8, 8, 11]),
    "frag": st.sampled_from([0, 0, 0, 0, 0, 7]),
    "dt_ns": st.sampled_from([0, 1, S, 5 * S, 9 * S, 11 * S, 29 * S, 31 * S, 299 * S, 301 * S]),
})


def packets_of(conns, steps):
    out = []
    for st_ in steps:
        c = conns[st_["conn"] % len(conns)]
        p = dict(c, **{k: st_[k] for k in ("flags", "icmp_type", "frag", "dt_ns")})
        if st_["reverse"]:
            p["src"], p["dst"] = c["dst"], c["src"]
            p["sport"], p["dport"] = c["dport"], c["sport"]
            if c["kind"] == "icmp":
                p["sport"] = c["sport"]           # the echo identifier is kept by the reply
        out.append(p)
    return out


program = program_fixture("firewall")


@pytest.mark.slow
@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(connection, min_size=1, max_size=3), st.lists(step, min_size=1, max_size=50))
def test_firewall_matches_the_model(program, conns, steps):
    packets = packets_of(conns, steps)
    fw, model = NF(program), Model()
    t = 1_700_000_000 * S
    for i, p in enumerate(packets):
        t += p["dt_ns"]
        want = model.step(p, t)
        got = fw.send(build(p), t).verdict
        assert got == want, (i, p)
        assert fw.table("conns") == {k: tuple(v) for k, v in model.conns.items()}, (i, p)
    assert [fw.counter("drops", r) for r in range(8)] == model.drops
