"""Validate the tc stage model and compare the tc and xdp hooks: for every NF in netfuncs/
and three real captures, measured ns/packet of the tc program, its prediction by
``compiler/offload/models/tc.toml``, and the xdp program measured side by side on the same frames.

``.venv/bin/python bench/tc_cost_model.py [--pcap P ...] [--nf X.nf ...] [--repeat R]
[--samples S] [--rounds N] [--json]``

Method as bench/cost_model.py (its ``repeated_profile`` is reused: the interpreter runs the
sampled frames R times each, fed back, to count block executions), with:

- frames: those an skb test run accepts (:func:`cora.runtime.engine.tc_test_run_accepts`),
  so both hooks time exactly the same frames;
- measured: tc (``load_tc``, no verdict counters) and xdp (``load_xdp``, frags on, no verdict
  counters) each timed by :func:`cora.runtime.testrun.measure_ns_per_packet` (S frames x R
  repeats per BPF_PROG_TEST_RUN call), in alternating rounds on freshly loaded programs,
  minimum of ``--rounds`` (the machine is shared: other work only slows a round down);
- predicted: :func:`cora.compiler.offload.stage_model.predict_ns_per_packet` with the ``tc`` model.

Prints a table with the error of the tc prediction and the tc/xdp ratio of measured times.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _cost_model():
    """bench/cost_model.py as a module (bench/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("cora_bench_cost_model", HERE / "cost_model.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def compare(nf: Path, pcap: str, repeat: int, samples: int, step_ns: int,
            rounds_n: int = 3) -> dict:
    """Measured tc and xdp ns/packet and the tc model's prediction for one NF x capture."""
    from cora.compiler.driver import compile_file
    from cora.compiler.offload.stage_model import load_model, predict_ns_per_packet
    from cora.runtime.engine import tc_test_run_accepts
    from cora.runtime.loader import load_tc, load_xdp
    from cora.runtime.testrun import measure_ns_per_packet, sample_evenly
    from cora.targets.tc import TcTarget
    from cora.targets.xdp import XdpTarget
    from cora.testbed.replay import read_pcap

    program = compile_file(nf)
    frames = [f for _, f in read_pcap(pcap) if tc_test_run_accepts(f)]
    sampled = sample_evenly(frames, samples)
    tc_art = TcTarget().generate(program, count_verdicts=False)
    xdp_art = XdpTarget().generate(program, count_verdicts=False, frags=True)
    timed = {"tc": [], "xdp": []}
    for _ in range(max(1, rounds_n)):  # alternate the hooks; fresh programs each round
        for name, art, load in (("tc", tc_art, load_tc), ("xdp", xdp_art, load_xdp)):
            with load(art) as loaded:
                timed[name].append(measure_ns_per_packet(loaded.prog_fd, sampled,
                                                         repeat=repeat,
                                                         max_samples=len(sampled)))
    tc_ns, xdp_ns = min(timed["tc"]), min(timed["xdp"])
    freq = _cost_model().repeated_profile(program, sampled, repeat, step_ns)
    model = load_model("tc")
    predicted = predict_ns_per_packet(program, model, freq)
    return {"nf": program.name, "pcap": Path(pcap).name, "frames": len(frames),
            "sampled": len(sampled), "repeat": repeat,
            "tc_rounds_ns": [round(r, 2) for r in timed["tc"]],
            "xdp_rounds_ns": [round(r, 2) for r in timed["xdp"]],
            "tc_measured_ns_per_packet": round(tc_ns, 2),
            "xdp_measured_ns_per_packet": round(xdp_ns, 2),
            "tc_predicted_ns_per_packet": round(predicted, 2),
            "tc_error": round((predicted - tc_ns) / tc_ns, 4),
            "tc_over_xdp": round(tc_ns / xdp_ns, 3),
            "measured_source": "measured (BPF_PROG_TEST_RUN)",
            "predicted_source": f"tc model {model.path}"}


def main(argv: list[str] | None = None) -> int:
    """Print the table (or JSON); exit 0, or 1 with one line on a user error."""
    cost_model = _cost_model()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cost_model.add_case_arguments(ap)
    args = ap.parse_args(argv)
    if min(args.repeat, args.samples, args.rounds) < 1:
        print("tc_cost_model: error: --repeat, --samples and --rounds must be at least 1",
              file=sys.stderr)
        return 1
    rows = cost_model.run_cases(compare, args, "tc_cost_model")
    if rows is None:
        return 1
    ratios = [r["tc_over_xdp"] for r in rows]
    summary = {**cost_model.error_summary([abs(r["tc_error"]) for r in rows]),
               "mean_tc_over_xdp": round(sum(ratios) / len(ratios), 3)}
    if args.json:
        print(json.dumps({"rows": rows, "summary": summary}, indent=1))
        return 0
    print("tc (sched_cls) vs xdp, measured (BPF_PROG_TEST_RUN, "
          f"{args.samples} frames x {args.repeat} repeats, min of {args.rounds} rounds) and "
          "the tc model's prediction (compiler/offload/models/tc.toml x interpreter profile)")
    print(f"{'NF':12s} {'capture':26s} {'tc meas':>8s} {'tc pred':>8s} {'error':>7s} "
          f"{'xdp meas':>9s} {'tc/xdp':>7s}")
    for r in rows:
        flag = "" if abs(r["tc_error"]) <= cost_model.BAR else "  > 15%"
        print(f"{r['nf']:12s} {r['pcap'][:26]:26s} {r['tc_measured_ns_per_packet']:8.1f} "
              f"{r['tc_predicted_ns_per_packet']:8.1f} {100 * r['tc_error']:+6.1f}% "
              f"{r['xdp_measured_ns_per_packet']:9.1f} {r['tc_over_xdp']:7.2f}{flag}")
    print(f"tc model: {cost_model.error_summary_words(summary)}; "
          f"measured tc/xdp mean ratio {summary['mean_tc_over_xdp']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
