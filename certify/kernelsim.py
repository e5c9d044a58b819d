"""The simulator as the kernel controller sees it: ACK-clocked feedback and the runtime fallback.

The per-RTT fluid simulator (:mod:`cora.certify.sim`) hands the policy, at the end of round
``t``, the RTT and loss caused by the window of the *same* round. The exported kernel
controller (:mod:`cora.certify.export`) cannot see that: a round ends when the data that was
in flight at its start is acknowledged, so the RTT samples and loss counts of round ``t`` are
those of the packets sent during round ``t - 1``, i.e. of the previous window. Measured on the
testbed (``cora_obs`` log, docs/certify.md), this one-round lag is what makes the policy cut
its window again after it has already cut (it still sees the old queue), go down to 2-3
packets, and land in the no-queue cell that is not proven -- the rounds the kernel hands to
Cubic.

Two wrappers reproduce the kernel's view in the same simulator and bottleneck model:

- :class:`AckClocked`: delays the feedback by ``lag`` rounds (``lag = 1``: the kernel's
  round) -- the controller acts on the current window but observes the RTT, loss and delivery
  of ``lag`` rounds earlier;
- :class:`RuntimeController`: the exported program's decision rule -- per round, the policy's
  window rule when the observation's cell is proven (:func:`cora.certify.export.cell_index`
  into the proven-cell table), else Cubic's (:class:`cora.certify.baselines.Cubic`, whose
  state advances every round); on a loss event Cubic's multiplicative decrease always applies
  (the kernel's ``ssthresh``/recovery path, which the struct_ops leaves to Cubic).

:func:`path_observations` runs either mode on one path (rate, RTT, buffer, loss) and returns
the observations the policy saw and whether each round's cell was proven, so that the kernel's
fallback share can be set next to the simulator's on the same path; :func:`ks_distance` is
the two-sample Kolmogorov-Smirnov statistic used to compare them per feature.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from cora.certify.sim import Envs, PolicyController, StepInfo, apply_action, simulate

MODES = ("fluid", "runtime", "ackclocked", "kernelview")


class AckClocked:
    """Wraps a controller so that it observes the feedback of ``lag`` rounds earlier.

    ``update(info)`` passes the controller a :class:`StepInfo` whose ``cwnd_pkts`` is the
    current window and whose RTT, loss and delivery fields are from ``lag`` rounds before (the
    first ``lag`` rounds see the first round's feedback). ``last_obs``/``last_action``/
    ``last_proven`` of the inner controller are forwarded.
    """

    def __init__(self, inner, lag: int = 1):
        if lag < 0:
            raise ValueError(f"lag {lag} must be >= 0")
        self.inner, self.lag = inner, lag

    def reset(self, envs: Envs, cwnd) -> None:
        """Reset the inner controller and forget the delayed feedback."""
        self.inner.reset(envs, cwnd)
        self.queue: list = []

    def update(self, info: StepInfo):
        """Window (packets, ``(N,)``) for the next round from the delayed feedback."""
        self.queue.append(info)
        if len(self.queue) > self.lag + 1:
            self.queue.pop(0)
        seen = replace(self.queue[0], cwnd_pkts=info.cwnd_pkts)
        w = self.inner.update(seen)
        for k in ("last_obs", "last_action", "last_proven"):
            if hasattr(self.inner, k):
                setattr(self, k, getattr(self.inner, k))
        return w


class MeasuredNoise:
    """Wraps a controller so that the RTT it observes carries a measured queueing-delay error.

    Every round the observed RTT becomes ``rtt + min_rtt * e`` with ``e`` drawn (with
    replacement) from ``q_noise``, queue ratios measured where the true queue is zero (e.g. the
    kernel's rounds at a window far below the BDP): the observation's ``q`` then carries the
    testbed's error (delay-bridge and scheduling jitter, the minimum-of-round sample) instead
    of none. ``last_*`` attributes of the inner controller are forwarded.
    """

    def __init__(self, inner, q_noise, rng: np.random.Generator):
        self.inner, self.rng = inner, rng
        self.q_noise = np.asarray(q_noise, float).ravel()
        if len(self.q_noise) == 0:
            raise ValueError("MeasuredNoise needs at least one noise sample")

    def reset(self, envs: Envs, cwnd) -> None:
        """Reset the inner controller."""
        self.inner.reset(envs, cwnd)

    def update(self, info: StepInfo):
        """Window for the next round from the feedback with the noisy RTT."""
        e = self.rng.choice(self.q_noise, size=info.rtt_s.shape)
        w = self.inner.update(replace(info, rtt_s=info.rtt_s + info.min_rtt_s * e))
        for k in ("last_obs", "last_action", "last_proven"):
            if hasattr(self.inner, k):
                setattr(self, k, getattr(self.inner, k))
        return w


class RuntimeController:
    """The exported controller's rule: policy in proven cells, Cubic elsewhere and on loss.

    Args:
        net: the policy (callable ``(N, 6) -> (N, 1)``, float or quantized).
        table: proven-cell table, bool ``(n_cells,)`` (:func:`cora.certify.export.proven_cells`).
    Attributes after each update: ``last_obs`` ``(N, 6)``, ``last_action`` ``(N,)``,
    ``last_proven`` ``(N,)`` bool (the network decided the round).
    """

    def __init__(self, net, table: np.ndarray):
        from cora.certify.baselines import Cubic
        self.pc = PolicyController(net)
        self.cubic = Cubic()
        self.table = np.asarray(table, bool)

    def reset(self, envs: Envs, cwnd) -> None:
        """Start in Cubic's slow start with an empty observation history."""
        self.pc.reset(envs, cwnd)
        self.cubic.reset(envs, cwnd)

    def update(self, info: StepInfo):
        """Window (packets, ``(N,)``) for the next round (see the class docstring)."""
        from cora.certify.export import cell_index
        x = self.pc.observe(info)
        proven = self.table[cell_index(x)]
        w_cubic = np.asarray(self.cubic.update(info), float)
        a = np.asarray(self.pc.net(x)).reshape(-1)
        w_nn = apply_action(info.cwnd_pkts, a, self.pc.gain)
        self.last_obs, self.last_action = x, a
        self.last_proven = proven & ~info.loss_event
        return np.where(info.loss_event, w_cubic, np.where(proven, w_nn, w_cubic))


class _Record:
    def __init__(self, ctrl, table):
        self.ctrl, self.table = ctrl, table

    def reset(self, envs, cwnd):
        self.ctrl.reset(envs, cwnd)
        self.obs: list = []
        self.proven: list = []
        self.cwnd: list = []

    def update(self, info):
        from cora.certify.export import cell_index
        w = self.ctrl.update(info)
        x = self.ctrl.last_obs
        self.obs.append(x)
        self.proven.append(self.ctrl.last_proven if hasattr(self.ctrl, "last_proven")
                           else self.table[cell_index(x)])
        self.cwnd.append(info.cwnd_pkts)
        return w


def path_observations(net, table, rate_mbit: float, rtt_ms: float, buffer_bdp: float,
                      loss: float = 0.0, steps: int = 200, mode: str = "fluid", runs: int = 5,
                      seed: int = 3, delay_noise: float = 0.0, q_noise=None) -> dict:
    """Simulate ``net`` on one path and return what it observed.

    Args:
        net, table: the policy and its proven-cell table (bool ``(n_cells,)``).
        rate_mbit, rtt_ms, buffer_bdp, loss: the path (Mbit/s, base RTT ms, BDPs, random loss).
        steps: rounds per run; runs: independent runs (environments of one batch).
        mode: ``"fluid"`` (the policy on every round, same-round feedback: what the simulator
            measured so far), ``"runtime"`` (:class:`RuntimeController`, same-round feedback),
            ``"ackclocked"`` (:class:`RuntimeController` behind :class:`AckClocked` with a
            one-round lag: what the kernel does), ``"kernelview"`` (``"ackclocked"`` with the
            measured queue error ``q_noise`` on every observed RTT, :class:`MeasuredNoise`).
        delay_noise: multiplicative RTT noise of :func:`cora.certify.sim.simulate`.
        q_noise: samples of the queue-ratio error (required for ``"kernelview"``).
    Returns:
        ``{"x": (M, 6), "proven": (M,) bool, "cwnd": (M,), "fallback_share": float}`` over
        all rounds but the first of each run.
    Raises:
        ValueError: unknown mode, or ``"kernelview"`` without ``q_noise``.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r} (one of {', '.join(MODES)})")
    table = np.asarray(table, bool)
    ctrl: PolicyController | RuntimeController | AckClocked | MeasuredNoise = (
        PolicyController(net) if mode == "fluid" else
        RuntimeController(net, table) if mode == "runtime" else
        AckClocked(RuntimeController(net, table), 1))
    if mode == "kernelview":
        if q_noise is None:
            raise ValueError("mode 'kernelview' needs q_noise (measured queue-ratio errors)")
        ctrl = MeasuredNoise(ctrl, q_noise, np.random.default_rng(seed + 1))
    rec = _Record(ctrl, table)
    envs = Envs(np.full(runs, float(rate_mbit)), np.full(runs, rtt_ms / 1e3),
                np.full(runs, float(buffer_bdp)), np.full(runs, float(loss)))
    simulate(rec, envs, steps, np.random.default_rng(seed), delay_noise=delay_noise)
    x = np.concatenate(rec.obs[1:])
    proven = np.concatenate(rec.proven[1:]).astype(bool)
    return {"x": x, "proven": proven, "cwnd": np.concatenate(rec.cwnd[1:]),
            "fallback_share": float(1.0 - proven.mean())}


def ks_distance(a, b) -> float:
    """Two-sample Kolmogorov-Smirnov statistic ``sup_v |F_a(v) - F_b(v)|`` of two 1-D samples
    (Smirnov 1948): 0 for identical empirical distributions, 1 for disjoint supports.
    Raises ValueError on an empty sample."""
    a, b = np.sort(np.asarray(a, float).ravel()), np.sort(np.asarray(b, float).ravel())
    if len(a) == 0 or len(b) == 0:
        raise ValueError("ks_distance needs two non-empty samples")
    v = np.concatenate([a, b])
    fa = np.searchsorted(a, v, side="right") / len(a)
    fb = np.searchsorted(b, v, side="right") / len(b)
    return float(np.max(np.abs(fa - fb)))
