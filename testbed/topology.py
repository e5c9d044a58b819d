"""Network-namespace testbeds made of veth pairs, through pyroute2 only (no ``ip``).

A :class:`Topology` is a context manager: everything it creates (namespaces, veth pairs,
root-namespace interfaces) is deleted when the ``with`` block ends, also after an
exception. Every namespace name starts with a per-run prefix ``cora-<pid>-<rand>-`` and
every interface it makes in the root namespace carries that prefix as its interface alias,
so :func:`cleanup_stale` can remove what a killed run left behind (it only touches runs
whose process is gone). From its creation until :meth:`Topology.close`, SIGTERM and SIGHUP
raise (:func:`cora.signals.signals_raise`), so a terminated run cleans up as after an
exception; every name is recorded before the object is made, so a signal half-way through
building leaves nothing behind either.

Example::

    with two_node() as topo:          # namespaces <prefix>gen and <prefix>dut
        link = topo.links[0]          # gen:veth0 10.211.0.1/30 <-> dut:veth0 10.211.0.2/30
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

from pyroute2 import IPRoute, netns
from pyroute2.netlink.exceptions import NetlinkError

from cora.errors import EnvironmentProblem
from cora.signals import signals_raise
from cora.targets.ebpf.netlink import in_netns  # re-exported: testbed users import it here

PREFIX_ROOT = "cora-"
_RUN_PREFIX_RE = re.compile(r"^cora-(\d+)-([0-9a-f]+)-")
#: Default test subnet: 10.211.0.0/16, carved into one /30 per veth pair.
DEFAULT_SUBNET = "10.211.0.0/16"


@dataclass(frozen=True)
class Endpoint:
    """One end of a veth pair.

    Attributes:
        netns: full namespace name, or None for the root namespace.
        ifname: interface name (unique within its namespace).
        ifindex: interface index within its namespace.
        address: IPv4 interface address as ``a.b.c.d/len``, or None.
        mac: MAC address ``aa:bb:cc:dd:ee:ff``.
    """

    netns: str | None
    ifname: str
    ifindex: int
    address: str | None
    mac: str

    @property
    def ip(self) -> str | None:
        """The address without its prefix length (``10.211.0.1``), or None."""
        return self.address.split("/")[0] if self.address else None


@dataclass(frozen=True)
class Link:
    """A veth pair: ``a`` and ``b`` are its two ends (see :class:`Endpoint`)."""

    a: Endpoint
    b: Endpoint


def new_run_prefix() -> str:
    """A fresh per-run prefix ``cora-<pid>-<4 hex>-`` (pid lets :func:`cleanup_stale` tell
    dead runs from live ones)."""
    return f"{PREFIX_ROOT}{os.getpid()}-{secrets.token_hex(2)}-"


def ipr(ns: str | None = None) -> IPRoute:
    """An rtnetlink socket in namespace ``ns`` (None = root); close it (``with``)."""
    return IPRoute(netns=ns, flags=0) if ns else IPRoute()


def _require_root() -> None:
    if os.geteuid() != 0:
        raise EnvironmentProblem("network namespaces need root: run as root")


class Topology:
    """Namespaces and veth pairs for one test run; a context manager that always cleans up.

    Args:
        prefix: the per-run prefix (default :func:`new_run_prefix`).
        subnet: IPv4 test subnet the link addresses come from (default 10.211.0.0/16).
        link_prefixlen: prefix length of each link's subnet (default 30: two hosts).
        ipv6: keep IPv6 on the interfaces made (default False: disabled, so the kernel
            sends no neighbour discovery or MLD frames that would disturb exact counts).

    Raises:
        EnvironmentProblem: not root.
    """

    def __init__(self, prefix: str | None = None, subnet: str = DEFAULT_SUBNET,
                 link_prefixlen: int = 30, ipv6: bool = False):
        _require_root()
        self.ipv6 = ipv6
        self.prefix = prefix or new_run_prefix()
        self._subnets: Iterator[ipaddress.IPv4Network | ipaddress.IPv6Network] = \
            ipaddress.ip_network(subnet).subnets(new_prefix=link_prefixlen)
        self.namespaces: list[str] = []
        self.links: list[Link] = []
        self._root_ifnames: list[str] = []
        self._counter = 0
        self._signals = contextlib.ExitStack()
        self._signals.enter_context(signals_raise())  # left in close()

    # -- names ----------------------------------------------------------------------------
    def ns(self, short: str) -> str:
        """The full name of this run's namespace ``short`` (prefix + short)."""
        return self.prefix + short

    def _root_ifname(self) -> str:
        # IFNAMSIZ is 16: 'cr' + 6 hex of pid + 4 hex random + 2 hex counter = 14 chars
        m = _RUN_PREFIX_RE.match(self.prefix)
        tag = f"{int(m.group(1)):06x}{m.group(2)}" if m else secrets.token_hex(5)
        self._counter += 1
        return f"cr{tag[:10]}{self._counter:02x}"

    # -- building -------------------------------------------------------------------------
    def add_namespace(self, short: str) -> str:
        """Create namespace ``prefix + short`` with its loopback up; returns the full name.

        Raises:
            EnvironmentProblem: the namespace exists already or cannot be created.
        """
        name = self.ns(short)
        if name in netns.listnetns():
            raise EnvironmentProblem(f"namespace {name} exists already")
        self.namespaces.append(name)  # first: close() removes it even if a signal comes now
        try:
            netns.create(name)
        except OSError as exc:
            self.namespaces.remove(name)
            raise EnvironmentProblem(f"cannot create namespace {name}: {exc}") from None
        with ipr(name) as ip:
            ip.link("set", index=ip.link_lookup(ifname="lo")[0], state="up")
        return name

    def add_link(self, ns_a: str | None, ns_b: str | None, ifname_a: str | None = None,
                 ifname_b: str | None = None, mtu: int | None = None,
                 addresses: bool = True) -> Link:
        """Join two namespaces (short names; None = root namespace) with a veth pair.

        Both ends are set up; with ``addresses`` each gets one host address of the next
        free link subnet (``.1`` on ``a``, ``.2`` on ``b`` for /30s). ``mtu`` sets both ends.
        Default names: ``veth<N>`` inside namespaces, a unique ``cr...`` name in the root.

        Returns:
            the :class:`Link`, also appended to ``self.links``.

        Raises:
            EnvironmentProblem: netlink refused (name taken, bad MTU, ...).
        """
        full_a = self.ns(ns_a) if ns_a else None
        full_b = self.ns(ns_b) if ns_b else None
        n = len(self.links)
        name_a = ifname_a or (f"veth{n}" if full_a else self._root_ifname())
        name_b = ifname_b or (f"veth{n}" if full_b else self._root_ifname())
        if full_a is None and full_b is None:
            raise EnvironmentProblem("a link needs at least one end in a namespace")
        if full_a is None:  # create from the namespace side so root never sees a clash
            full_a, full_b, name_a, name_b, flipped = full_b, None, name_b, name_a, True
        else:
            flipped = False
        peer: dict = {"ifname": name_b}
        if full_b is not None:
            peer["net_ns_fd"] = full_b
        else:  # the root end: this process's namespace (a unique name, recorded first)
            peer["net_ns_pid"] = os.getpid()
            self._root_ifnames.append(name_b)
        try:
            with ipr(full_a) as ip:
                ip.link("add", ifname=name_a, kind="veth", peer=peer)
        except NetlinkError as exc:
            if full_b is None:
                self._root_ifnames.remove(name_b)
            raise EnvironmentProblem(f"cannot create veth {name_a}/{name_b}: "
                                     f"{os.strerror(exc.code)}") from None
        if full_b is None:
            with ipr() as ip:
                ip.link("set", index=ip.link_lookup(ifname=name_b)[0], ifalias=self.prefix)
        hosts = None
        if addresses:
            net = next(self._subnets)
            hosts = list(net.hosts())[:2]
            if flipped:
                hosts.reverse()
        ends = []
        for i, (ns, name) in enumerate(((full_a, name_a), (full_b, name_b))):
            addr = f"{hosts[i]}/{net.prefixlen}" if hosts else None
            ends.append(self._configure(ns, name, addr, mtu))
        a, b = (ends[1], ends[0]) if flipped else (ends[0], ends[1])
        link = Link(a=a, b=b)
        self.links.append(link)
        return link

    def _configure(self, ns: str | None, name: str, address: str | None, mtu: int | None
                   ) -> Endpoint:
        try:
            with ipr(ns) as ip:
                idx = ip.link_lookup(ifname=name)[0]
                if not self.ipv6:
                    _disable_ipv6(ns, name)
                if mtu:
                    ip.link("set", index=idx, mtu=mtu)
                if address:
                    addr, plen = address.split("/")
                    ip.addr("add", index=idx, address=addr, prefixlen=int(plen))
                ip.link("set", index=idx, state="up")
                mac = ip.get_links(idx)[0].get_attr("IFLA_ADDRESS")
        except NetlinkError as exc:
            raise EnvironmentProblem(f"cannot configure {name} in "
                                     f"{ns or 'the root namespace'}: "
                                     f"{os.strerror(exc.code)}") from None
        return Endpoint(netns=ns, ifname=name, ifindex=idx, address=address, mac=mac)

    # -- teardown -------------------------------------------------------------------------
    def close(self) -> None:
        """Delete every namespace and root interface this topology made (idempotent,
        tolerant of things already gone), then restore the signal handlers."""
        try:
            if self._root_ifnames:
                with ipr() as ip:
                    for name in self._root_ifnames:
                        for idx in ip.link_lookup(ifname=name):
                            with contextlib.suppress(NetlinkError):
                                ip.link("del", index=idx)
                self._root_ifnames.clear()
            first_error: OSError | None = None
            for name in reversed(self.namespaces):  # each one, even if another fails
                try:
                    _remove_netns(name)
                except OSError as exc:
                    first_error = first_error or exc
            self.namespaces.clear()
            if first_error is not None:
                raise first_error
        finally:
            self._signals.close()

    def __enter__(self) -> Topology:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _disable_ipv6(ns: str | None, ifname: str) -> None:
    """Set net.ipv6.conf.<ifname>.disable_ipv6 = 1 in namespace ``ns`` (/proc/sys/net is
    per network namespace, seen through the calling thread's namespace)."""
    with in_netns(ns):
        try:
            with open(f"/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6", "w") as f:
                f.write("1")
        except FileNotFoundError:  # kernel without IPv6: nothing to silence
            pass


def _remove_netns(name: str) -> None:
    try:
        netns.remove(name)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise


def two_node(prefix: str | None = None, subnet: str = DEFAULT_SUBNET,
             mtu: int | None = None) -> Topology:
    """A :class:`Topology` with namespaces ``gen`` and ``dut`` joined by one veth pair
    (``gen:veth0`` <-> ``dut:veth0``, 10.211.0.1/30 and .2/30 by default), as the demo uses.
    Enter it with ``with``; if building fails half-way, what was built is removed."""
    topo = Topology(prefix=prefix, subnet=subnet)
    try:
        topo.add_namespace("gen")
        topo.add_namespace("dut")
        topo.add_link("gen", "dut", mtu=mtu)
    except BaseException:
        topo.close()
        raise
    return topo


def star(n_ports: int, prefix: str | None = None, subnet: str = DEFAULT_SUBNET) -> Topology:
    """A :class:`Topology` with a hub namespace ``sw`` and ``n_ports`` host namespaces
    ``h0`` .. ``h<n-1>``, host ``i`` joined to the hub by one veth pair ``sw:p<i>`` <->
    ``h<i>:eth0`` with no addresses (a multicast group's ports). Enter it with ``with``; if
    building fails half-way, what was built is removed.

    Raises:
        ValueError: ``n_ports`` < 1.
    """
    if n_ports < 1:
        raise ValueError(f"a star needs at least one port, not {n_ports}")
    topo = Topology(prefix=prefix, subnet=subnet)
    try:
        topo.add_namespace("sw")
        for i in range(n_ports):
            topo.add_namespace(f"h{i}")
            topo.add_link("sw", f"h{i}", ifname_a=f"p{i}", ifname_b="eth0", addresses=False)
    except BaseException:
        topo.close()
        raise
    return topo


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cleanup_stale(prefix: str = PREFIX_ROOT, only_dead: bool = True) -> list[str]:
    """Remove namespaces and root interfaces left by cora runs that are gone.

    Args:
        prefix: names (namespaces) or aliases (root interfaces) starting with this are
            candidates; pass one run's full prefix to target that run.
        only_dead: skip runs whose process (the pid in ``cora-<pid>-<rand>-``) still lives.

    Returns:
        names of what was removed (``netns:NAME`` / ``link:NAME``).
    """
    removed: list[str] = []

    def stale(name: str) -> bool:
        if not name.startswith(prefix):
            return False
        m = _RUN_PREFIX_RE.match(name)
        if only_dead and m and _pid_alive(int(m.group(1))):
            return False
        return True

    with ipr() as ip:
        for link in ip.get_links():
            alias = link.get_attr("IFLA_IFALIAS") or ""
            if stale(alias):
                with contextlib.suppress(NetlinkError):
                    ip.link("del", index=link["index"])
                    removed.append(f"link:{link.get_attr('IFLA_IFNAME')}")
    for name in netns.listnetns():
        if stale(name):
            _remove_netns(name)
            removed.append(f"netns:{name}")
    return removed
