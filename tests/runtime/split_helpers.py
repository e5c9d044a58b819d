"""Shared by the split tests (tests/runtime/test_split.py, test_traffic_split.py and
tests/testbed/test_traffic_split_testbed.py): the capture corpus, the unsplit NF's reference
run, and the stage-by-stage comparison against it."""

from __future__ import annotations

import contextlib
import glob
import time
from collections import Counter
from functools import cache, lru_cache
from pathlib import Path

from cora.compiler.driver import compile_file
from cora.compiler.offload.split import SplitError, cut_plan, split
from cora.compiler.offload.traffic import TrafficSplit, classifier_key, flow_key
from cora.runtime.engine import InterpEngine
from cora.runtime.stages import StagePipeline
from cora.runtime.testrun import MAX_XDP_TEST_FRAME_BYTES
from cora.settings import trace_files
from cora.testbed.replay import read_pcap

REPO = Path(__file__).resolve().parents[2]
TRACES = [str(p) for p in trace_files()]
NFS = sorted(glob.glob(str(REPO / "netfuncs" / "*.nf")))
#: Frames a test run cannot take once a shim (at most the 256-byte XDP headroom) is added:
#: skipped by the reference and the stages alike (a few frames of bigtcp captures).
MAX_FRAME = MAX_XDP_TEST_FRAME_BYTES - 256


@lru_cache(maxsize=1)
def corpus():
    return tuple((Path(t).name, tuple(read_pcap(t))) for t in TRACES)


@cache
def reference(nf: str):
    """Per capture: [(verdict, frame)] of the interpreter on the unsplit NF, final state."""
    program = compile_file(nf)
    eng = InterpEngine(program)
    out = []
    for name, frames in corpus():
        eng.reset()
        res = [eng.run(f, ts) if 14 <= len(f) <= MAX_FRAME else None for ts, f in frames]
        out.append((name, [(r.verdict, r.frame) if r else None for r in res], eng.dump_state()))
    return program, out


def compare(nf: str, plan, xdp_engine: str) -> tuple[int, list]:
    """Frames run and the mismatches of the stages vs the unsplit interpreter."""
    program, ref = reference(nf)
    bad, n = [], 0
    with StagePipeline(program, plan, xdp_engine=xdp_engine) as pipe:
        assert len(pipe.split.stages) >= 1 and pipe.max_frame_bytes >= MAX_FRAME
        for (name, frames), (_, want, want_state) in zip(corpus(), ref, strict=True):
            pipe.reset()
            for i, ((ts, f), w) in enumerate(zip(frames, want, strict=True)):
                if w is None:
                    continue
                n += 1
                got = pipe.run(f, ts)
                if (got.verdict, got.frame) != w:
                    bad.append((name, i, got.decided_by, got.verdict, w[0],
                                len(got.frame), len(w[1])))
            state = pipe.dump_state()
            if state != want_state:
                diff = [m for m in state["maps"] if state["maps"][m] != want_state["maps"][m]]
                bad.append((name, "final state", diff))
            if len(bad) > 5:
                break
    return n, bad


# ------------------------------------------------------------------ traffic splits

#: Flow buckets of the traffic splits the tests use.
N_BUCKETS = 16


@cache
def heaviest_keys(nf: str, k: int = 8) -> tuple[tuple[int, ...], ...]:
    """The ``k`` classifier keys of ``nf`` with the most frames over the corpus."""
    fields = classifier_key(compile_file(nf)).fields
    counts: Counter = Counter()
    for _, frames in corpus():
        for _, f in frames:
            key = flow_key(f, fields)
            if key is not None:
                counts[key] += 1
    return tuple(k for k, _ in counts.most_common(k))


def traffic_splits(nf: str) -> list[TrafficSplit]:
    """Bucket sets none, all, even, even + the heaviest keys, over ``nf``'s classifier key."""
    fields = classifier_key(compile_file(nf)).fields
    evens = frozenset(range(0, N_BUCKETS, 2))
    return [TrafficSplit(fields, N_BUCKETS),
            TrafficSplit(fields, N_BUCKETS, frozenset(range(N_BUCKETS))),
            TrafficSplit(fields, N_BUCKETS, evens),
            TrafficSplit(fields, N_BUCKETS, evens, heaviest_keys(nf))]


def traffic_cuts(program, traffic: TrafficSplit, limit: int = 3) -> list[dict]:
    """The all-kernel plan and up to ``limit`` valid nic | kernel cuts (first, middle, last)
    that a traffic split allows (NIC blocks write only partitionable state)."""
    valid = []
    for i in range(0, len(program.topological_blocks()) + 1):
        plan = dict(cut_plan(program, i), traffic=traffic.to_json())
        try:
            split(program, plan)
        except SplitError:
            continue
        valid.append(plan)
    assert valid, program.name
    picks = [valid[0], valid[len(valid) // 2], valid[-1]][:limit]
    out: list[dict] = []
    for p in picks:
        if p not in out:
            out.append(p)
    return out


def wait_until(cond, what: str, timeout_s: float = 120.0):
    """Poll ``cond`` every 50 ms until it returns a true value (returned); fail after
    ``timeout_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def both_stage_plan(program) -> dict:
    """The earliest cut that gives ``drops`` a copy on the NIC and on the kernel stage."""
    for i in range(1, len(program.topological_blocks())):
        plan = cut_plan(program, i)
        try:
            result = split(program, plan)
        except SplitError:
            continue
        if [st.counter_copies for st in result.stages] == [["drops"], ["drops"]]:
            return plan
    raise AssertionError("no cut puts drops on both stages")


def merged_counter_frames() -> list[bytes]:
    """Malformed IPv4 (IHL 4: dropped on the NIC stage of the early cut) and outside ->
    inside UDP to port 9999 (dropped on the host: PORT)."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    out = []
    for i in range(16):
        good = eth / IP(src="203.0.113.9", dst="10.11.1.5") / UDP(sport=10000 + i, dport=9999)
        raw = bytearray(bytes(good).ljust(64, b"\0"))
        if i % 2 == 0:
            raw[14] = 0x44                                   # version 4, IHL 4: malformed
        out.append(bytes(raw))
    return out


@contextlib.contextmanager
def split_daemon(nf_path: str | Path, runtime_dir: str | Path):
    """The three-node testbed (gen -> nic -> host namespaces) with a
    :class:`cora.runtime.daemon.RuntimeDaemon` driven in-process, deployed all on the host
    (windows 0.2 s, K = 2, cost model at 1 Mpps). Yields ``(daemon, gen_ns, nic_ns,
    host_ns)``; whatever happens, the daemon's programs are undeployed and the namespaces
    deleted."""
    from cora.runtime.daemon import DaemonOptions, RuntimeDaemon
    from cora.runtime.daemon_policy import PolicySettings
    from cora.testbed.offload_experiment import three_node
    from cora.testbed.topology import Topology

    settings = PolicySettings(interval_s=0.2, consecutive=2, min_packets=50,
                              model_rate_mpps=1.0, time_limit_s=2.0)
    with Topology() as topo:
        three_node(topo)
        gen_ns, nic_ns, host_ns = topo.ns("gen"), topo.ns("nic"), topo.ns("host")
        d = RuntimeDaemon(DaemonOptions(str(nf_path), "veth1", host_ns, "veth0", nic_ns,
                                        settings=settings, runtime_dir=str(runtime_dir)))
        try:
            d.adopt_or_deploy()
            yield d, gen_ns, nic_ns, host_ns
        finally:
            d.close_and_undeploy()


def change_plan(d, traffic, plan, label: str, frames_between: int):
    """Prepare ``plan`` ahead, let ``frames_between`` more frames be generated, then adopt
    it under the traffic; asserts the adoption and returns its decision."""
    wait_until(lambda: d.prepare_ahead(plan), f"the {label} plan prepared", 180.0)
    traffic.wait_generated(traffic.gen.generated() + frames_between)
    dec = d.put_plan(plan, f"test: to the {label} plan")
    assert dec.action == "adopt", dec.reason
    return dec
