"""Certified training vs performance-only training, paired over seeds (SIMULATED).

Recipe per seed ``s`` (every run: OpenAI-ES, the simulator of cora.certify.sim, Genet ranges):

1. ``base``: performance-only training from scratch, ``--base-iters`` iterations, seed ``s``.
2. ``perf-only``: ``base`` trained ``--fine-iters`` more iterations, performance reward only.
3. ``certified``: ``base`` trained ``--fine-iters`` more iterations with the certificate terms
   in the reward, boxes centred on visited states (``penalty_boxes="visited"``, pointwise
   properties; cert weight ``--cert-weight``).

So both final policies have the same budget and the same start; what differs is the reward.
Writes, under ``--out`` (default bench/results/certify_train): ``seed{s}_{base,perf,cert}.npz``,
``curves.json`` (per-iteration population mean of the performance reward and of the
certificate penalty, per seed and run) and ``curves.png``. Progress goes to stderr.
Usage: .venv/bin/python bench/certify_train.py [--seeds 0,1,2,3,4] [--workers 3]
       [--base-iters 60] [--fine-iters 40] [--cert-weight 0.1] [--population 16] [--envs 32]
       [--steps 50] [--out DIR] [--cert-only --tag T] [--orca | --aurora]
(The defaults are small -- the shipped policies had 300 iterations of 24 pairs x 48
environments x 60 RTTs -- so that five paired seeds run on a loaded 2-core machine.)
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import pathlib  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from cora.certify.train import TrainConfig, train  # noqa: E402
from cora.settings import shown_path  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run_seed(job):
    seed, a = job
    out = pathlib.Path(a["out"])
    curves = {}
    t0 = time.time()
    base_path = out / f"seed{seed}_base.npz"
    runs = (("perf", "performance"), ("cert", "certified"))
    for kind in ("orca", "aurora"):  # learned baselines: their own reward, the same total budget
        if not a[kind]:
            continue
        c = []
        link = a["aurora_link_pps"] if kind == "aurora" else None
        fname = f"seed{seed}_{kind}{'_link' if link else ''}.npz"
        train(TrainConfig(mode="performance", seed=seed,
                          iterations=a["base_iters"] + a["fine_iters"],
                          population=a["population"], n_envs=a["envs"], steps=a["steps"],
                          controller=kind, aurora_link_pps=link),
              progress=False, curve=c).save(str(out / fname))
        print(f"seed {seed}: {kind} done ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
        return seed, {kind: c}
    if a["ackclocked"]:  # issue 14 (a) again: fine-tune the shipped policy on the kernel's view
        init = str(ROOT / "certify" / "models" / "cc_certified_2x64.npz")
        for name, mode in (("ack_perf", "performance"), ("ack_cert", "certified")):
            c = []
            cfg = TrainConfig(mode=mode, seed=2000 + seed, iterations=a["fine_iters"], init=init,
                              penalty_boxes="visited", closed_loop_penalty=False,
                              cert_weight=a["cert_weight"], population=a["population"],
                              n_envs=a["envs"], steps=a["steps"], controller="ackclocked")
            train(cfg, progress=False, curve=c).save(str(out / f"seed{seed}_{name}.npz"))
            curves[name] = c
            print(f"seed {seed}: {name} done ({time.time() - t0:.0f} s)", file=sys.stderr,
                  flush=True)
        return seed, curves
    if a["cert_only"]:  # another certified variant from the same bases
        if not base_path.exists():
            raise SystemExit(f"{base_path} missing: run without --cert-only first")
        runs = ((f"cert{a['tag']}", "certified"),)
    else:
        c = []
        train(TrainConfig(mode="performance", seed=seed, iterations=a["base_iters"],
                          population=a["population"], n_envs=a["envs"], steps=a["steps"]),
              progress=False, curve=c).save(str(base_path))
        curves["base"] = c
        print(f"seed {seed}: base done ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
    for name, mode in runs:
        c = []
        cfg = TrainConfig(mode=mode, seed=1000 + seed, iterations=a["fine_iters"],
                          init=str(base_path),
                          penalty_boxes="visited", closed_loop_penalty=False,
                          cert_weight=a["cert_weight"], population=a["population"],
                          n_envs=a["envs"], steps=a["steps"])
        train(cfg, progress=False, curve=c).save(str(out / f"seed{seed}_{name}.npz"))
        curves[name] = c
        print(f"seed {seed}: {name} done ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
    return seed, curves


def plot(curves: dict, path: str, base_iters: int):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    for seed, runs in sorted(curves.items()):
        it = [r["iteration"] for r in runs["base"]]
        ax1.plot(it, [r["perf_mean"] for r in runs["base"]], color="0.6", lw=0.8)
        for name, col in (("perf", "C0"), ("cert", "C3")):
            it = [base_iters + r["iteration"] for r in runs[name]]
            ax1.plot(it, [r["perf_mean"] for r in runs[name]], color=col, lw=0.8,
                     label=(("performance-only" if name == "perf" else "certified")
                            if seed == min(curves) else None))
        ax2.plot([r["iteration"] for r in runs["cert"]], [r["penalty_mean"] for r in runs["cert"]],
                 color="C3", lw=0.8)
    ax1.set_xlabel("ES iteration")
    ax1.set_ylabel("performance reward (population mean)")
    ax1.legend(fontsize=8)
    ax1.set_title("training reward (grey: shared base)")
    ax2.set_xlabel("fine-tuning iteration")
    ax2.set_ylabel("certificate penalty (population mean)")
    ax2.set_title("certified fine-tuning: penalty")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def plot_ack(curves: dict, path: str):
    """Reward and penalty curves of the ``--ackclocked`` fine-tuning (both arms, every seed)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    for seed, runs in sorted(curves.items()):
        for name, col, lab in (("ack_perf", "C0", "performance-only"),
                               ("ack_cert", "C3", "certified (visited boxes)")):
            it = [r["iteration"] for r in runs[name]]
            ax1.plot(it, [r["perf_mean"] for r in runs[name]], color=col, lw=0.8,
                     label=lab if seed == min(curves) else None)
        ax2.plot([r["iteration"] for r in runs["ack_cert"]],
                 [r["penalty_mean"] for r in runs["ack_cert"]], color="C3", lw=0.8)
    ax1.set_xlabel("fine-tuning iteration (from the shipped certified policy)")
    ax1.set_ylabel("performance reward, one-round-late feedback")
    ax1.legend(fontsize=8)
    ax2.set_xlabel("fine-tuning iteration")
    ax2.set_ylabel("certificate penalty (population mean)")
    fig.suptitle("ACK-clocked fine-tuning (simulated)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--base-iters", type=int, default=60)
    ap.add_argument("--fine-iters", type=int, default=40)
    ap.add_argument("--cert-weight", type=float, default=0.1)
    ap.add_argument("--population", type=int, default=16, help="antithetic pairs per iteration")
    ap.add_argument("--envs", type=int, default=32, help="environments per iteration")
    ap.add_argument("--steps", type=int, default=50, help="RTTs per rollout")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "certify_train"))
    ap.add_argument("--cert-only", action="store_true",
                    help="only the certified fine-tuning, from existing seed*_base.npz")
    ap.add_argument("--tag", default="", help="with --cert-only: files seed*_cert{TAG}.npz")
    ap.add_argument("--ackclocked", action="store_true",
                    help="fine-tune the shipped certified policy --fine-iters iterations on "
                         "one-round-late feedback (the kernel's view), performance-only and "
                         "certified (visited boxes) per seed: seed*_ack_{perf,cert}.npz")
    ap.add_argument("--orca", action="store_true",
                    help="instead: Orca-style agents over Cubic, base+fine iterations, "
                         "seed*_orca.npz")
    ap.add_argument("--aurora", action="store_true",
                    help="instead: Aurora agents (PCC-RL observation and reward), base+fine "
                         "iterations, seed*_aurora.npz")
    ap.add_argument("--aurora-link-pps", type=float,
                    help="with --aurora, an ablation: Aurora's throughput term rescaled to a link "
                         "of this many packets/s (scale free); files seed*_aurora_link.npz")
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    pathlib.Path(a.out).mkdir(parents=True, exist_ok=True)
    args = {"out": a.out, "base_iters": a.base_iters, "fine_iters": a.fine_iters,
            "cert_weight": a.cert_weight, "population": a.population, "envs": a.envs,
            "steps": a.steps, "cert_only": a.cert_only, "tag": a.tag, "orca": a.orca,
            "aurora": a.aurora, "aurora_link_pps": a.aurora_link_pps,
            "ackclocked": a.ackclocked}
    t0 = time.time()
    with multiprocessing.Pool(a.workers) as pool:
        results = dict(pool.map(run_seed, [(s, args) for s in seeds]))
    meta = {"date_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "command": " ".join(["bench/certify_train.py"] + sys.argv[1:]),
            "seconds": round(time.time() - t0, 1), **args, "out": shown_path(a.out), "seeds": seeds,
            "curves": {str(k): v for k, v in results.items()}}
    suffix = ("_ack" if a.ackclocked else "_orca" if a.orca
              else ("_aurora_link" if a.aurora_link_pps else "_aurora") if a.aurora
              else f"_cert{a.tag}" if a.cert_only else "")
    (pathlib.Path(a.out) / f"curves{suffix}.json").write_text(json.dumps(meta))
    if a.ackclocked:
        plot_ack(results, str(pathlib.Path(a.out) / "curves_ack.png"))
    elif not (a.cert_only or a.orca or a.aurora):
        plot(results, str(pathlib.Path(a.out) / "curves.png"), a.base_iters)
    what = ("curves_ack.{json,png} and seed*_ack_{perf,cert}.npz" if a.ackclocked else
            "curves_orca.json and seed*_orca.npz" if a.orca else
            f"curves{suffix}.json and seed*{suffix}.npz" if a.aurora else
            f"curves{suffix}.json and seed*_cert{a.tag}.npz" if a.cert_only else
            "curves.json, curves.png and seed*_{base,perf,cert}.npz")
    print(f"wrote {what} in {a.out} ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
