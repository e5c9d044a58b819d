"""The one model of the bottleneck, shared by the simulator, the closed-loop verifier and the docs.

One round trip of a single drop-tail bottleneck in units of the bandwidth-delay product (fluid
window/queue model, Srikant & Ying, *Communication Networks*, 2013, ch. 7; the steady-state
relation of Mathis et al. 1997). Variables, all per RTT:

- ``w``: window in flight, BDPs (``cwnd / BDP``); ``b``: buffer, BDPs (``Bbuf / BDP``);
- ``r``: the random-loss fraction realised in this round among the packets the buffer did not
  drop (in expectation the per-packet loss probability ``p``; the simulator samples it,
  binomially, the verifier lets it be anywhere in ``[p_lo, p_hi]`` independently every round).

Equations (:data:`MODEL_EQUATIONS`, copied verbatim into docs/certify.md; a test evaluates the
docs' lines and compares them with these functions):

    q = clip(w - 1, 0, b)                    queue, BDPs (= RTT / base RTT - 1)
    o = max(w - 1 - b, 0) / w                fraction of the window dropped at the full buffer
    l = o + r * (1 - o)                      loss rate of the round (overflow, then random loss)
    u = w * (1 - o) * (1 - r) / (1 + q)      utilisation (delivered / (link rate x RTT))

``l`` is what the sender measures as lost / sent: the buffer drops ``o w`` of the ``w`` sent and
random loss takes ``r`` of the ``(1 - o) w`` it admitted. (An earlier verifier used ``o + p``,
which is larger than ``o + p (1 - o)``: the observation it analysed was not the one the
simulator produces, so its certificate was for a different system.)

All four are functions of ``(w, b, r)`` only (scale free); ``q`` and ``o`` are non-decreasing in
``w``, ``l`` is non-decreasing in ``o`` and in ``r`` (``dl/do = 1 - r >= 0``, ``dl/dr = 1 - o >=
0``), which is what the interval closed loop relies on.
"""

from __future__ import annotations

import numpy as np

MODEL_EQUATIONS = (
    "q = clip(w - 1, 0, b)",
    "o = max(w - 1 - b, 0) / w",
    "l = o + r * (1 - o)",
    "u = w * (1 - o) * (1 - r) / (1 + q)",
)


def queue_bdp(w, b):
    """Queue in BDPs, ``clip(w - 1, 0, b)``; ``w``, ``b`` in BDPs (arrays broadcast)."""
    return np.clip(np.asarray(w, float) - 1.0, 0.0, b)


def overflow_loss(w, b):
    """Fraction of the window dropped at the full buffer, ``max(w - 1 - b, 0) / w`` (``w > 0``)."""
    w = np.asarray(w, float)
    return np.maximum(w - 1.0 - b, 0.0) / np.maximum(w, 1e-12)


def loss_rate(w, b, r):
    """Loss rate of the round, ``o + r (1 - o)`` with ``o = overflow_loss(w, b)``; ``r`` is the
    realised random-loss fraction of the admitted packets (in ``[0, 1]``)."""
    o = overflow_loss(w, b)
    return o + np.asarray(r, float) * (1.0 - o)


def utilisation(w, b, r):
    """Delivered packets over what the link could carry in the round's RTT:
    ``w (1 - o) (1 - r) / (1 + q)`` (at most 1: ``w (1 - o) <= 1 + q``)."""
    o = overflow_loss(w, b)
    return np.asarray(w, float) * (1.0 - o) * (1.0 - np.asarray(r, float)) / (1.0 + queue_bdp(w, b))
