"""Cost of the live-profile counters (issue 11, item 1): ns/packet with and without, every NF.

``sudo .venv/bin/python bench/live_profile.py [--nf NAME ...] [--sample N] [--rounds R]
[--repeat K] [--samples S] [--json]``

For every NF in netfuncs/, three deployable builds (kernel clock, the per-CPU verdict
counters ``cora deploy`` keeps) are loaded side by side: without live-profile counters, with
counters on every packet (``live_profile=1``) and with 1-in-N sampling (``--sample``, default
16). Each is first fed the seeded synthetic many-flow trace once (state as under real
traffic), then timed with BPF_PROG_TEST_RUN in alternating rounds (``--rounds``; up to
``--samples`` frames sampled evenly, ``--repeat`` repetitions each,
:func:`cora.runtime.testrun.measure_ns_per_packet`); figures are the medians; overhead =
with / without - 1. Goal: <= 5 %. Needs root. Figures depend on the machine's load (2 shared
cores): say so next to them.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def measure(nf_path: str, frames: list[bytes], sample_every: int, rounds: int, repeat: int,
            samples: int) -> dict:
    """ns/packet medians of one NF without counters, with N=1 and with 1-in-N counters."""
    from cora.compiler.driver import compile_file
    from cora.runtime.loader import load_xdp
    from cora.runtime.testrun import time_side_by_side
    from cora.targets.xdp import XdpTarget

    program = compile_file(nf_path)
    target = XdpTarget()
    builds = {"plain": 0, "every": 1, "sampled": sample_every}
    with ExitStack() as stack:
        fds = {k: stack.enter_context(load_xdp(target.generate(
            program, count_verdicts=True, live_profile=n))).prog_fd
            for k, n in builds.items()}
        med, _ = time_side_by_side(fds, frames, rounds, repeat, samples)
    return {"nf": Path(nf_path).stem, "ns_per_packet_plain": med["plain"],
            "ns_per_packet_counters": med["every"],
            "ns_per_packet_sampled": med["sampled"], "sample_every": sample_every,
            "overhead_counters_pct": 100 * (med["every"] / med["plain"] - 1),
            "overhead_sampled_pct": 100 * (med["sampled"] / med["plain"] - 1)}


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, measure every NF, print a table (or JSON)."""
    from cora.testbed.handwritten import synthetic_trace

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nf", action="append", help="NF name (default: every NF in netfuncs/)")
    ap.add_argument("--sample", type=int, default=16, help="N of the 1-in-N build")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=10_000)
    ap.add_argument("--samples", type=int, default=50)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    nfs = sorted(glob.glob(str(REPO / "netfuncs" / "*.nf")))
    if args.nf:
        nfs = [p for p in nfs if Path(p).stem in args.nf]
    frames = [f for _, f in synthetic_trace(n_flows=2_000, n_frames=4_000)]
    rows = [measure(p, frames, args.sample, args.rounds, args.repeat, args.samples)
            for p in nfs]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print("live-profile counters: ns/packet (BPF_PROG_TEST_RUN medians, measured; machine "
          "shared by several jobs)")
    print(f"{'nf':12} {'plain':>8} {'counted':>8} {'ovh %':>7} "
          f"{'1-in-' + str(args.sample):>8} {'ovh %':>7}")
    for r in rows:
        print(f"{r['nf']:12} {r['ns_per_packet_plain']:8.1f} {r['ns_per_packet_counters']:8.1f} "
              f"{r['overhead_counters_pct']:7.1f} {r['ns_per_packet_sampled']:8.1f} "
              f"{r['overhead_sampled_pct']:7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
