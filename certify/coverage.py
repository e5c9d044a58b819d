"""Certificates measured on the states a controller visits, and its saturation rate.

A certificate's ``proven_fraction`` weighs proven boxes by *volume* of the property's region;
most of that volume is observation combinations no path produces (issue 14). The second
measure here is the **visited-state fraction**: simulate the policy over the environment
ranges (:func:`cora.certify.sim.sample_envs`, Genet's ranges), collect every state it visits,
keep those inside the property's region, and count the fraction that lie in a proven box.

- Pointwise properties: the state is the observation ``x`` (6 features) the policy acted on.
- Closed-loop properties (region = initial set ``(w0, p)``): the state is ``(w_t, p)``, the
  window in BDPs at step ``t`` and the environment's random-loss probability. The closed-loop
  certificate assumes a steady history and a 3-BDP buffer, which a visited state need not have:
  for these the measure says how much of the *operating range* the policy visits is a
  certified starting condition, not that the visited trajectory itself was analysed.

The **saturation rate** is the fraction of visited states where the action is at the end of
the action range (``|a| >= 1``: the clip head, or :func:`cora.certify.sim.apply_action`'s
clip, is active); there the network has zero derivative and zero spread, so ``monotonic``,
``robust`` and the back-off properties hold trivially.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cora.certify.sim import sample_envs, simulate

SATURATION_EPS = 1e-9


@dataclass
class Visited:
    """States visited in simulation, flattened over steps and environments (``M`` rows).

    Attributes:
        obs: ``(M, 6)`` observations the policy acted on.  action: ``(M,)`` its outputs.
        w_bdp: ``(M,)`` window in BDPs at that step.  loss_p: ``(M,)`` environment loss prob.
        buffer_bdp: ``(M,)`` environment buffer, BDPs.
    """

    obs: np.ndarray
    action: np.ndarray
    w_bdp: np.ndarray
    loss_p: np.ndarray
    buffer_bdp: np.ndarray


class _Recorder:
    """Wraps a controller that keeps ``last_obs``/``last_action`` and records every step."""

    def __init__(self, ctrl):
        self.ctrl = ctrl

    def reset(self, envs, cwnd):
        self.ctrl.reset(envs, cwnd)
        self.envs, self.rows = envs, []

    def update(self, info):
        w = self.ctrl.update(info)
        self.rows.append((self.ctrl.last_obs, self.ctrl.last_action,
                          info.cwnd_pkts / self.envs.bdp_pkts))
        return w


def visited_states(net, n_envs: int = 128, steps: int = 120, seed: int = 11,
                   skip_steps: int = 1) -> Visited:
    """Simulate ``net`` (with the controller it was trained with,
    :func:`cora.certify.baselines.controller_for`) on ``n_envs`` environments from Genet's
    ranges for ``steps`` RTTs and return the visited states (the first ``skip_steps`` steps,
    whose history is the zero start, are left out)."""
    from cora.certify.baselines import controller_for
    rng = np.random.default_rng(seed)
    envs = sample_envs(n_envs, rng)
    rec = _Recorder(controller_for(net))
    simulate(rec, envs, steps, rng)
    rows = rec.rows[skip_steps:]
    obs = np.concatenate([r[0] for r in rows])
    act = np.concatenate([r[1] for r in rows])
    w = np.concatenate([r[2] for r in rows])
    k = len(rows)
    return Visited(obs, act, w, np.tile(envs.loss, k), np.tile(envs.buffer_bdp, k))


def in_boxes(points: np.ndarray, lo: np.ndarray, hi: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """``(M,)`` bool: point ``m`` lies in some closed box ``[lo_j, hi_j]`` (``(P, n)`` arrays)."""
    out = np.zeros(len(points), bool)
    if len(lo) == 0:
        return out
    for i in range(0, len(points), chunk):
        p = points[i:i + chunk, None, :]
        out[i:i + chunk] = np.any(np.all((p >= lo[None]) & (p <= hi[None]), axis=2), axis=1)
    return out


def count_in_boxes(points: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                   chunk: int = 256) -> np.ndarray:
    """``(P,)``: how many of ``points`` ``(M, n)`` lie in each closed box ``[lo_j, hi_j]``."""
    out = np.zeros(len(lo), np.int64)
    if len(points) == 0:
        return out
    for j in range(0, len(lo), chunk):
        inside = np.all((points[None] >= lo[j:j + chunk, None])
                        & (points[None] <= hi[j:j + chunk, None]), axis=2)
        out[j:j + chunk] = inside.sum(axis=1)
    return out


def property_states(prop, visited: Visited) -> np.ndarray:
    """The visited states in the coordinates of ``prop``'s region: ``(M, 6)`` or ``(M, 2)``."""
    if prop.closed_loop:
        return np.stack([visited.w_bdp, visited.loss_p], axis=1)
    return visited.obs


def visited_fraction(prop, certificate, visited: Visited) -> dict:
    """The visited-state measure of one certificate.

    Args:
        prop: a :class:`cora.certify.properties.Property`.
        certificate: its :class:`cora.certify.absint.Certificate` (``proven_boxes``).
        visited: from :func:`visited_states`.
    Returns:
        ``{"visited_in_region": n, "visited_fraction": f}``: how many visited states lie in the
        region, and the fraction of those inside proven boxes (``None`` when ``n == 0``).
    """
    pts = property_states(prop, visited)
    inside = np.all((pts >= prop.lo) & (pts <= prop.hi), axis=1)
    n = int(inside.sum())
    if n == 0:
        return {"visited_in_region": 0, "visited_fraction": None}
    lo, hi = certificate.proven_boxes
    ok = in_boxes(pts[inside], lo, hi)
    return {"visited_in_region": n, "visited_fraction": round(float(ok.mean()), 6)}


def saturation_rate(visited: Visited) -> dict:
    """``{"saturated", "floor", "ceiling"}``: fractions of visited states with ``|a| >= 1``,
    ``a <= -1`` and ``a >= 1`` (up to ``SATURATION_EPS``)."""
    a = visited.action
    lo, hi = a <= -1 + SATURATION_EPS, a >= 1 - SATURATION_EPS
    return {"saturated": round(float(np.mean(lo | hi)), 6), "floor": round(float(lo.mean()), 6),
            "ceiling": round(float(hi.mean()), 6)}
