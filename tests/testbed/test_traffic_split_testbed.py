"""Issue 9 item 6: a traffic-split plan deployed on the emulated NIC + host testbed.

The NIC stage runs the flow classifier; the control plane fills its bucket set and heavy-key
table after the deploy; Zipf traffic (plus keyless ARP frames) is sent for real. Checked
against the interpreter running the same split stage by stage on the same frames: every
frame reaches the NIC and the host, the NIC's map holds exactly the NIC-path flows with the
interpreter's counts, the host copy exactly the host-path flows, and their union is the
whole NF's map. The same splits also run per frame in the kernel (BPF_PROG_TEST_RUN) with
the verdict and output frame of every frame compared.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cora.compiler.driver import compile_file
from cora.compiler.offload.profile import zipf_frames
from cora.compiler.offload.split import cut_plan
from cora.compiler.offload.traffic import TrafficSplit, classifier_key, flow_key
from cora.runtime.engine import InterpEngine
from cora.runtime.stages import StagePipeline

REPO = Path(__file__).resolve().parents[2]
N_BUCKETS = 16


def _frames() -> list[bytes]:
    frames = [f for _, f in zipf_frames(300, 1.1, 1500, seed=5)]
    arp = bytes.fromhex("ffffffffffff" "020000000001" "0806") + bytes(50)
    return frames + [arp] * 20


def _split(program, frames) -> TrafficSplit:
    fields = classifier_key(program).fields
    counts: dict = {}
    for f in frames:
        k = flow_key(f, fields)
        if k is not None:
            counts[k] = counts.get(k, 0) + 1
    heavy = tuple(sorted(counts, key=lambda k: -counts[k])[:5])
    return TrafficSplit(fields, N_BUCKETS, frozenset(range(0, N_BUCKETS, 4)), heavy)


def _rows(entries) -> list[dict]:
    return [{"key": list(k), "value": list(v)} for k, v in entries]


@pytest.mark.kernel
@pytest.mark.netns
def test_deployed_traffic_split_agrees_with_the_interpreter(bcc_module):
    from cora.testbed.offload_experiment import three_node
    from cora.testbed.topology import Topology
    from cora.testbed.traffic_split import run_traffic_split

    program = compile_file(str(REPO / "netfuncs" / "flowcount.nf"))
    frames = _frames()
    want = _split(program, frames)
    # deployed with an empty split; the control plane then installs `want`
    plan = dict(cut_plan(program, 10_000),
                traffic=TrafficSplit(want.key_fields, N_BUCKETS, heavy_capacity=64).to_json())
    with Topology(prefix=None) as topo:
        three_node(topo)
        run = run_traffic_split(program, plan, topo, frames, len(frames), 20_000, want)
    # the control plane filled the maps of a classifier deployed empty
    assert run.traffic is not None and run.traffic.nic_buckets == want.nic_buckets
    assert set(run.traffic.heavy_keys) == set(want.heavy_keys)
    assert run.traffic.heavy_capacity == 64
    assert run.frames_sent == len(frames)
    assert run.nic_frames == len(frames)
    assert sum(run.host_verdicts.values()) == len(frames)  # flowcount passes everything
    assert run.host_run_cnt == len(frames)

    with StagePipeline(program, dict(plan, traffic=want.to_json()), xdp_engine="interp") as pipe:
        for f in frames:
            assert pipe.run(f).verdict == "pass"
        nic_flows, host_flows = pipe.engines[0].entries("flows"), pipe.engines[1].entries("flows")
    paths = [want.frame_path(f) for f in frames]
    assert paths.count("nic") > 300 and paths.count("host") > 300   # both paths carry traffic
    assert run.nic_maps["flows"] == _rows(nic_flows)
    assert run.host_maps["flows"] == _rows(host_flows)
    whole = InterpEngine(program)
    for f in frames:
        whole.run(f)
    assert sorted(run.nic_maps["flows"] + run.host_maps["flows"],
                  key=lambda r: r["key"]) == whole.dump_state()["maps"]["flows"]
    assert {tuple(r["key"]) for r in run.nic_maps["flows"]} == \
        {flow_key(f, want.key_fields) for f, p in zip(frames, paths, strict=True) if p == "nic"}


@pytest.mark.kernel
@pytest.mark.slow
@pytest.mark.parametrize("nf", sorted(p.stem for p in (REPO / "netfuncs").glob("*.nf")))
def test_traffic_split_stages_in_the_kernel(nf, bcc_module):
    """Every NF: a traffic split (quarter of the buckets + the corpus' heaviest flows) over
    the middle valid cut, nic and kernel stages as real XDP programs, every capture."""
    from tests.runtime.test_split import _compare
    from tests.runtime.test_traffic_split import _splits, _traffic_cuts

    path = str(REPO / "netfuncs" / f"{nf}.nf")
    program = compile_file(path)
    traffic = _splits(path)[3]
    plans = _traffic_cuts(program, traffic)
    plan = plans[len(plans) // 2]
    n, bad = _compare(path, plan, "kernel")
    assert not bad, bad[:3]
    assert n > 2500
