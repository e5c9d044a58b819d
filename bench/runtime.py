"""Runtime daemon figures (issue 11): detection-to-swap latency p50/p99 per NF over >= 20 plan
changes under live traffic, frames lost across them, state lost against the interpreter.

``sudo .venv/bin/python bench/runtime.py [--nf NAME ...] [--changes N] [--rate PPS]
[--interval S] [--consecutive K] [--json]``; the experiment of issue 11 item 7:
``sudo .venv/bin/python bench/runtime.py --experiment [--nf synguard] [--rate 400]
[--phase 10] [--model-rate 30] [--nic bluefield2] [--out-dir bench/results]``
(:mod:`cora.testbed.runtime_experiment`: ``cora runtime start`` as its own process under a
traffic mix that shifts twice; table, JSON and PNG per NF)

Per NF, one emulated NIC + host testbed (gen -> nic -> host namespaces,
:func:`cora.testbed.offload_experiment.three_node`), one daemon
(:class:`cora.runtime.daemon.RuntimeDaemon`, driven window by window from this process with
:meth:`~cora.runtime.daemon.RuntimeDaemon.run_windows`) deploying the NF split with every
block on the host (the NIC side a pass-through) and live-profile counters, and the
live-frames generator sending a fixed cycle of 60 flows at ``--rate`` the whole time. Then
``--changes`` times (default 20):

1. *detected change*: windows of ``--interval`` are read; the drift from the plan's profile
   makes the re-plan (bluefield2 model, 1 Mpps) beat the 5 % hysteresis; from that first
   window the candidate plan is prepared in the background (compile + verify + load of every
   stage program against the live maps, for a stage a state moves to both the read-through
   and the retire versions, :class:`cora.runtime.migrate.PreparedMove`); the daemon adopts
   at the first window >= K in a row once the plan is prepared, and only commits: NIC stage
   (with the written state moved by read-through) then host stage;
2. *reset*: the all-host plan, prepared ahead the same way, is put back
   (:meth:`~cora.runtime.daemon.RuntimeDaemon.put_plan`) so the next window shows drift
   again. Its commit is a swap under traffic too (counted in the loss accounting, not in the
   detection latency).

Figures per NF: **latency** = from the start of the decision on the window that triggered
the adoption to the return of the NIC stage's commit: the lock-step handover
(:mod:`cora.runtime.handover`) engages the host's dispatcher first, so from the NIC's replace
on every new frame runs under the new plan on both stages; its parts: *commit NIC* (the
dispatcher's engage, then lock, staleness check, journal, pins, the rtnetlink replace,
renames; for a state moved to the NIC its read-through replace); then, outside the latency,
*drain* (until the host has run every frame the old NIC version passed, with RCU grace
periods) and *handover* (from the NIC commit to the host commit's return: drain, the copy of
a moved state, the host commit replacing the dispatcher; *commit host* is the host commit
alone, with the grace period and copy of a state moved to the host), *old in gap* (frames
the dispatcher ran with the old host version, from its engage to the host commit: the old
NIC version's frames of the gap), then the retire replaces;
*prepare* = compile + load of the candidate (in the background, not in the latency);
*gain->swap* = from the first window
whose gain beat the hysteresis to the swap (hysteresis windows + waiting for the
preparation). **Frames lost** = frames generated - frames the first stage's verdict counters
saw (every program version). **State**: for the NFs whose state depends on the frames only
(flowcount, lb), the final state (host stage: the reset puts it there) against the reference
interpreter over the same frame sequence: entries missing and counts that differ.
Needs root. The machine is shared (2 cores, several jobs): the output says the load.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from runtime_swap import NFS, TIME_FREE, percentile  # noqa: E402

#: the NFs of bench/runtime_swap.py, the four the issue names first
DEFAULT_NFS = ("firewall", "synguard", "lb", "flowcount", "nat", "ratelimit", "heavyhitter")


def _state_lost(live: dict, ref: dict) -> tuple[int, int]:
    """(reference entries missing from ``live``, entries present in both with another
    value), over every map of the reference state."""
    missing = differ = 0
    for name, entries in ref.items():
        have = {json.dumps(e["key"]): e["value"] for e in live.get(name, [])}
        for e in entries:
            k = json.dumps(e["key"])
            if k not in have:
                missing += 1
            elif have[k] != e["value"]:
                differ += 1
    return missing, differ


def run_nf(nf: str, changes: int, rate_pps: float, interval_s: float, consecutive: int,
           runtime_dir: str, timeout_s: float) -> dict:
    """One testbed, one daemon, ``changes`` detected plan changes (+ resets) under traffic."""
    from cora.runtime.daemon import DaemonOptions, RuntimeDaemon
    from cora.runtime.daemon_policy import PolicySettings
    from cora.runtime.deploy import read_stats
    from cora.testbed.live_traffic import BackgroundTraffic, interpreter_state, wait_for_verdicts
    from cora.testbed.offload_experiment import three_node
    from cora.testbed.topology import Topology
    from cora.testbed.trafficgen import synthetic_flows

    frames = synthetic_flows(40, seed=11) + synthetic_flows(20, proto="tcp", seed=12)
    settings = PolicySettings(interval_s=interval_s, consecutive=consecutive, min_packets=50,
                              model_rate_mpps=1.0, time_limit_s=2.0)
    out: dict = {"nf": nf, "detected": [], "resets": [], "failures": []}
    t_start = time.monotonic()
    with Topology() as topo:
        three_node(topo)
        gen_ns, nic_ns, host_ns = topo.ns("gen"), topo.ns("nic"), topo.ns("host")
        d = RuntimeDaemon(DaemonOptions(str(REPO / "netfuncs" / f"{nf}.nf"), "veth1", host_ns,
                                        "veth0", nic_ns, settings=settings,
                                        runtime_dir=runtime_dir))
        try:
            d.adopt_or_deploy()
            all_host = d.replanner.current
            window_t: dict[int, float] = {}

            def stamp(dec) -> None:
                window_t[dec.window] = time.perf_counter()

            with BackgroundTraffic("veth0", gen_ns, frames, rate_pps=rate_pps) as traffic:
                d.window()
                deadline = time.monotonic() + timeout_s
                while len(out["detected"]) < changes and time.monotonic() < deadline:
                    decs = d.run_windows(lambda x: x.action in ("adopt", "error"),
                                         deadline - time.monotonic(), stamp)
                    last = decs[-1] if decs else None
                    if last is None or last.action != "adopt":
                        out["failures"].append(last.reason if last else "timeout")
                        if last is None or last.action != "error":
                            break
                        continue
                    t_swapped = window_t[last.window] + (last.latency_ms or 0) / 1e3
                    first = last.first_gain_window
                    out["detected"].append({
                        "latency_ms": last.latency_ms, "commit_ms": last.commit_ms,
                        "replace_ms": last.replace_ms, "migrate_ms": last.migrate_ms,
                        "prepare_s": last.prepare_s, "prepared_ahead": last.prepared_ahead,
                        "drain_ms": last.drain_ms, "handover_ms": last.handover_ms,
                        "handover_frames": last.handover_frames,
                        "windows_waited": last.window - (first or last.window),
                        "gain_to_swap_ms": (t_swapped - window_t[first]) * 1e3
                        if first in window_t else None})
                    d.run_windows(lambda _x: d.prepare_ahead(all_host), 300)
                    r = d.put_plan(all_host, "benchmark reset to the all-host plan")
                    if r.action != "adopt":
                        out["failures"].append(r.reason)
                        break
                    out["resets"].append({"latency_ms": r.latency_ms,
                                          "commit_ms": r.commit_ms,
                                          "drain_ms": r.drain_ms,
                                          "handover_ms": r.handover_ms,
                                          "handover_frames": r.handover_frames,
                                          "replace_ms": r.replace_ms})
                traffic.wait_generated(traffic.gen.generated() + int(rate_pps * 0.2))
                sent = traffic.stop()
                sequence = traffic.sequence(sent) if nf in TIME_FREE else []
            seen = wait_for_verdicts("veth0", nic_ns, sent)
            out.update(frames_sent=sent, frames_seen=seen, frames_lost=sent - seen)
            if sequence:
                live = {**read_stats("veth0", nic_ns)["maps"],
                        **read_stats("veth1", host_ns)["maps"]}
                ref = interpreter_state(d.program, sequence)["maps"]
                out["state_entries"] = sum(len(v) for v in ref.values())
                out["state_missing"], out["state_differ"] = _state_lost(live, ref)
        finally:
            d.close_and_undeploy()
    out["seconds"] = time.monotonic() - t_start
    return out


def summarize(r: dict) -> dict:
    """Per-NF row: percentiles of the detected changes' latency and its parts."""
    det = r["detected"]
    lat = [x["latency_ms"] for x in det if x["latency_ms"] is not None]

    def p(vals: list[float], q: float) -> float | None:
        return percentile(vals, q) if vals else None

    nic = [x["commit_ms"][0] for x in det if x["commit_ms"]]
    host = [x["commit_ms"][-1] for x in det if x["commit_ms"]]
    prep = [x["prepare_s"] for x in det if x["prepare_s"] is not None]
    g2s = [x["gain_to_swap_ms"] for x in det if x["gain_to_swap_ms"] is not None]
    repl = [v for x in det for v in (x["replace_ms"] or [])]
    grace = [x["migrate_ms"]["grace"] + x["migrate_ms"].get("copy", 0.0)
             for x in det if x["migrate_ms"]]
    both = det + r["resets"]  # every plan change, either direction
    drain = [x["drain_ms"] for x in both if x.get("drain_ms") is not None]
    handover = [x["handover_ms"] for x in both if x.get("handover_ms") is not None]
    return {"nf": r["nf"], "changes": len(lat), "resets": len(r["resets"]),
            "drain_ms_p50": p(drain, 0.5), "handover_ms_p50": p(handover, 0.5),
            "handover_ms_p99": p(handover, 0.99),
            "old_frames_in_gap": sum((x.get("handover_frames") or [0, 0])[0] for x in both),
            "reset_latency_ms_p50": p([x["latency_ms"] for x in r["resets"]
                                       if x["latency_ms"] is not None], 0.5),
            "swaps": sum(len(x["replace_ms"] or []) for x in det + r["resets"]),
            "replace_ms_p50": p(repl, 0.5), "grace_copy_ms_p50": p(grace, 0.5),
            "prepared_ahead": sum(bool(x["prepared_ahead"]) for x in det),
            "failures": r["failures"],
            "latency_ms_p50": p(lat, 0.5), "latency_ms_p99": p(lat, 0.99),
            "commit_nic_ms_p50": p(nic, 0.5), "commit_host_ms_p50": p(host, 0.5),
            "prepare_s_p50": statistics.median(prep) if prep else None,
            "gain_to_swap_ms_p50": p(g2s, 0.5),
            "frames_sent": r.get("frames_sent"), "frames_lost": r.get("frames_lost"),
            "state_entries": r.get("state_entries"), "state_missing": r.get("state_missing"),
            "state_differ": r.get("state_differ"), "seconds": r["seconds"]}


def experiment(args) -> int:
    """``--experiment``: per NF, run :func:`cora.testbed.runtime_experiment.run_experiment`
    and write ``runtime_experiment_<nf>.txt`` (the table), ``.json`` and ``.png`` to
    ``--out-dir``; the table also on stdout (progress on stderr)."""
    from cora.testbed.runtime_experiment import plot, run_experiment, table

    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for nf in args.nf or ["synguard"]:
        res = run_experiment(str(REPO / "netfuncs" / f"{nf}.nf"), rate_pps=args.rate,
                             phase_s=args.phase, interval_s=args.interval, nic=args.nic,
                             model_rate_mpps=args.model_rate, consecutive=args.consecutive,
                             log=lambda line: print(line, file=sys.stderr, flush=True))
        end_load = " ".join(open("/proc/loadavg").read().split()[:3])
        text = table(res) + f"\n(load average at the end {end_load}; {res.seconds:.0f} s)"
        print(text)
        stem = out / f"runtime_experiment_{nf}"
        stem.with_suffix(".txt").write_text(text + "\n")
        stem.with_suffix(".json").write_text(json.dumps(res.to_json(), indent=1) + "\n")
        plot(res, str(stem.with_suffix(".png")))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run every NF and print one table (or JSON)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nf", action="append", choices=NFS,
                    help="NF name (default: " + ", ".join(DEFAULT_NFS) + ")")
    ap.add_argument("--changes", type=int, default=4,
                    help="detected plan changes per NF, each followed by a reset (one cycle "
                         "is 6 replaces: two stage commits and a two-replace migration each "
                         "way; 4 cycles = 24 swaps)")
    ap.add_argument("--rate", type=float, default=None,
                    help="frames/s (default 5,000; --experiment: 400)")
    ap.add_argument("--interval", type=float, default=None,
                    help="window, s (default 0.2; --experiment: 0.5)")
    ap.add_argument("--consecutive", type=int, default=2,
                    help="K (>= 2: the candidate is compiled ahead from window 1)")
    ap.add_argument("--timeout", type=float, default=900, help="per NF, s")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--experiment", action="store_true",
                    help="instead: the three-phase experiment under `cora runtime start` "
                         "(testbed/runtime_experiment.py) on each --nf (default synguard); "
                         "table on stdout, table + JSON + PNG to --out-dir")
    ap.add_argument("--phase", type=float, default=10.0,
                    help="--experiment: seconds per phase")
    ap.add_argument("--model-rate", type=float, default=30.0,
                    help="--experiment: rate the cost model is evaluated at, Mpps")
    ap.add_argument("--nic", default="bluefield2", choices=("bluefield2", "agilio"),
                    help="--experiment: NIC stage model")
    ap.add_argument("--out-dir", default=str(REPO / "bench" / "results"),
                    help="--experiment: where runtime_experiment_<nf>.{txt,json,png} go")
    args = ap.parse_args(argv)
    if args.rate is None:
        args.rate = 400.0 if args.experiment else 5_000.0
    if args.interval is None:
        args.interval = 0.5 if args.experiment else 0.2
    if args.changes < 1 or args.rate <= 0 or args.interval <= 0:
        ap.error("--changes must be >= 1, --rate and --interval positive")
    if args.experiment:
        return experiment(args)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load = open("/proc/loadavg").read().split()[:3]
    t0 = time.monotonic()
    rows = []
    with tempfile.TemporaryDirectory(prefix="cora-rtbench-") as rdir:
        for nf in args.nf or DEFAULT_NFS:
            raw = run_nf(nf, args.changes, args.rate, args.interval, args.consecutive, rdir,
                         args.timeout)
            rows.append(summarize(raw))
            print(f"runtime: {nf} done in {raw['seconds']:.0f} s: {json.dumps(rows[-1])}",
                  file=sys.stderr, flush=True)
    load_end = open("/proc/loadavg").read().split()[:3]
    out = {"started": started, "loadavg_at_start": load, "loadavg_at_end": load_end,
           "seconds": time.monotonic() - t0, "rate_pps": args.rate,
           "interval_s": args.interval, "consecutive": args.consecutive, "rows": rows}
    if args.json:
        print(json.dumps(out, indent=1))
        return 0

    def f(x, fmt: str) -> str:
        return "-" if x is None else format(x, fmt)

    print(f"runtime daemon, {started}, load average {' '.join(load)} at start, "
          f"{' '.join(load_end)} at end (shared 2-CPU VM), {args.rate:.0f} frames/s, windows "
          f"{args.interval} s, K={args.consecutive}; measured ({out['seconds']:.0f} s)")
    print(f"{'nf':11} {'chg':>3} {'swaps':>5} {'ahead':>5} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'nic ms':>7} {'host ms':>7} {'repl ms':>7} {'grace ms':>8} {'prep s':>6} "
          f"{'gain->swap ms':>13} {'drain ms':>8} {'handover ms p50/p99':>19} "
          f"{'old in gap':>10} {'frames':>7} {'lost':>4} {'state lost':>12}")
    for r in rows:
        st = "n/a (now())" if r["state_entries"] is None else \
            f"{r['state_missing']}+{r['state_differ']}/{r['state_entries']}"
        print(f"{r['nf']:11} {r['changes']:3} {r['swaps']:5} {r['prepared_ahead']:5} "
              f"{f(r['latency_ms_p50'], '7.1f')} {f(r['latency_ms_p99'], '7.1f')} "
              f"{f(r['commit_nic_ms_p50'], '7.1f')} {f(r['commit_host_ms_p50'], '7.1f')} "
              f"{f(r['replace_ms_p50'], '7.1f')} {f(r['grace_copy_ms_p50'], '8.1f')} "
              f"{f(r['prepare_s_p50'], '6.1f')} {f(r['gain_to_swap_ms_p50'], '13.0f')} "
              f"{f(r['drain_ms_p50'], '8.1f')} "
              f"{f(r['handover_ms_p50'], '9.1f')}/{f(r['handover_ms_p99'], '9.1f')} "
              f"{r['old_frames_in_gap']:10d} {f(r['frames_sent'], '7d')} "
              f"{f(r['frames_lost'], '4d')} {st:>12}")
        if r["failures"]:
            print(f"  {r['nf']}: {len(r['failures'])} failed: {r['failures'][0][:200]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
