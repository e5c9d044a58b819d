"""allreduce with 4 workers on the shaped testbed with 1% injected loss (drop_fraction.nf
deployed by cora's deploy API on both ends of every worker link), bit-exact on every worker;
everything the testbed made is gone afterwards."""

from __future__ import annotations

import numpy as np
import pytest
from pyroute2 import netns

from cora.ina import allocate, allreduce, quantize
from cora.ina.ps import Aggregator
from cora.runtime import pins
from cora.testbed.ina_topology import SWITCH_IP, InaTestbed

from .workers import run_threads

pytestmark = [pytest.mark.netns, pytest.mark.kernel, pytest.mark.slow]

N = 4
DEADLINE_S = 120.0


def test_four_workers_one_percent_loss_bit_exact():
    rng = np.random.default_rng(12)
    xs = [rng.standard_normal(150_000).astype(np.float32) for _ in range(N)]
    stats: list[dict] = [{} for _ in range(N)]
    with InaTestbed(N, loss=0.01) as tb:
        prefix = tb.topo.prefix
        with tb.in_switch():
            agg = Aggregator(SWITCH_IP, 0, pool_slots=128)
        with agg:
            addr = (SWITCH_IP, agg.port)
            with tb.in_worker(0):
                allocate(addr, 5, 32, N)

            def run(i):
                with tb.in_worker(i):
                    return allreduce(xs[i], job=5, worker=i, n_workers=N, aggregator=addr,
                                     slots=32, stats=stats[i])

            results, errors = run_threads(run, N, DEADLINE_S)
            drops = tb.drop_stats()
        assert errors == [None] * N
        # the loss was real: frames were dropped and chunks retransmitted
        assert sum(d["dropped"] for d in drops.values()) > 0
        assert sum(s["retransmissions"] for s in stats) > 0
        expect = np.sum([quantize(x) for x in xs], axis=0, dtype=np.int32)
        expect = (expect.astype(np.float64) * 2.0**-16).astype(np.float32)
        for r in results:
            assert np.array_equal(r, expect)
    assert not [n for n in netns.listnetns() if n.startswith(prefix)]
    assert not [p for p in pins.BPFFS_MOUNT.glob(f"cora/{prefix}*")]


def test_four_workers_lhc_with_stalls_and_one_percent_loss_equal_the_dense_sum():
    """Issue 13's "done when": LHC all-reduce of random sparse int32 tensors on 4 testbed
    workers with 1% loss, two-round, one-round and with an undersized sketch (peeling
    stalls, the fallback round finishes), every result equal to the dense integer sum."""
    from cora.ina import lhc

    rng = np.random.default_rng(13)
    n = 60_000
    xs = [np.where(rng.random(n) < 0.02, rng.integers(-2**20, 2**20, n), 0).astype(np.int32)
          for _ in range(N)]
    expect = np.sum(xs, axis=0, dtype=np.int32)
    u = int(np.count_nonzero(np.bitwise_or.reduce([x != 0 for x in xs])))
    cases = [{"compress": "lhc"}, {"compress": "lhc", "sketch_cells": lhc.sketch_cells(u)},
             {"compress": "lhc", "sketch_cells": 3 * (u // 6)}, {"compress": "union"}]
    with InaTestbed(N, loss=0.01) as tb:
        prefix = tb.topo.prefix
        with tb.in_switch():
            agg = Aggregator(SWITCH_IP, 0, pool_slots=128)
        with agg:
            addr = (SWITCH_IP, agg.port)
            with tb.in_worker(0):
                allocate(addr, 6, 32, N)
            for kw in cases:
                stats = [{} for _ in range(N)]

                def run(i, kw=kw, stats=stats):
                    with tb.in_worker(i):
                        return allreduce(xs[i], job=6, worker=i, n_workers=N, aggregator=addr,
                                         slots=32, stats=stats[i], **kw)

                results, errors = run_threads(run, N, DEADLINE_S, what=f"allreduce {kw}")
                assert errors == [None] * N, kw
                for r in results:
                    assert np.array_equal(r, expect), kw
                assert all(s["union"] == u for s in stats)
                if kw.get("sketch_cells") == 3 * (u // 6):
                    assert all(s["unresolved"] > 0 and s["bytes_fallback"] > 0 for s in stats)
            drops = tb.drop_stats()
        assert sum(d["dropped"] for d in drops.values()) > 0
    assert not [n for n in netns.listnetns() if n.startswith(prefix)]
    assert not [p for p in pins.BPFFS_MOUNT.glob(f"cora/{prefix}*")]
