"""``cora certify ...``: train, check, bounds, eval, export, load, unload.

Heavy work is imported inside the handlers. User mistakes raise :class:`cora.errors.CoraError`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from cora.argtypes import add_json_flag, integer, non_empty, number
from cora.errors import InputError
from cora.jsonout import print_json, require_finite

#: largest --seed (numpy seeds are non-negative; 2**32 - 1 is the classic 32-bit range)
MAX_SEED = 2**32 - 1
#: largest iteration/population/environment/step count accepted
MAX_COUNT = 1_000_000
#: widest hidden layer accepted by train (a 4096 x 4096 float64 layer is 128 MiB)
MAX_WIDTH = 4096
#: most hidden layers accepted by train
MAX_LAYERS = 16
#: largest --cert-weight / --prop-weight factor
MAX_FACTOR = 1e6
#: largest --max-boxes
MAX_BOXES = 10_000_000


def _hidden_widths(text: str) -> tuple[int, ...]:
    """``--hidden``: comma-separated layer widths, each 1 to MAX_WIDTH, 1 to MAX_LAYERS."""
    import argparse
    parts = text.split(",")
    if not (1 <= len(parts) <= MAX_LAYERS) or not all(
            p.strip().isdigit() and p.strip().isascii() and 1 <= int(p) <= MAX_WIDTH
            for p in parts):
        raise argparse.ArgumentTypeError(
            f"expected 1 to {MAX_LAYERS} comma-separated widths, each 1 to {MAX_WIDTH} "
            f"(e.g. 64,64), got {text[:40]!r}")
    return tuple(int(p) for p in parts)


def _prop_weight(text: str) -> tuple[str, float]:
    """``--prop-weight PROPERTY=K``: a name and a finite factor K from 0 to MAX_FACTOR (the
    name is checked against the properties by the command)."""
    import argparse
    name, eq, val = text.partition("=")
    try:
        factor = number(0, MAX_FACTOR)(val) if eq and name else None
    except argparse.ArgumentTypeError:
        factor = None
    if factor is None:
        raise argparse.ArgumentTypeError(
            f"expected PROPERTY=K with K a finite number from 0 to {MAX_FACTOR:g}, "
            f"got {text[:40]!r}")
    return name, factor


def register(subparsers) -> None:
    """Add the ``certify`` subcommand and its sub-subcommands."""
    p = subparsers.add_parser("certify", help="certified learned congestion control")
    sub = p.add_subparsers(dest="certify_command", metavar="ACTION")
    sub.required = True

    t = sub.add_parser("train", help="train a policy (evolution strategies in the simulator)")
    t.add_argument("-o", "--output", required=True, type=non_empty("the output file"),
                   help="output .npz")
    t.add_argument("--mode", choices=["certified", "performance"], default="certified",
                   help="reward: performance plus the certificate term, or performance only")
    t.add_argument("--seed", type=integer(0, MAX_SEED), default=0, help="random seed")
    t.add_argument("--iterations", type=integer(0, MAX_COUNT), default=150,
                   help="ES iterations")
    t.add_argument("--hidden", default="64,64", type=_hidden_widths,
                   help=f"hidden widths, comma-separated, each 1 to {MAX_WIDTH}, e.g. 64,64")
    t.add_argument("--population", type=integer(1, MAX_COUNT), default=24,
                   help="ES antithetic pairs")
    t.add_argument("--envs", type=integer(1, MAX_COUNT), default=48,
                   help="environments per evaluation")
    t.add_argument("--steps", type=integer(2, MAX_COUNT), default=60,
                   help="RTT steps per rollout")
    t.add_argument("--cert-weight", type=number(0, MAX_FACTOR), default=None,
                   help="weight of the certificate term in the reward (default 0.1)")
    t.add_argument("--head", choices=["clip", "linear"], default="clip",
                   help="output head: clip(z, -1, 1) (default) or linear")
    t.add_argument("--monotone", action="store_true",
                   help="sign-constrained weights: non-increasing in q_t and l_t by construction")
    t.add_argument("--prop-weight", action="append", default=[], metavar="PROPERTY=K",
                   type=_prop_weight,
                   help="factor on one property's certificate term (repeatable; default 1)")
    t.add_argument("--penalty-boxes", choices=["uniform", "visited"], default="uniform",
                   help="certificate-term boxes: uniform in each region or on visited states")
    t.add_argument("--init", type=non_empty("the policy file"),
                   help="start from this policy file (fine-tuning)")
    t.add_argument("--quiet", action="store_true", help="no progress lines")
    t.set_defaults(func=_train)

    c = sub.add_parser("check", help="quantitative certificate of properties")
    c.add_argument("model", help="policy .npz file")
    c.add_argument("--property", required=True, help="a property name or 'all'")
    c.add_argument("--domain", choices=["interval", "deeppoly"], default="deeppoly",
                   help="abstract domain")
    c.add_argument("--max-boxes", type=integer(1, MAX_BOXES), default=2048,
                   help="input boxes the branch and bound may split into")
    c.add_argument("--quantized", action="store_true", help="certify the Q16 fixed-point network")
    c.add_argument("--loop", choices=["relational", "interval"], default="relational",
                   help="closed-loop analysis for the closed-loop properties")
    c.add_argument("--visit-envs", type=integer(1, MAX_COUNT), default=128,
                   help="environments simulated for the visited-state measure")
    c.add_argument("--visit-steps", type=integer(2, MAX_COUNT), default=120,
                   help="RTTs per environment for the visited-state measure")
    add_json_flag(c, "one JSON object per property")
    c.set_defaults(func=_check)

    b = sub.add_parser("bounds", help="sound output bounds over an input box")
    b.add_argument("model", help="network .npz file")
    b.add_argument("--lower", required=True, help=".npy with the box's lower corner")
    b.add_argument("--upper", required=True, help=".npy with the box's upper corner")
    b.add_argument("--domain", choices=["interval", "deeppoly"], default="deeppoly",
                   help="abstract domain")
    add_json_flag(b)
    b.set_defaults(func=_bounds)

    e = sub.add_parser("eval", help="simulate the policy and baselines over the environment ranges")
    e.add_argument("model", help="policy .npz file")
    e.add_argument("--envs", type=integer(1, MAX_COUNT), default=256,
                   help="environments simulated")
    e.add_argument("--steps", type=integer(2, MAX_COUNT), default=200, help="RTTs per environment")
    e.add_argument("--seed", type=integer(0, MAX_SEED), default=1, help="random seed")
    e.add_argument("--baselines", action="store_true", help="also run cubic, bbr-like, vegas-like")
    add_json_flag(e, "one JSON object per controller")
    e.set_defaults(func=_eval)

    x = sub.add_parser("export", help="fixed-point BPF struct_ops tcp_congestion_ops")
    x.add_argument("model", help="policy .npz file")
    x.add_argument("-o", "--output", required=True, type=non_empty("the output directory"),
                   help="output directory")
    x.add_argument("--name", default="cora_cc", help="congestion control name (<= 15 chars)")
    x.add_argument("--no-compile", action="store_true", help="write C only")
    x.set_defaults(func=_export)

    ld = sub.add_parser("load", help="register an exported controller with bpftool")
    ld.add_argument("dir", help="directory written by `cora certify export`")
    ld.set_defaults(func=_load)

    u = sub.add_parser("unload", help="unregister a loaded controller")
    u.add_argument("name", nargs="?", default="cora_cc",
                   help="congestion control name given to export")
    u.set_defaults(func=_unload)


def _load_net(path, quantized=False, policy_shape=False):
    from cora.certify.nn import load_policy
    net = load_policy(path)
    if policy_shape and (net.n_in != 6 or net.n_out != 1):
        raise InputError(f"{path}: a congestion-control policy maps 6 observations to 1 action, "
                         f"this network maps {net.n_in} -> {net.n_out}")
    if quantized:
        from cora.certify.quant import quantize
        return quantize(net)
    return net


def _load_vec(path, what):
    import numpy as np
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file ({what} corner of the box)")
    try:
        v = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise InputError(f"{path}: not a readable .npy file ({exc.__class__.__name__})") from None
    if not isinstance(v, np.ndarray) or v.dtype.kind not in "iuf":
        raise InputError(f"{path}: expected a numeric .npy array")
    return v.astype(float).reshape(-1) if v.ndim <= 1 else v.astype(float)


@contextlib.contextmanager
def _float64_guard(what: str) -> Iterator[None]:
    """Float64 overflow or an invalid operation (inf - inf) while computing figures is an
    error, not a figure: a network whose values overflow gets no bound and no certificate.

    Raises:
        InputError: on the first overflow or invalid operation inside the block.
    """
    import numpy as np
    try:
        with np.errstate(over="raise", invalid="raise"):
            yield
    except FloatingPointError as exc:
        raise InputError(f"{what}: float64 arithmetic overflows ({exc}); the network's "
                         "weights or the box are too large for a sound figure") from None


def _require_sound(r: dict, name: str, model: str) -> None:
    """A certificate's figures must be finite and its sound upper bound on the violation
    must not be below a violation it saw (that would be an unsound bound)."""
    require_finite(r, f"the certificate of {name} on {model}")
    seen, bound = r.get("counterexample_violation"), r.get("worst_violation")
    if seen is not None and bound is not None and seen > bound + 1e-9 * max(1.0, abs(bound)):
        raise InputError(f"certifying {name} on {model}: a counterexample violates by {seen:.6g}"
                         f" but the bound says at most {bound:.6g}; no sound certificate "
                         "(numerical trouble in the network)")


def _bounds(args) -> int:
    from cora.certify.absint import output_bounds
    net = _load_net(args.model)
    lo, hi = _load_vec(args.lower, "lower"), _load_vec(args.upper, "upper")
    if lo.ndim != 1 or hi.ndim != 1 or lo.size != net.n_in or hi.size != net.n_in:
        raise InputError(f"the box must be two 1-D arrays of {net.n_in} values (the network's "
                         f"input width), got shapes {lo.shape} and {hi.shape}")
    with _float64_guard(f"bounds of {args.model}"):
        lower, upper = output_bounds(net, lo, hi, args.domain)
    res = {"lower": lower.tolist(), "upper": upper.tolist(), "domain": args.domain}
    require_finite(res, f"the output bounds of {args.model}")
    if args.json:
        print_json(res)
    else:
        for i, (a, b) in enumerate(zip(lower, upper, strict=True)):
            print(f"y[{i}] in [{a:.6g}, {b:.6g}]")
    return 0


def _check(args) -> int:
    from cora.certify.properties import PROPERTIES, check_property, get_property
    names = list(PROPERTIES) if args.property == "all" else [args.property]
    for n in names:
        get_property(n)
    net = _load_net(args.model, args.quantized, policy_shape=True)
    if args.property == "all":  # an Aurora policy: the properties restated over its observation
        from cora.certify.properties import properties_for
        names = list(properties_for(net))
    from cora.certify.coverage import saturation_rate, visited_states
    visited = visited_states(net, args.visit_envs, args.visit_steps)
    sat = saturation_rate(visited)
    if not args.json:
        print(f"visited states: {len(visited.action)} ({args.visit_envs} environments x "
              f"{args.visit_steps} RTTs, Genet ranges); saturation rate {sat['saturated']:.4f}")
    for n in names:
        with _float64_guard(f"certifying {n} on {args.model}"):
            r = check_property(net, n, args.domain, args.max_boxes, args.loop,
                               visited=visited)
        r.pop("_certificate")
        _require_sound(r, n, args.model)
        r["saturation_rate"] = sat["saturated"]
        if args.json:
            print_json(r)
        else:
            vf = r["visited_fraction"]
            vtxt = "n/a (no visited state in region)" if vf is None else \
                f"{vf:.4f} of {r['visited_in_region']}"
            print(f"{n:20s} proven by volume {r['proven_fraction']:.4f}  visited {vtxt}  "
                  f"worst violation <= {r['worst_violation']:.4g}  "
                  f"(seen {r['counterexample_violation']:.4g})  {r['boxes']} boxes  "
                  f"{r['seconds']:.3f} s")
    return 0


def _train(args) -> int:
    from cora.certify.properties import get_property
    from cora.certify.train import TrainConfig, train
    cfg = TrainConfig(mode=args.mode, seed=args.seed, iterations=args.iterations,
                      hidden=args.hidden,
                      population=args.population, n_envs=args.envs, steps=args.steps,
                      head=args.head, monotone=args.monotone, penalty_boxes=args.penalty_boxes,
                      init=args.init)
    if args.cert_weight is not None:
        cfg.cert_weight = args.cert_weight
    weights = {}
    for name, factor in args.prop_weight:
        get_property(name)
        weights[name] = factor
    cfg.prop_weights = weights or None
    out_dir = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(out_dir) or not os.access(out_dir, os.W_OK):
        raise InputError(f"{args.output}: cannot write there (no such directory or no permission)")
    if os.path.isdir(args.output):
        raise InputError(f"{args.output}: is a directory (give the .npz file to write)")
    net = train(cfg, progress=not args.quiet)
    try:
        net.save(args.output)
    except OSError as exc:
        raise InputError(f"cannot write {args.output}: {exc.strerror}") from None
    print(f"wrote {args.output}")
    return 0


def _eval(args) -> int:
    from cora.certify.evaluate import evaluate
    net = _load_net(args.model, policy_shape=True)
    with _float64_guard(f"simulating {args.model}"):
        rows = evaluate({"policy": net}, args.envs, args.steps, args.seed,
                        baselines=args.baselines)
    require_finite(rows, "the simulated figures")
    for name, r in rows.items():
        if args.json:
            print_json({"controller": name, **r})
        else:
            print(f"{name:12s} util {r['utilisation']:.3f}  "
                  f"p95 qdelay {r['p95_queue_delay_ms']:.1f} ms  loss {r['loss_rate']:.4f}")
    return 0


def _export(args) -> int:
    from cora.certify.export import export
    net = _load_net(args.model, policy_shape=True)
    if os.path.exists(args.output) and not os.path.isdir(args.output):
        raise InputError(f"{args.output}: exists and is not a directory")
    info = export(net, args.output, name=args.name, compile_obj=not args.no_compile)
    if info:
        print_json(info, "the export summary")
    return 0


def _load(args) -> int:
    from cora.certify.kernel import load
    name = load(args.dir)
    print(f"registered {name}; select it with sysctl net.ipv4.tcp_congestion_control={name} "
          f"or setsockopt(TCP_CONGESTION)")
    return 0


def _unload(args) -> int:
    from cora.certify.kernel import unload
    unload(args.name)
    print(f"unregistered {args.name}")
    return 0
