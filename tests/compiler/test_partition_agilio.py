"""Issue 9, "Done when" item 3 on the Agilio model: lb's connection table on the NIC.

lb keeps its connections in an ``lru_map`` (``conns``) that the nfp offload cannot hold
(no BPF_MAP_TYPE_LRU_HASH). Under a traffic split whose NIC path is the heavy-flow table
alone, the NIC holds the state of a fixed set of at most 4,096 flows, so the table never
fills, never evicts and is a hash map (``no_eviction_kinds``, ``traffic.no_eviction_states``);
the in-place rewrite of a drained backend's entry runs as a whole-entry update
(``stage_model.inplace_alternatives``). ``replies`` (keyed by the reverse flow) stays on the
host. These tests plan lb on a small skewed (Zipf) mix with the Agilio model, check that
the plan offloads part of lb and saves host cores, and that the split program gives the
whole NF's verdict, frame and state on every frame of that mix and of a corpus capture
(interpreter, stage by stage).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from cora.compiler.driver import compile_file
from cora.compiler.offload.partition import STAGES, Problem, solve_problem
from cora.compiler.offload.profile import profile_from_frames, zipf_frames
from cora.compiler.offload.split import nic_stage_problems, split
from cora.compiler.offload.stage_model import inplace_alternatives, load_model
from cora.compiler.offload.traffic import FIVE_TUPLE, classifier_key, no_eviction_states
from cora.runtime.engine import InterpEngine
from cora.runtime.stages import StagePipeline
from cora.settings import trace_files
from cora.testbed.replay import read_pcap

ROOT = Path(__file__).resolve().parents[2]
LB = ROOT / "netfuncs" / "lb.nf"
#: lb's TCP and UDP services (netfuncs/lb.nf): VIP 10.11.0.100, ports 80/tcp and 53/udp
VIP = bytes([10, 11, 0, 100])
PORTS = {6: 80, 17: 53}


def _to_vip(frame: bytes) -> bytes:
    """``frame`` (an IPv4 TCP/UDP frame of ``zipf_frames``) sent to lb's service for its
    protocol; the IPv4 header checksum is recomputed."""
    b = bytearray(frame)
    b[30:34] = VIP
    ihl = (b[14] & 0xF) * 4
    b[14 + ihl + 2:14 + ihl + 4] = PORTS[b[23]].to_bytes(2, "big")
    b[24:26] = b"\0\0"
    s = sum(int.from_bytes(b[i:i + 2], "big") for i in range(14, 14 + ihl, 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    b[24:26] = (~s & 0xFFFF).to_bytes(2, "big")
    return bytes(b)


@cache
def _lb_case():
    program = compile_file(str(LB))
    frames = [(ts, _to_vip(f)) for ts, f in zipf_frames(400, 1.1, 1500, seed=5)]
    profile = profile_from_frames(program, frames)
    pb = Problem(program, load_model("agilio"), load_model("xdp"), load_model("user"),
                 profile)
    res = solve_problem(pb, 10, None, time_limit_s=5, workers=1, explain=False)
    return program, frames, pb, res


def test_lb_conns_is_held_as_a_hash_only_under_a_heavy_flow_split():
    program = compile_file(str(LB))
    # the key that bounds conns (its entries are at most the classified flows)
    assert classifier_key(program).fields == FIVE_TUPLE
    agilio = load_model("agilio")
    assert no_eviction_states(program, FIVE_TUPLE, agilio, 4096) == {"conns": "hash"}
    # replies is keyed by the reverse flow: not bounded by the classifier, not on the NIC
    assert no_eviction_states(program, ("ipv4.proto",), agilio, 4096) == {}
    # a table smaller than the heavy-flow table could fill: refused
    assert no_eviction_states(program, FIVE_TUPLE, agilio, 70_000) == {}
    assert inplace_alternatives(program) == {"inplace0": "update0"}


def test_agilio_plan_offloads_lbs_client_path_and_saves_host_cores():
    program, _, pb, res = _lb_case()
    assert res.plan is not None and res.plan.traffic is not None
    ts = res.plan.traffic
    assert ts.heavy_keys and not ts.nic_buckets          # the heavy-flow table alone
    nic_blocks = {b for b, s in res.plan.block_stage.items() if s == "nic"}
    assert "update0" in nic_blocks                       # new connections inserted on the NIC
    assert res.plan.state_place["conns"][0][0] == "nic"
    assert res.plan.state_place["replies"][0][0] == "kernel"
    all_host = pb.evaluate(pb.make_plan(pb.all_host_stages()), 10)
    assert res.host_ns_per_packet < 0.9 * all_host.host_ns_per_packet
    # a plan with hash buckets on the NIC path may not hold conns there
    stages = {lab: STAGES.index(s) for lab, s in res.plan.block_stage.items()}
    bad = pb.make_plan(stages, None, pb.make_traffic([0], ts.heavy_keys))
    assert any("heavy-flow table alone" in v
               for v in pb.evaluate(bad, 10).violations.get("capability", []))
    # nor a plan without a split
    nosplit = pb.make_plan(stages)
    assert any("traffic split of heavy flows only" in v
               for v in pb.evaluate(nosplit, 10).violations.get("capability", []))
    # the NIC stage program passes the Agilio model's checks (conns as a hash)
    assert nic_stage_problems(split(program, res.plan), load_model("agilio")) == []


def _compare(program, plan, frames) -> list:
    ref = InterpEngine(program)
    bad = []
    with StagePipeline(program, plan, xdp_engine="interp") as pipe:
        for i, (ts, f) in enumerate(frames):
            want = ref.run(f, ts)
            got = pipe.run(f, ts)
            if (got.verdict, got.frame) != (want.verdict, want.frame):
                bad.append((i, got.decided_by, got.verdict, want.verdict))
        if pipe.dump_state() != ref.dump_state():
            bad.append("final state")
    return bad


def test_agilio_lb_split_equals_the_whole_nf_on_the_mix():
    program, frames, _, res = _lb_case()
    with StagePipeline(program, res.plan, xdp_engine="interp") as pipe:
        nic = next(st for st in pipe.split.stages if st.stage == "nic")
        # the in-place write is lowered to the insert on the NIC stage
        assert "inplace0" not in {b.label for b in nic.program.blocks}
    assert _compare(program, res.plan, frames) == []


def _tcp_udp(frame: bytes) -> bool:
    return len(frame) >= 42 and frame[12:14] == b"\x08\x00" and frame[14] >> 4 == 4 \
        and frame[23] in PORTS and len(frame) >= 14 + (frame[14] & 0xF) * 4 + 4


@pytest.mark.skipif(not trace_files(), reason="no capture corpus (CORA_TRACES)")
def test_agilio_lb_split_equals_the_whole_nf_on_a_capture():
    """The smallest capture with at least 50 IPv4 TCP/UDP frames, as captured and with
    those frames sent to lb's services (client path: the host path for their flows)."""
    program, _, _, res = _lb_case()
    for path in sorted(trace_files(), key=lambda p: Path(p).stat().st_size):
        frames = [(ts, f) for ts, f in read_pcap(str(path)) if 14 <= len(f) <= 1500]
        if sum(_tcp_udp(f) for _, f in frames) >= 50:
            break
    else:
        pytest.fail("no capture with 50 IPv4 TCP/UDP frames in the corpus")
    assert _compare(program, res.plan, frames) == []
    to_vip = [(ts, _to_vip(f) if _tcp_udp(f) else f) for ts, f in frames]
    assert _compare(program, res.plan, to_vip) == []


# ------------------------------------------------------------------ nat

NAT = ROOT / "netfuncs" / "nat.nf"


def _from_inside(frame: bytes, untranslatable: bool) -> bytes:
    """``frame`` sent from nat's inside network (10.11.1.0/24); ``untranslatable``: as
    protocol 1 (ICMP), which nat drops rather than leak an inside address."""
    b = bytearray(frame)
    b[26:30] = bytes([10, 11, 1, b[29] % 254 + 1])
    if untranslatable:
        b[23] = 1
    ihl = (b[14] & 0xF) * 4
    b[24:26] = b"\0\0"
    s = sum(int.from_bytes(b[i:i + 2], "big") for i in range(14, 14 + ihl, 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    b[24:26] = (~s & 0xFFFF).to_bytes(2, "big")
    return bytes(b)


@cache
def _nat_case():
    program = compile_file(str(NAT))
    # inside hosts sending mostly what nat cannot translate (an ICMP flood from the inside):
    # by flow, 6/10 ICMP (dropped untranslated), 4/10 TCP/UDP (translated). With the
    # corpus' make-up (20% untranslatable, 48% non-IPv4) no cut pays: frames the NIC passes
    # still cost the host its per-packet work and the done shim's pop (docs/offload.md)
    frames = [(ts, _from_inside(f, f[34] % 10 < 6))
              for ts, f in zipf_frames(400, 1.1, 1500, seed=7)]
    profile = profile_from_frames(program, frames)
    pb = Problem(program, load_model("agilio"), load_model("xdp"), load_model("user"),
                 profile)
    res = solve_problem(pb, 10, None, time_limit_s=5, workers=1, explain=False)
    return program, frames, pb, res


def test_nat_reads_the_clock_after_its_early_verdicts():
    program = compile_file(str(NAT))
    now_blocks = {b.label for b in program.blocks if any(op.opcode == "now" for op in b.ops)}
    entry = program.topological_blocks()[0].label
    assert now_blocks and entry not in now_blocks
    # the untranslatable drop (STAT_DROP_UNTRANSLATABLE) runs no now() on its path
    drops = [b for b in program.blocks if b.terminator.opcode == "ret"
             and b.terminator.attrs["verdict"] == "drop"
             and not any(op.opcode == "now" for op in b.ops)]
    assert drops


def test_agilio_plan_drops_nats_untranslatable_frames_on_the_nic():
    program, frames, pb, res = _nat_case()
    assert res.plan is not None
    nic_drops = [lab for lab, s in res.plan.block_stage.items() if s == "nic"
                 and pb.verdict[lab] == "drop" and pb.freq[lab] > 0]
    assert nic_drops
    all_host = pb.evaluate(pb.make_plan(pb.all_host_stages()), 10)
    assert res.host_ns_per_packet < all_host.host_ns_per_packet
    assert res.plan.state_place["nat_in"][0][0] == "kernel"     # now() on every write
    assert nic_stage_problems(split(program, res.plan), load_model("agilio")) == []
    assert _compare(program, res.plan, frames) == []


# ------------------------------------------------------------------ the host-fed clock

RATELIMIT = ROOT / "netfuncs" / "ratelimit.nf"
SYNGUARD = ROOT / "netfuncs" / "synguard.nf"
#: synguard's flood target in the mix below (10.211.0.1, inside zipf_frames' destinations)
VICTIM = bytes([10, 211, 0, 1])


def _syn_flood(frames):
    """Two in three TCP frames of ``frames`` made SYNs to :data:`VICTIM` (over
    synguard's 1,000 SYNs per 1-s window when the mix is large enough), the rest unchanged
    (ACKs: the established sources synguard learns)."""
    out = []
    for i, (ts, f) in enumerate(frames):
        b = bytearray(f)
        if b[23] == 6 and i % 3:
            b[30:34] = VICTIM
            b[14 + (b[14] & 0xF) * 4 + 13] = 0x02                      # SYN
        out.append((ts, bytes(b)))
    return out


@cache
def _clock_case(nf: str):
    """The Agilio plan at 10 Mpps of ``nf`` on a skewed mix: ratelimit on the Zipf mix (the
    heavy sources' buckets run dry at 1 us between frames), synguard on it with a SYN flood."""
    program = compile_file(str(RATELIMIT if nf == "ratelimit" else SYNGUARD))
    frames = zipf_frames(400, 1.1, 3000, seed=3)
    if nf == "synguard":
        frames = _syn_flood(frames)
    pb = Problem(program, load_model("agilio"), load_model("xdp"), load_model("user"),
                 profile_from_frames(program, frames))
    res = solve_problem(pb, 10, None, time_limit_s=5, workers=1, explain=False)
    return program, frames, pb, res


@pytest.mark.parametrize("nf", ["ratelimit", "synguard"])
def test_agilio_offloads_the_clocked_nfs(nf):
    """now() comes before every non-pass verdict of ratelimit and synguard; with the
    host-fed clock the NIC runs now() blocks and the plan saves host cores. ratelimit: its
    buckets on the NIC for the heavy sources (a traffic split), drops decided there, better
    than every baseline; synguard: SYN counting per destination on the NIC, the mitigation
    (known and per-source windows, LRU maps) on the host, as good as the best baseline."""
    from cora.compiler.offload import baselines as bl
    program, frames, pb, res = _clock_case(nf)
    assert res.plan is not None and res.optimal
    now_blocks = {b.label for b in program.blocks if any(op.opcode == "now" for op in b.ops)}
    assert any(res.plan.block_stage[b] == "nic" and pb.freq[b] > 0 for b in now_blocks)
    base = bl.run_baselines(pb, 10)
    assert res.host_cores < 0.8 * base["all_host"].host_cores
    assert res.host_cores <= min(r.host_cores for r in base.values()) + 1e-9
    if nf == "ratelimit":
        assert res.plan.traffic is not None
        assert res.plan.state_place["buckets"][0][0] == "nic"
        verdicts = {pb.verdict[b] for b, s in res.plan.block_stage.items()
                    if s == "nic" and b in pb.verdict and pb.freq[b] > 0}
        assert "drop" in verdicts                     # the NIC polices, after now()
        assert res.host_cores < 0.5 * min(r.host_cores for r in base.values())
    else:
        assert res.plan.state_place["dst_windows"][0][0] == "nic"
    result = split(program, res.plan)
    nic = next(st for st in result.stages if st.stage == "nic")
    assert nic.clock_state == "cora_nic_clock"
    assert not any(op.opcode == "now" for _, op in nic.program.ops())
    clock = nic.program.state(nic.clock_state)
    assert (clock.kind, clock.capacity, clock.value[0].width) == ("array", 1, 64)
    assert nic_stage_problems(result, load_model("agilio")) == []
    # the host's stage reads its own clock
    assert all(st.clock_state is None for st in result.stages if st.stage != "nic")


@pytest.mark.parametrize("nf", ["ratelimit", "synguard"])
def test_clocked_split_equals_the_whole_nf(nf):
    """Fed the frame's time, the NIC stage's clock map makes the split the whole NF: verdict,
    frame and state on every frame; both verdicts occur."""
    program, frames, _, res = _clock_case(nf)
    assert _compare(program, res.plan, frames) == []
    ref = InterpEngine(program)
    assert {ref.run(f, ts).verdict for ts, f in frames} == {"pass", "drop"}


def test_a_clock_that_is_not_fed_changes_the_verdicts():
    """The clock map is what the NIC's now() reads: a stalled clock (never fed) lets
    ratelimit's buckets refill nothing, so verdicts differ from the whole NF's (the
    feeder matters; cora.runtime.clock_feed)."""
    program, frames, _, res = _clock_case("ratelimit")
    ref = InterpEngine(program)
    with StagePipeline(program, res.plan, xdp_engine="interp") as pipe:
        nic = next(i for i, st in enumerate(pipe.split.stages) if st.stage == "nic")
        pipe.split.stages[nic].clock_state = None      # nobody writes it: stays 0
        diff = sum(pipe.run(f, ts).verdict != ref.run(f, ts).verdict for ts, f in frames)
    assert diff > 0


@pytest.mark.kernel
@pytest.mark.parametrize("nf", ["ratelimit", "synguard"])
def test_clocked_split_in_the_kernel(nf, bcc_module):
    """The same split as real XDP programs (BPF_PROG_TEST_RUN): the NIC stage reads its
    clock from the map, written before each frame."""
    program, frames, _, res = _clock_case(nf)
    ref = InterpEngine(program)
    bad = []
    with StagePipeline(program, res.plan, xdp_engine="kernel") as pipe:
        for i, (ts, f) in enumerate(frames[:1500]):
            want, got = ref.run(f, ts), pipe.run(f, ts)
            if (got.verdict, got.frame) != (want.verdict, want.frame):
                bad.append((i, got.decided_by, got.verdict, want.verdict))
        if pipe.dump_state() != ref.dump_state():
            bad.append("final state")
    assert bad == []
