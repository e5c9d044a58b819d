"""Runtime daemon figures (issue 11): detection-to-swap latency p50/p99, frames lost across
plan changes, under live traffic on the emulated NIC + host testbed.

``sudo .venv/bin/python bench/runtime.py [--nf NAME ...] [--cycles N] [--rate PPS] [--json]``

For each NF and each cycle: three namespaces (gen -> nic -> host, :func:`cora.testbed.
offload_experiment.three_node`); the runtime daemon's pieces run in this process
(:class:`cora.runtime.daemon.RuntimeDaemon` without its socket loop) and deploy the NF split
with every block on the host (the NIC side a pass-through), with live-profile counters; the
live-frames generator sends a fixed mix at ``--rate``; windows of ``--interval`` are read
until the re-plan (bluefield2 model, 1 window of gain above the 5 % hysteresis) adopts a plan
and swaps it in (NIC stage with its written states moved by read-through, then the host
stage). Latency = from the start of the decision on the window that triggered the re-plan to
the return of the last stage's swap (the new programs handle frames from the replace on);
with K >= 2 (``--consecutive``, default 2) a plan that moves no state is compiled ahead
from window 1 and only committed at window K; a plan that moves state is compiled at commit.
Frames lost =
frames generated - frames the first stage's verdict counters saw (every program version).
Needs root. The machine is shared (2 cores, several jobs): say so next to the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def one_cycle(nf: str, rate_pps: float, interval_s: float, runtime_dir: str,
              consecutive: int = 2) -> dict:
    """Deploy, wait for the plan change under traffic, account; returns the figures."""
    from cora.runtime.daemon import DaemonOptions, RuntimeDaemon
    from cora.runtime.daemon_policy import PolicySettings
    from cora.runtime.deploy import undeploy
    from cora.testbed.live_traffic import BackgroundTraffic, wait_for_verdicts
    from cora.testbed.offload_experiment import three_node
    from cora.testbed.topology import Topology
    from cora.testbed.trafficgen import synthetic_flows

    frames = synthetic_flows(40, seed=11) + synthetic_flows(20, proto="tcp", seed=12)
    with Topology() as topo:
        three_node(topo)
        gen_ns, nic_ns, host_ns = topo.ns("gen"), topo.ns("nic"), topo.ns("host")
        settings = PolicySettings(interval_s=interval_s, consecutive=consecutive, min_packets=50,
                                  model_rate_mpps=1.0)
        d = RuntimeDaemon(DaemonOptions(str(REPO / "netfuncs" / f"{nf}.nf"), "veth1", host_ns,
                                        "veth0", nic_ns, settings=settings,
                                        runtime_dir=runtime_dir))
        try:
            d.adopt_or_deploy()
            with BackgroundTraffic("veth0", gen_ns, frames, rate_pps=rate_pps) as traffic:
                d.window()
                deadline = time.monotonic() + 300
                while d.status.swaps == 0 and d.status.swap_failures == 0 and \
                        time.monotonic() < deadline:
                    time.sleep(interval_s)
                    d.window()
                traffic.wait_generated(traffic.gen.generated() + int(rate_pps * 0.2))
                sent = traffic.stop()
            seen = wait_for_verdicts("veth0", nic_ns, sent)
            return {"nf": nf, "latency_ms": d.status.swap_latency_ms[-1]
                    if d.status.swap_latency_ms else None,
                    "prepared_ahead": any(h.prepared_ahead for h in d.replanner.history),
                    "swap_failures": d.status.swap_failures, "frames_sent": sent,
                    "frames_lost": sent - seen,
                    "history": [h.log_line() for h in d.replanner.history]}
        finally:
            d.close_prepared()
            with contextlib.suppress(Exception):
                undeploy("veth1", host_ns)
            with contextlib.suppress(Exception):
                undeploy("veth0", nic_ns)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile ``q`` in [0, 100] of ``values`` (non-empty)."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(q / 100 * len(s) + 0.5)) - 1))
    return s[k]


def main(argv: list[str] | None = None) -> int:
    """Run the cycles and print one line per NF (or JSON)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nf", action="append", help="NF name (default flowcount, firewall, "
                                                  "synguard, lb)")
    ap.add_argument("--cycles", type=int, default=5)
    ap.add_argument("--rate", type=float, default=5_000, help="frames/s")
    ap.add_argument("--interval", type=float, default=0.2, help="window, s")
    ap.add_argument("--consecutive", type=int, default=2,
                    help="K (>= 2: the candidate is compiled ahead from window 1)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--experiment", metavar="PNG",
                    help="instead: the three-phase experiment (testbed/runtime_experiment.py) "
                         "on the first --nf (default flowcount); table on stdout, plot to PNG")
    args = ap.parse_args(argv)
    if args.experiment:
        from cora.testbed.runtime_experiment import plot, run_experiment, table

        nf = (args.nf or ["flowcount"])[0]
        res = run_experiment(str(REPO / "netfuncs" / f"{nf}.nf"), rate_pps=args.rate)
        print(table(res))
        print(f"frames generated {res.frames_sent}, seen by the first stage {res.frames_seen} "
              f"(lost {res.frames_sent - res.frames_seen}); state == interpreter: "
              f"{res.state_equal}; plan changes {res.plan_changes}; swap latency ms "
              f"{[round(x) for x in res.swap_latency_ms]}")
        plot(res, args.experiment)
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="cora-rtbench-") as rdir:
        for nf in args.nf or ["flowcount", "firewall", "synguard", "lb"]:
            runs = [one_cycle(nf, args.rate, args.interval, rdir, args.consecutive)
                    for _ in range(args.cycles)]
            lat = [r["latency_ms"] for r in runs if r["latency_ms"] is not None]
            rows.append({"nf": nf, "cycles": len(runs), "plan_changes": len(lat),
                         "swap_failures": sum(r["swap_failures"] for r in runs),
                         "prepared_ahead": sum(r["prepared_ahead"] for r in runs),
                         "latency_ms_p50": statistics.median(lat) if lat else None,
                         "latency_ms_p99": percentile(lat, 99) if lat else None,
                         "frames_sent": sum(r["frames_sent"] for r in runs),
                         "frames_lost": sum(r["frames_lost"] for r in runs)})
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print("runtime daemon: detection-to-swap latency (measured, includes bcc compiles of the "
          "new stage programs) and frames lost; machine shared by several jobs")
    print(f"{'nf':10} {'changes':>7} {'failed':>6} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'frames':>8} {'lost':>5}")
    for r in rows:
        p50 = "-" if r["latency_ms_p50"] is None else f"{r['latency_ms_p50']:.0f}"
        p99 = "-" if r["latency_ms_p99"] is None else f"{r['latency_ms_p99']:.0f}"
        print(f"{r['nf']:10} {r['plan_changes']:7} {r['swap_failures']:6} {p50:>8} {p99:>8} "
              f"{r['frames_sent']:8} {r['frames_lost']:5}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
