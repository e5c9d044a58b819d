"""Data-parallel training on the INA testbed: DDP with gloo's all-reduce vs cora INA (dense)
vs cora INA with compression, side by side (docs/ina.md, section 10).

Driver (root)::

    .venv/bin/python -m cora.testbed.ina_train [--workers 4] [--steps 30] [--rate-mbit 10]
        [--models ncf,mlp] [--methods gloo,ina,lhc] [--json F] [--plot P] [--size small]

builds one :class:`cora.testbed.ina_topology.InaTestbed`, starts the reference aggregator
(``python -m cora.ina.ps``) in the switch namespace and, in every worker namespace, one
``torchrun`` (``python -m torch.distributed.run``, static rendezvous on worker 0's address,
one process per node) running this module with ``--worker``. The workers train every
(model, method) in turn in the same process group, from the same initial weights and on the
same synthetic batches; the driver shows progress from rank 0's lines, then prints the table
(per-iteration time, final loss, bytes per worker), checks that every worker's final weights
are identical within each run, and reports how far each INA run's weights are from gloo's.

Models (synthetic data, no downloads):

* ``ncf``: neural collaborative filtering (He et al., WWW'17: GMF + MLP towers over user and
  item embeddings) on implicit feedback drawn from hidden user/item factors; the embedding
  gradients are sparse (only the rows of a batch's users and items are non-zero), where
  compression pays.
* ``mlp``: a small dense classifier (two hidden layers) on Gaussian clusters; its gradients
  are dense, where it does not.

Methods: ``gloo`` (DDP's default all-reduce: gloo's ring over TCP), ``ina`` (the cora INA
hook, dense), ``lhc``, ``union``, ``auto`` (the hook with that ``compress`` mode).
Bytes per worker are measured on the worker's ``eth0`` (``/proc/net/dev`` TX, Ethernet
frames, all traffic of the run: gradients, gloo's start-up and barriers).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

METHODS = {"gloo": None, "ina": "none", "lhc": "lhc", "union": "union", "auto": "auto"}
MODELS = ("ncf", "mlp")
#: model sizes: (users, items, embedding dim, batch) for ncf; (features, hidden, classes,
#: batch) for mlp
SIZES = {"small": {"ncf": (2000, 500, 8, 128), "mlp": (32, 64, 8, 128)},
         "bench": {"ncf": (8000, 1000, 8, 256), "mlp": (64, 128, 10, 256)}}
SEED = 2024
RDZV_PORT = 29611


# -- the worker (run by torchrun) -----------------------------------------------------------
def _tx_bytes(dev: str = "eth0") -> int:
    """TX bytes of ``dev`` in this process's network namespace (/proc/net/dev)."""
    for line in Path("/proc/net/dev").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name.strip() == dev:
            return int(rest.split()[8])
    return 0


def _build(model: str, size: str):
    """(network, batch sampler, eval batch) of a model, seeded identically on every rank;
    the sampler takes a numpy Generator and returns (inputs, labels) tensors."""
    import torch
    from torch import nn

    torch.manual_seed(SEED)
    truth = np.random.default_rng(SEED)
    if model == "ncf":
        n_users, n_items, dim, batch = SIZES[size]["ncf"]
        u_f = truth.standard_normal((n_users, 4))
        i_f = truth.standard_normal((n_items, 4))
        # a strong item popularity (bias) term: learnable within a few dozen steps, where
        # the user factors (each user seen a few times) are not
        i_b = truth.standard_normal(n_items) * 2.0

        class NCF(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.user = nn.Embedding(n_users, 2 * dim)
                self.item = nn.Embedding(n_items, 2 * dim)
                for e in (self.user, self.item):
                    nn.init.normal_(e.weight, std=0.1)
                self.mlp = nn.Sequential(nn.Linear(2 * dim, 32), nn.ReLU(), nn.Linear(32, 16),
                                         nn.ReLU())
                self.out = nn.Linear(dim + 16, 1)

            def forward(self, x):
                u, i = self.user(x[:, 0]), self.item(x[:, 1])
                gmf = u[:, :dim] * i[:, :dim]
                mlp = self.mlp(torch.cat([u[:, dim:], i[:, dim:]], 1))
                return self.out(torch.cat([gmf, mlp], 1)).squeeze(1)

        def sample(rng: np.random.Generator, b: int = batch):
            u = rng.integers(0, n_users, b)
            i = rng.integers(0, n_items, b)
            y = (np.einsum("bk,bk->b", u_f[u], i_f[i]) + i_b[i] > 0).astype(np.float32)
            return torch.from_numpy(np.stack([u, i], 1)), torch.from_numpy(y)

        return NCF(), sample, nn.BCEWithLogitsLoss()
    feats, hidden, classes, batch = SIZES[size]["mlp"]
    centres = truth.standard_normal((classes, feats)) * 0.2  # overlapping classes
    net = nn.Sequential(nn.Linear(feats, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                        nn.ReLU(), nn.Linear(hidden, classes))

    def sample_mlp(rng: np.random.Generator, b: int = batch):
        y = rng.integers(0, classes, b)
        x = centres[y] + rng.standard_normal((b, feats))
        return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y)

    return net, sample_mlp, nn.CrossEntropyLoss()


def train_one(model: str, method: str, job: int, args) -> dict:
    """Train one (model, method) run in this rank; prints a JSON line per step; returns the
    run's summary (and saves the final flat weights under ``args.out``)."""
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    from cora.ina.ddp import InaHookState, ina_hook, setup_job

    rank, n = dist.get_rank(), dist.get_world_size()
    net, sample, loss_fn = _build(model, args.size)
    ddp = DDP(net)
    state = None
    compress = METHODS[method]
    if compress is not None:
        host, port = args.aggregator.rsplit(":", 1)
        state = InaHookState((host, int(port)), job=job, compress=compress,
                             timeout_s=args.timeout_s)
        setup_job(state, free_first=True)
        ddp.register_comm_hook(state, ina_hook)
    opt = torch.optim.Adam(ddp.parameters(), lr=args.lr)
    rng = np.random.default_rng(SEED + 1 + rank)          # each rank its own batches
    x_eval, y_eval = sample(np.random.default_rng(SEED - 1), 4096)
    dist.barrier()
    tx0 = _tx_bytes()
    for step in range(args.steps):
        x, y = sample(rng)
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = loss_fn(ddp(x), y)
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        with torch.no_grad():
            eval_loss = float(loss_fn(net(x_eval), y_eval))
        print(json.dumps({"model": model, "method": method, "rank": rank, "step": step,
                          "time_s": dt, "loss": float(loss), "eval_loss": eval_loss}),
              flush=True)
    dist.barrier()
    tx = _tx_bytes() - tx0
    flat = torch.cat([p.detach().reshape(-1) for p in net.parameters()]).numpy()
    path = Path(args.out) / f"{model}-{method}-{rank}.npy"
    np.save(path, flat)
    summary = {"model": model, "method": method, "rank": rank, "final": True,
               "tx_bytes": tx, "params": int(flat.size), "weights": str(path)}
    if state is not None:
        state.close()
        summary.update(hook_bytes=state.stats["bytes_total"],
                       retransmissions=state.stats["retransmissions"],
                       buckets=state.stats["buckets"])
        dist.barrier()
        if rank == 0:
            from cora.ina import allocate

            allocate(state.aggregator, job, state.slots, n, op="free")
    print(json.dumps(summary), flush=True)
    return summary


def worker_main(args) -> int:
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    try:
        job = 1
        for model in args.models.split(","):
            for method in args.methods.split(","):
                train_one(model, method, job, args)
                job += 1
    except Exception as exc:  # one line for the driver, non-zero exit
        print(json.dumps({"rank": dist.get_rank(), "error": f"{type(exc).__name__}: {exc}"}),
              flush=True)
        return 1
    finally:
        dist.destroy_process_group()
    return 0


# -- the driver ----------------------------------------------------------------------------
def _progress(line: dict, total: int, started: float) -> None:
    """One progress line (rewritten in place on a terminal) from rank 0's step record."""
    done = line["step"] + 1
    width = 24
    bar = "#" * (width * done // total) + "." * (width - width * done // total)
    text = (f"{line['model']:>3} {line['method']:<5} [{bar}] {done:>3}/{total} "
            f"loss {line['eval_loss']:.4f} {line['time_s']:.3f} s/it "
            f"({time.monotonic() - started:.0f} s)")
    if sys.stderr.isatty():
        sys.stderr.write("\r" + text + ("\n" if done == total else ""))
    elif done == total or done % 10 == 0:
        sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _stop_group(p: subprocess.Popen) -> None:
    """Stop a torchrun and its workers (its process group): SIGTERM (torchrun stops its
    workers), then SIGKILL to whatever is left after 5 s."""
    if p.poll() is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)  # workers that outlived torchrun, if any
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(p.pid, signal.SIGKILL)  # workers that outlived torchrun


def run_testbed(n_workers: int, steps: int, models: list[str], methods: list[str],
                rate_mbit: float, size: str = "small", lr: float = 0.01,
                timeout_s: float = 600.0, progress: bool = True, loss: float = 0.0,
                hook_timeout_s: float = 10.0) -> dict:
    """Run the training comparison on a fresh testbed; returns ``{"runs": {...}, ...}``.

    Each run ``"<model>/<method>"`` has ``steps`` (per step: ``time_s`` = the slowest rank's
    iteration time, ``loss`` = rank 0's batch loss, ``eval_loss`` = loss of the (identical)
    model on a fixed batch of 4,096), ``tx_bytes`` (per worker, mean), ``hook_bytes`` (UDP
    payload through the hook, mean), ``identical`` (all ranks' final weights equal, bit for
    bit), ``max_abs_diff_vs_gloo`` (rank 0's weights against the gloo run's) and ``weights``
    (rank 0's final flat weights, float32); ``prefix``: the testbed's namespace prefix (all
    removed on return).

    Raises:
        RuntimeError: a worker failed (its error line) or the runs overran ``timeout_s``.
    """
    from cora.ina import protocol as P
    from cora.testbed.ina_topology import SWITCH_IP, InaTestbed, worker_ip

    out_dir = tempfile.mkdtemp(prefix="cora-ina-train-")
    lines: list[dict] = []
    total_steps = steps
    with InaTestbed(n_workers, rate_mbit=rate_mbit, loss=loss) as tb:
        prefix = tb.topo.prefix if tb.topo else ""
        agg = tb.popen(tb.switch_ns, [sys.executable, "-m", "cora.ina.ps", "--host", SWITCH_IP,
                                      "--port", str(P.UDP_PORT)],
                       stdout=subprocess.PIPE, text=True)
        procs: list[subprocess.Popen] = []
        errs = []
        try:
            end = time.monotonic() + 60
            assert agg.stdout is not None
            while not agg.stdout.readline().startswith("ready"):
                if agg.poll() is not None or time.monotonic() > end:
                    raise RuntimeError("the aggregator did not start")
            env = dict(os.environ, GLOO_SOCKET_IFNAME="eth0", OMP_NUM_THREADS="1",
                       OPENBLAS_NUM_THREADS="1")
            for r in range(n_workers):
                argv = [sys.executable, "-m", "torch.distributed.run", f"--nnodes={n_workers}",
                        "--nproc-per-node=1", f"--node-rank={r}",
                        f"--master-addr={worker_ip(0)}", f"--master-port={RDZV_PORT}",
                        "-m", "cora.testbed.ina_train", "--worker",
                        "--steps", str(steps), "--models", ",".join(models),
                        "--methods", ",".join(methods), "--size", size, "--lr", str(lr),
                        "--timeout-s", str(hook_timeout_s),
                        "--aggregator", f"{SWITCH_IP}:{P.UDP_PORT}", "--out", out_dir]
                err = tempfile.TemporaryFile("w+")
                errs.append(err)
                # own session: the cleanup signals torchrun's whole process group
                procs.append(tb.popen(tb.worker_ns[r], argv, stdout=subprocess.PIPE,
                                      stderr=err, text=True, env=env,
                                      start_new_session=True))
            started = time.monotonic()
            deadline = started + timeout_s
            # rank 0's lines drive the progress display; the others are read at the end
            assert procs[0].stdout is not None
            for raw in procs[0].stdout:
                if not raw.startswith("{"):
                    continue
                rec = json.loads(raw)
                lines.append(rec)
                if progress and "step" in rec:
                    _progress(rec, total_steps, started)
                if "error" in rec or time.monotonic() > deadline:
                    break
            for p in procs:
                remaining = max(deadline - time.monotonic(), 1.0)
                try:
                    out, _ = p.communicate(timeout=remaining)
                except subprocess.TimeoutExpired:
                    _stop_group(p)
                    out, _ = p.communicate()
                if p is not procs[0]:
                    lines += [json.loads(s) for s in out.splitlines() if s.startswith("{")]
        finally:
            for p in procs:
                _stop_group(p)
            agg.terminate()
            agg.wait(10)
        failed = [rec["error"] for rec in lines if "error" in rec]
        if failed or any(p.returncode for p in procs):
            tail = ""
            for e in errs:
                e.seek(0)
                tail = tail or "".join(e.read().splitlines(True)[-5:])
            raise RuntimeError("a worker failed: " + (failed[0] if failed else tail.strip()))
        for e in errs:
            e.close()
    result = _collect(lines, n_workers, models, methods, steps, rate_mbit, size)
    result["prefix"] = prefix
    return result


def _collect(lines: list[dict], n: int, models: list[str], methods: list[str], steps: int,
             rate_mbit: float, size: str) -> dict:
    runs: dict = {}
    for model in models:
        gloo_w = None
        for method in methods:
            steps_ = [rec for rec in lines if rec.get("model") == model
                      and rec.get("method") == method and "step" in rec]
            finals = sorted((rec for rec in lines if rec.get("model") == model
                             and rec.get("method") == method and rec.get("final")),
                            key=lambda rec: rec["rank"])
            if len(finals) != n or len(steps_) != n * steps:
                raise RuntimeError(f"{model}/{method}: {len(finals)} of {n} workers finished")
            ws = [np.load(rec["weights"]) for rec in finals]
            per_step = []
            for s in range(steps):
                at = [rec for rec in steps_ if rec["step"] == s]
                r0 = next(rec for rec in at if rec["rank"] == 0)
                per_step.append({"time_s": max(rec["time_s"] for rec in at),
                                 "loss": r0["loss"], "eval_loss": r0["eval_loss"]})
            run = {"model": model, "method": method, "compress": METHODS[method],
                   "steps": per_step, "params": finals[0]["params"],
                   "tx_bytes": float(np.mean([rec["tx_bytes"] for rec in finals])),
                   "hook_bytes": (float(np.mean([rec["hook_bytes"] for rec in finals]))
                                  if "hook_bytes" in finals[0] else None),
                   "retransmissions": sum(rec.get("retransmissions", 0) for rec in finals),
                   "identical": all(np.array_equal(ws[0], w) for w in ws[1:]),
                   "weights": ws[0]}
            if method == "gloo":
                gloo_w = ws[0]
            run["max_abs_diff_vs_gloo"] = (None if gloo_w is None
                                           else float(np.abs(ws[0] - gloo_w).max()))
            runs[f"{model}/{method}"] = run
    for rec in lines:
        if rec.get("final"):
            Path(rec["weights"]).unlink(missing_ok=True)
    return {"runs": runs, "workers": n, "steps": steps, "rate_mbit": rate_mbit, "size": size}


def print_table(result: dict, stamp: str, load: str) -> None:
    """The training table: per model and method, median and mean iteration time, final
    loss, bytes per worker, weights identical across workers, distance to gloo."""
    print(f"# DDP training on the INA testbed, {stamp}, N = {result['workers']}, links "
          f"{result['rate_mbit']} Mbit/s (HTB both ways), {result['steps']} steps, "
          f"model size {result['size']!r}, load average {load} (shared machine)")
    print(f"{'model':<5} {'method':<6} {'params':>8} {'med s/it':>8} {'mean s/it':>9} "
          f"{'final loss':>10} {'eval loss':>9} {'MB/worker':>9} {'hook MB':>8} "
          f"{'identical':>9} {'|w-w_gloo|max':>13}")
    for run in result["runs"].values():
        ts = [s["time_s"] for s in run["steps"]]
        d = run["max_abs_diff_vs_gloo"]
        hook = "-" if run["hook_bytes"] is None else f"{run['hook_bytes'] / 1e6:.3f}"
        print(f"{run['model']:<5} {run['method']:<6} {run['params']:>8} "
              f"{float(np.median(ts)):>8.3f} {float(np.mean(ts)):>9.3f} "
              f"{run['steps'][-1]['loss']:>10.4f} {run['steps'][-1]['eval_loss']:>9.4f} "
              f"{run['tx_bytes'] / 1e6:>9.3f} {hook:>8} {str(run['identical']):>9} "
              f"{'-' if d is None else f'{d:.2e}':>13}")


def plot(result: dict, path: str, stamp: str) -> None:
    """Per model: iteration time and eval loss per step, one line per method (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = sorted({r["model"] for r in result["runs"].values()}, key=MODELS.index)
    fig, axes = plt.subplots(2, len(models), figsize=(5.2 * len(models), 6.4), squeeze=False)
    for col, model in enumerate(models):
        for run in result["runs"].values():
            if run["model"] != model:
                continue
            steps = range(1, len(run["steps"]) + 1)
            axes[0][col].plot(steps, [s["time_s"] for s in run["steps"]], label=run["method"])
            axes[1][col].plot(steps, [s["eval_loss"] for s in run["steps"]],
                              label=run["method"])
        axes[0][col].set_title(f"{model}: iteration time (slowest rank)")
        axes[0][col].set_ylabel("s")
        axes[0][col].set_yscale("log")
        axes[1][col].set_title(f"{model}: loss on a fixed batch")
        axes[1][col].set_xlabel("step")
        for ax in axes[:, col]:
            ax.legend()
            ax.grid(alpha=0.3)
    fig.suptitle(f"DDP on the INA testbed, N = {result['workers']}, {result['rate_mbit']} "
                 f"Mbit/s links, {stamp} (measured, shared machine)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m cora.testbed.ina_train",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--rate-mbit", type=float, default=10.0)
    ap.add_argument("--models", default="ncf,mlp")
    ap.add_argument("--methods", default="gloo,ina,lhc")
    ap.add_argument("--size", default="bench", choices=tuple(SIZES))
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--aggregator", default="")
    ap.add_argument("--out", default="")
    ap.add_argument("--timeout-s", type=float, default=10.0,
                    help="the hook's INA timeout (s): a dead peer ends a run after it")
    ap.add_argument("--limit-s", type=float, default=1800.0,
                    help="the whole comparison's time limit (s)")
    ap.add_argument("--json", default="", help="write the results (JSON) here")
    ap.add_argument("--plot", default="", help="write the PNG plot here")
    args = ap.parse_args(argv)
    if args.worker:
        return worker_main(args)
    from cora.errors import CoraError

    models, methods = args.models.split(","), args.methods.split(",")
    bad = [m for m in models if m not in MODELS] + [m for m in methods if m not in METHODS]
    if bad or args.steps < 1 or not 1 <= args.workers <= 8 or not args.rate_mbit > 0:
        print(f"error: unknown model/method {bad} (models {', '.join(MODELS)}; methods "
              f"{', '.join(METHODS)}), or steps < 1, workers outside 1..8 or rate <= 0",
              file=sys.stderr)
        return 2
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        print("error: torch is not installed (make setup installs it, extra 'ina')",
              file=sys.stderr)
        return 1
    if "gloo" in methods and methods[0] != "gloo":
        methods.remove("gloo")
        methods.insert(0, "gloo")  # the reference for the weight comparison runs first
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    try:
        result = run_testbed(args.workers, args.steps, models, methods, args.rate_mbit,
                             args.size, args.lr, timeout_s=args.limit_s,
                             hook_timeout_s=args.timeout_s)
    except (RuntimeError, OSError, ValueError, CoraError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print_table(result, stamp, load)
    if args.json:
        out = {k: v for k, v in result.items() if k != "runs"}
        out.update(date=stamp, load=load, runs={
            k: {kk: vv for kk, vv in r.items() if kk != "weights"}
            for k, r in result["runs"].items()})
        Path(args.json).write_text(json.dumps(out, indent=1))
    if args.plot:
        plot(result, args.plot, stamp)
    ok = all(r["identical"] for r in result["runs"].values())
    if not ok:
        print("error: some run's workers ended with different weights", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
