"""The runtime experiment (issue 11, item 7): a traffic mix that shifts twice under
``cora runtime start``.

:func:`run_experiment` builds the emulated NIC + host testbed (gen -> nic -> host namespaces,
:func:`cora.testbed.offload_experiment.three_node`), chooses the *best static plan* in
advance (CP-SAT, :func:`cora.compiler.offload.partition.solve_problem`, on the profile of the
whole frame sequence at the model rate, in the daemon's plan space: no traffic split; what an
operator with perfect foresight would deploy once), starts the runtime daemon as its own
process (``cora runtime start NF --plan STATIC --nic-dev ... --model-rate R``: it deploys the
NF split by that plan with live-profile counters), and sends with the live-frames generator,
at one fixed rate, three phases
(:func:`phase_frames`): ``heavy`` (4 established TCP flows), ``new-flows`` (a new TCP flow
from a new source every frame: the phase sends at most one cycle of its distinct frames)
and ``syn-flood`` (SYNs from a new source every frame to one destination). Nothing tells
the daemon about the phases: it detects each shift from its live profile, re-plans with
CP-SAT and hot-swaps (and migrates state) on its own.

The time series comes from the daemon's control socket: every window's ``status`` (the
window's measured rate, its decision, the plan in force and the window's live profile); the
modelled host cores and NIC utilisation of the current plan and of the static plan are
evaluated on that profile with the daemon's stage models at the model rate. At the end, the
accounting: frames generated == frames the first stage's verdict counters saw (every program
version), and every map's entries against the reference interpreter run over the same frame
sequence (:func:`compare_state`).

Every cost figure (host cores, NIC utilisation) is MODELLED by the stage models at the model
rate (``--model-rate``: the measured rate of a few hundred frames/s is scaled up to the
rate the NIC model is asked about); rates, frame counts and state are measured.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PHASES = ("heavy", "new-flows", "syn-flood")

#: per NF: (source of the heavy and new flows as (base address, random low bits);
#: destination of the heavy flows, the new flows (None: random in 10.211.0.0/16) and the
#: SYN flood; destination port). synguard and flowcount: any addresses; lb: the VIP's TCP
#: service; firewall: flows opened from inside (10.11.1.0/24) and a SYN flood from outside
#: to a closed inside port (dropped)
_MIX: dict[str, tuple[tuple[int, int], int, int | None, int]] = {
    "lb": ((0x0A000000, 24), 0x0A0B0064, 0x0A0B0064, 80),       # 10.11.0.100:80
    "firewall": ((0x0A0B0100, 8), 0x0AD30001, None, 8080),      # 10.11.1.0/24 inside
}
_DEFAULT_MIX = ((0x0A000000, 24), 0x0AD30001, None, 80)         # 10.0.0.0/8 -> 10.211.0.1
#: the SYN flood's sources: 11.0.0.0/8 (outside every NF's inside network)
_FLOOD_SRC = 0x0B000000
#: the firewall's SYN flood goes to this inside address (port 8080: not a service)
_FIREWALL_FLOOD_DST = 0x0A0B010A


def phase_frames(nf: str, phase: str, n_frames: int, seed: int = 31) -> list[bytes]:
    """The frame cycle of ``phase`` for NF ``nf`` (seeded: the same frames every run).

    Args:
        nf: the NF's name (addresses suit it: see ``_MIX``).
        phase: one of :data:`PHASES`.
        n_frames: distinct frames of ``new-flows`` and ``syn-flood`` (at most the
            generator's :data:`cora.testbed.trafficgen.MAX_TEMPLATES`); ``heavy`` has 4.
    Returns:
        64-byte Ethernet/IPv4/TCP frames: ``heavy``: ACK segments of 4 flows;
        ``new-flows``: ACK segments each of a new flow (a new source address, unless the
        NF's sources are a /24); ``syn-flood``: SYNs each from a new source in 11.0.0.0/8
        to one destination.
    Raises:
        ValueError: unknown phase, or more frames than distinct flows of the mix.
    """
    from cora.compiler.offload.profile import ipv4_frame

    (src_base, src_bits), dst, new_dst, dport = _MIX.get(nf, _DEFAULT_MIX)
    if phase not in PHASES:
        raise ValueError(f"unknown phase {phase}")
    if phase == "heavy":
        return [ipv4_frame(src_base + 1 + i, dst, 6, 40000 + i, dport, 64) for i in range(4)]
    if n_frames > 1 << 16:
        raise ValueError("at most 65,536 frames per phase")
    rng = random.Random(f"{seed}-{phase}")
    out: list[bytes] = []
    seen: set[int] = set()
    while len(out) < n_frames:
        sport = rng.randrange(1024, 65536)
        if phase == "new-flows":
            src = src_base | rng.getrandbits(src_bits)
            key = src if src_bits >= 16 else src << 16 | sport
            if key in seen:
                continue
            seen.add(key)
            to = new_dst if new_dst is not None else 0x0AD30000 | rng.getrandbits(16)
            out.append(ipv4_frame(src, to, 6, sport, dport, 64))
        else:
            src = _FLOOD_SRC | rng.getrandbits(24)
            if src in seen:
                continue
            seen.add(src)
            to = _FIREWALL_FLOOD_DST if nf == "firewall" else dst
            out.append(ipv4_frame(src, to, 6, sport, dport, 64, 0x02))
    return out


@dataclass
class Sample:
    """One window of the experiment, as the daemon reported it (see the module docstring).

    ``rate_pps`` measured (None for the window right after a plan change: the daemon reads
    the new program versions' counters from then on, so that window has no baseline and
    counts nothing; the verdict counters count its frames); ``cores_*`` (host cores) and
    ``nic_util_*`` (NIC utilisation, > 1 overloaded) MODELLED at the model rate on the
    window's live profile, for the plan in force after the window's decision (``current``)
    and for the static plan."""

    t_s: float
    window: int
    phase: str
    rate_pps: float | None
    action: str
    reason: str
    cores_current: float | None
    nic_util_current: float | None
    cores_static: float | None
    nic_util_static: float | None
    plan_changes: int
    nic_blocks: int


@dataclass
class StateCheck:
    """Live maps against the reference interpreter's (:func:`compare_state`)."""

    entries: int = 0
    missing: int = 0
    extra: int = 0
    values_compared: int = 0
    values_differ: int = 0
    values_clock_dependent: int = 0
    #: the first few differences: ``[map, key, live value, reference value]``
    examples: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.values_differ)


@dataclass
class ExperimentResult:
    """The time series, the plan changes and the accounting."""

    nf: str
    nic_model: str
    model_rate_mpps: float
    rate_pps: float
    phase_s: float
    interval_s: float
    static_plan_nic_blocks: int = 0
    blocks: int = 0
    samples: list[Sample] = field(default_factory=list)
    changes: list[dict] = field(default_factory=list)
    frames_per_phase: dict[str, int] = field(default_factory=dict)
    frames_sent: int = 0
    frames_seen: int = 0
    state: StateCheck = field(default_factory=StateCheck)
    #: the daemon's log lines about swaps, migrations, handovers and plan changes
    events: list[str] = field(default_factory=list)
    started: str = ""
    loadavg: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def plan_changes(self) -> int:
        return len(self.changes)

    def to_json(self) -> dict:
        d = asdict(self)
        d["plan_changes"] = self.plan_changes
        d["state"]["ok"] = self.state.ok
        return d


def _models(nic: str) -> tuple[Any, Any, Any]:
    """The daemon's stage models (:meth:`cora.runtime.daemon.RuntimeDaemon._models`)."""
    from cora.compiler.offload.stage_model import available_models, load_model

    user = load_model("user") if "user" in available_models() else None
    return load_model(nic), load_model("xdp"), user


def _figures(program, models: tuple[Any, Any, Any], plan, profile, rate_mpps: float
             ) -> tuple[float, float]:
    """(host cores, NIC utilisation) of ``plan`` on ``profile`` at ``rate_mpps``
    (MODELLED)."""
    from cora.compiler.offload.partition import Problem, result_figures

    fig = result_figures(Problem(program, *models, profile), plan, rate_mpps, None)
    return float(fig["host_cores"]), float(fig["nic_utilization"])


def timed_state(program, frames: list[bytes], start_ns: int, gap_ns: int) -> dict:
    """State (``--state-out`` form) of the reference interpreter after ``frames`` in order,
    frame ``i`` with ``now()`` = ``start_ns + i * gap_ns``."""
    from cora.runtime.engine import InterpEngine

    engine = InterpEngine(program)
    for i, frame in enumerate(frames):
        engine.run(frame, now_ns=start_ns + i * gap_ns)
    return engine.dump_state()


def compare_state(live: dict, ref: dict, alt: dict | None = None) -> StateCheck:
    """Every map of ``ref`` (``{name: [{"key", "value"}]}``) against ``live``: reference
    entries missing from ``live``, live entries not in ``ref`` (extra), and values that
    differ. ``alt``: the reference state of the same frames under another clock (start and
    spacing): a value that differs between ``ref`` and ``alt`` depends on when the frames
    arrived, which the live run did not record, so it is counted as clock-dependent and
    not compared (its key is)."""
    out = StateCheck()
    for name, entries in ref.items():
        have = {json.dumps(e["key"]): e["value"] for e in live.get(name) or []}
        other = None if alt is None else \
            {json.dumps(e["key"]): e["value"] for e in alt.get(name) or []}
        keys = set()
        for e in entries:
            k = json.dumps(e["key"])
            keys.add(k)
            out.entries += 1
            if k not in have:
                out.missing += 1
                if len(out.examples) < 5:
                    out.examples.append([name, e["key"], None, e["value"]])
            elif other is not None and other.get(k) != e["value"]:
                out.values_clock_dependent += 1
            else:
                out.values_compared += 1
                if have[k] != e["value"]:
                    out.values_differ += 1
                    if len(out.examples) < 5:
                        out.examples.append([name, e["key"], have[k], e["value"]])
        out.extra += len(set(have) - keys)
    return out


def _live_state(program, plan: dict, host: tuple[str, str], nic: tuple[str, str]) -> dict:
    """Every state's live entries, from the stage the final plan puts it on (a counter both
    stages add to: the host stage's read, which sums the copies)."""
    from cora.runtime.deploy import read_stats

    h, n = read_stats(*host), read_stats(*nic)
    out = {}
    for st in program.states:
        stage = (plan.get("states", {}).get(st.name) or {}).get("stage", "kernel")
        if st.name in h.get("summed_copies", {}) or stage != "nic":
            out[st.name] = h["maps"].get(st.name, [])
        else:
            out[st.name] = n["maps"].get(st.name, [])
    return out


def _nic_blocks(plan: dict) -> int:
    return sum(1 for s in plan.get("blocks", {}).values() if s == "nic")


def _cleanup(host_ns: str, nic_ns: str, runtime_files: list[Path]) -> None:
    """Undeploy both stages and remove every pin, metadata, journal and daemon file."""
    from cora.runtime import pins
    from cora.runtime.deploy import undeploy

    for dev, ns in (("veth1", host_ns), ("veth0", nic_ns)):
        with contextlib.suppress(Exception):
            undeploy(dev, ns)
        with contextlib.suppress(Exception):
            pins.unpin_all(pins.deployment_dir(dev, ns))
        for remove in (pins.remove_metadata, pins.remove_journal):
            with contextlib.suppress(Exception):
                remove(dev, ns)
    for path in runtime_files:
        with contextlib.suppress(OSError):
            path.unlink()
    with contextlib.suppress(OSError):
        runtime_files[0].parent.rmdir()


def run_experiment(nf_path: str, rate_pps: float = 400, phase_s: float = 10.0,
                   interval_s: float = 0.5, nic: str = "bluefield2",
                   model_rate_mpps: float = 20.0, consecutive: int = 2,
                   log=None) -> ExperimentResult:
    """Run the three phases under ``cora runtime start``; returns the time series and the
    accounting.

    Args:
        nf_path: the NF; rate_pps: the generator's fixed rate (frames/s, measured);
        phase_s: seconds per phase (``new-flows`` and ``syn-flood`` send
            ``rate_pps * phase_s`` distinct frames: at most 4,096, the generator's
            templates); interval_s: the daemon's window; nic: NIC stage model;
        model_rate_mpps: the rate the cost model is evaluated at (the daemon's
            ``--model-rate``); consecutive: the daemon's K; log: a callable given progress
            lines (None: quiet).
    Raises:
        ValueError: a phase needs more distinct frames than the generator holds.
        EnvironmentProblem / KernelError: testbed, deploy; RuntimeError: the daemon exited
        or never answered (its log's tail in the message).
    """
    from cora.compiler.driver import compile_file
    from cora.compiler.offload.partition import Plan, Problem, solve_problem
    from cora.compiler.offload.profile import Profile, profile_from_frames
    from cora.errors import EnvironmentProblem
    from cora.runtime.daemon import control_request, runtime_paths
    from cora.testbed.live_traffic import BackgroundTraffic, wait_for_verdicts
    from cora.testbed.offload_experiment import three_node
    from cora.testbed.topology import Topology
    from cora.testbed.trafficgen import MAX_TEMPLATES

    say = log or (lambda _line: None)
    t_start = time.monotonic()
    n_distinct = int(rate_pps * phase_s)
    if n_distinct > MAX_TEMPLATES:
        raise ValueError(f"rate x phase = {n_distinct} distinct frames > {MAX_TEMPLATES} "
                         "(the generator's templates): lower the rate or the phase")
    program = compile_file(nf_path)
    nf = Path(nf_path).stem
    models = _models(nic)
    frames = {p: phase_frames(nf, p, n_distinct) for p in PHASES}
    gap_ns = int(1e9 / rate_pps)
    nominal = [frames[p][i % len(frames[p])] for p in PHASES for i in range(n_distinct)]
    # the daemon's plan space: block cuts and state placement, no traffic split (its live
    # profile has no flow buckets, and its swaps do not program a flow classifier)
    static_res = solve_problem(Problem(program, *models, profile_from_frames(
        program, [(i * gap_ns, f) for i, f in enumerate(nominal)])),
        model_rate_mpps, None, time_limit_s=5.0, traffic=False)
    if static_res.plan is None:
        raise ValueError(f"no static plan at {model_rate_mpps} Mpps: "
                         f"{static_res.infeasible_reason}")
    static = static_res.plan
    res = ExperimentResult(nf, nic, model_rate_mpps, rate_pps, phase_s, interval_s,
                           _nic_blocks(static.to_json()), len(program.blocks),
                           started=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                           loadavg=open("/proc/loadavg").read().split()[:3])
    say(f"static plan: {res.static_plan_nic_blocks} of {res.blocks} blocks on the NIC, "
        f"{static_res.host_cores:.3f} host cores at {model_rate_mpps} Mpps on the whole "
        "sequence (modelled)")
    with tempfile.TemporaryDirectory(prefix="cora-rtexp-") as tmp, Topology() as topo:
        three_node(topo)
        gen_ns, nic_ns, host_ns = topo.ns("gen"), topo.ns("nic"), topo.ns("host")
        plan_file = Path(tmp) / "static.json"
        plan_file.write_text(json.dumps({"plan": static.to_json()}))
        log_path = Path(tmp) / "daemon.log"
        paths = runtime_paths("veth1", host_ns)
        runtime_files = [paths.lock, paths.sock, paths.state, paths.history, paths.prom,
                         paths.log]
        proc = None
        try:
            stack = contextlib.ExitStack()
            # every generator loaded (compiled) before the daemon starts: the phases then
            # follow each other without a gap, and no compile competes with the daemon's
            gens = {p: stack.enter_context(contextlib.closing(
                BackgroundTraffic("veth0", gen_ns, frames[p], rate_pps=rate_pps,
                                  chunk=max(1, int(rate_pps * 0.1)))))
                    for p in PHASES}
            with stack, open(log_path, "w") as log_f:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "cora.cli", "runtime", "start", nf_path,
                     "--dev", "veth1", "--netns", host_ns, "--nic-dev", "veth0",
                     "--nic-netns", nic_ns, "--nic", nic, "--plan", str(plan_file),
                     "--interval", str(interval_s), "--consecutive", str(consecutive),
                     "--min-packets", "50", "--model-rate", str(model_rate_mpps)],
                    stdout=subprocess.DEVNULL, stderr=log_f, env={**os.environ})

                def tail() -> str:
                    return log_path.read_text(errors="replace")[-2000:]

                def status() -> dict | None:
                    assert proc is not None
                    if proc.poll() is not None:
                        raise RuntimeError(f"cora runtime start exited ({proc.returncode}): "
                                           f"{tail()}")
                    with contextlib.suppress(EnvironmentProblem):
                        reply = control_request("veth1", host_ns, "status", timeout_s=10)
                        if reply.get("ok") and reply.get("pid") == proc.pid:
                            return reply
                    return None

                deadline = time.monotonic() + 120
                while (st := status()) is None or st["windows"] < 2:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"the daemon did not answer in 120 s: {tail()}")
                    time.sleep(0.1)
                say(f"daemon {proc.pid} serving; deployed the static plan")
                last_window = st["windows"]
                t0 = time.monotonic()
                sequence: list[bytes] = []
                for name in PHASES:
                    traffic = gens[name].start()
                    end = time.monotonic() + phase_s
                    while time.monotonic() < end:
                        time.sleep(min(interval_s / 4, max(0.0, end - time.monotonic())))
                        st = status()
                        if st is None or st["windows"] == last_window:
                            continue
                        last_window = st["windows"]
                        prev = res.samples[-1] if res.samples else None
                        res.samples.append(_sample(st, name, time.monotonic() - t0, program,
                                                   models, static, model_rate_mpps,
                                                   Plan, Profile, prev))
                        s = res.samples[-1]
                        say(f"{s.t_s:6.1f} s {name:9} {s.rate_pps or 0:7.0f} frames/s "
                            f"{s.action:5} changes {s.plan_changes} NIC blocks "
                            f"{s.nic_blocks}")
                    sent = traffic.stop()
                    res.frames_per_phase[name] = sent
                    sequence += traffic.sequence(sent)
            res.frames_sent = len(sequence)
            history = control_request("veth1", host_ns, "history", timeout_s=30)["history"]
            final = control_request("veth1", host_ns, "status", timeout_s=30)["plan"]
            res.changes = [{k: d.get(k) for k in (
                "window", "reason", "cores_now", "cores_after", "nic_util_now",
                "nic_util_after", "latency_ms", "handover_ms", "prepare_s", "drain_ms")}
                | {"nic_blocks": _nic_blocks(d["plan"]),
                   "phase": _phase_of(res.samples, d["window"])}
                for d in history if d.get("action") == "adopt"]
            control_request("veth1", host_ns, "stop", timeout_s=30)
            proc.wait(timeout=60)
            res.events = [line for line in log_path.read_text(errors="replace").splitlines()
                          if any(f"event={e} " in line for e in (
                              "swap", "migrate", "handover", "plan-change", "swap-failed",
                              "prepare-failed", "prepare-stale", "error"))]
            res.frames_seen = wait_for_verdicts("veth0", nic_ns, res.frames_sent)
            live = _live_state(program, final, ("veth1", host_ns), ("veth0", nic_ns))
            ref = timed_state(program, sequence, 10**9, gap_ns)
            uses_clock = any(op.opcode == "now" for _, op in program.ops())
            alt = timed_state(program, sequence, 7 * 10**9 + 12345, gap_ns * 3 // 2) \
                if uses_clock else None
            res.state = compare_state(live, ref["maps"], alt["maps"] if alt else None)
        finally:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
            _cleanup(host_ns, nic_ns, runtime_files)
    res.seconds = time.monotonic() - t_start
    return res


def _phase_of(samples: list[Sample], window: int) -> str:
    return next((s.phase for s in samples if s.window >= window), "")


def _sample(st: dict, phase: str, t_s: float, program, models, static, rate_mpps: float,
            plan_cls, profile_cls, prev: Sample | None) -> Sample:
    """A :class:`Sample` from one ``status`` reply (figures on its window's profile;
    ``prev``: the sample before, to tell the window right after a plan change)."""
    d = st.get("last_decision") or {}
    rate: float | None = st["rate_mpps"] * 1e6
    if not d.get("packets") and prev is not None and \
            (prev.action == "adopt" or prev.plan_changes != st["plan_changes"]):
        rate = None  # the window after a swap: no counter baseline (see Sample)
    prof = st.get("last_profile")
    cur: tuple[float | None, float | None] = (None, None)
    stat: tuple[float | None, float | None] = (None, None)
    if prof and prof.get("packets"):
        p = profile_cls.from_json(prof)
        cur = _figures(program, models, plan_cls.from_json(st["plan"]), p, rate_mpps)
        stat = _figures(program, models, static, p, rate_mpps)
    return Sample(round(t_s, 3), st["windows"], phase, rate,
                  d.get("action", ""), d.get("reason", ""), cur[0], cur[1], stat[0], stat[1],
                  st["plan_changes"], _nic_blocks(st["plan"]))


def table(res: ExperimentResult) -> str:
    """The time series and the accounting as text (figures labelled measured/modelled)."""
    def num(x, f):
        return "-" if x is None else format(x, f)
    rows = [f"cora runtime experiment: {res.nf}, {res.started}, load average "
            f"{' '.join(res.loadavg)} at start; {res.rate_pps:.0f} frames/s (measured "
            f"below), phases of {res.phase_s:g} s, windows {res.interval_s:g} s; host cores "
            f"and NIC utilisation MODELLED ({res.nic_model}) at {res.model_rate_mpps:g} Mpps",
            f"best static plan (chosen in advance on the whole sequence): "
            f"{res.static_plan_nic_blocks} of {res.blocks} blocks on the NIC",
            f"{'t s':>6} {'win':>4} {'phase':9} {'rate pps':>8} {'action':6} "
            f"{'cores now':>9} {'NIC now':>7} {'cores static':>12} {'NIC static':>10} "
            f"{'changes':>7} {'NIC blocks':>10}"]
    for s in res.samples:
        rows.append(f"{s.t_s:6.1f} {s.window:4d} {s.phase:9} {num(s.rate_pps, '.0f'):>8} "
                    f"{s.action:6} "
                    f"{num(s.cores_current, '.3f'):>9} {num(s.nic_util_current, '.2f'):>7} "
                    f"{num(s.cores_static, '.3f'):>12} {num(s.nic_util_static, '.2f'):>10} "
                    f"{s.plan_changes:7d} {s.nic_blocks:10d}")
    rows.append("(-: not measured; the window right after a plan change reads no live "
                "counters: the daemon starts the new versions' counters then)")
    rows.append("plan changes (the daemon's own decisions):")
    for c in res.changes:
        rows.append(f"  window {c['window']} ({c['phase']}): -> {c['nic_blocks']} NIC blocks; "
                    f"{c['reason']}; latency {num(c['latency_ms'], '.0f')} ms, handover "
                    f"{num(c['handover_ms'], '.0f')} ms (measured)")
    st = res.state
    rows.append(f"frames generated {res.frames_sent} {res.frames_per_phase}, seen by the NF "
                f"(every version's verdict counters) {res.frames_seen}, lost "
                f"{res.frames_sent - res.frames_seen}")
    rows.append(f"state vs interpreter: {st.entries} entries, {st.missing} missing, "
                f"{st.extra} extra; values {st.values_compared} compared, {st.values_differ} "
                f"differ, {st.values_clock_dependent} clock-dependent (keys only)" +
                (f"; e.g. [map, key, live, interpreter] {st.examples}" if st.examples else ""))
    return "\n".join(rows)


def plot(res: ExperimentResult, path: str) -> None:
    """PNG: measured rate; modelled host cores and NIC utilisation of the current plan vs
    the best static plan; plan changes (red lines); phases (grey lines)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def series(attr: str) -> list[float]:
        return [float("nan") if getattr(s, attr) is None else getattr(s, attr)
                for s in res.samples]

    t = [s.t_s for s in res.samples]
    fig, (ax1, ax2, ax3) = plt.subplots(3, 1, sharex=True, figsize=(8, 6.5))
    ax1.plot(t, series("rate_pps"), ".-", label="rate (measured; gap: the window after a "
                                                 "swap reads no counters)")
    ax1.set_ylabel("frames/s")
    ax1.set_ylim(bottom=0)
    ax2.plot(t, series("cores_current"), label="runtime's current plan")
    ax2.plot(t, series("cores_static"), "--", label="best static plan")
    ax2.set_ylabel(f"host cores\n(modelled, {res.model_rate_mpps:g} Mpps)")
    ax3.plot(t, series("nic_util_current"), label="runtime's current plan")
    ax3.plot(t, series("nic_util_static"), "--", label="best static plan")
    ax3.axhline(1.0, color="black", lw=0.5, ls=":")
    ax3.set_ylabel(f"NIC utilisation\n(modelled, {res.nic_model})")
    ax3.set_xlabel("time, s")
    prev_phase, prev_changes = None, 0
    for s in res.samples:
        for ax in (ax1, ax2, ax3):
            if s.phase != prev_phase:
                ax.axvline(s.t_s, color="grey", lw=0.5)
            if s.plan_changes != prev_changes:
                ax.axvline(s.t_s, color="red", lw=1)
        if s.phase != prev_phase:
            ax1.text(s.t_s, 0.05 * max(1.0, res.rate_pps), f" {s.phase}", fontsize=7)
        prev_phase, prev_changes = s.phase, s.plan_changes
    for ax in (ax1, ax2, ax3):
        ax.legend(fontsize=7, loc="upper right")
    fig.suptitle(f"cora runtime start: {res.nf} (red: the daemon's plan changes)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
