"""Live-frames generator rate across one veth pair, measured.

``.venv/bin/python bench/trafficgen_rate.py [--frames N] [--json]`` builds a two-namespace
testbed (gen <-> dut), attaches an RxCounter (count + drop) on the dut end, and for a few
workloads sends N frames as fast as the generator goes, printing the generated rate
(Mpps, frames the kernel produced / wall time of the send) and how many arrived. Figures
are measured on this machine and depend on its load (2 vCPUs, shared).
"""

from __future__ import annotations

import argparse
import json
import sys

WORKLOADS = [  # (label, n_flows, frame bytes, proto)
    ("1 flow, 64 B", 1, 64, "udp"),
    ("1024 flows, 64 B", 1024, 64, "udp"),
    ("1024 flows, 512 B", 1024, 512, "tcp"),
    ("64 flows, 1514 B", 64, 1514, "udp"),
]


def run(frames_per_workload: int) -> list[dict]:
    """Measure every workload once; returns one dict per workload."""
    from cora.testbed.topology import two_node
    from cora.testbed.trafficgen import RxCounter, TrafficGen, synthetic_flows
    rows = []
    with two_node() as topo, TrafficGen("veth0", topo.ns("gen")) as gen:
        for label, n_flows, size, proto in WORKLOADS:
            flows = synthetic_flows(n_flows, size, proto, seed=1)
            with RxCounter("veth0", topo.ns("dut")) as rx:
                report = gen.send(flows, count=frames_per_workload)
                arrived = rx.wait_for(report.frames_sent, timeout_s=10)
            rows.append({"workload": label, "frames_sent": report.frames_sent,
                         "frames_arrived": arrived, "seconds": report.seconds,
                         "rate_mpps": report.rate_mpps,
                         "rate_gbps": report.rate_mpps * 1e6 * size * 8 / 1e9})
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print the table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=2_000_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from cora.errors import CoraError
    try:
        rows = run(args.frames)
    except CoraError as exc:
        print(f"trafficgen_rate: error: {exc.message}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"{'workload':20} {'sent':>10} {'arrived':>10} {'Mpps':>7} {'Gbit/s':>7}")
    for r in rows:
        print(f"{r['workload']:20} {r['frames_sent']:10d} {r['frames_arrived']:10d} "
              f"{r['rate_mpps']:7.2f} {r['rate_gbps']:7.2f}")
    print("(live-frames XDP_TX out of gen:veth0, XDP counter on dut:veth0; measured)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
