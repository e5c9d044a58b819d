"""ns/packet of every NF in netfuncs/ in the kernel, on a few real captures (measured).

For each NF and capture: the deployable XDP program (verdict counters on, as `cora deploy`
loads it) is fed the capture once (so its maps hold the capture's state) and then timed with
BPF_PROG_TEST_RUN (repeat 10,000 on up to 200 frames, cora.runtime.testrun); an empty XDP
program is timed the same way as the harness floor. Printed: ns/packet and Mpps on one core.
"""

from __future__ import annotations

import argparse
import glob
import json
from pathlib import Path

from cora.settings import traces_dir

REPO = Path(__file__).resolve().parents[1]
TRACES = traces_dir()
DEFAULT_TRACES = ["of10_s4810.pcap", "bgp-4byte-asn.pcap", "dns_udp_2.pcap", "mptcp-fclose.pcap"]


def main(argv=None) -> int:
    """Print the table (or JSON)."""
    from cora.compiler.driver import compile_file
    from cora.runtime.loader import load_xdp
    from cora.runtime.testrun import measure_ns_per_packet, run_frames
    from cora.targets import get_target
    from cora.testbed.replay import read_pcap

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=10000)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    traces = [TRACES / t for t in DEFAULT_TRACES if (TRACES / t).exists()]
    rows = []
    for nf in sorted(glob.glob(str(REPO / "netfuncs" / "*.nf"))):
        program = compile_file(nf)
        artifact = get_target("xdp").generate(program, count_verdicts=True)
        for trace in traces:
            frames = [f for _, f in read_pcap(trace) if len(f) >= 14]
            with load_xdp(artifact) as loaded:
                run_frames(loaded.prog_fd, frames)
                ns = measure_ns_per_packet(loaded.prog_fd, frames, args.repeat, args.samples)
            rows.append({"nf": program.name, "trace": trace.name, "frames": len(frames),
                         "ns_per_packet": round(ns, 1), "mpps_one_core": round(1e3 / ns, 2)})
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"{'nf':<12} {'trace':<24} {'frames':>6} {'ns/pkt':>8} {'Mpps/core':>9}")
    for r in rows:
        print(f"{r['nf']:<12} {r['trace']:<24} {r['frames']:>6} {r['ns_per_packet']:>8} "
              f"{r['mpps_one_core']:>9}")
    print("(measured: BPF_PROG_TEST_RUN in this machine's kernel; Mpps/core = 1000 / ns/pkt)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
