"""Formal properties of a congestion-control policy and their quantitative certificates.

Notation: ``f`` is the policy, ``x = (q_t, g_t, l_t, q_{t-1}, g_{t-1}, l_{t-1})`` the
observation of :mod:`cora.certify.sim` (queueing delay in base RTTs, its gradient per RTT,
loss rate), ``D = [OBS_LO, OBS_HI]`` the observation domain, ``a = f(x)`` the action
(window factor ``1 + 0.5 a`` / ``1 / (1 - 0.5 a)`` per RTT). Each property has an input region
``R`` (a box) and a violation margin ``v(x)`` with "property holds at x" iff ``v(x) <= 0``.
A certificate (:class:`cora.certify.absint.Certificate`) gives the fraction of ``R``'s volume
proven by branch and bound over input splits, and a sound upper bound of ``max_R v``.

Properties (after C3/Canopy, arXiv 2412.10915, Sec. 4: robustness, monotonicity and
performance properties):

- ``bounded``: ``R = D``; ``-1 <= f(x) <= 1`` (the action the policy outputs stays in the
  action range); ``v = max(f(x) - 1, -1 - f(x))``. A policy with a clip head
  (``output = "clip"``, :mod:`cora.certify.nn`) satisfies it by construction, and the
  verifier proves it from the head's abstraction; a linear head must earn it.
- ``backoff_delay`` (back off under congestion, rising delay): ``R = D`` with
  ``q_t in [1, 4]`` (queue at least one BDP, RTT at least 2x base) and ``g_t in [0.05, 4]``
  (delay rising); ``f(x) <= 0``; ``v = f(x)``.
- ``backoff_loss`` (back off under heavy loss): ``R = D`` with ``l_t in [0.1, 0.5]``;
  ``f(x) <= 0``; ``v = f(x)``.
- ``probe`` (probe when under-utilised): no queue, flat delay, at most random loss:
  ``q in [0, 0.05]``, ``g in [-0.05, 0.05]``, ``l in [0, 0.05]`` for both steps;
  ``f(x) >= 0.2`` (window grows >= 10 % per RTT); ``v = 0.2 - f(x)``.
- ``monotonic`` (monotone in delay and loss): ``R = D``;
  ``df/dq_t <= 0`` and ``df/dl_t <= 0``; ``v = max(df/dq_t, df/dl_t)`` (proved with interval
  bounds on the Jacobian).
- ``robust`` (robustness to bounded noise in the delay features): operating region
  ``R: q in [0, 2], g in [-1, 1], l in [0, 0.1]``; for every ``x in R`` and noise ``|d| <= 0.05``
  on the four delay features (``q_t, g_t, q_{t-1}, g_{t-1}``): ``|f(x + d) - f(x)| <= 0.25``;
  on a box ``X`` this holds when ``max f - min f <= 0.25`` over ``X`` widened by the noise,
  or when the mean-value bound ``0.05 sum_{i in delay} max_X' |df/dx_i| <= 0.25`` with the
  interval Jacobian over the widened box ``X'``; ``v = min(spread, mean-value bound) - 0.25``.
Closed-loop properties: policy + the shared bottleneck model (:mod:`cora.certify.bottleneck`)
for ``k`` RTTs from a steady start, buffer 3 BDP, random-loss fraction ``p`` in every round (the
fluid model), 2-packet minimum window with BDP >= 20 packets (``w_min <= 0.1``); region = the
initial set ``(w_0, p)``; bounded with the relational analysis of :mod:`cora.certify.closedloop`
(``domain="deeppoly"``) or the interval one (``"interval"``, the ablation):

- ``queue_safety``: ``w_0 in [0.5, 1.5]`` BDP, ``p in [0, 0.05]``: for ``k = 5`` RTTs the queue
  stays ``<= 2`` BDP; ``v = max_t q_t - 2``.
- ``utilisation_recovery`` (probe when under-utilised, closed loop): ``w_0 in [0.3, 0.8]``,
  ``p in [0, 0.02]``: within ``k = 6`` RTTs the window reaches ``0.9`` BDP (utilisation >= 0.9
  (1 - p)); ``v = 0.9 - max_t w_t``. A policy stuck at ``a <= 0`` (e.g. saturated at the floor)
  fails it; reaching 0.9 from 0.3 in 6 RTTs needs a mean factor of 1.2 per RTT (``a ~ 0.4``).
- ``congestion_response`` (react within ``k`` steps): ``w_0 in [2, 3.5]`` BDP (queue 1-2.5 BDP),
  ``p in [0, 0.02]``: within ``k = 3`` RTTs the queue falls to ``<= 0.5`` BDP (``w_t <= 1.5``);
  ``v = min_t w_t - 1.5``. A constant ``a >= 0`` policy fails it.

No constant policy satisfies ``probe``/``utilisation_recovery`` and ``backoff_*``/
``congestion_response`` together (tests/certify/test_closedloop.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cora.certify import absint, closedloop
from cora.certify.sim import OBS_HI, OBS_LO
from cora.errors import InputError

Q_T, G_T, L_T, Q_P, G_P, L_P = range(6)
DELAY_DIMS = (Q_T, G_T, Q_P, G_P)


OBS_KEYS = ("q_t", "g_t", "l_t", "q_p", "g_p", "l_p")


def _box(domain: tuple[np.ndarray, np.ndarray] = (OBS_LO, OBS_HI),
         keys: tuple[str, ...] = OBS_KEYS,
         **over: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """The ``domain`` box with the coordinates named in ``over`` (``keys[i]`` names dimension
    ``i``) replaced by ``(lo, hi)``."""
    lo, hi = domain[0].copy(), domain[1].copy()
    for k, (a, b) in over.items():
        lo[keys.index(k)], hi[keys.index(k)] = a, b
    return lo, hi


@dataclass(frozen=True)
class Property:
    """One property: a region and a way to bound its violation margin on boxes.

    Attributes:
        name: CLI name.  formula: the property in one line.
        lo, hi: the region ``R`` (``(n,)``; for ``queue_safety`` the 2-D initial set ``(w0, p)``).
        check: ``check(net, lo, hi, domain) -> (v_lo, v_hi)`` ``(B,)`` bounds of the margin.
        concrete: ``concrete(net, x) -> (B,)`` margin at concrete points.
        pointwise: True if the margin is a function of ``f(x)`` at one ``x`` (fallback table).
        closed_loop: True if the region is the initial set ``(w0 BDPs, p)`` of a closed loop.
    """

    name: str
    formula: str
    lo: np.ndarray
    hi: np.ndarray
    check: Callable
    concrete: Callable
    pointwise: bool = True
    closed_loop: bool = False


def _out(net, lo, hi, domain):
    lb, ub = absint.output_bounds(net, lo, hi, domain)
    return lb[:, 0], ub[:, 0]


def _f(net, x):
    if len(x) == 0:
        return np.zeros(0)
    return np.asarray(net(x)).reshape(len(x), -1)[:, 0]


def _bounded_check(net, lo, hi, d):
    lb, ub = _out(net, lo, hi, d)
    return np.maximum(lb - 1, -1 - ub), np.maximum(ub - 1, -1 - lb)


def _upper_check(limit):
    def check(net, lo, hi, d):
        lb, ub = _out(net, lo, hi, d)
        return lb - limit, ub - limit
    return check


def _lower_check(limit):
    def check(net, lo, hi, d):
        lb, ub = _out(net, lo, hi, d)
        return limit - ub, limit - lb
    return check


def _mono_check(net, lo, hi, d, dims=(Q_T, L_T)):
    jl, ju = absint.jacobian_bounds(net, lo, hi, d)
    return jl[:, 0, list(dims)].max(axis=1), ju[:, 0, list(dims)].max(axis=1)


def _mono_concrete(net, x, h=1e-4, dims=(Q_T, L_T)):
    base = _f(net, x)
    out = []
    for i in dims:
        xp = x.copy()
        xp[:, i] += h
        out.append((_f(net, xp) - base) / h)
    return np.max(out, axis=0)


ROBUST_EPS, ROBUST_TAU = 0.05, 0.25


def _robust_widen(lo, hi):
    lo, hi = lo.copy(), hi.copy()
    lo[:, DELAY_DIMS] -= ROBUST_EPS
    hi[:, DELAY_DIMS] += ROBUST_EPS
    return lo, hi


def _rounding_spread(anet) -> float:
    """Upper bound of ``|F(x, delta1) - F(x, delta2)|`` over the per-layer bias intervals of
    ``anet`` (the floor rounding of the integer network, :mod:`cora.certify.quant`): layer
    ``k``'s bias uncertainty ``bias_hi - bias_lo`` times the Lipschitz constant of the rest of
    the network, ``1^T |W_L| ... |W_{k+1}|`` (ReLU, tanh and the clip head are 1-Lipschitz).
    ``0`` for a float network."""
    total, back = 0.0, np.ones(anet.weights[-1].shape[0])
    for k in range(len(anet.weights) - 1, -1, -1):
        total += float(back @ (np.asarray(anet.bias_hi[k]) - np.asarray(anet.bias_lo[k])))
        back = back @ np.abs(anet.weights[k])
    return total


def _robust_check(net, lo, hi, d):
    """Two sound bounds of ``max |f(x + d) - f(x)|`` over the box, the smaller one is used:
    the output spread over the box widened by the noise, and the mean-value bound
    ``sum_i max |df/dx_i| * |d_i|`` with the interval Jacobian over the widened box (the
    segment from ``x`` to ``x + d`` lies in it; for ReLU/clip networks every directional
    derivative on it is ``J d`` for a ``J`` inside the Jacobian bounds). For the integer
    network, ``|d_i|`` also carries the input rounding ``2^-F`` on every feature and the
    bias-rounding spread (:func:`_rounding_spread`) is added."""
    wl, wh = _robust_widen(lo, hi)
    anet = absint.as_abstract(net)
    layers = (absint.deeppoly_layers if d == "deeppoly" else absint.interval_layers)(anet, wl, wh)
    lb, ub = layers[-1]
    if anet.output == "clip":
        lb, ub = np.clip(lb, -1.0, 1.0), np.clip(ub, -1.0, 1.0)
    lb, ub = lb[:, 0], ub[:, 0]
    jl, ju = absint.jacobian_bounds(anet, wl, wh, d, layers=layers)
    disp = np.full(lo.shape[1], anet.input_slack)
    disp[list(DELAY_DIMS)] += ROBUST_EPS
    mvt = np.maximum(np.abs(jl), np.abs(ju))[:, 0, :] @ disp + _rounding_spread(anet)
    return np.full(lb.shape, -np.inf), np.minimum(ub - lb, mvt) - ROBUST_TAU


# One generator shared by every call: the sampled perturbations continue across calls.
_ROBUST_RNG = np.random.default_rng(0)


def _robust_concrete(net, x, rng=_ROBUST_RNG):
    best = np.full(len(x), -np.inf)
    base = _f(net, x)
    for _ in range(8):
        dx = np.zeros_like(x)
        dx[:, DELAY_DIMS] = rng.choice([-ROBUST_EPS, ROBUST_EPS], size=(len(x), len(DELAY_DIMS)))
        best = np.maximum(best, np.abs(_f(net, x + dx) - base))
    return best - ROBUST_TAU


QS_STEPS, QS_BUFFER, QS_LIMIT, QS_WMIN = 5, 3.0, 2.0, 0.1
REC_STEPS, REC_TARGET = 6, 0.9
CR_STEPS, CR_TARGET = 3, 1.5
CLOSED_LOOP_SPLIT_SCALE = np.array([1.0 / 16, 0.05])  # bisect w0 16x more readily than p


CLOSED_LOOPS = ("relational", "interval")


def _closed_loop(net, lo, hi, steps, domain, loop="relational"):
    """Closed-loop bounds on boxes ``(w0, p)``, the fluid model with the random-loss fraction
    equal to ``p`` in every round: ``loop="relational"`` (affine forms,
    :mod:`cora.certify.closedloop`, network lines from DeepPoly) or ``"interval"`` (one box per
    step, network bounds from ``domain``; the ablation)."""
    if loop == "relational":
        return closedloop.relational_bounds(net, lo[:, 0], hi[:, 0], lo[:, 1], hi[:, 1], steps,
                                            QS_BUFFER, QS_WMIN, loss_rounds="fixed")
    return absint.closed_loop_bounds(net, lo[:, 0], hi[:, 0], lo[:, 1], hi[:, 1], steps,
                                     QS_BUFFER, QS_WMIN, domain)


def _cl_concrete(net, x, steps):
    return absint.closed_loop_concrete(net, x[:, 0], x[:, 1], steps, QS_BUFFER)


def _qs_check(net, lo, hi, d, loop="relational"):
    cl = _closed_loop(net, lo, hi, QS_STEPS, d, loop)
    return np.full(lo.shape[0], -np.inf), cl["q_hi"].max(0) - QS_LIMIT


def _qs_concrete(net, x):
    return _cl_concrete(net, x, QS_STEPS)["q"].max(0) - QS_LIMIT


def _rec_check(net, lo, hi, d, loop="relational"):
    """Some step ``t <= k`` has ``w_t >= 0.9`` on every trajectory if ``max_t w_lo_t >= 0.9``."""
    cl = _closed_loop(net, lo, hi, REC_STEPS, d, loop)
    return REC_TARGET - cl["w_hi"].max(0), REC_TARGET - cl["w_lo"].max(0)


def _rec_concrete(net, x):
    return REC_TARGET - _cl_concrete(net, x, REC_STEPS)["w"].max(0)


def _cr_check(net, lo, hi, d, loop="relational"):
    """Some step ``t <= k`` has ``w_t <= 1.5`` on every trajectory if ``min_t w_hi_t <= 1.5``."""
    cl = _closed_loop(net, lo, hi, CR_STEPS, d, loop)
    return cl["w_lo"].min(0) - CR_TARGET, cl["w_hi"].min(0) - CR_TARGET


def _cr_concrete(net, x):
    return _cl_concrete(net, x, CR_STEPS)["w"].min(0) - CR_TARGET


PROPERTIES = {
    "bounded": Property("bounded", "for x in D: -1 <= f(x) <= 1", *_box(), _bounded_check,
                        lambda n, x: np.maximum(_f(n, x) - 1, -1 - _f(n, x))),
    "backoff_delay": Property("backoff_delay", "q_t in [1,4], g_t in [0.05,4] => f(x) <= 0",
                              *_box(q_t=(1.0, 4.0), g_t=(0.05, 4.0)), _upper_check(0.0),
                              lambda n, x: _f(n, x)),
    "backoff_loss": Property("backoff_loss", "l_t in [0.1,0.5] => f(x) <= 0",
                             *_box(l_t=(0.1, 0.5)), _upper_check(0.0), lambda n, x: _f(n, x)),
    "probe": Property("probe", "q in [0,0.05], g in [-0.05,0.05], l in [0,0.05] (both steps) "
                      "=> f(x) >= 0.2",
                      *_box(q_t=(0, .05), g_t=(-.05, .05), l_t=(0, .05), q_p=(0, .05),
                            g_p=(-.05, .05), l_p=(0, .05)),
                      _lower_check(0.2), lambda n, x: 0.2 - _f(n, x)),
    "monotonic": Property("monotonic", "for x in D: df/dq_t <= 0 and df/dl_t <= 0", *_box(),
                          _mono_check, _mono_concrete),
    "robust": Property("robust", "x in R, |d| <= 0.05 on delay features => |f(x+d) - f(x)| <= 0.25",
                       *_box(q_t=(0, 2), g_t=(-1, 1), l_t=(0, .1), q_p=(0, 2), g_p=(-1, 1),
                             l_p=(0, .1)), _robust_check, _robust_concrete, pointwise=False),
    "queue_safety": Property("queue_safety",
                             "w0 in [0.5,1.5] BDP, p in [0,0.05], buffer 3 BDP "
                             "=> queue <= 2 BDP for 5 RTTs",
                             np.array([0.5, 0.0]), np.array([1.5, 0.05]), _qs_check, _qs_concrete,
                             pointwise=False, closed_loop=True),
    "utilisation_recovery": Property(
        "utilisation_recovery",
        "w0 in [0.3,0.8] BDP, p in [0,0.02], buffer 3 BDP => w_t >= 0.9 BDP for some t <= 6 RTTs",
        np.array([0.3, 0.0]), np.array([0.8, 0.02]), _rec_check, _rec_concrete,
        pointwise=False, closed_loop=True),
    "congestion_response": Property(
        "congestion_response",
        "w0 in [2,3.5] BDP, p in [0,0.02], buffer 3 BDP => queue <= 0.5 BDP for some t <= 3 RTTs",
        np.array([2.0, 0.0]), np.array([3.5, 0.02]), _cr_check, _cr_concrete,
        pointwise=False, closed_loop=True),
}


# Aurora's observation (cora.certify.baselines.Aurora): per interval (latency gradient
# G = (RTT_t - RTT_{t-1}) / RTT_t, latency ratio R = RTT_t / minRTT = 1 + q_t, sending ratio
# S = sent / acked = 1 / (1 - l_t)), newest first. The image of each pointwise region above
# under x -> (G, R, S) lies inside the box below (R, S are increasing in q, l one to one;
# G = g_t / (1 + q_t), so g_t in [g1, g2] and q_t in [q1, q2] give G in the interval hull of
# g / (1 + q)): proving a property on the box proves it on every Aurora observation of a state
# in the original region (sound; possibly conservative for backoff_delay, whose box is larger).
AG_T, AR_T, AS_T, AG_P, AR_P, AS_P = range(6)


def _aurora_box(**over: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    from cora.certify.baselines import AURORA_OBS_HI, AURORA_OBS_LO
    return _box((AURORA_OBS_LO, AURORA_OBS_HI), ("G_t", "R_t", "S_t", "G_p", "R_p", "S_p"), **over)


def _aurora_properties() -> dict:
    """The pointwise properties restated over Aurora's observation (see the comment above).
    ``monotonic`` becomes ``df/dG_t <= 0, df/dR_t <= 0, df/dS_t <= 0``: G, R and S are
    non-decreasing in ``q_t`` and ``S`` in ``l_t`` with the previous interval fixed, so this
    implies ``df/dq_t <= 0`` and ``df/dl_t <= 0`` (sufficient, not necessary). ``robust`` is
    left out: its noise of 0.05 on ``q`` and ``g`` is noise of ``0.05 / (1 + q)`` and more on
    ``G``, state dependent, so no fixed box widening over Aurora's features states it; the
    closed-loop properties model the window rule of :func:`cora.certify.sim.apply_action`,
    not Aurora's rate rule, and are left out too."""
    s_lo = 1.0 / 0.9
    mono_dims = (AG_T, AR_T, AS_T)
    return {
        "bounded": Property("bounded", "for z in D_A: -1 <= f(z) <= 1", *_aurora_box(),
                            _bounded_check, PROPERTIES["bounded"].concrete),
        "backoff_delay": Property("backoff_delay", "R_t in [2,5], G_t in [0.01,1] => f(z) <= 0",
                                  *_aurora_box(R_t=(2.0, 5.0), G_t=(0.01, 1.0)), _upper_check(0.0),
                                  lambda n, x: _f(n, x)),
        "backoff_loss": Property("backoff_loss", "S_t in [1/0.9, 2] => f(z) <= 0",
                                 *_aurora_box(S_t=(s_lo, 2.0)), _upper_check(0.0),
                                 lambda n, x: _f(n, x)),
        "probe": Property("probe", "G in [-0.05,0.05], R in [1,1.05], S in [1,1/0.95] (both) "
                          "=> f(z) >= 0.2",
                          *_aurora_box(G_t=(-.05, .05), R_t=(1, 1.05), S_t=(1, 1 / 0.95),
                                       G_p=(-.05, .05), R_p=(1, 1.05), S_p=(1, 1 / 0.95)),
                          _lower_check(0.2), lambda n, x: 0.2 - _f(n, x)),
        "monotonic": Property("monotonic", "for z in D_A: df/dG_t, df/dR_t, df/dS_t <= 0",
                              *_aurora_box(),
                              lambda n, lo, hi, d: _mono_check(n, lo, hi, d, mono_dims),
                              lambda n, x: _mono_concrete(n, x, dims=mono_dims)),
    }


def properties_for(net) -> dict:
    """The properties that apply to ``net``: :data:`PROPERTIES`, or for a policy trained with
    the Aurora controller (:func:`cora.certify.baselines.is_aurora`) the restated subset
    ``bounded, backoff_delay, backoff_loss, probe, monotonic`` over Aurora's observation."""
    from cora.certify.baselines import is_aurora
    return _aurora_properties() if is_aurora(net) else PROPERTIES


def get_property(name: str) -> Property:
    """The property called ``name``; raises :class:`InputError` for an unknown name."""
    if name not in PROPERTIES:
        raise InputError(f"unknown property {name!r}; use one of: {', '.join(PROPERTIES)}, all")
    return PROPERTIES[name]


def check_property(net, name: str, domain: str = "deeppoly", max_boxes: int = 2048,
                   loop: str = "relational", visited=None, focus: bool = False) -> dict:
    """Certify one property quantitatively.

    Args:
        net: the policy (6 inputs, 1 output), float or quantized.
        name: a key of :data:`PROPERTIES`.
        domain: ``"interval"`` or ``"deeppoly"``.
        max_boxes: branch-and-bound budget.
        loop: closed-loop analysis for the closed-loop properties, ``"relational"`` or
            ``"interval"`` (:data:`CLOSED_LOOPS`); ignored by the others.
        visited: optional :class:`cora.certify.coverage.Visited` (states the policy visits in
            simulation); adds the visited-state measure.
        focus: with ``visited``, split only boxes that contain visited states (most first):
            the budget goes where the policy operates (volume measure lower, still sound).
    Returns:
        ``{"property", "proven_fraction", "worst_violation", "counterexample_violation",
        "boxes", "seconds"}`` (``proven_fraction``: by volume), plus ``"visited_in_region"``
        and ``"visited_fraction"`` (:func:`cora.certify.coverage.visited_fraction`) with
        ``visited``.
    Raises:
        InputError: unknown property or a network of the wrong shape.
    """
    prop = get_property(name)
    props = properties_for(net)
    if name not in props:
        raise InputError(f"property {name!r} does not apply to this policy's observation; "
                         f"use one of: {', '.join(props)}")
    prop = props[name]
    anet = absint.as_abstract(net)
    if anet.weights[0].shape[1] != len(OBS_LO) or anet.weights[-1].shape[0] != 1:
        raise InputError(f"the policy must map {len(OBS_LO)} observations to 1 action, "
                         f"got {anet.weights[0].shape[1]} -> {anet.weights[-1].shape[0]}")
    t0 = time.perf_counter()
    scale = CLOSED_LOOP_SPLIT_SCALE if prop.closed_loop else prop.hi - prop.lo
    score = None
    if prop.pointwise or name == "robust":
        def score(lb, h):  # smear heuristic: |df/dx_i| * width_i
            anet = net.abstract() if hasattr(net, "abstract") else net
            jl, ju = absint.jacobian_bounds(anet, lb, h, "interval")
            return np.maximum(np.abs(jl), np.abs(ju))[:, 0, :] * (h - lb)
    if loop not in CLOSED_LOOPS:
        raise InputError(f"unknown closed-loop analysis {loop!r}; "
                         f"use one of {', '.join(CLOSED_LOOPS)}")
    kw = {"loop": loop} if prop.closed_loop else {}
    priority = None
    if focus and visited is not None:
        from cora.certify.coverage import count_in_boxes, property_states
        pts = property_states(prop, visited)
        pts = pts[np.all((pts >= prop.lo) & (pts <= prop.hi), axis=1)]
        priority = lambda lb, h: count_in_boxes(pts, lb, h)  # noqa: E731
    cert = absint.certify_region(lambda lb, h: prop.check(net, lb, h, domain, **kw),
                                 lambda x: prop.concrete(net, x), prop.lo, prop.hi, max_boxes,
                                 scale=scale, split_score=score, priority=priority)
    out = {"property": name, "proven_fraction": round(cert.proven_fraction, 6),
           "worst_violation": round(cert.worst_violation, 6),
           "counterexample_violation": round(cert.counterexample_violation, 6),
           "boxes": cert.boxes, "seconds": round(time.perf_counter() - t0, 4)}
    if visited is not None:
        from cora.certify.coverage import visited_fraction
        out.update(visited_fraction(prop, cert, visited))
    out["_certificate"] = cert
    return out


def training_penalty(net, rng: np.random.Generator, boxes: int = 16, rel_width: float = 0.125,
                     domain: str = "deeppoly", centres: np.ndarray | None = None,
                     closed_loop: bool = True) -> dict:
    """Certificate terms for the training reward (C3-style: certificates inside the reward).

    For each property, ``boxes`` sub-boxes of its region (each side ``rel_width`` of the
    region's side) are bounded with ``domain``; the term is the mean over the boxes of
    ``log(1 + max(0, v_hi))`` where ``v_hi`` is the sound upper bound of the violation margin
    on the box -- zero exactly when every box is proven. Small boxes make the bounds tight
    enough to reflect the policy rather than the looseness of the domain.

    Where the boxes are: placed uniformly in the region (``centres=None``: the volume measure's
    weighting), or centred on visited observations ``centres`` ``(M, 6)`` that lie in the region
    (clipped to it; the visited-state measure's weighting; uniform boxes fill up when fewer
    than ``boxes`` visited states are in the region; closed-loop properties always use uniform
    boxes). The same ``rng`` state gives the same boxes (common random numbers across
    candidates). ``closed_loop=False`` leaves the closed-loop properties out (their relational
    analysis costs ~0.1 s per candidate).

    Returns:
        ``{name: term >= 0}``.
    """
    out = {}
    for name, prop in properties_for(net).items():
        if prop.closed_loop and not closed_loop:
            continue
        lo, hi = sample_subboxes(prop, rng, boxes, rel_width)
        if centres is not None and not prop.closed_loop:
            inside = centres[np.all((centres >= prop.lo) & (centres <= prop.hi), axis=1)]
            k = min(boxes, len(inside))
            if k:
                c = inside[rng.choice(len(inside), k, replace=False)]
                half = 0.5 * (prop.hi - prop.lo) * rel_width
                lo[:k] = np.maximum(c - half, prop.lo)
                hi[:k] = np.minimum(c + half, prop.hi)
        _, vh = prop.check(net, lo, hi, domain)
        out[name] = float(np.mean(np.log1p(np.maximum(vh, 0.0))))
    return out


def sample_subboxes(prop: Property, rng: np.random.Generator, n: int, rel_width: float):
    """``n`` random boxes inside ``prop``'s region, each side ``rel_width`` of the region's."""
    side = (prop.hi - prop.lo) * rel_width
    lo = prop.lo + (prop.hi - prop.lo - side) * rng.uniform(0, 1, (n, prop.lo.size))
    return lo, lo + side
