"""Reports of ``bench/codegen.py`` runs (issue 10): the plain-text table, the README's Markdown
tables and the bar chart of a run's rows, from the dicts the bench measures or saved with
``--json``. In the package (not in bench/) so that tests can check them.

Row shapes (one dict per NF and trace, ``rows``): ``nf``, ``trace``, ``frames_run``,
``verdicts``, ``frame_mismatches``, ``state_match`` and, when timed, ``ns_per_packet_nf``,
``ns_per_packet_nf_no_stats``, ``ns_per_packet_ref`` (ns/packet, BPF_PROG_TEST_RUN medians),
``ratio``, ``ratio_no_stats`` (nf / reference), ``xlated_insns`` ({"nf", "nf_no_stats", "ref"}:
instructions after the verifier). Live rows (one per NF, ``live``): ``rate_mpps_nf``,
``rate_mpps_trivial`` (Mpps medians), ``ratio``, ``verdicts_nf`` and, for an NF with a
hand-written reference, ``rate_mpps_ref``, ``ratio_ref``, ``ratio_nf_ref``,
``live_extra_ns_nf``/``live_extra_ns_ref`` (ns/frame over the trivial program).
"""

from __future__ import annotations

from pathlib import Path


def plot(rows: list[dict], live: list[dict], png: Path, measured_utc: str) -> None:
    """Bar chart of nf/reference ratios per NF and trace (and live nf/trivial ratios)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ncols = 2 if live else 1
    fig, axes = plt.subplots(1, ncols, figsize=(7 * ncols, 4.5), squeeze=False)
    ax = axes[0][0]
    labels = [f"{r['nf']}\n{r['trace'].replace('.pcap', '')}" for r in rows if "ratio" in r]
    ax.bar([i - 0.2 for i in range(len(labels))], [r["ratio"] for r in rows if "ratio" in r],
           width=0.4, color="tab:blue", label="nf (verdict counters) / ref")
    ax.bar([i + 0.2 for i in range(len(labels))],
           [r["ratio_no_stats"] for r in rows if "ratio" in r], width=0.4, color="tab:cyan",
           label="nf (no counters) / ref")
    ax.axhline(1.05, color="red", ls="--", lw=1, label="goal 1.05")
    ax.axhline(1.0, color="black", lw=0.5)
    ax.set_xticks(range(len(labels)), labels, fontsize=6, rotation=90)
    ax.set_ylabel("ns/packet ratio (BPF_PROG_TEST_RUN)")
    ax.set_title("generated / hand-written")
    ax.legend(fontsize=7)
    if live:
        ax = axes[0][1]
        ax.bar(range(len(live)), [r["ratio"] for r in live], color="tab:green")
        ax.axhline(0.95, color="red", ls="--", lw=1, label="goal 0.95")
        ax.axhline(1.0, color="black", lw=0.5)
        ax.set_xticks(range(len(live)), [r["nf"] for r in live], fontsize=8)
        ax.set_ylabel("live Mpps ratio, veth")
        ax.set_title("NF / trivial count-and-pass")
        ax.legend(fontsize=7)
    fig.suptitle(f"measured {measured_utc}; shared 2-core VM under load", fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def print_table(rows: list[dict], live: list[dict], args) -> None:
    """The plain-text report (``args``: the run's settings, an argparse namespace or any
    object with its attributes)."""
    print(f"{'nf':10} {'trace':22} {'frames':>6} {'state':>6} {'ns/pkt nf':>9} "
          f"{'nf nostat':>9} {'ns/pkt ref':>10} {'nf/ref':>7} {'nostat/ref':>10}  verdicts")
    for r in rows:
        mix = " ".join(f"{k}:{v}" for k, v in sorted(r["verdicts"].items()))
        state = "same" if r["state_match"] and not r["frame_mismatches"] else "DIFF"
        if "ratio" in r:
            print(f"{r['nf']:10} {r['trace'][:22]:22} {r['frames_run']:6d} {state:>6} "
                  f"{r['ns_per_packet_nf']:9.1f} {r['ns_per_packet_nf_no_stats']:9.1f} "
                  f"{r['ns_per_packet_ref']:10.1f} {r['ratio']:7.3f} "
                  f"{r['ratio_no_stats']:10.3f}  {mix}")
        else:
            print(f"{r['nf']:10} {r['trace'][:22]:22} {r['frames_run']:6d} {state:>6}  "
                  f"(not timed)  {mix}")
    seen = set()
    for r in rows:
        if "xlated_insns" in r and r["nf"] not in seen:
            seen.add(r["nf"])
            n = r["xlated_insns"]
            print(f"{r['nf']:10} instructions (xlated): nf {n['nf']}, nf nostat "
                  f"{n['nf_no_stats']}, ref {n['ref']}, nostat/ref "
                  f"{n['nf_no_stats'] / n['ref']:.2f}")
    print(f"(BPF_PROG_TEST_RUN: repeat {args.repeat}, up to {args.samples} frames sampled per "
          f"trace, medians of {args.rounds} alternating rounds; 'nf' is the deployable build "
          "with per-CPU verdict counters, 'nostat' without; synthetic = "
          f"{args.synthetic_flows} flows, {args.synthetic_frames} frames, Zipf 1.1, seed 1. "
          "Measured on a shared 2-core VM loaded by other jobs.)")
    if live:
        print()
        print(f"{'nf':12} {'Mpps nf':>8} {'Mpps ref':>8} {'Mpps trivial':>12} "
              f"{'nf/trivial':>10} {'ref/trivial':>11} {'nf/ref':>6} {'+ns nf (ref)':>12}  "
              f"verdicts of the nf (all rounds)")
        for r in live:
            mix = " ".join(f"{k}:{v}" for k, v in sorted(r["verdicts_nf"].items()))
            print(f"{r['nf']:12} {r['rate_mpps_nf']:8.2f} {_opt(r, 'rate_mpps_ref'):>8} "
                  f"{r['rate_mpps_trivial']:12.2f} {r['ratio']:10.3f} "
                  f"{_opt(r, 'ratio_ref'):>11} {_opt(r, 'ratio_nf_ref'):>6} "
                  f"{_extra_ns(r):>12}  {mix}")
        print(f"(live-frames generator in one namespace, program natively on the peer veth in "
              f"another; {args.live_frames} frames per run, cycling through up to "
              f"4096 frames sampled evenly from the synthetic trace; trivial = count + "
              f"XDP_PASS; medians of {args.rounds} alternating rounds; shared loaded "
              "2-core VM)")


def _opt(row: dict, key: str) -> str:
    """``row[key]`` with two decimals, or "-" where the run has no such figure."""
    return f"{row[key]:.2f}" if key in row else "-"


def _extra_ns(row: dict) -> str:
    """The program's added ns/frame over the trivial one, live (the reference's in brackets);
    computed from the rates for runs saved before the figure was recorded."""
    nf = row.get("live_extra_ns_nf", 1e3 / row["rate_mpps_nf"] - 1e3 / row["rate_mpps_trivial"])
    ref = row.get("live_extra_ns_ref")
    return f"{nf:.0f}" + (f" ({ref:.0f})" if ref is not None else "")


def markdown_tables(rows: list[dict], live: list[dict]) -> str:
    """The README's two performance tables (Markdown) of a run: ns/packet per NF and trace
    with the ratios, then the live veth rates (when measured)."""
    out = ["| NF | trace | nf | no stats | hand-written | nf / ref | no stats / ref |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        if "ratio" in r:
            out.append(f"| {r['nf']} | {r['trace'].replace('.pcap', '')} | "
                       f"{r['ns_per_packet_nf']:.1f} | {r['ns_per_packet_nf_no_stats']:.1f} | "
                       f"{r['ns_per_packet_ref']:.1f} | {r['ratio']:.2f} | "
                       f"{r['ratio_no_stats']:.2f} |")
    if live:
        out += ["", "| NF | Mpps nf | Mpps hand-written | Mpps trivial | nf / trivial | "
                "hand-written / trivial | nf / hand-written | added ns/frame nf (hand-written) |",
                "|---|---|---|---|---|---|---|---|"]
        out += [f"| {r['nf']} | {r['rate_mpps_nf']:.2f} | {_opt(r, 'rate_mpps_ref')} | "
                f"{r['rate_mpps_trivial']:.2f} | {r['ratio']:.2f} | {_opt(r, 'ratio_ref')} | "
                f"{_opt(r, 'ratio_nf_ref')} | {_extra_ns(r)} |" for r in live]
    return "\n".join(out)
