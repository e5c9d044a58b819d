"""Tables and plots of a `bench/certify_testbed.py --scenarios ...` run (MEASURED testbed, and
the SIMULATED observations on the same paths).

Reads the JSON the testbed wrote (default bench/results/certify_testbed_scenarios.json) and
prints, with mean +- 95 % t-interval over the runs:

1. per scenario and controller: throughput, mean and p95 RTT (ss), retransmitted share of the
   segments sent (retransmits / (throughput x duration / 1448 B)), the drop NF's measured drop
   fraction (loss scenario), the kernel's fallback share (exported controller);
2. competing flows: Jain's index of each pair and the first flow's share;
3. the kernel's observations against the simulator's on the same paths (base grid and the loss
   path): fallback share in the kernel and in three simulator modes of
   :mod:`cora.certify.kernelsim` -- ``fluid`` (the policy every round, same-round feedback: what
   the simulator reported before), ``runtime`` (the exported rule: policy in proven cells,
   Cubic elsewhere), ``ackclocked`` (the runtime rule fed one round late, as the kernel is)
   and ``kernelview`` (``ackclocked`` plus the queue-ratio error measured on the testbed: the
   kernel's q in its rounds at a window below half the BDP, where the true queue is zero;
   calibrated in-sample, on the same runs) -- and the Kolmogorov-Smirnov distance of each
   current-round feature (q, g, l) between the kernel's rounds and each mode's.

Plots next to the JSON: ``*_grid.png`` (throughput, p95 RTT vs RTT per controller),
``*_time.png`` (throughput and RTT over time, run 0, per scenario), ``*_obs.png`` (CDFs of q and
g, kernel vs simulator modes, at 50 ms) and ``*_fallback.png``. Text to ``--txt``.
Usage: .venv/bin/python bench/certify_testbed_report.py [--json J] [--txt T] [--policy P]
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402

import numpy as np  # noqa: E402

T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}
HERE = os.path.dirname(os.path.abspath(__file__))
MODES = ("fluid", "runtime", "ackclocked", "kernelview")


def ci(v):
    """(mean, half-width of the 95 % t-interval) of the non-None values; (None, None) if none."""
    v = np.array([x for x in v if x is not None], float)
    if len(v) == 0:
        return (None, None)
    if len(v) == 1:
        return (float(v[0]), None)
    return (float(v.mean()), float(T975.get(len(v) - 1, 1.96) * v.std(ddof=1) / np.sqrt(len(v))))


def fmt(c, d=2):
    if c[0] is None:
        return "n/a"
    return f"{c[0]:.{d}f}" + ("" if c[1] is None else f"+-{c[1]:.{d}f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default=os.path.join(HERE, "results",
                                                   "certify_testbed_scenarios.json"))
    ap.add_argument("--txt", default=None)
    ap.add_argument("--policy", default=None, help="default: the shipped certified policy")
    ap.add_argument("--second", action="store_true",
                    help="compare the observations of the run's second exported policy "
                         "(--model2, logged as cora2:...) instead of the first; give its "
                         "file as --policy")
    ap.add_argument("--noise-from", default=None,
                    help="calibrate the kernelview mode's queue error from another run's "
                         "kernel log (same paths): an out-of-sample check")
    a = ap.parse_args()
    from cora.certify.export import proven_cells
    from cora.certify.kernelsim import ks_distance, path_observations
    from cora.certify.nn import load_policy, shipped_policy
    from cora.certify.quant import quantize
    d = json.load(open(a.json))
    m = re.search(r"--seconds (\S+)", d["command"])
    seconds = float(m.group(1)) if m else 10.0
    name = d["controller"]
    lines = []
    out = lines.append
    out(f"MEASURED {d['date_utc']} ({d['command']}; 1-min load average "
        + (f"{d['loadavg_start'][0]} at the start, " if "loadavg_start" in d else "")
        + f"{d.get('loadavg', ['?'])[0]} at the end on 2 cores, machine shared): iperf3 "
        f"{seconds:g} s per "
        f"flow, mean +- 95 % t-interval over runs")
    prios = d.get("bridge_rt_priorities") or [d.get("bridge_rt_priority") or 0]
    out("delay bridge: " + ", ".join(f"SCHED_FIFO priority {p} (scenarios *-rt)" if p and
                                     len(prios) > 1 else f"SCHED_FIFO priority {p}" if p else
                                     "normal scheduling" for p in prios))
    for key, e in (d.get("echo") or {}).items():
        if e["quantiles_ms"]:
            q = e["quantiles_ms"]
            out(f"  echo RTT on the idle path {key} (setting {e['setting_ms']:g} ms, {e['n']} "
                f"echoes): min {q['0']}  p50 {q['50']}  p95 {q['95']}  p99 {q['99']} ms")
    rows = d["rows"]
    for r in rows:
        seg = r["throughput_mbit"] * 1e6 * seconds / 8 / 1448
        r["retx_share"] = (r["retransmits"] or 0) / seg if seg > 0 else None
        r["ccn"] = ("cora(NN)" if r["cc"] == name else
                    "cora2(NN)" if r["cc"] == d.get("controller2") else
                    "vegas-like" if r["cc"].startswith("vegas") else r["cc"])
    scen = []
    for r in rows:
        k = (r["scenario"], r["rtt_setting_ms"])
        if k not in scen:
            scen.append(k)
    out("")
    out(f"{'scenario':9s} {'RTT':>4s} {'cc':9s} {'thr Mbit/s':>12s} {'RTT mean':>13s} "
        f"{'RTT p95':>13s} {'minRTT':>11s} {'retx share':>15s} {'NF drop':>15s}  fallback kernel")
    summary = []
    for sc, rtt in scen:
        if sc == "compete":
            continue
        for cc in ("cubic", "bbr", "vegas-like", "cora(NN)", "cora2(NN)"):
            rs = [r for r in rows if r["scenario"] == sc and r["rtt_setting_ms"] == rtt
                  and r["ccn"] == cc]
            if not rs:
                continue
            s = {"scenario": sc, "rtt_ms": rtt, "cc": cc,
                 **{k: ci([r.get(k) for r in rs]) for k in
                    ("throughput_mbit", "rtt_ms_mean", "rtt_ms_p95", "min_rtt_ms", "retx_share",
                     "nf_drop_fraction", "fallback_share")}}
            summary.append(s)
            out(f"{sc:9s} {rtt:4.0f} {cc:9s} {fmt(s['throughput_mbit']):>12s} "
                f"{fmt(s['rtt_ms_mean'], 1):>13s} {fmt(s['rtt_ms_p95'], 1):>13s} "
                f"{fmt(s['min_rtt_ms'], 1):>11s} {fmt(s['retx_share'], 4):>15s} "
                f"{fmt(s['nf_drop_fraction'], 4):>15s}  "
                f"{fmt(s['fallback_share'], 3) if cc.endswith('(NN)') else ''}")
    comp = [r for r in rows if r["scenario"] == "compete"]
    if comp:
        out("")
        out("competing flows (started together, same path, 50 ms, 10 Mbit/s, 1 BDP): "
            "Jain's index and the first flow's throughput share")
        for g in dict.fromkeys(r["group"] for r in comp):
            first = [r for r in comp if r["group"] == g and r["flow"] == 0]
            second = {r["run"]: r for r in comp if r["group"] == g and r["flow"] == 1}
            share = [f["throughput_mbit"] / (f["throughput_mbit"]
                                              + second[f["run"]]["throughput_mbit"])
                     for f in first]
            s = {"scenario": "compete", "group": g, "jain": ci([f["jain"] for f in first]),
                 "first_share": ci(share),
                 "first_mbit": ci([f["throughput_mbit"] for f in first]),
                 "second_mbit": ci([second[f["run"]]["throughput_mbit"] for f in first])}
            summary.append(s)
            out(f"  {g:12s} Jain {fmt(s['jain'], 3):>13s}  first flow share "
                f"{fmt(s['first_share'], 3):>13s}  ({fmt(s['first_mbit'])} vs "
                f"{fmt(s['second_mbit'])} Mbit/s)")
    # kernel vs simulator observations
    qnet = quantize(load_policy(a.policy or shipped_policy("certified")))
    table = proven_cells(qnet)
    obs = d["kernel_observations"]
    if a.second:
        obs = {k[len("cora2:"):]: v for k, v in obs.items() if k.startswith("cora2:")}
    else:
        obs = {k: v for k, v in obs.items() if not k.startswith("cora2:")}
    other = json.load(open(a.noise_from))["kernel_observations"] if a.noise_from else None
    out("")
    out("observations, kernel (cora_obs log, all runs) vs simulator on the same path "
        "(SIMULATED: 5 runs x the kernel's rounds per flow); kernelview's queue error from "
        + (f"{a.noise_from} (out of sample)" if a.noise_from else "these runs (in sample)")
        + ":")
    out(f"{'path':10s} {'rounds':>6s} {'fallback kernel':>16s}  " + " ".join(
        f"{m_:>10s}" for m_ in MODES) + "   KS(q, g, l) kernel vs " + " / ".join(MODES)
        + "   q error p50 (rounds)")
    compare = {}
    for key, runs in obs.items():
        sc, rtt = key.split("/")
        if sc.split("-")[0] not in ("base", "loss"):
            continue
        rtt = float(rtt)
        kx = np.concatenate([np.array(r["x"], float).reshape(-1, 6) for r in runs])
        kc = np.concatenate([np.array(r["cwnd"], float) for r in runs])
        bdp = 10e6 / 8 / 1500 * rtt / 1e3
        # the queue-ratio error as measured: q of the kernel's rounds at a window below half
        # the BDP, where the true queue is zero (in-sample: the same runs)
        if other is not None and key in other:
            ox = np.concatenate([np.array(r["x"], float).reshape(-1, 6) for r in other[key]])
            oc = np.concatenate([np.array(r["cwnd"], float) for r in other[key]])
            q_noise = ox[oc < 0.5 * bdp, 0]
        else:
            q_noise = kx[kc < 0.5 * bdp, 0]
        if len(q_noise) < 10:
            q_noise = np.concatenate([q_noise, [0.0]])
        kfb = ci([1 - np.mean(r["proven"]) for r in runs if r["proven"]])
        steps = int(np.clip(np.mean([len(r["x"]) for r in runs]), 40, 800))
        loss = 0.01 if sc.startswith("loss") else 0.0
        sims = {m_: path_observations(qnet, table, 10.0, rtt, 1.0, loss=loss, steps=steps,
                                      mode=m_, q_noise=q_noise) for m_ in MODES}
        ks = {m_: [ks_distance(kx[:, i], s_["x"][:, i]) for i in range(3)]
              for m_, s_ in sims.items()}
        compare[key] = {"kernel_rounds": len(kx), "kernel_fallback": kfb,
                        "q_noise": {"rounds": int(len(q_noise)),
                                    "quantiles": np.percentile(q_noise, [5, 50, 95]).round(4)
                                    .tolist()},
                        "sim_fallback": {m_: s_["fallback_share"] for m_, s_ in sims.items()},
                        "ks": ks,
                        "quantiles": {"kernel": np.percentile(kx[:, :3], [5, 25, 50, 75, 95],
                                                              axis=0).round(4).tolist(),
                                      **{m_: np.percentile(s_["x"][:, :3], [5, 25, 50, 75, 95],
                                                           axis=0).round(4).tolist()
                                         for m_, s_ in sims.items()}},
                        "_sims": sims, "_kx": kx}
        out(f"{key:10s} {len(kx):6d} {fmt(kfb, 3):>16s}  " + " ".join(
            f"{sims[m_]['fallback_share']:10.3f}" for m_ in MODES) + "   " + " / ".join(
            "(" + ", ".join(f"{v:.2f}" for v in ks[m_]) + ")" for m_ in MODES)
            + f"   {np.median(q_noise):.3f} ({len(q_noise)})")
    text = "\n".join(lines)
    print(text)
    txt = a.txt or (a.json[:-5] + ("_xnoise" if a.noise_from else "")
                    + ("_cora2" if a.second else "") + ".txt")
    with open(txt, "w") as f:
        f.write(text + "\n")
    if a.noise_from or a.second:  # the out-of-sample check / the second policy: text only
        return
    with open(a.json[:-5] + "_report.json", "w") as f:
        json.dump({"summary": summary,
                   "observations": {k: {kk: vv for kk, vv in v.items() if not kk.startswith("_")}
                                    for k, v in compare.items()}}, f)
    plots(a.json[:-5], d, rows, summary, compare, name)


def plots(stem, d, rows, summary, compare, name):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ccs = ("cubic", "bbr", "vegas-like", "cora(NN)", "cora2(NN)")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    for cc, base in [(c, b) for b in ("base", "base-rt") for c in ccs]:
        ss = [s for s in summary if s.get("scenario") == base and s["cc"] == cc]
        if not ss:
            continue
        lab = cc if base == "base" else f"{cc}, RT bridge"
        x = [s["rtt_ms"] for s in ss]
        ax1.errorbar(x, [s["throughput_mbit"][0] for s in ss],
                     yerr=[s["throughput_mbit"][1] or 0 for s in ss],
                     fmt="o-" if base == "base" else "s--", capsize=3, label=lab)
        ax2.errorbar(x, [s["rtt_ms_p95"][0] for s in ss],
                     yerr=[s["rtt_ms_p95"][1] or 0 for s in ss],
                     fmt="o-" if base == "base" else "s--", capsize=3, label=lab)
    ax1.set_xscale("log")
    ax2.set_xscale("log")
    ax1.set_xlabel("base RTT setting, ms")
    ax1.set_ylabel("throughput, Mbit/s")
    ax2.set_xlabel("base RTT setting, ms")
    ax2.set_ylabel("p95 RTT (ss), ms")
    ax1.legend(fontsize=8)
    fig.suptitle(f"testbed (measured {d['date_utc'][:16]}), 10 Mbit/s, 1 BDP, mean +- 95 % CI",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(stem + "_grid.png", dpi=110)
    plt.close(fig)
    scs = [s for s in ("base", "loss", "step", "cellular", "compete")
           if any(r["scenario"] == s for r in rows)]
    fig, axes = plt.subplots(2, len(scs), figsize=(3.3 * len(scs), 5.2), squeeze=False)
    for j, sc in enumerate(scs):
        rtt = 50.0 if any(r["rtt_setting_ms"] == 50.0 for r in rows if r["scenario"] == sc) \
            else rows[0]["rtt_setting_ms"]
        for r in rows:
            if r["scenario"] != sc or r["run"] != 0 or r["rtt_setting_ms"] != rtt:
                continue
            lab = r["ccn"] if sc != "compete" else f"{r['group']}[{r['flow']}]"
            if sc == "compete" and r["group"] in ("cubic+cubic", "vegas-like+cubic"):
                continue
            iv = np.array(r["intervals"], float).reshape(-1, 2)
            # iperf3's interval end times count from the end of its 1 s omitted start
            axes[0][j].step(iv[:, 0] + 1.0, iv[:, 1], where="pre", label=lab)
            axes[1][j].plot(r["series"]["t_s"], r["series"]["rtt_ms"], lw=0.8, label=lab)
            if r.get("schedule") and r["flow"] == 0 and r["ccn"] == "cubic":
                sch = np.array(r["schedule"], float)
                t = np.append(sch[:, 0], max(r["series"]["t_s"] or [sch[-1, 0] + 1]))
                axes[0][j].step(t, np.append(sch[:, 1], sch[-1, 1]), where="post", color="k",
                                lw=0.6, ls="--", label="TBF rate")
        axes[0][j].set_title(f"{sc}, {rtt:g} ms, run 0", fontsize=9)
        axes[0][j].set_ylabel("Mbit/s (iperf3, 1 s)")
        axes[1][j].set_ylabel("RTT ms (ss)")
        axes[1][j].set_xlabel("s")
        axes[0][j].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(stem + "_time.png", dpi=100)
    plt.close(fig)
    key = "base/50" if "base/50" in compare else next(iter(compare), None)
    if key:
        c = compare[key]
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
        for i, (ax, f) in enumerate(zip(axes, ("q (queue / base RTT)", "g (delay gradient)"),
                                        strict=True)):
            for lab, x in [("kernel", c["_kx"])] + [(m_, c["_sims"][m_]["x"]) for m_ in MODES]:
                v = np.sort(x[:, i])
                ax.plot(v, np.arange(1, len(v) + 1) / len(v), label=lab,
                        lw=1.6 if lab == "kernel" else 0.9)
            ax.set_xlabel(f)
            ax.set_ylabel("CDF over rounds")
            ax.set_xlim(np.percentile(c["_kx"][:, i], 1) - 0.05,
                        np.percentile(c["_kx"][:, i], 99) + 0.05)
        axes[0].legend(fontsize=8)
        fig.suptitle(f"observations at {key}: kernel (measured) vs simulator modes", fontsize=9)
        fig.tight_layout()
        fig.savefig(stem + "_obs.png", dpi=110)
        plt.close(fig)
        fig, ax = plt.subplots(figsize=(6, 3.4))
        keys = list(compare)
        xs = np.arange(len(keys))
        ax.bar(xs - 0.3, [compare[k]["kernel_fallback"][0] for k in keys], 0.2,
               yerr=[compare[k]["kernel_fallback"][1] or 0 for k in keys], label="kernel")
        for n_, m_ in enumerate(MODES):
            ax.bar(xs - 0.1 + 0.2 * n_, [compare[k]["sim_fallback"][m_] for k in keys], 0.2,
                   label=f"sim {m_}")
        ax.set_xticks(xs, keys)
        ax.set_ylabel("fallback share of rounds")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(stem + "_fallback.png", dpi=110)
        plt.close(fig)


if __name__ == "__main__":
    main()
