"""The benchmark worker of bench/ina.py and bench/ina_lhc.py (cora.testbed.ina_run) on
loopback: its JSON lines, exactness checks, summaries and one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cora.ina import allocate, forget
from cora.ina.ps import Aggregator
from cora.testbed import ina_run


def test_sparse_tensors_are_seeded_per_rank_and_density():
    a, b = ina_run.sparse_tensor(0, 10_000, 0.01), ina_run.sparse_tensor(1, 10_000, 0.01)
    assert a.dtype == np.int32 and a.shape == (10_000,)
    assert np.array_equal(a, ina_run.sparse_tensor(0, 10_000, 0.01))
    assert not np.array_equal(a, b)
    assert 0 < np.count_nonzero(a) < 300 and np.abs(a).max() <= 2**20
    assert not ina_run.sparse_tensor(0, 1000, 0.0).any()
    assert np.count_nonzero(ina_run.sparse_tensor(0, 1000, 1.0)) > 990


def test_summarise_takes_the_median_of_the_slowest_rank():
    rows = [{"key": 4, "rank": r, "time_s": t, "exact": True, "retransmissions": r,
             "wire_bytes": 100 * (r + 1)}
            for r, times in enumerate([(1.0, 5.0, 2.0), (3.0, 1.0, 1.0)]) for t in times]
    out = ina_run.summarise(rows)[4]
    # per repeat the slowest rank: 3.0, 5.0, 2.0 -> median 3.0
    assert out["s"] == 3.0 and out["exact"] is True
    assert out["retransmissions"] == 3 and out["wire_bytes"] == 150
    rows[0]["exact"] = False
    assert ina_run.summarise(rows)[4]["exact"] is False


@pytest.mark.parametrize("method, workload", [
    ("ps", ["--sizes-mb", "0.01"]),
    ("union", ["--elements", "5000", "--densities", "0.01,1"]),
    ("lhc1", ["--elements", "5000", "--densities", "0.05"]),
])
def test_one_worker_prints_exact_measurements(capsys, method, workload):
    forget()
    with Aggregator("127.0.0.1", 0, pool_slots=8) as agg:
        allocate(("127.0.0.1", agg.port), 1, 8, 1)
        rc = ina_run.main(["--method", method, "--rank", "0", "--workers", "1", "--repeats",
                           "2", "--aggregator", f"127.0.0.1:{agg.port}", "--slots", "8",
                           "--ifname", "lo", *workload])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert rc == 0 and lines and all("error" not in x for x in lines)
    assert all(x["exact"] is True and x["wire_bytes"] > 0 for x in lines)
    keys = {x["key"] for x in lines}
    assert keys == ({10_000} if method == "ps" else
                    {float(d) for d in workload[-1].split(",")})


def test_a_failing_worker_prints_one_error_line_and_exits_1(capsys):
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc = ina_run.main(["--method", "ps", "--rank", "0", "--workers", "1", "--sizes-mb",
                       "0.01", "--aggregator", f"127.0.0.1:{port}", "--timeout-s", "1",
                       "--ifname", "lo"])
    lines = capsys.readouterr().out.splitlines()
    assert rc == 1 and len(lines) == 1 and "nothing listens" in json.loads(lines[0])["error"]
