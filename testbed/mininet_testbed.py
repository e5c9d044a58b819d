"""Mininet as an option for experiments (researchers' testbeds), beside :mod:`topology`.

Mininet 2.3 from Debian works here with a Linux-bridge switch and no controller (no Open
vSwitch, no OpenFlow controller; shared/MACHINE.md). Its hosts live in unnamed network
namespaces; :class:`MininetTestbed` gives each one a name under ``/var/run/netns`` (as
``ip netns attach`` does) so that ``cora deploy --netns NAME``, :mod:`cora.runtime.attach`
and the traffic generator work on them unchanged. Link delay/loss options (TCLink) need netem,
which this kernel lacks, so they are not offered.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import TYPE_CHECKING

from cora.errors import EnvironmentProblem
from cora.signals import signals_raise

if TYPE_CHECKING:
    from mininet.net import Mininet


def mininet_available() -> bool:
    """Whether Mininet's Python package can be imported (Debian package ``mininet``)."""
    try:
        import mininet.net  # noqa: F401
    except ImportError:
        return False
    return True


class MininetTestbed:
    """``n_hosts`` Mininet hosts on one Linux bridge, each host's namespace named
    ``<prefix>h<i>``; a context manager that always stops Mininet and removes the names.

    Args:
        n_hosts: hosts h1..hN (addresses 10.0.0.i/8, Mininet's default).
        prefix: name prefix of the attached namespaces (default ``cora-mn-<random>-``).

    Attributes:
        net: the running ``mininet.net.Mininet``; ns: host name -> namespace name;
        intf: host name -> its interface name (``h1-eth0`` ...).

    Raises:
        EnvironmentProblem: Mininet is not installed or not root.
    """

    def __init__(self, n_hosts: int = 2, prefix: str | None = None):
        if not mininet_available():
            raise EnvironmentProblem("Mininet is not installed: apt-get install mininet "
                                     "bridge-utils (or use cora.testbed.topology)")
        self.n_hosts = n_hosts
        self.prefix = prefix or f"cora-mn-{uuid.uuid4().hex[:6]}-"
        self.net: Mininet | None = None
        self.ns: dict[str, str] = {}
        self.intf: dict[str, str] = {}
        self._signals = contextlib.ExitStack()

    def __enter__(self) -> MininetTestbed:
        from mininet.log import setLogLevel
        from mininet.net import Mininet
        from mininet.nodelib import LinuxBridge
        from mininet.topo import SingleSwitchTopo
        from pyroute2 import netns

        setLogLevel("error")
        # SIGTERM/SIGHUP raise inside the block, so a killed experiment still stops Mininet
        # and removes the names (as cora.testbed.topology does); restored in close()
        self._signals.enter_context(signals_raise())
        try:
            self.net = Mininet(topo=SingleSwitchTopo(self.n_hosts), switch=LinuxBridge,
                               controller=None, autoSetMacs=True)
            self.net.start()
            for host in self.net.hosts:
                name = f"{self.prefix}{host.name}"
                self.ns[host.name] = name  # first: close() removes it even if a signal comes now
                netns.attach(name, host.pid)
                self.intf[host.name] = host.defaultIntf().name
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Remove the namespace names and stop Mininet (idempotent), then restore the signal
        handlers."""
        from pyroute2 import netns

        try:
            for name in list(self.ns.values()):
                try:
                    netns.remove(name)
                except OSError:
                    pass
            self.ns.clear()
            if self.net is not None:
                net, self.net = self.net, None
                net.stop()
        finally:
            self._signals.close()

    def __exit__(self, *exc) -> None:
        self.close()
