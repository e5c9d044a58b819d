"""Simulator dynamics, baselines, property certificates and training."""

import numpy as np
import pytest

from cora.certify.baselines import BBRLike, Cubic, VegasLike
from cora.certify.evaluate import evaluate
from cora.certify.nn import MLP, init_mlp
from cora.certify.properties import PROPERTIES, check_property
from cora.certify.sim import (
    OBS_LO,
    Envs,
    PolicyController,
    apply_action,
    overflow_loss,
    queue_bdp,
    sample_envs,
    simulate,
)
from cora.certify.train import TrainConfig, train


def _envs(rate=10.0, rtt=0.05, buf=1.0, loss=0.0, n=4):
    f = lambda v: np.full(n, float(v))  # noqa: E731
    return Envs(f(rate), f(rtt), f(buf), f(loss))


class Fixed:
    """A controller that holds the window at a given multiple of the BDP."""

    def __init__(self, w):
        self.w = w

    def reset(self, envs, cwnd):
        self.target = self.w * envs.bdp_pkts

    def update(self, info):
        return self.target


def test_fluid_model_identities():
    envs = _envs()
    for w, util, q in [(0.5, 0.5, 0.0), (1.0, 1.0, 0.0), (1.5, 1.0, 0.5)]:
        tr = simulate(Fixed(w), envs, 5, np.random.default_rng(0))
        assert tr.utilisation[-1] == pytest.approx(np.full(4, util))
        assert tr.queue_bdp[-1] == pytest.approx(np.full(4, q))
        assert tr.queue_delay_s[-1] == pytest.approx(np.full(4, q * 0.05))
    tr = simulate(Fixed(3.0), envs, 5, np.random.default_rng(0))  # buffer 1 BDP overflows
    assert tr.loss_rate[-1] == pytest.approx(np.full(4, (3 - 2) / 3))
    assert queue_bdp(3.0, 1.0) == 1.0 and overflow_loss(3.0, 1.0) == pytest.approx(1 / 3)


def test_apply_action_is_monotone_and_bounded():
    a = np.linspace(-3, 3, 61)
    w = apply_action(np.ones_like(a), a)
    assert np.all(np.diff(w) >= 0)
    assert w.min() == pytest.approx(1 / 1.5) and w.max() == pytest.approx(1.5)


def test_observation_matches_definition():
    envs = _envs(n=1)
    ctrl = PolicyController(lambda x: np.zeros((len(x), 1)))
    tr = simulate(Fixed(1.5), envs, 1, np.random.default_rng(0))
    ctrl.reset(envs, np.array([10.0]))
    from cora.certify.sim import StepInfo
    info = StepInfo(np.array([75.0]), np.array([0.075]), np.array([0.05]), np.array([0.01]),
                    np.array([True]), np.array([1000.0]))
    x1 = ctrl.observe(info)
    assert x1[0, :3] == pytest.approx([0.5, 0.5, 0.01]) and np.all(x1[0, 3:] == 0)
    x2 = ctrl.observe(info)
    assert x2[0] == pytest.approx([0.5, 0.0, 0.01, 0.5, 0.5, 0.01])
    assert tr.utilisation.shape == (1, 1)


def test_baselines_behave_like_their_algorithms():
    rng = np.random.default_rng(0)
    clean = _envs(rate=10, rtt=0.04, buf=1.0, loss=0.0)
    lossy = _envs(rate=10, rtt=0.04, buf=1.0, loss=0.03)
    s = {}
    for name, ctrl in [("cubic", Cubic), ("bbr", BBRLike), ("vegas", VegasLike)]:
        s[name, "clean"] = simulate(ctrl(), clean, 300, rng).summary()
        s[name, "lossy"] = simulate(ctrl(), lossy, 300, rng).summary()
    # Cubic fills the buffer (loss-based); Vegas keeps a few packets queued: much less delay
    assert (s["cubic", "clean"]["mean_queue_bdp"].mean()
            > 3 * s["vegas", "clean"]["mean_queue_bdp"].mean())
    # random loss hurts Cubic's utilisation, not BBR's (BBR v1 ignores loss)
    assert (s["cubic", "lossy"]["utilisation"].mean()
            < 0.7 * s["cubic", "clean"]["utilisation"].mean())
    assert s["bbr", "lossy"]["utilisation"].mean() > 0.9
    assert s["vegas", "clean"]["utilisation"].mean() > 0.9


def test_sample_envs_cover_genet_ranges():
    e = sample_envs(4000, np.random.default_rng(0))
    assert 0.1 <= e.rate_mbps.min() < 0.2 and 70 < e.rate_mbps.max() <= 100
    assert 0.002 <= e.base_rtt_s.min() < 0.003 and 0.15 < e.base_rtt_s.max() <= 0.2
    assert e.buffer_bdp.min() >= 0.2 and e.buffer_bdp.max() <= 3 and e.loss.max() <= 0.05


def _linear(w, b):
    return MLP([np.asarray(w, float)[None, :]], [np.array([float(b)])])


def test_property_proven_for_a_good_policy_and_refuted_for_a_bad_one():
    # a = 0.85 - 1.5 q_t - 0.02 g_t - 10 l_t: backs off on delay/loss, probes when idle
    # (worst corners: backoff_loss at q=0, g=-4, l=0.1: -0.07; probe: 0.274; backoff_delay: -0.65)
    good = _linear([-1.5, -0.02, -10, 0, 0, 0], 0.85)
    for name in ("backoff_delay", "backoff_loss", "probe", "monotonic"):
        r = check_property(good, name, max_boxes=64)
        assert r["proven_fraction"] == 1.0 and r["worst_violation"] == 0.0, name
    bad = _linear([0.3, 0.2, 1.5, 0, 0, 0], 0.3)  # grows with delay and loss
    for name in ("backoff_delay", "backoff_loss", "monotonic"):
        r = check_property(bad, name, max_boxes=64)
        assert r["proven_fraction"] == 0.0 and r["counterexample_violation"] > 0, name


def test_quantitative_certificate_is_exact_on_a_split_plane():
    # a = 0.5 - q_t on backoff_delay's region (q_t in [1, 4]) is <= 0 everywhere;
    # a = 2.5 - q_t is <= 0 only for q_t >= 2.5: proven fraction 0.5 = (4 - 2.5) / 3
    r = check_property(_linear([-1, 0, 0, 0, 0, 0], 2.5), "backoff_delay", max_boxes=4096)
    assert r["proven_fraction"] == pytest.approx(0.5, abs=0.01)
    assert r["worst_violation"] >= 1.5 - 1e-6 and r["counterexample_violation"] > 1.0


def test_proven_certificate_holds_on_samples():
    net = init_mlp(6, (16, 16), 1, np.random.default_rng(5), out_scale=0.05)
    sampled = []
    for name in ("bounded", "backoff_loss", "probe"):
        r = check_property(net, name, max_boxes=512)
        cert = r["_certificate"]
        pl, ph = cert.proven_boxes
        if len(pl) == 0:
            continue
        sampled.append(name)
        rng = np.random.default_rng(0)
        k = rng.integers(0, len(pl), 2000)
        x = pl[k] + (ph[k] - pl[k]) * rng.uniform(0, 1, (2000, 6))
        assert np.all(PROPERTIES[name].concrete(net, x) <= 1e-9), name
    assert "bounded" in sampled  # the clip head proves it everywhere: never a vacuous test


def test_queue_safety_closed_loop_certificate():
    # a constant -1 (always shrink) keeps the queue below 2 BDP; a constant +1 does not
    shrink, grow = _linear([0] * 6, -1.0), _linear([0] * 6, 1.0)
    assert check_property(shrink, "queue_safety", max_boxes=64)["proven_fraction"] == 1.0
    r = check_property(grow, "queue_safety", max_boxes=64)
    assert r["proven_fraction"] < 0.2 and r["counterexample_violation"] > 0


@pytest.mark.slow
def test_training_is_reproducible_and_learns(capsys):
    cfg = TrainConfig(mode="certified", seed=3, iterations=6, hidden=(8,), population=4,
                      n_envs=8, steps=20)
    a, b = train(cfg, progress=True), train(cfg, progress=False)
    assert np.array_equal(a.params(), b.params())
    assert "iter 1/6" in capsys.readouterr().err
    assert a.spec["trained"]["mode"] == "certified" and a.spec["obs_lo"] == OBS_LO.tolist()
    perf = train(TrainConfig(mode="performance", seed=3, iterations=6, hidden=(8,), population=4,
                             n_envs=8, steps=20), progress=False)
    assert not np.array_equal(perf.params(), a.params())


def test_evaluate_runs_every_controller():
    net = init_mlp(6, (8,), 1, np.random.default_rng(0))
    rows = evaluate({"p": net}, n_envs=16, steps=30, seed=0)
    assert set(rows) == {"p", "cubic", "bbr-like", "vegas-like"}
    for r in rows.values():
        assert 0 <= r["utilisation"] <= 1 and r["p95_queue_delay_ms"] >= 0
        assert 0 <= r["loss_rate"] <= 1


def test_clip_head_makes_bounded_hold_and_a_linear_head_can_fail_it():
    lin = init_mlp(6, (16, 16), 1, np.random.default_rng(4), out_scale=3.0)
    clip = MLP(lin.weights, lin.biases, output="clip")
    x = np.random.default_rng(1).uniform(PROPERTIES["bounded"].lo, PROPERTIES["bounded"].hi,
                                         (2000, 6))
    assert np.abs(lin(x)).max() > 1  # the raw output leaves the action range
    assert np.array_equal(clip(x), np.clip(lin(x), -1, 1))
    r_lin = check_property(lin, "bounded", max_boxes=256)
    r_clip = check_property(clip, "bounded", max_boxes=256)
    assert r_lin["proven_fraction"] < 1 and r_lin["counterexample_violation"] > 0
    assert r_clip["proven_fraction"] == 1.0 and r_clip["worst_violation"] == 0.0
    # the head does not change the sign of the action: the back-off/probe margins agree
    for name in ("backoff_delay", "backoff_loss"):
        assert np.array_equal(PROPERTIES[name].concrete(lin, x) <= 0,
                              PROPERTIES[name].concrete(clip, x) <= 0)


def test_monotone_training_is_proven_monotone_and_is_monotone_on_samples(tmp_path):
    from cora.certify.nn import load_policy
    from cora.certify.train import monotone_masks, project
    cfg = TrainConfig(mode="certified", seed=2, iterations=4, hidden=(8, 8), population=4,
                      n_envs=8, steps=20, monotone=True)
    net = train(cfg, progress=False)
    assert net.output == "clip" and net.spec["trained"]["monotone"] is True
    assert np.all(net.weights[0][:, [0, 2]] <= 0) and all(np.all(w >= 0) for w in net.weights[1:])
    theta = net.params()
    assert np.array_equal(project(theta, monotone_masks(net)), theta)
    net.save(str(tmp_path / "m.npz"))
    net = load_policy(str(tmp_path / "m.npz"))  # the head survives the file format
    assert net.output == "clip"
    r = check_property(net, "monotonic", max_boxes=64)
    assert r["proven_fraction"] == 1.0 and r["worst_violation"] == 0.0
    rng = np.random.default_rng(0)
    x = rng.uniform(PROPERTIES["monotonic"].lo, PROPERTIES["monotonic"].hi, (3000, 6))
    for i in (0, 2):
        xp = x.copy()
        xp[:, i] += rng.uniform(0, 0.5, 3000)
        assert np.all(net(xp) <= net(x) + 1e-12)
    # an unconstrained network of the same shape is not proven monotone
    free = train(TrainConfig(mode="performance", seed=2, iterations=2, hidden=(8, 8), population=4,
                             n_envs=8, steps=20), progress=False)
    assert check_property(free, "monotonic", max_boxes=64)["proven_fraction"] < 1.0


def test_property_weights_scale_the_certificate_terms():
    from cora.certify.properties import training_penalty
    from cora.certify.train import cert_penalty
    net = init_mlp(6, (8, 8), 1, np.random.default_rng(9), out_scale=1.0)
    terms = training_penalty(net, np.random.default_rng(4))
    assert terms["probe"] > 0 and terms["monotonic"] > 0
    base = cert_penalty(net, 4)
    assert base == pytest.approx(sum(terms.values()))
    assert cert_penalty(net, 4, {"probe": 3.0, "monotonic": 0.0}) == pytest.approx(
        base + 2 * terms["probe"] - terms["monotonic"])


def test_orca_style_agent_scales_cubics_window():
    """a = 0 is Cubic itself; a constant a multiplies Cubic's next window by 2^(2a) each RTT;
    a policy file trained with the orca controller is simulated with it."""
    from cora.certify.baselines import Cubic, OrcaStyle, controller_for
    from cora.certify.nn import MLP
    from cora.certify.sim import sample_envs

    def const(c):
        return MLP([np.zeros((2, 6)), np.zeros((1, 2))], [np.zeros(2), np.array([c])],
                   output="clip")
    envs = sample_envs(64, np.random.default_rng(0))
    cub = simulate(Cubic(), envs, 30, np.random.default_rng(1))
    zero = simulate(OrcaStyle(const(0.0)), envs, 30, np.random.default_rng(1))
    np.testing.assert_allclose(zero.cwnd_pkts, cub.cwnd_pkts)

    from cora.certify.sim import Envs  # no loss, BDP 1667 packets: Cubic in slow start doubles
    big = Envs(np.full(4, 100.0), np.full(4, 0.2), np.full(4, 3.0), np.zeros(4))
    tr = simulate(OrcaStyle(const(0.25)), big, 4, np.random.default_rng(1))
    np.testing.assert_allclose(tr.cwnd_pkts[:, 0], 10.0 * (2 * 2 ** 0.5) ** np.arange(4))
    net = const(0.0)
    net.spec = {"trained": {"controller": "orca"}}
    assert isinstance(controller_for(net), OrcaStyle)
    assert not isinstance(controller_for(const(0.0)), OrcaStyle)
