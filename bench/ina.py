"""All-reduce on the INA testbed (MEASURED): the user-space parameter server (cora.ina.ps,
the aggregator's reference) vs torch.distributed's gloo all-reduce (ring), side by side.

For each worker count N: one :class:`cora.testbed.ina_topology.InaTestbed` (N worker
namespaces, a switch namespace with a bridge, every worker link shaped with HTB to
``--rate-mbit`` both ways), the aggregator as a process in the switch namespace, and per
method N worker processes (cora.testbed.ina_run) that time ``--repeats`` all-reduces of
float32 tensors of each size after a barrier. Time = the slowest rank's median; goodput =
tensor bytes / time (the "algorithm bandwidth" of nccl-tests). The theoretical ratio
ring/INA is 2(N-1)/N (per worker the ring sends 2(N-1)/N times the tensor, the aggregator
once: Patarasuk & Yuan, JPDC 2009, for the ring's optimum); the goal of issue 12 is 90% of it
(1.35x at N = 4, 1.55x at N = 8). Wire bytes: each worker's eth0 tx counter around the call.

Three aggregations side by side on ONE testbed of max(N) workers (N = 2, 4, 8 use its
first N workers): INA proper, netfuncs/ina/ina.nf in the kernel as the aggregator (deployed
once on the switch's bridge, generic XDP, results multicast to the worker ports; one job per
N), the user-space PS (cora.ina.ps, same protocol, on another UDP port, which the NF passes
to the stack) and gloo's ring; every link shaped both ways at the worker (HTB on eth0 egress
and on an ifb0 that eth0's ingress is redirected through, so the NF's XDP-redirected results
are shaped too). ``--nf-cost`` measures the NF's kernel time per aggregation packet
(BPF_PROG_TEST_RUN) and the Mpps it allows on one core, against the packet rate the links
need. ``--two-jobs`` shares the aggregator between two jobs (``--aggregator ps|nf``).

Usage: .venv/bin/python bench/ina.py [--workers 2,4,8] [--sizes-mb 1,4,16] [--rate-mbit R]
       [--repeats 3] [--loss 0] [--plot ina.png] [--json]
       .venv/bin/python bench/ina.py --nf-cost [--workers 2,4,8] [--rate-mbit R]
Needs root and torch (installed by ``make setup``, extra ``ina``; without torch the gloo
column is skipped and the output says so).
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from cora.ina import allocate  # noqa: E402
from cora.ina import protocol as P  # noqa: E402
from cora.testbed.ina_run import run_method, start_aggregator, summarise  # noqa: E402
from cora.testbed.ina_topology import (  # noqa: E402
    DEFAULT_RATE_MBIT,
    SWITCH_IP,
    InaTestbed,
    worker_ip,
)
from cora.testbed.topology import in_netns  # noqa: E402

INA_NOTE = ("INA = netfuncs/ina/ina.nf in the kernel (generic XDP on the switch's bridge, "
            "results multicast to the worker ports); PS = the user-space reference "
            "aggregator cora.ina.ps in the switch namespace; both the same protocol and "
            "quantisation, on the same testbed and links as gloo's ring, in one run")
#: the user-space PS's data port when the NF (which owns P.UDP_PORT) runs beside it
PS_PORT = P.UDP_PORT + 10


def nf_cost(n_workers: int = 4, chunks: int = 64) -> dict:
    """The aggregator NF's kernel time per aggregation packet (MEASURED, BPF_PROG_TEST_RUN).

    Compiles netfuncs/ina/ina.nf for XDP (bcc: minutes for its unrolled 256-value loops) with
    one job of ``n_workers`` workers and ``chunks`` slots, and runs the packets of ``chunks``
    chunks (every worker's contribution, in worker order) once each (repeat = 1: each frame
    is a different aggregation step; a repeated frame would be a duplicate). Returns the
    mean kernel ns per packet of the partial additions (verdict drop: the packet is
    consumed), of the completing additions (verdict multicast: the result goes out) and of all,
    and the Mpps one core sustains at that cost (1e3 / ns).
    """
    import numpy as np
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    from cora.runtime.engine import KernelEngine
    from cora.testbed.ina_topology import ina_nf_program

    program = ina_nf_program({1: (chunks, n_workers)})
    rng = np.random.default_rng(5)
    # a completing packet leaves by multicast (the group is empty here: the verdict counts)
    ns: dict[str, list[int]] = {"drop": [], "multicast": []}
    with KernelEngine(program) as k:
        for c in range(chunks):
            for w in range(n_workers):
                vals = rng.integers(-2**20, 2**20, P.K).astype(np.int32)
                payload = P.encode(1, c, 0, c * P.K, chunks * P.K, w, n_workers, vals)
                frame = bytes(Ether(src=f"02:00:00:00:00:{w + 1:02x}", dst="02:00:00:00:00:ff")
                              / IP(src=worker_ip(w), dst=SWITCH_IP)
                              / UDP(sport=40000 + w, dport=P.UDP_PORT) / payload)
                out = k.run(frame)
                ns.setdefault(out.verdict, []).append(out.duration_ns)
    if len(ns["multicast"]) != chunks or len(ns["drop"]) != chunks * (n_workers - 1):
        raise RuntimeError(f"ina.nf: unexpected verdicts {({v: len(x) for v, x in ns.items()})}")
    every = ns["drop"] + ns["multicast"]
    mean = statistics.mean(every)
    return {"n_workers": n_workers, "packets": len(every),
            "add_ns": statistics.mean(ns["drop"]),
            "complete_ns": statistics.mean(ns["multicast"]),
            "ns_per_packet": mean, "mpps_one_core": 1e3 / mean}


def two_jobs(n: int, sizes_mb: list[float], repeats: int, rate_mbit: float, slots: int,
             aggregator: str = "nf") -> dict:
    """Two jobs of ``n`` workers each sharing one aggregator and the same links at once (every
    worker namespace runs one worker of each job; each job has ``slots // 2`` slots of the
    pool): per job and size the time, goodput and exactness, and, for comparison, job 1
    alone first. ``aggregator``: "nf" (ina.nf in the kernel) or "ps" (user space). MEASURED."""
    import threading

    half = max(1, slots // 2)
    workload = ["--sizes-mb", ",".join(str(s) for s in sizes_mb)]
    agg_addr = f"{SWITCH_IP}:{P.UDP_PORT}"
    limit_s = 60 + 40 * repeats * sum(sizes_mb) * 8 / rate_mbit * 2
    out: dict = {}
    method = "nf" if aggregator == "nf" else "ps"
    with InaTestbed(n, rate_mbit=rate_mbit) as tb:
        if method == "nf":
            tb.deploy_aggregator({1: (half, n), 2: (half, n)})
        agg = start_aggregator(tb, SWITCH_IP, PS_PORT)
        if method == "ps":
            agg_addr = f"{SWITCH_IP}:{PS_PORT}"
        try:
            with in_netns(tb.worker_ns[0]):
                for job in (1, 2):
                    allocate((SWITCH_IP, PS_PORT), job, half, n)
            out["alone"] = summarise(run_method(tb, method, workload, repeats, agg_addr, 1,
                                                half, limit_s))
            rows: dict = {}
            errors: list[BaseException] = []

            def one(job: int) -> None:
                try:
                    rows[job] = summarise(run_method(tb, method, workload, repeats, agg_addr,
                                                     job, half, limit_s))
                except BaseException as exc:  # re-raised in the main thread
                    errors.append(exc)

            threads = [threading.Thread(target=one, args=(j,)) for j in (1, 2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            if errors:
                raise errors[0]
            out["shared"] = rows
        finally:
            agg.terminate()
            agg.wait(10)
    return out


def print_table(d: dict) -> None:
    """The markdown table of a run (``d``: what ``--json`` prints)."""
    print(f"# all-reduce on the INA testbed, {d['date']}, load average {d['load']:.1f} at start "
          f"(shared 2-core VM), links {d['rate_mbit']:g} Mbit/s (HTB, both ways), loss "
          f"{d['loss']}, median of {d.get('repeats', 2)}, slowest rank: MEASURED")
    print("| N | MB | INA s | INA MB/s | PS s | PS MB/s | gloo s | gloo MB/s | gloo/INA "
          "| gloo/PS | goal (90% of 2(N-1)/N) | INA wire MB | PS wire MB | gloo wire MB "
          "| exact (INA, PS) | rtx (INA, PS) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")

    def f(x, fmt="{:.3f}"):
        return "-" if x is None else fmt.format(x)

    for r in d["rows"]:
        mb = r["size_bytes"] / 1e6
        g, ps_s, k = r["gloo_s"], r["ps_s"], r.get("nf_s")
        print(f"| {r['n']} | {mb:g} | {f(k)} | {f(k and mb / k, '{:.2f}')} | {ps_s:.3f} "
              f"| {mb / ps_s:.2f} | {f(g)} | {f(g and mb / g, '{:.2f}')} "
              f"| {f(g and k and g / k, '{:.2f}')} | {f(g and g / ps_s, '{:.2f}')} "
              f"| {0.9 * r['ring_ratio_theory']:.2f} "
              f"| {f(r.get('nf_wire_bytes') and r['nf_wire_bytes'] / 1e6, '{:.2f}')} "
              f"| {r['ps_wire_bytes'] / 1e6:.2f} "
              f"| {f(g and r['gloo_wire_bytes'] / 1e6, '{:.2f}')} "
              f"| {({True: 'yes', False: 'NO', None: '-'})[r.get('nf_exact')]}, "
              f"{'yes' if r['ps_exact'] else 'NO'} "
              f"| {r.get('nf_retransmissions', '-')}, {r['ps_retransmissions']} |")
    line_mb_s = d['rate_mbit'] / 8
    frame = P.PACKET_BYTES + 42  # + UDP 8, IPv4 20, Ethernet 14 (what HTB counts)
    print(f"# link rate {line_mb_s:.2f} MB/s per direction: PS/INA goodput is at most "
          f"{line_mb_s * 4 * P.K / frame:.2f} MB/s ({4 * P.K} value bytes per {frame}-byte "
          f"frame), the ring's at most link rate x N / (2(N-1)); wire MB = the worker's "
          "eth0 tx bytes per call (frames with headers, ACKs, retransmissions)")
    print(f"# {d['ina']}")
    if d.get("nf_verdicts"):
        print(f"# the NF's verdicts over the run: {d['nf_verdicts']}; deploy (bcc compile, "
              f"load, attach) took {d['nf_deploy_s']:.0f} s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", default="2,4,8", help="comma-separated N (1..8)")
    ap.add_argument("--sizes-mb", default="1,4,16", help="comma-separated MB (10^6 bytes)")
    ap.add_argument("--rate-mbit", type=float, default=DEFAULT_RATE_MBIT)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--loss", type=float, default=0.0, help="injected loss per direction")
    ap.add_argument("--slots", type=int, default=64, help="the PS window (slots per job)")
    ap.add_argument("--no-gloo", action="store_true")
    ap.add_argument("--no-nf", action="store_true", help="leave out the in-kernel aggregator")
    ap.add_argument("--aggregator", choices=("ps", "nf"), default="nf",
                    help="--two-jobs: the aggregator the two jobs share")
    ap.add_argument("--two-jobs", action="store_true",
                    help="only the two-jobs run: two jobs of N workers share the aggregator")
    ap.add_argument("--nf-cost", action="store_true",
                    help="only measure ina.nf's kernel ns/packet (BPF_PROG_TEST_RUN)")
    ap.add_argument("--plot", default="", help="write a PNG plot here")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--from-json", default="", help="print (and --plot) a saved --json run")
    a = ap.parse_args()
    if a.from_json:
        with open(a.from_json) as f:
            saved = json.load(f)
        print_table(saved)
        if a.plot:
            _plot(saved["rows"], a.plot, saved["rate_mbit"], saved["date"])
        return 0
    try:
        ns = [int(x) for x in a.workers.split(",")]
        sizes_mb = [float(x) for x in a.sizes_mb.split(",")]
    except ValueError:
        print("error: --workers and --sizes-mb take comma-separated numbers", file=sys.stderr)
        return 2
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load = os.getloadavg()[0]
    if a.nf_cost:
        cost = nf_cost()
        frame_bits = (P.PACKET_BYTES + 42) * 8
        need = {n: n * a.rate_mbit * 1e6 / frame_bits / 1e6 for n in ns}
        if a.json:
            print(json.dumps({"date": stamp, "load": load, **cost, "links_need_mpps": need}))
            return 0
        print(f"# ina.nf in the kernel (XDP, BPF_PROG_TEST_RUN, repeat 1 per frame), {stamp}, "
              f"load average {load:.1f}: MEASURED")
        print(f"{cost['packets']} packets of {cost['n_workers']} workers: partial add "
              f"{cost['add_ns']:.0f} ns, completing add + result {cost['complete_ns']:.0f} ns, "
              f"mean {cost['ns_per_packet']:.0f} ns/packet = {cost['mpps_one_core']:.2f} Mpps "
              "on one core")
        for n, mpps in need.items():
            print(f"N = {n}: {n} links at {a.rate_mbit:g} Mbit/s need {mpps * 1e3:.1f} kpps "
                  f"of {P.PACKET_BYTES + 42}-byte frames into the aggregator "
                  f"({mpps / cost['mpps_one_core']:.4f} of one core)")
        return 0
    if a.two_jobs:
        res = two_jobs(ns[0], sizes_mb, a.repeats, a.rate_mbit, a.slots, a.aggregator)
        if a.json:
            print(json.dumps({"date": stamp, "load": load, **res}))
            return 0
        print(f"# two jobs of N = {ns[0]} sharing the aggregator ({a.aggregator}: "
              f"{'ina.nf in the kernel' if a.aggregator == 'nf' else 'cora.ina.ps'}) and the "
              f"{a.rate_mbit:g} Mbit/s "
              f"links, {stamp}, load average {load:.1f} at start, median of {a.repeats}, "
              "slowest rank: MEASURED")
        print("| MB | job 1 alone s | job 1 shared s | job 2 shared s | job 1 MB/s | job 2 MB/s "
              "| sum MB/s | exact |")
        print("|---|---|---|---|---|---|---|---|")
        for size, alone in sorted(res["alone"].items()):
            j1, j2 = res["shared"][1][size], res["shared"][2][size]
            mb = size / 1e6
            ok = alone["exact"] and j1["exact"] and j2["exact"]
            print(f"| {mb:g} | {alone['s']:.3f} | {j1['s']:.3f} | {j2['s']:.3f} "
                  f"| {mb / j1['s']:.2f} | {mb / j2['s']:.2f} | {mb / j1['s'] + mb / j2['s']:.2f} "
                  f"| {'yes' if ok else 'NO'} |")
        return 0
    gloo = not a.no_gloo
    if gloo:
        try:
            import torch.distributed  # noqa: F401
        except ImportError:
            gloo = False
            print("note: torch is not installed (make setup installs it, extra `ina`): gloo "
                  "skipped")
    results = []
    ps_addr, nf_addr = f"{SWITCH_IP}:{PS_PORT}", f"{SWITCH_IP}:{P.UDP_PORT}"
    workload = ["--sizes-mb", ",".join(str(s) for s in sizes_mb)]
    # a bound on a run: 20x the time the bytes need on the link, plus start-up
    limit_s = 60 + 20 * a.repeats * sum(sizes_mb) * 8 / a.rate_mbit * 2
    with InaTestbed(max(ns), rate_mbit=a.rate_mbit, loss=a.loss) as tb:
        # the NF (one job per N: job id N) once for all N: bcc compiles it for minutes
        t0 = time.monotonic()
        if not a.no_nf:
            tb.deploy_aggregator({n: (a.slots, n) for n in ns})
        deploy_s = time.monotonic() - t0
        agg = start_aggregator(tb, SWITCH_IP, PS_PORT)
        try:
            for n in ns:
                job = n
                with in_netns(tb.worker_ns[0]):
                    allocate((SWITCH_IP, PS_PORT), job, a.slots, n)
                ps = summarise(run_method(tb, "ps", workload, a.repeats, ps_addr, job,
                                          a.slots, limit_s, n_workers=n))
                nf = ({} if a.no_nf else
                      summarise(run_method(tb, "nf", workload, a.repeats, nf_addr, job,
                                           a.slots, limit_s, n_workers=n)))
                ring = (summarise(run_method(tb, "gloo", workload, a.repeats, ps_addr, job,
                                             a.slots, limit_s, n_workers=n)) if gloo else {})
                for size in sorted(ps):
                    g, k = ring.get(size), nf.get(size)
                    results.append({
                        "n": n, "size_bytes": size, "ps_s": ps[size]["s"],
                        "ps_exact": ps[size]["exact"],
                        "ps_retransmissions": ps[size]["retransmissions"],
                        "ps_wire_bytes": ps[size]["wire_bytes"],
                        "nf_s": None if k is None else k["s"],
                        "nf_exact": None if k is None else k["exact"],
                        "nf_retransmissions": None if k is None else k["retransmissions"],
                        "nf_wire_bytes": None if k is None else k["wire_bytes"],
                        "gloo_s": None if g is None else g["s"],
                        "gloo_wire_bytes": None if g is None else g["wire_bytes"],
                        "ring_ratio_theory": 2 * (n - 1) / n})
            verdicts = {} if a.no_nf else tb.aggregator_stats()
        finally:
            agg.terminate()
            agg.wait(10)
    data = {"date": stamp, "load": load, "rate_mbit": a.rate_mbit, "loss": a.loss,
            "repeats": a.repeats, "rows": results, "ina": INA_NOTE,
            "nf_deploy_s": deploy_s, "nf_verdicts": verdicts}
    if a.json:
        print(json.dumps(data, indent=1))
    else:
        print_table(data)
    if a.plot:
        _plot(results, a.plot, a.rate_mbit, stamp)
    return 0


def _plot(results: list[dict], path: str, rate_mbit: float, stamp: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for n in sorted({r["n"] for r in results}):
        rows = [r for r in results if r["n"] == n]
        mb = [r["size_bytes"] / 1e6 for r in rows]
        if rows[0].get("nf_s") is not None:
            ax.plot(mb, [m / r["nf_s"] for m, r in zip(mb, rows, strict=True)], "^-",
                    label=f"INA (kernel NF), N={n}")
        ax.plot(mb, [m / r["ps_s"] for m, r in zip(mb, rows, strict=True)], "o:",
                label=f"PS, N={n}")
        if rows[0]["gloo_s"] is not None:
            ax.plot(mb, [m / r["gloo_s"] for m, r in zip(mb, rows, strict=True)], "s--",
                    label=f"gloo ring, N={n}")
    ax.axhline(rate_mbit / 8, color="grey", lw=0.8, label="link rate")
    ax.set_xscale("log")
    ax.set_xlabel("tensor size (MB)")
    ax.set_ylabel("goodput (MB/s, tensor bytes / time)")
    ax.set_title(f"all-reduce on the INA testbed ({stamp}, {rate_mbit:g} Mbit/s links)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _main() -> int:
    """main() with one line on stderr and exit 1 for the failures a run can meet."""
    from cora.errors import CoraError
    from cora.ina import InaError

    try:
        return main()
    except (CoraError, InaError, RuntimeError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(_main())
