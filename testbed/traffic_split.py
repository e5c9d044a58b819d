"""Testbed: a traffic-split plan deployed on the emulated NIC + host, measured.

Topology and deployment as :mod:`cora.testbed.offload_experiment` (``gen -> nic:veth0 [NIC
stage, XDP] -> nic:veth1 -> host:veth1 [host stage, XDP]``). The NIC stage of a plan with a
traffic split starts with the flow classifier (:mod:`cora.compiler.offload.split`): hot flows
(NIC buckets, heavy keys) take the NIC path, the rest reach the host with the host-path shim
and run the whole NF there. The control plane (:func:`cora.runtime.classifier.set_traffic_split`)
fills the classifier's bucket set and heavy-key table after the deploy.

Measured (host XDP time): ``run_time_ns``/``run_cnt`` of the host program with BPF run-time
statistics on (:class:`cora.testbed.offload_experiment.RunTimeStats`), per frame offered.
The NIC is emulated: its own time says nothing about a SmartNIC's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from cora.compiler.offload.traffic import TrafficSplit


@dataclass
class SplitRun:
    """What one deployed traffic-split run measured.

    Attributes:
        frames_sent: frames the generator sent.
        nic_verdicts, host_verdicts: verdict counters of each side.
        nic_maps, host_maps: map contents of each side after the run (``--state-out`` maps).
        host_run_ns, host_run_cnt: the host program's run time (ns) and runs (bpf stats).
        traffic: the split the control plane installed (read back from the NIC's maps).
    """

    frames_sent: int = 0
    nic_verdicts: dict = field(default_factory=dict)
    host_verdicts: dict = field(default_factory=dict)
    nic_maps: dict = field(default_factory=dict)
    host_maps: dict = field(default_factory=dict)
    host_run_ns: int = 0
    host_run_cnt: int = 0
    traffic: TrafficSplit | None = None

    @property
    def nic_frames(self) -> int:
        """Frames the NIC stage processed (every offered frame that arrived)."""
        return sum(self.nic_verdicts.values())

    @property
    def host_ns_per_frame(self) -> float:
        """Host XDP time per frame offered to the NIC, ns."""
        return self.host_run_ns / self.nic_frames if self.nic_frames else 0.0


def _wait_stable(read, timeout_s: float = 5.0) -> None:
    """Poll ``read()`` until two reads 0.2 s apart agree (frames in flight) or timeout."""
    last, deadline = read(), time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        time.sleep(0.2)
        cur = read()
        if cur == last:
            return
        last = cur


def run_traffic_split(program, plan: dict, topo, frames: list[bytes], count: int,
                      rate_pps: float | None, traffic: TrafficSplit | None = None) -> SplitRun:
    """Deploy ``program`` split by ``plan`` on the three-node topology ``topo``
    (:func:`cora.testbed.offload_experiment.three_node` already added), install ``traffic``
    (default: the plan's own split) through the control plane, send ``count`` frames cycling
    through ``frames`` at ``rate_pps``, read both sides, and take the deployment down.

    Raises:
        SplitError / CoraError / EnvironmentProblem / KernelError (deploy), InputError
        (frames).
    """
    from cora.runtime.classifier import read_traffic_split, set_traffic_split
    from cora.runtime.deploy import deploy_stages, read_stats, undeploy
    from cora.testbed.offload_experiment import RunTimeStats, prog_run_time
    from cora.testbed.trafficgen import TrafficGen

    nic_ns, host_ns, gen_ns = topo.ns("nic"), topo.ns("host"), topo.ns("gen")
    want = traffic or TrafficSplit.from_json(plan["traffic"])
    res = deploy_stages(program, plan, "veth1", host_ns, "veth0", nic_ns, "veth1")
    run = SplitRun()
    try:
        set_traffic_split("veth0", nic_ns, want)
        run.traffic = read_traffic_split("veth0", nic_ns, want.key_fields)
        host_id = res["host"]["prog_id"]
        with RunTimeStats(), TrafficGen("veth0", gen_ns) as gen:
            h0 = prog_run_time(host_id)
            rep = gen.send(frames, count=count, rate_pps=rate_pps)
            _wait_stable(lambda: (sum(read_stats("veth1", host_ns)["verdicts"].values()),
                                  sum(read_stats("veth0", nic_ns)["verdicts"].values())))
            h1 = prog_run_time(host_id)
        run.frames_sent = rep.frames_sent
        run.host_run_ns, run.host_run_cnt = h1[0] - h0[0], h1[1] - h0[1]
        nic, host = read_stats("veth0", nic_ns), read_stats("veth1", host_ns)
        run.nic_verdicts, run.host_verdicts = nic["verdicts"], host["verdicts"]
        run.nic_maps, run.host_maps = nic["maps"], host["maps"]
    finally:
        undeploy("veth1", host_ns)
    return run


__all__ = ["SplitRun", "run_traffic_split"]
