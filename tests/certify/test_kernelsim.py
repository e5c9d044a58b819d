"""The kernel's view in the simulator: one-round-late feedback and the runtime fallback rule;
the testbed's schedules and fairness index (no root needed)."""

import numpy as np
import pytest

from cora.certify.baselines import Cubic
from cora.certify.kernelsim import (
    AckClocked,
    MeasuredNoise,
    RuntimeController,
    ks_distance,
    path_observations,
)
from cora.certify.netlab import cellular_trace, jain_index, parse_ss, step_trace
from cora.certify.nn import init_mlp
from cora.certify.sim import Envs, PolicyController, StepInfo


def _net(seed=0):
    return init_mlp(6, (8,), 1, np.random.default_rng(seed), out_scale=0.3, output="clip")


def _info(rtt, w=10.0, loss=0.0):
    one = lambda v: np.array([float(v)])  # noqa: E731
    return StepInfo(one(w), one(rtt), one(0.1), one(loss), np.array([loss > 0]), one(w / rtt))


def test_ackclocked_feeds_the_previous_round():
    pc = PolicyController(_net())
    ack = AckClocked(pc, 1)
    envs = Envs(np.array([10.0]), np.array([0.1]), np.array([1.0]), np.array([0.0]))
    ack.reset(envs, np.array([10.0]))
    ack.update(_info(0.1))            # first round: its own feedback (nothing older)
    assert pc.last_obs[0, 0] == 0.0
    ack.update(_info(0.2))            # sees round 1 (q = 0), not this round's q = 1
    assert pc.last_obs[0, 0] == 0.0
    ack.update(_info(0.3))            # sees round 2: q = 1
    assert pc.last_obs[0, 0] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        AckClocked(pc, -1)


def test_runtime_uses_cubic_outside_proven_cells_and_on_loss():
    net = _net(1)
    envs = Envs(np.array([10.0]), np.array([0.1]), np.array([1.0]), np.array([0.0]))
    none = np.zeros(8100, bool)
    rc, cubic = RuntimeController(net, none), Cubic()
    rc.reset(envs, np.array([10.0]))
    cubic.reset(envs, np.array([10.0]))
    for rtt, loss in ((0.1, 0.0), (0.12, 0.0), (0.15, 0.1)):
        w = rc.update(_info(rtt, loss=loss))
        assert np.allclose(w, cubic.update(_info(rtt, loss=loss)))
        assert not rc.last_proven.any()
    every = np.ones(8100, bool)
    rc = RuntimeController(net, every)
    rc.reset(envs, np.array([10.0]))
    w = rc.update(_info(0.1))
    assert rc.last_proven.all()
    from cora.certify.sim import apply_action
    assert np.allclose(w, apply_action(np.array([10.0]), np.asarray(net(rc.last_obs)).ravel()))
    rc.update(_info(0.1, loss=0.2))  # loss: Cubic's decrease even in a proven cell
    assert not rc.last_proven.any()


def test_path_observations_modes_and_fallback_share():
    net = _net(2)
    table = np.zeros(8100, bool)
    for mode in ("fluid", "runtime", "ackclocked", "kernelview"):
        r = path_observations(net, table, 10, 20, 1.0, steps=30, mode=mode, runs=2,
                              q_noise=[0.01, 0.03])
        assert r["x"].shape == (2 * 29, 6) and r["fallback_share"] == 1.0
    r = path_observations(net, np.ones(8100, bool), 10, 20, 1.0, steps=30, mode="fluid", runs=2)
    assert r["fallback_share"] == 0.0
    with pytest.raises(ValueError, match="unknown mode"):
        path_observations(net, table, 10, 20, 1.0, mode="packet")
    with pytest.raises(ValueError, match="q_noise"):
        path_observations(net, table, 10, 20, 1.0, mode="kernelview")


def test_measured_noise_shifts_the_observed_queue():
    pc = PolicyController(_net())
    noisy = MeasuredNoise(pc, [0.25], np.random.default_rng(0))
    envs = Envs(np.array([10.0]), np.array([0.1]), np.array([1.0]), np.array([0.0]))
    noisy.reset(envs, np.array([10.0]))
    noisy.update(_info(0.1))                  # no queue: q = 0 + the error 0.25
    assert noisy.last_obs[0, 0] == pytest.approx(0.25)
    with pytest.raises(ValueError):
        MeasuredNoise(pc, [], np.random.default_rng(0))


def test_ks_distance():
    a = np.arange(100.0)
    assert ks_distance(a, a) == 0.0
    assert ks_distance(a, a + 1000) == 1.0
    assert 0.0 < ks_distance(a, a + 10) <= 0.11
    with pytest.raises(ValueError):
        ks_distance([], a)


def test_schedules_and_jain_index():
    rng = np.random.default_rng(0)
    tr = cellular_trace(20, rng, mean_mbit=10, lo_mbit=1, hi_mbit=30)
    t = [p[0] for p in tr]
    r = np.array([p[1] for p in tr])
    assert t == sorted(t) and t[0] == 0 and len(tr) == 40
    assert r.min() >= 1 and r.max() <= 30 and r.std() > 0.5
    assert cellular_trace(20, np.random.default_rng(0)) == tr      # reproducible from the seed
    assert step_trace(9, (10, 3, 10)) == [(0.0, 10.0), (3.0, 3.0), (6.0, 10.0)]
    assert jain_index([5, 5]) == pytest.approx(1.0)
    assert jain_index([10, 0]) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        jain_index([])


def test_parse_ss_takes_the_bulk_connection_per_port():
    text = (
        "ESTAB 0 0 10.77.0.1:40000 10.77.0.2:5299\n"
        "\t cubic rtt:20.5/1 cwnd:10 bytes_acked:100 minrtt:20.1\n"
        "ESTAB 0 0 10.77.0.1:40002 10.77.0.2:5299\n"
        "\t cubic rtt:31.5/2 cwnd:42 bytes_acked:900000 minrtt:20.0\n"
        "ESTAB 0 0 10.77.0.1:40004 10.77.0.2:5300\n"
        "\t bbr rtt:25/2 cwnd:30 bytes_acked:5000\n")
    got = parse_ss(text)
    assert got[5299] == (31.5, 42, 20.0)
    assert got[5300] == (25.0, 30, None)


def test_controller_for_an_ackclocked_policy_is_lagged():
    from cora.certify.baselines import controller_for
    net = _net(4)
    net.spec = {"trained": {"controller": "ackclocked"}}
    ctrl = controller_for(net)
    assert isinstance(ctrl, AckClocked) and isinstance(ctrl.inner, PolicyController)
    net.spec = {"trained": {"controller": "window"}}
    assert isinstance(controller_for(net), PolicyController)
