"""Fixed-point (integer) version of a ReLU policy: the arithmetic the kernel program runs.

Format Q(FRAC_BITS): a real ``v`` is the integer ``round(v * 2^F)``. With ``F = 16`` and
64-bit accumulators a 2x64 network cannot overflow for inputs in the domain (weights are
checked to be below ``2^31`` after scaling).

Integer semantics (exactly what ``export.py``'s C code computes, shifts are arithmetic):

    x_q      = floor(x * 2^F)                                     (input, done by the caller)
    acc_i    = sum_j Wq[i, j] * h_q[j]                            (int64)
    z_q[i]   = (acc_i >> F) + bq[i]         i.e. floor(acc_i / 2^F) + bq[i]
    h_q      = max(z_q, 0) on hidden layers; the output ``a = z_q / 2^F``, clamped to
               ``[-2^F, 2^F]`` (i.e. ``[-1, 1]``) when the policy has a clip head.

Soundness of the certificate for this program: ``floor(y) in (y - 1, y]``, so with
``W' = Wq / 2^F`` and ``b' = bq / 2^F`` each real-valued layer output ``z_q / 2^F`` lies in
``[W' h + b' - 2^-F, W' h + b']`` -- a bias interval, which :mod:`cora.certify.absint`
propagates -- and the input ``x_q / 2^F`` lies in ``[x - 2^-F, x]`` (``input_slack``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cora.certify.absint import AbstractNet
from cora.errors import InputError

FRAC_BITS = 16


@dataclass
class QuantizedMLP:
    """An integer ReLU MLP.

    Attributes:
        weights: int64 arrays ``(out, in)`` in Q(frac_bits).  biases: int64 ``(out,)``.
        frac_bits: ``F``.
        output: ``"linear"`` or ``"clip"`` (integer clamp of the output to ``[-2^F, 2^F]``,
            exact, so its abstraction is the float clip of :mod:`cora.certify.absint`).
    """

    weights: list
    biases: list
    frac_bits: int = FRAC_BITS
    output: str = "linear"

    @property
    def scale(self) -> int:
        """``2^frac_bits``: the integer that represents 1.0."""
        return 1 << self.frac_bits

    def forward_int(self, xq: np.ndarray) -> np.ndarray:
        """Integer forward pass: ``(N, n_in)`` int64 -> ``(N, n_out)`` int64 (Q(F))."""
        h = np.atleast_2d(np.asarray(xq, dtype=np.int64))
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            acc = h @ w.T  # int64
            h = (acc >> self.frac_bits) + b
            if i < len(self.weights) - 1:
                h = np.maximum(h, 0)
        if self.output == "clip":
            h = np.clip(h, -self.scale, self.scale)
        return h

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Real-valued interface: quantize ``x`` (floor), run the integer net, rescale."""
        x = np.asarray(x, dtype=np.float64)
        single = x.ndim == 1
        xq = np.floor(np.atleast_2d(x) * self.scale).astype(np.int64)
        y = self.forward_int(xq).astype(np.float64) / self.scale
        return y[0] if single else y

    __call__ = forward

    def abstract(self) -> AbstractNet:
        """The sound real-valued view for :mod:`cora.certify.absint` (see module docstring)."""
        s = float(self.scale)
        ws = [w.astype(np.float64) / s for w in self.weights]
        bhi = [b.astype(np.float64) / s for b in self.biases]
        blo = [b - 1.0 / s for b in bhi]
        return AbstractNet(ws, blo, bhi, "relu", input_slack=1.0 / s, output=self.output)


def quantize(net, frac_bits: int = FRAC_BITS) -> QuantizedMLP:
    """Round a float ReLU MLP to Q(frac_bits) integers (round to nearest).

    Raises:
        InputError: tanh networks (the kernel program implements ReLU only) or weights too
        large for 32-bit fixed point.
    """
    if net.activation != "relu":
        raise InputError("only ReLU policies can be exported to fixed point (got tanh)")
    s = 1 << frac_bits
    ws = [np.round(w * s).astype(np.int64) for w in net.weights]
    bs = [np.round(b * s).astype(np.int64) for b in net.biases]
    if max(int(np.abs(a).max()) for a in ws + bs) >= 2 ** 31:
        raise InputError(f"weights too large for Q{frac_bits} in 32 bits")
    return QuantizedMLP(ws, bs, frac_bits, getattr(net, "output", "linear"))
