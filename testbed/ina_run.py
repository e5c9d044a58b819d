"""Benchmark worker processes of bench/ina.py and bench/ina_lhc.py on the INA testbed.

Worker side: ``python -m cora.testbed.ina_run --method M --rank R --workers N ...``, run inside
a worker namespace. Methods: ``ps`` (dense, through the user-space aggregator), ``nf`` (dense,
through the in-kernel aggregator netfuncs/ina/ina.nf: results arrive by multicast on
:data:`cora.ina.worker.RESULT_PORT`; ``--result-port`` does the same for the others), ``union``,
``lhc`` (two rounds), ``lhc1`` (one round, sketch sized from the expected union: see
:func:`cora.ina.allreduce`) and ``gloo`` (torch.distributed's all-reduce on the gloo backend,
a ring for these sizes). Two workloads:

* dense floats (``--sizes-mb 1,4``): standard normal float32 tensors of each size;
* sparse integers (``--elements E --densities 0.01,1``): int32 tensors of ``E`` elements,
  a fraction ``density`` of them non-zero, independently per worker (:func:`sparse_tensor`).

For each workload item: a barrier (a 1-element allreduce for the aggregator methods,
``dist.barrier`` for gloo), then ``repeats`` timed all-reduces. Tensors are seeded per rank,
so every rank computes the exact expected sum. One JSON line per measurement:
``{"method", "rank", "key", "time_s", "exact", "retransmissions", "wire_bytes"}`` where
``key`` is the size in bytes or the density, ``exact`` compares the result with numpy's sum
of all ranks' (quantised) tensors (None for gloo on floats: it sums floats), and
``wire_bytes`` is what the worker's ``eth0`` transmitted during the call (the link's
``tx_bytes`` counter from netlink: Ethernet frames with their headers, retransmissions and
TCP acknowledgements included).

Launcher side (the benches): :func:`start_aggregator`, :func:`run_method`, :func:`summarise`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Any

import numpy as np

SEED = 1234
AGG_METHODS = ("ps", "nf", "union", "lhc", "lhc1")
METHODS = AGG_METHODS + ("gloo",)
#: gloo's rendezvous port on worker 0
MASTER_PORT = 29517


def tensor(rank: int, n_elems: int) -> np.ndarray:
    """The dense benchmark tensor of ``rank``: standard normal float32, shape (n_elems,)."""
    return np.random.default_rng(SEED + rank).standard_normal(n_elems).astype(np.float32)


def sparse_tensor(rank: int, n_elems: int, density: float) -> np.ndarray:
    """The sparse benchmark tensor of ``rank``: int32, shape (n_elems,), each element
    non-zero with probability ``density`` (independently per rank, so N ranks' union has
    density 1 - (1 - density)**N), non-zero values uniform in [-2**20, 2**20) (a sum of up to
    2**10 workers fits int32)."""
    rng = np.random.default_rng([SEED, rank, int(round(density * 1e6))])
    keep = rng.random(n_elems) < density
    vals = rng.integers(-2**20, 2**20, n_elems)
    return np.where(keep, vals, 0).astype(np.int32)


def _tx_bytes(ifname: str = "eth0") -> int:
    """Bytes transmitted so far by ``ifname`` in this process's network namespace."""
    from pyroute2 import IPRoute

    with IPRoute() as ip:
        links = ip.get_links(ifname=ifname)
    if not links:
        raise RuntimeError(f"no link {ifname} in this network namespace")
    return int(links[0].get_attr("IFLA_STATS64")["tx_bytes"])


def _items(args) -> list[tuple[Any, Any, Any]]:
    """(key, this rank's tensor, the exact expected result or None) per workload item."""
    out: list[tuple[Any, Any, Any]] = []
    if args.densities:
        for d in (float(x) for x in args.densities.split(",")):
            xs = [sparse_tensor(r, args.elements, d) for r in range(args.workers)]
            out.append((d, xs[args.rank], np.sum(xs, axis=0, dtype=np.int64).astype(np.int32)))
        return out
    from cora.ina import quantize

    for size in (int(float(s) * 1e6) // 4 * 4 for s in args.sizes_mb.split(",")):
        n = size // 4
        x = tensor(args.rank, n)
        expect: Any = None
        if args.method != "gloo":
            q_sum = np.sum([quantize(tensor(r, n)) for r in range(args.workers)], axis=0,
                           dtype=np.int32)
            expect = (q_sum.astype(np.float64) * 2.0**-16).astype(np.float32)
        out.append((size, x, expect))
    return out


def _emit(args, key, dt: float, exact, retransmissions: int, wire: int) -> None:
    print(json.dumps({"method": args.method, "rank": args.rank, "key": key, "time_s": dt,
                      "exact": exact, "retransmissions": retransmissions,
                      "wire_bytes": wire}), flush=True)


def run_aggregated(args) -> None:
    """The aggregator methods (ps, nf, union, lhc, lhc1)."""
    from cora.ina import allreduce, lhc
    from cora.ina.worker import RESULT_PORT

    host, port = args.aggregator.rsplit(":", 1)
    kw: dict[str, Any] = dict(job=args.job, worker=args.rank, n_workers=args.workers,
                              aggregator=(host, int(port)), slots=args.slots,
                              timeout_s=args.timeout_s)
    if args.method == "nf" or args.result_port:
        kw["result_port"] = args.result_port or RESULT_PORT
    compress = {"ps": "none", "nf": "none", "union": "union", "lhc": "lhc",
                "lhc1": "lhc"}[args.method]
    for key, x, expect in _items(args):
        extra: dict[str, Any] = {"compress": compress}
        if args.method == "lhc1":  # one round: the sketch sized for 1.1x the expected union
            expect_u = x.size * (1 - (1 - float(key)) ** args.workers)
            extra["sketch_cells"] = lhc.sketch_cells(max(int(1.1 * expect_u), 1))
        for _ in range(args.repeats):
            allreduce(np.zeros(1, np.int32), **kw)  # barrier
            st: dict = {}
            b0 = _tx_bytes(args.ifname)
            t0 = time.perf_counter()
            out = allreduce(x, stats=st, **kw, **extra)
            dt = time.perf_counter() - t0
            _emit(args, key, dt, bool(np.array_equal(out, expect)), st["retransmissions"],
                  _tx_bytes(args.ifname) - b0)


def run_gloo(args) -> None:
    """torch.distributed all_reduce (sum) on the gloo backend, over the workers' eth0."""
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://{args.master}", rank=args.rank,
                            world_size=args.workers)
    try:
        for key, x, expect in _items(args):
            t = torch.from_numpy(x)
            for _ in range(args.repeats):
                buf = t.clone()
                dist.barrier()
                b0 = _tx_bytes(args.ifname)
                t0 = time.perf_counter()
                dist.all_reduce(buf)
                dt = time.perf_counter() - t0
                exact = None if expect is None else bool(np.array_equal(buf.numpy(), expect))
                _emit(args, key, dt, exact, 0, _tx_bytes(args.ifname) - b0)
    finally:
        dist.destroy_process_group()


def main(argv: list[str] | None = None) -> int:
    """The worker process; exit 0, or 1 after one JSON line with ``error``."""
    ap = argparse.ArgumentParser(prog="python -m cora.testbed.ina_run")
    ap.add_argument("--method", choices=METHODS, required=True)
    ap.add_argument("--rank", type=int, required=True)
    ap.add_argument("--workers", type=int, required=True)
    ap.add_argument("--sizes-mb", default="1", help="comma-separated MB (10^6 bytes)")
    ap.add_argument("--densities", default="", help="sparse int32 workload: densities")
    ap.add_argument("--elements", type=int, default=1 << 20)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--aggregator", default="")
    ap.add_argument("--master", default="")
    ap.add_argument("--job", type=int, default=1)
    ap.add_argument("--slots", type=int, default=64)
    ap.add_argument("--timeout-s", type=float, default=20.0)
    ap.add_argument("--ifname", default="eth0", help="the link whose tx bytes are counted")
    ap.add_argument("--result-port", type=int, default=0,
                    help="receive results on this port (the in-kernel aggregator's multicast)")
    args = ap.parse_args(argv)
    try:
        (run_gloo if args.method == "gloo" else run_aggregated)(args)
    except Exception as exc:  # one line for the bench to show, non-zero exit
        print(json.dumps({"method": args.method, "rank": args.rank,
                          "error": f"{type(exc).__name__}: {exc}"}), flush=True)
        return 1
    return 0


# ---- launcher side -----------------------------------------------------------------------

def start_aggregator(tb, host: str, port: int, pool_slots: int | None = None
                     ) -> subprocess.Popen:
    """``python -m cora.ina.ps`` in the testbed's switch namespace, once it says ready.

    Raises:
        RuntimeError: it exited or said nothing within 60 s.
    """
    argv = [sys.executable, "-m", "cora.ina.ps", "--host", host, "--port", str(port)]
    if pool_slots:
        argv += ["--pool-slots", str(pool_slots)]
    proc = tb.popen(tb.switch_ns, argv, stdout=subprocess.PIPE, text=True)
    end = time.monotonic() + 60
    while time.monotonic() < end:
        line = proc.stdout.readline()
        if line.startswith("ready"):
            return proc
        if proc.poll() is not None:
            break
    proc.kill()
    proc.wait()
    raise RuntimeError(f"the aggregator did not start (exit {proc.poll()})")


def run_method(tb, method: str, workload: list[str], repeats: int, aggregator: str,
               job: int, slots: int, timeout_s: float, result_port: int = 0,
               n_workers: int | None = None) -> list[dict]:
    """N worker processes of one method in the testbed's worker namespaces; returns their
    JSON lines. ``workload``: extra argv (``--sizes-mb ...`` or ``--elements E --densities
    ...``); ``result_port``: see ``--result-port`` (0: none; method ``nf`` implies it);
    ``n_workers``: run on the first this many workers only (default: all of the testbed).

    Raises:
        RuntimeError: a worker reported an error, or the workers stopped early or overran
            ``timeout_s`` (all ranks are killed at the first failure: the others would wait).
    """
    import os

    from cora.testbed.ina_topology import worker_ip

    n = n_workers or tb.n_workers
    procs = []
    for r in range(n):
        argv = [sys.executable, "-m", "cora.testbed.ina_run", "--method", method,
                "--rank", str(r), "--workers", str(n), "--repeats", str(repeats),
                "--aggregator", aggregator, "--master", f"{worker_ip(0)}:{MASTER_PORT}",
                "--job", str(job), "--slots", str(slots), *workload]
        if result_port:
            argv += ["--result-port", str(result_port)]
        # gloo picks its interface from the hostname (loopback here): name the link
        env = dict(os.environ, GLOO_SOCKET_IFNAME="eth0")
        procs.append(tb.popen(tb.worker_ns[r], argv, stdout=subprocess.PIPE, text=True,
                              env=env, stderr=subprocess.DEVNULL))
    rows = []
    try:
        deadline = time.monotonic() + timeout_s
        while any(p.poll() is None for p in procs):
            if any(p.poll() not in (None, 0) for p in procs) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        for p in procs:
            if p.poll() is None:
                p.kill()
            out, _ = p.communicate()
            rows += [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    errors = [r["error"] for r in rows if "error" in r]
    if errors:
        raise RuntimeError(f"{method}: {errors[0]}")
    if any(p.returncode != 0 for p in procs):
        raise RuntimeError(f"{method}: the workers stopped early or overran {timeout_s:.0f} s")
    return rows


def summarise(rows: list[dict]) -> dict:
    """Per key: ``{"s": median over repeats of the slowest rank's time, "exact": all exact
    (None when not checked), "retransmissions": sum over ranks and repeats, "wire_bytes":
    mean per worker and call}``."""
    by: dict = {}
    for r in rows:
        by.setdefault(r["key"], {}).setdefault(r["rank"], []).append(r)
    out = {}
    for key, ranks in by.items():
        reps = min(len(v) for v in ranks.values())
        slowest = [max(ranks[k][i]["time_s"] for k in ranks) for i in range(reps)]
        flat = [r for v in ranks.values() for r in v]
        exact = [r["exact"] for r in flat]
        out[key] = {"s": statistics.median(slowest),
                    "exact": None if exact[0] is None else all(exact),
                    "retransmissions": sum(r["retransmissions"] for r in flat),
                    "wire_bytes": statistics.mean(r["wire_bytes"] for r in flat)}
    return out


if __name__ == "__main__":
    sys.exit(main())
