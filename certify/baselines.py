"""Hand-written congestion controllers in the simulator (:mod:`cora.certify.sim`), one update
per round trip, vectorised over environments.

- :class:`Cubic`: RFC 9438 (CUBIC): after a loss ``W_max = cwnd``, ``cwnd *= beta`` (0.7);
  then ``W(t) = C (t - K)^3 + W_max`` with ``C = 0.4`` segments/s^3 and
  ``K = cbrt(W_max (1 - beta) / C)``, never below the Reno-friendly estimate
  ``W_est = beta W_max + 3 (1 - beta) / (1 + beta) * t / RTT`` (RFC 9438 Sec. 4.3), growth
  capped at 1.5x per RTT (Sec. 4.2), slow start (doubling per RTT) until the first loss.
- :class:`BBRLike`: BBR v1 (Cardwell et al., ACM Queue 2016; draft-cardwell-iccrg-bbr-congestion-
  control-00): windowed-max bottleneck bandwidth over 10 rounds, min RTT, STARTUP with gain
  2/ln 2 = 2.885 until the bandwidth grows < 25 % for 3 rounds, one DRAIN round, then
  PROBE_BW gains (1.25, 0.75, 1 x 6); in-flight = gain x BtlBw x RTprop; loss is ignored.
- :class:`OrcaStyle`: a learned agent over Cubic after Orca (Abbasloo et al., "Classic meets
  modern", SIGCOMM 2020): every RTT Cubic computes its window from the round's feedback, then
  the policy's action ``a`` in ``[-1, 1]`` scales it, ``cwnd = 2^(2a) cwnd_cubic`` (Orca's
  rule), and Cubic continues from that window. Unlike Orca, the agent sees this package's
  observation (:class:`cora.certify.sim.PolicyController`), so the same pointwise properties
  apply to its network; the closed-loop properties model the window rule of
  :func:`cora.certify.sim.apply_action`, not Cubic + agent, and do not apply.
- :class:`Aurora`: PCC-RL's rate-based agent (Jay et al., ICML 2019): observation a history
  of (latency gradient, latency ratio, sending ratio) per monitor interval, action
  ``x <- x (1 + 0.025 a)`` / ``x / (1 - 0.025 a)``, reward ``10 thr - 1000 lat - 2000 loss``
  (:func:`aurora_reward`). Its observation is not this package's, so the pointwise properties
  are restated over it (:data:`cora.certify.properties.AURORA_PROPERTIES`).
- :class:`VegasLike`: TCP Vegas (Brakmo & Peterson, IEEE JSAC 1995): ``diff = cwnd (1 -
  BaseRTT / RTT)`` packets queued; ``+1`` if diff < alpha = 2, ``-1`` if diff > beta = 4, per
  RTT; slow start doubles until diff > gamma = 1; halves on loss.
"""

from __future__ import annotations

import numpy as np

from cora.certify.sim import Envs, PolicyController, StepInfo


class Cubic:
    """CUBIC window rule (RFC 9438), per-RTT fluid version. See the module docstring."""

    C = 0.4
    BETA = 0.7

    def reset(self, envs: Envs, cwnd):
        """Start every environment in slow start; ``cwnd``: ``(N,)`` packets."""
        n = envs.n
        self.w_max = cwnd.copy()
        self.t = np.zeros(n)
        self.k = np.zeros(n)
        self.slow = np.ones(n, bool)

    def update(self, info: StepInfo):
        """Window (packets, ``(N,)``) for the next RTT from this RTT's :class:`StepInfo`."""
        w = info.cwnd_pkts
        loss = info.loss_event
        new = w.copy()
        # loss: multiplicative decrease, new epoch
        self.w_max = np.where(loss, w, self.w_max)
        self.k = np.where(loss, np.cbrt(self.w_max * (1 - self.BETA) / self.C), self.k)
        self.t = np.where(loss, 0.0, self.t + info.rtt_s)
        self.slow &= ~loss
        new = np.where(loss, w * self.BETA, new)
        # slow start
        ss = self.slow & ~loss
        new = np.where(ss, 2 * w, new)
        # congestion avoidance
        ca = ~self.slow & ~loss
        target = self.C * (self.t - self.k) ** 3 + self.w_max
        w_est = self.w_max * self.BETA + 3 * (1 - self.BETA) / (1 + self.BETA) * self.t / info.rtt_s
        grow = np.minimum(np.maximum(target, w_est), 1.5 * w)
        new = np.where(ca, grow, new)
        return new


class BBRLike:
    """BBR v1 state machine on the per-RTT fluid model. See the module docstring."""

    GAINS = np.array([1.25, 0.75, 1, 1, 1, 1, 1, 1])
    STARTUP_GAIN = 2.0 / np.log(2.0)

    def reset(self, envs: Envs, cwnd):
        """Start every environment in STARTUP with empty filters."""
        n = envs.n
        self.bw_hist = np.zeros((10, n))
        self.min_rtt = np.full(n, np.inf)
        self.mode = np.zeros(n, int)  # 0 startup, 1 drain, 2 probe_bw
        self.full_bw = np.zeros(n)
        self.full_cnt = np.zeros(n, int)
        self.phase = np.zeros(n, int)
        self.round = 0

    def update(self, info: StepInfo):
        """In-flight target (packets, ``(N,)``) = gain x max bandwidth x min RTT."""
        self.round += 1
        self.bw_hist = np.roll(self.bw_hist, 1, axis=0)
        self.bw_hist[0] = info.delivery_pps
        bw = self.bw_hist.max(0)
        self.min_rtt = np.minimum(self.min_rtt, info.rtt_s)
        startup = self.mode == 0
        grew = bw >= 1.25 * self.full_bw
        self.full_cnt = np.where(startup & grew, 0,
                                 np.where(startup, self.full_cnt + 1, self.full_cnt))
        self.full_bw = np.where(startup & grew, bw, self.full_bw)
        to_drain = startup & (self.full_cnt >= 3)
        gain = np.full(info.cwnd_pkts.shape, self.STARTUP_GAIN)
        was_drain = self.mode == 1
        self.mode = np.where(to_drain, 1, np.where(was_drain, 2, self.mode))
        gain = np.where(self.mode == 1, 1.0 / self.STARTUP_GAIN, gain)
        probe = self.mode == 2
        self.phase = np.where(probe, (self.phase + 1) % 8, self.phase)
        gain = np.where(probe, self.GAINS[self.phase], gain)
        bdp = bw * self.min_rtt
        return np.maximum(gain * bdp, 4.0)


class VegasLike:
    """TCP Vegas per-RTT rule. See the module docstring."""

    ALPHA, BETA, GAMMA = 2.0, 4.0, 1.0

    def reset(self, envs: Envs, cwnd):
        """Start every environment in Vegas slow start."""
        self.slow = np.ones(envs.n, bool)

    def update(self, info: StepInfo):
        """Window (packets, ``(N,)``) for the next RTT: +-1 packet by the queued estimate."""
        w = info.cwnd_pkts
        diff = w * (1 - info.min_rtt_s / info.rtt_s)
        self.slow &= ~(info.loss_event | (diff > self.GAMMA))
        new = np.where(diff < self.ALPHA, w + 1, np.where(diff > self.BETA, w - 1, w))
        new = np.where(self.slow, 2 * w, new)
        return np.where(info.loss_event, w / 2, new)


class OrcaStyle:
    """Orca-style agent over :class:`Cubic` (module docstring); ``net``: ``(N, 6) -> (N, 1)``.
    After each update ``last_obs`` ``(N, 6)`` and ``last_action`` ``(N,)`` hold what it saw
    and did."""

    def __init__(self, net):
        self.net = net
        self.obs = PolicyController(net)
        self.cubic = Cubic()

    def reset(self, envs: Envs, cwnd):
        """Reset Cubic and the observation history."""
        self.obs.reset(envs, cwnd)
        self.cubic.reset(envs, cwnd)

    def update(self, info: StepInfo):
        """Window (packets, ``(N,)``): Cubic's next window times ``2^(2a)``."""
        w = np.asarray(self.cubic.update(info), float)
        self.last_obs = self.obs.observe(info)
        self.last_action = np.clip(np.asarray(self.net(self.last_obs)).reshape(-1), -1.0, 1.0)
        return w * 2.0 ** (2.0 * self.last_action)


def controller_for(net):
    """The simulator controller a trained policy was trained with: :class:`OrcaStyle` when its
    spec says ``trained.controller == "orca"``, :class:`Aurora` for ``"aurora"``, the window
    policy fed one round late (:class:`cora.certify.kernelsim.AckClocked`) for
    ``"ackclocked"``, else :class:`cora.certify.sim.PolicyController`."""
    spec = getattr(net, "spec", None) or {}
    kind = spec.get("trained", {}).get("controller")
    if kind == "ackclocked":
        from cora.certify.kernelsim import AckClocked
        return AckClocked(PolicyController(net), 1)
    if kind == "orca":
        return OrcaStyle(net)
    if kind == "aurora":
        return Aurora(net)
    return PolicyController(net)


BASELINES = {"cubic": Cubic, "bbr-like": BBRLike, "vegas-like": VegasLike}


AURORA_ALPHA = 0.025
"""Aurora's action scale per monitor interval (Jay et al., ICML 2019, Sec. 4)."""
AURORA_HISTORY = 2
AURORA_FEATURES = ("latency_gradient", "latency_ratio", "sending_ratio")
AURORA_OBS_NAMES = tuple(f"{f}[t-{k}]" if k else f"{f}[t]" for k in range(AURORA_HISTORY)
                         for f in AURORA_FEATURES)
AURORA_OBS_LO = np.array([-4.0, 1.0, 1.0] * AURORA_HISTORY)
AURORA_OBS_HI = np.array([1.0, 5.0, 2.0] * AURORA_HISTORY)
# reward weights of Aurora (Jay et al. 2019, Sec. 4): 10 x throughput (packets/s)
# - 1000 x latency (s) - 2000 x loss rate (fraction)
AURORA_W_THROUGHPUT, AURORA_W_LATENCY, AURORA_W_LOSS = 10.0, 1000.0, 2000.0


def aurora_rate(rate, a, alpha: float = AURORA_ALPHA):
    """Aurora's rate rule: ``x (1 + alpha a)`` for ``a >= 0``, ``x / (1 - alpha a)`` for
    ``a < 0`` (Jay et al. 2019, Sec. 4; ``a`` is not clipped: Aurora's action is unbounded,
    a clip-head policy keeps it in ``[-1, 1]``). ``rate``: any rate unit, arrays broadcast."""
    a = np.asarray(a, float)
    return np.where(a >= 0, rate * (1.0 + alpha * a), rate / (1.0 - alpha * np.minimum(a, 0.0)))


def aurora_obs_spec() -> dict:
    """The observation/action specification stored in an Aurora policy file (JSON-able)."""
    return {"features": list(AURORA_OBS_NAMES), "obs_lo": AURORA_OBS_LO.tolist(),
            "obs_hi": AURORA_OBS_HI.tolist(), "history": AURORA_HISTORY,
            "action": "rate *= 1 + alpha*a (a>=0) or /= 1 - alpha*a (a<0)",
            "action_gain": AURORA_ALPHA, "step": "one monitor interval = one RTT"}


class Aurora:
    """Aurora (PCC-RL; Jay et al., "A deep reinforcement learning perspective on Internet
    congestion control", ICML 2019) on the per-RTT simulator; ``net``: ``(N, 6) -> (N, 1)``.

    Monitor interval = one simulator step (one RTT). Per interval ``t`` the agent observes
    (all dimensionless, as in the paper):

    - latency gradient ``(RTT_t - RTT_{t-1}) / RTT_t`` (change of latency over the interval's
      duration; 0 at the first interval),
    - latency ratio ``RTT_t / minRTT`` (mean latency of the interval over the minimum seen),
    - sending ratio ``sent_t / acked_t`` (packets sent over packets delivered in the interval;
      ``1 / (1 - loss)`` in this model),

    with a history of ``k = AURORA_HISTORY = 2`` intervals, newest first, clipped to
    ``[AURORA_OBS_LO, AURORA_OBS_HI]`` (the paper uses k = 10; 2 keeps the network's input and
    the verifier's budget equal to the package's 6-input policies). The action ``a`` updates
    the sending rate ``x`` (packets/s) by :func:`aurora_rate` with ``alpha = 0.025``; the
    next interval then carries ``x * RTT_t`` packets (a rate sender keeps that many in flight
    over an interval as long as the last one). The rate starts at ``init_cwnd / base RTT``
    and never falls below the simulator's 2-packet minimum over the base RTT.
    After each update ``last_obs`` ``(N, 6)`` and ``last_action`` ``(N,)`` hold what it saw and did.
    """

    def __init__(self, net, alpha: float = AURORA_ALPHA):
        self.net, self.alpha = net, alpha

    def reset(self, envs: Envs, cwnd):
        """Start at rate ``cwnd / base RTT`` (packets/s) with an empty (zero-change) history."""
        self.min_rate_pps = 2.0 / envs.base_rtt_s
        self.rate_pps = np.maximum(np.asarray(cwnd, float) / envs.base_rtt_s, self.min_rate_pps)
        self.prev_rtt_s: np.ndarray | None = None
        self.prev = np.tile(np.array([0.0, 1.0, 1.0]), (envs.n, 1))

    def observe(self, info: StepInfo) -> np.ndarray:
        """Observation ``(N, 6)`` for this interval (clipped), updating the history."""
        prev_rtt = info.rtt_s if self.prev_rtt_s is None else self.prev_rtt_s
        grad = (info.rtt_s - prev_rtt) / info.rtt_s
        ratio = info.rtt_s / info.min_rtt_s
        acked = info.delivery_pps * info.rtt_s
        sending = info.cwnd_pkts / np.maximum(acked, 1e-9)
        cur = np.stack([grad, ratio, sending], axis=1)
        x = np.clip(np.concatenate([cur, self.prev], axis=1), AURORA_OBS_LO, AURORA_OBS_HI)
        self.prev_rtt_s = info.rtt_s.copy()
        self.prev = x[:, :3]
        return x

    def update(self, info: StepInfo):
        """Window (packets, ``(N,)``) for the next interval: ``x_new * RTT_t``."""
        self.last_obs = self.observe(info)
        self.last_action = np.asarray(self.net(self.last_obs), float).reshape(-1)
        self.rate_pps = np.maximum(aurora_rate(self.rate_pps, self.last_action, self.alpha),
                                   self.min_rate_pps)
        return self.rate_pps * info.rtt_s


def aurora_reward(throughput_pps, latency_s, loss_rate):
    """Aurora's per-interval reward ``10 x throughput - 1000 x latency - 2000 x loss`` with
    throughput in packets/s, latency in s and loss as a fraction (Jay et al. 2019, Sec. 4, and
    the PCC-RL code's units). Arrays broadcast."""
    return (AURORA_W_THROUGHPUT * np.asarray(throughput_pps)
            - AURORA_W_LATENCY * np.asarray(latency_s) - AURORA_W_LOSS * np.asarray(loss_rate))


def is_aurora(net) -> bool:
    """True when ``net``'s spec says it was trained with the Aurora controller."""
    spec = getattr(net, "spec", None) or {}
    return spec.get("trained", {}).get("controller") == "aurora"
