"""One bottleneck model for simulator, closed loop and docs; soundness of the closed-loop bounds;
closed-loop properties that a constant or saturated policy fails."""

import pathlib
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cora.certify import absint, bottleneck, closedloop
from cora.certify.nn import MLP, init_mlp, load_policy, shipped_policy
from cora.certify.properties import check_property
from cora.certify.sim import Envs, PolicyController, simulate

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "certify.md"
FUNCS = {"q": bottleneck.queue_bdp, "o": bottleneck.overflow_loss, "l": bottleneck.loss_rate,
         "u": bottleneck.utilisation}


def _docs_model_lines():
    text = DOCS.read_text()
    m = re.search(r"<!-- bottleneck-model[^\n]*-->\n```\n(.*?)```", text, re.S)
    assert m, "docs/certify.md lost its bottleneck-model block"
    return [ln.strip() for ln in m.group(1).strip().splitlines()]


def test_docs_state_the_shared_model_and_it_evaluates_equal():
    lines = _docs_model_lines()
    assert tuple(lines) == bottleneck.MODEL_EQUATIONS
    rng = np.random.default_rng(0)
    w, b, r = rng.uniform(0.05, 6, 4000), rng.uniform(0.2, 3, 4000), rng.uniform(0, 0.3, 4000)
    env = {"w": w, "b": b, "r": r, "clip": np.clip, "max": np.maximum}
    for line in lines:  # each line may use the names defined by the lines above it
        name, expr = (s.strip() for s in line.split("=", 1))
        env[name] = eval(expr, {"__builtins__": {}}, env)
        want = FUNCS[name](w, b, r) if name in ("l", "u") else FUNCS[name](w, b)
        np.testing.assert_allclose(env[name], want, rtol=1e-12, atol=1e-15)


class _HalfLossRng:
    """Loss sampler that loses exactly half (rounded down) of the admitted packets."""

    def binomial(self, n, p):
        return np.where(p > 0, n // 2, 0)

    def standard_normal(self, n):  # pragma: no cover - delay_noise is 0 here
        raise AssertionError


class _Fixed:
    def __init__(self, w):
        self.w = w

    def reset(self, envs, cwnd):
        pass

    def update(self, info):
        return self.w


def test_simulator_computes_the_shared_model():
    rng = np.random.default_rng(1)
    n = 500
    envs = Envs(rng.uniform(1, 100, n), rng.uniform(0.01, 0.2, n), rng.uniform(0.2, 3, n),
                np.where(rng.uniform(size=n) < 0.5, 0.0, 0.02))
    cwnd = rng.uniform(0.2, 5, n) * envs.bdp_pkts
    tr = simulate(_Fixed(cwnd), envs, 3, _HalfLossRng(), init_cwnd_pkts=0)
    w, b = cwnd / envs.bdp_pkts, envs.buffer_pkts / envs.bdp_pkts
    admitted = cwnd * (1 - bottleneck.overflow_loss(w, b))
    r = np.where(envs.loss > 0, np.floor(admitted) // 2, 0) / admitted
    for t in (1, 2):
        np.testing.assert_allclose(tr.queue_bdp[t], bottleneck.queue_bdp(w, b), rtol=1e-12)
        np.testing.assert_allclose(tr.loss_rate[t], bottleneck.loss_rate(w, b, r), rtol=1e-12,
                                   atol=1e-15)
        np.testing.assert_allclose(tr.utilisation[t],
                                   np.minimum(bottleneck.utilisation(w, b, r), 1), rtol=1e-12)


@pytest.mark.parametrize("kind", ["certified", "performance"])
def test_simulator_and_closed_loop_model_give_the_same_trajectory(kind):
    """Without random loss and from an empty queue (where the sender's zero history equals the
    closed loop's steady start) the simulator and the closed loop's concrete model agree."""
    net = load_policy(shipped_policy(kind))
    rng = np.random.default_rng(2)
    n, steps = 64, 8
    w0 = rng.uniform(0.3, 1.0, n)
    envs = Envs(np.full(n, 50.0), np.full(n, 0.2), np.full(n, 3.0), np.zeros(n))  # BDP 833 pkts
    # the simulator starts every environment at one window; run per starting window
    sim_w = np.stack([simulate(PolicyController(net), Envs(*(a[i:i + 1] for a in (
        envs.rate_mbps, envs.base_rtt_s, envs.buffer_bdp, envs.loss))), steps,
        np.random.default_rng(0), init_cwnd_pkts=w0[i] * envs.bdp_pkts[i]).cwnd_pkts[:, 0]
        / envs.bdp_pkts[i] for i in range(n)], axis=1)
    cl = absint.closed_loop_concrete(net, w0, np.zeros(n), steps - 1, 3.0,
                                     w_min=2 / envs.bdp_pkts)
    np.testing.assert_allclose(sim_w, cl["w"], rtol=1e-9)


def _trajectories(net, lo, hi, plo, phi, steps, buf, wmh, mode, n, rng):
    w0 = rng.uniform(lo, hi, n)
    if mode == "fixed":
        r = np.broadcast_to(rng.uniform(plo, phi, n), (steps + 1, n))
    else:
        r = rng.uniform(plo, phi, (steps + 1, n))
        r[:, : n // 4] = np.where(rng.uniform(size=(steps + 1, n // 4)) < 0.5, plo, phi)  # vertices
    return absint.closed_loop_concrete(net, w0, r, steps, buf, w_min=rng.uniform(0, wmh, n))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), w0=st.floats(0.1, 3.0), dw=st.floats(0.0, 0.8),
       p=st.floats(0.0, 0.05), dp=st.floats(0.0, 0.05), buf=st.floats(0.2, 3.0),
       scale=st.floats(0.2, 3.0), head=st.sampled_from(["linear", "clip"]),
       mode=st.sampled_from(closedloop.LOSS_ROUNDS), act=st.sampled_from(["relu", "tanh"]))
def test_relational_bounds_contain_the_shared_models_trajectories(seed, w0, dw, p, dp, buf, scale,
                                                                   head, mode, act):
    rng = np.random.default_rng(seed)
    net = init_mlp(6, (16, 16), 1, rng, out_scale=scale, output=head, activation=act)
    steps, wmh = 4, 0.1
    one = lambda v: np.array([v])  # noqa: E731
    b = closedloop.relational_bounds(net, one(w0), one(w0 + dw), one(p), one(p + dp), steps, buf,
                                     wmh, loss_rounds=mode)
    tr = _trajectories(net, w0, w0 + dw, p, p + dp, steps, buf, wmh, mode, 400, rng)
    tol = 1e-9
    assert np.all(tr["w"] >= b["w_lo"] - tol) and np.all(tr["w"] <= b["w_hi"] + tol)
    assert np.all(tr["q"] >= b["q_lo"] - tol) and np.all(tr["q"] <= b["q_hi"] + tol)
    assert np.all(tr["a"] >= b["a_lo"] - tol) and np.all(tr["a"] <= b["a_hi"] + tol)
    ib = absint.closed_loop_bounds(net, one(w0), one(w0 + dw), one(p), one(p + dp), steps, buf, wmh)
    assert np.all(tr["q"] <= ib["q_hi"] + tol) and np.all(tr["w"] >= ib["w_lo"] - tol)


def test_relational_bounds_contain_the_shipped_policies_trajectories_per_step():
    for kind in ("certified", "performance"):
        net = load_policy(shipped_policy(kind))
        e = np.linspace(0.5, 1.5, 17)
        b = closedloop.relational_bounds(net, e[:-1], e[1:], np.zeros(16), np.full(16, 0.05), 5,
                                         3.0, 0.1)
        rng = np.random.default_rng(3)
        for i in range(16):
            tr = _trajectories(net, e[i], e[i + 1], 0.0, 0.05, 5, 3.0, 0.1, "fixed", 300, rng)
            assert np.all(tr["q"] <= b["q_hi"][:, i:i + 1] + 1e-9)
            assert np.all(tr["w"] >= b["w_lo"][:, i:i + 1] - 1e-9)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), w0=st.floats(0.2, 6.0), p=st.floats(0.0, 0.05),
       buf=st.floats(0.2, 3.0), scale=st.floats(0.2, 3.0), head=st.sampled_from(["linear", "clip"]),
       mode=st.sampled_from(closedloop.LOSS_ROUNDS), act=st.sampled_from(["relu", "tanh"]))
def test_both_abstractions_collapse_onto_the_shared_model_on_a_point(seed, w0, p, buf, scale, head,
                                                                      mode, act):
    """The closed-loop abstractions model the same system as the simulator: on a point box (one
    initial window, one loss value, no minimum window) the relational analysis *alone* (not
    intersected with the interval one) and the interval analysis both shrink to the concrete
    trajectory of cora.certify.bottleneck (which the simulator computes: the test above). A
    different queue, overflow or loss formula in either (e.g. the old ``l = o + p``) moves the
    point bound off the trajectory and fails here; w0 up to 6 BDPs exercises the overflow."""
    rng = np.random.default_rng(seed)
    net = init_mlp(6, (16, 16), 1, rng, out_scale=scale, output=head, activation=act)
    steps = 4
    one = lambda v: np.array([v])  # noqa: E731
    tr = absint.closed_loop_concrete(net, one(w0), one(p), steps, buf)
    rel = closedloop.relational_bounds(net, one(w0), one(w0), one(p), one(p), steps, buf, 0.0,
                                       loss_rounds=mode, intersect=False)
    itv = absint.closed_loop_bounds(net, one(w0), one(w0), one(p), one(p), steps, buf, 0.0)
    for bounds in (rel, itv):
        for k in ("w", "q", "a"):
            lo, hi, x = bounds[f"{k}_lo"][:, 0], bounds[f"{k}_hi"][:, 0], tr[k][:, 0]
            assert np.all(lo <= x + 1e-9) and np.all(x <= hi + 1e-9), (k, lo, x, hi)
            # float-rounding margins (1e-9) grow through the loop's gain, most at the queue's
            # kink (w = 1): a few 1e-6 after 4 steps; a point bound still, not a box
            assert np.all(hi - lo <= 1e-3 * (1 + np.abs(x))), (k, hi - lo)


def test_relational_analysis_is_tighter_than_intervals():
    """On the shipped policies, queue_safety is proven everywhere with the relational closed
    loop on fewer boxes than the interval closed loop needs (issue 14: 0.890 vs 0.329 was the
    verifier's looseness)."""
    for kind in ("certified", "performance"):
        net = load_policy(shipped_policy(kind))
        rel = check_property(net, "queue_safety", loop="relational", max_boxes=1024)
        assert rel["proven_fraction"] == 1.0
        assert rel["boxes"] <= 400
        # twice the relational loop's boxes are not enough for the interval loop
        itv = check_property(net, "queue_safety", loop="interval", max_boxes=2 * rel["boxes"])
        assert itv["proven_fraction"] < 1.0


def _constant(c: float) -> MLP:
    return MLP([np.zeros((4, 6)), np.zeros((1, 4))], [np.zeros(4), np.array([c])], output="clip")


@pytest.mark.parametrize("c", [-1.0, -0.3, 0.0, 0.15, 0.5, 1.0])
def test_constant_policies_fail_utilisation_or_responsiveness(c):
    net = _constant(c)
    res = {p: check_property(net, p, max_boxes=64)
           for p in ("probe", "utilisation_recovery", "congestion_response", "backoff_delay")}
    failed = [p for p, r in res.items() if r["counterexample_violation"] > 0]
    assert failed, res
    for p in failed:  # a counterexample is a real trajectory/point, so nothing is proven there
        assert res[p]["proven_fraction"] < 1.0
    if c <= 0:  # a policy stuck at or below 0 (e.g. saturated at the floor) never probes
        assert {"probe", "utilisation_recovery"} <= set(failed)
    else:  # a policy that never backs off does not react to congestion
        assert {"congestion_response", "backoff_delay"} <= set(failed)


def test_unknown_loss_rounds_is_a_clear_error():
    from cora.errors import InputError
    net = _constant(0.0)
    with pytest.raises(InputError, match="loss_rounds"):
        closedloop.relational_bounds(net, np.ones(1), np.ones(1), np.zeros(1), np.zeros(1), 2, 1.0,
                                     loss_rounds="sometimes")


def test_in_boxes_matches_a_loop():
    from cora.certify.coverage import in_boxes
    rng = np.random.default_rng(4)
    lo = rng.uniform(0, 1, (30, 3))
    hi = lo + rng.uniform(0, 0.3, (30, 3))
    pts = rng.uniform(0, 1.2, (800, 3))
    want = [any(np.all((p >= lo[j]) & (p <= hi[j])) for j in range(30)) for p in pts]
    assert np.array_equal(in_boxes(pts, lo, hi, chunk=257), np.array(want))
    assert not in_boxes(pts, lo[:0], hi[:0]).any()


def test_visited_measure_and_saturation_rate():
    """A constant policy at the floor is saturated on every visited state; the visited-state
    fraction counts only states inside the region and proven boxes."""
    from cora.certify import coverage
    from cora.certify.properties import PROPERTIES
    floor = coverage.visited_states(_constant(-1.0), n_envs=16, steps=20)
    assert coverage.saturation_rate(floor)["floor"] == 1.0
    net = load_policy(shipped_policy("certified"))
    v = coverage.visited_states(net, n_envs=32, steps=40)
    assert 0 < coverage.saturation_rate(v)["saturated"] < 1
    for name in ("bounded", "monotonic", "queue_safety"):
        r = check_property(net, name, max_boxes=256, visited=v)
        prop, cert = PROPERTIES[name], r["_certificate"]
        pts = coverage.property_states(prop, v)
        inside = np.all((pts >= prop.lo) & (pts <= prop.hi), axis=1)
        lo, hi = cert.proven_boxes
        slow = np.array([np.any(np.all((p >= lo) & (p <= hi), axis=1)) for p in pts[inside]])
        assert r["visited_in_region"] == inside.sum()
        assert r["visited_fraction"] == pytest.approx(slow.mean(), abs=1e-6)
    assert check_property(net, "bounded", visited=v)["visited_fraction"] == 1.0  # clip head


def test_shipped_bench_results_reproduce_and_carry_both_measures():
    """bench/results/certify_sim.json (the figures in docs/certify.md) holds both measures of
    every property for every learned controller, and a sample of it reproduces: Cubic's run 0
    and the queue_safety certificate of the first paired certified policy."""
    import json

    from cora.certify.baselines import Cubic
    from cora.certify.coverage import visited_states
    from cora.certify.properties import PROPERTIES
    root = pathlib.Path(__file__).resolve().parents[2] / "bench" / "results"
    out = json.loads((root / "certify_sim.json").read_text())
    for name in ("certified", "perf-only", "shipped-cert", "shipped-perf"):
        runs = out["raw"][name]
        assert len(runs) >= 5
        for r in runs:
            assert set(PROPERTIES) <= set(r["cert"]["default"])
            for p in PROPERTIES:
                assert {"volume", "visited"} <= set(r["cert"]["default"][p])
    env = np.random.default_rng(100)
    from cora.certify.sim import sample_envs
    envs = sample_envs(out["envs"], env)
    s = simulate(Cubic(), envs, out["steps"], np.random.default_rng(101)).summary()
    assert float(s["utilisation"].mean()) == pytest.approx(out["raw"]["cubic"][0]["utilisation"],
                                                           rel=1e-9)
    net = load_policy(str(root / "certify_train" / "seed0_cert.npz"))
    r = check_property(net, "queue_safety", visited=visited_states(net, seed=100))
    want = out["raw"]["certified"][0]["cert"]["default"]["queue_safety"]
    assert r["proven_fraction"] == want["volume"] and r["visited_fraction"] == want["visited"]


def test_one_run_covers_the_seven_controllers_with_every_column():
    """bench/results/certify_sim_all.json is one run (not merged) of issue 14's seven
    controllers: each with >= 5 runs of utilisation, p95 delay and loss; the networks with a
    saturation rate and both measures of every property (None where a property does not apply),
    the trained ones from exactly seed<N>_<tag>.npz (not the ack-clocked fine-tunings)."""
    import json

    from cora.certify.properties import PROPERTIES
    root = pathlib.Path(__file__).resolve().parents[2] / "bench" / "results"
    out = json.loads((root / "certify_sim_all.json").read_text())
    assert "--merge" not in out["command"]
    nets = ("certified", "perf-only", "aurora", "orca-style")
    for name in nets + ("cubic", "bbr-like", "vegas-like"):
        runs = out["raw"][name]
        assert len(runs) >= 5
        for r in runs:
            assert {"utilisation", "p95_queue_delay_ms", "loss_rate"} <= set(r)
            if name in nets:
                c = r["cert"]["default"]
                assert 0 <= c["saturation_rate"] <= 1
                for p in PROPERTIES:
                    assert {"volume", "visited"} <= set(c[p])
    for name, tag in (("certified", "cert"), ("perf-only", "perf"), ("orca-style", "orca"),
                      ("aurora", "aurora")):
        assert out["policies"][name] == [f"seed{i}_{tag}.npz" for i in range(5)]
