"""Attach and detach XDP programs (and tc cls_bpf programs) on interfaces, optionally inside
a named netns.

tc: :func:`attach_tc` adds the ``clsact`` qdisc (if missing) and a ``bpf`` filter in
direct-action mode on its ingress (or egress) hook through pyroute2's ``tc`` requests;
:func:`detach_tc` removes exactly that filter (and the qdisc if it added it).

Uses pyroute2's rtnetlink with a nested ``IFLA_XDP`` attribute (fd + ``XDP_FLAGS_*``)
with a netlink socket opened inside the namespace; the program fd is resolved by the kernel
in this process, so no thread ever has to switch namespaces. Constants from the kernel
UAPI header ``include/uapi/linux/if_link.h`` (``XDP_FLAGS_*``, ``IFLA_XDP_*``).
"""

from __future__ import annotations

import contextlib
import errno
import os
from dataclasses import dataclass
from typing import Iterator

from cora.errors import EnvironmentProblem, KernelError

XDP_FLAGS_UPDATE_IF_NOEXIST = 1
XDP_FLAGS_SKB_MODE = 2
XDP_FLAGS_DRV_MODE = 4
#: attach modes: native = the driver's XDP hook (XDP_FLAGS_DRV_MODE, veth has one),
#: generic = the kernel's skb-based XDP (XDP_FLAGS_SKB_MODE, any interface, slower)
MODES = {"native": XDP_FLAGS_DRV_MODE, "generic": XDP_FLAGS_SKB_MODE}


def _where(netns: str | None) -> str:
    return f"namespace {netns}" if netns else "the root namespace"


@contextlib.contextmanager
def _ipr(netns: str | None) -> Iterator:
    """An rtnetlink socket in ``netns`` (None = this process's); never creates a namespace.

    Raises:
        EnvironmentProblem: the namespace does not exist; not root.
    """
    from pyroute2 import IPRoute
    if os.geteuid() != 0:
        raise EnvironmentProblem("attaching XDP programs needs root: run as root")
    try:
        ip = IPRoute(netns=netns, flags=0) if netns else IPRoute()
    except FileNotFoundError:
        raise EnvironmentProblem(f"no network namespace {netns}: check `ip netns list`"
                                 ) from None
    try:
        yield ip
    finally:
        ip.close()


def _ifindex(ip, ifname: str, netns: str | None) -> int:
    found = ip.link_lookup(ifname=ifname)
    if not found:
        check = f"ip -n {netns} link" if netns else "ip link"
        raise EnvironmentProblem(f"no interface {ifname} in {_where(netns)}: check `{check}`")
    return found[0]


def _xdp_nla(prog_fd: int, flags: int) -> dict:
    """The nested IFLA_XDP attribute: program fd (-1 detaches) and XDP_FLAGS_*."""
    return {"attrs": [("IFLA_XDP_FD", prog_fd), ("IFLA_XDP_FLAGS", flags)]}


def _xdp_attrs(ip, index: int) -> dict:
    xdp = ip.get_links(index)[0].get_attr("IFLA_XDP")
    return dict(xdp["attrs"]) if xdp else {}


def attach_xdp(prog_fd: int, ifname: str, netns: str | None = None, mode: str = "native",
               replace: bool = False) -> int:
    """Attach the XDP program ``prog_fd`` to ``ifname`` (in ``netns``, None = root).

    Args:
        prog_fd: fd of a loaded XDP program (stays valid in this process).
        ifname: interface name in that namespace.
        netns: named network namespace (``ip netns`` name) or None.
        mode: ``"native"`` (driver hook) or ``"generic"`` (skb mode).
        replace: replace a program already attached; False refuses with a clear error.

    Returns:
        the attached program's id.

    Raises:
        EnvironmentProblem: no such namespace or interface, not root, unknown mode.
        KernelError: the kernel refused (a program is attached already, mode unsupported,
            the program fails the device's checks), with the kernel's reason.
    """
    if mode not in MODES:
        raise EnvironmentProblem(f"unknown XDP mode {mode!r}: use native or generic")
    from pyroute2.netlink.exceptions import NetlinkError
    flags = MODES[mode] | (0 if replace else XDP_FLAGS_UPDATE_IF_NOEXIST)
    with _ipr(netns) as ip:
        index = _ifindex(ip, ifname, netns)
        try:
            ip.link("set", index=index, xdp=_xdp_nla(prog_fd, flags))
        except NetlinkError as exc:
            hint = {errno.EBUSY: "a program is attached already: run `cora undeploy` or "
                                 "detach it first",
                    errno.EEXIST: "a program is attached already: run `cora undeploy` or "
                                  "detach it first",
                    errno.EOPNOTSUPP: "this interface has no native XDP: try mode generic",
                    errno.EBADF: "the program fd is not open"}.get(exc.code, "")
            raise KernelError(f"cannot attach XDP program to {ifname} in {_where(netns)} "
                              f"({mode}): {os.strerror(exc.code)}"
                              + (f"; {hint}" if hint else "")) from None
        attrs = _xdp_attrs(ip, index)
    prog_id = attrs.get("IFLA_XDP_PROG_ID")
    if not prog_id:
        raise KernelError(f"XDP attach to {ifname} in {_where(netns)} reported success but "
                          "no program is attached")
    return prog_id


def xdp_attached(ifname: str, netns: str | None = None) -> int | None:
    """Id of the XDP program attached to ``ifname`` (any mode), or None.

    Raises:
        EnvironmentProblem: no such namespace or interface.
    """
    with _ipr(netns) as ip:
        attrs = _xdp_attrs(ip, _ifindex(ip, ifname, netns))
    return attrs.get("IFLA_XDP_PROG_ID") or None


def xdp_attached_mode(ifname: str, netns: str | None = None) -> str | None:
    """``"native"``, ``"generic"``, ``"hw"`` or ``"multi"`` for what is attached, or None."""
    with _ipr(netns) as ip:
        attrs = _xdp_attrs(ip, _ifindex(ip, ifname, netns))
    mode = attrs.get("IFLA_XDP_ATTACHED")
    return {"xdp": "native", "xdpgeneric": "generic", "xdpoffload": "hw",
            "xdpmulti": "multi", 1: "native", 2: "generic", 3: "hw", 4: "multi"}.get(mode)


def detach_xdp(ifname: str, netns: str | None = None, missing_ok: bool = True,
               prog_id: int | None = None) -> bool:
    """Detach the XDP program attached to ``ifname``, in whichever mode.

    Args:
        prog_id: detach only if this program is the one attached (so a teardown never
            removes someone else's program); None detaches whatever is there.
        missing_ok: with True (default) a vanished interface or namespace is not an error
            (teardown paths), and False is returned.

    Returns:
        True if a program was detached, False if none (or another one) was attached.

    Raises:
        EnvironmentProblem: no such namespace or interface (only when not ``missing_ok``).
        KernelError: the kernel refused the detach.
    """
    from pyroute2.netlink.exceptions import NetlinkError
    try:
        with _ipr(netns) as ip:
            index = _ifindex(ip, ifname, netns)
            attrs = _xdp_attrs(ip, index)
            if not attrs.get("IFLA_XDP_PROG_ID"):
                return False
            if prog_id is not None and prog_id not in (
                    attrs.get("IFLA_XDP_PROG_ID"), attrs.get("IFLA_XDP_DRV_PROG_ID"),
                    attrs.get("IFLA_XDP_SKB_PROG_ID")):
                return False
            modes = []
            if attrs.get("IFLA_XDP_DRV_PROG_ID"):
                modes.append(XDP_FLAGS_DRV_MODE)
            if attrs.get("IFLA_XDP_SKB_PROG_ID"):
                modes.append(XDP_FLAGS_SKB_MODE)
            if not modes:  # single-mode report: IFLA_XDP_ATTACHED says which
                mode = xdp_mode_flag(attrs.get("IFLA_XDP_ATTACHED"))
                modes.append(mode)
            for flags in modes:
                try:
                    ip.link("set", index=index, xdp=_xdp_nla(-1, flags))
                except NetlinkError as exc:
                    raise KernelError(f"cannot detach XDP from {ifname} in "
                                      f"{_where(netns)}: {os.strerror(exc.code)}") from None
            return True
    except EnvironmentProblem:
        if missing_ok:
            return False
        raise


def xdp_mode_flag(attached) -> int:
    """The XDP_FLAGS_* mode bit for an ``IFLA_XDP_ATTACHED`` value (name or number)."""
    return {"xdpgeneric": XDP_FLAGS_SKB_MODE, 2: XDP_FLAGS_SKB_MODE}.get(
        attached, XDP_FLAGS_DRV_MODE)


@contextlib.contextmanager
def attached(prog_fd: int, ifname: str, netns: str | None = None, mode: str = "native"
             ) -> Iterator[int]:
    """Context manager: attach (see :func:`attach_xdp`), yield the program id, always detach."""
    prog_id = attach_xdp(prog_fd, ifname, netns, mode)
    try:
        yield prog_id
    finally:
        detach_xdp(ifname, netns, prog_id=prog_id)


# ------------------------------------------------------------------------------------ tc
#: clsact qdisc handle and its ingress/egress filter parents (include/uapi/linux/pkt_sched.h:
#: TC_H_CLSACT = TC_H_INGRESS = 0xffff:fff1, TC_H_MIN_INGRESS 0xfff2, TC_H_MIN_EGRESS 0xfff3)
TC_PARENTS = {"ingress": 0xFFFFFFF2, "egress": 0xFFFFFFF3}
#: handle of cora's cls_bpf filter within its priority
TC_FILTER_HANDLE = 1


@dataclass(frozen=True)
class TcAttachment:
    """One cls_bpf filter cora attached (what :func:`detach_tc` removes).

    Attributes:
        ifname, netns: where (netns None = the root namespace).
        direction: ``"ingress"`` or ``"egress"``.
        prio: the filter's priority (its handle is :data:`TC_FILTER_HANDLE`).
        name: the filter's name (``TCA_BPF_NAME``).
        created_clsact: this attach added the clsact qdisc (detach then removes it too).
    """

    ifname: str
    netns: str | None
    direction: str
    prio: int
    name: str
    created_clsact: bool


def _has_clsact(ip, index: int) -> bool:
    return any(q.get_attr("TCA_KIND") == "clsact" for q in ip.get_qdiscs(index=index))


def tc_filters(ifname: str, netns: str | None = None, direction: str = "ingress"
               ) -> list[tuple[int, str]]:
    """(priority, name) of every cls_bpf filter on ``ifname``'s clsact hook ``direction``
    ([] when there is no clsact qdisc).

    Raises:
        EnvironmentProblem: no such namespace or interface; unknown direction.
    """
    if direction not in TC_PARENTS:
        raise EnvironmentProblem(f"unknown tc direction {direction!r}: use ingress or egress")
    with _ipr(netns) as ip:
        index = _ifindex(ip, ifname, netns)
        if not _has_clsact(ip, index):
            return []
        out = []
        for f in ip.get_filters(index=index, parent=TC_PARENTS[direction]):
            if f.get_attr("TCA_KIND") != "bpf":
                continue
            opts = f.get_attr("TCA_OPTIONS")
            name = opts.get_attr("TCA_BPF_NAME") if opts else None
            if name is not None:  # the per-priority chain head carries no options
                out.append(((f["info"] >> 16) & 0xFFFF, name))
        return out


def attach_tc(prog_fd: int, ifname: str, netns: str | None = None,
              direction: str = "ingress", prio: int = 1, name: str = "cora") -> TcAttachment:
    """Attach the sched_cls program ``prog_fd`` to ``ifname`` as a cls_bpf filter in
    direct-action mode (the program's return value is the TC action), adding the clsact
    qdisc when the interface has none. Everything added so far is removed again if a later
    step fails.

    Args:
        prog_fd: fd of a loaded BPF_PROG_TYPE_SCHED_CLS program
            (:func:`cora.runtime.loader.load_tc`).
        ifname: interface name in ``netns``.
        netns: named network namespace or None (root).
        direction: ``"ingress"`` (default) or ``"egress"``.
        prio: filter priority (1..65535); one that is taken already is refused.
        name: the filter's name as ``tc filter show`` prints it.

    Returns:
        a :class:`TcAttachment` to pass to :func:`detach_tc`.

    Raises:
        EnvironmentProblem: no such namespace or interface, not root, bad direction/prio.
        KernelError: the kernel refused (priority taken, not a sched_cls program), with its
            reason.
    """
    from pyroute2.netlink.exceptions import NetlinkError
    if direction not in TC_PARENTS:
        raise EnvironmentProblem(f"unknown tc direction {direction!r}: use ingress or egress")
    if not 1 <= prio <= 0xFFFF:
        raise EnvironmentProblem(f"tc filter priority {prio} out of range 1..65535")
    if any(p == prio for p, _ in tc_filters(ifname, netns, direction)):
        raise KernelError(f"a tc {direction} filter with priority {prio} is attached to "
                          f"{ifname} in {_where(netns)} already: detach it or pick another")
    with _ipr(netns) as ip:
        index = _ifindex(ip, ifname, netns)
        created = False
        try:
            if not _has_clsact(ip, index):
                ip.tc("add", "clsact", index)
                created = True
            ip.tc("add-filter", "bpf", index, TC_FILTER_HANDLE, fd=prog_fd, name=name,
                  parent=TC_PARENTS[direction], prio=prio, classid=1, direct_action=True)
        except NetlinkError as exc:
            if created:
                with contextlib.suppress(NetlinkError):
                    ip.tc("del", "clsact", index)
            raise KernelError(f"cannot attach tc program to {ifname} {direction} in "
                              f"{_where(netns)}: {os.strerror(exc.code)}") from None
    return TcAttachment(ifname, netns, direction, prio, name, created)


def detach_tc(att: TcAttachment, missing_ok: bool = True) -> bool:
    """Remove the filter ``att`` describes (only if it is still cora's: same priority and
    name), and the clsact qdisc if that attach created it and no other filter is left.

    Args:
        att: what :func:`attach_tc` returned.
        missing_ok: a vanished interface or namespace is not an error (teardown paths).

    Returns:
        True if the filter was removed, False if it was not there.

    Raises:
        EnvironmentProblem: no such namespace or interface (only when not ``missing_ok``).
        KernelError: the kernel refused the removal.
    """
    from pyroute2.netlink.exceptions import NetlinkError
    try:
        present = (att.prio, att.name) in tc_filters(att.ifname, att.netns, att.direction)
        with _ipr(att.netns) as ip:
            index = _ifindex(ip, att.ifname, att.netns)
            try:
                if present:
                    ip.tc("del-filter", "bpf", index, TC_FILTER_HANDLE,
                          parent=TC_PARENTS[att.direction], prio=att.prio)
                if att.created_clsact and _has_clsact(ip, index):
                    others = [f for d in TC_PARENTS
                              for f in ip.get_filters(index=index, parent=TC_PARENTS[d])]
                    if not others:
                        ip.tc("del", "clsact", index)
            except NetlinkError as exc:
                raise KernelError(f"cannot detach tc program from {att.ifname} in "
                                  f"{_where(att.netns)}: {os.strerror(exc.code)}") from None
        return present
    except EnvironmentProblem:
        if missing_ok:
            return False
        raise


@contextlib.contextmanager
def tc_attached(prog_fd: int, ifname: str, netns: str | None = None,
                direction: str = "ingress", prio: int = 1) -> Iterator[TcAttachment]:
    """Context manager: :func:`attach_tc`, yield the attachment, always :func:`detach_tc`."""
    att = attach_tc(prog_fd, ifname, netns, direction, prio)
    try:
        yield att
    finally:
        detach_tc(att)
