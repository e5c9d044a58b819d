"""The Aurora baseline (cora.certify.baselines.Aurora): action rule, observation, reward,
training, and the properties restated over its observation."""

import numpy as np
import pytest

from cora.certify.baselines import (
    AURORA_OBS_HI,
    AURORA_OBS_LO,
    Aurora,
    aurora_rate,
    aurora_reward,
    controller_for,
)
from cora.certify.nn import MLP
from cora.certify.properties import PROPERTIES, check_property, properties_for
from cora.certify.sim import Envs, StepInfo, simulate
from cora.errors import InputError


def const(c: float, aurora: bool = True) -> MLP:
    net = MLP([np.zeros((2, 6)), np.zeros((1, 2))], [np.zeros(2), np.array([c])], output="clip")
    if aurora:
        net.spec = {"trained": {"controller": "aurora"}}
    return net


def test_action_rule_known_values():
    # x (1 + 0.025 a) for a >= 0, x / (1 - 0.025 a) for a < 0 (Jay et al. 2019)
    np.testing.assert_allclose(aurora_rate(np.array([100.0] * 4), np.array([1.0, 0.4, 0.0, -1.0])),
                               [102.5, 101.0, 100.0, 100.0 / 1.025])
    np.testing.assert_allclose(aurora_rate(200.0, -2.0), 200.0 / 1.05)  # unbounded action
    assert aurora_reward(100.0, 0.05, 0.01) == pytest.approx(1000 - 50 - 20)


def _info(cwnd, rtt, min_rtt, delivered_pkts):
    n = len(cwnd)
    return StepInfo(np.array(cwnd, float), np.array(rtt, float), np.array(min_rtt, float),
                    np.zeros(n), np.zeros(n, bool), np.array(delivered_pkts, float) / np.array(rtt))


def test_observation_and_rate_known_values():
    envs = Envs(np.ones(1), np.array([0.05]), np.ones(1), np.zeros(1))
    ctrl = Aurora(const(1.0))
    ctrl.reset(envs, np.array([10.0]))          # rate 10 / 0.05 = 200 packets/s
    w = ctrl.update(_info([10], [0.1], [0.05], [8]))
    # gradient 0 (first interval), latency ratio 0.1 / 0.05 = 2, sending ratio 10 / 8 = 1.25;
    # the empty history is (0, 1, 1)
    np.testing.assert_allclose(ctrl.last_obs, [[0.0, 2.0, 1.25, 0.0, 1.0, 1.0]])
    np.testing.assert_allclose(w, [200 * 1.025 * 0.1])   # new rate x this interval's RTT
    w = ctrl.update(_info([20.5], [0.2], [0.05], [20.5]))
    # gradient (0.2 - 0.1) / 0.2 = 0.5, ratio 4, sending 1; history = the previous interval
    np.testing.assert_allclose(ctrl.last_obs, [[0.5, 4.0, 1.0, 0.0, 2.0, 1.25]])
    np.testing.assert_allclose(w, [200 * 1.025 ** 2 * 0.2])
    ctrl.update(_info([10], [1.0], [0.05], [1]))   # ratio 20, sending 10: clipped to the domain
    assert np.all(ctrl.last_obs >= AURORA_OBS_LO) and np.all(ctrl.last_obs <= AURORA_OBS_HI)
    np.testing.assert_allclose(ctrl.last_obs[0, 1:3], [5.0, 2.0])


def test_simulated_aurora_rate_and_dispatch():
    assert isinstance(controller_for(const(0.0)), Aurora)
    assert not isinstance(controller_for(const(0.0, aurora=False)), Aurora)
    # a = +1 on an empty 100 Mbit/s, 200 ms path: the rate grows 2.5 % per RTT, the window
    # is rate x RTT = 10 x 1.025^(t)  (no queue: RTT = base RTT)
    big = Envs(np.full(2, 100.0), np.full(2, 0.2), np.full(2, 3.0), np.zeros(2))
    tr = simulate(Aurora(const(1.0)), big, 5, np.random.default_rng(0))
    np.testing.assert_allclose(tr.cwnd_pkts[:, 0], 10.0 * 1.025 ** np.arange(5))


def test_training_runs_and_is_reproducible():
    from cora.certify.train import TrainConfig, train
    cfg = TrainConfig(mode="performance", controller="aurora", iterations=2, population=3,
                      n_envs=6, steps=15, hidden=(8, 8), seed=3)
    curve = []
    a = train(cfg, progress=False, curve=curve)
    b = train(cfg, progress=False)
    assert len(curve) == 2 and all(np.isfinite(c["perf_mean"]) for c in curve)
    np.testing.assert_array_equal(a.params(), b.params())
    assert a.spec["trained"]["controller"] == "aurora"
    assert a.spec["features"][:3] == ["latency_gradient[t]", "latency_ratio[t]", "sending_ratio[t]"]
    assert isinstance(controller_for(a), Aurora)
    with pytest.raises(InputError):
        train(TrainConfig(controller="pcc", iterations=1), progress=False)


def test_restated_regions_contain_the_original_regions_image():
    """Every observation of a state in a pointwise region, seen through Aurora's features,
    lies in the restated box (what makes a proof on the box a proof on the region)."""
    rng = np.random.default_rng(0)
    aur = properties_for(const(0.0))
    for name in ("backoff_delay", "backoff_loss", "probe"):
        p = PROPERTIES[name]
        x = rng.uniform(p.lo, p.hi, (20000, 6))
        q_t, g_t, l_t, q_p, g_p, l_p = x.T
        ok = (q_t - g_t >= 0) & (q_p - g_p >= 0)          # q_{t-1} = q_t - g_t >= 0
        z = np.stack([g_t / (1 + q_t), 1 + q_t, 1 / (1 - l_t),
                      g_p / (1 + q_p), 1 + q_p, 1 / (1 - l_p)], axis=1)[ok]
        z = np.clip(z, AURORA_OBS_LO, AURORA_OBS_HI)
        assert np.all((z >= aur[name].lo - 1e-12) & (z <= aur[name].hi + 1e-12)), name


def test_constant_policies_fail_what_they_should():
    up, down = const(1.0), const(-1.0)
    assert set(properties_for(up)) == {"bounded", "backoff_delay", "backoff_loss", "probe",
                                       "monotonic"}
    for name in ("backoff_delay", "backoff_loss"):
        assert check_property(up, name, max_boxes=16)["proven_fraction"] == 0.0
        assert check_property(down, name, max_boxes=16)["proven_fraction"] == 1.0
    assert check_property(down, "probe", max_boxes=16)["proven_fraction"] == 0.0
    assert check_property(up, "probe", max_boxes=16)["proven_fraction"] == 1.0
    for name in ("robust", "queue_safety", "congestion_response"):
        with pytest.raises(InputError, match="does not apply"):
            check_property(up, name, max_boxes=16)


def test_shipped_aurora_policy_loads_as_aurora():
    from cora.certify.nn import load_policy, shipped_policy
    net = load_policy(shipped_policy("aurora"))
    assert isinstance(controller_for(net), Aurora)
    assert net.spec["action_gain"] == 0.025 and net.n_in == 6


def test_cli_check_all_and_export_of_an_aurora_policy(tmp_path, capsys):
    """`cora certify check --property all` certifies the restated subset; export refuses."""
    from cora.certify.export import export
    from cora.certify.nn import shipped_policy
    from cora.cli import main
    rc = main(["certify", "check", shipped_policy("aurora"), "--property", "all",
               "--max-boxes", "8", "--visit-envs", "4", "--visit-steps", "10"])
    out = capsys.readouterr().out
    assert rc == 0 and "backoff_loss" in out and "robust" not in out and "queue_safety" not in out
    with pytest.raises(InputError, match="Aurora"):
        export(const(0.0), str(tmp_path / "x"), compile_obj=False)


def test_link_rescaled_reward_ablation():
    """``aurora_link_pps`` rescales only the throughput term: equal to Aurora's own reward
    when every link already has that rate, different otherwise."""
    from cora.certify.nn import init_mlp
    from cora.certify.train import performance
    net = init_mlp(6, (8,), 1, np.random.default_rng(0), output="clip")
    thetas = np.stack([net.params(), -net.params()])
    envs = Envs(np.full(4, 12.0), np.full(4, 0.04), np.full(4, 1.0), np.full(4, 0.01))
    own = performance(net, thetas, envs, 20, 1, "aurora")
    same = performance(net, thetas, envs, 20, 1, "aurora", float(envs.rate_pps[0]))
    half = performance(net, thetas, envs, 20, 1, "aurora", float(envs.rate_pps[0]) / 2)
    np.testing.assert_allclose(same, own)
    assert np.all(half < own)
