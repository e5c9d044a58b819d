"""Learned and classic controllers in the simulator, certified by volume and by visited states
(SIMULATED).

Controllers:
- ``certified`` / ``perf-only``: the paired policies of bench/certify_train.py (one per training
  seed, same start and budget, reward with / without certificate terms), read from --trained.
- ``shipped-cert`` / ``shipped-perf``: certify/models/*.npz (one policy each).
- ``orca-style``: Orca-style agents over Cubic (cora.certify.baselines.OrcaStyle), trained
  performance-only with the same total budget (bench/certify_train.py --orca); certified
  with the same pointwise properties (the closed-loop ones model the window rule: n/a).
- ``aurora``: Aurora agents (cora.certify.baselines.Aurora: PCC-RL's observation, rate rule
  and reward), trained with the same total budget (bench/certify_train.py --aurora);
  certified with the pointwise properties restated over its observation
  (cora.certify.properties.properties_for); robust and the closed-loop ones are n/a.
- ``aurora-link500``: an ablation, Aurora trained with its throughput term rescaled to a
  500 packets/s link (bench/certify_train.py --aurora --aurora-link-pps 500): scale free.
- ``cubic``, ``bbr-like``, ``vegas-like``: cora.certify.baselines.

Per run (one training seed for the trained policies, one evaluation seed otherwise; run ``i``
uses evaluation seed ``100 + i`` so every controller sees the same environments): mean
utilisation, mean per-environment p95 queueing delay (ms), mean loss rate over --envs
environments x --steps RTTs from Genet's ranges; for networks also the saturation rate on
visited states and, for every property, the proven fraction by volume and over visited states
(cora.certify.coverage; DeepPoly + relational closed loop, 2048 boxes). Figures are
mean +- half-width of the 95 % Student-t interval over runs.
With --ablation, the trained policies under a looser verifier (interval domain, interval closed
loop) and one tighter on visited states ("focused": the same 2048 boxes spent only on boxes
holding visited states): what the verifier changes, separately from training.
Writes --json and two PNGs next to it (utilisation vs delay; proven fractions).
Usage: .venv/bin/python bench/certify_sim.py [--runs 5] [--envs 256] [--steps 200] [--ablation]
       [--workers 3] [--trained DIR] [--json F]
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import pathlib  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

from cora.certify.baselines import BASELINES, OrcaStyle, controller_for  # noqa: E402
from cora.certify.coverage import saturation_rate, visited_states  # noqa: E402
from cora.certify.nn import load_policy, shipped_policy  # noqa: E402
from cora.certify.properties import PROPERTIES, check_property, properties_for  # noqa: E402
from cora.certify.sim import sample_envs, simulate  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
# two-sided 95 % Student-t quantiles t_{0.975, df} (standard table values), df = 1..10
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228}
VERIFIERS = {"loose": {"domain": "interval", "loop": "interval", "max_boxes": 2048},
             "default": {"domain": "deeppoly", "loop": "relational", "max_boxes": 2048},
             "focused": {"domain": "deeppoly", "loop": "relational", "max_boxes": 2048,
                         "focus": True}}


def ci(values) -> dict:
    """Mean and the half-width of the 95 % Student-t interval (``None`` entries dropped)."""
    v = np.array([x for x in values if x is not None], float)
    if len(v) == 0:
        return {"mean": None, "ci95": None, "n": 0}
    hw = T975.get(len(v) - 1, 1.96) * v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else None
    return {"mean": round(float(v.mean()), 4), "ci95": None if hw is None else round(float(hw), 4),
            "n": int(len(v))}


def performance(ctrl, seed: int, n_envs: int, steps: int) -> dict:
    envs = sample_envs(n_envs, np.random.default_rng(seed))
    s = simulate(ctrl, envs, steps, np.random.default_rng(seed + 1)).summary()
    return {"utilisation": float(s["utilisation"].mean()),
            "p95_queue_delay_ms": float(s["p95_queue_delay_ms"].mean()),
            "loss_rate": float(s["loss_rate"].mean())}


def certify(net, seed: int, verifier: str = "default") -> dict:
    v = visited_states(net, seed=seed)
    out = {"saturation_rate": saturation_rate(v)["saturated"]}
    orca = isinstance(controller_for(net), OrcaStyle)
    applies = properties_for(net)
    for p in PROPERTIES:
        # the closed loop models the window rule only
        if p not in applies or (orca and PROPERTIES[p].closed_loop):
            out[p] = {"volume": None, "visited": None, "visited_in_region": 0}
            continue
        r = check_property(net, p, visited=v, **VERIFIERS[verifier])
        out[p] = {"volume": r["proven_fraction"], "visited": r["visited_fraction"],
                  "visited_in_region": r["visited_in_region"]}
    return out


def run_network(job) -> dict:
    """One run of one network: performance, certificates (and the ablation's verifiers)."""
    name, i, net, n_envs, steps, ablation = job
    seed = 100 + i
    r = performance(controller_for(net), seed, n_envs, steps)
    r["cert"] = {"default": certify(net, seed)}
    if ablation:
        for ver in ("loose", "focused"):
            r["cert"][ver] = certify(net, seed, ver)
    print(f"{name} run {i}: util {r['utilisation']:.3f}", file=sys.stderr, flush=True)
    return r


def _fmt(c, digits=3):
    if c["mean"] is None:
        return "n/a".rjust(digits + 9)
    hw = "" if c["ci95"] is None else f"+-{c['ci95']:.{digits}f}"
    return f"{c['mean']:.{digits}f}{hw}".rjust(digits + 9)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--envs", type=int, default=256)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--trained", default=str(ROOT / "bench" / "results" / "certify_train"))
    ap.add_argument("--ablation", action="store_true")
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--controllers", help="comma-separated subset of the controllers to run")
    ap.add_argument("--report", help="print the tables of a saved --json result and exit")
    ap.add_argument("--merge", help="add the controllers run now to this saved --json result")
    ap.add_argument("--extra-cert", action="append", default=[],
                    help="also seed*_cert{TAG}.npz from certify_train.py --cert-only --tag TAG")
    ap.add_argument("--json", default=str(ROOT / "bench" / "results" / "certify_sim.json"))
    ap.add_argument("--figdir", help="also save the PNGs in this folder (e.g. docs/figures)")
    a = ap.parse_args()
    if a.report:
        out = json.loads(pathlib.Path(a.report).read_text())
        out["summary"] = summarise(out["raw"])
        report(out)
        if a.figdir:
            plots(out["summary"], a.report, a.figdir)
        return
    load0, t0 = os.getloadavg(), datetime.datetime.now(datetime.UTC)
    tdir = pathlib.Path(a.trained)
    nets, sources = {}, {}
    pairs = [("certified", "cert"), ("perf-only", "perf")]
    pairs += [(f"certified{t}", f"cert{t}") for t in a.extra_cert]
    pairs += [("orca-style", "orca"), ("aurora", "aurora"), ("aurora-link500", "aurora_link")]
    for name, tag in pairs:
        # exactly seed<N>_<tag>.npz: the glob seed*_cert.npz also matches seed0_ack_cert.npz
        files = sorted((f for f in tdir.glob(f"seed*_{tag}.npz")
                        if re.fullmatch(rf"seed\d+_{re.escape(tag)}\.npz", f.name)),
                       key=lambda f: int(f.name[4:f.name.index("_")]))[: a.runs]
        if files:
            nets[name] = [load_policy(str(f)) for f in files]
            sources[name] = [f.name for f in files]
        else:
            print(f"note: no {tdir}/seed*_{tag}.npz (run bench/certify_train.py); {name} left out",
                  file=sys.stderr)
    nets["shipped-cert"] = [load_policy(shipped_policy("certified"))] * a.runs
    nets["shipped-perf"] = [load_policy(shipped_policy("performance"))] * a.runs
    wanted = set(a.controllers.split(",")) if a.controllers else None
    jobs = [(name, i, net, a.envs, a.steps, a.ablation and not name.startswith("shipped"))
            for name, lst in nets.items() for i, net in enumerate(lst)
            if wanted is None or name in wanted]
    with multiprocessing.Pool(a.workers) as pool:
        done = pool.map(run_network, jobs)
    rows = {}
    for (name, *_), r in zip(jobs, done, strict=True):
        rows.setdefault(name, []).append(r)
    for name, cls in BASELINES.items():
        if wanted is None or name in wanted:
            rows[name] = [performance(cls(), 100 + i, a.envs, a.steps) for i in range(a.runs)]
    if a.merge:  # add these controllers to a saved result (same runs, envs and steps)
        prior = json.loads(pathlib.Path(a.merge).read_text())
        if (prior["runs"], prior["envs"], prior["steps"]) != (a.runs, a.envs, a.steps):
            raise SystemExit(f"{a.merge} has other runs/envs/steps; cannot merge")
        rows = {**prior["raw"], **rows}
    cmd = " ".join(["bench/certify_sim.py"] + sys.argv[1:])
    if a.merge:
        cmd = f"{prior['command']} (dated {prior['date_utc']}); then {cmd}"
    out = {"date_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
           "command": cmd,
           "runs": a.runs, "envs": a.envs, "steps": a.steps, "raw": rows,
           "policies": {k: v for k, v in sources.items() if k in rows},
           "loadavg_start": [round(x, 2) for x in load0],
           "loadavg_end": [round(x, 2) for x in os.getloadavg()],
           "seconds": round((datetime.datetime.now(datetime.UTC) - t0).total_seconds(), 1)}
    out["summary"] = summarise(rows)
    pathlib.Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(a.json).write_text(json.dumps(out))
    report(out)
    plots(out["summary"], a.json, a.figdir)


def summarise(rows: dict) -> dict:
    """Mean and 95 % interval of every metric over runs, per controller and verifier."""
    summary = {}
    for name, runs in rows.items():
        s = {k: ci([r[k] for r in runs])
             for k in ("utilisation", "p95_queue_delay_ms", "loss_rate")}
        if "cert" in runs[0]:
            for ver in [v for v in runs[0]["cert"] if all(v in r["cert"] for r in runs)]:
                c = [r["cert"][ver] for r in runs]
                s[ver] = {"saturation_rate": ci([x["saturation_rate"] for x in c])}
                for p in PROPERTIES:
                    s[ver][p] = {m: ci([x[p][m] for x in c]) for m in ("volume", "visited")}
        summary[name] = s
    return summary


def paired(rows: dict, a: str, b: str, ver: str = "default") -> dict:
    """Per-run differences ``a - b`` (run ``i`` of both: same training seed's base policy and
    the same evaluation environments), mean and 95 % interval: utilisation (relative, %),
    p95 delay (ms) and each property's visited-state fraction."""
    ra, rb = rows[a], rows[b]
    n = min(len(ra), len(rb))
    out = {"utilisation_pct": ci([100 * (ra[i]["utilisation"] / rb[i]["utilisation"] - 1)
                                  for i in range(n)]),
           "p95_queue_delay_ms": ci([ra[i]["p95_queue_delay_ms"] - rb[i]["p95_queue_delay_ms"]
                                     for i in range(n)])}
    for p in PROPERTIES:
        d = [None if None in (ra[i]["cert"][ver][p]["visited"], rb[i]["cert"][ver][p]["visited"])
             else ra[i]["cert"][ver][p]["visited"] - rb[i]["cert"][ver][p]["visited"]
             for i in range(n)]
        out[p] = ci(d)
    return out


def report(out: dict):
    """Print the tables of a result (``--report F.json`` prints a saved one)."""
    summary, rows = out["summary"], out["raw"]
    print(f"SIMULATED, {out['date_utc']}: {out['envs']} environments x {out['steps']} RTTs "
          f"(Genet ranges) per run, {out['runs']} runs, mean +- 95 % t-interval half-width")
    if "loadavg_start" in out:
        print(f"machine: 2 cores shared with other engineers' jobs; 1/5/15-min load average "
              f"{out['loadavg_start']} at the start, {out['loadavg_end']} at the end; "
              f"{out['seconds']:.0f} s")
    print(f"{'controller':15s} {'utilisation':>14s} {'p95 qdelay ms':>14s} {'loss':>14s} "
          f"{'saturation':>14s}")
    for name, s in summary.items():
        sat = _fmt(s["default"]["saturation_rate"]) if "default" in s else "n/a".rjust(12)
        print(f"{name:15s} {_fmt(s['utilisation'])} {_fmt(s['p95_queue_delay_ms'], 1):>14s} "
              f"{_fmt(s['loss_rate'], 4)} {sat:>14s}")
    learned = [n for n in summary if "default" in summary[n]]
    print("\nevery controller, verifier 'default': saturation rate on visited states and each "
          "property's proven fraction by volume / by visited states")
    print(f"{'controller':15s} {'property':21s} {'volume':>14s} {'visited states':>14s}")
    for name, s in summary.items():
        if "default" not in s:
            print(f"{name:15s} {'(all)':21s} {'n/a':>14s} {'n/a':>14s}   not a network: no "
                  "certificate, no saturation rate")
            continue
        print(f"{name:15s} {'saturation rate':21s} {'':>14s} "
              f"{_fmt(s['default']['saturation_rate']):>14s}")
        for p in PROPERTIES:
            c = s["default"][p]
            print(f"{'':15s} {p:21s} {_fmt(c['volume']):>14s} {_fmt(c['visited']):>14s}")
    for ver in VERIFIERS:
        cols = [n for n in learned if ver in summary[n]]
        if not cols:
            continue
        print(f"\nproven fraction, verifier '{ver}' {VERIFIERS[ver]}: volume / visited states")
        print(f"{'property':21s}" + "".join(f"{n:>30s}" for n in cols))
        print(f"{'saturation rate':21s}"
              + "".join(f"{_fmt(summary[n][ver]['saturation_rate']):>30s}" for n in cols))
        for p in PROPERTIES:
            cells = []
            for n in cols:
                c = summary[n][ver][p]
                cells.append(f"{_fmt(c['volume'])} / {_fmt(c['visited'])}")
            print(f"{p:21s}" + "".join(f"{c:>30s}" for c in cells))
    for cert in [n for n in learned if n.startswith("certified")]:
        if "perf-only" not in rows:
            break
        for ver in [v for v in VERIFIERS if v in summary[cert] and v in summary["perf-only"]]:
            d = paired(rows, cert, "perf-only", ver)
            print(f"\npaired, {cert} - perf-only (same base policy per seed), verifier '{ver}':")
            print(f"  utilisation {_fmt(d['utilisation_pct'], 2)} %   p95 queueing delay "
                  f"{_fmt(d['p95_queue_delay_ms'], 1)} ms")
            print("  visited-state fraction: " + ", ".join(
                f"{p} {_fmt(d[p]).strip()}" for p in PROPERTIES if d[p]["mean"] is not None))
    print("(Cubic, BBR-like and Vegas-like are not networks: no certificate or saturation rate; "
          "orca-style: closed-loop properties n/a, the closed loop models the window rule; "
          "aurora: properties restated over its own observation, robust and closed-loop n/a.)")


def _save(fig, path: str, figdir: str | None):
    fig.savefig(path, dpi=110)
    if figdir:
        pathlib.Path(figdir).mkdir(parents=True, exist_ok=True)
        fig.savefig(str(pathlib.Path(figdir) / pathlib.Path(path).name), dpi=110)


def plots(summary: dict, json_path: str, figdir: str | None = None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    base = json_path[:-5] if json_path.endswith(".json") else json_path
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for name, s in summary.items():
        u, d = s["utilisation"], s["p95_queue_delay_ms"]
        ax.errorbar(d["mean"], u["mean"], xerr=d["ci95"] or 0, yerr=u["ci95"] or 0, fmt="o",
                    capsize=3, label=name)
    ax.set_xlabel("p95 queueing delay, ms (mean over environments)")
    ax.set_ylabel("utilisation")
    ax.set_title("simulated, Genet ranges (95 % CI over runs)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    _save(fig, base + "_util_delay.png", figdir)
    learned = [n for n in summary if "default" in summary[n]]
    props = list(PROPERTIES)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    width = 0.8 / max(len(learned), 1)
    for ax, m in zip(axes, ("volume", "visited"), strict=True):
        for k, n in enumerate(learned):
            vals = [summary[n]["default"][p][m]["mean"] for p in props]
            errs = [summary[n]["default"][p][m]["ci95"] or 0 for p in props]
            x = np.arange(len(props)) + k * width
            ax.bar(x, [v if v is not None else 0 for v in vals], width, yerr=errs, label=n,
                   capsize=2)
        ax.set_xticks(np.arange(len(props)) + 0.4 - width / 2)
        ax.set_xticklabels(props, rotation=35, ha="right", fontsize=7)
        ax.set_title(f"proven fraction by {m}" + (" states" if m == "visited" else ""))
    axes[0].set_ylabel("proven fraction")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    _save(fig, base + "_proven.png", figdir)


if __name__ == "__main__":
    main()
