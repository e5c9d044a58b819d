"""The INA testbed: N worker namespaces and one switch namespace, shaped veth links, a bridge.

::

    <p>w0: eth0 10.212.0.1/24 --veth (shaped both ways)-- p0 \\
    <p>w1: eth0 10.212.0.2/24 --veth-- p1 ------------------ br0 10.212.0.254/24  in <p>sw
    ...                                                      (Linux bridge; the aggregator
    <p>w{N-1}: eth0 ...       --veth-- p{N-1} --------------/  binds br0's address)

Every worker link is shaped in both directions, both at the worker (the ``eth0`` egress, and
the ``eth0`` ingress redirected through an ``ifb0`` whose egress is shaped, so frames that XDP
redirects into ``p<i>`` and thereby skip ``p<i>``'s qdisc are shaped too) with HTB (default;
one class, rate = ceil) or TBF to ``rate_mbit``; ordinary
traffic (ARP, torch.distributed's TCP) is bridged by ``br0``, so the gloo ring between workers
crosses two shaped links per hop like INA traffic does. Loss: ``loss`` > 0 deploys
``testbed/nf/drop_fraction.nf`` with :func:`cora.runtime.deploy.deploy` on both ends of every
worker link (``eth0`` ingress: frames to the worker; ``p<i>`` ingress: frames from it) and
writes its drop threshold into the pinned ``config`` map, so each direction loses ``loss``.
:meth:`InaTestbed.deploy_aggregator` runs the in-kernel aggregator (netfuncs/ina/ina.nf) on
``br0`` instead of the user-space one.

Everything is made under a per-run prefix (:class:`cora.testbed.topology.Topology`) and
removed on exit, after an exception, and on SIGTERM/SIGINT (while the testbed is entered in
the main thread, those signals raise ``SystemExit``/``KeyboardInterrupt`` so the ``finally``
blocks run).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

from pyroute2.netlink.exceptions import NetlinkError

from cora.errors import EnvironmentProblem
from cora.testbed.topology import Topology, in_netns, ipr

#: Default link rate. Chosen so the links, not the 2 CPUs, limit the user-space aggregator and
#: the gloo ring at N = 4 (how it was checked: docs/ina.md, "Link rate").
DEFAULT_RATE_MBIT = 10
SUBNET_PREFIX = "10.212.0."
SWITCH_IP = SUBNET_PREFIX + "254"
MAX_WORKERS = 8
#: the loss-injection NF (a testbed tool, shipped as package data beside this module)
DROP_NF = Path(__file__).resolve().parent / "nf" / "drop_fraction.nf"


def worker_ip(i: int) -> str:
    """Address of worker ``i`` (``10.212.0.<i+1>``)."""
    return f"{SUBNET_PREFIX}{i + 1}"


def _drop_nf_path() -> Path:
    return DROP_NF


class InaTestbed:
    """N workers + one switch namespace; a context manager that always cleans up.

    Args:
        n_workers: 1..8.
        rate_mbit: rate of every worker link in each direction (Mbit/s, > 0).
        shaper: "htb" or "tbf".
        loss: fraction of IPv4 frames dropped per direction on every worker link (0 = no NF
            deployed); 0 <= loss < 1.
    Attributes:
        topo: the :class:`Topology`; switch_ns / worker_ns: full namespace names.
    Raises:
        ValueError: bad arguments. EnvironmentProblem: not root, netlink refused.
        KernelError / CoraError: the drop NF failed to compile or load.
    """

    def __init__(self, n_workers: int, rate_mbit: float = DEFAULT_RATE_MBIT,
                 shaper: str = "htb", loss: float = 0.0):
        if not 1 <= n_workers <= MAX_WORKERS:
            raise ValueError(f"worker count {n_workers} outside 1..{MAX_WORKERS}")
        if not rate_mbit > 0:
            raise ValueError(f"link rate {rate_mbit} Mbit/s must be > 0")
        if shaper not in ("htb", "tbf"):
            raise ValueError(f"shaper must be 'htb' or 'tbf', not {shaper!r}")
        if not 0.0 <= loss < 1.0:
            raise ValueError(f"loss {loss} outside [0, 1)")
        self.n_workers, self.rate_mbit, self.shaper, self.loss = n_workers, rate_mbit, shaper, loss
        self.topo: Topology | None = None
        self.switch_ns = ""
        self.worker_ns: list[str] = []
        self._deployed: list[tuple[str, str]] = []
        self._deployed_agg: list[tuple[str, str]] = []
        self._old_handlers: dict[int, Any] = {}

    # -- building -------------------------------------------------------------------------
    def __enter__(self) -> InaTestbed:
        self._install_signal_handlers()
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        owner = os.getpid()

        def on_term(signum, frame):
            if os.getpid() != owner:  # a forked helper (pyroute2's netns child): default action
                signal.signal(signum, signal.SIG_DFL)
                os.kill(os.getpid(), signum)
                return
            raise SystemExit(128 + signum)

        for sig, handler in ((signal.SIGTERM, on_term),
                             (signal.SIGINT, signal.default_int_handler)):
            self._old_handlers[sig] = signal.signal(sig, handler)

    def _build(self) -> None:
        topo = self.topo = Topology()
        self.switch_ns = topo.add_namespace("sw")
        with ipr(self.switch_ns) as ip:
            ip.link("add", ifname="br0", kind="bridge")
            br = ip.link_lookup(ifname="br0")[0]
            ip.addr("add", index=br, address=SWITCH_IP, prefixlen=24)
            ip.link("set", index=br, state="up")
        for i in range(self.n_workers):
            self.worker_ns.append(topo.add_namespace(f"w{i}"))
            topo.add_link(f"w{i}", "sw", ifname_a="eth0", ifname_b=f"p{i}", addresses=False)
            with ipr(self.worker_ns[i]) as ip:
                idx = ip.link_lookup(ifname="eth0")[0]
                ip.addr("add", index=idx, address=worker_ip(i), prefixlen=24)
                self._shape(ip, idx)
                # the switch -> worker direction is shaped at the worker: eth0's ingress is
                # redirected (mirred) through ifb0, whose egress qdisc shapes it; a frame
                # that XDP redirects into p<i> (the in-kernel aggregator's results) skips
                # p<i>'s own qdisc, but not this one, so every frame of the link is shaped
                ip.link("add", ifname="ifb0", kind="ifb")
                ifb = ip.link_lookup(ifname="ifb0")[0]
                ip.link("set", index=ifb, state="up")
                self._shape(ip, ifb)
            self._redirect_ingress(self.worker_ns[i], "eth0", "ifb0")
            with ipr(self.switch_ns) as ip:
                idx = ip.link_lookup(ifname=f"p{i}")[0]
                ip.link("set", index=idx, master=ip.link_lookup(ifname="br0")[0])
        if self.loss > 0:
            self._deploy_drop()

    def _shape(self, ip, idx: int) -> None:
        rate = f"{round(self.rate_mbit * 1000)}kbit"
        # burst: 1 ms at the rate, at least two full frames (tc's usual rule of thumb)
        burst = int(max(3028, self.rate_mbit * 1e6 / 8 / 1000))
        try:
            if self.shaper == "htb":
                ip.tc("add", "htb", idx, 0x10000, default=0x10)
                ip.tc("add-class", "htb", idx, 0x10010, parent=0x10000, rate=rate, ceil=rate,
                      burst=burst, cburst=burst)
            else:
                # queue: 100 ms at the rate (at least 64 KiB)
                limit = int(max(65536, self.rate_mbit * 1e6 / 8 / 10))
                ip.tc("add", "tbf", idx, 0x10000, rate=rate, burst=burst, limit=limit)
        except NetlinkError as exc:
            raise EnvironmentProblem(f"cannot add the {self.shaper} qdisc: "
                                     f"{exc.args[-1] if exc.args else exc}") from None

    @staticmethod
    def _redirect_ingress(ns: str, dev: str, ifb: str) -> None:
        """Every frame received by ``dev`` goes through ``ifb``'s egress qdisc first."""
        for argv in (["tc", "qdisc", "add", "dev", dev, "handle", "ffff:", "ingress"],
                     ["tc", "filter", "add", "dev", dev, "parent", "ffff:", "protocol", "all",
                      "u32", "match", "u32", "0", "0", "action", "mirred", "egress",
                      "redirect", "dev", ifb]):
            res = subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True,
                                 text=True)
            if res.returncode != 0:
                raise EnvironmentProblem(f"cannot redirect {dev}'s ingress to {ifb}: "
                                         f"{res.stderr.strip()}")

    def deploy_aggregator(self, jobs: dict[int, tuple[int, int]]) -> None:
        """Run netfuncs/ina/ina.nf in the kernel as the aggregator at ``SWITCH_IP``.

        The NF is attached (generic XDP) to the bridge ``br0``, where every frame addressed
        to the switch arrives whichever port it came in by, so one program and one slot
        pool serve all ports; its group ``workers`` holds the worker ports ``p0..p{N-1}``
        (a result leaves by an XDP redirect to each: both engines' multicast). Frames that
        are not INA traffic pass to the bridge and the stack. bcc compiles the NF for
        minutes (its unrolled 256-value loops).

        Args:
            jobs: job id -> (slots, workers): the slot pool's allocation, loaded as the
                NF's initial ``jobs`` entries (bases in id order, as
                :meth:`cora.ina.ps.SlotPool.allocate` in that order gives).
        Raises:
            EnvironmentProblem, KernelError: as :func:`cora.runtime.deploy.deploy`.
        """
        from cora.runtime.deploy import deploy
        from cora.runtime.groups import set_group

        deploy(ina_nf_program(jobs), "br0", self.switch_ns, mode="generic", stats=True)
        self._deployed_agg.append((self.switch_ns, "br0"))
        set_group("br0", self.switch_ns, "workers", [f"p{i}" for i in range(self.n_workers)])

    def shaped_bytes(self, i: int) -> dict[str, int]:
        """Bytes worker ``i``'s two shapers have sent so far: ``"up"`` (eth0's root qdisc,
        worker -> switch) and ``"down"`` (ifb0's, switch -> worker), from ``tc -s qdisc``.

        Raises:
            EnvironmentProblem: tc failed or printed no counter.
        """
        import re

        out = {}
        for key, dev in (("up", "eth0"), ("down", "ifb0")):
            res = subprocess.run(["ip", "netns", "exec", self.worker_ns[i], "tc", "-s", "qdisc",
                                  "show", "dev", dev, "root"], capture_output=True, text=True)
            m = re.search(r"Sent (\d+) bytes", res.stdout)
            if res.returncode != 0 or m is None:
                raise EnvironmentProblem(f"cannot read the shaper of worker {i}'s {dev}: "
                                         f"{res.stderr.strip() or res.stdout.strip()}")
            out[key] = int(m.group(1))
        return out

    def aggregator_stats(self) -> dict[str, int]:
        """The in-kernel aggregator's verdict counters (``cora stats``: pass, drop, tx,
        multicast ...), summed over CPUs."""
        from cora.runtime.deploy import read_stats

        return dict(read_stats("br0", self.switch_ns).get("verdicts") or {})

    def _deploy_drop(self) -> None:
        from cora.compiler.driver import compile_file
        from cora.runtime.deploy import deploy

        program = compile_file(_drop_nf_path())
        ends = [(ns, "eth0") for ns in self.worker_ns]
        ends += [(self.switch_ns, f"p{i}") for i in range(self.n_workers)]
        for ns, dev in ends:
            deploy(program, dev, ns, mode="native")
            self._deployed.append((ns, dev))
            set_drop_fraction(dev, ns, self.loss)

    # -- using ----------------------------------------------------------------------------
    def popen(self, ns: str, argv: list[str], **kw) -> subprocess.Popen:
        """Start ``argv`` inside namespace ``ns`` (a full name from this testbed)."""
        from pyroute2 import netns

        return subprocess.Popen(argv, preexec_fn=lambda: netns.setns(ns), **kw)

    def in_worker(self, i: int):
        """Context manager: the calling thread inside worker ``i``'s namespace."""
        return in_netns(self.worker_ns[i])

    def in_switch(self):
        """Context manager: the calling thread inside the switch namespace."""
        return in_netns(self.switch_ns)

    def drop_stats(self) -> dict[str, dict[str, int]]:
        """Frames passed/dropped by the drop NF per link end (``"<ns-short>/<dev>"``)."""
        from cora.runtime.deploy import read_stats

        out = {}
        prefix = self.topo.prefix if self.topo else ""
        for ns, dev in self._deployed:
            rows = {e["key"][0]: e["value"][0] for e in read_stats(dev, ns)["maps"]["stats"]}
            out[f"{ns.removeprefix(prefix)}/{dev}"] = {
                "passed": int(rows.get(0, 0)), "dropped": int(rows.get(1, 0))}
        return out

    # -- teardown -------------------------------------------------------------------------
    def close(self) -> None:
        """Undeploy the drop NFs, delete every namespace, restore signal handlers
        (idempotent; each step runs even if an earlier one fails)."""
        from cora.runtime.deploy import undeploy

        try:
            while self._deployed or self._deployed_agg:
                ns, dev = (self._deployed or self._deployed_agg).pop()
                with contextlib.suppress(Exception):
                    undeploy(dev, ns)
        finally:
            try:
                if self.topo is not None:
                    self.topo.close()
            finally:
                for sig, handler in self._old_handlers.items():
                    signal.signal(sig, handler)
                self._old_handlers.clear()


def ina_nf_path() -> Path:
    """netfuncs/ina/ina.nf of this checkout."""
    return Path(__file__).resolve().parents[1] / "netfuncs" / "ina" / "ina.nf"


def ina_nf_program(jobs: dict[int, tuple[int, int]]):
    """netfuncs/ina/ina.nf compiled with ``jobs`` (job id -> (slots, workers)) as its
    initial ``jobs`` entries; bases are given in ascending job id from 0 (what
    :meth:`cora.ina.ps.SlotPool.allocate` gives when called in that order).

    Raises:
        ValueError: more than the pool's 1,024 slots in all.
    """
    from cora.compiler.driver import compile_source

    src = ina_nf_path().read_text()
    decl = "state jobs: map<u16, Job>[64] on_full skip;"
    entries, base = [], 0
    for job, (slots, workers) in sorted(jobs.items()):
        entries.append(f"{job}: Job {{ base: {base}, slots: {slots}, n_workers: {workers} }}")
        base += slots
    if base > 1024:
        raise ValueError(f"the jobs ask for {base} slots; the NF's pool has 1024")
    src = src.replace(decl, decl[:-1] + " = { " + ", ".join(entries) + " };")
    return compile_source(src, "ina.nf")


def set_drop_fraction(dev: str, netns: str | None, fraction: float) -> int:
    """Write the drop threshold of a deployed ``drop_fraction.nf``: ``floor(fraction * 2^32)``
    into its ``config[0]`` (see the NF's header comment).

    Returns:
        the threshold written.
    Raises:
        ValueError: fraction outside [0, 1). EnvironmentProblem: no deployment there.
    """
    from cora.runtime import bpf_syscall, pins
    from cora.runtime.deploy import read_stats

    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"drop fraction {fraction} outside [0, 1)")
    read_stats(dev, netns)  # raises EnvironmentProblem if nothing is deployed there
    threshold = min(int(fraction * 2**32), 2**32 - 1)
    with pins.open_pinned(pins.deployment_dir(dev, netns)) as pinned:
        bpf_syscall.map_update(pinned.maps["config"], (0).to_bytes(4, "little"),
                               threshold.to_bytes(4, "little"))
    return threshold
