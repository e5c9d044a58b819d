"""Attach and detach tc cls_bpf programs on interfaces, optionally inside a named netns.

:func:`attach_tc` adds the ``clsact`` qdisc (if missing) and a ``bpf`` filter in
direct-action mode on its ingress (or egress) hook through pyroute2's ``tc`` requests
(socket per namespace: :mod:`cora.targets.ebpf.netlink`); :func:`detach_tc` removes exactly
that filter (and the qdisc if it added it).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

from pyroute2 import IPRoute

from cora.errors import EnvironmentProblem, KernelError
from cora.targets.base import Attachment
from cora.targets.ebpf.netlink import ifindex as _ifindex
from cora.targets.ebpf.netlink import ipr as _ipr
from cora.targets.ebpf.netlink import where as _where

#: clsact qdisc handle and its ingress/egress filter parents (include/uapi/linux/pkt_sched.h:
#: TC_H_CLSACT = TC_H_INGRESS = 0xffff:fff1, TC_H_MIN_INGRESS 0xfff2, TC_H_MIN_EGRESS 0xfff3)
TC_PARENTS = {"ingress": 0xFFFFFFF2, "egress": 0xFFFFFFF3}
#: handle of cora's cls_bpf filter within its priority
TC_FILTER_HANDLE = 1


@dataclass(frozen=True)
class TcAttachment(Attachment):
    """One cls_bpf filter cora attached (what :func:`detach_tc` removes).

    Attributes:
        ifname, netns: where (netns None = the root namespace).
        direction: ``"ingress"`` or ``"egress"``.
        prio: the filter's priority (its handle is :data:`TC_FILTER_HANDLE`).
        name: the filter's name (``TCA_BPF_NAME``).
        created_clsact: this attach added the clsact qdisc (detach then removes it too).
    """

    direction: str
    prio: int
    name: str
    created_clsact: bool


def _has_clsact(ip: IPRoute, index: int) -> bool:
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
            (:func:`cora.runtime.loader.load_program` of a tc artifact).
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
