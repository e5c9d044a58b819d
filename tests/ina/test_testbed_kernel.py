"""The in-kernel aggregator on the shaped testbed: netfuncs/ina/ina.nf deployed by cora on the
switch's bridge (generic XDP, its `workers` group = the worker ports), 4 workers, 1% injected
loss (drop_fraction.nf on both ends of every link); dense and LHC all-reduces through the NF
only (no user-space aggregator runs), every worker's result bit-exact against numpy, the
results multicast by the NF and shaped on the way to the workers (the ifb0 shaper of each
worker counted them); everything the testbed made is gone afterwards.

`long`: bcc compiles the NF for minutes (its unrolled 256-value loops; docs/ina.md).
"""

from __future__ import annotations

import numpy as np
import pytest
from pyroute2 import netns

from cora.ina import allreduce, quantize
from cora.ina import protocol as P
from cora.ina.worker import RESULT_PORT
from cora.runtime import pins
from cora.testbed.ina_topology import SWITCH_IP, InaTestbed

from .workers import run_threads

pytestmark = [pytest.mark.netns, pytest.mark.kernel, pytest.mark.slow, pytest.mark.long]

N = 4
DEADLINE_S = 120.0
AGG = (SWITCH_IP, P.UDP_PORT)


def _all(tb: InaTestbed, xs: list[np.ndarray], job: int, **kw) -> tuple[list, list[dict]]:
    """allreduce on every worker at once (a thread per worker, in its namespace)."""
    stats: list[dict] = [{} for _ in range(N)]

    def run(i: int) -> np.ndarray:
        with tb.in_worker(i):
            return allreduce(xs[i], job=job, worker=i, n_workers=N, aggregator=AGG, slots=32,
                             stats=stats[i], result_port=RESULT_PORT, **kw)

    results, errors = run_threads(run, N, DEADLINE_S, what=f"allreduce {kw}")
    assert errors == [None] * N, kw
    return results, stats


def test_kernel_aggregator_four_workers_one_percent_loss_bit_exact():
    rng = np.random.default_rng(21)
    dense = [rng.standard_normal(150_000).astype(np.float32) for _ in range(N)]
    n = 60_000
    sparse = [np.where(rng.random(n) < 0.02, rng.integers(-2**20, 2**20, n), 0)
              .astype(np.int32) for _ in range(N)]
    with InaTestbed(N, loss=0.01) as tb:
        prefix = tb.topo.prefix
        tb.deploy_aggregator({5: (32, N), 6: (32, N)})
        down = [tb.shaped_bytes(i)["down"] for i in range(N)]
        results, stats = _all(tb, dense, 5)
        expect = np.sum([quantize(x) for x in dense], axis=0, dtype=np.int32)
        expect = (expect.astype(np.float64) * 2.0**-16).astype(np.float32)
        for r in results:
            assert np.array_equal(r, expect)
        # the loss was real: frames dropped and chunks retransmitted
        assert sum(d["dropped"] for d in tb.drop_stats().values()) > 0
        assert sum(s["retransmissions"] for s in stats) > 0
        # each worker's results (>= one 1,086-byte frame per chunk) crossed its shaper
        chunks = -(-150_000 // P.K)
        for i in range(N):
            assert tb.shaped_bytes(i)["down"] - down[i] >= chunks * (P.PACKET_BYTES + 42)
        # LHC (issue 13) through the NF too: OR rounds, sketches, a stalled sketch's
        # fallback round; every result the dense integer sum
        want = np.sum(sparse, axis=0, dtype=np.int32)
        u = int(np.count_nonzero(np.bitwise_or.reduce([x != 0 for x in sparse])))
        for kw in ({"compress": "lhc"}, {"compress": "lhc", "sketch_cells": 3 * (u // 6)}):
            results, stats = _all(tb, sparse, 6, **kw)
            for r in results:
                assert np.array_equal(r, want), kw
            if "sketch_cells" in kw:
                assert all(s["unresolved"] > 0 and s["bytes_fallback"] > 0 for s in stats)
        verdicts = tb.aggregator_stats()
        assert verdicts.get("multicast", 0) >= chunks     # results left by multicast
    assert not [n for n in netns.listnetns() if n.startswith(prefix)]
    assert not [p for p in pins.BPFFS_MOUNT.glob(f"cora/{prefix}*")]
