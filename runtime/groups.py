"""Multicast groups: the control plane fills a ``group[N]`` state (docs/language.md,
"Multicast") with the ports a ``multicast(g);`` sends to.

A group is a ``BPF_MAP_TYPE_DEVMAP`` of N slots (key: u32 slot index, value: u32 ifindex,
the first field of the kernel's ``struct bpf_devmap_val``). Filling it with ports
``[p0, p1, ...]`` writes slot i = p_i and deletes every other slot, so the kernel's broadcast
loop (``dev_map_enqueue_multi``, slot order) and the interpreter
(:meth:`cora.compiler.interp.Interpreter.set_group`) send to the same ports in the same order.

The kernel resolves each ifindex in the network namespace of the process that writes the
slot (``dev_map_update_elem`` uses ``current->nsproxy->net_ns``), so a group of an NF
deployed in a namespace is written from inside it (:func:`set_group` does).
"""

from __future__ import annotations

from cora.compiler.ir import StateDecl, check_group_ports
from cora.errors import CoraError, EnvironmentProblem, KernelError


def fill_group(fd: int, state: StateDecl, ifindexes: list[int] | tuple[int, ...]) -> None:
    """Write ``ifindexes`` into the devmap ``fd`` of group ``state``: slot i holds the i-th,
    the other slots are emptied. Run it in the namespace of the ports.

    Raises:
        ValueError: ``state`` is not a group, or bad ports (:func:`check_group_ports`).
        KernelError: the kernel refused a port (no interface with that index here).
    """
    from cora.runtime import bpf_syscall
    from cora.targets.ebpf.maps import pack_key, pack_value

    if state.kind != "devmap":
        raise ValueError(f"state {state.name} is a {state.kind}, not a multicast group")
    check_group_ports(state.name, ifindexes, state.capacity)
    for i in range(state.capacity):
        key = pack_key(state, (i,))
        if i < len(ifindexes):
            try:
                bpf_syscall.map_update(fd, key, pack_value(state, (ifindexes[i],)))
            except KernelError as exc:
                raise KernelError(f"group {state.name}: the kernel refused port "
                                  f"{ifindexes[i]} (no interface with that index in this "
                                  f"namespace?): {exc}") from None
        else:
            bpf_syscall.map_delete(fd, key)


def group_ports(fd: int, state: StateDecl) -> list[int]:
    """The ifindexes in group ``state`` (devmap ``fd``), in slot order."""
    from cora.runtime.engine import map_entries

    return [v[0] for _, v in map_entries(fd, state)]


def resolve_ports(ports: list[str], netns: str | None) -> list[int]:
    """Interface names or decimal ifindexes -> ifindexes, names looked up in ``netns``.

    Raises:
        EnvironmentProblem: no such interface or namespace; not root.
    """
    from cora.targets.ebpf.netlink import ifindex, ipr

    out: list[int] = []
    with ipr(netns) as ip:
        for p in ports:
            out.append(int(p) if p.isdigit() else ifindex(ip, p, netns))
    return out


def set_group(dev: str, netns: str | None, group: str, ports: list[str]) -> list[int]:
    """Fill group ``group`` of the NF deployed on ``dev`` (in ``netns``) with ``ports``
    (interface names in ``netns``, or ifindexes), replacing what it held.

    Returns:
        the ifindexes written, in slot order.
    Raises:
        EnvironmentProblem: nothing deployed there, no such interface.
        CoraError: the NF has no group ``group``, or too many / repeated ports.
        KernelError: the kernel refused a port.
    """
    from cora.runtime import pins
    from cora.runtime.deploy import require_deployment
    from cora.targets.ebpf.maps import state_from_metadata
    from cora.targets.ebpf.netlink import in_netns

    meta = require_deployment(dev, netns)
    states = {m["name"]: state_from_metadata(m) for m in meta["layout"]["maps"]}
    groups = sorted(n for n, s in states.items() if s.kind == "devmap")
    state = states.get(group)
    if state is None or state.kind != "devmap":
        raise CoraError(f"the NF on {dev} has no group {group!r} (its groups: "
                        f"{', '.join(groups) or 'none'}; a group no statement uses is not "
                        f"created)")
    ifindexes = resolve_ports(ports, netns)
    try:
        check_group_ports(group, ifindexes, state.capacity)
    except ValueError as exc:
        raise CoraError(str(exc)) from None
    with pins.open_pinned(pins.deployment_dir(dev, netns)) as pinned:
        fd = pinned.maps.get(group)
        if fd is None:
            raise EnvironmentProblem(f"the pin of group {group} on {dev} is missing: "
                                     f"redeploy the NF")
        with in_netns(netns):
            fill_group(fd, state, ifindexes)
    return ifindexes
