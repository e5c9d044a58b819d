"""A small multi-layer perceptron policy in numpy, and its ``.npz`` file format.

The policy maps an observation vector ``x`` (shape ``(n_in,)``, or a batch ``(N, n_in)``) to an
action ``a`` (shape ``(n_out,)``/``(N, n_out)``). Layer ``i`` computes ``z_i = W_i h_{i-1} + b_i``
with ``W_i`` shaped ``(out, in)``; hidden layers apply ReLU or tanh, the last layer is linear
(``output = "linear"``) or a clipped affine head ``a = clip(z_L, -1, 1)`` (``output = "clip"``:
the action range of :mod:`cora.certify.sim`, so the bounded-action property holds by
construction and the head is part of the certified and exported program).

File format (``numpy.savez``): arrays ``W0, b0, W1, b1, ...`` plus, optionally,

- ``activation``: a string array, ``"relu"`` or ``"tanh"`` (hidden layers; default ``"relu"``),
- ``output``: a string array, ``"linear"`` or ``"clip"`` (output head; default ``"linear"``),
- ``spec``: a JSON string with the observation/action specification (see
  :class:`cora.certify.sim.ObsSpec`: feature names, domain bounds, history length, action gain).

A file holding only ``W*``/``b*`` arrays is read as ReLU hidden layers and a linear output.

Errors: :func:`load_policy` raises :class:`cora.errors.InputError` for a missing or unreadable
file, missing arrays, or shapes that do not chain.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np

from cora.errors import InputError

ACTIVATIONS = ("relu", "tanh")
OUTPUTS = ("linear", "clip")


@dataclass
class MLP:
    """A feed-forward policy ``x -> W_L act(... act(W_0 x + b_0) ...) + b_L``.

    Attributes:
        weights: list of arrays, ``weights[i]`` shaped ``(n_i, n_{i-1})``.
        biases: list of arrays, ``biases[i]`` shaped ``(n_i,)``.
        activation: hidden activation, ``"relu"`` or ``"tanh"``.
        spec: observation/action specification (a JSON-able dict), ``{}`` if unknown.
        output: output head, ``"linear"`` (``z_L``) or ``"clip"`` (``clip(z_L, -1, 1)``).
    """

    weights: list
    biases: list
    activation: str = "relu"
    spec: dict = field(default_factory=dict)
    output: str = "linear"

    def __post_init__(self):
        check_layers(self.weights, self.biases)
        if self.activation not in ACTIVATIONS:
            raise InputError(f"unknown activation {self.activation!r}; use one of {ACTIVATIONS}")
        if self.output not in OUTPUTS:
            raise InputError(f"unknown output head {self.output!r}; use one of {OUTPUTS}")
        self.weights = [np.asarray(w, dtype=np.float64) for w in self.weights]
        self.biases = [np.asarray(b, dtype=np.float64) for b in self.biases]

    @property
    def n_in(self) -> int:
        """Input width."""
        return self.weights[0].shape[1]

    @property
    def n_out(self) -> int:
        """Output width."""
        return self.weights[-1].shape[0]

    @property
    def n_layers(self) -> int:
        """Number of affine layers (hidden layers + 1)."""
        return len(self.weights)

    def act(self, z: np.ndarray) -> np.ndarray:
        """The hidden activation applied elementwise."""
        return np.maximum(z, 0.0) if self.activation == "relu" else np.tanh(z)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Evaluate the network.

        Args:
            x: shape ``(n_in,)`` or ``(N, n_in)``.
        Returns:
            shape ``(n_out,)`` or ``(N, n_out)``.
        """
        h = np.asarray(x, dtype=np.float64)
        single = h.ndim == 1
        h = np.atleast_2d(h)
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w.T + b
            if i < self.n_layers - 1:
                h = self.act(h)
        if self.output == "clip":
            h = np.clip(h, -1.0, 1.0)
        return h[0] if single else h

    __call__ = forward

    def params(self) -> np.ndarray:
        """All parameters flattened into one vector (layer order ``W0, b0, W1, b1, ...``)."""
        return np.concatenate([p.ravel() for wb in zip(self.weights, self.biases, strict=True)
                               for p in wb])

    def with_params(self, theta: np.ndarray) -> MLP:
        """A copy of this network with parameters taken from the flat vector ``theta``."""
        ws, bs, k = [], [], 0
        for w, b in zip(self.weights, self.biases, strict=True):
            ws.append(theta[k:k + w.size].reshape(w.shape))
            k += w.size
            bs.append(theta[k:k + b.size].reshape(b.shape))
            k += b.size
        return MLP(ws, bs, self.activation, dict(self.spec), self.output)

    def save(self, path: str) -> None:
        """Write the network to ``path`` (``.npz``) in the format described in the module."""
        arrays = {}
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            arrays[f"W{i}"] = w
            arrays[f"b{i}"] = b
        arrays["activation"] = np.array(self.activation)
        arrays["output"] = np.array(self.output)
        arrays["spec"] = np.array(json.dumps(self.spec))
        with open(path, "wb") as fh:  # keep the name exactly as given (no ".npz" appended)
            np.savez(fh, **arrays)


def check_layers(weights, biases) -> None:
    """Check that weight/bias shapes chain; raise :class:`InputError` naming the first problem."""
    if not weights:
        raise InputError("network has no layers (need arrays W0, b0, ...)")
    if len(weights) != len(biases):
        raise InputError(f"network has {len(weights)} weight arrays but {len(biases)} bias arrays")
    prev = None
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        w = np.asarray(w)
        b = np.asarray(b)
        if w.dtype.kind not in "biuf" or b.dtype.kind not in "biuf":
            raise InputError(f"W{i}/b{i} must hold numbers, got dtypes {w.dtype} and {b.dtype}")
        if w.ndim != 2:
            raise InputError(f"W{i} must be 2-D (out, in), got shape {w.shape}")
        if b.shape != (w.shape[0],):
            raise InputError(f"b{i} must have shape ({w.shape[0]},), got {b.shape}")
        if prev is not None and w.shape[1] != prev:
            raise InputError(f"W{i} takes {w.shape[1]} inputs but layer {i - 1} gives {prev}")
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
            raise InputError(f"layer {i} has non-finite weights")
        prev = w.shape[0]


def init_mlp(n_in: int, hidden: tuple, n_out: int, rng: np.random.Generator,
             activation: str = "relu", spec: dict | None = None, out_scale: float = 0.1,
             output: str = "linear") -> MLP:
    """A randomly initialised MLP (He-normal hidden layers, output scaled by ``out_scale``,
    output head ``output``)."""
    sizes = [n_in, *hidden, n_out]
    ws, bs = [], []
    for i in range(len(sizes) - 1):
        w = rng.normal(0.0, np.sqrt(2.0 / sizes[i]), size=(sizes[i + 1], sizes[i]))
        if i == len(sizes) - 2:
            w *= out_scale
        ws.append(w)
        bs.append(np.zeros(sizes[i + 1]))
    return MLP(ws, bs, activation, dict(spec or {}), output)


def load_policy(path: str) -> MLP:
    """Read a policy ``.npz`` file.

    Raises:
        InputError: missing/unreadable file, no ``W0``, shapes that do not chain, bad spec.
    """
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such model file")
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as exc:  # numpy raises several types for non-npz input
        raise InputError(f"{path}: not a readable .npz file ({exc.__class__.__name__})") from None
    if not hasattr(data, "files"):  # a bare .npy array, not an archive of named arrays
        raise InputError(f"{path}: one .npy array, not a .npz policy (arrays W0, b0, ...)")
    with data:
        names = set(data.files)
        if "W0" not in names:
            raise InputError(f"{path}: no array W0 (a policy needs arrays W0, b0, W1, b1, ...)")
        ws, bs, i = [], [], 0
        while f"W{i}" in names:
            if f"b{i}" not in names:
                raise InputError(f"{path}: has W{i} but no b{i}")
            try:
                ws.append(data[f"W{i}"])
                bs.append(data[f"b{i}"])
                i += 1
            except ValueError as exc:  # object arrays need pickle, which is never allowed
                raise InputError(f"{path}: W{i}/b{i} are not numeric arrays ({exc})") from None
        try:
            check_layers(ws, bs)
        except InputError as exc:
            raise InputError(f"{path}: {exc.message}") from None
        activation = str(data["activation"]) if "activation" in names else "relu"
        output = str(data["output"]) if "output" in names else "linear"
        spec = {}
        if "spec" in names:
            try:
                spec = json.loads(str(data["spec"]))
            except ValueError:
                raise InputError(f"{path}: array 'spec' is not valid JSON") from None
    try:
        return MLP(ws, bs, activation, spec, output)
    except InputError as exc:
        raise InputError(f"{path}: {exc.message}") from None


SHIPPED = {"certified": "cc_certified_2x64.npz", "performance": "cc_performance_2x64.npz",
           "aurora": "cc_aurora_2x64.npz"}


def shipped_policy(kind: str = "certified") -> str:
    """Path of a shipped policy file in ``certify/models/``: ``"certified"`` (trained with the
    certificate reward) or ``"performance"`` (its performance-only twin, same seed and budget),
    or ``"aurora"`` (the Aurora baseline, :class:`cora.certify.baselines.Aurora`, seed 0 of
    ``bench/certify_train.py --aurora``).

    Raises:
        InputError: unknown kind.
    """
    if kind not in SHIPPED:
        raise InputError(f"unknown shipped policy {kind!r}; use one of {', '.join(SHIPPED)}")
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "models", SHIPPED[kind])
