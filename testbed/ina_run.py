"""One benchmark worker process of bench/ina.py, run inside a worker namespace.

``python -m cora.testbed.ina_run --method ps|gloo --rank R --workers N --sizes-mb 1,4
--repeats 3 --aggregator HOST:PORT --master HOST:PORT``

For each tensor size: a barrier (a 1-element allreduce for ``ps``, ``dist.barrier`` for
``gloo``), then ``repeats`` timed all-reduces of a float32 tensor of that size (seeded per
rank, so every rank can compute the exact expected sum). Prints one JSON line per
measurement: ``{"method", "rank", "size_bytes", "time_s", "exact"}``. ``exact`` compares the
result with numpy's sum of all ranks' quantised tensors (ps) or is None (gloo sums floats).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

SEED = 1234


def tensor(rank: int, n_elems: int) -> np.ndarray:
    """The benchmark tensor of ``rank``: standard normal float32, shape (n_elems,)."""
    return np.random.default_rng(SEED + rank).standard_normal(n_elems).astype(np.float32)


def run_ps(args, sizes: list[int]) -> None:
    from cora.ina import allreduce, quantize

    host, port = args.aggregator.rsplit(":", 1)
    addr = (host, int(port))
    kw = dict(job=args.job, worker=args.rank, n_workers=args.workers, aggregator=addr,
              slots=args.slots, timeout_s=args.timeout_s)
    for size in sizes:
        n = size // 4
        x = tensor(args.rank, n)
        q_sum = np.sum([quantize(tensor(r, n)) for r in range(args.workers)], axis=0,
                       dtype=np.int32)
        expect = (q_sum.astype(np.float64) * 2.0**-16).astype(np.float32)
        for _ in range(args.repeats):
            allreduce(np.zeros(1, np.int32), **kw)  # barrier
            st: dict = {}
            t0 = time.perf_counter()
            out = allreduce(x, stats=st, **kw)
            dt = time.perf_counter() - t0
            print(json.dumps({"method": "ps", "rank": args.rank, "size_bytes": size,
                              "time_s": dt, "exact": bool(np.array_equal(out, expect)),
                              "retransmissions": st["retransmissions"]}), flush=True)


def run_gloo(args, sizes: list[int]) -> None:
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://{args.master}", rank=args.rank,
                            world_size=args.workers)
    try:
        for size in sizes:
            t = torch.from_numpy(tensor(args.rank, size // 4))
            for _ in range(args.repeats):
                buf = t.clone()
                dist.barrier()
                t0 = time.perf_counter()
                dist.all_reduce(buf)
                dt = time.perf_counter() - t0
                print(json.dumps({"method": "gloo", "rank": args.rank, "size_bytes": size,
                                  "time_s": dt, "exact": None}), flush=True)
    finally:
        dist.destroy_process_group()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m cora.testbed.ina_run")
    ap.add_argument("--method", choices=("ps", "gloo"), required=True)
    ap.add_argument("--rank", type=int, required=True)
    ap.add_argument("--workers", type=int, required=True)
    ap.add_argument("--sizes-mb", required=True, help="comma-separated MB (10^6 bytes)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--aggregator", default="")
    ap.add_argument("--master", default="")
    ap.add_argument("--job", type=int, default=1)
    ap.add_argument("--slots", type=int, default=64)
    ap.add_argument("--timeout-s", type=float, default=20.0)
    args = ap.parse_args(argv)
    sizes = [int(float(s) * 1e6) // 4 * 4 for s in args.sizes_mb.split(",")]
    try:
        (run_ps if args.method == "ps" else run_gloo)(args, sizes)
    except Exception as exc:  # one line for the bench to show, non-zero exit
        print(json.dumps({"method": args.method, "rank": args.rank,
                          "error": f"{type(exc).__name__}: {exc}"}), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
