"""Evaluate controllers in the simulator over the environment ranges (simulated figures).

Every controller sees the same environments and the same loss-sampling seed (common random
numbers), so differences are the controllers'.
"""

from __future__ import annotations

import numpy as np

from cora.certify.baselines import BASELINES
from cora.certify.sim import PolicyController, sample_envs, simulate


def evaluate(policies: dict, n_envs: int = 256, steps: int = 200, seed: int = 1,
             baselines: bool = True, delay_noise: float = 0.0) -> dict:
    """Simulate each controller on ``n_envs`` environments sampled from Genet's ranges.

    Args:
        policies: ``{name: net}`` (callables ``(N, 6) -> (N, 1)``).
        n_envs, steps: environments and RTT steps.  seed: environment and loss seed.
        baselines: also run Cubic, BBR-like and Vegas-like.
    Returns:
        ``{name: {"utilisation", "p95_queue_delay_ms", "loss_rate", "p10_utilisation"}}``:
        means over environments of each environment's mean utilisation, p95 queueing delay
        (ms) and mean loss rate, and the 10th percentile of per-environment utilisation.
    """
    envs = sample_envs(n_envs, np.random.default_rng(seed))
    # controllers share no base class (simulate() only calls reset and update)
    ctrls: dict[str, object] = {k: PolicyController(v) for k, v in policies.items()}
    if baselines:
        ctrls.update({k: cls() for k, cls in BASELINES.items()})
    out = {}
    for name, ctrl in ctrls.items():
        tr = simulate(ctrl, envs, steps, np.random.default_rng(seed + 1), delay_noise=delay_noise)
        s = tr.summary()
        out[name] = {"utilisation": round(float(s["utilisation"].mean()), 4),
                     "p10_utilisation": round(float(np.percentile(s["utilisation"], 10)), 4),
                     "p95_queue_delay_ms": round(float(s["p95_queue_delay_ms"].mean()), 2),
                     "loss_rate": round(float(s["loss_rate"].mean()), 5)}
    return out
