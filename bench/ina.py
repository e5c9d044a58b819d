"""All-reduce on the INA testbed (MEASURED): the user-space parameter server (cora.ina.ps,
the aggregator's reference) vs torch.distributed's gloo all-reduce (ring), side by side.

For each worker count N: one :class:`cora.testbed.ina_topology.InaTestbed` (N worker
namespaces, a switch namespace with a bridge, every worker link shaped with HTB to
``--rate-mbit`` both ways), the aggregator as a process in the switch namespace, and per
method N worker processes (cora.testbed.ina_run) that time ``--repeats`` all-reduces of
float32 tensors of each size after a barrier. Time = the slowest rank's median; goodput =
tensor bytes / time (the "algorithm bandwidth" of nccl-tests). The theoretical ratio
ring/INA is 2(N-1)/N (per worker the ring sends 2(N-1)/N times the tensor, the aggregator
once: Patarasuk & Yuan, JPDC 2009, for the ring's optimum). The INA column (the aggregator as
a cora NF in the kernel) is added once the NF exists (it needs the language features of
issue 12, part 1): the output says so.

Usage: .venv/bin/python bench/ina.py [--workers 2,4] [--sizes-mb 1,4,16] [--rate-mbit R]
       [--repeats 3] [--loss 0] [--plot ina.png] [--json]
Needs root and torch (``pip install -e '.[ina]'``; without torch the gloo column is skipped
and the output says so).
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from cora.ina import allocate  # noqa: E402
from cora.ina import protocol as P  # noqa: E402
from cora.testbed.ina_topology import (  # noqa: E402
    DEFAULT_RATE_MBIT,
    SWITCH_IP,
    InaTestbed,
    worker_ip,
)

INA_NOTE = ("INA (the aggregator as a cora NF): not measured yet: netfuncs/ina.nf needs the "
            "language features of issue 12 part 1 (user headers, arrays, signed ints, "
            "multicast, atomic updates)")


def _wait_ready(proc: subprocess.Popen, deadline_s: float) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        line = proc.stdout.readline()
        if line.startswith("ready"):
            return
        if proc.poll() is not None:
            break
    raise RuntimeError(f"the aggregator did not start (exit {proc.poll()})")


def _run_method(tb: InaTestbed, method: str, sizes_mb: list[float], repeats: int,
                agg_port: int, job: int, slots: int, timeout_s: float) -> list[dict]:
    """N worker processes of one method; returns their JSON lines."""
    n = tb.n_workers
    procs = []
    for r in range(n):
        argv = [sys.executable, "-m", "cora.testbed.ina_run", "--method", method,
                "--rank", str(r), "--workers", str(n),
                "--sizes-mb", ",".join(str(s) for s in sizes_mb), "--repeats", str(repeats),
                "--aggregator", f"{SWITCH_IP}:{agg_port}", "--master", f"{worker_ip(0)}:29517",
                "--job", str(job), "--slots", str(slots)]
        # gloo picks its interface from the hostname (loopback here): name the link
        env = dict(os.environ, GLOO_SOCKET_IFNAME="eth0")
        procs.append(tb.popen(tb.worker_ns[r], argv, stdout=subprocess.PIPE, text=True,
                              env=env, stderr=subprocess.DEVNULL))
    rows = []
    try:
        deadline = time.monotonic() + timeout_s
        # one failing rank leaves the others waiting: stop all at the first failure
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
    if len([r for r in rows if "error" not in r]) < n * repeats * len(sizes_mb) and \
            not any("error" in r for r in rows):
        raise RuntimeError(f"{method}: the workers stopped early or overran {timeout_s} s")
    errors = [r["error"] for r in rows if "error" in r]
    if errors:
        raise RuntimeError(f"{method}: {errors[0]}")
    return rows


def _summarise(rows: list[dict]) -> dict:
    """{size: (time_s, exact)}: per size the median over repeats of the slowest rank."""
    by: dict = {}
    for r in rows:
        by.setdefault(r["size_bytes"], {}).setdefault(r["rank"], []).append(r)
    out = {}
    for size, ranks in by.items():
        reps = min(len(v) for v in ranks.values())
        slowest = [max(ranks[k][i]["time_s"] for k in ranks) for i in range(reps)]
        exact = [r["exact"] for v in ranks.values() for r in v]
        out[size] = (statistics.median(slowest),
                     None if exact[0] is None else all(exact),
                     sum(r.get("retransmissions", 0) for v in ranks.values() for r in v))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", default="2,4", help="comma-separated N (1..8)")
    ap.add_argument("--sizes-mb", default="1,4,16", help="comma-separated MB (10^6 bytes)")
    ap.add_argument("--rate-mbit", type=float, default=DEFAULT_RATE_MBIT)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--loss", type=float, default=0.0, help="injected loss per direction")
    ap.add_argument("--slots", type=int, default=64, help="the PS window (slots per job)")
    ap.add_argument("--no-gloo", action="store_true")
    ap.add_argument("--plot", default="", help="write a PNG plot here")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    try:
        ns = [int(x) for x in a.workers.split(",")]
        sizes_mb = [float(x) for x in a.sizes_mb.split(",")]
    except ValueError:
        print("error: --workers and --sizes-mb take comma-separated numbers", file=sys.stderr)
        return 2
    gloo = not a.no_gloo
    if gloo:
        try:
            import torch.distributed  # noqa: F401
        except ImportError:
            gloo = False
            print("note: torch is not installed (pip install -e '.[ina]'): gloo skipped")
    results = []
    for n in ns:
        with InaTestbed(n, rate_mbit=a.rate_mbit, loss=a.loss) as tb:
            agg = tb.popen(tb.switch_ns, [sys.executable, "-m", "cora.ina.ps", "--host",
                                          SWITCH_IP, "--port", str(P.UDP_PORT)],
                           stdout=subprocess.PIPE, text=True)
            try:
                _wait_ready(agg, 60)
                job = 1
                from cora.testbed.topology import in_netns
                with in_netns(tb.worker_ns[0]):
                    allocate((SWITCH_IP, P.UDP_PORT), job, a.slots, n)
                # a bound on a run: 20x the time the bytes need on the link, plus start-up
                limit_s = 60 + 20 * a.repeats * sum(sizes_mb) * 8 / a.rate_mbit * 2
                ps = _summarise(_run_method(tb, "ps", sizes_mb, a.repeats, P.UDP_PORT, job,
                                            a.slots, limit_s))
                ring = (_summarise(_run_method(tb, "gloo", sizes_mb, a.repeats, P.UDP_PORT,
                                               job, a.slots, limit_s)) if gloo else {})
            finally:
                agg.terminate()
                agg.wait(10)
        for size in sorted(ps):
            results.append({"n": n, "size_bytes": size, "ps_s": ps[size][0],
                            "ps_exact": ps[size][1], "ps_retransmissions": ps[size][2],
                            "gloo_s": ring.get(size, (None,))[0],
                            "ring_ratio_theory": 2 * (n - 1) / n})
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    if a.json:
        print(json.dumps({"date": stamp, "rate_mbit": a.rate_mbit, "loss": a.loss,
                          "rows": results, "ina": INA_NOTE}, indent=1))
    else:
        print(f"# all-reduce on the INA testbed, {stamp}, links {a.rate_mbit} Mbit/s (HTB, "
              f"both ways), loss {a.loss}, median of {a.repeats}, slowest rank")
        print(f"{'N':>2} {'MB':>6} {'PS s':>8} {'PS MB/s':>8} {'gloo s':>8} {'gloo MB/s':>9} "
              f"{'gloo/PS':>8} {'ring theory':>11} {'PS exact':>8} {'PS rtx':>6}")
        for r in results:
            mb = r["size_bytes"] / 1e6
            g, ps_s = r["gloo_s"], r["ps_s"]
            g_cols = ("-", "-", "-") if g is None else (f"{g:.3f}", f"{mb / g:.2f}",
                                                        f"{g / ps_s:.2f}")
            print(f"{r['n']:>2} {mb:>6.1f} {ps_s:>8.3f} {mb / ps_s:>8.2f} {g_cols[0]:>8} "
                  f"{g_cols[1]:>9} {g_cols[2]:>8} {r['ring_ratio_theory']:>11.2f} "
                  f"{str(r['ps_exact']):>8} {r['ps_retransmissions']:>6}")
        line_mb_s = a.rate_mbit / 8
        frame = P.PACKET_BYTES + 42  # + UDP 8, IPv4 20, Ethernet 14 (what HTB counts)
        print(f"# link rate {line_mb_s:.2f} MB/s per direction: PS/INA goodput is at most "
              f"{line_mb_s * 4 * P.K / frame:.2f} MB/s ({4 * P.K} value bytes per {frame}-byte "
              f"frame), the ring's at most link rate x N / (2(N-1))")
        print(f"# {INA_NOTE}")
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
        ax.plot(mb, [m / r["ps_s"] for m, r in zip(mb, rows, strict=True)], "o-",
                label=f"PS, N={n}")
        if rows[0]["gloo_s"] is not None:
            ax.plot(mb, [m / r["gloo_s"] for m, r in zip(mb, rows, strict=True)], "s--",
                    label=f"gloo ring, N={n}")
    ax.axhline(rate_mbit / 8, color="grey", lw=0.8, label="link rate")
    ax.set_xscale("log")
    ax.set_xlabel("tensor size (MB)")
    ax.set_ylabel("goodput (MB/s, tensor bytes / time)")
    ax.set_title(f"all-reduce on the INA testbed ({stamp}; INA NF not yet)", fontsize=9)
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
