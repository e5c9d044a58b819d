"""The main job, ``cora demo`` (``make demo``).

1. Compile an NF (default ``netfuncs/firewall.nf``) for XDP.
2. Run every frame of real captures (default: the ``*.pcap`` of the ``CORA_TRACES``
   folder, else a synthetic mix made here) through the program in the kernel
   (BPF_PROG_TEST_RUN) and through the reference interpreter, and show they agree.
3. Build a two-namespace veth testbed (``gen`` -> ``dut``), deploy the NF on ``dut``'s veth
   (native XDP, pinned maps), drive live traffic from ``gen`` with the live-frames generator
   for a few seconds while printing live Mpps and counters read from the pinned maps, then
   undeploy and delete the namespaces, whatever happens (also on SIGTERM, SIGHUP and SIGINT:
   see :mod:`cora.signals`).

Every figure printed is measured on this machine; none is modelled.
"""

from __future__ import annotations

import glob
import math
import threading
import time
from pathlib import Path
from typing import Any

from cora.errors import CoraError
from cora.settings import traces_dir

REPO = Path(__file__).resolve().parent.parent
DEFAULT_NF = REPO / "netfuncs" / "firewall.nf"

#: the live sender sends in slices this long (s) and checks between them whether to stop
SEND_SLICE_S = 0.5
#: how long an interrupted demo waits for the sender to finish its slice (s)
STOP_DEADLINE_S = 30.0

INSIDE_NET = "10.11.1"   # firewall.nf's INSIDE = 10.11.1.0/24
OUTSIDE_NET = "10.11.0"


def demo_frames(n_flows: int = 256, seed: int = 7) -> tuple[list[bytes], dict]:
    """The demo's live traffic mix for firewall.nf (scapy), one frame per entry:

    - outbound UDP/TCP from inside hosts 10.11.1.x to outside hosts 10.11.0.x (pass; each
      opens a connection-table entry),
    - the replies of those flows from the outside hosts (pass by state),
    - new inbound UDP flows from outside to inside ports other than 22/80/443 (dropped,
      reason PORT).

    Returns:
        (frames, {"outbound": n, "replies": n, "blocked": n}).
    """
    import random

    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.l2 import Ether

    rng = random.Random(seed)

    def eth() -> Ether:
        return Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")

    out, rep, blk = [], [], []
    for i in range(n_flows):
        src = f"{INSIDE_NET}.{1 + i % 200}"
        dst = f"{OUTSIDE_NET}.{1 + rng.randrange(200)}"
        sport, dport = 10000 + i, rng.choice([53, 80, 443, 8080])
        l4 = UDP if i % 2 else TCP
        fwd = (l4(sport=sport, dport=dport) if l4 is UDP
               else TCP(sport=sport, dport=dport, flags="S"))
        back = (l4(sport=dport, dport=sport) if l4 is UDP
                else TCP(sport=dport, dport=sport, flags="SA"))
        out.append(bytes(eth() / IP(src=src, dst=dst) / fwd / (b"x" * 18)))
        rep.append(bytes(eth() / IP(src=dst, dst=src) / back / (b"x" * 18)))
        blk.append(bytes(eth() / IP(src=f"{OUTSIDE_NET}.{1 + rng.randrange(200)}",
                                           dst=src) /
                         UDP(sport=rng.randrange(1024, 65535), dport=rng.choice([23, 3389, 5060]))
                         / (b"x" * 18)))
    # outbound first (they open the connections), then replies and blocked interleaved
    frames = out + [f for pair in zip(rep, blk, strict=True) for f in pair]
    return frames, {"outbound": len(out), "replies": len(rep), "blocked": len(blk)}


def _say(text: str = "") -> None:
    print(text, flush=True)


def differential_on_traces(program, traces: list[str]) -> dict:
    """Run each capture through kernel and interpreter (state reset per capture)."""
    from cora.runtime.engine import InterpEngine, KernelEngine
    from cora.runtime.run import run_frames
    from cora.signals import uninterrupted
    from cora.testbed.replay import read_pcap

    totals: dict[str, Any] = {"captures": 0, "packets": 0, "skipped": 0, "mismatches": 0,
                              "verdicts": {}, "unreadable": 0}
    t0 = time.perf_counter()
    with uninterrupted(lambda: KernelEngine(program)) as kernel, InterpEngine(program) as interp:
        for path in traces:
            try:
                frames = read_pcap(path)
            except CoraError:
                totals["unreadable"] += 1
                continue
            rep = run_frames(program, frames, engine="both", engines=(kernel, interp))
            totals["captures"] += 1
            totals["packets"] += rep.packets
            totals["skipped"] += rep.skipped
            totals["mismatches"] += rep.mismatches
            for k, v in rep.verdicts.items():
                totals["verdicts"][k] = totals["verdicts"].get(k, 0) + v
            for d in rep.details[:3]:
                _say(f"    MISMATCH {Path(path).name} frame {d.index}: {d.what}: {d.detail}")
    totals["seconds"] = time.perf_counter() - t0
    return totals


def live_testbed(program, nf_path: Path, seconds: float) -> dict:
    """Deploy on a gen -> dut veth testbed, send live traffic, print live counters."""
    from cora.runtime.deploy import deploy, deployment_status, read_stats, undeploy
    from cora.signals import uninterrupted
    from cora.testbed.topology import two_node
    from cora.testbed.trafficgen import SendReport, TrafficGen

    frames, mix = demo_frames()
    results: dict = {}
    with two_node() as topo:
        gen_ns, dut_ns = topo.ns("gen"), topo.ns("dut")
        dev = "veth0"
        _say(f"  testbed: namespaces {gen_ns} and {dut_ns}, veth pair {dev}<->{dev}")
        try:
            deploy(program, dev, dut_ns, mode="native")
            _say(f"  deployed {program.name} on {dut_ns}:{dev} (native XDP, maps pinned)")
            with uninterrupted(lambda: TrafficGen(dev, gen_ns)) as gen:
                # first the outbound flows once, so the connection table holds them
                gen.send(frames[:mix["outbound"]], count=mix["outbound"])
                gen.load_frames(frames[mix["outbound"]:])
                box: dict = {}
                stop = threading.Event()

                def _send():
                    # short sends, so that the main thread can stop this one (an exception
                    # or a signal there) before the generator is unloaded under it
                    sent, took, calls = 0, 0.0, 0
                    end = time.monotonic() + seconds
                    try:
                        while not stop.is_set() and time.monotonic() < end:
                            rep = gen.send(seconds=min(SEND_SLICE_S, end - time.monotonic()))
                            sent, took, calls = sent + rep.frames_sent, took + rep.seconds, \
                                calls + rep.calls
                        box["report"] = SendReport(
                            frames_sent=sent, seconds=took, calls=calls,
                            rate_mpps=sent / took / 1e6 if took > 0 else 0.0)
                    except BaseException as exc:  # reported below
                        box["error"] = exc

                sender = threading.Thread(target=_send, daemon=True)
                prev = read_stats(dev, dut_ns)
                t_prev = t_start = time.monotonic()
                sender.start()
                try:
                    _say(f"  live traffic for {seconds:g} s ({len(frames) - mix['outbound']} "
                         "frames cycled: replies of open connections, blocked inbound flows):")
                    while sender.is_alive():
                        sender.join(timeout=1.0)
                        cur = read_stats(dev, dut_ns)
                        now = time.monotonic()
                        dt = now - t_prev
                        v0, v1 = prev["verdicts"], cur["verdicts"]
                        rate = sum(v1.values()) - sum(v0.values())
                        _say(f"    t={now - t_start:4.1f}s  {rate / dt / 1e6:6.3f} Mpps through "
                             f"the NF  (pass {(v1['pass'] - v0['pass']) / dt / 1e6:.3f}, "
                             f"drop {(v1['drop'] - v0['drop']) / dt / 1e6:.3f} Mpps)  "
                             f"connections {len(cur['maps'].get('conns', []))}")
                        prev, t_prev = cur, now
                finally:
                    stop.set()
                    sender.join(timeout=STOP_DEADLINE_S)
                if "error" in box:
                    raise box["error"]
                report = box["report"]
            final = read_stats(dev, dut_ns)
        finally:
            # also after a deploy that a signal cut short (complete or partial)
            if deployment_status(dev, dut_ns) != "none":
                undeploy(dev, dut_ns)
                _say(f"  undeployed from {dut_ns}:{dev}; namespaces removed on exit")
    results["sent"] = report.frames_sent + mix["outbound"]
    results["send_mpps"] = report.rate_mpps
    results["verdicts"] = final["verdicts"]
    results["maps"] = {k: v for k, v in final["maps"].items()}
    return results


def run_demo(nf: str | None = None, seconds: float = 3.0, traces: str | None = None,
             figures: dict | None = None) -> int:
    """The whole demo; returns the exit status (1 if the engines disagreed).

    ``figures``, if given, is filled with the printed figures (``cora demo --json``):
    ``nf``, ``differential`` (captures, packets, skipped, mismatches, verdicts, seconds) and
    ``live`` (sent, send_mpps, verdicts, map_entries), all measured.

    SIGTERM/SIGHUP (raising :class:`cora.signals.Terminated`) and SIGINT
    (``KeyboardInterrupt``) end it early with everything it made removed.

    Raises:
        CoraError: ``seconds`` not a finite number above 0; no captures in ``traces``; the
            NF does not compile; EnvironmentProblem / KernelError as deploying does.
    """
    from cora.signals import signals_raise

    if not (math.isfinite(seconds) and seconds > 0):
        raise CoraError(f"--seconds must be a finite number above 0 (how long live traffic "
                        f"runs), not {seconds:g}")
    with signals_raise():
        return _run_demo(nf, seconds, traces, figures)


def _run_demo(nf: str | None, seconds: float, traces: str | None,
              figures: dict | None) -> int:
    from cora.compiler import compile_file
    from cora.runtime.deploy import require_root

    if traces is not None and not (glob.glob(str(Path(traces) / "*.pcap"))
                                   or glob.glob(str(Path(traces) / "*.pcapng"))):
        raise CoraError(f"no .pcap or .pcapng captures in {traces}")
    require_root()
    nf_path = Path(nf) if nf else DEFAULT_NF
    _say(f"== 1. compile {nf_path}")
    program = compile_file(str(nf_path))
    n_ops = sum(len(b.ops) for b in program.blocks)
    _say(f"  {program.name}: {len(program.states)} maps "
         f"({', '.join(f'{s.name}: {s.kind}[{s.capacity}]' for s in program.states)}), "
         f"{n_ops} IR ops in {len(program.blocks)} blocks")

    trace_dir = Path(traces) if traces else traces_dir()
    paths = sorted(glob.glob(str(trace_dir / "*.pcap")) + glob.glob(str(trace_dir / "*.pcapng")))
    _say("== 2. kernel (BPF_PROG_TEST_RUN) vs reference interpreter on real captures")
    if paths:
        _say(f"  {len(paths)} captures from {trace_dir}")
        totals = differential_on_traces(program, paths)
    else:
        import tempfile

        import dpkt

        _say(f"  no captures under {trace_dir}: using the demo's synthetic traffic instead")
        frames, _ = demo_frames()
        tmp = tempfile.NamedTemporaryFile(suffix=".pcap", delete=False)
        w = dpkt.pcap.Writer(tmp)
        for i, f in enumerate(frames):
            w.writepkt(f, ts=i * 1e-6)
        tmp.close()
        try:
            totals = differential_on_traces(program, [tmp.name])
        finally:
            Path(tmp.name).unlink()
    v = totals["verdicts"]
    _say(f"  {totals['packets']} frames in {totals['captures']} captures "
         f"({totals['skipped']} skipped: under 14 bytes or over the test-run limit), "
         f"{totals['seconds']:.1f} s")
    _say("  verdicts: " + ", ".join(f"{k} {v.get(k, 0)}" for k in ("pass", "drop", "tx",
                                                                      "redirect", "aborted")))
    _say(f"  mismatches between kernel and interpreter: {totals['mismatches']}")

    _say("== 3. live: deploy on a veth testbed and drive traffic")
    live = live_testbed(program, nf_path, seconds)
    lv = live["verdicts"]
    _say(f"  sent {live['sent']} frames (generator {live['send_mpps']:.3f} Mpps, measured); "
         f"the NF saw {sum(lv.values())}: " + ", ".join(f"{k} {lv[k]}" for k in lv if lv[k]))
    for name, rows in live["maps"].items():
        shown = ", ".join(f"{r['key']}={r['value']}" for r in rows[:3])
        _say(f"  map {name}: {len(rows)} entries" + (f" ({shown}{', ...' if len(rows) > 3 else ''})"
                                                     if rows else ""))
    _say("== done: every figure above was measured on this machine (no SmartNIC model involved)")
    if figures is not None:
        figures.update({
            "nf": program.name, "source": "measured on this machine",
            "differential": {k: totals[k] for k in ("captures", "packets", "skipped",
                                                    "mismatches", "verdicts", "unreadable",
                                                    "seconds")},
            "live": {"seconds": seconds, "sent": live["sent"], "send_mpps": live["send_mpps"],
                     "verdicts": live["verdicts"],
                     "map_entries": {name: len(rows) for name, rows in live["maps"].items()}}})
    return 1 if totals["mismatches"] else 0
