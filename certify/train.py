"""Training: evolution strategies in the simulator, with certificates in the reward.

Method: OpenAI-ES (Salimans et al., "Evolution strategies as a scalable alternative to
reinforcement learning", 2017): antithetic Gaussian perturbations ``theta +- sigma eps`` of the
flat parameter vector, centred-rank fitness shaping, Adam (Kingma & Ba 2015) on the estimated
gradient ``sum_i F_i eps_i / (n sigma)``, L2 weight decay. No backpropagation is needed, so
numpy suffices, and the (non-differentiable) certificate terms enter the reward directly.

Reward of a candidate policy ``f`` (per RTT step, averaged over steps and a batch of
environments sampled from Genet's ranges, the same batch for all candidates of an iteration):

    r_perf = utilisation - W_QUEUE * min(queue in BDPs, 2) - W_LOSS * loss rate

(an Aurora-style throughput/latency/loss trade-off, Jay et al. ICML 2019, in scale-free units).
The certified variant (after C3/Canopy, arXiv 2412.10915: certificates as part of the reward)
subtracts ``W_CERT * sum_p pen_p``, where ``pen_p`` is the mean over 16 random sub-boxes of
property ``p``'s region (1/8 of its side; the same boxes for every candidate of an iteration)
of ``log(1 + max(0, v_hi))``, ``v_hi`` the sound DeepPoly upper bound of the violation margin
on the box (:func:`cora.certify.properties.training_penalty`). The performance-only variant
uses ``r_perf`` alone. Everything is reproducible from ``seed``.

Architecture options (either mode): ``head="clip"`` gives the output head ``clip(z, -1, 1)``
(the simulator's and the kernel's action range, so ``bounded`` holds by construction);
``monotone=True`` keeps the weights sign-constrained -- first-layer weights from ``q_t`` and
``l_t`` ``<= 0``, every later weight ``>= 0`` -- which makes the network non-increasing in
``q_t`` and ``l_t`` everywhere (a ReLU/clip network with non-negative weights after the first
layer is non-decreasing in every first-layer unit: the monotonic-network construction of
Sill, "Monotonic networks", NIPS 1997; the network is then convex before the clip). The
constraint is applied by projection (clipping the offending weights to 0) after every ES
step and to every candidate; the verifier then proves ``monotonic`` from the interval
Jacobian, it is not assumed.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

import numpy as np

from cora.certify.nn import MLP, init_mlp
from cora.certify.properties import training_penalty
from cora.certify.sim import Envs, PolicyController, obs_spec, sample_envs, simulate

W_QUEUE, W_LOSS, W_CERT = 0.5, 2.0, 0.1


@dataclass
class TrainConfig:
    """Training settings. ``mode``: ``"certified"`` or ``"performance"``; ``hidden``: widths;
    ``population``: antithetic pairs per iteration; ``n_envs``/``steps``: rollout batch and
    length (RTTs); ``sigma``/``lr``: ES noise and Adam step; ``cert_weight``: weight of the
    certificate term (certified mode); ``seed``: everything random; ``head``/``monotone``:
    architecture (module docstring); ``prop_weights``: per-property factor ``k_p`` on the
    certificate terms (default 1); ``penalty_boxes``: ``"uniform"`` (sub-boxes placed uniformly
    in each region) or ``"visited"`` (centred on observations the current policy visits in a
    16-environment, 40-RTT rollout each iteration,
    :func:`cora.certify.properties.training_penalty`);
    ``closed_loop_penalty``: include the closed-loop properties in the penalty; ``rel_width``:
    sub-box side relative to the region's; ``init``: a policy file to start from (fine-tuning;
    its architecture replaces ``hidden``/``head``); ``controller``: ``"window"`` (the policy's
    action is the window rule of :func:`cora.certify.sim.apply_action`), ``"ackclocked"`` (the
    same window policy fed one round late, as in the kernel:
    :class:`cora.certify.kernelsim.AckClocked`; the visited states of the ``"visited"``
    penalty boxes then come from the lagged loop too), ``"orca"`` (an
    Orca-style agent scaling Cubic's window, :class:`cora.certify.baselines.OrcaStyle`) or
    ``"aurora"`` (PCC-RL's rate agent on its own observation, :class:`cora.certify.baselines.
    Aurora`, trained on Aurora's reward :func:`cora.certify.baselines.aurora_reward` instead
    of ``r_perf``); ``aurora_link_pps``: ``None`` (Aurora's own reward) or, an ablation, the
    link rate (packets/s) every link's throughput is rescaled to before Aurora's reward,
    ``throughput x aurora_link_pps / link rate``, which makes its throughput term scale free."""

    mode: str = "certified"
    seed: int = 0
    iterations: int = 150
    hidden: tuple = (64, 64)
    population: int = 24
    n_envs: int = 48
    steps: int = 60
    sigma: float = 0.03
    lr: float = 0.02
    weight_decay: float = 1e-3
    cert_weight: float = W_CERT
    head: str = "clip"
    monotone: bool = False
    prop_weights: dict | None = None
    penalty_boxes: str = "uniform"
    closed_loop_penalty: bool = True
    rel_width: float = 0.125
    init: str | None = None
    controller: str = "window"
    aurora_link_pps: float | None = None


MONOTONE_DIMS = (0, 2)  # q_t, l_t: the policy must be non-increasing in these


def monotone_masks(template: MLP):
    """Sign masks ``(nonpos, nonneg)`` over the flat parameter vector for the monotone
    construction (see the module docstring): ``nonpos`` marks the first-layer weights from
    ``q_t``/``l_t``, ``nonneg`` every weight of the later layers (biases are free)."""
    nonpos, nonneg = [], []
    for i, (w, b) in enumerate(zip(template.weights, template.biases, strict=True)):
        mp = np.zeros(w.shape, bool)
        mn = np.zeros(w.shape, bool)
        if i == 0:
            mp[:, MONOTONE_DIMS] = True
        else:
            mn[:] = True
        nonpos += [mp.ravel(), np.zeros(b.size, bool)]
        nonneg += [mn.ravel(), np.zeros(b.size, bool)]
    return np.concatenate(nonpos), np.concatenate(nonneg)


def monotone_init(template: MLP, theta: np.ndarray, masks, rng: np.random.Generator) -> np.ndarray:
    """Start inside the constraint set: reflect the initial weights to their sign, then rescale
    the output layer so the initial action over the domain has mean 0 and standard deviation
    0.1 (with non-negative later weights the reflected network's output is large and the clip
    head saturates everywhere, which gives evolution strategies a flat fitness landscape)."""
    from cora.certify.sim import OBS_HI, OBS_LO
    theta = np.where(masks[0], -np.abs(theta), np.where(masks[1], np.abs(theta), theta))
    net = template.with_params(theta)
    net.output = "linear"
    z = net(rng.uniform(OBS_LO, OBS_HI, (512, len(OBS_LO))))[:, 0]
    k = 0.1 / max(float(z.std()), 1e-9)
    net.weights[-1] = net.weights[-1] * k
    net.biases[-1] = net.biases[-1] * k - k * float(z.mean())
    return net.params()


def project(theta: np.ndarray, masks) -> np.ndarray:
    """Clip the constrained parameters of ``theta`` (``(D,)`` or ``(P, D)``) to their sign."""
    nonpos, nonneg = masks
    theta = np.where(nonpos, np.minimum(theta, 0.0), theta)
    return np.where(nonneg, np.maximum(theta, 0.0), theta)


class StackedPolicy:
    """``P`` networks of one shape evaluated together: input ``(P*E, n)`` -> ``(P*E, 1)``."""

    def __init__(self, template: MLP, thetas: np.ndarray):
        self.P = thetas.shape[0]
        self.clip = template.output == "clip"
        self.ws, self.bs, k = [], [], 0
        for w, b in zip(template.weights, template.biases, strict=True):
            self.ws.append(thetas[:, k:k + w.size].reshape((self.P,) + w.shape))
            k += w.size
            self.bs.append(thetas[:, k:k + b.size].reshape((self.P,) + b.shape))
            k += b.size

    def __call__(self, x):
        h = x.reshape(self.P, -1, x.shape[-1])
        for i, (w, b) in enumerate(zip(self.ws, self.bs, strict=True)):
            h = np.einsum("pei,poi->peo", h, w) + b[:, None, :]
            if i < len(self.ws) - 1:
                h = np.maximum(h, 0)
        if self.clip:
            h = np.clip(h, -1.0, 1.0)
        return h.reshape(-1, h.shape[-1])


def _tile(envs: Envs, k: int) -> Envs:
    return Envs(*(np.tile(a, k)
                  for a in (envs.rate_mbps, envs.base_rtt_s, envs.buffer_bdp, envs.loss)))


def performance(template: MLP, thetas: np.ndarray, envs: Envs, steps: int, seed: int,
                controller: str = "window", aurora_link_pps: float | None = None) -> np.ndarray:
    """Mean per-step performance reward ``r_perf`` of each parameter vector ``(P, D) -> (P,)``
    (``controller``: see :class:`TrainConfig`; for ``"aurora"`` the reward is Aurora's,
    :func:`cora.certify.baselines.aurora_reward`, throughput = utilisation x link rate in
    packets/s, rescaled to a ``aurora_link_pps`` link when given, latency = base RTT +
    queueing delay in s)."""
    from cora.certify.baselines import Aurora, OrcaStyle, aurora_reward
    P = thetas.shape[0]
    net = StackedPolicy(template, thetas)
    if controller == "ackclocked":  # the kernel's one-round-late feedback (cora.certify.kernelsim)
        from cora.certify.kernelsim import AckClocked
        ctrl = AckClocked(PolicyController(net), 1)
    else:
        ctrl = {"orca": OrcaStyle, "aurora": Aurora}.get(controller, PolicyController)(net)
    tiled = _tile(envs, P)
    tr = simulate(ctrl, tiled, steps, np.random.default_rng(seed))
    if controller == "aurora":
        link_pps = tiled.rate_pps if aurora_link_pps is None else aurora_link_pps
        r = aurora_reward(tr.utilisation * link_pps, tiled.base_rtt_s + tr.queue_delay_s,
                          tr.loss_rate)
    else:
        r = tr.utilisation - W_QUEUE * np.minimum(tr.queue_bdp, 2.0) - W_LOSS * tr.loss_rate
    return r.reshape(steps, P, envs.n).mean(axis=(0, 2))


def cert_penalty(net: MLP, seed: int, prop_weights: dict | None = None, centres=None,
                 closed_loop: bool = True, rel_width: float = 0.125) -> float:
    """``sum_p k_p pen_p`` over the properties, boxes drawn from ``seed`` (see module
    docstring; ``centres``/``closed_loop``/``rel_width`` as in
    :func:`cora.certify.properties.training_penalty`); ``k_p`` from ``prop_weights`` (default 1)."""
    k = prop_weights or {}
    terms = training_penalty(net, np.random.default_rng(seed), rel_width=rel_width,
                             centres=centres, closed_loop=closed_loop)
    return float(sum(k.get(p, 1.0) * v for p, v in terms.items()))


def train(cfg: TrainConfig, progress: bool = True, curve: list | None = None) -> MLP:
    """Train a policy; returns the final network (with the observation spec attached).

    Progress (one line every 10 iterations) goes to stderr when ``progress`` is true. When
    ``curve`` is a list, one dict per iteration is appended: ``{"iteration", "perf_mean",
    "perf_best", "penalty_mean", "seconds"}`` (population means of the performance reward and
    of the certificate penalty; the penalty is 0 in performance mode).
    Raises:
        InputError: ``init`` unreadable or not a 6-input, 1-output policy; bad ``penalty_boxes``.
    """
    from cora.certify.coverage import visited_states
    from cora.errors import InputError
    if cfg.penalty_boxes not in ("uniform", "visited"):
        raise InputError(f"unknown penalty_boxes {cfg.penalty_boxes!r}; use uniform or visited")
    if cfg.controller not in ("window", "ackclocked", "orca", "aurora"):
        raise InputError(f"unknown controller {cfg.controller!r}; "
                         "use window, ackclocked, orca or aurora")
    rng = np.random.default_rng(cfg.seed)
    from cora.certify.baselines import aurora_obs_spec
    base_spec = aurora_obs_spec() if cfg.controller == "aurora" else obs_spec()
    cert_weight = cfg.cert_weight if cfg.mode == "certified" else 0.0
    spec = dict(base_spec, trained={"mode": cfg.mode, "seed": cfg.seed,
                                     "iterations": cfg.iterations, "method": "OpenAI-ES",
                                     "cert_weight": cert_weight,
                                     "head": cfg.head, "monotone": cfg.monotone,
                                     "prop_weights": cfg.prop_weights or {},
                                     "penalty_boxes": cfg.penalty_boxes,
                                     "closed_loop_penalty": cfg.closed_loop_penalty,
                                     "init": cfg.init and os.path.basename(cfg.init),
                                     "controller": cfg.controller,
                                     "aurora_link_pps": cfg.aurora_link_pps})
    if cfg.init:
        from cora.certify.nn import load_policy
        template = load_policy(cfg.init)
        if template.n_in != 6 or template.n_out != 1:
            raise InputError(f"{cfg.init}: the policy must map 6 observations to 1 action")
        template.spec = spec
    else:
        template = init_mlp(6, cfg.hidden, 1, rng, spec=spec, out_scale=0.1, output=cfg.head)
    theta = template.params()
    masks = monotone_masks(template) if cfg.monotone else None
    if masks is not None and not cfg.init:
        theta = monotone_init(template, theta, masks, rng)
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    t0 = time.time()
    for it in range(cfg.iterations):
        envs = sample_envs(cfg.n_envs, rng)
        eps = rng.standard_normal((cfg.population, theta.size))
        cands = np.concatenate([theta + cfg.sigma * eps, theta - cfg.sigma * eps])
        if masks is not None:
            cands = project(cands, masks)
        perf = performance(template, cands, envs, cfg.steps, int(rng.integers(1 << 31)),
                           cfg.controller, cfg.aurora_link_pps)
        fit = perf.copy()
        pen = np.zeros_like(fit)
        if cfg.mode == "certified":
            box_seed = int(rng.integers(1 << 31))
            centres = None
            if cfg.penalty_boxes == "visited":
                centres = visited_states(template.with_params(theta), 16, 40,
                                         int(rng.integers(1 << 31))).obs
            pen = np.array([cert_penalty(template.with_params(c), box_seed, cfg.prop_weights,
                                         centres, cfg.closed_loop_penalty, cfg.rel_width)
                            for c in cands])
            fit = perf - cfg.cert_weight * pen
        ranks = np.empty(len(fit))
        ranks[np.argsort(fit)] = np.arange(len(fit))
        shaped = ranks / (len(fit) - 1) - 0.5
        g = ((shaped[:cfg.population] - shaped[cfg.population:]) @ eps
             / (2 * cfg.population * cfg.sigma))
        g = -g + cfg.weight_decay * theta  # minimise the negative
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        step = cfg.lr * (m / (1 - 0.9 ** (it + 1))) / (np.sqrt(v / (1 - 0.999 ** (it + 1))) + 1e-8)
        theta = theta - step
        if masks is not None:
            theta = project(theta, masks)
        if curve is not None:
            curve.append({"iteration": it + 1, "perf_mean": round(float(perf.mean()), 6),
                          "perf_best": round(float(perf.max()), 6),
                          "penalty_mean": round(float(pen.mean()), 6),
                          "seconds": round(time.time() - t0, 2)})
        if progress and (it % 10 == 0 or it == cfg.iterations - 1):
            print(f"[{cfg.mode}] iter {it + 1}/{cfg.iterations}  perf {perf.mean():+.4f}  "
                  f"cert penalty {pen.mean():.3f}  {time.time() - t0:.0f} s",
                  file=sys.stderr, flush=True)
    return template.with_params(theta)
