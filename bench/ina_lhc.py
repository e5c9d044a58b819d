"""Compressed all-reduce (MEASURED): LHC vs union vs dense aggregation vs gloo ring, vs density.

Default: on the shaped INA testbed (:class:`cora.testbed.ina_topology.InaTestbed`, every
worker link HTB-shaped to ``--rate-mbit`` both ways), for each N of ``--workers``: the
user-space reference aggregator (``cora.ina.ps``) in the switch namespace and, per method,
N worker processes (:mod:`cora.testbed.ina_run`) all-reducing int32 tensors of
``--elements`` elements with a fraction ``density`` of non-zeros (independent per worker, so
the union has density 1-(1-d)^N), side by side in one run. Methods, all bit-exact against
numpy's sum (checked on every call, every rank):

* ``dense``: compress="none", one round of n values through the aggregator (dense INA's
  protocol; the aggregator is the user-space reference, see bench/ina.py on the NF);
* ``union``: round A ORs the bitmaps (n/32 words), round B sums the u union values;
* ``lhc2``: round A bitmaps, round B a count sketch of sketch_cells(u) = u/0.75 cells;
* ``lhc1``: one round, the bitmap and a sketch sized from the density bound
  (sketch_cells(1.1 x expected union)), then the fallback for whatever did not peel;
* ``gloo``: torch.distributed all_reduce of the same int32 tensor on the gloo backend (ring;
  dense, it does not exploit sparsity; int32 sums are exact, so it is checked too).

Reported per method: bytes on the wire per worker (eth0 tx bytes during the call: frames with
their headers, retransmissions and TCP acknowledgements) and the all-reduce time (median over
``--repeats`` of the slowest worker, after a barrier). Then the encode (bitmap + sketch) and
decode (unpack + peel) time per MB of int32 tensor on this CPU, against the transfer time the
compression saves on one link. ``--loopback``: the earlier loopback run (no links, no gloo).

Usage: .venv/bin/python bench/ina_lhc.py [--workers 4,8] [--elements 1048576]
       [--densities 0.001,0.01,0.1,1] [--rate-mbit 10] [--repeats 2] [--plot P] [--json]
       .venv/bin/python bench/ina_lhc.py --loopback [--workers 4] ...
Needs root (namespaces) and torch (``make setup``) for the testbed run.
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
from cora.ina import protocol as P  # noqa: E402
from cora.testbed.ina_run import (  # noqa: E402
    run_method,
    sparse_tensor,
    start_aggregator,
    summarise,
)

MODES = ("dense", "union", "lhc2", "lhc1")
JOB = 7
SLOTS = 64


def tensors(n: int, density: float, workers: int) -> list[np.ndarray]:
    """The workers' int32 tensors (:func:`cora.testbed.ina_run.sparse_tensor`)."""
    return [sparse_tensor(r, n, density) for r in range(workers)]


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
        xs = tensors(args.elements, d, args.workers)
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
        xs = tensors(n, d, workers)
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


#: bench method name -> cora.testbed.ina_run method
TESTBED_METHODS = {"dense": "ps", "union": "union", "lhc2": "lhc", "lhc1": "lhc1",
                   "gloo": "gloo"}


def testbed_run(args) -> list[dict]:
    """The shaped-testbed run: one row per (N, density, method)."""
    from cora.testbed.ina_topology import SWITCH_IP, InaTestbed
    from cora.testbed.topology import in_netns

    try:
        import torch.distributed  # noqa: F401
        methods = list(TESTBED_METHODS)
    except ImportError:
        methods = [m for m in TESTBED_METHODS if m != "gloo"]
        print("note: torch is not installed (make setup installs it): gloo skipped")
    workload = ["--elements", str(args.elements),
                "--densities", ",".join(str(d) for d in args.densities)]
    agg_addr = f"{SWITCH_IP}:{P.UDP_PORT}"
    # a bound on one method's run: 20x the dense bytes' time on the link, plus start-up
    limit_s = 60 + 20 * args.repeats * len(args.densities) * args.elements * 4 * 8 \
        / (args.rate_mbit * 1e6) * 2
    rows = []
    for n in args.workers:
        with InaTestbed(n, rate_mbit=args.rate_mbit) as tb:
            agg = start_aggregator(tb, SWITCH_IP, P.UDP_PORT)
            try:
                with in_netns(tb.worker_ns[0]):
                    allocate((SWITCH_IP, P.UDP_PORT), JOB, SLOTS, n)
                for m in methods:
                    res = summarise(run_method(tb, TESTBED_METHODS[m], workload, args.repeats,
                                               agg_addr, JOB, SLOTS, limit_s))
                    for d, r in sorted(res.items()):
                        rows.append({"n": n, "density": d, "mode": m, **r})
            finally:
                agg.terminate()
                agg.wait(10)
    return rows


def print_testbed(rows: list[dict], args, stamp: str, load: float) -> None:
    """The testbed table, ratios against gloo, and the 1%/N=4 goal."""
    mb = args.elements * 4 / 1e6
    print(f"# {stamp}, {args.elements} int32 ({mb:.1f} MB) per worker, shaped testbed, links "
          f"{args.rate_mbit:g} Mbit/s (HTB, both ways), median of {args.repeats}, slowest "
          f"worker, load average {load:.1f} at start (shared 2-core VM): MEASURED")
    print("| N | density | method | wire bytes/worker | vs gloo | time s | gloo time / time "
          "| retx | exact |")
    print("|---|---|---|---|---|---|---|---|---|")
    gloo = {(r["n"], r["density"]): r for r in rows if r["mode"] == "gloo"}
    for r in rows:
        g = gloo.get((r["n"], r["density"]))
        vs_b = f"{r['wire_bytes'] / g['wire_bytes']:.3f}" if g else "-"
        speed = f"{g['s'] / r['s']:.1f}x" if g else "-"
        ex = {True: "yes", False: "NO", None: "-"}[r["exact"]]
        print(f"| {r['n']} | {r['density']:g} | {r['mode']} | {r['wire_bytes']:,.0f} | {vs_b} "
              f"| {r['s']:.3f} | {speed} | {r['retransmissions']} | {ex} |")
    goal = [(r, gloo.get((4, r["density"]))) for r in rows
            if r["n"] == 4 and r["density"] == 0.01 and r["mode"] in ("lhc2", "lhc1")]
    for r, g in goal:
        if g:
            print(f"# goal (issue 13): at 1% density and N = 4, LHC >= 5x faster than the gloo "
                  f"ring, bit-exact: {r['mode']} {g['s'] / r['s']:.1f}x, "
                  f"{'exact' if r['exact'] else 'NOT exact'}")


def _plot(rows: list[dict], path: str, args, stamp: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = sorted({r["n"] for r in rows})
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.0))
    for n, style in zip(ns, ("-", "--", ":"), strict=False):
        for m, mark in zip(TESTBED_METHODS, "osd^x", strict=True):
            sel = sorted((r for r in rows if r["n"] == n and r["mode"] == m),
                         key=lambda r: r["density"])
            if not sel:
                continue
            x = [100 * r["density"] for r in sel]
            axes[0].plot(x, [r["wire_bytes"] / 1e6 for r in sel], mark + style,
                         label=f"{m}, N={n}")
            axes[1].plot(x, [r["s"] for r in sel], mark + style, label=f"{m}, N={n}")
    for ax, ylab in zip(axes, ("wire MB per worker (eth0 tx)", "all-reduce time (s)"),
                        strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("density (% non-zero per worker)")
        ax.set_ylabel(ylab)
    axes[1].legend(fontsize=7, ncol=2)
    fig.suptitle(f"compressed all-reduce, {args.elements * 4 / 1e6:.1f} MB int32, "
                 f"{args.rate_mbit:g} Mbit/s links ({stamp})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def print_codec(codec: list[dict], rate_mbit: float, saved: dict[float, float]) -> None:
    """Codec cost per MB vs the transfer time the compression saves per MB on one link."""
    print("\n| density | encode ms/MB | decode ms/MB | peeled all | link time saved ms/MB |")
    print("|---|---|---|---|---|")
    for c in codec:
        s = saved.get(c["density"])
        sv = "-" if s is None else f"{1e3 * s:.0f}"
        print(f"| {c['density']:g} | {1e3 * c['encode_s_per_mb']:.2f} "
              f"| {1e3 * c['decode_s_per_mb']:.2f} | {'yes' if c['peeled_all'] else 'no'} "
              f"| {sv} |")
    if saved:
        print(f"# saved = (gloo wire bytes - lhc2 wire bytes) per MB of tensor at N = 4, sent "
              f"at {rate_mbit:g} Mbit/s (MEASURED bytes, time from the link rate)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--elements", type=int, default=1 << 20)
    ap.add_argument("--workers", default="4,8", help="comma-separated N (testbed: 1..8)")
    ap.add_argument("--densities", default="0.001,0.01,0.1,1")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--rate-mbit", type=float, default=10.0)
    ap.add_argument("--loopback", action="store_true",
                    help="the loopback run (one N, no links, no gloo)")
    ap.add_argument("--plot", default="", help="write a PNG plot here (testbed run)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--from-json", default="", help="print (and --plot) a saved --json run")
    args = ap.parse_args()
    if args.from_json:
        with open(args.from_json) as f:
            saved = json.load(f)
        args.elements, args.rate_mbit = saved["elements"], saved["rate_mbit"]
        args.repeats = saved.get("repeats", args.repeats)
        print_testbed(saved["rows"], args, saved["stamp"], saved["load"])
        print_codec(saved["codec"], args.rate_mbit,
                    {float(k): v for k, v in saved["saved_s_per_mb"].items()})
        if args.plot:
            _plot(saved["rows"], args.plot, args, saved["stamp"])
        return 0
    try:
        args.densities = [float(x) for x in args.densities.split(",")]
        args.workers = [int(x) for x in args.workers.split(",")]
    except ValueError:
        print("error: --densities and --workers take comma-separated numbers", file=sys.stderr)
        return 2
    if not (args.elements > 0 and all(1 <= n <= 8 for n in args.workers)
            and args.repeats > 0 and args.rate_mbit > 0
            and all(0 <= d <= 1 for d in args.densities)):
        print("error: need --elements > 0, workers in 1..8, --repeats > 0, --rate-mbit > 0, "
              "densities in [0, 1]", file=sys.stderr)
        return 2
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load = os.getloadavg()[0]
    if args.loopback:
        args.workers = args.workers[0]
        return loopback(args, stamp, load)
    try:
        rows = testbed_run(args)
    except Exception as exc:  # one line, exit 1 (CoraError, InaError, RuntimeError, OSError)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    codec = codec_times(args.elements, args.densities, 4)
    saved = {}
    for d in args.densities:
        g = [r for r in rows if r["n"] == 4 and r["density"] == d and r["mode"] == "gloo"]
        lh = [r for r in rows if r["n"] == 4 and r["density"] == d and r["mode"] == "lhc2"]
        if g and lh:
            saved[d] = (g[0]["wire_bytes"] - lh[0]["wire_bytes"]) * 8 / (args.rate_mbit * 1e6) \
                / (args.elements * 4 / 1e6)
    if args.json:
        print(json.dumps({"stamp": stamp, "load": load, "rate_mbit": args.rate_mbit,
                          "repeats": args.repeats,
                          "elements": args.elements, "rows": rows, "codec": codec,
                          "saved_s_per_mb": saved}))
    else:
        print_testbed(rows, args, stamp, load)
        print_codec(codec, args.rate_mbit, saved)
    if args.plot:
        _plot(rows, args.plot, args, stamp)
    return 0


def loopback(args, stamp: str, load: float) -> int:
    """The loopback run: N processes and the aggregator on 127.0.0.1, no gloo."""
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
    print_codec(codec, 0, {})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
