"""Attach and detach programs on interfaces: the runtime's names for what each target owns.

The pyroute2 code lives with its target (:mod:`cora.targets.xdp.attach`,
:mod:`cora.targets.tc.attach`); code that holds a :class:`cora.targets.base.Target` calls
``target.attach(prog_fd, ifname, netns, ...)`` / ``target.detach(attachment)``. The
functions are re-exported here for the runtime's XDP-only paths (``cora deploy``, the
traffic generator) and their tests, with :func:`cora.targets.ebpf.netlink.ipr` (an
rtnetlink socket in a namespace).
"""

from __future__ import annotations

from cora.targets.ebpf.netlink import ipr
from cora.targets.tc.attach import (
    TC_FILTER_HANDLE,
    TC_PARENTS,
    TcAttachment,
    attach_tc,
    detach_tc,
    tc_attached,
    tc_filters,
)
from cora.targets.xdp.attach import (
    MODES,
    XDP_FLAGS_DRV_MODE,
    XDP_FLAGS_SKB_MODE,
    XDP_FLAGS_UPDATE_IF_NOEXIST,
    XdpAttachment,
    attach_xdp,
    attached,
    detach_xdp,
    xdp_attached,
    xdp_attached_mode,
    xdp_mode_flag,
)

__all__ = ["MODES", "ipr", "TC_FILTER_HANDLE", "TC_PARENTS", "XDP_FLAGS_DRV_MODE",
           "XDP_FLAGS_SKB_MODE", "XDP_FLAGS_UPDATE_IF_NOEXIST", "TcAttachment",
           "XdpAttachment", "attach_tc", "attach_xdp", "attached", "detach_tc", "detach_xdp",
           "tc_attached", "tc_filters", "xdp_attached", "xdp_attached_mode", "xdp_mode_flag"]
