"""Sound abstract interpretation of MLP policies: intervals and DeepPoly/CROWN back-substitution.

Domains (all batched over ``B`` input boxes; ``lo``/``hi`` shaped ``(B, n_in)`` or ``(n_in,)``):

- **interval** (interval bound propagation, IBP): ``[l, u]`` of ``z = W h + b`` is
  ``W+ l + W- u + b`` / ``W+ u + W- l + b``; activations are monotone, so applied to the ends.
- **deeppoly**: every hidden neuron gets one linear lower and one linear upper bound in its
  input (ReLU: the triangle upper line ``u (z - l) / (u - l)`` and the lower line ``0`` or
  ``z``, whichever has the smaller area; tanh: the secant/tangent lines of Singh et al.,
  "An abstract domain for certifying neural networks" (DeepPoly), POPL 2019, Sec. 4), and the
  bounds of every layer are found by back-substituting those lines down to the input box
  (the same as CROWN, Zhang et al., NeurIPS 2018, with the DeepPoly lower-slope choice).
  Each layer's bounds are intersected with the interval bounds (both are sound).

An optional clipped output head ``a = clip(z_L, -1, 1)`` (``output = "clip"``) is monotone, so
its image of ``[l, u]`` is exactly ``[clip(l), clip(u)]``; its derivative lies in
``[1{-1 < l and u < 1}, 1{u > -1 and l < 1}]`` (the subgradient ``[0, 1]`` at the corners).

Networks may carry an interval on each bias (``b_lo <= b <= b_hi``); this is how the rounding
of the fixed-point network is covered (see :mod:`cora.certify.quant`). Every bound is widened
outward by ``FP_MARGIN * (1 + |bound|)`` to cover float64 rounding of the analysis itself.

Also here: interval bounds on the Jacobian (for monotonicity), volume-weighted branch and
bound over input splits (:func:`certify_region`), and the interval closed-loop mode
(:func:`closed_loop_bounds`) that over-approximates ``k`` steps of policy + fluid bottleneck
(the relational one is :mod:`cora.certify.closedloop`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cora.errors import InputError

FP_MARGIN = 1e-9
DOMAINS = ("interval", "deeppoly")
_CHUNK = 512


@dataclass
class AbstractNet:
    """The view of a network the analysis works on.

    Attributes:
        weights: ``weights[i]`` shaped ``(n_i, n_{i-1})`` (real-valued).
        bias_lo, bias_hi: ``(n_i,)`` interval of each bias.
        activation: ``"relu"`` or ``"tanh"`` on hidden layers.
        input_slack: the analysed input box is ``[lo - input_slack, hi]`` (input rounding down).
        output: ``"linear"`` or ``"clip"`` (``clip(z_L, -1, 1)``) output head.
    """

    weights: list
    bias_lo: list
    bias_hi: list
    activation: str = "relu"
    input_slack: float = 0.0
    output: str = "linear"


def as_abstract(net) -> AbstractNet:
    """Turn an :class:`~cora.certify.nn.MLP` or quantized network into an :class:`AbstractNet`."""
    if isinstance(net, AbstractNet):
        return net
    if hasattr(net, "abstract"):
        return net.abstract()
    return AbstractNet(list(net.weights), list(net.biases), list(net.biases), net.activation,
                       output=getattr(net, "output", "linear"))


def _widen(lb, ub):
    return lb - FP_MARGIN * (1 + np.abs(lb)), ub + FP_MARGIN * (1 + np.abs(ub))


def _prep_box(anet: AbstractNet, lo, hi):
    lo = np.atleast_2d(np.asarray(lo, dtype=np.float64))
    hi = np.atleast_2d(np.asarray(hi, dtype=np.float64))
    n_in = anet.weights[0].shape[1]
    if lo.shape != hi.shape or lo.shape[-1] != n_in:
        raise InputError(f"input box must have {n_in} values per bound, got lower {lo.shape[-1:]} "
                         f"and upper {hi.shape[-1:]}")
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise InputError("input box bounds must be finite numbers")
    if np.any(lo > hi):
        raise InputError("input box has a lower bound above its upper bound")
    return lo - anet.input_slack, hi


def _affine_interval(w, blo, bhi, lb, ub):
    wp, wn = np.maximum(w, 0), np.minimum(w, 0)
    return lb @ wp.T + ub @ wn.T + blo, ub @ wp.T + lb @ wn.T + bhi


def _act_interval(act, lb, ub):
    if act == "relu":
        return np.maximum(lb, 0), np.maximum(ub, 0)
    return np.tanh(lb), np.tanh(ub)


def interval_layers(net, lo, hi):
    """Pre-activation bounds of every layer by interval propagation.

    Returns:
        list of ``(lb, ub)``, one per layer, each ``(B, n_i)``.
    """
    anet = as_abstract(net)
    lb, ub = _prep_box(anet, lo, hi)
    out = []
    for i, w in enumerate(anet.weights):
        lb, ub = _widen(*_affine_interval(w, anet.bias_lo[i], anet.bias_hi[i], lb, ub))
        out.append((lb, ub))
        if i < len(anet.weights) - 1:
            lb, ub = _act_interval(anet.activation, lb, ub)
    return out


def _relax(act, lb, ub):
    """Linear relaxation ``sl z + il <= act(z) <= su z + iu`` valid on ``[l, u]``; arrays (B, n)."""
    if act == "relu":
        active = lb >= 0
        dead = ub <= 0
        unstable = ~(active | dead)
        den = np.where(unstable, ub - lb, 1.0)
        su = np.where(active, 1.0, np.where(unstable, ub / den, 0.0))
        iu = np.where(unstable, -ub * lb / den, 0.0)
        sl = np.where(active, 1.0, np.where(unstable, (ub > -lb).astype(float), 0.0))
        il = np.zeros_like(lb)
        return sl, il, su, iu
    # tanh (DeepPoly, POPL'19 Sec. 4.3): lam = secant slope, lam2 = min derivative on [l, u]
    tl, tu = np.tanh(lb), np.tanh(ub)
    d = lambda z: 1.0 - np.tanh(z) ** 2  # noqa: E731
    lam2 = np.minimum(d(lb), d(ub))
    width = ub - lb
    narrow = width < 1e-9
    lam = np.where(narrow, lam2, (tu - tl) / np.where(narrow, 1.0, width))
    pos = lb >= 0
    neg = ub <= 0
    # lower line
    sl = np.where(pos & ~narrow, lam, lam2)
    il = tl - sl * lb
    # upper line
    su = np.where(neg & ~narrow, lam, lam2)
    iu = tu - su * ub
    # float slack: shift lines outward a little (tanh is 1-Lipschitz)
    eps = 1e-12 * (1 + np.abs(lb) + np.abs(ub))
    return sl, il - eps, su, iu + eps


def _backsub(anet, k, relax, lo, hi, linear: bool = False):
    """Bounds of layer ``k``'s pre-activation by back-substitution to the input box; with
    ``linear`` the linear bounds themselves, ``(Al, cl, Au, cu)``: ``Al x + cl <= z <= Au x + cu``
    for ``x`` in the box (``A`` shaped ``(B, n_k, n_in)``, ``c`` ``(B, n_k)``)."""
    w = anet.weights[k]
    # First step in factored form: the coefficients W_k are the same for every box and the
    # relaxation slopes are >= 0 (monotone activations), so the sign split is W+ / W- and
    # (W+ diag(su_b) + W- diag(sl_b)) W_{k-1} = W+ (su_b * W_{k-1}) + W- (sl_b * W_{k-1})
    # never builds a (B, n_k, n_{k-1}) array.
    sl, il, su, iu = relax[k - 1]
    wp, wn = np.maximum(w, 0), np.minimum(w, 0)
    wj, blo, bhi = anet.weights[k - 1], anet.bias_lo[k - 1], anet.bias_hi[k - 1]
    cu = anet.bias_hi[k] + iu @ wp.T + il @ wn.T + (su * bhi) @ wp.T + (sl * blo) @ wn.T
    cl = anet.bias_lo[k] + il @ wp.T + iu @ wn.T + (sl * blo) @ wp.T + (su * bhi) @ wn.T
    if w.shape[0] <= wj.shape[1]:  # few rows (e.g. the output): build A_z, then multiply
        Au = (wp[None] * su[:, None, :] + wn[None] * sl[:, None, :]) @ wj
        Al = (wp[None] * sl[:, None, :] + wn[None] * su[:, None, :]) @ wj
    else:
        su_w, sl_w = su[:, :, None] * wj, sl[:, :, None] * wj
        Au = np.matmul(wp, su_w) + np.matmul(wn, sl_w)
        Al = np.matmul(wp, sl_w) + np.matmul(wn, su_w)
        del su_w, sl_w
    relu = anet.activation == "relu"
    for j in range(k - 2, -1, -1):
        sl, il, su, iu = relax[j]
        if relu:
            # ReLU: il = 0, so A+ su + A- sl = A sl + A+ (su - sl) and only A+ meets iu
            ap = np.maximum(Au, 0)
            cu += np.einsum("bmn,bn->bm", ap, iu)
            Au = Au * sl[:, None, :] + ap * (su - sl)[:, None, :]
            an = np.minimum(Al, 0)
            cl += np.einsum("bmn,bn->bm", an, iu)
            Al = Al * sl[:, None, :] + an * (su - sl)[:, None, :]
        else:
            ap, an = np.maximum(Au, 0), np.minimum(Au, 0)
            cu += np.einsum("bmn,bn->bm", ap, iu) + np.einsum("bmn,bn->bm", an, il)
            Au = ap * su[:, None, :] + an * sl[:, None, :]
            ap, an = np.maximum(Al, 0), np.minimum(Al, 0)
            cl += np.einsum("bmn,bn->bm", ap, il) + np.einsum("bmn,bn->bm", an, iu)
            Al = ap * sl[:, None, :] + an * su[:, None, :]
        wj, blo, bhi = anet.weights[j], anet.bias_lo[j], anet.bias_hi[j]
        cu += np.maximum(Au, 0) @ bhi + np.minimum(Au, 0) @ blo
        cl += np.maximum(Al, 0) @ blo + np.minimum(Al, 0) @ bhi
        Au = Au @ wj
        Al = Al @ wj
    if linear:
        return Al, cl, Au, cu
    ub = (cu + np.einsum("bmn,bn->bm", np.maximum(Au, 0), hi)
          + np.einsum("bmn,bn->bm", np.minimum(Au, 0), lo))
    lb = (cl + np.einsum("bmn,bn->bm", np.maximum(Al, 0), lo)
          + np.einsum("bmn,bn->bm", np.minimum(Al, 0), hi))
    return lb, ub


def deeppoly_layers(net, lo, hi):
    """Pre-activation bounds of every layer in the DeepPoly/CROWN domain.

    Args:
        net: an MLP, quantized network or :class:`AbstractNet`.
        lo, hi: input box, ``(B, n_in)`` or ``(n_in,)``.
    Returns:
        list of ``(lb, ub)`` per layer, each ``(B, n_i)``; sound and at least as tight as intervals.
    Raises:
        InputError: box of the wrong width, non-finite, or with ``lo > hi``.
    """
    anet = as_abstract(net)
    lo, hi = _prep_box(anet, lo, hi)
    if lo.shape[0] > _CHUNK:
        parts = [deeppoly_layers(anet_no_slack(anet), lo[i:i + _CHUNK], hi[i:i + _CHUNK])
                 for i in range(0, lo.shape[0], _CHUNK)]
        return [(np.concatenate([p[k][0] for p in parts]), np.concatenate([p[k][1] for p in parts]))
                for k in range(len(anet.weights))]
    out: list[tuple[np.ndarray, np.ndarray]] = []
    relax: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    lb, ub = lo, hi
    for k, w in enumerate(anet.weights):
        il_, iu_ = _affine_interval(w, anet.bias_lo[k], anet.bias_hi[k], lb, ub)
        if k == 0:
            zl, zu = il_, iu_
        else:
            bl, bu = _backsub(anet, k, relax, lo, hi)
            zl, zu = np.maximum(il_, bl), np.minimum(iu_, bu)
        zl, zu = _widen(zl, zu)
        out.append((zl, zu))
        if k < len(anet.weights) - 1:
            relax.append(_relax(anet.activation, zl, zu))
            lb, ub = _act_interval(anet.activation, zl, zu)
    return out


def deeppoly_linear(net, lo, hi):
    """Linear bounds of the last layer's pre-activation (before a clip head) over the box(es).

    Args:
        net: MLP / quantized network / AbstractNet.  lo, hi: ``(B, n_in)``.
    Returns:
        ``(Al, cl, Au, cu, lb, ub)``: ``Al x' + cl <= z_L(x') <= Au x' + cu`` for every ``x'`` in
        ``[lo - input_slack, hi]`` (``A`` ``(B, n_out, n_in)``, ``c`` ``(B, n_out)``), and the
        concrete bounds ``lb, ub`` ``(B, n_out)`` of :func:`deeppoly_layers` (the same DeepPoly
        relaxations, so the lines and the bounds are consistent). The float rounding of the
        back-substitution is not in ``c``; callers widen (``FP_MARGIN``) as the layer bounds do.
    """
    anet = as_abstract(net)
    layers = deeppoly_layers(anet, lo, hi)
    plo, phi = _prep_box(anet, lo, hi)
    k = len(anet.weights) - 1
    if k == 0:
        w = anet.weights[0]
        a = np.broadcast_to(w, (plo.shape[0],) + w.shape)
        cl = np.broadcast_to(anet.bias_lo[0], (plo.shape[0], w.shape[0]))
        cu = np.broadcast_to(anet.bias_hi[0], (plo.shape[0], w.shape[0]))
        return a, cl, a, cu, *layers[-1]
    parts = []
    for i in range(0, plo.shape[0], _CHUNK):
        sl = slice(i, i + _CHUNK)
        relax = [_relax(anet.activation, layers[j][0][sl], layers[j][1][sl]) for j in range(k)]
        parts.append(_backsub(anet, k, relax, plo[sl], phi[sl], linear=True))
    return (*(np.concatenate([p[j] for p in parts]) for j in range(4)), *layers[-1])


def anet_no_slack(anet: AbstractNet) -> AbstractNet:
    """The same abstract network with ``input_slack`` already applied (used for chunking)."""
    return AbstractNet(anet.weights, anet.bias_lo, anet.bias_hi, anet.activation, 0.0, anet.output)


def output_bounds(net, lo, hi, domain: str = "deeppoly"):
    """Sound bounds of the network output over the input box(es).

    Args:
        net: MLP / quantized network / AbstractNet.
        lo, hi: ``(n_in,)`` or ``(B, n_in)``.
        domain: ``"interval"`` or ``"deeppoly"``.
    Returns:
        ``(lb, ub)`` shaped ``(B, n_out)`` (``(n_out,)`` for a single box): for every ``x`` in the
        box, ``lb <= f(x) <= ub``.
    Raises:
        InputError: unknown domain or a malformed box.
    """
    single = np.asarray(lo).ndim == 1
    anet = as_abstract(net)
    if domain == "interval":
        lb, ub = interval_layers(anet, lo, hi)[-1]
    elif domain == "deeppoly":
        lb, ub = deeppoly_layers(anet, lo, hi)[-1]
    else:
        raise InputError(f"unknown domain {domain!r}; use one of {', '.join(DOMAINS)}")
    if anet.output == "clip":  # monotone head: exact image of the interval
        lb, ub = np.clip(lb, -1.0, 1.0), np.clip(ub, -1.0, 1.0)
    return (lb[0], ub[0]) if single else (lb, ub)


def jacobian_bounds(net, lo, hi, domain: str = "deeppoly", layers=None):
    """Interval bounds of the Jacobian ``d f / d x`` over the input box(es).

    The derivative of each hidden activation is bounded from its pre-activation bounds (ReLU:
    ``[1{l>0}, 1{u>0}]`` (the subgradient ``[0, 1]`` at 0); tanh: ``1 - tanh^2`` at the farthest
    and the nearest point to 0; a clip head: see the module docstring), then the chain rule is
    evaluated in interval arithmetic from the output down. Only meaningful for the real-valued
    network (not quantized).

    Float rounding of the analysis: every product/sum step is widened by ``FP_MARGIN`` times
    the sum of the absolute values of the terms it added, which bounds the rounding error of
    a floating-point dot product (``gamma_n sum |x_i y_i|``, Higham, *Accuracy and Stability of
    Numerical Algorithms*, 2nd ed., Sec. 3.1; ``gamma_n = n 2^-53 / (1 - n 2^-53)`` is far below
    ``FP_MARGIN`` for these widths). A bound whose terms all have one sign keeps that sign.

    Args:
        layers: optional pre-activation bounds already computed for this box (as returned by
            :func:`deeppoly_layers` / :func:`interval_layers`), to avoid recomputing them.
    Returns:
        ``(Jl, Ju)`` shaped ``(B, n_out, n_in)``.
    """
    anet = as_abstract(net)
    if layers is None:
        layers = (deeppoly_layers if domain == "deeppoly" else interval_layers)(anet, lo, hi)
    B = layers[0][0].shape[0]
    w = anet.weights[-1]
    gl = np.broadcast_to(w, (B,) + w.shape).copy()
    gu = gl.copy()
    if anet.output == "clip":
        lb, ub = layers[-1]
        dl = ((lb > -1.0) & (ub < 1.0)).astype(float)[:, :, None]
        du = ((ub > -1.0) & (lb < 1.0)).astype(float)[:, :, None]
        gl, gu = np.minimum(gl * dl, gl * du), np.maximum(gu * dl, gu * du)
    for j in range(len(anet.weights) - 2, -1, -1):
        lb, ub = layers[j]
        if anet.activation == "relu":
            dl, du = (lb > 0).astype(float), (ub > 0).astype(float)
        else:
            far = np.maximum(np.abs(lb), np.abs(ub))
            near = np.where((lb <= 0) & (ub >= 0), 0.0, np.minimum(np.abs(lb), np.abs(ub)))
            dl, du = 1 - np.tanh(far) ** 2, 1 - np.tanh(near) ** 2
            dl, du = dl * (1 - FP_MARGIN), np.minimum(du * (1 + FP_MARGIN), 1.0)
        dl, du = dl[:, None, :], du[:, None, :]
        cands = (gl * dl, gl * du, gu * dl, gu * du)
        gl = np.minimum.reduce(cands)
        gu = np.maximum.reduce(cands)
        if anet.activation != "relu":  # products by non-representable derivatives round
            gl, gu = gl - FP_MARGIN * np.abs(gl), gu + FP_MARGIN * np.abs(gu)
        wj = anet.weights[j]
        wp, wn = np.maximum(wj, 0), np.minimum(wj, 0)
        nl, nu = gl @ wp + gu @ wn, gu @ wp + gl @ wn
        el = np.abs(gl) @ wp - np.abs(gu) @ wn
        eu = np.abs(gu) @ wp - np.abs(gl) @ wn
        gl, gu = nl - FP_MARGIN * el, nu + FP_MARGIN * eu
    return gl, gu


@dataclass
class Certificate:
    """A quantitative certificate of one property over one input region.

    Attributes:
        proven_fraction: volume fraction of the region (over non-degenerate dimensions) covered
            by boxes on which the property is proven.
        worst_violation: sound upper bound of the violation margin over the unproven part
            (``0.0`` if everything is proven; same units as the property's margin).
        counterexample_violation: largest violation seen at a concrete point (box centres);
            ``0.0`` if none found.
            ``counterexample_violation <= worst violation <= worst_violation``.
        boxes: number of boxes analysed.
        proven_boxes: the proven boxes, ``(lo, hi)`` arrays shaped ``(P, n)``.
    """

    proven_fraction: float
    worst_violation: float
    counterexample_violation: float
    boxes: int
    proven_boxes: tuple


def certify_region(check, concrete, lo, hi, max_boxes: int = 2048, scale=None,
                   split_score=None, priority=None) -> Certificate:
    """Branch and bound over input splits, volume-weighted.

    Args:
        check: ``check(lo, hi) -> (viol_lo, viol_hi)``, each ``(B,)``: bounds of the violation
            margin over each box (``viol_hi <= 0``: proven on the box; ``viol_lo > 0``: violated
            at every point of the box).
        concrete: ``concrete(x) -> (B,)`` violation margin at points ``x`` ``(B, n)``.
        lo, hi: the region, ``(n,)``.
        max_boxes: analysis budget (number of boxes bounded in total).
        scale: per-dimension scale used to pick the dimension to bisect (default ``hi - lo``).
        split_score: optional ``split_score(lo, hi) -> (B, n)``; the dimension with the largest
            score is bisected (e.g. the "smear" ``|df/dx_i| * width_i``); default: the widest
            dimension relative to ``scale``.
        priority: optional ``priority(lo, hi) -> (B,)``: only open boxes with a positive
            priority are split, highest first when the budget is short (e.g. the number of
            visited states inside: a verifier that spends its budget where the policy operates;
            the others stay unproven, so the result is still sound). Default: split every open
            box, the largest violation bound first when the budget is short.
    Returns:
        :class:`Certificate`.
    """
    lo = np.asarray(lo, float)
    hi = np.asarray(hi, float)
    width = hi - lo
    live = width > 0
    scale = np.where(live, width if scale is None else np.asarray(scale, float), 1.0)
    total = float(np.prod(width[live])) if np.any(live) else 1.0

    def vol(bl, bh):
        return np.prod(np.where(live, bh - bl, 1.0), axis=1) / total

    frontier_l, frontier_h = lo[None], hi[None]
    proven_l, proven_h = [], []
    proven = 0.0
    worst = -np.inf
    cex = 0.0
    used = 0
    while frontier_l.shape[0]:
        used += frontier_l.shape[0]
        vlo, vhi = check(frontier_l, frontier_h)
        mid = 0.5 * (frontier_l + frontier_h)
        cex = max(cex, float(np.max(concrete(mid), initial=0.0)))
        ok = vhi <= 0
        proven += float(vol(frontier_l[ok], frontier_h[ok]).sum())
        proven_l.append(frontier_l[ok])
        proven_h.append(frontier_h[ok])
        open_ = ~ok & ~(vlo > 0)
        dead = ~ok & (vlo > 0)
        if np.any(dead):
            worst = max(worst, float(vhi[dead].max()))
        fl, fh, fv = frontier_l[open_], frontier_h[open_], vhi[open_]
        rank = fv
        if priority is not None and fl.shape[0]:
            rank = np.asarray(priority(fl, fh), float)
            idle = rank <= 0
            if np.any(idle):
                worst = max(worst, float(fv[idle].max()))
                fl, fh, fv, rank = fl[~idle], fh[~idle], fv[~idle], rank[~idle]
        if fl.shape[0] == 0:
            break
        if used + 2 * fl.shape[0] > max_boxes:
            # budget: split the worst (or highest-priority) boxes only, keep the rest unproven
            n_split = max(0, (max_boxes - used) // 2)
            order = np.argsort(-rank)
            keep = order[n_split:]
            if keep.size:
                worst = max(worst, float(fv[keep].max()))
            fl, fh = fl[order[:n_split]], fh[order[:n_split]]
            if n_split == 0:
                break
        rel = np.where(live, (fh - fl) / scale, -1.0)
        if split_score is not None:
            sc = np.where(live & (fh > fl), split_score(fl, fh), -1.0)
            # ties (e.g. all-zero scores) fall back to the relative width
            rel = np.where(sc.max(axis=1, keepdims=True) > 0, sc, rel)
        d = np.argmax(rel, axis=1)
        m = 0.5 * (fl[np.arange(len(d)), d] + fh[np.arange(len(d)), d])
        l1, h1 = fl.copy(), fh.copy()
        h1[np.arange(len(d)), d] = m
        l2, h2 = fl.copy(), fh.copy()
        l2[np.arange(len(d)), d] = m
        frontier_l = np.concatenate([l1, l2])
        frontier_h = np.concatenate([h1, h2])
    pl = np.concatenate(proven_l) if proven_l else np.zeros((0, lo.size))
    ph = np.concatenate(proven_h) if proven_h else np.zeros((0, lo.size))
    return Certificate(min(1.0, proven), max(0.0, worst) if np.isfinite(worst) else 0.0,
                       cex, used, (pl, ph))


def closed_loop_bounds(net, w_lo, w_hi, p_lo, p_hi, steps: int, buffer_bdp: float,
                       w_min_hi: float = 0.0, domain: str = "deeppoly", gain: float | None = None):
    """Interval over-approximation of ``steps`` round trips of policy + bottleneck (closed loop).

    Non-relational: each step's state is a box, so ``g = q - q_prev`` is bounded by
    ``[q_lo - q_prev_hi, q_hi - q_prev_lo]`` and widens every step; kept as the baseline of the
    relational analysis (:func:`cora.certify.closedloop.relational_bounds`) and for ablations.

    The bottleneck is :mod:`cora.certify.bottleneck` (``q``, ``o`` non-decreasing in ``w``;
    ``l = o + r (1 - o)`` non-decreasing in ``o`` and ``r``, so interval images are exact). The
    random-loss fraction ``r`` of every round (and of the round before the start, which fills the
    history) is anywhere in ``[p_lo, p_hi]``, independently per round. The start is steady
    (queue history equal to the present). One step: observation box ``(q, q - q_prev, l, q_prev,
    q_prev - q_prev2, l_prev)`` clipped to the domain as the sender does, action bounds from the
    network over it (``domain``), next window ``apply_action(w, a)`` (increasing in ``w`` and
    ``a``), floored at ``w_min`` anywhere in ``[0, w_min_hi]`` (the 2-packet minimum window).

    Args:
        net: the policy (MLP / quantized / AbstractNet), 6 inputs, 1 output.
        w_lo, w_hi: ``(B,)`` initial window boxes (BDPs).  p_lo, p_hi: ``(B,)`` random loss.
        steps: number of RTT steps ``k``.  buffer_bdp: buffer ``b`` in BDPs.
    Returns:
        dict of arrays ``(steps + 1, B)``: ``w_lo, w_hi, q_lo, q_hi`` (queue in BDPs), and
        ``(steps, B)``: ``a_lo, a_hi``. Every trajectory of :func:`closed_loop_concrete` starting
        in the box stays in these bounds (tests/certify/test_soundness.py, hypothesis).
    """
    from cora.certify.bottleneck import loss_rate, queue_bdp
    from cora.certify.sim import ACTION_GAIN, OBS_HI, OBS_LO, apply_action
    g = ACTION_GAIN if gain is None else gain
    wl, wh = np.asarray(w_lo, float).copy(), np.asarray(w_hi, float).copy()
    pl, ph = np.asarray(p_lo, float), np.asarray(p_hi, float)
    b = buffer_bdp
    ql, qh = queue_bdp(wl, b), queue_bdp(wh, b)
    q1l, q1h, q2l, q2h = ql, qh, ql, qh
    l1l, l1h = loss_rate(wl, b, pl), loss_rate(wh, b, ph)
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("w_lo", "w_hi", "q_lo", "q_hi", "a_lo",
                                                        "a_hi")}
    for t in range(steps + 1):
        ql, qh = queue_bdp(wl, b), queue_bdp(wh, b)
        out["w_lo"].append(wl)
        out["w_hi"].append(wh)
        out["q_lo"].append(ql)
        out["q_hi"].append(qh)
        if t == steps:
            break
        ll, lh = loss_rate(wl, b, pl), loss_rate(wh, b, ph)
        xl = np.stack([ql, ql - q1h, ll, q1l, q1l - q2h, l1l], axis=1)
        xh = np.stack([qh, qh - q1l, lh, q1h, q1h - q2l, l1h], axis=1)
        xl, xh = np.clip(xl, OBS_LO, OBS_HI), np.clip(xh, OBS_LO, OBS_HI)
        al, ah = output_bounds(net, xl, xh, domain)
        al, ah = al[:, 0], ah[:, 0]
        out["a_lo"].append(al)
        out["a_hi"].append(ah)
        nwl, nwh = apply_action(wl, al, g), apply_action(wh, ah, g)
        nwh = np.maximum(nwh, w_min_hi)
        q2l, q2h, q1l, q1h, l1l, l1h = q1l, q1h, ql, qh, ll, lh
        wl, wh = nwl, nwh
    return {k: np.array(v) for k, v in out.items()}


def closed_loop_concrete(net, w0, p, steps: int, buffer_bdp: float, w_min=0.0, gain=None):
    """Concrete trajectories of the closed loop (policy + :mod:`cora.certify.bottleneck`).

    Args:
        net: callable ``(B, 6) -> (B, 1)``.  w0: ``(B,)`` initial windows (BDPs).
        p: the random-loss fraction of each round: ``(B,)`` (the same every round) or
            ``(steps + 1, B)`` (row 0: the round before the start, which fills the loss history;
            row ``t + 1``: round ``t``).
        w_min: ``(B,)`` or scalar minimum window in BDPs.
    Returns: dict with ``w``, ``q`` ``(steps + 1, B)``, ``l`` and ``a`` ``(steps, B)``.
    """
    from cora.certify.bottleneck import loss_rate, queue_bdp
    from cora.certify.sim import ACTION_GAIN, OBS_HI, OBS_LO, apply_action
    g = ACTION_GAIN if gain is None else gain
    w = np.asarray(w0, float).copy()
    b = buffer_bdp
    r = np.broadcast_to(np.asarray(p, float), (steps + 1, w.size))
    q1 = q2 = queue_bdp(w, b)
    l1 = loss_rate(w, b, r[0])
    ws, qs, ls, acts = [], [], [], []
    for t in range(steps + 1):
        q = queue_bdp(w, b)
        ws.append(w)
        qs.append(q)
        if t == steps:
            break
        lb = loss_rate(w, b, r[t + 1])
        ls.append(lb)
        x = np.clip(np.stack([q, q - q1, lb, q1, q1 - q2, l1], axis=1), OBS_LO, OBS_HI)
        a = np.asarray(net(x)).reshape(-1)
        acts.append(a)
        w = np.maximum(apply_action(w, a, g), w_min)
        q2, q1, l1 = q1, q, lb
    return {"w": np.array(ws), "q": np.array(qs), "l": np.array(ls), "a": np.array(acts)}


def exact_bounds_1d(net, lo: float, hi: float):
    """Exact ``min``/``max`` of a 1-input ReLU network over ``[lo, hi]``.

    A 1-D ReLU network is piecewise linear; its breakpoints are the points where some hidden
    pre-activation crosses zero. Layer by layer, each pre-activation is linear between the
    breakpoints found so far, so its zero crossings are found exactly by linear interpolation
    and added. The extremes of the (linear-between-breakpoints) output are at breakpoints.

    Returns:
        ``(min, max, n_breakpoints)`` with ``min``/``max`` arrays ``(n_out,)``.
    """
    anet = as_abstract(net)
    if anet.weights[0].shape[1] != 1 or anet.activation != "relu":
        raise InputError("exact enumeration needs a 1-input ReLU network")
    pts = np.array([float(lo), float(hi)])

    def pre(x, k):
        h = x[:, None]
        for i in range(k + 1):
            h = h @ anet.weights[i].T + anet.bias_hi[i]
            if i < k:
                h = np.maximum(h, 0)
        return h

    for k in range(len(anet.weights) - 1):
        z = pre(pts, k)
        za, zb = z[:-1], z[1:]
        cross = (za * zb) < 0
        seg, neu = np.nonzero(cross)
        t = za[seg, neu] / (za[seg, neu] - zb[seg, neu])
        new = pts[seg] + t * (pts[seg + 1] - pts[seg])
        pts = np.unique(np.concatenate([pts, new]))
    y = pre(pts, len(anet.weights) - 1)
    return y.min(0), y.max(0), len(pts)
