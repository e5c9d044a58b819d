"""Testbed (MEASURED): the exported in-kernel controller vs the kernel's cubic and bbr.

Exports the shipped certified policy as a BPF struct_ops tcp_congestion_ops (fixed point,
re-certified), registers it with bpftool under a unique name, and runs one iperf3 flow per
controller through a three-namespace bottleneck (cora.certify.netlab: veth pairs, a user-space
delay bridge in the middle namespace because netem is not available, TBF at the bottleneck)
for several bandwidth/delay points. Throughput from iperf3, RTT and cwnd sampled from
`ss -tin`. The controller is unregistered and the namespaces deleted in `finally`.
Usage: .venv/bin/python bench/certify_testbed.py [--seconds S] [--json]

Grid mode (issue 14): ``--grid --rtts 10,50,150 --runs 5 [--rate 10] [--buffer 1]``: every
RTT point, every controller, ``--runs`` flows each (in turn: cubic, bbr, cora, cubic, ...);
mean +- 95 % t-interval of throughput, mean and p95 RTT, retransmits, the kernel's fallback
share (fallback rounds / all rounds of the exported controller), next to the simulator's
fallback share on the same path (fraction of the simulated policy's rounds whose observation
lies in a cell that is not proven, same table as the kernel's; fluid simulator, 200 RTTs).
Writes --out (JSON) and a PNG next to it.

Scenario mode (issue 14, second round): ``--scenarios base,loss,step,cellular,compete --rtts
10,50,150 --runs 5 --seconds 8 --out bench/results/certify_testbed_scenarios.json``:
``base``: the RTT grid (cubic, bbr, the exported controller, one flow at a time); at 50 ms:
``loss``: random loss ``--loss`` (default 1 %) from testbed/nf/drop_fraction.nf (a cora NF,
``rand()``), deployed as native XDP on the receiver's interface, its measured drop fraction
recorded; ``step``: the TBF rate stepped 10 -> 3 -> 10 Mbit/s (thirds of the flow);
``cellular``: the TBF rate following a synthetic cellular-like trace
(:func:`cora.certify.netlab.cellular_trace`, seed 100 + run) every 0.5 s; ``compete``: two
flows started together (cubic+cubic, cora+cubic, bbr+cubic), Jain's index. Every round of
the exported controller is logged in the kernel (``cora_obs``) and saved per path; tables,
the kernel-vs-simulator comparison and plots: bench/certify_testbed_report.py.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402

from cora.certify import kernel  # noqa: E402
from cora.certify.export import export  # noqa: E402
from cora.certify.netlab import Bottleneck, flow  # noqa: E402
from cora.certify.nn import load_policy, shipped_policy  # noqa: E402
from cora.settings import shown_path  # noqa: E402

POINTS = [(10, 20, 1.0), (10, 60, 1.0), (30, 20, 1.0), (5, 100, 2.0)]  # Mbit/s, ms, BDPs
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def _ci(v):
    import numpy as np
    v = np.array([x for x in v if x is not None], float)
    if len(v) == 0:
        return (None, None)
    return (float(v.mean()), float(T975.get(len(v) - 1, 1.96) * v.std(ddof=1) / np.sqrt(len(v)))
            if len(v) > 1 else None)


def sim_fallback_share(net, table, rate_mbit, rtt_ms, buffer_bdp, steps=200, seed=3):
    """Fraction of simulated rounds (fluid simulator, one flow, no random loss) whose
    observation's cell is not proven in ``table`` (cora.certify.kernelsim, mode "fluid")."""
    from cora.certify.kernelsim import path_observations
    return path_observations(net, table, rate_mbit, rtt_ms, buffer_bdp, steps=steps,
                             mode="fluid", runs=1, seed=seed)["fallback_share"]


def grid(a, name, info, ccs):
    from cora.certify.export import proven_cells
    from cora.certify.quant import quantize
    net = load_policy(a.model)
    table = proven_cells(quantize(net))
    rtts = [float(v) for v in a.rtts.split(",")]
    rate = int(a.rate) if float(a.rate).is_integer() else a.rate  # netlab writes f"{rate}mbit"
    rows = []
    for rtt in rtts:
        with Bottleneck(rate, rtt, a.buffer, prefix=a.prefix,
                        bridge_rt_priority=a.rt_bridge) as bed:
            for run in range(a.runs):
                for cc in ccs + [name]:
                    before = kernel.round_counters(name)
                    r = flow(bed, cc, a.seconds)
                    after = kernel.round_counters(name)
                    r.update(rate_mbit=a.rate, delay_ms=rtt, buffer_bdp=a.buffer, run=run)
                    if cc == name:
                        nn = after.get("cora_nn_rounds", 0) - before.get("cora_nn_rounds", 0)
                        fb = (after.get("cora_fallback_rounds", 0)
                              - before.get("cora_fallback_rounds", 0))
                        r.update(nn_rounds=nn, fallback_rounds=fb,
                                 fallback_share=fb / (nn + fb) if nn + fb else None)
                    rows.append(r)
                    print(f"rtt {rtt:.0f} ms run {run} {cc}: {r['throughput_mbit']:.2f} Mbit/s",
                          flush=True, file=__import__("sys").stderr)
    summary = []
    for rtt in rtts:
        simfb = sim_fallback_share(net, table, a.rate, rtt, a.buffer)
        for cc in ccs + [name]:
            rs = [r for r in rows if r["delay_ms"] == rtt and r["cc"] == cc]
            summary.append({"rtt_ms": rtt, "cc": "cora(NN)" if cc == name else cc,
                            **{k: _ci([r[k] for r in rs]) for k in
                               ("throughput_mbit", "min_rtt_ms", "rtt_ms_mean", "rtt_ms_p95",
                                "retransmits")},
                            "fallback_share": (_ci([r.get("fallback_share") for r in rs])
                                               if cc == name else None),
                            "sim_fallback_share": simfb if cc == name else None})
    import datetime
    import sys
    out = {"date_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
           "command": " ".join(["bench/certify_testbed.py"] + sys.argv[1:]), "controller": name,
           "proven_cell_fraction": info["proven_cell_fraction"], "rows": rows, "summary": summary}
    with open(a.out, "w") as f:
        json.dump(out, f)
    print(f"MEASURED {out['date_utc']}: iperf3 {a.seconds:.0f} s per flow, "
          f"{a.runs} runs per point, "
          f"{a.rate:g} Mbit/s TBF, buffer {a.buffer:g} BDP, user-space delay bridge; "
          f"mean +- 95 % t-interval")
    def f(c, d=1):
        if c[0] is None:
            return "n/a"
        return f"{c[0]:.{d}f}" + ("" if c[1] is None else f"+-{c[1]:.{d}f}")
    print(f"{'RTT':>5s} {'cc':9s} {'thr Mbit/s':>12s} {'minRTT':>11s} {'RTT mean':>12s} "
          f"{'RTT p95':>12s} {'retx':>10s}  fallback kernel / simulator")
    for s_ in summary:
        fb = "" if s_["fallback_share"] is None else \
            f"  {f(s_['fallback_share'], 3)} / {s_['sim_fallback_share']:.3f}"
        print(f"{s_['rtt_ms']:5.0f} {s_['cc']:9s} {f(s_['throughput_mbit'], 2):>12s} "
              f"{f(s_['min_rtt_ms']):>11s} {f(s_['rtt_ms_mean']):>12s} {f(s_['rtt_ms_p95']):>12s} "
              f"{f(s_['retransmits'], 0):>10s}{fb}")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    for cc in ccs + ["cora(NN)"]:
        ss = [s_ for s_ in summary if s_["cc"] == cc]
        x = [s_["rtt_ms"] for s_ in ss]
        ax1.errorbar(x, [s_["throughput_mbit"][0] for s_ in ss],
                     yerr=[s_["throughput_mbit"][1] or 0 for s_ in ss],
                     fmt="o-", capsize=3, label=cc)
        ax2.errorbar(x, [s_["rtt_ms_p95"][0] for s_ in ss],
                     yerr=[s_["rtt_ms_p95"][1] or 0 for s_ in ss],
                     fmt="o-", capsize=3, label=cc)
    ax1.set_xlabel("base RTT setting, ms")
    ax1.set_ylabel("throughput, Mbit/s")
    ax1.legend(fontsize=8)
    ax2.set_xlabel("base RTT setting, ms")
    ax2.set_ylabel("p95 RTT (ss), ms")
    fig.suptitle("testbed (measured), mean +- 95 % CI over runs", fontsize=9)
    fig.tight_layout()
    fig.savefig(a.out[:-5] + ".png" if a.out.endswith(".json") else a.out + ".png", dpi=110)


SCENARIOS = ("base", "loss", "step", "cellular", "compete")


def _deploy_drop(bed, fraction):
    """Random loss from a cora NF: testbed/nf/drop_fraction.nf (``rand()``) as native XDP on the
    receiver's interface (data frames after the bottleneck; ACKs leave through the same
    interface's egress and are not touched). Returns the undo callable."""
    from cora.compiler.driver import compile_file
    from cora.runtime.deploy import deploy, undeploy
    from cora.testbed.ina_topology import DROP_NF, set_drop_fraction
    dev, ns = f"{bed.prefix}r0", bed.ns["rcv"]
    deploy(compile_file(DROP_NF), dev, ns, mode="native")
    set_drop_fraction(dev, ns, fraction)
    return lambda: undeploy(dev, ns)


def _drop_stats(bed):
    from cora.runtime.deploy import read_stats
    rows = {e["key"][0]: e["value"][0]
            for e in read_stats(f"{bed.prefix}r0", bed.ns["rcv"])["maps"]["stats"]}
    return int(rows.get(0, 0)), int(rows.get(1, 0))


def scenarios(a, name, info, ccs, name2=None):
    """Issue 14's testbed conditions (see ``--help``); writes ``--out`` JSON + PNGs."""
    import datetime
    import sys

    import numpy as np

    from cora.certify.netlab import cellular_trace, flows, jain_index, step_trace
    want = a.scenarios.split(",")
    rtts = [float(v) for v in a.rtts.split(",")]
    rate = a.rate
    mid_rtt = 50.0
    rows, obs, echo = [], {}, {}
    log = lambda m: print(m, flush=True, file=sys.stderr)  # noqa: E731
    plan = []
    if "base" in want:
        plan += [("base", rtt) for rtt in rtts]
    for sc in ("loss", "step", "cellular", "compete"):
        if sc in want:
            plan.append((sc, mid_rtt))
    exported = [n for n in (name, name2) if n]
    load_start = open("/proc/loadavg").read().split()[:3]
    since = {n: int(kernel.round_counters(n).get("cora_obs_n", 0)) for n in exported}
    for sc, rtt, prio in [(sc, rtt, pr) for sc, rtt in plan for pr in a.rt_prios]:
        label = sc if len(a.rt_prios) == 1 or prio == 0 else f"{sc}-rt"
        with Bottleneck(rate, rtt, a.buffer, prefix=a.prefix, bridge_rt_priority=prio) as bed:
            if a.echo:
                from cora.certify.netlab import echo_rtts
                e = np.array(echo_rtts(bed, count=a.echo, interval_s=0.02), float)
                echo[f"{label}/{rtt:g}"] = {
                    "setting_ms": rtt, "n": int(e.size),
                    "quantiles_ms": {str(k): round(float(np.percentile(e, k)), 2)
                                     for k in (0, 50, 95, 99)} if e.size else None}
                log(f"{label} rtt {rtt:g} echo: {echo[f'{label}/{rtt:g}']}")
            undo = _deploy_drop(bed, a.loss) if sc == "loss" else None
            try:
                for run in range(a.runs):
                    groups = ([[cc] for cc in ccs] if sc != "compete" else
                              [[cc, "cubic"] for cc in ccs])
                    for grp in groups:
                        sched = (step_trace(a.seconds, (rate, rate * 0.3, rate)) if sc == "step"
                                 else cellular_trace(a.seconds, np.random.default_rng(100 + run),
                                                     mean_mbit=rate) if sc == "cellular"
                                 else None)
                        before = {n: kernel.round_counters(n) for n in exported}
                        d0 = _drop_stats(bed) if undo else None
                        rs = flows(bed, grp, a.seconds, rate_schedule=sched)
                        after = {n: kernel.round_counters(n) for n in exported}
                        jain = jain_index([r["throughput_mbit"] for r in rs])
                        for k, r in enumerate(rs):
                            r.update(scenario=label, rtt_setting_ms=rtt, rate_mbit=rate,
                                     buffer_bdp=a.buffer, run=run, group="+".join(
                                         "cora" if c == name else "cora2" if c == name2 else
                                         "vegas-like" if c.startswith("vegas") else c
                                         for c in grp), flow=k,
                                     jain=jain if len(rs) > 1 else None, schedule=sched)
                            if undo:
                                d1 = _drop_stats(bed)
                                dp, dd = d1[0] - d0[0], d1[1] - d0[1]
                                r["nf_drop_fraction"] = dd / (dp + dd) if dp + dd else None
                        for n in exported:
                            if n not in grp:
                                continue
                            nn = (after[n].get("cora_nn_rounds", 0)
                                  - before[n].get("cora_nn_rounds", 0))
                            fb = (after[n].get("cora_fallback_rounds", 0)
                                  - before[n].get("cora_fallback_rounds", 0))
                            x, proven, cwnd, since[n] = kernel.observations(n, since[n])
                            key = f"{label}/{rtt:g}" if n == name else f"cora2:{label}/{rtt:g}"
                            obs.setdefault(key, []).append(
                                {"x": x.round(5).tolist(), "proven": proven.tolist(),
                                 "cwnd": cwnd.tolist()})
                            for r in rs:
                                if r["cc"] == n:
                                    r.update(nn_rounds=nn, fallback_rounds=fb,
                                             fallback_share=fb / (nn + fb) if nn + fb else None)
                        rows += rs
                        log(f"{label} rtt {rtt:g} run {run} {'+'.join(grp)}: "
                            + ", ".join(f"{r['throughput_mbit']:.2f}" for r in rs) + " Mbit/s")
            finally:
                if undo:
                    undo()
    out = {"date_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
           "command": " ".join(["bench/certify_testbed.py"] + sys.argv[1:]), "controller": name,
           "model": shown_path(a.model), "controller2": name2, "model2": a.model2,
           "loadavg": open("/proc/loadavg").read().split()[:3], "loadavg_start": load_start,
           "bridge_rt_priority": a.rt_bridge, "bridge_rt_priorities": a.rt_prios, "echo": echo,
           "proven_cell_fraction": info["proven_cell_fraction"], "rows": rows,
           "kernel_observations": obs}
    with open(a.out, "w") as f:
        json.dump(out, f)
    log(f"wrote {a.out}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--model", default=shipped_policy("certified"))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--grid", action="store_true", help="RTT grid with repetitions (see above)")
    ap.add_argument("--rtts", default="10,50,150")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rate", type=float, default=10.0)
    ap.add_argument("--buffer", type=float, default=1.0)
    ap.add_argument("--scenarios", default="",
                    help="comma list of base,loss,step,cellular,compete (issue 14 conditions; "
                         "base = the --rtts grid, the others at 50 ms); "
                         "analyse with bench/certify_testbed_report.py")
    ap.add_argument("--ccs", default="cubic,bbr,cora",
                    help="scenario mode: controllers, of cubic, bbr, vegas (the Vegas-like "
                         "struct_ops, certify/vegas_like.bpf.c), cora (the exported --model), "
                         "cora2 (the exported --model2); compete pairs each with cubic")
    ap.add_argument("--model2", default=None,
                    help="scenario mode: a second policy, exported and run as cora2")
    ap.add_argument("--loss", type=float, default=0.01,
                    help="random loss of the loss scenario (drop_fraction.nf)")
    ap.add_argument("--rt-bridge", default="0",
                    help="SCHED_FIFO priority of the delay bridge (0: normal scheduling); "
                         "scenario mode: a comma-separated list runs every path once per "
                         "priority, back to back (scenario named e.g. base-rt when > 0)")
    ap.add_argument("--echo", type=int, default=0,
                    help="scenario mode: UDP echoes on the idle path before each path's flows "
                         "(the bridge's added delay against its setting); 0: none")
    ap.add_argument("--prefix", default=None,
                    help="namespace/interface prefix (at most 9 characters; default ccb<pid>)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "results", "certify_testbed.json"))
    a = ap.parse_args()
    a.rt_prios = [int(v) for v in str(a.rt_bridge).split(",")]
    a.rt_bridge = a.rt_prios[0]
    avail = kernel.available()
    ccs = ["cubic"] + (["bbr"] if "bbr" in avail else [])
    name = f"cora_b{os.getpid() % 100000}"
    vegas = f"vegas_b{os.getpid() % 100000}"
    rows = []
    with tempfile.TemporaryDirectory() as d:
        info = export(load_policy(a.model), d, name=name)
        kernel.load(d)
        try:
            if a.scenarios:
                want = a.ccs.split(",")
                name2 = f"cora2_b{os.getpid() % 100000}" if a.model2 else None
                try:
                    if "vegas" in want:
                        kernel.load_vegas_like(os.path.join(d, "vegas"), vegas)
                    if name2:
                        export(load_policy(a.model2), os.path.join(d, "cora2"), name=name2)
                        kernel.load(os.path.join(d, "cora2"))
                    sccs = [{"cora": name, "vegas": vegas, "cora2": name2}.get(c, c)
                            for c in want]
                    scenarios(a, name, info, sccs, name2)
                finally:
                    for n in (vegas, name2):
                        if n and n in kernel.available():
                            kernel.unload(n)
                return
            if a.grid:
                grid(a, name, info, ccs)
                return
            for rate, delay, buf in POINTS:
                with Bottleneck(rate, delay, buf, prefix=a.prefix,
                                bridge_rt_priority=a.rt_bridge) as bed:
                    for cc in ccs + [name]:
                        before = kernel.round_counters(name)
                        r = flow(bed, cc, a.seconds)
                        after = kernel.round_counters(name)
                        r.update(rate_mbit=rate, delay_ms=delay, buffer_bdp=buf)
                        if cc == name:
                            r["nn_rounds"] = (after.get("cora_nn_rounds", 0)
                                              - before.get("cora_nn_rounds", 0))
                            r["fallback_rounds"] = (after.get("cora_fallback_rounds", 0)
                                                    - before.get("cora_fallback_rounds", 0))
                        rows.append(r)
        finally:
            kernel.unload(name)
    if a.json:
        print(json.dumps({"controller": name, "proven_cell_fraction": info["proven_cell_fraction"],
                          "bbr_available": "bbr" in avail, "rows": rows}))
        return
    print(f"MEASURED on this machine: iperf3 {a.seconds:.0f} s per flow, one flow at a time; "
          f"exported controller {name} "
          f"(proven cells {info['proven_cell_fraction']:.3f} of {info['cells']})")
    if "bbr" not in avail:
        print("bbr is not available in this kernel")
    print(f"{'Mbit/s':>6s} {'delay':>6s} {'buf':>4s}  {'cc':10s} {'thr Mbit/s':>10s} "
          f"{'minRTT':>7s} {'RTT mean':>8s} {'RTT p95':>8s} {'cwnd':>6s} {'retx':>5s} "
          f"{'drops':>6s}  NN/fallback rounds")
    for r in rows:
        cc = "cora(NN)" if r["cc"] == name else r["cc"]
        extra = f"  {r['nn_rounds']}/{r['fallback_rounds']}" if "nn_rounds" in r else ""
        print(f"{r['rate_mbit']:6.0f} {r['delay_ms']:4.0f}ms {r['buffer_bdp']:4.1f}  {cc:10s} "
              f"{r['throughput_mbit']:10.2f} {r['min_rtt_ms'] or float('nan'):7.1f} "
              f"{r['rtt_ms_mean']:8.1f} "
              f"{r['rtt_ms_p95']:8.1f} {r['cwnd_mean'] or 0:6.1f} {r['retransmits'] or 0:5d} "
              f"{r['tbf_drops']:6d}{extra}")


if __name__ == "__main__":
    main()
