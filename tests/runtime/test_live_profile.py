"""Live profile (issue 11, item 1): the per-block counters of a deployed program give the same
Profile as ``cora plan --profile`` (the reference interpreter over a pcap of the same frames).
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import pytest

from cora.compiler.driver import compile_file
from cora.compiler.offload.profile import profile_from_frames
from cora.compiler.offload.split import cut_plan, split
from cora.settings import trace_files
from cora.targets.ebpf.liveprof import PROFILE_MAP, ProfileSlots, profile_slots
from cora.targets.xdp import XdpTarget

REPO = Path(__file__).resolve().parents[2]
NFS = sorted(glob.glob(str(REPO / "netfuncs" / "*.nf")))


def _capture() -> list[tuple[int, bytes]]:
    """Frames of several captures of the corpus, one sequence (IPv4/IPv6, TCP/UDP, ARP...)."""
    from cora.testbed.replay import read_pcap

    frames: list[tuple[int, bytes]] = []
    for path in trace_files()[:40]:
        frames.extend((ts, f) for ts, f in read_pcap(str(path)) if len(f) <= 1500)
    return frames[:1500]


def test_slots_count_all_but_one_edge_per_branch():
    program = compile_file(str(REPO / "netfuncs" / "firewall.nf"))
    slots = profile_slots(program, 4)
    assert slots.entry == program.topological_blocks()[0].label
    branching = [b for b in program.blocks if len(set(b.successors())) > 1]
    assert len(slots.edges) == sum(len(set(b.successors())) - 1 for b in branching) > 0
    assert slots.count == 2 + len(slots.edges) + 1 and slots.tick_slot == slots.count - 1
    assert ProfileSlots.from_json(slots.to_json()) == slots
    text = XdpTarget().generate(program, live_profile=4).files["prog.c"]
    assert f"BPF_PERCPU_ARRAY({PROFILE_MAP}" in text and "% 4U) != 0" in text
    plain = XdpTarget().generate(program).files["prog.c"]
    assert PROFILE_MAP not in plain
    with pytest.raises(ValueError):
        profile_slots(program, 0)


@pytest.mark.kernel
@pytest.mark.slow
@pytest.mark.parametrize("nf", NFS, ids=lambda p: Path(p).stem)
def test_live_counters_equal_the_interpreter_profile(nf, bcc_module):
    from cora.runtime.engine import KernelEngine
    from cora.runtime.live_profile import from_live_counters, read_counters

    program = compile_file(nf)
    frames = _capture()
    assert len(frames) > 500
    expected = profile_from_frames(program, frames)
    slots = profile_slots(program, 1)
    with KernelEngine(program, live_profile=1) as kernel:
        fd = kernel.loaded.map_fd(PROFILE_MAP)
        before = read_counters(fd, slots, program)
        for ts, frame in frames:
            kernel.run(frame, now_ns=ts)
        window = read_counters(fd, slots, program).minus(before)
    live = from_live_counters(program, [window])
    assert live.packets == expected.packets == len(frames)
    assert live.block_freq == expected.block_freq
    assert live.state_access == expected.state_access
    assert live.edge_freq == expected.edge_freq


@pytest.mark.kernel
def test_sampled_counters_estimate_the_counts(bcc_module):
    """1 in 4: the tick counts every packet, a quarter of them are counted (per CPU: a test
    run stays on one CPU), and the estimate is the counted packets x 4."""
    from cora.runtime.engine import KernelEngine
    from cora.runtime.live_profile import from_live_counters, read_counters

    program = compile_file(str(REPO / "netfuncs" / "flowcount.nf"))
    frames = _capture()[:400]
    slots = profile_slots(program, 4)
    cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cpus)})  # one CPU: one tick sequence
    try:
        with KernelEngine(program, live_profile=4) as kernel:
            fd = kernel.loaded.map_fd(PROFILE_MAP)
            for ts, frame in frames:
                kernel.run(frame, now_ns=ts)
            snap = read_counters(fd, slots, program)
    finally:
        os.sched_setaffinity(0, cpus)
    assert slots.tick_slot is not None
    assert snap.counts[slots.tick_slot] == len(frames)
    assert snap.packets == len(frames) // 4
    assert from_live_counters(program, [snap]).packets == len(frames)


@pytest.mark.kernel
@pytest.mark.slow
def test_split_stages_add_up_to_the_whole_nf(bcc_module):
    """Two stage programs (NIC cut, host rest) run in sequence: their counters together give
    the whole NF's profile."""
    from cora.runtime.engine import KernelEngine
    from cora.runtime.live_profile import from_live_counters, read_counters

    program = compile_file(str(REPO / "netfuncs" / "flowcount.nf"))
    frames = _capture()
    result = split(program, cut_plan(program, 2))
    assert [s.stage for s in result.stages] == ["nic", "kernel"]
    nic_prog, host_prog = (s.program for s in result.stages)
    s_nic, s_host = profile_slots(nic_prog), profile_slots(host_prog)
    with KernelEngine(nic_prog, live_profile=1) as nic, \
            KernelEngine(host_prog, live_profile=1) as host:
        fn, fh = nic.loaded.map_fd(PROFILE_MAP), host.loaded.map_fd(PROFILE_MAP)
        b_nic, b_host = read_counters(fn, s_nic, nic_prog), read_counters(fh, s_host, host_prog)
        for ts, frame in frames:
            out = nic.run(frame, now_ns=ts)
            if out.verdict == "pass":  # on to the host (a done shim: the host just passes)
                host.run(out.frame, now_ns=ts)
        windows = [read_counters(fn, s_nic, nic_prog).minus(b_nic),
                   read_counters(fh, s_host, host_prog).minus(b_host)]
    live = from_live_counters(program, windows)
    expected = profile_from_frames(program, frames)
    assert live.packets == len(frames)
    assert live.block_freq == expected.block_freq
    assert live.state_access == expected.state_access
