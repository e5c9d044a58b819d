"""The hand-written flowcount reference (bench/ref_flowcount.c): load, run, time.

Used two ways:
  * as a script: ``.venv/bin/python bench/ref_flowcount.py [PCAP ...] [--json]`` runs each
    capture's frames once through the reference with BPF_PROG_TEST_RUN (state kept across
    frames), then measures ns/packet (``cora.runtime.testrun.measure_ns_per_packet``) for
    the atomic-counter reference and its single-writer variant, and prints the figures;
  * as a module (``bench/`` is not a package: load it by path, e.g. with
    ``importlib.util.spec_from_file_location``): :func:`load_reference` and
    :func:`reference_flows` let the team cross-check the compiled flowcount.nf.

The flow table is read back as ``{(saddr, daddr, sport, dport, proto): (packets, bytes)}``
with plain ints: IPv4 addresses as the unsigned big-endian value (10.0.0.1 -> 167772161),
ports as numbers, the same form as ``cora run --state-out``.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

C_SOURCE = Path(__file__).with_name("ref_flowcount.c")
FLOWS_CAPACITY = 65536
KEY_FMT = "!IIHHB3x"   # saddr, daddr, sport, dport (wire order), proto, padding: 16 bytes
VALUE_FMT = "=QQ"      # packets, bytes (host order u64)
DEFAULT_TRACES = [  # the captures with the most counted (IPv4 TCP/UDP) frames
    "/work/shared/traces/tcpdump/of10_s4810.pcap",
    "/work/shared/traces/tcpdump/babel_update_oobr.pcap",
    "/work/shared/traces/tcpdump/bgp-4byte-asn.pcap",
]
#: An XDP program that only returns XDP_PASS: the test-run harness's own cost per frame.
EMPTY_XDP = "int cora_empty(struct xdp_md *ctx) { return XDP_PASS; }"

FlowTable = dict[tuple[int, int, int, int, int], tuple[int, int]]


@dataclass
class Reference:
    """A loaded reference program. Close it (or use ``with``) to unload.

    Attributes:
        bpf: the bcc ``BPF`` object; prog_fd: the XDP program fd; flows_fd: the fd of map
        ``flows``.
    """

    bpf: object
    prog_fd: int
    flows_fd: int

    def flows(self) -> FlowTable:
        """The current flow table, decoded (see module docstring)."""
        from cora.runtime.bpf_syscall import map_items
        key_size, value_size = struct.calcsize(KEY_FMT), struct.calcsize(VALUE_FMT)
        return {struct.unpack(KEY_FMT, k)[:5]: struct.unpack(VALUE_FMT, v)
                for k, v in map_items(self.flows_fd, key_size, value_size)}

    def close(self) -> None:
        """Unload the program and free its map."""
        self.bpf.cleanup()

    def __enter__(self) -> "Reference":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def load_reference(plain_add: bool = False) -> Reference:
    """Compile and load bench/ref_flowcount.c with bcc (~1-2 s).

    Args:
        plain_add: build the single-writer variant (``-DREF_PLAIN_ADD``: plain ``+=``
            instead of atomic adds); same results on one CPU, for timing comparison.

    Raises:
        cora.errors.EnvironmentProblem: bcc missing.
        Exception from bcc: the program does not compile or load (a bug in this file).
    """
    try:
        from bcc import BPF
    except ImportError:
        from cora.errors import EnvironmentProblem
        raise EnvironmentProblem("bcc is missing: run scripts/setup.sh") from None
    cflags = ["-DREF_PLAIN_ADD"] if plain_add else []
    bpf = BPF(src_file=str(C_SOURCE).encode(), cflags=cflags)
    try:
        fn = bpf.load_func(b"ref_flowcount", BPF.XDP)
        return Reference(bpf=bpf, prog_fd=fn.fd, flows_fd=bpf[b"flows"].map_fd)
    except BaseException:
        bpf.cleanup()
        raise


def run_through(ref: Reference, frames: list[bytes]) -> int:
    """Run each frame the kernel can test-run (14 to 73,152 bytes, see
    ``cora.runtime.testrun``) once, in order; returns how many ran.

    Raises:
        cora.errors.KernelError: a frame the kernel refused; or a verdict other than pass
            (the reference passes every frame, anything else is a bug).
    """
    from cora.errors import KernelError
    from cora.runtime.testrun import MAX_XDP_TEST_FRAME_BYTES, MIN_XDP_FRAME_BYTES, run_frames
    usable = [f for f in frames if MIN_XDP_FRAME_BYTES <= len(f) <= MAX_XDP_TEST_FRAME_BYTES]
    for result in run_frames(ref.prog_fd, usable):
        if result.retval != 2:
            raise KernelError(f"reference returned verdict {result.retval}, expected pass (2)")
    return len(usable)


def reference_flows(frames: list[bytes]) -> FlowTable:
    """The flow table the reference builds from ``frames`` run in order on a fresh map.

    Frames shorter than 14 bytes (they would pass uncounted anyway) or longer than 73,152
    bytes (the kernel's test-run limit) cannot run and are left out.

    Returns:
        ``{(saddr, daddr, sport, dport, proto): (packets, bytes)}``, all ints.
    """
    with load_reference() as ref:
        run_through(ref, frames)
        return ref.flows()


def bench_trace(path: str, repeat: int, max_samples: int) -> dict:
    """Figures for one capture: frames, flows, ns/packet of both variants and of an empty
    XDP program (the harness floor), measured in one run."""
    from bcc import BPF

    from cora.runtime.testrun import measure_ns_per_packet
    from cora.testbed.replay import read_frames
    frames = read_frames(path)
    out: dict = {"trace": Path(path).name, "frames": len(frames)}
    empty = BPF(text=EMPTY_XDP)
    try:
        out["ns_per_packet_empty_prog"] = measure_ns_per_packet(
            empty.load_func(b"cora_empty", BPF.XDP).fd, frames, repeat=repeat,
            max_samples=max_samples)
    finally:
        empty.cleanup()
    for label, plain in (("atomic", False), ("plain_add", True)):
        with load_reference(plain_add=plain) as ref:
            out["frames_run"] = run_through(ref, frames)
            flows = ref.flows()
            out["flows"] = len(flows)
            out["packets_counted"] = sum(p for p, _ in flows.values())
            out[f"ns_per_packet_{label}"] = measure_ns_per_packet(
                ref.prog_fd, frames, repeat=repeat, max_samples=max_samples)
    return out


def compare_nf(nf_path: str, path: str, repeat: int, max_samples: int, rounds: int = 3
               ) -> dict:
    """Compiled NF (``cora`` xdp target) vs the reference on one capture, in one run.

    Both are loaded side by side, fed the capture's frames once (same state), then timed
    alternately ``rounds`` times (so machine load hits both alike); the figures are the
    medians. Also checks that both built the same flow table.

    Returns:
        dict with ns_per_packet_nf, ns_per_packet_ref, ratio (nf / ref), same_flows (bool
        or None when the NF's map could not be decoded).
    """
    import statistics

    from cora.compiler.driver import compile_file
    from cora.runtime.loader import load_xdp
    from cora.runtime.testrun import measure_ns_per_packet
    from cora.targets import get_target
    from cora.testbed.replay import read_frames
    frames = read_frames(path)
    artifact = get_target("xdp").generate(compile_file(nf_path))
    nf_ns, ref_ns = [], []
    with load_xdp(artifact) as nf, load_reference() as ref:
        run_through(ref, frames)
        run_through(Reference(bpf=None, prog_fd=nf.prog_fd, flows_fd=-1), frames)
        same = None
        if "flows" in nf.map_fds:  # decode with the xdp target's own layout
            from cora.runtime.bpf_syscall import map_info, map_items
            from cora.targets.ebpf.maps import unpack_key, unpack_value
            state = artifact.program.state("flows")
            info = map_info(nf.map_fds["flows"])
            nf_flows = {tuple(unpack_key(state, k)): tuple(unpack_value(state, v))
                        for k, v in map_items(nf.map_fds["flows"], info.key_size,
                                              info.value_size)}
            same = nf_flows == ref.flows()
        for _ in range(rounds):
            nf_ns.append(measure_ns_per_packet(nf.prog_fd, frames, repeat, max_samples))
            ref_ns.append(measure_ns_per_packet(ref.prog_fd, frames, repeat, max_samples))
    a, b = statistics.median(nf_ns), statistics.median(ref_ns)
    return {"trace": Path(path).name, "ns_per_packet_nf": a, "ns_per_packet_ref": b,
            "ratio": a / b, "same_flows": same}


def main(argv: list[str] | None = None) -> int:
    """Print ns/packet of the reference on each capture (table, or JSON with --json);
    with ``--nf X.nf`` the compiled NF side by side with the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pcaps", nargs="*", default=DEFAULT_TRACES)
    parser.add_argument("--repeat", type=int, default=10000)
    parser.add_argument("--max-samples", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--nf", help="also compile and time this NF (e.g. "
                        "netfuncs/flowcount.nf) side by side; prints nf/ref ratios")
    args = parser.parse_args(argv)
    from cora.errors import CoraError
    try:
        if args.nf:
            return _print_compare(args)
        rows = [bench_trace(p, args.repeat, args.max_samples) for p in args.pcaps]
    except CoraError as exc:
        print(f"ref_flowcount: error: {exc.message}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"{'trace':28} {'frames':>7} {'counted':>8} {'flows':>6} "
          f"{'ns/pkt atomic':>14} {'ns/pkt plain':>13} {'ns/pkt empty prog':>18}")
    for r in rows:
        print(f"{r['trace']:28} {r['frames']:7d} {r['packets_counted']:8d} {r['flows']:6d} "
              f"{r['ns_per_packet_atomic']:14.1f} {r['ns_per_packet_plain_add']:13.1f} "
              f"{r['ns_per_packet_empty_prog']:18.1f}")
    print(f"(BPF_PROG_TEST_RUN, repeat {args.repeat}, up to {args.max_samples} frames sampled "
          "evenly per trace; measured on this machine)")
    return 0


def _print_compare(args) -> int:
    rows = [compare_nf(args.nf, p, args.repeat, args.max_samples) for p in args.pcaps]
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"{'trace':28} {'ns/pkt nf':>10} {'ns/pkt ref':>11} {'nf/ref':>7} {'same flows':>11}")
    for r in rows:
        print(f"{r['trace']:28} {r['ns_per_packet_nf']:10.1f} {r['ns_per_packet_ref']:11.1f} "
              f"{r['ratio']:7.3f} {str(r['same_flows']):>11}")
    print(f"({args.nf} compiled for xdp vs bench/ref_flowcount.c; BPF_PROG_TEST_RUN, repeat "
          f"{args.repeat}, medians of 3 alternating rounds; measured on this machine)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
