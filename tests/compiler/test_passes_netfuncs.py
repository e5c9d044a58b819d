"""The passes on the real NF library: every netfuncs/*.nf, compiled with and without the
default pipeline, behaves identically in the interpreter on every frame of every shared trace
(verdict, port, output bytes, final state); flowcount.nf also matches the flowcount oracle."""

from __future__ import annotations

import functools
import random
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import Ether

from cora.compiler.driver import compile_file
from cora.compiler.interp import Interpreter
from cora.compiler.ir.verify import verify

from .interp_helpers import MACS, behaviour, flowcount_oracle, trace_records

NETFUNCS = sorted((Path(__file__).resolve().parents[2] / "netfuncs").glob("*.nf"))


def all_frames() -> list[tuple[int, bytes]]:
    return [r for _, records in trace_records() for r in records]


# Addresses the library's NFs act on (inside network, NAT public address, LB VIP and
# backends) and some outside ones; ports of the LB services and the NAT range.
ADDRS = ["10.11.1.5", "10.11.1.77", "10.11.0.1", "10.11.0.100", "10.11.2.1", "10.11.2.3",
         "8.8.8.8", "192.0.2.9", "203.0.113.7"]
PORTS = [80, 53, 22, 443, 20000, 20001, 24000, 28191, 5000, 40000]


@functools.lru_cache(maxsize=2)
def synthetic_frames(n: int, seed: int) -> list[tuple[int, bytes]]:
    """``n`` TCP/UDP/ICMP frames between the addresses above, both directions, with SYN/ACK/
    FIN/RST flags, timestamps 1 ms..60 s apart (so timeouts expire), from a seeded RNG."""
    rnd = random.Random(seed)
    out, ts = [], 1_000_000_000
    for _ in range(n):
        src, dst = rnd.choice(ADDRS), rnd.choice(ADDRS)
        kind = rnd.choice(["tcp", "tcp", "udp", "udp", "icmp"])
        ip = IP(src=src, dst=dst, ttl=rnd.choice([1, 2, 64]))
        if kind == "tcp":
            l4 = TCP(sport=rnd.choice(PORTS), dport=rnd.choice(PORTS),
                     flags=rnd.choice(["S", "SA", "A", "PA", "FA", "R"]))
        elif kind == "udp":
            l4 = UDP(sport=rnd.choice(PORTS), dport=rnd.choice(PORTS))
        else:
            l4 = ICMP(type=rnd.choice([0, 3, 8, 11]))
        ts += rnd.choice([1_000_000, 50_000_000, 2_000_000_000, 60_000_000_000])
        out.append((ts, bytes(Ether(**MACS) / ip / l4 / (b"x" * rnd.randrange(0, 64)))))
    return out


@pytest.mark.slow
def test_library_present_and_synthetic_mix_reaches_rewrites():
    assert {p.stem for p in NETFUNCS} >= {"flowcount", "firewall", "nat", "lb"}
    frames = synthetic_frames(3000, seed=1)
    for stem, verdicts in (("nat", {"pass", "drop"}), ("lb", {"pass", "tx"}),
                           ("firewall", {"pass", "drop"})):
        out, _ = behaviour(compile_file(NETFUNCS[[p.stem for p in NETFUNCS].index(stem)]), frames)
        assert {v for v, _, _ in out} >= verdicts, stem
        if stem in ("nat", "lb"):                   # header rewrites happen
            assert sum(o != f for (_, f), (_, _, o) in zip(frames, out, strict=True)) > 10, stem


@pytest.mark.slow
@pytest.mark.parametrize("path", NETFUNCS, ids=lambda p: p.stem)
def test_default_pipeline_preserves_nf_behaviour_on_all_traces(path):
    plain = compile_file(path, passes=False)
    optimised = compile_file(path, passes=True)
    verify(optimised)
    # atomic-init adds a lookup and atomic adds to an insert of atomic counters (the Agilio
    # offload needs counters inserted as zero); the rest of the pipeline only shrinks
    inits = sum(1 for _, op in optimised.ops() if op.opcode == "map.lookup"
                and (op.dest or "").startswith("init"))
    assert sum(1 for _ in optimised.ops()) <= sum(1 for _ in plain.ops()) + 4 * inits
    for frames in (all_frames(), synthetic_frames(3000, seed=1)):
        before = behaviour(plain, frames)
        assert behaviour(optimised, frames) == before



def test_flowcount_nf_matches_oracle_on_each_trace():
    program = compile_file(NETFUNCS[[p.stem for p in NETFUNCS].index("flowcount")])
    for name, records in trace_records():
        it = Interpreter(program)
        for ts, frame in records:
            assert it.run(frame, ts).verdict == "pass"
        assert dict(it.state_entries("flows")) == flowcount_oracle([f for _, f in records]), name
