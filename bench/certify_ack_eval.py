"""Issue 14 (a), second attempt: certified vs performance-only fine-tuning on the kernel's view
(SIMULATED).

Policies: ``bench/certify_train.py --ackclocked`` fine-tunes the shipped certified policy for
40 ES iterations with one-round-late feedback (:class:`cora.certify.kernelsim.AckClocked`,
what the kernel controller sees), per seed once performance-only (``ack_perf``) and once
with the certificate terms on boxes centred on states visited *in that lagged loop*
(``ack_cert``): the certified loss weighted by the visited-state distribution of the system
that is deployed. The shipped certified policy, evaluated in the same lagged loop, is the
common start.

Per policy and evaluation run ``i`` (seed ``100 + i``, the same environments for all; paired
with the training seed ``i``), over --envs environments x --steps RTTs from Genet's ranges,
all in the lagged loop:

- ``utilisation``, ``p95_queue_delay_ms``, ``loss_rate`` of the policy alone;
- ``runtime_fallback``: share of rounds the exported rule would hand to Cubic (observation in
  a cell of the quantized policy's proven-cell table not proven, or a loss round), with the
  runtime rule itself in the loop (:class:`cora.certify.kernelsim.RuntimeController`) -- the
  kernel's fallback share over the simulator's whole range -- and that loop's utilisation;
- every pointwise property's proven fraction by volume and over the lagged loop's visited
  states (DeepPoly, 2048 boxes), plus the ``focused`` verifier (same policy, same budget
  spent only on boxes holding visited states) as the ablation of verifier looseness.

Prints mean +- 95 % t-intervals and the paired differences ack_cert - ack_perf; writes --json.
Usage: .venv/bin/python bench/certify_ack_eval.py [--runs 5] [--envs 128] [--steps 120]
       [--workers 2] [--trained DIR] [--json F]
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import pathlib  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262}
POINTWISE = ("backoff_delay", "backoff_loss", "probe", "monotonic", "robust")


def ci(v):
    v = np.array([x for x in v if x is not None], float)
    if len(v) == 0:
        return (None, None)
    return (float(v.mean()),
            float(T975.get(len(v) - 1, 1.96) * v.std(ddof=1) / np.sqrt(len(v)))
            if len(v) > 1 else None)


def lagged(net):
    """The same network with a spec that makes :func:`controller_for` use the lagged loop."""
    spec = dict(getattr(net, "spec", None) or {})
    spec["trained"] = dict(spec.get("trained", {}), controller="ackclocked")
    net.spec = spec
    return net


def evaluate(job):
    name, i, path, n_envs, steps = job
    from cora.certify.baselines import controller_for
    from cora.certify.coverage import visited_states
    from cora.certify.export import proven_cells
    from cora.certify.kernelsim import AckClocked, RuntimeController
    from cora.certify.nn import load_policy
    from cora.certify.properties import check_property
    from cora.certify.quant import quantize
    from cora.certify.sim import sample_envs, simulate
    net = lagged(load_policy(path))
    seed = 100 + i
    envs = sample_envs(n_envs, np.random.default_rng(seed))
    s = simulate(controller_for(net), envs, steps, np.random.default_rng(seed + 1)).summary()
    r = {"utilisation": float(s["utilisation"].mean()),
         "p95_queue_delay_ms": float(s["p95_queue_delay_ms"].mean()),
         "loss_rate": float(s["loss_rate"].mean())}
    qnet = quantize(net)
    table = proven_cells(qnet)
    rt = AckClocked(RuntimeController(qnet, table), 1)

    class Rec:
        def reset(self, envs, cwnd):
            rt.reset(envs, cwnd)
            self.p = []

        def update(self, info):
            w = rt.update(info)
            self.p.append(rt.last_proven)
            return w
    rec = Rec()
    s2 = simulate(rec, envs, steps, np.random.default_rng(seed + 1)).summary()
    r["runtime_fallback"] = float(1 - np.concatenate(rec.p[1:]).mean())
    r["runtime_utilisation"] = float(s2["utilisation"].mean())
    r["proven_cells"] = float(table.mean())
    v = visited_states(net, seed=seed)
    for ver, kw in (("default", {}), ("focused", {"focus": True})):
        for p in POINTWISE:
            c = check_property(net, p, visited=v, max_boxes=2048, **kw)
            r[f"{ver}/{p}"] = {"volume": c["proven_fraction"], "visited": c["visited_fraction"]}
    print(f"{name} run {i}: util {r['utilisation']:.3f} fallback {r['runtime_fallback']:.3f}",
          file=sys.stderr, flush=True)
    return name, i, r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--envs", type=int, default=128)
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--trained", default=str(ROOT / "bench" / "results" / "certify_train"))
    ap.add_argument("--json", default=str(ROOT / "bench" / "results" / "certify_ack_eval.json"))
    a = ap.parse_args()
    from cora.certify.nn import shipped_policy
    tdir = pathlib.Path(a.trained)
    jobs = [("shipped-cert", i, shipped_policy("certified"), a.envs, a.steps)
            for i in range(a.runs)]
    for tag in ("ack_perf", "ack_cert"):
        files = sorted(tdir.glob(f"seed*_{tag}.npz"))[: a.runs]
        if not files:
            raise SystemExit(f"no {tdir}/seed*_{tag}.npz: run bench/certify_train.py --ackclocked")
        jobs += [(tag, i, str(f), a.envs, a.steps) for i, f in enumerate(files)]
    with multiprocessing.Pool(a.workers) as pool:
        done = pool.map(evaluate, jobs)
    rows: dict = {}
    for name, i, r in done:
        rows.setdefault(name, {})[i] = r
    keys = ["utilisation", "p95_queue_delay_ms", "loss_rate", "runtime_fallback",
            "runtime_utilisation", "proven_cells"]
    lines = [f"SIMULATED {datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds')}: "
             f"{' '.join(['bench/certify_ack_eval.py'] + sys.argv[1:])}; lagged loop (one round "
             f"late, the kernel's view), {a.envs} envs x {a.steps} RTTs, Genet ranges; "
             f"mean +- 95 % t-interval over {a.runs} runs (machine loaded)"]

    def f(c, d=3):
        return "n/a" if c[0] is None else f"{c[0]:.{d}f}" + (
            "" if c[1] is None else f"+-{c[1]:.{d}f}")
    lines.append(f"{'policy':13s} " + " ".join(f"{k:>18s}" for k in keys))
    for name, rs in rows.items():
        lines.append(f"{name:13s} " + " ".join(
            f"{f(ci([r[k] for r in rs.values()]), 4 if k == 'loss_rate' else 3):>18s}"
            for k in keys))
    lines.append("proven fraction, volume / visited states (lagged loop), default verifier; "
                 "[focused verifier: visited]")
    for name, rs in rows.items():
        lines.append(f"{name:13s} " + "  ".join(
            f"{p} {f(ci([r[f'default/{p}']['volume'] for r in rs.values()]))} / "
            f"{f(ci([r[f'default/{p}']['visited'] for r in rs.values()]))} "
            f"[{f(ci([r[f'focused/{p}']['visited'] for r in rs.values()]))}]" for p in POINTWISE))
    lines.append("paired ack_cert - ack_perf (same training seed, same evaluation envs):")
    pc, pp = rows["ack_cert"], rows["ack_perf"]
    common = sorted(set(pc) & set(pp))
    diffs = {}
    for k in keys:
        diffs[k] = ci([pc[i][k] - pp[i][k] for i in common])
    for ver in ("default", "focused"):
        for p in POINTWISE:
            vals = [None if pc[i][f"{ver}/{p}"]["visited"] is None
                    or pp[i][f"{ver}/{p}"]["visited"] is None
                    else pc[i][f"{ver}/{p}"]["visited"] - pp[i][f"{ver}/{p}"]["visited"]
                    for i in common]
            diffs[f"{ver}/{p}/visited"] = ci(vals)
    for k, c in diffs.items():
        lines.append(f"  {k:28s} {f(c, 4)}")
    text = "\n".join(lines)
    print(text)
    pathlib.Path(a.json).write_text(json.dumps({"rows": rows, "paired": diffs, "text": text}))
    pathlib.Path(a.json[:-5] + ".txt").write_text(text + "\n")


if __name__ == "__main__":
    main()
