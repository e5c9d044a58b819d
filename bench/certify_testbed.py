"""Testbed (MEASURED): the exported in-kernel controller vs the kernel's cubic and bbr.

Exports the shipped certified policy as a BPF struct_ops tcp_congestion_ops (fixed point,
re-certified), registers it with bpftool under a unique name, and runs one iperf3 flow per
controller through a three-namespace bottleneck (cora.certify.netlab: veth pairs, a user-space
delay bridge in the middle namespace because netem is not available, TBF at the bottleneck)
for several bandwidth/delay points. Throughput from iperf3, RTT and cwnd sampled from
`ss -tin`. The controller is unregistered and the namespaces deleted in `finally`.
Usage: .venv/bin/python bench/certify_testbed.py [--seconds S] [--json]
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402

from cora.certify import kernel  # noqa: E402
from cora.certify.export import export  # noqa: E402
from cora.certify.netlab import Bottleneck, flow  # noqa: E402
from cora.certify.nn import load_policy, shipped_policy  # noqa: E402

POINTS = [(10, 20, 1.0), (10, 60, 1.0), (30, 20, 1.0), (5, 100, 2.0)]  # Mbit/s, ms, BDPs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--model", default=shipped_policy("certified"))
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    avail = kernel.available()
    ccs = ["cubic"] + (["bbr"] if "bbr" in avail else [])
    name = f"cora_b{os.getpid() % 100000}"
    rows = []
    with tempfile.TemporaryDirectory() as d:
        info = export(load_policy(a.model), d, name=name)
        kernel.load(d)
        try:
            for rate, delay, buf in POINTS:
                with Bottleneck(rate, delay, buf) as bed:
                    for cc in ccs + [name]:
                        before = kernel.round_counters(name)
                        r = flow(bed, cc, a.seconds)
                        after = kernel.round_counters(name)
                        r.update(rate_mbit=rate, delay_ms=delay, buffer_bdp=buf)
                        if cc == name:
                            r["nn_rounds"] = (after.get("cora_nn_rounds", 0)
                                              - before.get("cora_nn_rounds", 0))
                            r["fallback_rounds"] = (after.get("cora_fallback_rounds", 0)
                                                    - before.get("cora_fallback_rounds", 0))
                        rows.append(r)
        finally:
            kernel.unload(name)
    if a.json:
        print(json.dumps({"controller": name, "proven_cell_fraction": info["proven_cell_fraction"],
                          "bbr_available": "bbr" in avail, "rows": rows}))
        return
    print(f"MEASURED on this machine: iperf3 {a.seconds:.0f} s per flow, one flow at a time; "
          f"exported controller {name} "
          f"(proven cells {info['proven_cell_fraction']:.3f} of {info['cells']})")
    if "bbr" not in avail:
        print("bbr is not available in this kernel")
    print(f"{'Mbit/s':>6s} {'delay':>6s} {'buf':>4s}  {'cc':10s} {'thr Mbit/s':>10s} "
          f"{'minRTT':>7s} {'RTT mean':>8s} {'RTT p95':>8s} {'cwnd':>6s} {'retx':>5s} "
          f"{'drops':>6s}  NN/fallback rounds")
    for r in rows:
        cc = "cora(NN)" if r["cc"] == name else r["cc"]
        extra = f"  {r['nn_rounds']}/{r['fallback_rounds']}" if "nn_rounds" in r else ""
        print(f"{r['rate_mbit']:6.0f} {r['delay_ms']:4.0f}ms {r['buffer_bdp']:4.1f}  {cc:10s} "
              f"{r['throughput_mbit']:10.2f} {r['min_rtt_ms'] or float('nan'):7.1f} "
              f"{r['rtt_ms_mean']:8.1f} "
              f"{r['rtt_ms_p95']:8.1f} {r['cwnd_mean'] or 0:6.1f} {r['retransmits'] or 0:5d} "
              f"{r['tbf_drops']:6d}{extra}")


if __name__ == "__main__":
    main()
