"""CP-SAT against exhaustive search on random small programs, profiles and stage models.

Random acyclic programs (3-7 blocks, half of them starting with a filter that drops, registers from
the entry block live across blocks, map ops on two states, verdicts pass/drop/tx), random branch
probabilities, random stage models (costs, per-packet and crossing figures, NIC cores, tiers,
capabilities) and random targets. The CP-SAT plan must be proved optimal, satisfy every constraint,
and cost exactly what the exhaustive (branch-and-bound) optimum costs, in both modes.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cora.compiler.ir import Builder, IntType, Program, RefType, StateDecl, StateField
from cora.compiler.ir.verify import verify
from cora.compiler.offload import baselines as bl
from cora.compiler.offload.partition import Problem, solve_problem
from cora.compiler.offload.profile import Profile
from cora.compiler.offload.stage_model import ALL_OP_CLASSES
from tests.compiler.partition_helpers import EXHAUSTIVE_LIMIT_S, KINDS, SOLVER, model

U1, U8, U32, U64 = IntType(1), IntType(8), IntType(32), IntType(64)


@st.composite
def programs(draw):
    n = draw(st.integers(3, 7))
    p = Program("rnd")
    p.states.append(StateDecl("H", "hash", (StateField("k", 32),), (StateField("v", 64),),
                              draw(st.sampled_from([16, 1000])), "skip"))
    p.states.append(StateDecl("L", "lru_hash", (StateField("k", 32),), (StateField("v", 64),),
                              draw(st.sampled_from([16, 1000])), "evict"))
    b = Builder(p)
    filter_first = draw(st.booleans())
    blocks = [b.current] + [b.new_block() for _ in range(n - 1)]
    entry_regs = [b.emit("hdr.load", U32, header="ipv4", field="saddr"),
                  b.emit("hdr.load", U32, header="ipv4", field="daddr")]
    for i, blk in enumerate(blocks):
        b.set_block(blk)
        for _ in range(draw(st.integers(0, 4))):
            kind = draw(st.sampled_from(["alu", "live", "lookup", "update", "hash", "store"]))
            if kind == "alu":
                c = b.emit("const", U32, value=draw(st.integers(0, 9)))
                b.emit("add", U32, c, c)
            elif kind == "live":
                r = draw(st.sampled_from(entry_regs))
                b.emit("xor", U32, r, r)
            elif kind in ("lookup", "update"):
                s = draw(st.sampled_from(["H", "L"]))
                k = b.emit("const", U32, value=1)
                if kind == "lookup":
                    h = b.emit("map.lookup", RefType(s), k, state=s)
                    b.emit("ref.load", U64, h, state=s, index=0)
                else:
                    v = b.emit("const", U64, value=1)
                    b.emit("map.update", U1, k, v, state=s, nkeys=1)
            elif kind == "hash":
                b.emit("hash", U32, draw(st.sampled_from(entry_regs)), seed=3)
            else:
                v = b.emit("const", U8, value=9)
                b.emit("hdr.store", None, v, header="ipv4", field="ttl")
        later = [x.label for x in blocks[i + 1:]]
        shape = draw(st.sampled_from(["ret", "jmp", "br"])) if later else "ret"
        if i == 0 and filter_first:
            # an early filter: the last block drops (what offloading pays off on)
            c = b.emit("hdr.valid", U1, header="ipv4")
            b.terminate("br", (c,), targets=(blocks[1].label, blocks[-1].label))
        elif i == n - 1 and filter_first:
            b.terminate("ret", verdict="drop")
        elif shape == "ret":
            b.terminate("ret", verdict=draw(st.sampled_from(["pass", "drop", "tx"])))
        elif shape == "jmp":
            b.terminate("jmp", targets=(draw(st.sampled_from(later)),))
        else:
            c = b.emit("hdr.valid", U1, header="ipv4")
            t = draw(st.sampled_from(later))
            e = draw(st.sampled_from(later))
            b.terminate("br", (c,), targets=(t, e))
    verify(p)
    return p


def random_profile(draw, program) -> Profile:
    """Block and edge frequencies with a random probability on every branch."""
    order = program.topological_blocks()
    freq = {order[0].label: 1.0}
    edges: dict = {}
    for blk in order:
        f = freq.get(blk.label, 0.0)
        succ = blk.successors()
        if not succ:
            continue
        if len(succ) == 2 and succ[0] != succ[1]:
            q = draw(st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]))
            shares = [f * q, f * (1 - q)]
        else:
            shares = [f / len(succ)] * len(succ)
        for s, sh in zip(succ, shares, strict=True):
            edges[(blk.label, s)] = edges.get((blk.label, s), 0.0) + sh
            freq[s] = freq.get(s, 0.0) + sh
    return Profile(packets=0, block_count=freq, edge_count=edges, source="synthetic")


def random_models(draw):
    def costs(choices=(0.5, 1, 2, 5)):
        return {c: float(draw(st.sampled_from(choices))) for c in ALL_OP_CLASSES}
    nic_classes = [c for c in ALL_OP_CLASSES if c != "hash" or draw(st.booleans())]
    nic_kinds = ["hash", "array"] + (["lru_hash"] if draw(st.booleans()) else [])
    tiers = draw(st.sampled_from([(("BIG", 1 << 30, 2.0),),
                                  (("SMALL", 20000, 1.0), ("BIG", 1 << 30, 8.0)),
                                  (("TINY", 500, 1.0),)]))
    nic = model("rnic", "nic", float(draw(st.sampled_from([1, 5, 20]))),
                cores=draw(st.integers(1, 4)), tiers=tiers, op_classes=nic_classes,
                op_cost_ns=costs((1, 5, 20)), map_kinds=nic_kinds,
                map_cost_ns={k: 1.0 for k in KINDS},
                max_instructions=draw(st.sampled_from([0, 40, 200])),
                max_shim_bytes=draw(st.sampled_from([4, 64])))
    kernel = model("rkernel", "host", float(draw(st.sampled_from([5, 20]))),
                   crossing_ns=float(draw(st.sampled_from([0, 5, 30]))), shim_byte_ns=0.5,
                   op_cost_ns=costs())
    user = model("ruser", "host", float(draw(st.sampled_from([10, 50]))),
                 crossing_ns=float(draw(st.sampled_from([20, 100]))), op_cost_ns=costs())
    return nic, kernel, user


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_cpsat_equals_exhaustive_on_random_problems(data):
    program = data.draw(programs())
    profile = random_profile(data.draw, program)
    nic, kernel, user = random_models(data.draw)
    pb = Problem(program, nic, kernel, user, profile)
    rate = data.draw(st.sampled_from([5.0, 20.0, 50.0, 100.0, 200.0]))
    res = solve_problem(pb, rate, None, **SOLVER)
    ex = bl.exhaustive(pb, rate, time_limit_s=EXHAUSTIVE_LIMIT_S)
    assert ex.finished
    assert res.plan is not None and res.optimal           # all on the host always fits
    assert pb.evaluate(res.plan, rate).feasible
    assert res.host_cores == pytest.approx(ex.host_cores, abs=1e-12)
    for b in bl.run_baselines(pb, rate).values():
        assert res.host_cores <= b.host_cores + 1e-12
    cores = data.draw(st.sampled_from([0.0, 0.5, 2.0]))
    res = solve_problem(pb, None, cores, explain=False, **SOLVER)
    ex = bl.exhaustive(pb, None, cores, time_limit_s=EXHAUSTIVE_LIMIT_S)
    assert ex.finished
    assert (res.plan is None) == (ex.plan is None)
    if res.plan is not None:
        assert res.optimal
        assert res.rate_mpps == pytest.approx(ex.rate_mpps, rel=1e-9)
