"""Host CPU time per packet: a split NF (emulated NIC stage + host stage) vs all on the host.

For each (NF, NIC model, rate): the plan comes from the partitioner (``cora plan``'s code,
synthetic profile) or from ``--plan``; both deployments run on a fresh gen -> nic -> host
namespace testbed (:mod:`cora.testbed.offload_experiment`) with the same frames from the
live-frames generator. Printed side by side:

- measured: host XDP run time per offered frame (BPF run-time statistics, which themselves
  add two clock reads per run), split vs all-host, and the ratio; frames reaching the host;
  verdict counters of both sides. When the plan leaves the host no stage, the host side
  still runs a pass-through program (a veth needs one to receive redirected frames): that
  time is an emulation artefact, and the table says so;
- modelled: the stage models' host ns/packet for both plans and the NIC utilisation at the
  rate. The NIC stage is emulated by an XDP program on a veth: its speed is not a NIC's; the
  NIC's throughput is the NIC model's prediction only.

Usage: ``python bench/offload_testbed.py [--nf lb --nic agilio --rate 2] [--count N]
[--pps R] [--plan PLAN.json] [--json]``; default: lb on agilio at 2 Mpps, firewall and
flowcount on bluefield2 at 10 Mpps.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CASES = [("lb", "agilio", 2.0), ("firewall", "bluefield2", 10.0),
                 ("flowcount", "bluefield2", 10.0)]
#: lb's service (netfuncs/lb.nf): VIP 10.11.0.100, TCP 80 and UDP 53
LB_SERVICE = ("10.11.0.100", 80, 53)


def flow_frames(nf: str, n_flows: int = 256) -> list[bytes]:
    """The frames sent (64 bytes, scapy, fixed seed), ``n_flows`` flows:
    lb: TCP SYNs and UDP datagrams to its service; firewall (inside = 10.11.1.0/24): half
    from inside to outside (pass, open a connection), a quarter of new TCP connections from
    outside to inside port 80 (accepted), a quarter to port 9999 (dropped); other NFs: TCP
    SYNs and UDP datagrams to random destinations in 10.211.0.0/16."""
    import random

    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.l2 import Ether

    from cora.testbed.trafficgen import synthetic_flows

    if nf not in ("lb", "firewall"):
        return (synthetic_flows(n_flows // 2, 64, "tcp", seed=1)
                + synthetic_flows(n_flows - n_flows // 2, 64, "udp", seed=2))
    rng = random.Random(1)
    out = []
    for i in range(n_flows):
        if nf == "lb":
            vip, tport, uport = LB_SERVICE
            src, dst, dport = f"192.0.2.{rng.randrange(1, 255)}", vip, \
                (tport if i % 2 == 0 else uport)
            udp = i % 2 == 1
        elif i % 4 < 2:
            src, dst = f"10.11.1.{rng.randrange(1, 255)}", f"198.51.100.{rng.randrange(1, 255)}"
            dport, udp = rng.randrange(1, 65536), i % 4 == 1
        else:
            src, dst = f"203.0.113.{rng.randrange(1, 255)}", f"10.11.1.{rng.randrange(1, 255)}"
            dport, udp = (80 if i % 4 == 2 else 9999), False
        l4 = UDP(sport=10000 + i, dport=dport) if udp else \
            TCP(sport=10000 + i, dport=dport, flags="S")
        pkt = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / \
            IP(src=src, dst=dst, ttl=64) / l4
        out.append(bytes(pkt).ljust(64, b"\0"))
    return out


def plan_for(program, nic: str, rate: float) -> dict:
    """The partitioner's plan (synthetic profile, 2 s limit), as ``cora plan`` makes it."""
    from cora.compiler.offload.partition import Problem, solve_problem
    from cora.compiler.offload.profile import synthetic_profile
    from cora.compiler.offload.stage_model import load_model

    pb = Problem(program, load_model(nic), load_model("xdp"), load_model("user"),
                 synthetic_profile(program))
    res = solve_problem(pb, rate, None, 2.0, 2, None)
    if res.plan is None:
        raise SystemExit(f"{program.name} on {nic} at {rate} Mpps: no plan "
                         f"({res.infeasible_reason})")
    return res.plan.to_json()


def main(argv=None) -> int:
    """Run the cases and print the table (or JSON)."""
    from cora.compiler.driver import compile_file
    from cora.compiler.offload.split import load_plan_file
    from cora.testbed.offload_experiment import run_experiment

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nf", default=None, help="NF name in netfuncs/ (default: two cases)")
    ap.add_argument("--nic", default="agilio", choices=("agilio", "bluefield2"))
    ap.add_argument("--rate", type=float, default=2.0, help="plan's target rate, Mpps")
    ap.add_argument("--plan", default=None, help="use this plan instead of solving")
    ap.add_argument("--count", type=int, default=200_000, help="frames sent per deployment")
    ap.add_argument("--pps", type=float, default=100_000, help="send rate, frames/s")
    ap.add_argument("--repeats", type=int, default=3,
                    help="alternating runs of both deployments; the median is shown")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    cases = [(args.nf, args.nic, args.rate)] if args.nf else DEFAULT_CASES
    rows = []
    for nf, nic, rate in cases:
        program = compile_file(str(REPO / "netfuncs" / f"{nf}.nf"))
        plan = load_plan_file(args.plan) if args.plan else plan_for(program, nic, rate)
        plan = plan.get("plan", plan)
        frames = flow_frames(nf)
        res = run_experiment(program, plan, nic, rate, frames, args.count, args.pps,
                             args.repeats)
        s, h, m = res["split"], res["all_host"], res["modelled"]
        rows.append({
            "nf": nf, "nic": nic, "rate_mpps": rate, "stages": s.stages,
            "frames_sent": s.frames_sent, "repeats": len(res["split_runs"]),
            "measured": {
                "split_host_ns_runs": [round(r.host_ns_per_packet, 1) for r in res["split_runs"]],
                "all_host_ns_runs": [round(r.host_ns_per_packet, 1)
                                     for r in res["all_host_runs"]],
                "split_host_ns_per_packet": round(s.host_ns_per_packet, 2),
                "all_host_ns_per_packet": round(h.host_ns_per_packet, 2),
                "ratio_split_over_all_host": round(s.host_ns_per_packet / h.host_ns_per_packet, 3)
                if h.host_ns_per_packet else None,
                "split_frames_to_host": s.host_frames, "all_host_frames_to_host": h.host_frames,
                "split_nic_frames": s.nic_frames, "all_host_nic_frames": h.nic_frames,
                "split_nic_verdicts": s.nic_verdicts, "split_host_verdicts": s.host_verdicts,
                "all_host_verdicts": h.host_verdicts,
                "emulated_nic_ns_per_packet": round(s.nic_run_ns / s.nic_frames, 2)
                if s.nic_frames else None},
            "modelled": {k: round(v, 3) for k, v in m.items()},
        })
    if args.json:
        json.dump(rows, sys.stdout, indent=1)
        print()
        return 0
    print("Host CPU time per packet, split (emulated NIC stage + host XDP stage) vs the same "
          "NF all on the host XDP; measured = host XDP run time (BPF stats) per offered frame, "
          f"median of {args.repeats} alternating runs; modelled = stage models. The NIC is "
          "emulated by XDP on a veth: NIC throughput is modelled only.")
    hdr = (f"{'NF':<10} {'NIC':<11} {'Mpps':>5} {'stages':<12} {'frames':>8} "
           f"{'split ns':>9} {'host ns':>8} {'ratio':>6} | {'model split':>11} "
           f"{'model host':>10} {'NIC util':>8}")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        me, mo = r["measured"], r["modelled"]
        ratio = me["ratio_split_over_all_host"]
        print(f"{r['nf']:<10} {r['nic']:<11} {r['rate_mpps']:>5g} {'+'.join(r['stages']):<12} "
              f"{r['frames_sent']:>8} {me['split_host_ns_per_packet']:>9.1f} "
              f"{me['all_host_ns_per_packet']:>8.1f} "
              f"{(f'{ratio:.2f}' if ratio is not None else '-'):>6} | "
              f"{mo['split_host_ns']:>11.1f} {mo['all_host_ns']:>10.1f} "
              f"{mo['nic_utilization']:>8.3f}")
        print(f"  runs (host ns/packet): split {me['split_host_ns_runs']}, all-host "
              f"{me['all_host_ns_runs']}; median shown")
        if "kernel" not in r["stages"]:
            print("  (no host stage in this plan: the host side runs a pass-through XDP program "
                  "only because a veth delivers XDP-redirected frames to a peer running XDP; a "
                  "real NIC needs none, so 'split ns' here is an emulation artefact)")
        print(f"  frames reaching the host: split {me['split_frames_to_host']}, all-host "
              f"{me['all_host_frames_to_host']}; NIC verdicts (split) "
              f"{ {k: v for k, v in me['split_nic_verdicts'].items() if v} }; host verdicts "
              f"(split) { {k: v for k, v in me['split_host_verdicts'].items() if v} }, "
              f"(all-host) { {k: v for k, v in me['all_host_verdicts'].items() if v} }")
    return 0


if __name__ == "__main__":
    sys.exit(main())
