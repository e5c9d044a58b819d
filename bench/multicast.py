"""Live cost of the multicast verdict: copies delivered per second vs group size.

``sudo .venv/bin/python bench/multicast.py [--frames N] [--rounds R] [--json]``

Topology (namespaces ``cora-mcast-bench-<random>-*``, removed on exit): a switch namespace
``sw`` with ports ``p0..p4``, each a veth to a receiver namespace ``h<i>`` whose end runs an
XDP counter that drops (:class:`cora.testbed.trafficgen.RxCounter`; a veth delivers an
XDP-redirected frame only while its peer runs XDP). ``tests/targets/nf/multicast.nf`` is
loaded (the kernel engine's build, not attached) and fed N UDP frames with the live-frames
test run (``BPF_F_TEST_XDP_LIVE_FRAMES``, MACHINE.md) as if they arrived on ``p0``; the NF
sends them with ``multicast(workers, exclude_ingress)`` to a group of ``p0`` plus k ports,
so k copies per frame (k = 1..4), or with ``redirect`` to one port (the baseline of k = 1).

Per k, in alternating rounds: input rate = N / wall time of the live run (the run returns
once every frame went through the program and its redirects were flushed), copies counted
at the receivers (all must arrive: the run fails otherwise), copies per second. Medians.
Figures are MEASURED on this 2-core VM shared with other engineers: say the load next to them.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import time
from pathlib import Path

NF = Path(__file__).resolve().parents[1] / "tests" / "targets" / "nf" / "multicast.nf"
PORTS = 5


def udp_frame(dport: int) -> bytes:
    """A 64-byte UDP frame to ``dport`` (9: multicast excluding the ingress; 11: redirect)."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    f = bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") /
              IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1000, dport=dport))
    return f.ljust(60, b"\0")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=500_000, help="frames per run")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from cora.compiler.driver import compile_file
    from cora.runtime import bpf_syscall as bs
    from cora.runtime.engine import KernelEngine
    from cora.testbed.topology import in_netns, star
    from cora.testbed.trafficgen import RxCounter

    program = compile_file(NF)
    rows: dict[str, list[tuple[float, float]]] = {}
    with star(PORTS, prefix=f"cora-mcast-bench-{secrets.token_hex(2)}-") as topo:
        sw = topo.ns("sw")
        with in_netns(sw):
            import socket
            idx = [socket.if_nametoindex(f"p{i}") for i in range(PORTS)]
        counters = [RxCounter("eth0", topo.ns(f"h{i}")) for i in range(PORTS)]
        try:
            # redirect(1) in the NF goes to ifindex 1 (lo): use p1's index instead by
            # filling 'others' and sending dport 10 (multicast to one port, no exclusion)
            with KernelEngine(program) as k:
                cases = [("multicast k=1 (others)", 10, [idx[1]], 1)]
                cases += [(f"multicast k={n} (exclude ingress)", 9, idx[:n + 1], n)
                          for n in range(1, PORTS)]
                for _ in range(args.rounds):
                    for name, dport, group, copies in cases:
                        with in_netns(sw):
                            k.set_group("workers" if dport == 9 else "others", group)
                        before = sum(c.read()[0] for c in counters)
                        t0 = time.perf_counter()
                        with in_netns(sw):
                            bs.xdp_live_frames(k.loaded.prog_fd, udp_frame(dport), idx[0],
                                               repeat=args.frames)
                        dt = time.perf_counter() - t0
                        want = before + copies * args.frames
                        deadline = time.monotonic() + 10
                        got = sum(c.read()[0] for c in counters)
                        while got < want and time.monotonic() < deadline:
                            time.sleep(0.01)
                            got = sum(c.read()[0] for c in counters)
                        if got != want:
                            print(f"error: {name}: {got - before} copies arrived, "
                                  f"{copies * args.frames} sent", file=sys.stderr)
                            return 1
                        rows.setdefault(name, []).append((args.frames / dt,
                                                          copies * args.frames / dt))
        finally:
            for c in counters:
                c.close()
    out = {name: {"input_mpps": round(statistics.median(r[0] for r in v) / 1e6, 3),
                  "copies_mpps": round(statistics.median(r[1] for r in v) / 1e6, 3)}
           for name, v in rows.items()}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"{'case':36} {'input Mpps':>10} {'copies Mpps':>12}   (median of {args.rounds} "
          f"rounds, {args.frames:,} frames each; MEASURED, shared 2-core VM)")
    for name, v in out.items():
        print(f"{name:36} {v['input_mpps']:>10.3f} {v['copies_mpps']:>12.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
