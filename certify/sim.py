"""A vectorised single-bottleneck simulator (numpy), one step per round trip.

Why a window (Orca-style cwnd) model and not Aurora's rate control: the policy is deployed as a
Linux ``tcp_congestion_ops``, whose natural output is ``snd_cwnd`` once per round trip, and a
window model keeps the closed loop small enough to verify (Abbasloo et al., "Classic meets
modern: a pragmatic learning-based congestion control for the Internet" (Orca), SIGCOMM 2020,
also acts on cwnd). The *observation* follows Aurora (Jay et al., "A deep reinforcement learning
perspective on Internet congestion control", ICML 2019): per monitor interval (here one RTT) a
latency ratio, a latency gradient and a loss rate, with a short history.

Bottleneck: the fluid model of :mod:`cora.certify.bottleneck` (the one model shared with the
closed-loop verifier and docs/certify.md), applied per RTT to ``w = cwnd / BDP`` and
``b = Bbuf / BDP`` (link rate ``C`` packets/s, base RTT ``d`` s, ``BDP = C d`` packets, drop-tail
buffer ``Bbuf`` packets): queue ``q``, overflow fraction ``o``, loss rate ``l = o + r (1 - o)``
and utilisation ``u``, with ``RTT = d (1 + q)``. The random-loss fraction ``r`` of the round is
sampled: ``Binomial(W (1 - o), p) / (W (1 - o))``.

Observation (``ObsSpec``): per step ``(q_t, g_t, l_t)`` with ``q_t = RTT_t / minRTT - 1``
(latency ratio minus one = queueing delay in base RTTs), ``g_t = q_t - q_{t-1}`` (latency
gradient per RTT), ``l_t`` the loss rate of the round; history of 2 steps, newest first:
``x = (q_t, g_t, l_t, q_{t-1}, g_{t-1}, l_{t-1})``, clipped to the domain ``[OBS_LO, OBS_HI]``.
Action ``a`` (clipped to ``[-1, 1]``) updates the window like Aurora's rate rule
(``x (1 + alpha a)`` for ``a >= 0``, ``x / (1 - alpha a)`` for ``a < 0``) with
``alpha = ACTION_GAIN = 0.5`` per RTT (Aurora uses 0.025 per monitor interval; one RTT here
carries more change). Minimum window 2 packets.

Environment ranges (:func:`sample_envs`) cover Genet's (Xia et al., SIGCOMM 2022, Table 2):
0.1-100 Mbps (log-uniform), 2-200 ms base RTT (log-uniform), 0.2-3 BDP buffer, 0-5 % loss.
Packets are 1500 bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cora.certify.bottleneck import loss_rate, overflow_loss, queue_bdp, utilisation  # noqa: F401 (re-exported)

PACKET_BYTES = 1500
FEATURES = ("queue_ratio", "delay_gradient", "loss_rate")
HISTORY = 2
OBS_NAMES = tuple(f"{f}[t-{k}]" if k else f"{f}[t]" for k in range(HISTORY) for f in FEATURES)
OBS_LO = np.array([0.0, -4.0, 0.0] * HISTORY)
OBS_HI = np.array([4.0, 4.0, 0.5] * HISTORY)
ACTION_GAIN = 0.5
MIN_CWND_PKTS = 2.0
RANGES = {"rate_mbps": (0.1, 100.0), "base_rtt_ms": (2.0, 200.0), "buffer_bdp": (0.2, 3.0),
          "loss": (0.0, 0.05)}


def obs_spec() -> dict:
    """The observation/action specification stored in a policy file (JSON-able dict)."""
    return {"features": list(OBS_NAMES), "obs_lo": OBS_LO.tolist(), "obs_hi": OBS_HI.tolist(),
            "history": HISTORY, "action": "cwnd *= 1 + gain*a (a>=0) or /= 1 - gain*a (a<0)",
            "action_gain": ACTION_GAIN, "step": "one RTT"}


def apply_action(w, a, gain: float = ACTION_GAIN):
    """Window after action ``a`` (clipped to [-1, 1]); increasing in both ``w`` and ``a``."""
    a = np.clip(a, -1.0, 1.0)
    return np.where(a >= 0, w * (1.0 + gain * a), w / (1.0 - gain * a))


@dataclass
class Envs:
    """A batch of ``N`` bottleneck environments (arrays shaped ``(N,)``).

    Attributes:
        rate_mbps: link rate, Mbit/s.  base_rtt_s: propagation RTT, s.
        buffer_bdp: drop-tail buffer in BDPs.  loss: random loss probability per packet.
    """

    rate_mbps: np.ndarray
    base_rtt_s: np.ndarray
    buffer_bdp: np.ndarray
    loss: np.ndarray

    @property
    def n(self) -> int:
        """Number of environments."""
        return self.rate_mbps.shape[0]

    @property
    def rate_pps(self):
        """Link rate in packets/s."""
        return self.rate_mbps * 1e6 / (8 * PACKET_BYTES)

    @property
    def bdp_pkts(self):
        """Bandwidth-delay product in packets."""
        return self.rate_pps * self.base_rtt_s

    @property
    def buffer_pkts(self):
        """Buffer in packets (at least 2)."""
        return np.maximum(self.buffer_bdp * self.bdp_pkts, 2.0)


def sample_envs(n: int, rng: np.random.Generator, ranges: dict | None = None) -> Envs:
    """Sample ``n`` environments over ``ranges`` (default :data:`RANGES`, Genet's ranges)."""
    r = dict(RANGES, **(ranges or {}))
    lu = lambda lo, hi: np.exp(rng.uniform(np.log(lo), np.log(hi), n))  # noqa: E731
    buf_lo, buf_hi = r["buffer_bdp"]
    loss_lo, loss_hi = r["loss"]
    return Envs(lu(*r["rate_mbps"]), lu(*r["base_rtt_ms"]) / 1e3,
                rng.uniform(buf_lo, buf_hi, n), rng.uniform(loss_lo, loss_hi, n))


@dataclass
class StepInfo:
    """What a sender learns from one round trip (arrays ``(N,)``).

    Attributes: cwnd_pkts (window used), rtt_s (measured, with noise), min_rtt_s (the
    propagation RTT, as a long-run min filter would see), loss_rate, loss_event (bool),
    delivery_pps (delivered packets per second).
    """

    cwnd_pkts: np.ndarray
    rtt_s: np.ndarray
    min_rtt_s: np.ndarray
    loss_rate: np.ndarray
    loss_event: np.ndarray
    delivery_pps: np.ndarray


@dataclass
class Trace:
    """Per-step records ``(T, N)``: utilisation, queueing delay (s), loss rate, cwnd (pkts)."""

    utilisation: np.ndarray
    queue_delay_s: np.ndarray
    loss_rate: np.ndarray
    cwnd_pkts: np.ndarray
    queue_bdp: np.ndarray

    def summary(self, warmup_frac: float = 0.2) -> dict:
        """Per-environment metrics after a warm-up: mean utilisation, p95 queueing delay (ms),
        mean loss rate, mean queue (BDPs); each an array ``(N,)``."""
        s = int(self.utilisation.shape[0] * warmup_frac)
        return {"utilisation": self.utilisation[s:].mean(0),
                "p95_queue_delay_ms": np.percentile(self.queue_delay_s[s:], 95, axis=0) * 1e3,
                "loss_rate": self.loss_rate[s:].mean(0),
                "mean_queue_bdp": self.queue_bdp[s:].mean(0)}


def simulate(controller, envs: Envs, steps: int, rng: np.random.Generator,
             init_cwnd_pkts: float = 10.0, delay_noise: float = 0.0) -> Trace:
    """Run ``controller`` on every environment for ``steps`` round trips.

    Args:
        controller: object with ``reset(envs, init_cwnd)`` and ``update(info: StepInfo) -> cwnd``.
        envs: the batch of environments.
        steps: number of RTT steps.
        rng: randomness for losses and measurement noise.
        init_cwnd_pkts: initial window (RFC 6928: 10).
        delay_noise: std. dev. of multiplicative noise on the measured RTT.
    Returns:
        :class:`Trace` of shape ``(steps, N)``.
    """
    C, bdp, buf = envs.rate_pps, envs.bdp_pkts, envs.buffer_pkts
    cwnd = np.full(envs.n, float(init_cwnd_pkts))
    controller.reset(envs, cwnd.copy())
    rec = {k: np.zeros((steps, envs.n)) for k in ("u", "qd", "l", "w", "qb")}
    for t in range(steps):
        # the shared bottleneck model (cora.certify.bottleneck), in BDP units
        w, b = cwnd / bdp, buf / bdp
        q = queue_bdp(w, b) * bdp
        over = overflow_loss(w, b) * cwnd
        rtt = envs.base_rtt_s + q / C
        offered = cwnd - over
        rand_lost = rng.binomial(np.maximum(offered, 0).astype(np.int64), envs.loss).astype(float)
        rand_lost = np.minimum(rand_lost, offered)
        r = rand_lost / np.maximum(offered, 1e-12)
        loss = loss_rate(w, b, r)
        delivered = offered - rand_lost
        rec["u"][t] = np.minimum(utilisation(w, b, r), 1.0)
        rec["qd"][t] = q / C
        rec["l"][t] = loss
        rec["w"][t] = cwnd
        rec["qb"][t] = q / bdp
        noisy = rtt * (1 + delay_noise * rng.standard_normal(envs.n)) if delay_noise else rtt
        info = StepInfo(cwnd.copy(), np.maximum(noisy, envs.base_rtt_s), envs.base_rtt_s.copy(),
                        loss, (over + rand_lost) > 0, delivered / rtt)
        cwnd = np.maximum(np.asarray(controller.update(info), float), MIN_CWND_PKTS)
    return Trace(rec["u"], rec["qd"], rec["l"], rec["w"], rec["qb"])


class PolicyController:
    """The learned policy as a window controller in the simulator.

    Builds the observation ``x`` of :data:`OBS_NAMES` from each :class:`StepInfo` and applies
    :func:`apply_action`. ``net`` is any callable ``(N, 6) -> (N, 1)`` (MLP or quantized).
    """

    def __init__(self, net, gain: float = ACTION_GAIN):
        self.net, self.gain = net, gain

    def reset(self, envs: Envs, cwnd):
        """Clear the observation history (zeros) for ``envs``; ``cwnd``: ``(N,)`` packets."""
        self.cwnd = cwnd
        self.prev = np.zeros((envs.n, 3))
        self.prev_q = np.zeros(envs.n)

    def observe(self, info: StepInfo) -> np.ndarray:
        """Observation ``(N, 6)`` for this step (clipped to the domain), updating the history."""
        q = info.rtt_s / info.min_rtt_s - 1.0
        cur = np.stack([q, q - self.prev_q, info.loss_rate], axis=1)
        x = np.clip(np.concatenate([cur, self.prev], axis=1), OBS_LO, OBS_HI)
        self.prev_q = q
        self.prev = x[:, :3]
        return x

    def update(self, info: StepInfo):
        """Window (packets, ``(N,)``) for the next RTT: ``apply_action(cwnd, f(x))``; the
        observation and the action are kept in ``last_obs`` ``(N, 6)``, ``last_action`` ``(N,)``."""
        self.last_obs = self.observe(info)
        a = self.last_action = np.asarray(self.net(self.last_obs)).reshape(-1)
        self.cwnd = apply_action(info.cwnd_pkts, a, self.gain)
        return self.cwnd
