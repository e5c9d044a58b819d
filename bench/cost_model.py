"""Validate the xdp stage model: predicted vs measured ns/packet for every NF in netfuncs/.

``.venv/bin/python bench/cost_model.py [--pcap P ...] [--repeat R] [--samples S] [--json]``

For each NF and each capture:

- measured: the NF compiled by the xdp target as ``cora bench`` times it, without verdict
  counters (frags on), loaded with bcc, timed by
  :func:`cora.runtime.testrun.measure_ns_per_packet` (S frames sampled evenly over the
  capture, each run R times in one BPF_PROG_TEST_RUN call, map state kept), minimum of
  ``--rounds`` rounds, each on a freshly loaded program (the machine is shared: other work
  only ever slows a round down; the calibration takes minimums too);
- predicted: :func:`cora.compiler.offload.stage_model.predict_ns_per_packet` with the ``xdp`` model
  (``compiler/offload/models/xdp.toml``, measured by ``python -m cora.runtime.calibrate --write``)
  and the traffic profile of exactly what was timed: the reference interpreter runs the same
  sampled frames in the same order, each R times with the frame it left fed back (a test run
  does not reset the frame between repetitions) and a clock advancing ``--step-ns`` per run
  (the kernel's bpf_ktime_get_ns advances by about the program's run time), and counts block
  executions; block frequency = executions / (S x R).
- error = (predicted - measured) / measured. The issue's bar: |error| <= 15% on the library.

Prints a table (and the mean absolute error), or JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from cora.settings import traces_dir

DEFAULT_TRACES = [  # captures with many IPv4 TCP/UDP frames (see bench/ref_flowcount.py)
    str(traces_dir() / name)
    for name in ("of10_s4810.pcap", "bgp-4byte-asn.pcap", "babel_update_oobr.pcap")
]
NETFUNCS = Path(__file__).resolve().parent.parent / "netfuncs"
BAR = 0.15


def read_frames(pcap: str) -> list[bytes]:
    """Frames of a capture an XDP test run accepts (14 bytes up to the test-run maximum)."""
    from cora.runtime.testrun import MAX_XDP_TEST_FRAME_BYTES, MIN_XDP_FRAME_BYTES
    from cora.testbed.replay import read_pcap

    return [f for _, f in read_pcap(pcap)
            if MIN_XDP_FRAME_BYTES <= len(f) <= MAX_XDP_TEST_FRAME_BYTES]


def repeated_profile(program, frames: list[bytes], repeat: int, step_ns: int = 100,
                     start_ns: int = 10**12) -> dict[str, float]:
    """Block frequencies of ``frames`` each run ``repeat`` times in order, the frame fed back
    between repetitions (see module docstring). Returns label -> executions per packet."""
    clock = iter(range(start_ns, start_ns + step_ns * len(frames) * repeat + 1, step_ns))
    runs = ((next(clock), f) for f in frames for _ in range(repeat))
    counts, n = _counts_fed_back_per_frame(program, runs, repeat)
    return {label: c / n for label, c in counts.items()}


def _counts_fed_back_per_frame(program, runs, repeat):
    """Block executions, the frame fed back only within one frame's repetitions."""
    from collections import Counter

    from cora.compiler.interp import CountingInterpreter

    interp = CountingInterpreter(program)
    counts: Counter = interp.block_count
    n, data = 0, None
    for i, (now_ns, frame) in enumerate(runs):
        if i % repeat == 0:
            data = frame
        res = interp.run(data, now_ns)
        if res.verdict in ("pass", "tx", "redirect"):
            data = res.frame
        n += 1
    return counts, n


def validate(nf: Path, pcap: str, repeat: int, samples: int, step_ns: int,
             rounds_n: int = 3) -> dict:
    """Measured and predicted ns/packet of one NF over one capture (see module docstring)."""
    from cora.compiler.driver import compile_file
    from cora.compiler.offload.stage_model import load_model, predict_ns_per_packet
    from cora.runtime.loader import load_xdp
    from cora.runtime.testrun import measure_ns_per_packet, sample_evenly
    from cora.targets.xdp import XdpTarget

    program = compile_file(nf)
    frames = read_frames(pcap)
    sampled = sample_evenly(frames, samples)
    artifact = XdpTarget().generate(program, count_verdicts=False, frags=True)
    rounds = []
    for _ in range(max(1, rounds_n)):  # a fresh program (empty maps) each round
        with load_xdp(artifact) as loaded:
            rounds.append(measure_ns_per_packet(loaded.prog_fd, sampled, repeat=repeat,
                                                max_samples=len(sampled)))
    measured = min(rounds)
    freq = repeated_profile(program, sampled, repeat, step_ns)
    model = load_model("xdp")
    predicted = predict_ns_per_packet(program, model, freq)
    return {"nf": program.name, "pcap": Path(pcap).name, "frames": len(frames),
            "sampled": len(sampled), "repeat": repeat,
            "measured_rounds_ns": [round(r, 2) for r in rounds],
            "measured_ns_per_packet": round(measured, 2),
            "predicted_ns_per_packet": round(predicted, 2),
            "error": round((predicted - measured) / measured, 4),
            "measured_source": "measured (BPF_PROG_TEST_RUN)",
            "predicted_source": f"xdp model {model.path}"}


def add_case_arguments(ap: argparse.ArgumentParser) -> None:
    """The options shared with bench/tc_cost_model.py: which NFs and captures, and how each
    case is timed and profiled (``--repeat``, ``--samples``, ``--step-ns``, ``--rounds``)."""
    ap.add_argument("--pcap", action="append", help="capture(s) (default: three real traces)")
    ap.add_argument("--nf", action="append", help="NF file(s) (default: all of netfuncs/)")
    ap.add_argument("--repeat", type=int, default=1000)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--step-ns", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3,
                    help="timed rounds per case, each on a fresh program; minimum taken")
    ap.add_argument("--json", action="store_true")


def run_cases(case: Callable[..., dict], args: argparse.Namespace, tool: str
              ) -> list[dict] | None:
    """``case(nf, pcap, repeat, samples, step_ns, rounds)`` for every NF x capture chosen by
    :func:`add_case_arguments`' options, in order. Returns the rows, or None after printing
    ``<tool>: error: <message>`` to stderr when cora refuses an input (:class:`CoraError`)."""
    from cora.errors import CoraError

    nfs = [Path(p) for p in args.nf] if args.nf else sorted(NETFUNCS.glob("*.nf"))
    pcaps = args.pcap or DEFAULT_TRACES
    rows = []
    try:
        for nf in nfs:
            for pcap in pcaps:
                rows.append(case(nf, pcap, args.repeat, args.samples, args.step_ns,
                                 args.rounds))
    except CoraError as exc:
        print(f"{tool}: error: {exc.message}", file=sys.stderr)
        return None
    return rows


def error_summary(errs: list[float]) -> dict:
    """Mean and max of the absolute relative errors ``errs`` (non-empty) and how many are
    within :data:`BAR` (the issue's 15%)."""
    return {"mean_abs_error": round(sum(errs) / len(errs), 4),
            "max_abs_error": round(max(errs), 4),
            "within_bar": sum(e <= BAR for e in errs), "cases": len(errs), "bar": BAR}


def error_summary_words(summary: dict) -> str:
    """``mean |error| M%, max X%, k/n within 15%`` for an :func:`error_summary`."""
    return (f"mean |error| {100 * summary['mean_abs_error']:.1f}%, max "
            f"{100 * summary['max_abs_error']:.1f}%, {summary['within_bar']}/{summary['cases']} "
            f"within 15%")


def main(argv: list[str] | None = None) -> int:
    """Print predicted vs measured for every NF (and capture); exit 0 (1 on a user error)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_case_arguments(ap)
    args = ap.parse_args(argv)
    rows = run_cases(validate, args, "cost_model")
    if rows is None:
        return 1
    summary = error_summary([abs(r["error"]) for r in rows])
    if args.json:
        print(json.dumps({"rows": rows, "summary": summary}, indent=1))
        return 0
    print("xdp cost model: predicted (compiler/offload/models/xdp.toml x interpreter profile) vs "
          f"measured (BPF_PROG_TEST_RUN, {args.samples} frames x {args.repeat} repeats)")
    print(f"{'NF':12s} {'capture':26s} {'measured':>9s} {'predicted':>10s} {'error':>8s}")
    for r in rows:
        flag = "" if abs(r["error"]) <= BAR else "  > 15%"
        print(f"{r['nf']:12s} {r['pcap'][:26]:26s} {r['measured_ns_per_packet']:9.1f} "
              f"{r['predicted_ns_per_packet']:10.1f} {100 * r['error']:+7.1f}%{flag}")
    print(f"{error_summary_words(summary)} (ns/packet)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
