"""Relational k-step closed-loop analysis: affine forms (zonotopes) through policy and bottleneck.

Why: the interval closed loop (:func:`cora.certify.absint.closed_loop_bounds`) keeps one box per
step, so the delay gradient ``g_t = q_t - q_{t-1}`` is bounded by ``q_hi - q_prev_lo`` although
``q_t`` and ``q_{t-1}`` come from the same trajectory; the bound then feeds the network, the
next window, and grows every step (0.1 -> 0.65 -> 1.48 -> 2.71 -> 3.0 BDP from a box whose
sampled maximum was 0.245, issue 14). Here every quantity is an *affine form*

    z = c + sum_j G_j eps_j,        eps_j in [-1, 1]

over shared noise symbols (affine arithmetic, Comba & Stolfi 1993; the zonotope domain of
DeepZ, Singh et al., NeurIPS 2018). Symbols: one for the initial window, one for the random
loss of every round, and one fresh symbol per nonlinear operation. ``q_t - q_{t-1}`` is then
computed symbol by symbol, so what two steps share cancels.

Operations (all sound for every concrete value the form may take):

- affine maps: exact.
- a scalar function ``h`` on ``[l, u]`` (the form's range, intersected with the function's
  known range of arguments): the parallel-line relaxation ``h(z) in alpha z + [d_lo, d_hi]``
  with ``alpha`` the secant slope and ``d_lo``/``d_hi`` the exact extremes of ``h(z) - alpha z``,
  found at the end points, the break points and the stationary points of each smooth piece
  (every ``h`` used here is piecewise linear, convex or concave); then
  ``h(z) = alpha z + (d_lo + d_hi) / 2 + (d_hi - d_lo) / 2 eps_new``.
- products ``x y``: ``c_x c_y + c_x G_y + c_y G_x`` plus ``rad(x) rad(y) eps_new``.
- the network: DeepPoly's linear bounds ``Al x + cl <= z_L <= Au x + cu`` on the observation
  box (:func:`cora.certify.absint.deeppoly_linear`), composed with the observation's affine
  forms: ``z_L = (L + U) / 2 + max((U - L) / 2) eps_new``; the clip head and the action rule are
  scalar functions as above.

Every derived bound is widened by ``FP_MARGIN (1 + |bound|)`` (float64 rounding of the analysis,
as in :mod:`cora.certify.absint`). The concrete system is
:func:`cora.certify.absint.closed_loop_concrete` (the shared model of
:mod:`cora.certify.bottleneck`); tests/certify/test_closedloop.py checks with hypothesis that its
trajectories, with the random-loss fraction drawn independently every round, stay inside.
"""

from __future__ import annotations

import numpy as np

from cora.certify import absint
from cora.certify.absint import FP_MARGIN
from cora.certify.bottleneck import overflow_loss, queue_bdp
from cora.certify.sim import ACTION_GAIN, OBS_HI, OBS_LO
from cora.errors import InputError


class _Symbols:
    """Allocator of noise symbols shared by the affine forms of one analysis (``B`` boxes)."""

    def __init__(self, n_boxes: int):
        self.B, self.m = n_boxes, 0

    def fresh(self) -> int:
        self.m += 1
        return self.m - 1


class Affine:
    """An affine form per box: centre ``c`` ``(B,)``, generators ``G`` ``(B, m)``."""

    def __init__(self, sym: _Symbols, c, G=None):
        self.sym = sym
        self.c = np.asarray(c, float) * np.ones(sym.B)
        self.G = np.zeros((sym.B, 0)) if G is None else G

    def gen(self) -> np.ndarray:
        """Generators padded to all symbols allocated so far, ``(B, m)``."""
        G = self.G
        if G.shape[1] < self.sym.m:
            G = np.concatenate([G, np.zeros((self.sym.B, self.sym.m - G.shape[1]))], axis=1)
        return G

    def rad(self) -> np.ndarray:
        """Radius ``sum_j |G_j|`` ``(B,)``."""
        return np.abs(self.G).sum(axis=1)

    def bounds(self):
        """Sound ``(lo, hi)`` ``(B,)``, widened for float rounding."""
        r = self.rad()
        lo, hi = self.c - r, self.c + r
        return lo - FP_MARGIN * (1 + np.abs(lo) + r), hi + FP_MARGIN * (1 + np.abs(hi) + r)

    def __add__(self, o):
        if isinstance(o, Affine):
            return Affine(self.sym, self.c + o.c, self.gen() + o.gen())
        return Affine(self.sym, self.c + o, self.G)

    __radd__ = __add__

    def __neg__(self):
        return Affine(self.sym, -self.c, -self.G)

    def __sub__(self, o):
        return self + (-o)

    def __rsub__(self, o):
        return (-self) + o

    def scale(self, k):
        """``k z`` for a scalar or ``(B,)`` array ``k``."""
        k = np.asarray(k, float)
        return Affine(self.sym, k * self.c, (k[..., None] if k.ndim else k) * self.G)

    def with_noise(self, radius):
        """``z + radius eps_new`` (``radius >= 0``, ``(B,)``)."""
        j = self.sym.fresh()
        G = self.gen()
        G[:, j] = radius
        return Affine(self.sym, self.c, G)


def noise(sym: _Symbols, lo, hi) -> Affine:
    """A fresh variable anywhere in ``[lo, hi]`` (``(B,)``):
    ``(lo + hi) / 2 + (hi - lo) / 2 eps``."""
    lo, hi = np.asarray(lo, float) * np.ones(sym.B), np.asarray(hi, float) * np.ones(sym.B)
    return Affine(sym, 0.5 * (lo + hi)).with_noise(0.5 * (hi - lo))


def product(x: Affine, y: Affine) -> Affine:
    """``x y``: exact linear part plus ``rad(x) rad(y)`` on a fresh symbol."""
    G = x.c[:, None] * y.gen() + y.c[:, None] * x.gen()
    rem = x.rad() * y.rad()
    c = x.c * y.c
    rem = rem + FP_MARGIN * (1 + np.abs(c) + np.abs(G).sum(1) + rem)
    return Affine(x.sym, c, G).with_noise(rem)


def apply(z: Affine, h_lo, h_hi, candidates, arg_lo=-np.inf, arg_hi=np.inf) -> Affine:
    """Image of ``z`` under a scalar function with values in ``[h_lo(z), h_hi(z)]``.

    Args:
        h_lo, h_hi: vectorised functions (the same function for a deterministic ``h``).
        candidates: ``candidates(l, u, alpha) -> list of (B,) arrays``: the break points and
            stationary points of ``h_lo - alpha z`` and ``h_hi - alpha z`` (outside ``[l, u]`` is
            fine, they are clipped); the end points are always included.
        arg_lo, arg_hi: a range every concrete argument is known to lie in (intersected with
            the form's bounds; e.g. an action is in ``[-1, 1]``).
    """
    lb, ub = z.bounds()
    lb, ub = np.maximum(lb, arg_lo), np.minimum(ub, arg_hi)
    ub = np.maximum(ub, lb)
    width = ub - lb
    mid_fn = lambda v: 0.5 * (h_lo(v) + h_hi(v))  # noqa: E731
    alpha = np.where(width > 1e-12,
                     (mid_fn(ub) - mid_fn(lb)) / np.where(width > 1e-12, width, 1.0), 0.0)
    pts = [lb, ub] + [np.clip(p, lb, ub) for p in candidates(lb, ub, alpha)]
    dlo = np.min([h_lo(p) - alpha * p for p in pts], axis=0)
    dhi = np.max([h_hi(p) - alpha * p for p in pts], axis=0)
    mag = np.max([np.abs(h_lo(p)) + np.abs(h_hi(p)) + np.abs(alpha * p) for p in pts], axis=0)
    dlo, dhi = dlo - FP_MARGIN * (1 + mag), dhi + FP_MARGIN * (1 + mag)
    base = z.scale(alpha) + 0.5 * (dlo + dhi)
    return base.with_noise(0.5 * (dhi - dlo) + FP_MARGIN * np.abs(alpha) * z.rad())


def clip(z: Affine, lo, hi) -> Affine:
    """``clip(z, lo, hi)`` (scalars); identity (no new symbol) where the form is already inside."""
    zl, zh = z.bounds()
    if np.all(zl >= lo) and np.all(zh <= hi):
        return z
    f = lambda v: np.clip(v, lo, hi)  # noqa: E731
    return apply(z, f, f, lambda lb, ub, a: [np.full_like(lb, lo), np.full_like(lb, hi)])


def queue(w: Affine, b: float) -> Affine:
    """Queue ``clip(w - 1, 0, b)`` (:func:`cora.certify.bottleneck.queue_bdp`)."""
    f = lambda v: queue_bdp(v, b)  # noqa: E731
    return apply(w, f, f, lambda lb, ub, a: [np.ones_like(lb), np.full_like(lb, 1 + b)], arg_lo=0.0)


def overflow(w: Affine, b: float) -> Affine:
    """Overflow fraction ``max(w - 1 - b, 0) / w`` (:func:`cora.certify.bottleneck.overflow_loss`):
    0 up to ``1 + b``, then ``1 - (1 + b)/w`` (concave); ``h - alpha w`` is stationary at
    ``sqrt((1 + b) / alpha)``."""
    f = lambda v: overflow_loss(np.maximum(v, 1e-12), b)  # noqa: E731

    def cands(lb, ub, a):
        return [np.full_like(lb, 1 + b), np.sqrt((1 + b) / np.maximum(a, 1e-12))]
    return apply(w, f, f, cands, arg_lo=0.0)


def window_factor(a: Affine, gain: float) -> Affine:
    """The action rule's factor ``m(a)``: ``1 + gain a`` (``a >= 0``), ``1 / (1 - gain a)``
    (``a < 0``) (:func:`cora.certify.sim.apply_action` is ``w m(a)``); convex, with
    ``m - alpha a`` stationary at ``(1 - sqrt(gain / alpha)) / gain`` on the left piece."""
    def f(v):
        return np.where(v >= 0, 1 + gain * v, 1 / (1 - gain * np.minimum(v, 0)))

    def cands(lb, ub, al):
        return [np.zeros_like(lb), (1 - np.sqrt(gain / np.maximum(al, 1e-12))) / gain]
    return apply(a, f, f, cands, arg_lo=-1.0, arg_hi=1.0)


def floor_window(w: Affine, w_min_hi: float) -> Affine:
    """``max(w, w_min)`` for an unknown ``w_min`` in ``[0, w_min_hi]``: between ``w`` and
    ``max(w, w_min_hi)``."""
    if w_min_hi <= 0 or np.all(w.bounds()[0] >= w_min_hi):
        return w
    return apply(w, lambda v: v, lambda v: np.maximum(v, w_min_hi),
                 lambda lb, ub, a: [np.full_like(lb, w_min_hi)])


def policy(net, x: list, anet=None) -> Affine:
    """The network's pre-clip output ``z_L`` as an affine form of the observation forms ``x``
    (six :class:`Affine`), from DeepPoly's linear bounds on their box (module docstring)."""
    anet = absint.as_abstract(net) if anet is None else anet
    sym = x[0].sym
    lo = np.stack([xi.bounds()[0] for xi in x], axis=1)
    hi = np.stack([xi.bounds()[1] for xi in x], axis=1)
    Al, cl, Au, cu, _, _ = absint.deeppoly_linear(anet, lo, hi)
    Al, cl, Au, cu = Al[:, 0, :], cl[:, 0], Au[:, 0, :], cu[:, 0]
    s = anet.input_slack  # the network sees x' in [x - s, x] (input rounding)
    cl = cl - s * np.maximum(Al, 0).sum(1)
    cu = cu - s * np.minimum(Au, 0).sum(1)
    L = sum((x[i].scale(Al[:, i]) for i in range(len(x))), Affine(sym, cl))
    U = sum((x[i].scale(Au[:, i]) for i in range(len(x))), Affine(sym, cu))
    mid = (L + U).scale(0.5)
    gap = (U - L).scale(0.5)
    r = np.maximum(gap.c + gap.rad(), 0.0)
    mag = (np.abs(mid.c) + mid.rad() + r
           + (np.abs(Al) + np.abs(Au)).sum(1) * np.maximum(np.abs(lo), np.abs(hi)).max(1))
    return mid.with_noise(r + FP_MARGIN * (1 + mag))


LOSS_ROUNDS = ("fixed", "independent")


def relational_bounds(net, w_lo, w_hi, p_lo, p_hi, steps: int, buffer_bdp: float,
                      w_min_hi: float = 0.0, gain: float | None = None,
                      loss_rounds: str = "fixed", intersect: bool = True) -> dict:
    """Relational over-approximation of ``steps`` rounds of policy + shared bottleneck model.

    Same system and start as :func:`cora.certify.absint.closed_loop_bounds` (steady start,
    minimum window anywhere in ``[0, w_min_hi]``), analysed with affine forms (module docstring).
    The random-loss fraction ``r`` of the rounds:

    - ``loss_rounds="fixed"``: one value ``p`` in ``[p_lo, p_hi]`` for every round (the fluid
      model: the realised fraction equals the loss probability); one symbol shared by all
      rounds, so splitting ``p`` tightens the analysis.
    - ``"independent"``: anywhere in ``[p_lo, p_hi]`` independently every round (covers the
      simulator's binomial fluctuation as long as it stays in the range); one symbol per round.

    Args:
        net: the policy (MLP / quantized / AbstractNet), 6 inputs, 1 output.
        w_lo, w_hi, p_lo, p_hi: ``(B,)`` boxes of initial window (BDPs) and random loss.
        steps: ``k``.  buffer_bdp: ``b``.  w_min_hi: largest minimum window, BDPs.
        loss_rounds: see above.
        intersect: intersect with the interval analysis's bounds (default; both are sound).
            ``False`` returns the affine analysis alone (tests compare it with the shared
            model on point boxes, where it must collapse onto the concrete trajectory).
    Returns:
        dict of arrays ``(steps + 1, B)``: ``w_lo, w_hi, q_lo, q_hi``; ``(steps, B)``:
        ``a_lo, a_hi``; every one intersected with the interval analysis's (both are sound)
        unless ``intersect`` is false.
    """
    g = ACTION_GAIN if gain is None else gain
    anet = absint.as_abstract(net)
    wl, wh = np.asarray(w_lo, float), np.asarray(w_hi, float)
    sym = _Symbols(wl.size)
    b = float(buffer_bdp)
    if loss_rounds not in LOSS_ROUNDS:
        raise InputError(f"unknown loss_rounds {loss_rounds!r}; "
                         f"use one of {', '.join(LOSS_ROUNDS)}")
    w = noise(sym, wl, wh)
    r_fixed = noise(sym, p_lo, p_hi)

    def loss(w_):
        o = overflow(w_, b)
        r = r_fixed if loss_rounds == "fixed" else noise(sym, p_lo, p_hi)
        return o + r - product(o, r)  # o + r (1 - o)

    q = queue(w, b)
    q1, q2, l1 = q, q, loss(w)
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("w_lo", "w_hi", "q_lo", "q_hi", "a_lo",
                                                        "a_hi")}
    for t in range(steps + 1):
        if t:
            q = queue(w, b)
        wb, qb = w.bounds(), q.bounds()
        out["w_lo"].append(np.maximum(wb[0], 0.0))
        out["w_hi"].append(wb[1])
        out["q_lo"].append(np.maximum(qb[0], 0.0))
        out["q_hi"].append(np.minimum(qb[1], b))
        if t == steps:
            break
        lt = loss(w)
        raw = [q, q - q1, lt, q1, q1 - q2, l1]
        x = [clip(raw[i], OBS_LO[i], OBS_HI[i]) for i in range(6)]
        z = policy(anet, x)
        a = clip(z, -1.0, 1.0)  # the clip head, or apply_action's clip of a linear head
        ab = a.bounds() if anet.output == "clip" else z.bounds()
        if anet.output == "clip":
            ab = (np.maximum(ab[0], -1.0), np.minimum(ab[1], 1.0))
        out["a_lo"].append(ab[0])
        out["a_hi"].append(ab[1])  # the network's output
        w = floor_window(product(w, window_factor(a, g)), w_min_hi)
        q2, q1, l1 = q1, q, lt
    res = {k: np.array(v) for k, v in out.items()}
    if not intersect:
        return res
    ib = absint.closed_loop_bounds(anet, wl, wh, p_lo, p_hi, steps, b, w_min_hi, "deeppoly", g)
    for k in res:
        res[k] = (np.maximum if k.endswith("_lo") else np.minimum)(res[k], ib[k])
    return res
