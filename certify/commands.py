"""``cora certify ...``: train, check, bounds, eval, export, load, unload.

Heavy work is imported inside the handlers. User mistakes raise :class:`cora.errors.CoraError`.
"""

from __future__ import annotations

import json
import os

from cora.errors import InputError


def register(subparsers) -> None:
    """Add the ``certify`` subcommand and its sub-subcommands."""
    p = subparsers.add_parser("certify", help="certified learned congestion control")
    sub = p.add_subparsers(dest="certify_command", metavar="ACTION")
    sub.required = True

    t = sub.add_parser("train", help="train a policy (evolution strategies in the simulator)")
    t.add_argument("-o", "--output", required=True, help="output .npz")
    t.add_argument("--mode", choices=["certified", "performance"], default="certified")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--iterations", type=int, default=150)
    t.add_argument("--hidden", default="64,64", help="hidden widths, e.g. 64,64")
    t.add_argument("--population", type=int, default=24, help="ES antithetic pairs")
    t.add_argument("--envs", type=int, default=48, help="environments per evaluation")
    t.add_argument("--steps", type=int, default=60, help="RTT steps per rollout")
    t.add_argument("--cert-weight", type=float, default=None,
                   help="weight of the certificate term in the reward (default 0.1)")
    t.add_argument("--head", choices=["clip", "linear"], default="clip",
                   help="output head: clip(z, -1, 1) (default) or linear")
    t.add_argument("--monotone", action="store_true",
                   help="sign-constrained weights: non-increasing in q_t and l_t by construction")
    t.add_argument("--prop-weight", action="append", default=[], metavar="PROPERTY=K",
                   help="factor on one property's certificate term (repeatable; default 1)")
    t.add_argument("--penalty-boxes", choices=["uniform", "visited"], default="uniform",
                   help="certificate-term boxes: uniform in each region or on visited states")
    t.add_argument("--init", help="start from this policy file (fine-tuning)")
    t.add_argument("--quiet", action="store_true")
    t.set_defaults(func=_train)

    c = sub.add_parser("check", help="quantitative certificate of properties")
    c.add_argument("model")
    c.add_argument("--property", required=True, help="a property name or 'all'")
    c.add_argument("--domain", choices=["interval", "deeppoly"], default="deeppoly")
    c.add_argument("--max-boxes", type=int, default=2048)
    c.add_argument("--quantized", action="store_true", help="certify the Q16 fixed-point network")
    c.add_argument("--loop", choices=["relational", "interval"], default="relational",
                   help="closed-loop analysis for the closed-loop properties")
    c.add_argument("--visit-envs", type=int, default=128,
                   help="environments simulated for the visited-state measure")
    c.add_argument("--visit-steps", type=int, default=120, help="RTTs per environment (same)")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=_check)

    b = sub.add_parser("bounds", help="sound output bounds over an input box")
    b.add_argument("model")
    b.add_argument("--lower", required=True, help=".npy with the box's lower corner")
    b.add_argument("--upper", required=True, help=".npy with the box's upper corner")
    b.add_argument("--domain", choices=["interval", "deeppoly"], default="deeppoly")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=_bounds)

    e = sub.add_parser("eval", help="simulate the policy and baselines over the environment ranges")
    e.add_argument("model")
    e.add_argument("--envs", type=int, default=256)
    e.add_argument("--steps", type=int, default=200)
    e.add_argument("--seed", type=int, default=1)
    e.add_argument("--baselines", action="store_true", help="also run cubic, bbr-like, vegas-like")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=_eval)

    x = sub.add_parser("export", help="fixed-point BPF struct_ops tcp_congestion_ops")
    x.add_argument("model")
    x.add_argument("-o", "--output", required=True, help="output directory")
    x.add_argument("--name", default="cora_cc", help="congestion control name (<= 15 chars)")
    x.add_argument("--no-compile", action="store_true", help="write C only")
    x.set_defaults(func=_export)

    ld = sub.add_parser("load", help="register an exported controller with bpftool")
    ld.add_argument("dir")
    ld.set_defaults(func=_load)

    u = sub.add_parser("unload", help="unregister a loaded controller")
    u.add_argument("name", nargs="?", default="cora_cc")
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


def _bounds(args) -> int:
    from cora.certify.absint import output_bounds
    net = _load_net(args.model)
    lo, hi = _load_vec(args.lower, "lower"), _load_vec(args.upper, "upper")
    if lo.ndim != 1 or hi.ndim != 1 or lo.size != net.n_in or hi.size != net.n_in:
        raise InputError(f"the box must be two 1-D arrays of {net.n_in} values (the network's "
                         f"input width), got shapes {lo.shape} and {hi.shape}")
    l, u = output_bounds(net, lo, hi, args.domain)
    res = {"lower": l.tolist(), "upper": u.tolist(), "domain": args.domain}
    if args.json:
        print(json.dumps(res))
    else:
        for i, (a, b) in enumerate(zip(l, u)):
            print(f"y[{i}] in [{a:.6g}, {b:.6g}]")
    return 0


def _check(args) -> int:
    from cora.certify.properties import PROPERTIES, check_property, get_property
    if args.max_boxes < 1:
        raise InputError("--max-boxes must be at least 1")
    names = list(PROPERTIES) if args.property == "all" else [args.property]
    for n in names:
        get_property(n)
    net = _load_net(args.model, args.quantized, policy_shape=True)
    from cora.certify.coverage import saturation_rate, visited_states
    if args.visit_envs < 1 or args.visit_steps < 2:
        raise InputError("--visit-envs must be at least 1 and --visit-steps at least 2")
    visited = visited_states(net, args.visit_envs, args.visit_steps)
    sat = saturation_rate(visited)
    if not args.json:
        print(f"visited states: {len(visited.action)} ({args.visit_envs} environments x "
              f"{args.visit_steps} RTTs, Genet ranges); saturation rate {sat['saturated']:.4f}")
    for n in names:
        r = check_property(net, n, args.domain, args.max_boxes, args.loop, visited=visited)
        r.pop("_certificate")
        r["saturation_rate"] = sat["saturated"]
        if args.json:
            print(json.dumps(r))
        else:
            vf = r["visited_fraction"]
            vtxt = "n/a (no visited state in region)" if vf is None else \
                f"{vf:.4f} of {r['visited_in_region']}"
            print(f"{n:20s} proven by volume {r['proven_fraction']:.4f}  visited {vtxt}  "
                  f"worst violation <= {r['worst_violation']:.4g}  "
                  f"(seen {r['counterexample_violation']:.4g})  {r['boxes']} boxes  {r['seconds']:.3f} s")
    return 0


def _train(args) -> int:
    from cora.certify.properties import get_property
    from cora.certify.train import TrainConfig, train
    try:
        hidden = tuple(int(v) for v in args.hidden.split(","))
    except ValueError:
        raise InputError(f"--hidden must be comma-separated integers, got {args.hidden!r}") from None
    if any(h <= 0 for h in hidden) or args.iterations < 0:
        raise InputError("--hidden widths must be positive and --iterations >= 0")
    cfg = TrainConfig(mode=args.mode, seed=args.seed, iterations=args.iterations, hidden=hidden,
                      population=args.population, n_envs=args.envs, steps=args.steps,
                      head=args.head, monotone=args.monotone, penalty_boxes=args.penalty_boxes,
                      init=args.init)
    if args.cert_weight is not None:
        if args.cert_weight < 0:
            raise InputError("--cert-weight must be >= 0")
        cfg.cert_weight = args.cert_weight
    weights = {}
    for item in args.prop_weight:
        name, _, val = item.partition("=")
        get_property(name)
        try:
            weights[name] = float(val)
        except ValueError:
            raise InputError(f"--prop-weight needs PROPERTY=K with a number K, got {item!r}") from None
        if weights[name] < 0:
            raise InputError("--prop-weight factors must be >= 0")
    cfg.prop_weights = weights or None
    out_dir = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(out_dir) or not os.access(out_dir, os.W_OK):
        raise InputError(f"{args.output}: cannot write there (no such directory or no permission)")
    net = train(cfg, progress=not args.quiet)
    net.save(args.output)
    print(f"wrote {args.output}")
    return 0


def _eval(args) -> int:
    from cora.certify.evaluate import evaluate
    net = _load_net(args.model, policy_shape=True)
    if args.envs <= 0 or args.steps <= 1:
        raise InputError("--envs must be positive and --steps at least 2")
    rows = evaluate({"policy": net}, args.envs, args.steps, args.seed, baselines=args.baselines)
    for name, r in rows.items():
        if args.json:
            print(json.dumps({"controller": name, **r}))
        else:
            print(f"{name:12s} util {r['utilisation']:.3f}  p95 qdelay {r['p95_queue_delay_ms']:.1f} ms"
                  f"  loss {r['loss_rate']:.4f}")
    return 0


def _export(args) -> int:
    from cora.certify.export import export
    net = _load_net(args.model, policy_shape=True)
    if os.path.exists(args.output) and not os.path.isdir(args.output):
        raise InputError(f"{args.output}: exists and is not a directory")
    info = export(net, args.output, name=args.name, compile_obj=not args.no_compile)
    print(json.dumps(info) if info else "")
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
