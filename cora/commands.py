"""``cora check``, ``cora compile``, ``cora run``, ``cora bench`` and ``cora demo``.

The exact forms and JSON shapes are a contract other tools depend on (see README.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

from cora.errors import CoraError, InputError
from cora.jsonout import dumps, print_json, require_finite

#: most repetitions per sampled frame for ``cora bench`` (each BPF_PROG_TEST_RUN call with
#: repeat R costs ~R x ns/packet of kernel time; 10^6 x 200 frames is minutes already)
BENCH_MAX_REPEAT = 1_000_000
#: most frames ``cora bench`` samples from a capture
BENCH_MAX_SAMPLES = 100_000
#: longest live-traffic phase of ``cora demo``, in seconds
DEMO_MAX_SECONDS = 3600.0


def register(sub) -> None:
    """Add this module's subcommands to the top-level argparse ``sub``-parsers."""
    from cora.argtypes import add_json_flag, add_nf_argument, integer, non_empty, number
    from cora.targets import target_names

    targets = target_names()
    p = sub.add_parser("check", help="type-check an NF; print diagnostics",
                       description="Type-check an NF and print every diagnostic "
                                   "(file:line:col: error: ... with a caret).")
    add_nf_argument(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("compile", help="compile an NF for a target",
                       description="Compile an NF to C for a kernel hook, with its IR and map "
                                   "layout, or one program per stage of an offload plan.")
    add_nf_argument(p)
    p.add_argument("--target", default="xdp", choices=targets,
                   help="code-generation target")
    p.add_argument("-o", "--output", required=True, metavar="DIR",
                   type=non_empty("the output directory"),
                   help="directory for the generated C, the printed IR and the map layout")
    p.add_argument("--plan", metavar="PLAN.json", default=None,
                   help="split by a `cora plan --json` plan: one program per stage "
                        "(<stage>.c, <stage>.ir, <stage>.maps.json) and shim.json")
    p.add_argument("--no-stats", action="store_true",
                   help="no per-CPU verdict counters (cora_verdicts) in the program")
    p.add_argument("--live-profile", metavar="N", nargs="?", const=1, default=0,
                   type=integer(1, 1 << 20),
                   help="live-profile counters (entry block, branch edges; per CPU) of 1 in N "
                        "packets (xdp; N default 1), as `cora runtime` reads them")
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("run", help="run a pcap's frames through the NF (kernel and/or interpreter)",
                       description="Run every frame of a capture through the NF in the kernel "
                                   "(BPF_PROG_TEST_RUN), the reference interpreter, or both "
                                   "(compared frame by frame; exit 1 on any mismatch).")
    add_nf_argument(p)
    p.add_argument("--pcap", required=True, metavar="IN.pcap", help="capture to replay")
    p.add_argument("--engine", choices=("kernel", "interp", "both"), default="both",
                   help="where the frames run: both compares kernel and interpreter")
    p.add_argument("--target", choices=targets, default="xdp",
                   help="kernel hook of the kernel engine (tc: sched_cls)")
    p.add_argument("--out", metavar="OUT.pcap", help="write the frames that were not dropped")
    p.add_argument("--state-out", metavar="S.json", help="write the state after the last frame")
    add_json_flag(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("bench", help="kernel ns/packet of the compiled NF (BPF_PROG_TEST_RUN)",
                       description="Measure the kernel's ns/packet for the compiled NF with "
                                   "BPF_PROG_TEST_RUN over frames sampled from a capture.")
    add_nf_argument(p)
    p.add_argument("--pcap", required=True, metavar="IN.pcap", help="capture to sample frames from")
    p.add_argument("--repeat", type=integer(1, BENCH_MAX_REPEAT), default=10000, metavar="N",
                   help=f"repetitions per sampled frame (1 to {BENCH_MAX_REPEAT:,})")
    p.add_argument("--samples", type=integer(1, BENCH_MAX_SAMPLES), default=200, metavar="N",
                   help=f"frames sampled evenly from the pcap (1 to {BENCH_MAX_SAMPLES:,})")
    p.add_argument("--no-stats", action="store_true",
                   help="no per-CPU verdict counters (cora_verdicts) in the program: "
                        "measures their cost")
    add_json_flag(p)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("demo", help="the main job: firewall on real captures and a live testbed",
                       description="Compile the NF, compare kernel and interpreter on real "
                                   "captures, then deploy it on a veth testbed and drive live "
                                   "traffic (needs root); every figure is measured.")
    p.add_argument("--nf", default=None, metavar="NF",
                   help="NF to demo (default: netfuncs/firewall.nf)")
    p.add_argument("--seconds", type=number(0, DEMO_MAX_SECONDS, low_open=True, unit="s"),
                   default=3.0, metavar="S",
                   help=f"live traffic duration in seconds (above 0, at most {DEMO_MAX_SECONDS:g})")
    p.add_argument("--traces", default=None, metavar="DIR",
                   help="folder of .pcap captures (default: the project's trace corpus)")
    add_json_flag(p, "a JSON summary of the figures (the progress text goes to stderr)")
    p.set_defaults(func=cmd_demo)


# ------------------------------------------------------------------------------------ check
def _stats(args) -> bool:
    """Whether the program keeps verdict counters: not under ``--no-stats``."""
    return not getattr(args, "no_stats", False)


def cmd_check(args) -> int:
    """Print every diagnostic of the file; exit 1 if there is any error."""
    from cora.compiler.driver import check_source, read_source
    from cora.compiler.frontend.diagnostics import format_diagnostics

    text = read_source(args.nf)
    diags = check_source(text, args.nf)
    if diags:
        sys.stderr.write(format_diagnostics(diags, text).rstrip("\n") + "\n")
        errors = sum(1 for d in diags if d.severity == "error")
        sys.stderr.write(f"{errors} error(s)\n")
        return 1 if errors else 0
    return 0


# ---------------------------------------------------------------------------------- compile
def cmd_compile(args) -> int:
    """Write DIR/prog.c, DIR/prog.ir and DIR/maps.json."""
    from cora.compiler import compile_file
    from cora.targets import get_target
    from cora.targets.ebpf.maps import maps_metadata

    target = get_target(args.target)
    program = compile_file(args.nf)
    if getattr(args, "plan", None):
        return _compile_stages(args, program)
    reasons = target.unsupported(program)
    if reasons:
        raise CoraError(f"{args.nf} cannot run on target {target.name}: " + "; ".join(reasons))
    if args.live_profile:  # an xdp option (other targets refuse it in one line)
        artifact = target.generate(program, count_verdicts=_stats(args),
                                   live_profile=args.live_profile)
    else:
        artifact = target.generate(program, count_verdicts=_stats(args))
    out = Path(args.output)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, text in artifact.files.items():
            (out / name).write_text(text)
        (out / "maps.json").write_text(
            dumps(maps_metadata(program), "the map layout", indent=2) + "\n")
    except OSError as exc:
        raise InputError(f"cannot write to {out}: {exc.strerror}") from None
    print(f"{args.nf}: wrote {', '.join(sorted([*artifact.files, 'maps.json']))} to {out}/")
    return 0


def _compile_stages(args, program) -> int:
    """``cora compile --plan``: one program per stage plus the shim layout (see
    :mod:`cora.compiler.offload.split`). nic and kernel stages are XDP C (the NIC stage is emulated
    by XDP here); a user stage is written as IR only (it runs in the interpreter)."""
    from cora.compiler.ir.text import print_program
    from cora.compiler.offload.split import load_plan_file, split
    from cora.targets.ebpf.maps import maps_metadata
    from cora.targets.xdp import XdpTarget

    if args.target != "xdp":
        raise CoraError(f"--plan splits for the xdp target only (got --target {args.target})")
    doc = load_plan_file(args.plan)
    result = split(program, doc)
    from cora.compiler.offload.split import check_nic_model

    check_nic_model(doc, result)
    out = Path(args.output)
    written = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        for st in result.stages:
            files = {f"{st.stage}.ir": print_program(st.program),
                     f"{st.stage}.maps.json":
                         dumps(maps_metadata(st.program), "the map layout", indent=2) + "\n"}
            if st.stage != "user":
                art = XdpTarget().generate(st.program, count_verdicts=_stats(args))
                files[f"{st.stage}.c"] = art.files["prog.c"]
            for name, text in files.items():
                (out / name).write_text(text)
                written.append(name)
        (out / "shim.json").write_text(
            dumps(result.layout_json(program.name), "the shim layout", indent=2) + "\n")
        written.append("shim.json")
    except OSError as exc:
        raise InputError(f"cannot write to {out}: {exc.strerror}") from None
    stages = " -> ".join(f"{st.stage} ({len(st.program.blocks)} blocks)" for st in result.stages)
    print(f"{args.nf}: stages {stages}; {len(result.shims)} shim layouts "
          f"(max {max([sh.bytes for sh in result.shims] + [2])} bytes); wrote "
          f"{', '.join(sorted(written))} to {out}/")
    return 0


# -------------------------------------------------------------------------------------- run
def _read_pcap(path: str):
    from cora.testbed.replay import read_pcap

    return read_pcap(path)


def _write_pcap(path: str, outputs) -> int:
    import dpkt

    n = 0
    try:
        with open(path, "wb") as fh:
            w = dpkt.pcap.Writer(fh, nano=True)
            for ts, verdict, frame in outputs:
                if verdict != "drop" and verdict != "aborted":
                    w.writepkt(frame, ts=ts / 1e9)
                    n += 1
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}") from None
    return n


def _write_json(path: str, obj) -> None:
    try:
        Path(path).write_text(dumps(obj, f"the state written to {path}", indent=1) + "\n")
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}") from None


def cmd_run(args) -> int:
    """Run every frame of the pcap in order; report verdicts, mismatches, ns/packet."""
    from cora.compiler import compile_file
    from cora.runtime.run import run_frames

    program = compile_file(args.nf)
    frames = _read_pcap(args.pcap)
    target = getattr(args, "target", "xdp")
    report = run_frames(program, frames, engine=args.engine, keep_outputs=bool(args.out),
                        time_kernel=True, target=target)
    if args.out:
        _write_pcap(args.out, report.outputs)
    if args.state_out:
        _write_json(args.state_out, report.state)
    require_finite(report.summary(), "the run's figures")
    if args.json:
        print_json(report.summary(), "the run's figures")
    else:
        v = report.verdicts
        source = {"kernel": "in the kernel (BPF_PROG_TEST_RUN x1000 on sampled frames, measured)",
                  "interp": "in the interpreter (wall time, measured)",
                  "both": "in the kernel (BPF_PROG_TEST_RUN x1000 on sampled frames, measured)"
                  }[args.engine]
        hook = "an skb (tc) test run" if target == "tc" else "an XDP test run"
        print(f"{program.name}: {report.packets} packets from {args.pcap} "
              f"({report.skipped} skipped: shorter than 14 bytes or more than {hook} "
              f"takes), engine {args.engine}" + (", target tc" if target == "tc" else ""))
        print("  verdicts: " + ", ".join(f"{k} {v[k]}" for k in v))
        if args.engine == "both":
            print(f"  kernel vs interpreter mismatches: {report.mismatches}")
            for d in report.details:
                print(f"    frame {d.index}: {d.what}: {d.detail}")
        if report.ns_per_packet is None:
            print("  no frame ran, so no ns/packet figure")
        else:
            print(f"  {report.ns_per_packet:.1f} ns/packet, {source}")
    return 1 if report.mismatches else 0


# ------------------------------------------------------------------------------------ bench
def cmd_bench(args) -> int:
    """ns/packet of the deployable program over the pcap's frames."""
    from cora.compiler import compile_file
    from cora.runtime.loader import load_xdp
    from cora.runtime.testrun import measure_ns_per_packet, sample_evenly
    from cora.targets import get_target

    program = compile_file(args.nf)
    from cora.runtime.testrun import xdp_test_run_accepts

    frames = [f for _, f in _read_pcap(args.pcap) if xdp_test_run_accepts(f)]
    if not frames:
        raise InputError(f"{args.pcap} has no frame an XDP test run takes (14 to 73,152 bytes)")
    artifact = get_target("xdp").generate(program, count_verdicts=_stats(args))
    with load_xdp(artifact) as loaded:
        ns = measure_ns_per_packet(loaded.prog_fd, frames, repeat=args.repeat,
                                   max_samples=args.samples)
    result = {"ns_per_packet": round(ns, 2),
              "rate_mpps_one_core": round(1e3 / ns, 2) if ns else None,
              "packets": len(frames), "sampled": len(sample_evenly(frames, args.samples)),
              "repeat": args.repeat, "nf": program.name, "stats": _stats(args),
              "source": "measured (BPF_PROG_TEST_RUN)"}
    require_finite(result, "the benchmark's figures")
    if args.json:
        print_json(result, "the benchmark's figures")
    else:
        print(f"{program.name}: {ns:.1f} ns/packet (= {result['rate_mpps_one_core']} Mpps on one "
              f"core), {result['sampled']} of {len(frames)} frames x {args.repeat} repeats, "
              f"{'with' if _stats(args) else 'without'} verdict counters, "
              f"measured with BPF_PROG_TEST_RUN")
    return 0


# ------------------------------------------------------------------------------------- demo
def cmd_demo(args) -> int:
    """The main job (see cora.testbed.demo); with ``--json`` the progress text goes to
    stderr and stdout holds one JSON object of the demo's figures."""
    import contextlib

    from cora.testbed.demo import run_demo

    if not args.json:
        return run_demo(nf=args.nf, seconds=args.seconds, traces=args.traces)
    figures: dict = {}
    with contextlib.redirect_stdout(sys.stderr):
        status = run_demo(nf=args.nf, seconds=args.seconds, traces=args.traces,
                          figures=figures)
    print_json(figures, "the demo's figures")
    return status
