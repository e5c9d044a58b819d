"""Hot-swap latency and frames lost across swaps and a state migration, under live traffic.

For every NF of the library (or ``--nf``): deploy it on a veth in a fresh test namespace,
start the live-frames generator in the peer namespace at ``--pps`` (a fixed cycle of
frames, :func:`offload_testbed.flow_frames`), then hot-swap the program ``--swaps`` times
(:func:`cora.runtime.swap.swap_program`, every map kept) and move the NF's first hash
state into a new map once (:func:`cora.runtime.migrate.move_state`: two more swaps) while
the frames flow. Printed per NF:

- swap latency p50/p99: the replace itself (the rtnetlink ``XDP_FLAGS_REPLACE`` request;
  the kernel runs the new program when it returns), ms;
- prepare p50: compile + verifier load of the new version before it (bcc), ms;
- frames generated, frames the NF saw (sum of its verdict counters over every version) and
  frames lost (their difference);
- for the NFs whose state does not depend on time (flowcount, lb): whether the state equals
  the reference interpreter's over the same frame sequence (entries and counts lost: 0).

Usage: ``python bench/runtime_swap.py [--nf flowcount ...] [--swaps 20] [--pps 5000]
[--json]`` (defaults: 20 swaps at 5000 frames/s). Needs root. Say in any quote of the
figures whether the machine was loaded.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NFS = ("flowcount", "lb", "firewall", "synguard", "nat", "ratelimit", "heavyhitter")
#: NFs whose state depends on the frames only (no now()): compared with the interpreter
TIME_FREE = ("flowcount", "lb")
DEV = "veth0"


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by linear interpolation (numpy's default method)."""
    import numpy as np

    return float(np.quantile(np.asarray(values, dtype=float), q))


def run_nf(nf: str, swaps: int, pps: float) -> dict:
    """Deploy ``nf``, swap it ``swaps`` times and migrate one state under traffic."""
    from offload_testbed import flow_frames

    from cora.compiler import compile_file
    from cora.runtime import pins
    from cora.runtime.deploy import deploy, read_stats, undeploy
    from cora.runtime.migrate import MOVABLE_KINDS, move_state
    from cora.runtime.swap import swap_program
    from cora.testbed.live_traffic import (
        BackgroundTraffic,
        interpreter_state,
        wait_for_verdicts,
    )
    from cora.testbed.topology import two_node

    program = compile_file(REPO / "netfuncs" / f"{nf}.nf")
    frames = flow_frames(nf, 64)
    movable = [s.name for s in program.states if s.kind in MOVABLE_KINDS and not s.init]
    swap_ms: list[float] = []
    prepare_ms: list[float] = []
    migration = None
    with two_node() as topo:
        ns, gen_ns = topo.ns("dut"), topo.ns("gen")
        try:
            deploy(program, DEV, ns)
            with BackgroundTraffic(DEV, gen_ns, frames, rate_pps=pps) as traffic:
                traffic.wait_generated(1000)
                for i in range(swaps):
                    rep = swap_program(DEV, ns, program)
                    swap_ms.append(rep.swap_ns / 1e6)
                    prepare_ms.append(rep.load_ns / 1e6)
                    if i == swaps // 2 and movable:
                        source = pins.deployment_dir(DEV, ns) / "maps" / movable[0]
                        mig = move_state(DEV, ns, program, {movable[0]: str(source)})
                        for s in mig.swaps:
                            swap_ms.append(s["swap_ns"] / 1e6)
                            prepare_ms.append(s["load_ns"] / 1e6)
                        migration = {"state": movable[0], **mig.to_json()}
                traffic.wait_generated(traffic.gen.generated() + 1000)
                sent = traffic.stop()
                seen = wait_for_verdicts(DEV, ns, sent)
                sequence = traffic.sequence(sent) if nf in TIME_FREE else []
            st = read_stats(DEV, ns)
        finally:
            try:
                undeploy(DEV, ns)
            except Exception as exc:  # report, do not hide the first error
                print(f"{nf}: undeploy failed: {exc}", file=sys.stderr)
    state_equal = None
    if sequence:
        state_equal = st["maps"] == interpreter_state(program, sequence)["maps"]
    return {"nf": nf, "swaps": len(swap_ms), "swap_ms_p50": percentile(swap_ms, 0.5),
            "swap_ms_p99": percentile(swap_ms, 0.99), "swap_ms_max": max(swap_ms),
            "prepare_ms_p50": statistics.median(prepare_ms),
            "frames_generated": sent, "frames_seen": seen, "frames_lost": sent - seen,
            "verdicts": st["verdicts"], "state_equals_interpreter": state_equal,
            "migrated_state": migration["state"] if migration else None,
            "migration_phase_ms": {k: v / 1e6 for k, v in migration["phase_ns"].items()}
            if migration else None}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nf", action="append", choices=NFS, help="NF(s) (default: all)")
    ap.add_argument("--swaps", type=int, default=20, help="plain swaps per NF (>= 1)")
    ap.add_argument("--pps", type=float, default=5_000, help="generator rate, frames/s")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--rows-out", metavar="FILE", default=None,
                    help="also append each NF's row to FILE as one JSON line when it is done")
    args = ap.parse_args(argv)
    if args.swaps < 1 or args.pps <= 0:
        ap.error("--swaps must be >= 1 and --pps positive")
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load = open("/proc/loadavg").read().split()[:3]
    rows = []
    for nf in args.nf or NFS:
        t0 = time.monotonic()
        rows.append(run_nf(nf, args.swaps, args.pps))
        if args.rows_out:
            with open(args.rows_out, "a") as fh:
                fh.write(json.dumps(rows[-1]) + "\n")
        print(f"runtime_swap: {nf} done in {time.monotonic() - t0:.0f} s", file=sys.stderr,
              flush=True)
    out = {"started": started, "loadavg_at_start": load, "pps": args.pps, "rows": rows,
           "cpus": __import__("os").cpu_count()}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"runtime_swap: {started}, {out['cpus']} CPUs, load average {' '.join(load)} at "
          f"start (a shared, loaded machine), generator {args.pps:.0f} frames/s")
    print(f"{'NF':12} {'swaps':>5} {'swap p50 ms':>11} {'p99 ms':>7} {'prep p50 ms':>11} "
          f"{'generated':>9} {'seen':>9} {'lost':>4}  {'state = interp':14} migrated")
    for r in rows:
        eq = {None: "n/a (now())", True: "yes", False: "NO"}[r["state_equals_interpreter"]]
        print(f"{r['nf']:12} {r['swaps']:>5} {r['swap_ms_p50']:>11.2f} "
              f"{r['swap_ms_p99']:>7.2f} {r['prepare_ms_p50']:>11.0f} "
              f"{r['frames_generated']:>9} {r['frames_seen']:>9} {r['frames_lost']:>4}  "
              f"{eq:14} {r['migrated_state'] or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
