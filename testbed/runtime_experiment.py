"""The runtime experiment (issue 11, item 7): a traffic mix that shifts twice under the daemon.

:func:`run_experiment` builds the emulated NIC + host testbed (gen -> nic -> host namespaces,
:func:`cora.testbed.offload_experiment.three_node`), lets the runtime daemon's pieces
(:class:`cora.runtime.daemon.RuntimeDaemon`, driven window by window from this process)
deploy the NF split with every block on the host, and sends with the live-frames generator,
at a fixed rate, three phases: ``heavy`` (4 flows), ``new-flows`` (4,000 distinct UDP flows),
``syn-flood`` (4,000 TCP SYNs from random sources). Every window it records the measured
rate, the decision (drift, re-plan, adopt and swap), the modelled host cores of the plan
running and of the *best static plan* chosen in advance (CP-SAT on the profile of the whole
frame sequence, what an operator with perfect foresight would deploy once). At the end, the
accounting: frames generated == frames the first stage's verdict counters saw (all program
versions), and the flow table == the reference interpreter's over the same frame sequence.

Every cost figure is MODELLED by the stage models; rates, counts and latencies are measured.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PHASES = ("heavy", "new-flows", "syn-flood")


def phase_frames(name: str) -> list[bytes]:
    """The frame cycle of a phase (seeded: the same frames every run)."""
    from cora.testbed.trafficgen import synthetic_flows

    if name == "heavy":
        return synthetic_flows(4, seed=21)
    if name == "new-flows":
        return synthetic_flows(4000, seed=22)
    if name == "syn-flood":
        return synthetic_flows(4000, proto="tcp", seed=23)
    raise ValueError(f"unknown phase {name}")


@dataclass
class Sample:
    """One window of the experiment (see the module docstring)."""

    t_s: float
    phase: str
    rate_pps: float
    action: str
    drift: float | None
    cores_current: float | None
    cores_static: float | None
    plan_changes: int


@dataclass
class ExperimentResult:
    """The time series and the accounting."""

    nf: str
    samples: list[Sample] = field(default_factory=list)
    frames_sent: int = 0
    frames_seen: int = 0
    state_equal: bool | None = None
    plan_changes: int = 0
    swap_latency_ms: list[float] = field(default_factory=list)


def run_experiment(nf_path: str, rate_pps: float = 5_000, phase_s: float = 8.0,
                   interval_s: float = 0.5, nic: str = "bluefield2",
                   runtime_dir: str | None = None) -> ExperimentResult:
    """Run the three phases under the daemon; returns the time series and the accounting.

    Raises:
        EnvironmentProblem / KernelError: as the daemon's deploy and swaps.
    """
    from cora.compiler.offload.partition import plan as solve
    from cora.compiler.offload.profile import profile_from_frames
    from cora.runtime.daemon import DaemonOptions, RuntimeDaemon
    from cora.runtime.daemon_policy import PolicySettings
    from cora.runtime.deploy import read_stats, undeploy
    from cora.testbed.live_traffic import BackgroundTraffic, interpreter_state, wait_for_verdicts
    from cora.testbed.offload_experiment import three_node
    from cora.testbed.topology import Topology

    settings = PolicySettings(interval_s=interval_s, consecutive=2, min_packets=50,
                              model_rate_mpps=1.0)
    phases = {p: phase_frames(p) for p in PHASES}
    # the daemon's files (state, history, metrics, lock) go to a directory of this run,
    # removed in finally whatever happens (the caller's runtime_dir: only this run's part)
    own_dir = runtime_dir is None
    base = Path(tempfile.mkdtemp(prefix="cora-runtime-experiment-")) if own_dir \
        else Path(str(runtime_dir))
    res = ExperimentResult(Path(nf_path).stem)
    d = None
    try:
        with Topology() as topo:
            three_node(topo)
            gen_ns, nic_ns, host_ns = topo.ns("gen"), topo.ns("nic"), topo.ns("host")
            d = RuntimeDaemon(DaemonOptions(nf_path, "veth1", host_ns, "veth0", nic_ns,
                                            nic_model=nic, settings=settings,
                                            runtime_dir=str(base)))
            sequence: list[bytes] = []
            try:
                d.adopt_or_deploy()
                program = d.program
                # the best static plan, chosen in advance with the whole sequence's profile
                expected_seq = [f for p in PHASES for f in phases[p]]
                nic_m, kernel_m, user_m = d.replanner.models
                static = solve(program, nic_m, kernel_m, user_m, profile_from_frames(
                    program, expected_seq), rate_mpps=1.0, time_limit_s=2.0).plan
                d.window()
                t0 = time.monotonic()
                for name in PHASES:
                    with BackgroundTraffic("veth0", gen_ns, phases[name],
                                           rate_pps=rate_pps) as traffic:
                        def record(dec, phase=name) -> None:
                            assert d is not None
                            prof = d.last_profile
                            cur = stat = None
                            if prof is not None and prof.packets:
                                r = d.replanner.model_rate(dec.rate_mpps)
                                cur = d.replanner.cores_of(d.replanner.current, prof, r)
                                stat = d.replanner.cores_of(static, prof, r) if static \
                                    else None
                            res.samples.append(Sample(time.monotonic() - t0, phase,
                                                      dec.rate_mpps * 1e6, dec.action,
                                                      dec.drift, cur, stat,
                                                      d.replanner.plan_changes))

                        d.run_windows(lambda _dec: False, phase_s, record)
                        sent = traffic.stop()
                        sequence += traffic.sequence(sent)
                res.frames_sent = len(sequence)
                res.frames_seen = wait_for_verdicts("veth0", nic_ns, res.frames_sent)
                owner = "veth0" if "flows" in read_stats("veth0", nic_ns)["maps"] else "veth1"
                where = nic_ns if owner == "veth0" else host_ns
                live = read_stats(owner, where)["maps"]
                ref = interpreter_state(program, sequence)["maps"]
                res.state_equal = all(live.get(k) == v for k, v in ref.items())
                res.plan_changes = d.replanner.plan_changes
                res.swap_latency_ms = list(d.status.swap_latency_ms)
            finally:
                d.close_prepared()
                with contextlib.suppress(Exception):
                    undeploy("veth1", host_ns)
                with contextlib.suppress(Exception):
                    undeploy("veth0", nic_ns)
    finally:
        if own_dir:
            shutil.rmtree(base, ignore_errors=True)
        elif d is not None:
            shutil.rmtree(d.paths.state.parent, ignore_errors=True)  # this run's namespace
    return res


def table(res: ExperimentResult) -> str:
    """The time series as a text table."""
    rows = [f"{'t s':>6} {'phase':10} {'rate pps':>9} {'action':7} {'drift':>6} "
            f"{'cores now':>10} {'cores static':>12} {'changes':>7}"]
    for s in res.samples:
        def num(x, f):
            return "-" if x is None else format(x, f)
        rows.append(f"{s.t_s:6.1f} {s.phase:10} {s.rate_pps:9.0f} {s.action:7} "
                    f"{num(s.drift, '6.3f')} {num(s.cores_current, '10.5f')} "
                    f"{num(s.cores_static, '12.5f')} {s.plan_changes:7}")
    return "\n".join(rows)


def plot(res: ExperimentResult, path: str) -> None:
    """PNG of rate, modelled host cores (current plan vs best static) and plan changes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [s.t_s for s in res.samples]
    fig, (ax1, ax2) = plt.subplots(2, 1, sharex=True, figsize=(8, 5))
    ax1.plot(t, [s.rate_pps for s in res.samples], label="rate (measured)")
    ax1.set_ylabel("frames/s")
    ax2.plot(t, [s.cores_current if s.cores_current is not None else float("nan")
                 for s in res.samples], label="current plan (modelled)")
    ax2.plot(t, [s.cores_static if s.cores_static is not None else float("nan")
                 for s in res.samples], "--", label="best static plan (modelled)")
    ax2.set_ylabel("host cores at 1 Mpps")
    ax2.set_xlabel("time, s")
    prev_phase, prev_changes = None, 0
    for s in res.samples:
        for ax in (ax1, ax2):
            if s.phase != prev_phase:
                ax.axvline(s.t_s, color="grey", lw=0.5)
            if s.plan_changes != prev_changes:
                ax.axvline(s.t_s, color="red", lw=1)
        if s.phase != prev_phase:
            ax1.text(s.t_s, ax1.get_ylim()[1] * 0.9, s.phase, fontsize=7)
        prev_phase, prev_changes = s.phase, s.plan_changes
    ax1.legend(fontsize=7)
    ax2.legend(fontsize=7)
    fig.suptitle(f"cora runtime: {res.nf} (red: plan change)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
