"""Soundness of the abstract interpreter: every sampled concrete output lies in the bounds."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cora.certify import absint
from cora.certify.nn import MLP, init_mlp
from cora.certify.quant import quantize
from cora.certify.sim import OBS_HI, OBS_LO

SETTINGS = settings(max_examples=40, deadline=None)


def _net(seed, n_in, hidden, act, scale, head="linear"):
    rng = np.random.default_rng(seed)
    return init_mlp(n_in, hidden, 2, rng, act, out_scale=scale, output=head)


def _box(seed, n_in, width):
    rng = np.random.default_rng(seed + 1)
    c = rng.uniform(-2, 2, n_in)
    w = rng.uniform(0, width, n_in)
    return c - w, c + w


def _samples(lo, hi, n, seed):
    rng = np.random.default_rng(seed + 2)
    x = lo + (hi - lo) * rng.uniform(0, 1, (n, lo.size))
    # include the corners' neighbourhood: snap some coordinates to the bounds
    snap = rng.uniform(0, 1, x.shape) < 0.2
    x = np.where(snap, np.where(rng.uniform(0, 1, x.shape) < 0.5, lo, hi), x)
    return x


net_args = dict(seed=st.integers(0, 10_000), n_in=st.integers(1, 6),
                hidden=st.lists(st.integers(1, 12), min_size=1, max_size=3).map(tuple),
                act=st.sampled_from(["relu", "tanh"]), scale=st.floats(0.1, 3.0),
                width=st.floats(0.0, 2.0))
HEADS = st.sampled_from(["linear", "clip"])


@SETTINGS
@given(**net_args, domain=st.sampled_from(absint.DOMAINS), head=HEADS)
def test_output_bounds_contain_samples(seed, n_in, hidden, act, scale, width, domain, head):
    net = _net(seed, n_in, hidden, act, scale, head)
    lo, hi = _box(seed, n_in, width)
    lb, ub = absint.output_bounds(net, lo, hi, domain)
    y = net(_samples(lo, hi, 400, seed))
    assert np.all(y >= lb) and np.all(y <= ub)


@SETTINGS
@given(**net_args)
def test_every_layer_bound_contains_samples_and_deeppoly_is_tighter(seed, n_in, hidden, act, scale,
                                                                    width):
    net = _net(seed, n_in, hidden, act, scale)
    lo, hi = _box(seed, n_in, width)
    dp = absint.deeppoly_layers(net, lo, hi)
    iv = absint.interval_layers(net, lo, hi)
    h = _samples(lo, hi, 300, seed)
    for k, (w, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        z = h @ w.T + b
        assert np.all(z >= dp[k][0]) and np.all(z <= dp[k][1])
        assert np.all(z >= iv[k][0]) and np.all(z <= iv[k][1])
        assert np.all(dp[k][1] - dp[k][0] <= iv[k][1] - iv[k][0] + 1e-6)
        h = net.act(z)


@SETTINGS
@given(**net_args, head=HEADS)
def test_jacobian_bounds_contain_gradients(seed, n_in, hidden, act, scale, width, head):
    net = _net(seed, n_in, hidden, act, scale, head)
    lo, hi = _box(seed, n_in, width)
    jl, ju = absint.jacobian_bounds(net, lo, hi)
    x = _samples(lo, hi, 50, seed)
    x = lo + (hi - lo) * np.random.default_rng(seed).uniform(0.01, 0.99, x.shape)  # interior
    for xi in x:  # analytic gradient by the chain rule at xi
        g = np.eye(n_in)
        h = xi
        for k, (w, b) in enumerate(zip(net.weights, net.biases, strict=True)):
            z = w @ h + b
            g = w @ g
            if k < net.n_layers - 1:
                d = (z > 0).astype(float) if act == "relu" else 1 - np.tanh(z) ** 2
                g = d[:, None] * g
                h = net.act(z)
            elif head == "clip":
                g = (np.abs(z) < 1).astype(float)[:, None] * g
        assert np.all(g >= jl[0] - 1e-9) and np.all(g <= ju[0] + 1e-9)


@SETTINGS
@given(seed=st.integers(0, 10_000), width=st.floats(0.0, 1.0),
       domain=st.sampled_from(absint.DOMAINS), head=HEADS)
def test_quantized_network_bounds_contain_integer_outputs(seed, width, domain, head):
    rng = np.random.default_rng(seed)
    qnet = quantize(init_mlp(6, (16, 16), 1, rng, out_scale=1.0, output=head))
    c = rng.uniform(OBS_LO, OBS_HI)
    lo, hi = np.maximum(c - width, OBS_LO), np.minimum(c + width, OBS_HI)
    lb, ub = absint.output_bounds(qnet, lo, hi, domain)
    y = qnet(_samples(lo, hi, 500, seed))  # the integer program, rescaled
    assert np.all(y >= lb) and np.all(y <= ub)


def test_quantized_bounds_need_the_rounding_terms():
    """Without the rounding intervals the float bounds can miss the integer program's output."""
    rng = np.random.default_rng(3)
    qnet = quantize(init_mlp(6, (8,), 1, rng, out_scale=1.0), frac_bits=4)
    x = rng.uniform(OBS_LO, OBS_HI, (2000, 6))
    exact_w = MLP([w / 16 for w in qnet.weights], [b / 16 for b in qnet.biases])
    gap = np.abs(qnet(x) - exact_w(x)).max()
    assert gap > 0  # rounding is real, so the bias intervals matter
    lb, ub = absint.output_bounds(qnet, x, x, "deeppoly")
    y = qnet(x)
    assert np.all(y >= lb) and np.all(y <= ub)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), w0=st.floats(0.3, 2.0), dw=st.floats(0.0, 0.5),
       p=st.floats(0.0, 0.05), buf=st.floats(0.2, 3.0), scale=st.floats(0.2, 2.0),
       domain=st.sampled_from(absint.DOMAINS), head=HEADS)
def test_closed_loop_bounds_contain_trajectories(seed, w0, dw, p, buf, scale, domain, head):
    rng = np.random.default_rng(seed)
    net = init_mlp(6, (16, 16), 1, rng, out_scale=scale, output=head)
    steps = 4
    b = absint.closed_loop_bounds(net, np.array([w0]), np.array([w0 + dw]), np.array([0.0]),
                                  np.array([p]), steps, buf, 0.1, domain)
    n = 300
    ws = rng.uniform(w0, w0 + dw, n)
    ps = rng.uniform(0, p, n)
    tr = absint.closed_loop_concrete(net, ws, ps, steps, buf, w_min=rng.uniform(0, 0.1, n))
    assert np.all(tr["w"] >= b["w_lo"] - 1e-12) and np.all(tr["w"] <= b["w_hi"] + 1e-12)
    assert np.all(tr["q"] >= b["q_lo"] - 1e-12) and np.all(tr["q"] <= b["q_hi"] + 1e-12)
    assert np.all(tr["a"] >= b["a_lo"]) and np.all(tr["a"] <= b["a_hi"])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000),
       hidden=st.lists(st.integers(2, 16), min_size=1, max_size=3).map(tuple),
       lo=st.floats(-3, 0), width=st.floats(0.01, 3))
def test_exact_1d_inside_bounds_and_looseness(seed, hidden, lo, width):
    net = init_mlp(1, hidden, 1, np.random.default_rng(seed), out_scale=1.0)
    hi = lo + width
    emin, emax, _ = absint.exact_bounds_1d(net, lo, hi)
    xs = np.linspace(lo, hi, 2001)[:, None]
    ys = net(xs)
    # exact extremes are attained (>= any grid value) and are real values of the network
    assert emax[0] >= ys.max() - 1e-12 and emin[0] <= ys.min() + 1e-12
    for domain in absint.DOMAINS:
        lb, ub = absint.output_bounds(net, np.array([lo]), np.array([hi]), domain)
        assert lb[0] <= emin[0] + 1e-12 and ub[0] >= emax[0] - 1e-12


def test_exact_1d_is_tight_for_a_known_function():
    # f(x) = relu(x) + relu(-x) - 1 = |x| - 1 on [-1, 2]: min -1 at 0, max 1 at 2
    net = MLP([np.array([[1.0], [-1.0]]), np.array([[1.0, 1.0]])], [np.zeros(2), np.array([-1.0])])
    emin, emax, n = absint.exact_bounds_1d(net, -1.0, 2.0)
    assert emin[0] == pytest.approx(-1.0) and emax[0] == pytest.approx(1.0) and n == 3


def test_bad_box_is_a_clear_error():
    from cora.errors import InputError
    net = init_mlp(3, (4,), 1, np.random.default_rng(0))
    with pytest.raises(InputError, match="3 values"):
        absint.output_bounds(net, np.zeros(2), np.ones(2))
    with pytest.raises(InputError, match="lower bound above"):
        absint.output_bounds(net, np.ones(3), np.zeros(3))
    with pytest.raises(InputError, match="unknown domain"):
        absint.output_bounds(net, np.zeros(3), np.ones(3), "zonotope")


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.2, 3.0), width=st.floats(0.0, 0.3),
       head=HEADS, quantized=st.booleans())
def test_robust_margin_bound_contains_noisy_differences(seed, scale, width, head, quantized):
    """The robustness check's upper bound of ``max |f(x + d) - f(x)| - tau`` over a box (spread
    or mean-value/Jacobian bound, plus rounding for the integer network) is above every sampled
    ``|f(x + d) - f(x)| - tau`` with ``x`` in the box and ``|d_i| <= eps`` on the delay features."""
    from cora.certify import properties as pr
    rng = np.random.default_rng(seed)
    net = init_mlp(6, (12, 12), 1, rng, out_scale=scale, output=head)
    f = quantize(net) if quantized else net
    prop = pr.PROPERTIES["robust"]
    c = rng.uniform(prop.lo, prop.hi)
    lo, hi = np.maximum(c - width, prop.lo), np.minimum(c + width, prop.hi)
    _, vh = prop.check(f, lo[None], hi[None], "deeppoly")
    x = _samples(lo, hi, 400, seed)
    d = np.zeros_like(x)
    d[:, pr.DELAY_DIMS] = (rng.choice([-1.0, 1.0], (len(x), 4)) * pr.ROBUST_EPS
                           * rng.uniform(0.5, 1, (len(x), 4)))
    diff = np.abs(np.asarray(f(x + d)).ravel() - np.asarray(f(x)).ravel())
    assert np.all(diff - pr.ROBUST_TAU <= vh[0])


def test_robust_bound_covers_the_integer_networks_rounding():
    """With coarse fixed point (Q4) the integer network jumps by 1/16 where the float network
    barely moves; the robustness bound must include the rounding terms to stay above it."""
    from cora.certify import properties as pr
    rng = np.random.default_rng(11)
    prop = pr.PROPERTIES["robust"]
    worst_gap = -np.inf
    for seed in range(6):
        qnet = quantize(init_mlp(6, (8,), 1, np.random.default_rng(seed), out_scale=0.05),
                        frac_bits=4)
        c = rng.uniform(prop.lo, prop.hi, (200, 6))
        _, vh = prop.check(qnet, c, c, "deeppoly")  # boxes of one point each
        d = np.zeros_like(c)
        d[:, pr.DELAY_DIMS] = rng.uniform(-pr.ROBUST_EPS, pr.ROBUST_EPS, (200, 4))
        diff = np.abs(qnet(c + d).ravel() - qnet(c).ravel())
        assert np.all(diff - pr.ROBUST_TAU <= vh)
        worst_gap = max(worst_gap, float(np.max(diff - pr.ROBUST_TAU - vh)))
    assert worst_gap > -0.25  # the bound is close enough for the rounding to matter
