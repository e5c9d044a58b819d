"""Testbed experiment: a split NF (NIC stage + host stage) vs the same NF all on the host.

Topology (real namespaces and veth pairs, :mod:`cora.testbed.topology`)::

    gen:veth0  <->  nic:veth0 [NIC stage, XDP]  nic:veth1  <->  host:veth1 [host stage, XDP]

- The NIC is *emulated*: there is no SmartNIC here. The NIC stage is the plan's ``nic``
  program, compiled to XDP and attached (native) on ``nic:veth0``; every ``pass`` (a frame
  carrying its metadata shim, or a finished frame with the 0xFFFF "done" shim) is handed to
  the host with ``bpf_redirect(ifindex of nic:veth1)``. XDP_REDIRECT into a veth delivers
  the frame to the peer (``host:veth1``) only while the peer runs an XDP program, which it
  always does here (the host stage, or a pass-through). ``host:veth1`` has MTU 1600 so a
  full-size frame plus its shim fits. Frames the NIC stage drops (or sends back with
  ``tx``) never reach the host.
- The host stage (the plan's ``kernel`` program) is attached on ``host:veth1``; it pops the
  shim and resumes the NF. The all-on-host deployment puts the whole NF there and a
  pass-through forwarder on the NIC side, so both deployments see the same path.
- Traffic: the live-frames generator (:class:`cora.testbed.trafficgen.TrafficGen`) in
  ``gen`` sends the frames, paced.
- Host CPU time per packet (measured): the host-side XDP program's ``run_time_ns`` and
  ``run_cnt`` (``struct bpf_prog_info``) with BPF run-time statistics enabled through
  ``BPF_ENABLE_STATS`` (bpf cmd 32, type ``BPF_STATS_RUN_TIME``; Linux >= 5.8): the stats
  stay on only while the returned fd is open, so the machine's setting (the sysctl
  ``kernel.bpf_stats_enabled``) is never changed. Divided by the frames the NIC side
  processed (every offered frame). This is the host's XDP time only: the host stack's
  work on passed frames is the same in both deployments when their verdicts agree.
- Predicted figures (modelled): the stage models' host ns/packet of the plan and of the
  all-host plan on the same frames (:meth:`cora.compiler.offload.partition.Problem.evaluate`), and
  the NIC utilisation the NIC model predicts at the plan's rate: the emulated NIC's speed
  says nothing about a real NIC's.
"""

from __future__ import annotations

import ctypes
import os
import time
from dataclasses import dataclass, field

BPF_ENABLE_STATS = 32           # enum bpf_cmd (include/uapi/linux/bpf.h)
BPF_STATS_RUN_TIME = 0          # enum bpf_stats_type
BPF_OBJ_GET_INFO_BY_FD = 15
#: byte offsets of run_time_ns / run_cnt in struct bpf_prog_info (include/uapi/linux/bpf.h,
#: unchanged since Linux 5.1: 192 bytes of earlier fields precede them)
_RUN_TIME_OFFSET = 192
HOST_MTU = 1600


class _EnableStatsAttr(ctypes.Structure):
    _fields_ = [("type", ctypes.c_uint32)]


class _InfoAttr(ctypes.Structure):
    _fields_ = [("bpf_fd", ctypes.c_uint32), ("info_len", ctypes.c_uint32),
                ("info", ctypes.c_uint64)]


class RunTimeStats:
    """BPF run-time statistics on while this context is open (``BPF_ENABLE_STATS``).

    Raises:
        KernelError: the kernel refused (not root, or no BPF_ENABLE_STATS).
    """

    def __enter__(self) -> RunTimeStats:
        from cora.runtime.bpf_syscall import bpf_call
        self.fd = bpf_call(BPF_ENABLE_STATS, _EnableStatsAttr(type=BPF_STATS_RUN_TIME),
                           "enabling BPF run-time statistics")
        return self

    def __exit__(self, *exc) -> None:
        os.close(self.fd)


def prog_run_time(prog_id: int) -> tuple[int, int]:
    """``(run_time_ns, run_cnt)`` of the loaded program ``prog_id`` (totals since load,
    counted only while run-time statistics are enabled).

    Raises:
        KernelError: no such program.
    """
    from cora.runtime.bpf_syscall import bpf_call, prog_get_fd_by_id

    fd = prog_get_fd_by_id(prog_id)
    try:
        buf = ctypes.create_string_buffer(256)
        attr = _InfoAttr(bpf_fd=fd, info_len=256, info=ctypes.addressof(buf))
        bpf_call(BPF_OBJ_GET_INFO_BY_FD, attr, f"reading info of program id {prog_id}")
        raw = buf.raw
        return (int.from_bytes(raw[_RUN_TIME_OFFSET:_RUN_TIME_OFFSET + 8], "little"),
                int.from_bytes(raw[_RUN_TIME_OFFSET + 8:_RUN_TIME_OFFSET + 16], "little"))
    finally:
        os.close(fd)


@dataclass
class DeploymentRun:
    """Measured figures of one deployment.

    Attributes:
        label: ``"split"`` or ``"all_host"``.
        stages: stage names deployed (``["nic", "kernel"]`` ...).
        frames_sent: frames the generator sent.
        nic_frames: frames the NIC side processed (its verdict counters).
        host_frames: frames the host side processed (its verdict counters).
        nic_verdicts, host_verdicts: verdict counters of each side.
        host_run_ns, host_run_cnt: the host-side program's run time and runs (bpf stats).
        nic_run_ns: the NIC-side program's run time (emulated NIC; for reference only).
        seconds: wall time of the send.
    """

    label: str
    stages: list[str]
    frames_sent: int = 0
    nic_frames: int = 0
    host_frames: int = 0
    nic_verdicts: dict = field(default_factory=dict)
    host_verdicts: dict = field(default_factory=dict)
    host_run_ns: int = 0
    host_run_cnt: int = 0
    nic_run_ns: int = 0
    seconds: float = 0.0

    @property
    def host_ns_per_packet(self) -> float:
        """Host XDP CPU time per frame offered (the NIC side saw every offered frame)."""
        return self.host_run_ns / self.nic_frames if self.nic_frames else 0.0

    @property
    def host_ns_per_host_packet(self) -> float:
        """Host XDP CPU time per frame that reached the host."""
        return self.host_run_ns / self.host_run_cnt if self.host_run_cnt else 0.0


def three_node(topo) -> tuple:
    """Add ``gen``, ``nic`` and ``host`` namespaces and the two links to ``topo``;
    returns (gen-nic link, nic-host link). The nic-host link has MTU :data:`HOST_MTU`."""
    for ns in ("gen", "nic", "host"):
        topo.add_namespace(ns)
    l0 = topo.add_link("gen", "nic", "veth0", "veth0")
    l1 = topo.add_link("nic", "host", "veth1", "veth1", mtu=HOST_MTU)
    return l0, l1


def _settle(read, timeout_s: float = 5.0) -> None:
    """Wait until ``read()`` stops changing (frames still in flight)."""
    last, t0 = read(), time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        time.sleep(0.2)
        cur = read()
        if cur == last:
            return
        last = cur


def run_deployment(program, plan, topo, frames: list[bytes], count: int, rate_pps: float,
                   label: str) -> DeploymentRun:
    """Deploy ``program`` split by ``plan`` on the three-node topology, send ``count``
    frames cycling through ``frames`` at ``rate_pps``, measure, and take it down.

    Raises:
        SplitError / CoraError / EnvironmentProblem / KernelError (deployment), InputError
        (frames).
    """
    from cora.runtime.deploy import deploy_stages, read_stats, undeploy
    from cora.testbed.trafficgen import TrafficGen

    nic_ns, host_ns, gen_ns = topo.ns("nic"), topo.ns("host"), topo.ns("gen")
    res = deploy_stages(program, plan, "veth1", host_ns, "veth0", nic_ns, "veth1")
    run = DeploymentRun(label, res["stages"])
    try:
        host_id, nic_id = res["host"]["prog_id"], res["nic"]["prog_id"]
        with RunTimeStats(), TrafficGen("veth0", gen_ns) as gen:
            h0, n0 = prog_run_time(host_id), prog_run_time(nic_id)
            rep = gen.send(frames, count=count, rate_pps=rate_pps)
            _settle(lambda: sum(read_stats("veth1", host_ns)["verdicts"].values()))
            h1, n1 = prog_run_time(host_id), prog_run_time(nic_id)
        run.frames_sent, run.seconds = rep.frames_sent, rep.seconds
        run.host_run_ns, run.host_run_cnt = h1[0] - h0[0], h1[1] - h0[1]
        run.nic_run_ns = n1[0] - n0[0]
        run.nic_verdicts = read_stats("veth0", nic_ns)["verdicts"]
        run.host_verdicts = read_stats("veth1", host_ns)["verdicts"]
        run.nic_frames = sum(run.nic_verdicts.values())
        run.host_frames = sum(run.host_verdicts.values())
    finally:
        undeploy("veth1", host_ns)
    return run


def modelled(program, plan, nic_name: str, frames: list[bytes], rate_mpps: float) -> dict:
    """Predicted host ns/packet of ``plan`` and of the all-host plan on ``frames`` (stage
    models, traffic profile from the interpreter), and NIC utilisation at ``rate_mpps``."""
    from cora.compiler.offload.partition import Plan, Problem
    from cora.compiler.offload.profile import profile_from_frames
    from cora.compiler.offload.stage_model import load_model

    pb = Problem(program, load_model(nic_name), load_model("xdp"), load_model("user"),
                 profile_from_frames(program, [(0, f) for f in frames]))
    p = plan if isinstance(plan, Plan) else Plan.from_json(plan.get("plan", plan))
    ev = pb.evaluate(p, rate_mpps=rate_mpps)
    base = pb.evaluate(pb.make_plan(pb.all_host_stages()), rate_mpps=rate_mpps)
    nic_cores = float(pb.stages[0].cores)
    return {"split_host_ns": ev.host_ns_per_packet, "all_host_ns": base.host_ns_per_packet,
            "nic_ns": ev.nic_ns_per_packet,
            "nic_utilization": rate_mpps * ev.nic_ns_per_packet / (1e3 * nic_cores)}


def all_host_plan(program) -> dict:
    """Every reachable block on the host kernel stage."""
    return {"blocks": {b.label: "kernel" for b in program.topological_blocks()},
            "states": {}, "shim": []}


def run_experiment(program, plan: dict, nic_name: str, rate_mpps: float,
                   frames: list[bytes], count: int = 200_000, rate_pps: float = 100_000,
                   repeats: int = 1) -> dict:
    """Both deployments of ``program`` on a fresh three-node topology (always removed),
    with the same frames, alternating ``repeats`` times (split first) so that load from
    other work on the machine hits both alike.

    Returns:
        ``{"split": DeploymentRun, "all_host": DeploymentRun, "split_runs": [...],
        "all_host_runs": [...], "modelled": {...}}``; ``split``/``all_host`` are the runs
        with the median host ns/packet.
    """
    from cora.testbed.topology import Topology

    splits, hosts = [], []
    with Topology() as topo:
        three_node(topo)
        for _ in range(max(1, repeats)):
            splits.append(run_deployment(program, plan, topo, frames, count, rate_pps,
                                         "split"))
            hosts.append(run_deployment(program, all_host_plan(program), topo, frames, count,
                                        rate_pps, "all_host"))

    def median(runs):
        return sorted(runs, key=lambda r: r.host_ns_per_packet)[len(runs) // 2]
    return {"split": median(splits), "all_host": median(hosts), "split_runs": splits,
            "all_host_runs": hosts,
            "modelled": modelled(program, plan, nic_name, frames, rate_mpps)}
