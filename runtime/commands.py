"""``cora deploy``, ``cora stats``, ``cora group`` and ``cora undeploy`` (see
:mod:`cora.runtime.deploy` and :mod:`cora.runtime.groups`)."""

from __future__ import annotations

import time

from cora.argtypes import UsageError
from cora.jsonout import print_json, require_finite

#: longest ``cora stats --interval``, in seconds
STATS_MAX_INTERVAL_S = 3600.0
#: most entries ``cora stats`` shows per map in text output
STATS_MAX_TOP = 1_000_000


def add_dev_netns_arguments(p, what: str = "the interface the NF is attached to") -> None:
    """``--dev IF`` and ``--netns NS``, named, checked and described alike on deploy, stats
    and undeploy (names checked as the kernel and ``ip netns`` check them, see
    :mod:`cora.argtypes`)."""
    from cora.argtypes import interface_name, netns_name

    p.add_argument("--dev", required=True, metavar="IF", type=interface_name,
                   help=f"{what} (at most 15 bytes)")
    p.add_argument("--netns", metavar="NS", type=netns_name, default=None,
                   help="named network namespace of --dev (`ip netns list`; default: the "
                        "current namespace)")


def register(sub) -> None:
    """Add deploy, stats, group and undeploy to the top-level argparse ``sub``-parsers."""
    from cora.argtypes import (
        add_json_flag,
        add_nf_argument,
        integer,
        interface_name,
        netns_name,
        number,
    )

    p = sub.add_parser("deploy", help="attach an NF to an interface, maps pinned in bpffs",
                       description="Compile the NF, load it, pin its maps under "
                                   "/sys/fs/bpf/cora/<netns>/<dev> and attach it (needs root).")
    add_nf_argument(p)
    add_dev_netns_arguments(p, "interface to attach the NF to")
    p.add_argument("--mode", choices=("native", "generic"), default="native",
                   help="XDP attach mode: native (driver) or generic (skb)")
    p.add_argument("--plan", metavar="PLAN.json", default=None,
                   help="deploy the stages of a `cora plan --json` plan: the host kernel "
                        "stage on --dev, the NIC stage (emulated by XDP) on --nic-dev")
    p.add_argument("--nic-dev", metavar="IF", type=interface_name,
                   help="the NIC's ingress interface (with --plan)")
    p.add_argument("--nic-netns", metavar="NS", type=netns_name,
                   help="named network namespace of --nic-dev (with --plan)")
    p.add_argument("--nic-forward", metavar="IF", type=interface_name,
                   help="interface in --nic-netns toward the host (with --plan; default: the "
                        "only other one)")
    p.add_argument("--no-stats", action="store_true",
                   help="no per-CPU verdict counters (cora_verdicts) in the program; "
                        "`cora stats` then shows the maps only")
    p.add_argument("--replace", action="store_true",
                   help="upgrade the NF running on --dev in place (hot swap, no frame lost): "
                        "every map whose layout is unchanged keeps its state; a changed one "
                        "is refused unless --migrate or --drop-state names it")
    p.add_argument("--migrate", metavar="MAP=CONVERSION", action="append", default=[],
                   type=_migrate_spec,
                   help="with --replace: convert MAP's entries to its new layout; CONVERSION "
                        "is widen, add-field or resize (several joined by +)")
    p.add_argument("--drop-state", metavar="MAP", action="append", default=[],
                   help="with --replace: MAP starts empty in the new version")
    p.add_argument("--live-profile", metavar="N", nargs="?", const=1, default=0,
                   type=integer(1, 1 << 20),
                   help="keep live-profile counters (entry block and branch edges, per CPU) "
                        "of 1 in N packets (N default 1) for `cora runtime`")
    p.add_argument("--group", metavar="GROUP=PORT,...", action="append", default=[],
                   type=_group_spec,
                   help="fill multicast group GROUP with these ports (interface names in "
                        "--netns or ifindexes) once attached; repeatable (later: `cora group`)")
    add_json_flag(p)
    p.set_defaults(func=cmd_deploy)

    p = sub.add_parser("stats", help="live verdict counters and state of a deployed NF",
                       description="Read the verdict counters and maps of a deployed NF from "
                                   "its pins (needs root).")
    add_dev_netns_arguments(p)
    p.add_argument("--interval", type=number(0, STATS_MAX_INTERVAL_S, unit="s"), default=0.0,
                   metavar="S",
                   help="sample twice, S seconds apart, and report rates in Mpps (0: once, "
                        f"no rates; at most {STATS_MAX_INTERVAL_S:g})")
    p.add_argument("--top", type=integer(0, STATS_MAX_TOP), default=10, metavar="N",
                   help="entries shown per map (text output)")
    add_json_flag(p)
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("group", help="fill a multicast group of a deployed NF with ports",
                       description="Replace the ports of multicast group GROUP (a 'state G: "
                                   "group[N];' of the NF deployed on --dev) by PORT...: "
                                   "interface names in --netns or ifindexes, in the order "
                                   "copies are sent (needs root). No PORT empties it.")
    add_dev_netns_arguments(p)
    p.add_argument("group", metavar="GROUP", help="the group's name in the NF")
    p.add_argument("ports", metavar="PORT", nargs="*", help="interface name or ifindex")
    add_json_flag(p)
    p.set_defaults(func=cmd_group)

    p = sub.add_parser("undeploy", help="detach the NF and unpin its maps",
                       description="Detach a deployed NF and remove its pins (needs root).")
    add_dev_netns_arguments(p)
    p.set_defaults(func=cmd_undeploy)


def _group_spec(text: str) -> tuple[str, list[str]]:
    """argparse type of ``--group GROUP=PORT,...``."""
    import argparse

    name, sep, ports = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r} is not GROUP=PORT,...")
    return name, [p for p in ports.split(",") if p]


def _migrate_spec(text: str) -> tuple[str, str]:
    """argparse type of ``--migrate MAP=CONVERSION``."""
    import argparse

    from cora.runtime.swap import LayoutMismatch, parse_conversions

    name, sep, conv = text.partition("=")
    if not sep or not name or not conv:
        raise argparse.ArgumentTypeError(f"{text!r} is not MAP=CONVERSION")
    try:
        parse_conversions(conv)
    except LayoutMismatch as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return name, conv


def cmd_deploy(args) -> int:
    """Compile, load, pin and attach (or, with --replace, upgrade in place)."""
    from cora.compiler import compile_file
    from cora.runtime.deploy import deploy, require_root

    if args.plan is None and (args.nic_dev or args.nic_netns or args.nic_forward):
        raise UsageError("--nic-dev/--nic-netns/--nic-forward go with --plan")
    if (args.migrate or args.drop_state) and not args.replace:
        raise UsageError("--migrate/--drop-state go with --replace")
    if args.replace and args.plan is not None:
        raise UsageError("--replace upgrades one interface's NF; it does not take --plan")
    if args.plan is not None and not args.nic_dev:
        raise UsageError("--plan needs --nic-dev (the NIC's ingress interface)")
    require_root()
    program = compile_file(args.nf)
    if args.plan is not None:
        return _deploy_plan(args, program)
    meta = deploy(program, args.dev, args.netns, args.mode,
                  stats=not getattr(args, "no_stats", False), replace=args.replace,
                  migrate=dict(args.migrate), drop_state=frozenset(args.drop_state),
                  live_profile=args.live_profile)
    if args.group:
        from cora.runtime.groups import set_group

        meta["groups"] = {name: set_group(args.dev, args.netns, name, ports)
                          for name, ports in args.group}
    if getattr(args, "json", False):
        import json

        print(json.dumps(meta, indent=2, sort_keys=True))
        return 0
    for name, idx in meta.get("groups", {}).items():
        print(f"group {name}: ifindexes {', '.join(map(str, idx)) or 'none'}")
    if meta.get("recovered"):
        print(f"note: {meta['recovered']}")
    where = f"{args.dev} (namespace {args.netns})" if args.netns else args.dev
    if meta.get("swap"):
        rep = meta["swap"]
        kept = sorted(n for n, a in rep["maps"].items() if a == "keep")
        other = ", ".join(f"{n}: {a}" for n, a in sorted(rep["maps"].items()) if a != "keep")
        print(f"{program.name}: replaced program {rep['old_prog_id']} by {rep['new_prog_id']} "
              f"on {where} in {rep['swap_ns'] / 1e6:.3f} ms (load {rep['load_ns'] / 1e6:.0f} "
              f"ms); state kept in {', '.join(kept) or 'no map'}"
              + (f"; {other}" if other else ""))
        return 0
    print(f"{program.name}: attached to {where} as XDP program id {meta['prog_id']} "
          f"({args.mode}); maps pinned under {meta['pins']}")
    return 0


def _deploy_plan(args, program) -> int:
    """``cora deploy --plan``: NIC stage on --nic-dev, host stage on --dev."""
    from cora.compiler.offload.split import check_nic_model, load_plan_file, split
    from cora.runtime.deploy import deploy_stages

    doc = load_plan_file(args.plan)
    check_nic_model(doc, split(program, doc))
    res = deploy_stages(program, doc, args.dev, args.netns,
                        args.nic_dev, args.nic_netns, args.nic_forward, args.mode,
                        live_profile=args.live_profile)
    nic, host = res["nic"], res["host"]
    for note in (nic.get("recovered"), host.get("recovered")):
        if note:
            print(f"note: {note}")
    print(f"{program.name}: stages {' -> '.join(res['stages'])}; NIC side (emulated by XDP) on "
          f"{args.nic_dev}" + (f" (namespace {args.nic_netns})" if args.nic_netns else "")
          + f" as program id {nic['prog_id']}, pass redirected to ifindex "
          f"{nic['forward_ifindex']}; host side on {args.dev}"
          + (f" (namespace {args.netns})" if args.netns else "")
          + f" as program id {host['prog_id']}; `cora undeploy --dev {args.dev}"
          + (f" --netns {args.netns}" if args.netns else "") + "` takes both down")
    return 0


def cmd_stats(args) -> int:
    """Print verdict counters (and rates) and map contents."""
    from cora.runtime.deploy import read_stats, require_root

    require_root()
    first = read_stats(args.dev, args.netns)
    rates = None
    if args.interval > 0 and first["verdicts"] is not None:
        t0 = time.monotonic()
        time.sleep(args.interval)
        second = read_stats(args.dev, args.netns)
        dt = time.monotonic() - t0
        rates = {k: (second["verdicts"][k] - first["verdicts"][k]) / dt / 1e6
                 for k in first["verdicts"]}
        rates["total"] = sum(rates.values())
        first = second
    if rates is not None:
        require_finite(rates, "the rates")
    if args.json:
        out = dict(first)
        if rates is not None:
            out["rate_mpps"] = {k: round(v, 4) for k, v in rates.items()}
        print_json(out, "the counters")
        return 0
    print(f"{first['nf']} on {args.dev}" + (f" (namespace {args.netns})" if args.netns else "")
          + f": program id {first['prog_id']}, "
          + ("attached" if first["attached"] else "NOT attached (pins only)"))
    if first["verdicts"] is None:
        print("  verdicts: not counted (deployed with --no-stats)")
    else:
        print("  verdicts: " + ", ".join(f"{k} {v}" for k, v in first["verdicts"].items()))
    if rates is not None:
        print(f"  rate over {args.interval:g} s (measured): {rates['total']:.3f} Mpps ("
              + ", ".join(f"{k} {v:.3f}" for k, v in rates.items() if k != "total" and v) + ")")
    clock = first.get("host_clock")
    if clock is not None:
        state = ("no clock map in the current plan" if clock["now_ns"] is None
                 else f"{clock['age_ms']:.1f} ms behind the host's")
        feeder = (f"feeder pid {clock['feeder_pid']} running" if clock["feeder_running"]
                  else "feeder NOT running: the NIC's now() stands still; `cora undeploy` "
                       "and deploy again")
        print(f"  host-fed NIC clock (every {clock['period_ns'] / 1e6:g} ms): {state}, "
              f"{feeder}")
    summed = first.get("summed_copies") or {}
    retired = first.get("retired_copies") or {}
    for name, rows in first["maps"].items():
        print(f"  map {name}: {len(rows)} entries"
              + (f" (merged counter: sum of its copies on the {' and '.join(summed[name])} "
                 "stages)" if name in summed else "")
              + (f" (plus {retired[name]} retired cop{'y' if retired[name] == 1 else 'ies'}"
                 " that plan changes took off a stage)" if name in retired else ""))
        for row in rows[:args.top]:
            print(f"    {row['key']} -> {row['value']}")
        if len(rows) > args.top:
            print(f"    ... {len(rows) - args.top} more (use --json for all)")
    return 0


def cmd_group(args) -> int:
    """Fill a multicast group of a deployed NF."""
    from cora.runtime.deploy import require_root
    from cora.runtime.groups import set_group

    require_root()
    idx = set_group(args.dev, args.netns, args.group, args.ports)
    if args.json:
        print_json({"group": args.group, "ifindexes": idx}, "the group")
        return 0
    where = f"{args.dev} (namespace {args.netns})" if args.netns else args.dev
    print(f"group {args.group} of the NF on {where}: "
          + (f"ifindexes {', '.join(map(str, idx))}" if idx else "empty"))
    return 0


def cmd_undeploy(args) -> int:
    """Detach and unpin."""
    from cora.runtime.deploy import require_root, undeploy

    require_root()
    res = undeploy(args.dev, args.netns)
    where = f"{args.dev} (namespace {args.netns})" if args.netns else args.dev
    if res.get("recovered"):
        print(f"note: {res['recovered']}")
    print(f"{where}: " + ("detached; " if res["detached"] else "no cora program was attached; ")
          + f"removed {len(res['unpinned'])} pins/directories"
          + ("; also took down the NIC stage" if "nic" in res else ""))
    return 0
