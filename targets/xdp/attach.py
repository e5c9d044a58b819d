"""Attach and detach XDP programs on interfaces, optionally inside a named netns.

Uses pyroute2's rtnetlink with a nested ``IFLA_XDP`` attribute (fd + ``XDP_FLAGS_*``) through
a socket opened inside the namespace (:mod:`cora.targets.ebpf.netlink`). Constants from the
kernel UAPI header ``include/uapi/linux/if_link.h`` (``XDP_FLAGS_*``, ``IFLA_XDP_*``).
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass

from pyroute2 import IPRoute

from cora.errors import EnvironmentProblem, KernelError
from cora.targets.base import Attachment
from cora.targets.ebpf.netlink import ifindex as _ifindex
from cora.targets.ebpf.netlink import ipr as _ipr
from cora.targets.ebpf.netlink import where as _where

XDP_FLAGS_UPDATE_IF_NOEXIST = 1
XDP_FLAGS_SKB_MODE = 2
XDP_FLAGS_DRV_MODE = 4
#: attach modes: native = the driver's XDP hook (XDP_FLAGS_DRV_MODE, veth has one),
#: generic = the kernel's skb-based XDP (XDP_FLAGS_SKB_MODE, any interface, slower)
MODES = {"native": XDP_FLAGS_DRV_MODE, "generic": XDP_FLAGS_SKB_MODE}


def _xdp_nla(prog_fd: int, flags: int) -> dict[str, list[tuple[str, int]]]:
    """The nested IFLA_XDP attribute: program fd (-1 detaches) and XDP_FLAGS_*."""
    return {"attrs": [("IFLA_XDP_FD", prog_fd), ("IFLA_XDP_FLAGS", flags)]}


def _xdp_attrs(ip: IPRoute, index: int) -> dict:
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


def xdp_mode_flag(attached: str | int | None) -> int:
    """The XDP_FLAGS_* mode bit for an ``IFLA_XDP_ATTACHED`` value (name or number)."""
    return {"xdpgeneric": XDP_FLAGS_SKB_MODE, 2: XDP_FLAGS_SKB_MODE}.get(
        attached, XDP_FLAGS_DRV_MODE)


@dataclass(frozen=True)
class XdpAttachment(Attachment):
    """One XDP program cora attached (what :meth:`XdpTarget.detach
    <cora.targets.xdp.XdpTarget.detach>` removes).

    Attributes:
        ifname, netns: where (netns None = the root namespace).
        mode: ``"native"`` or ``"generic"``.
        prog_id: the attached program's id (detach removes only this program).
    """

    mode: str
    prog_id: int


@contextlib.contextmanager
def attached(prog_fd: int, ifname: str, netns: str | None = None, mode: str = "native"
             ) -> Iterator[int]:
    """Context manager: attach (see :func:`attach_xdp`), yield the program id, always detach."""
    prog_id = attach_xdp(prog_fd, ifname, netns, mode)
    try:
        yield prog_id
    finally:
        detach_xdp(ifname, netns, prog_id=prog_id)
