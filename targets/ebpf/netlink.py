"""rtnetlink sockets per network namespace, for the hooks' attach and detach
(:mod:`cora.targets.xdp.attach`, :mod:`cora.targets.tc.attach`), through pyroute2.

The socket is opened inside the namespace; program fds are resolved by the kernel in this
process, so no thread ever has to switch namespaces.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from pyroute2 import IPRoute, netns

from cora.errors import EnvironmentProblem


def where(netns: str | None) -> str:
    """``namespace NAME`` or ``the root namespace`` (for messages)."""
    return f"namespace {netns}" if netns else "the root namespace"


@contextlib.contextmanager
def ipr(netns: str | None) -> Iterator[IPRoute]:
    """An rtnetlink socket in ``netns`` (None = this process's); never creates a namespace.

    Raises:
        EnvironmentProblem: the namespace does not exist; not root.
    """
    if os.geteuid() != 0:
        raise EnvironmentProblem("attaching eBPF programs needs root: run as root")
    # checked before pyroute2 tries: its failed constructor leaves an event loop whose
    # __del__ prints a traceback at exit (iproute2's NETNS_RUN_DIR holds the named ones)
    if netns and not os.path.exists(os.path.join("/var/run/netns", netns)):
        raise EnvironmentProblem(f"no network namespace {netns}: check `ip netns list`")
    try:
        ip = IPRoute(netns=netns, flags=0) if netns else IPRoute()
    except FileNotFoundError:
        raise EnvironmentProblem(f"no network namespace {netns}: check `ip netns list`"
                                 ) from None
    try:
        yield ip
    finally:
        ip.close()


def ifindex(ip: IPRoute, ifname: str, netns: str | None) -> int:
    """The index of ``ifname`` seen through ``ip`` (an rtnetlink socket in ``netns``).

    Raises:
        EnvironmentProblem: no such interface.
    """
    found = ip.link_lookup(ifname=ifname)
    if not found:
        check = f"ip -n {netns} link" if netns else "ip link"
        raise EnvironmentProblem(f"no interface {ifname} in {where(netns)}: check `{check}`")
    return found[0]


@contextlib.contextmanager
def in_netns(ns: str | None) -> Iterator[None]:
    """Run the body with the calling thread inside namespace ``ns`` (None: stay put); the
    thread's previous namespace is always restored. setns(2) moves only the calling thread,
    and the saved namespace is this thread's own, so threads may use this concurrently.

    Raises:
        EnvironmentProblem: no such namespace (it is never created here).
    """
    if ns is None:
        yield
        return
    if ns not in netns.listnetns():
        raise EnvironmentProblem(f"no network namespace {ns}: check `ip netns list`")
    saved = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        netns.setns(ns, flags=0)
        try:
            yield
        finally:
            netns.setns(saved)
    finally:
        os.close(saved)
