"""Compressed all-reduce (MEASURED, loopback): dense INA vs "union" vs LHC, vs density.

N worker processes all-reduce int32 tensors of ``--elements`` elements with a fraction
``density`` of non-zeros (independent per worker, so the union has density 1-(1-d)^N)
through the user-space reference aggregator (``python -m cora.ina.ps``, its own process) on
127.0.0.1. Modes, all bit-exact against numpy's int64 sum (checked every call):

* ``dense``: compress="none", one round of n values.
* ``union``: round A ORs the bitmaps (n/32 words), round B sums the u union values.
* ``lhc2``: round A bitmaps, round B a count sketch of sketch_cells(u) = u/0.75 cells.
* ``lhc1``: one round, the bitmap and a sketch sized from the density bound
  (sketch_cells(1.1 x expected union)), then the fallback for whatever did not peel.

Reported per mode: UDP payload bytes sent per worker (mean; retransmissions included) and the
all-reduce time (median over ``--repeats`` of the slowest worker, after a barrier). Then the
encode (bitmap + sketch) and decode (unpack + peel) time per MB of int32 tensor on this CPU.
Loopback has no link limit: time here is the Python aggregator's CPU per packet, so it
follows the packet count; the machine is shared (say its load when quoting figures).

Usage: .venv/bin/python bench/ina_lhc.py [--elements 1048576] [--workers 4]
       [--densities 0.001,0.01,0.1,1] [--repeats 3] [--json]
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing as mp  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from cora.ina import allocate, allreduce, lhc  # noqa: E402

MODES = ("dense", "union", "lhc2", "lhc1")
JOB = 7
SLOTS = 64


def tensors(n: int, density: float, workers: int, seed: int) -> list[np.ndarray]:
    """The workers' int32 tensors: ``density`` of the elements non-zero, values +-2**20."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(workers):
        keep = rng.random(n) < density
        out.append(np.where(keep, rng.integers(-2**20, 2**20, n), 0).astype(np.int32))
    return out


def _kwargs(mode: str, n: int, density: float, workers: int) -> dict:
    if mode == "dense":
        return {"compress": "none"}
    if mode == "union":
        return {"compress": "union"}
    if mode == "lhc2":
        return {"compress": "lhc"}
    expect_u = n * (1 - (1 - density) ** workers)
    return {"compress": "lhc", "sketch_cells": lhc.sketch_cells(max(int(1.1 * expect_u), 1))}


def _worker(rank: int, args, port: int, barrier, queue) -> None:
    addr = ("127.0.0.1", port)
    for d in args.densities:
        xs = tensors(args.elements, d, args.workers, seed=int(d * 1e6))
        expect = np.sum(xs, axis=0, dtype=np.int64).astype(np.int32)
        for mode in MODES:
            kw = _kwargs(mode, args.elements, d, args.workers)
            for rep in range(args.repeats):
                st: dict = {}
                barrier.wait()
                t0 = time.perf_counter()
                out = allreduce(xs[rank], job=JOB, worker=rank, n_workers=args.workers,
                                aggregator=addr, slots=SLOTS, stats=st, timeout_s=30.0, **kw)
                dt = time.perf_counter() - t0
                queue.put({"density": d, "mode": mode, "rep": rep, "rank": rank, "s": dt,
                           "bytes": st["bytes_total"], "union": st.get("union"),
                           "unresolved": st.get("unresolved", 0),
                           "retransmissions": st["retransmissions"],
                           "exact": bool(np.array_equal(out, expect))})


def codec_times(n: int, densities: list[float], workers: int) -> list[dict]:
    """Encode (bitmap + sketch of one worker) and decode (unpack + peel of the aggregate)
    seconds per MB of int32 tensor, median of 3."""
    rows = []
    for d in densities:
        xs = tensors(n, d, workers, seed=int(d * 1e6))
        union = np.flatnonzero(np.bitwise_or.reduce([x != 0 for x in xs]))
        m = lhc.sketch_cells(union.size)
        x = xs[0]
        enc, dec = [], []
        agg = np.zeros(m, np.int64)
        for y in xs:
            nz = np.flatnonzero(y)
            agg += lhc.encode_sketch(nz, y[nz], m)
        words = lhc.pack_bitmap(x != 0)
        for _ in range(3):
            t0 = time.perf_counter()
            nz = np.flatnonzero(x)
            lhc.pack_bitmap(x != 0)
            lhc.encode_sketch(nz, x[nz], m)
            t1 = time.perf_counter()
            np.flatnonzero(lhc.unpack_bitmap(words, n))
            _, ok = lhc.peel(agg, union, 0)
            t2 = time.perf_counter()
            enc.append(t1 - t0)
            dec.append(t2 - t1)
        mb = n * 4 / 1e6
        rows.append({"density": d, "encode_s_per_mb": statistics.median(enc) / mb,
                     "decode_s_per_mb": statistics.median(dec) / mb,
                     "peeled_all": bool(ok.all())})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--elements", type=int, default=1 << 20)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--densities", default="0.001,0.01,0.1,1")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    try:
        args.densities = [float(x) for x in args.densities.split(",")]
    except ValueError:
        print(f"error: --densities {args.densities!r}: comma-separated numbers", file=sys.stderr)
        return 2
    if not (args.elements > 0 and 1 <= args.workers <= 32 and args.repeats > 0
            and all(0 <= d <= 1 for d in args.densities)):
        print("error: need --elements > 0, 1 <= --workers <= 32, --repeats > 0, densities "
              "in [0, 1]", file=sys.stderr)
        return 2
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load = os.getloadavg()[0]
    agg = subprocess.Popen([sys.executable, "-m", "cora.ina.ps", "--host", "127.0.0.1",
                            "--port", "0", "--pool-slots", str(SLOTS)],
                           stdout=subprocess.PIPE, text=True)
    try:
        line = agg.stdout.readline() if agg.stdout else ""
        if not line.startswith("ready"):
            print(f"error: the aggregator did not start: {line.strip()}", file=sys.stderr)
            return 1
        port = int(line.split(":")[-1])
        allocate(("127.0.0.1", port), JOB, SLOTS, args.workers)
        ctx = mp.get_context("fork")
        barrier, queue = ctx.Barrier(args.workers), ctx.Queue()
        procs = [ctx.Process(target=_worker, args=(r, args, port, barrier, queue))
                 for r in range(args.workers)]
        for p in procs:
            p.start()
        total = args.workers * len(args.densities) * len(MODES) * args.repeats
        rows = []
        while len(rows) < total:
            rows.append(queue.get(timeout=300))
        for p in procs:
            p.join(30)
    finally:
        agg.terminate()
        agg.wait(10)
    codec = codec_times(args.elements, args.densities, args.workers)
    table = []
    for d in args.densities:
        for mode in MODES:
            sel = [r for r in rows if r["density"] == d and r["mode"] == mode]
            per_rep = [max(r["s"] for r in sel if r["rep"] == k) for k in range(args.repeats)]
            table.append({"density": d, "mode": mode, "s": statistics.median(per_rep),
                          "bytes_per_worker": statistics.mean(r["bytes"] for r in sel),
                          "union": sel[0]["union"],
                          "unresolved": max(r["unresolved"] for r in sel),
                          "retransmissions": sum(r["retransmissions"] for r in sel),
                          "exact": all(r["exact"] for r in sel)})
    if args.json:
        print(json.dumps({"stamp": stamp, "load": load, "table": table, "codec": codec}))
        return 0
    mb = args.elements * 4 / 1e6
    print(f"# {stamp}, N={args.workers}, {args.elements} int32 ({mb:.1f} MB) per worker, "
          f"loopback, load average {load:.1f} at start (shared 2-core VM): MEASURED")
    print("| density | mode | union u | bytes/worker | vs dense | time s | unresolved "
          "| retx | exact |")
    print("|---|---|---|---|---|---|---|---|---|")
    dense_b = {r["density"]: r["bytes_per_worker"] for r in table if r["mode"] == "dense"}
    for r in table:
        u = "-" if r["union"] is None else r["union"]
        print(f"| {r['density']:g} | {r['mode']} | {u} | {r['bytes_per_worker']:,.0f} "
              f"| {r['bytes_per_worker'] / dense_b[r['density']]:.3f} | {r['s']:.3f} "
              f"| {r['unresolved']} | {r['retransmissions']} | {'yes' if r['exact'] else 'NO'} |")
    ring = 2 * (args.workers - 1) / args.workers * args.elements * 4
    print(f"\nA ring all-reduce (gloo) would send 2(N-1)/N x 4n = {ring:,.0f} bytes per worker "
          "at any density (MODELLED, payload only: torch is not installed here).")
    print("\n| density | encode ms/MB | decode ms/MB | peeled all |")
    print("|---|---|---|---|")
    for c in codec:
        print(f"| {c['density']:g} | {1e3 * c['encode_s_per_mb']:.2f} "
              f"| {1e3 * c['decode_s_per_mb']:.2f} | {'yes' if c['peeled_all'] else 'no'} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
