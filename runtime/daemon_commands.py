"""``cora runtime start|status|history|replan|stop``: the runtime daemon's command line
(:mod:`cora.runtime.daemon`)."""

from __future__ import annotations

import os
import sys
import time

from cora.argtypes import UsageError
from cora.errors import EnvironmentProblem


def register(sub) -> None:
    """Add ``cora runtime`` (and its subcommands) to the top-level argparse ``sub``-parsers."""
    from cora.argtypes import (
        add_json_flag,
        add_nf_argument,
        integer,
        interface_name,
        netns_name,
        number,
    )
    from cora.runtime.commands import add_dev_netns_arguments

    p = sub.add_parser("runtime", help="the runtime daemon: watch traffic, re-plan, swap",
                       description="The crash-only runtime daemon (state only in pinned maps "
                                   "and /run/cora; needs root).")
    rs = p.add_subparsers(dest="runtime_cmd", metavar="COMMAND")
    rs.required = True
    s = rs.add_parser("start", help="deploy or re-adopt an NF and watch it (foreground)",
                      description="Deploy the NF with live-profile counters (or re-adopt the "
                                  "deployment already there), then every interval read the "
                                  "window's profile, re-plan on drift and swap plans in. "
                                  "Cost figures are MODELLED by the stage models.")
    add_nf_argument(s)
    add_dev_netns_arguments(s, "host interface of the NF")
    s.add_argument("--plan", metavar="PLAN.json", help="first plan (`cora plan --json`); "
                   "default: all on the host")
    s.add_argument("--nic-dev", metavar="IF", type=interface_name,
                   help="the emulated NIC's ingress interface (split deployments; without "
                        "it plan changes are advisory)")
    s.add_argument("--nic-netns", metavar="NS", type=netns_name,
                   help="named network namespace of --nic-dev")
    s.add_argument("--nic-forward", metavar="IF", type=interface_name,
                   help="interface in --nic-netns toward the host (default: the only other "
                        "one)")
    s.add_argument("--nic", default="bluefield2", choices=("agilio", "bluefield2"),
                   help="NIC stage model")
    s.add_argument("--mode", choices=("native", "generic"), default="native",
                   help="XDP attach mode")
    s.add_argument("--live-profile", type=integer(1, 1 << 20), default=1, metavar="N",
                   help="count 1 in N packets")
    s.add_argument("--interval", type=number(0.01, 3600, unit="s"), default=1.0,
                   metavar="S", help="window length")
    s.add_argument("--drift", type=number(0, 1), default=0.05,
                   help="block-frequency change that triggers a re-plan")
    s.add_argument("--hysteresis", type=number(0, 100), default=0.05,
                   help="least relative gain in modelled host cores to adopt a plan")
    s.add_argument("--consecutive", type=integer(1, 10_000), default=3, metavar="K",
                   help="windows in a row the gain must exceed the hysteresis")
    s.add_argument("--min-packets", type=integer(0, None), default=100,
                   help="windows with fewer packets are skipped")
    s.add_argument("--model-rate", type=number(1e-6, 1e4, unit="Mpps"), default=None,
                   metavar="MPPS", help="rate the cost model is evaluated at (default: the "
                                        "measured rate)")
    s.add_argument("--teardown-on-exit", action="store_true",
                   help="undeploy on SIGTERM/stop (default: leave the dataplane running)")
    s.add_argument("--metrics-port", type=integer(1, 65535), default=0, metavar="PORT",
                   help="also serve Prometheus metrics on 127.0.0.1:PORT")
    s.add_argument("--textfile", metavar="PATH",
                   help="Prometheus textfile (default /run/cora/runtime/<ns>/<dev>.prom)")
    s.add_argument("--max-windows", type=integer(0, None), default=0, help=argparse_hidden())
    s.add_argument("--daemon", action="store_true",
                   help="detach into the background (log: /run/cora/runtime/<ns>/<dev>.log)")
    s.set_defaults(func=cmd_start)
    for name, what in (("status", "the daemon's figures and plan"),
                       ("history", "every decision with its reason and figures"),
                       ("replan", "re-plan now (adopts any gain above the hysteresis)"),
                       ("stop", "stop the daemon (the dataplane stays unless it was started "
                                "with --teardown-on-exit)")):
        c = rs.add_parser(name, help=what, description=f"Ask the runtime daemon: {what}.")
        add_dev_netns_arguments(c, "host interface of the NF")
        add_json_flag(c)
        c.set_defaults(func=cmd_control, control=name)


def argparse_hidden() -> str:
    """argparse's marker for an option left out of --help (tests only)."""
    import argparse

    return argparse.SUPPRESS


def cmd_start(args) -> int:
    """Run the daemon in the foreground (or detached with --daemon)."""
    from cora.runtime.daemon import DaemonOptions, RuntimeDaemon, runtime_paths
    from cora.runtime.daemon_policy import PolicySettings
    from cora.runtime.deploy import require_root

    if (args.nic_netns or args.nic_forward) and not args.nic_dev:
        raise UsageError("--nic-netns/--nic-forward go with --nic-dev")
    if args.plan and not args.nic_dev:
        raise UsageError("--plan needs --nic-dev (the NIC's ingress interface)")
    require_root()
    settings = PolicySettings(interval_s=args.interval, drift_threshold=args.drift,
                              hysteresis=args.hysteresis, consecutive=args.consecutive,
                              min_packets=args.min_packets, model_rate_mpps=args.model_rate)
    opts = DaemonOptions(args.nf, args.dev, args.netns, args.nic_dev, args.nic_netns,
                         args.nic_forward, args.plan, args.nic, args.live_profile, settings,
                         args.teardown_on_exit, args.metrics_port, args.textfile,
                         args.max_windows, args.mode)
    daemon = RuntimeDaemon(opts)
    if args.daemon:
        paths = runtime_paths(args.dev, args.netns)
        paths.log.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if os.fork():
            return _wait_for_socket(paths.sock, paths.log)
        os.setsid()
        fd = os.open(paths.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(fd, 2)
        os.dup2(os.open(os.devnull, os.O_RDWR), 0)
        os.dup2(os.open(os.devnull, os.O_RDWR), 1)
        try:
            code = daemon.run()
        except BaseException as exc:  # noqa: BLE001 (the child's last word goes to the log)
            print(f"cora-runtime: event=error error=\"{exc}\"", file=sys.stderr, flush=True)
            code = 1
        os._exit(code)
    return daemon.run()


def _wait_for_socket(sock, log, timeout_s: float = 120.0) -> int:
    """The parent of ``--daemon``: exit 0 once the child serves its socket."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if sock.exists():
            print(f"cora runtime: daemon started (control socket {sock}, log {log})")
            return 0
        time.sleep(0.1)
    raise EnvironmentProblem(f"the daemon did not start within {timeout_s:g} s: see {log}")


def cmd_control(args) -> int:
    """status / history / replan / stop."""
    from cora.jsonout import print_json
    from cora.runtime.daemon import control_request

    reply = control_request(args.dev, args.netns, args.control)
    if not reply.get("ok"):
        raise EnvironmentProblem(f"the daemon refused: {reply.get('error')}")
    if args.json:
        print_json(reply, f"the daemon's {args.control} reply")
        return 0
    if args.control == "status":
        print(f"nf {reply['nf']} on {reply['dev']} (pid {reply['pid']}, "
              f"{'re-adopted' if reply['adopted'] else 'deployed'}), "
              f"{reply['windows']} windows, {reply['packets_total']} packets, "
              f"{reply['rate_mpps'] * 1e6:.0f} pps now")
        cores = reply.get("modelled_host_cores")
        print(f"plan changes {reply['plan_changes']}, swaps {reply['swaps']} "
              f"(failed {reply['swap_failures']}), modelled host cores "
              f"{'-' if cores is None else f'{cores:.4f}'} (MODELLED)")
        last = reply.get("last_decision")
        if last:
            print(f"last decision: {last['action']}: {last['reason']}")
    elif args.control == "history":
        for d in reply["history"]:
            print(f"{d['window']:6} {d['action']:6} {d['packets']:9} pkts  {d['reason']}")
    elif args.control == "replan":
        d = reply.get("decision")
        print("queued" if d is None else f"{d['action']}: {d['reason']}")
    else:
        print("stopping" + (" (tearing the dataplane down)" if reply.get("teardown") else
                            " (the dataplane keeps running)"))
    return 0
