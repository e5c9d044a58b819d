"""Generated code vs hand-written XDP, per library NF (issue 10): same results, then speed.

``sudo .venv/bin/python bench/codegen.py [--nf NAME ...] [--trace PCAP ...] [--json]``

For each NF with a hand-written reference (testbed/refs/, described in testbed/handwritten.py)
and each trace (the project's captures, from ``CORA_TRACES``, plus a seeded synthetic
many-flow trace, :func:`handwritten.synthetic_trace`):

1. **Same results.** The compiled NF (cora's kernel engine: xdp target, now()/rand()
   injected from the pcap timestamps as under ``cora run``) and the reference (now()
   injected the same way) are loaded side by side; every frame runs once through both
   (BPF_PROG_TEST_RUN, repeat 1, state kept); verdicts and output bytes are compared frame
   by frame, then every mutable map's content. Any difference fails the run loudly (exit 1,
   the differences listed) before anything is timed.
2. **Speed.** Deployable builds (kernel clock; the NF with the per-CPU verdict counters
   ``cora deploy`` loads, and without them) and the reference, each first fed the trace
   once, are timed with BPF_PROG_TEST_RUN in alternating rounds (nf, nf without verdict
   counters, reference, repeated ``--rounds`` times; up to ``--samples`` frames sampled
   evenly, ``--repeat`` repetitions each, cora.runtime.testrun.measure_ns_per_packet);
   the figures are the medians; ratio = nf / reference. Each NF's programs are loaded
   once and fed the traces in order (state carries over, the same for all three). Their
   instruction counts after the verifier (xlated) are recorded too: a static proxy that
   the machine's load does not move.
3. **Live veth rate** (skipped with ``--no-live``): every NF in netfuncs/ attached natively to
   one end of a veth pair (its deployable build), against a trivial XDP program that counts
   and passes (testbed.trafficgen.RxCounter), fed by the same live-frames generator
   (testbed.trafficgen.TrafficGen, MACHINE.md) with the same frames, in alternating rounds;
   rate = frames the program saw / time from the first frame sent to the last one seen;
   medians; ratio = nf / trivial. The NF's verdict mix is printed next to it (a drop is
   cheaper than a pass, a tx costs a transmit). An NF with a hand-written reference also
   runs the reference in the same rounds (nf / hand-written live), and the added ns/frame
   over the trivial program is printed for both (see :func:`live_rates`).

Prints a table (or ``--json``) and writes a bar chart of the ratios (``--png``).
Needs root (eBPF). Figures depend on the machine's load: say so next to them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from cora.testbed import handwritten as hw
from cora.testbed.codegen_report import markdown_tables, plot, print_table
from cora.testbed.handwritten import SYNTHETIC, Mismatch, compare, comparison_engines, load_trace  # noqa: F401  (re-exported for callers)

# the captures with the most IPv4 TCP/UDP frames
DEFAULT_CAPTURES = ["of10_s4810.pcap", "babel_update_oobr.pcap", "bgp-4byte-asn.pcap"]


@contextmanager
def timing_programs(ref: hw.Reference, program) -> Iterator[dict[str, int]]:
    """Deployable builds (kernel clock) loaded side by side: ``{"nf": fd (with the per-CPU
    verdict counters cora deploy loads), "nf_no_stats": fd, "ref": fd}``."""
    from cora.runtime.loader import load_xdp
    from cora.targets import get_target
    target = get_target("xdp")
    with load_xdp(target.generate(program, count_verdicts=True)) as nf, \
            load_xdp(target.generate(program, count_verdicts=False)) as nf_plain, \
            hw.load_reference(ref, program, inject_env=False) as r:
        yield {"nf": nf.prog_fd, "nf_no_stats": nf_plain.prog_fd, "ref": r.prog_fd}


def time_pair(fds: dict[str, int], frames: list[bytes], rounds: int, repeat: int,
              samples: int) -> dict:
    """ns/packet of the programs of :func:`timing_programs`, each fed ``frames`` once
    first (state kept from earlier traces: every program sees the same frames in the same
    order), then timed in alternating rounds; medians, and ratios to the reference."""
    from cora.runtime.testrun import time_side_by_side, xdp_test_run_accepts
    usable = [f for f in frames if xdp_test_run_accepts(f)]
    med, times = time_side_by_side(fds, usable, rounds, repeat, samples)
    return {"ns_per_packet_nf": med["nf"], "ns_per_packet_nf_no_stats": med["nf_no_stats"],
            "ns_per_packet_ref": med["ref"], "ratio": med["nf"] / med["ref"],
            "ratio_no_stats": med["nf_no_stats"] / med["ref"],
            "rounds_ns_per_packet": times}


def xlated_instructions(fds: dict[str, int]) -> dict[str, int]:
    """Instructions of each loaded program after the verifier's rewrites (``bpftool prog dump
    xlated``'s count: BPF_OBJ_GET_INFO_BY_FD xlated_prog_len / 8 bytes): a deterministic,
    static proxy for the speed the timing measures under load."""
    from cora.runtime.bpf_syscall import prog_info
    return {label: prog_info(fd).xlated_prog_len // 8 for label, fd in fds.items()}


# --------------------------------------------------------------------------------- live
def _verdict_total(fd: int) -> dict[str, int]:
    """Per-verdict counts of a deployable NF's ``cora_verdicts``, summed over CPUs."""
    import struct

    from cora.runtime.bpf_syscall import map_lookup
    out = {}
    for code, name in hw.XDP_VERDICTS.items():
        vals = map_lookup(fd, struct.pack("=I", code), 8, percpu=True) or []
        out[name] = sum(struct.unpack("=Q", v)[0] for v in vals)
    return out


def _send_and_count(gen, read_count, count: int, settle_s: float = 0.02,
                    timeout_s: float = 10.0) -> tuple[int, int, float]:
    """Send ``count`` frames; poll ``read_count()`` until it reaches what was sent or stops
    moving for ``settle_s``. Returns (sent, seen, seconds from start to the last change)."""
    base = read_count()
    t0 = time.perf_counter()
    report = gen.send(count=count)
    t_last, seen = time.perf_counter(), read_count() - base
    deadline = time.monotonic() + timeout_s
    while seen < report.frames_sent and time.monotonic() < deadline:
        time.sleep(0.001)
        now_seen = read_count() - base
        if now_seen != seen:
            seen, t_last = now_seen, time.perf_counter()
        elif time.perf_counter() - t_last > settle_s:
            break
    return report.frames_sent, seen, t_last - t0


def _veth_xdp_packets(ifname: str, netns: str) -> int:
    """Frames the XDP program on veth ``ifname`` ran on (``ethtool -S``: the sum of the veth
    driver's ``rx_queue_<i>_xdp_packets``): a count that needs nothing from the program,
    used for the hand-written references, which keep no verdict counters."""
    import subprocess
    out = subprocess.run(["ip", "netns", "exec", netns, "ethtool", "-S", ifname],
                         capture_output=True, text=True, check=True).stdout
    return sum(int(line.split(":")[1]) for line in out.splitlines()
               if line.strip().startswith("rx_queue_") and "_xdp_packets:" in line)


def live_rates(nf_paths: list[Path], frames: list[bytes], count: int, rounds: int) -> list[dict]:
    """Live veth rate of each NF vs the trivial count-and-pass program (module docstring).

    An NF with a hand-written reference (testbed/refs/) runs its reference in the same
    alternating rounds (counted by the veth's XDP counters), so the generated code is also
    compared live with what a kernel engineer would write: on this 2-CPU VM the generator and
    the veth's receive path (where native XDP runs) share CPU time, so every rate is
    1 / (generator's ns/frame + program's ns/frame) and ``live_extra_ns`` = 1e3/Mpps of the
    program - 1e3/Mpps of the trivial one is the program's added cost per frame, live.

    Returns:
        one dict per NF: rate_mpps_nf, rate_mpps_trivial (medians), ratio, frames sent/seen
        of the last round, verdict mix of the NF over all rounds; with a reference also
        rate_mpps_ref, ratio_ref (ref / trivial) and ratio_nf_ref (nf / ref).
    """
    from cora.compiler.driver import compile_file
    from cora.runtime.attach import attach_xdp, detach_xdp
    from cora.runtime.loader import load_xdp
    from cora.runtime.testrun import sample_evenly
    from cora.targets import get_target
    from cora.testbed.topology import two_node
    from cora.testbed.trafficgen import MAX_TEMPLATES, RxCounter, TrafficGen
    templates = sample_evenly([f for f in frames if 14 <= len(f) <= 1514], MAX_TEMPLATES)
    rows = []
    with two_node() as topo, TrafficGen("veth0", topo.ns("gen")) as gen:
        gen.load_frames(templates)
        dut = topo.ns("dut")
        for path in nf_paths:
            program = compile_file(str(path))
            artifact = get_target("xdp").generate(program, count_verdicts=True)
            ref = hw.REFERENCES.get(program.name)
            nf_rates, triv_rates, ref_rates, last = [], [], [], {}
            with load_xdp(artifact) as nf, (hw.load_reference(ref, program, inject_env=False)
                                            if ref else nullcontext()) as loaded_ref:
                vfd = nf.map_fd("cora_verdicts")
                before = _verdict_total(vfd)
                for _ in range(rounds):
                    with RxCounter("veth0", dut, verdict="pass") as rx:
                        sent, seen, secs = _send_and_count(gen, lambda: rx.read()[0], count)
                    triv_rates.append(seen / secs / 1e6)
                    last["trivial"] = (sent, seen)
                    prog_id = attach_xdp(nf.prog_fd, "veth0", dut, mode="native")
                    try:
                        sent, seen, secs = _send_and_count(
                            gen, lambda vfd=vfd: sum(_verdict_total(vfd).values()), count)
                    finally:
                        detach_xdp("veth0", dut, prog_id=prog_id)
                    nf_rates.append(seen / secs / 1e6)
                    last["nf"] = (sent, seen)
                    if loaded_ref is not None:
                        prog_id = attach_xdp(loaded_ref.prog_fd, "veth0", dut, mode="native")
                        try:
                            sent, seen, secs = _send_and_count(
                                gen, lambda: _veth_xdp_packets("veth0", dut), count)
                        finally:
                            detach_xdp("veth0", dut, prog_id=prog_id)
                        ref_rates.append(seen / secs / 1e6)
                        last["ref"] = (sent, seen)
                after = _verdict_total(vfd)
            mix = {k: after[k] - before[k] for k in after if after[k] - before[k]}
            a, b = statistics.median(nf_rates), statistics.median(triv_rates)
            row = {"nf": program.name, "rate_mpps_nf": a, "rate_mpps_trivial": b,
                   "ratio": a / b, "live_extra_ns_nf": 1e3 / a - 1e3 / b,
                   "sent_seen_nf": last["nf"], "sent_seen_trivial": last["trivial"],
                   "verdicts_nf": mix, "rounds_mpps_nf": nf_rates,
                   "rounds_mpps_trivial": triv_rates}
            if ref_rates:
                c = statistics.median(ref_rates)
                row.update(rate_mpps_ref=c, ratio_ref=c / b, ratio_nf_ref=a / c,
                           live_extra_ns_ref=1e3 / c - 1e3 / b, sent_seen_ref=last["ref"],
                           rounds_mpps_ref=ref_rates)
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and benchmark; exit 1 on any result difference."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nf", action="append", choices=sorted(hw.REFERENCES),
                    help="NF(s) with a reference (default: all)")
    ap.add_argument("--trace", action="append",
                    help=f"capture name in CORA_TRACES or a path, or '{SYNTHETIC}' "
                    f"(default: {', '.join(DEFAULT_CAPTURES)} and {SYNTHETIC})")
    ap.add_argument("--synthetic-flows", type=int, default=10_000)
    ap.add_argument("--synthetic-frames", type=int, default=40_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=10_000)
    ap.add_argument("--samples", type=int, default=60)
    ap.add_argument("--no-timing", action="store_true", help="only compare results")
    ap.add_argument("--no-live", action="store_true", help="skip the live veth rates")
    ap.add_argument("--live-frames", type=int, default=300_000)
    ap.add_argument("--png", default=str(Path(__file__).resolve().parent / "codegen_ratios.png"),
                    help="bar chart path ('' = none)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--table-from", metavar="JSON",
                    help="print the table and chart of a saved --json run, run nothing")
    ap.add_argument("--markdown", action="store_true",
                    help="with --table-from: print the README's Markdown tables instead")
    args = ap.parse_args(argv)
    if args.table_from:
        return _table_from(Path(args.table_from), args)
    for n in ("rounds", "repeat", "samples", "live_frames", "synthetic_flows",
              "synthetic_frames"):
        if getattr(args, n) < 1:
            ap.error(f"--{n.replace('_', '-')} must be >= 1")

    from cora.compiler.driver import compile_file
    from cora.errors import CoraError
    nfs = args.nf or list(hw.REFERENCES)
    traces = args.trace or DEFAULT_CAPTURES + [SYNTHETIC]
    rows, failed = [], False
    try:
        loaded = {t: load_trace(t, args.synthetic_flows, args.synthetic_frames) for t in traces}
        for name in nfs:
            ref = hw.REFERENCES[name]
            program = compile_file(str(ref.nf_path))
            nf_rows = []
            with comparison_engines(ref, program) as pair:
                for t, records in loaded.items():
                    row = {"nf": name, "trace": Path(t).name,
                           **compare(ref, program, records, engines=pair)}
                    if row["frame_mismatches"] or not row["state_match"]:
                        failed = True
                        print(f"codegen: MISMATCH {name} on {t}: {row['frame_mismatches']} "
                              f"frames differ; state diffs {row['state_diffs']}",
                              file=sys.stderr)
                        for ex in row["examples"]:
                            print(f"  {ex}", file=sys.stderr)
                    nf_rows.append(row)
            if not args.no_timing and not failed:
                with timing_programs(ref, program) as fds:
                    insns = xlated_instructions(fds)
                    for row, records in zip(nf_rows, loaded.values(), strict=True):
                        row["xlated_insns"] = insns
                        row.update(time_pair(fds, [f for _, f in records], args.rounds,
                                             args.repeat, args.samples))
            rows.extend(nf_rows)
            for row in nf_rows:  # progress, and figures that survive an interrupted run
                print(f"codegen: {json.dumps(row)}", file=sys.stderr, flush=True)
        live = []
        if not args.no_live and not failed:
            frames = [f for _, f in loaded.get(SYNTHETIC) or
                      load_trace(SYNTHETIC, args.synthetic_flows, args.synthetic_frames)]
            paths = sorted(hw.NETFUNCS_DIR.glob("*.nf"))
            live = live_rates(paths, frames, args.live_frames, args.rounds)
            print(f"codegen: live {json.dumps(live)}", file=sys.stderr, flush=True)
    except CoraError as exc:
        print(f"codegen: error: {exc.message}", file=sys.stderr)
        return 1
    measured_utc = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if args.json:
        settings = {k: getattr(args, k) for k in SETTINGS}
        print(json.dumps({"rows": rows, "live": live, "settings": settings,
                          "measured_utc": measured_utc}))
    else:
        print_table(rows, live, args)
    if args.png and any("ratio" in r for r in rows):
        plot(rows, live, Path(args.png), measured_utc)
    if failed:
        print("codegen: the compiled NF and its reference disagree (see above): fix the "
              "reference or the compiler before timing", file=sys.stderr)
        return 1
    return 0


SETTINGS = ("rounds", "repeat", "samples", "live_frames", "synthetic_flows", "synthetic_frames")


def _table_from(path: Path, args) -> int:
    """Print the table (and write the chart) of a saved ``--json`` run."""
    try:
        data = json.loads(path.read_text())
        rows, live = data["rows"], data["live"]
    except (OSError, ValueError, KeyError) as exc:
        print(f"codegen: error: {path}: not a saved --json run ({exc})", file=sys.stderr)
        return 1
    for k, v in data.get("settings", {}).items():
        setattr(args, k, v)
    if getattr(args, "markdown", False):
        print(markdown_tables(rows, live))
        return 0
    print_table(rows, live, args)
    print(f"(run of {data.get('measured_utc', 'unknown time')})")
    if args.png and any("ratio" in r for r in rows):
        plot(rows, live, Path(args.png), data.get("measured_utc", "unknown time"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
