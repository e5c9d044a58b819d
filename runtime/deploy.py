"""Deploy an NF on an interface, read its live state, and take it down again.

A deployment is: the XDP program attached to the interface, the program and every map pinned
under ``/sys/fs/bpf/cora/<netns|root>/<ifname>/`` (so they outlive the ``cora`` process), and
a metadata file ``/run/cora/<netns|root>/<ifname>.json`` describing the map layouts (see
:mod:`cora.runtime.pins`). ``cora stats`` reads the pinned maps; ``cora undeploy`` detaches
and unpins. Nothing is half-done: a failing step undoes the steps before it, and an existing
deployment (with the state in its maps) is never replaced by a new ``deploy``.
"""

from __future__ import annotations

import os
import time

from cora.errors import EnvironmentProblem

VERDICTS_MAP = "cora_verdicts"
XDP_VERDICT_NAMES = ("aborted", "drop", "pass", "tx", "redirect")


def deploy(program, dev: str, netns: str | None = None, mode: str = "native",
           pass_redirect_ifindex: int | None = None, extra: dict | None = None,
           stats: bool = True) -> dict:
    """Compile for XDP, load, pin, record and attach ``program`` on ``dev``.

    Args:
        program: a verified IR program (from :func:`cora.compiler.driver.compile_file`).
        dev: interface name; netns: named network namespace or None (root).
        mode: "native" or "generic" XDP.
        pass_redirect_ifindex: turn ``pass`` into a redirect to this ifindex (an emulated
            NIC stage handing frames to the host; see :func:`deploy_stages`).
        extra: more keys for the metadata (e.g. the stage and its peer deployment).
        stats: keep per-CPU verdict counters (``cora_verdicts``, read by :func:`read_stats`);
            False (``cora deploy --no-stats``) leaves them out of the program.
    Returns:
        the deployment's metadata (also written to /run/cora).
    Raises:
        EnvironmentProblem: no root/bcc, no such interface/namespace, already deployed.
        KernelError: load, pin or attach refused.
    """
    from cora.runtime import attach, pins
    from cora.runtime.loader import load_xdp
    from cora.targets.xdp import XdpTarget
    from cora.targets.ebpf.maps import maps_metadata

    where = f"{dev} in namespace {netns}" if netns else dev
    existing = attach.xdp_attached(dev, netns)  # also checks that dev and netns exist
    if pins.read_metadata(dev, netns) is not None or existing:
        raise EnvironmentProblem(
            f"{where} already runs an XDP program"
            + (f" (id {existing})" if existing else "")
            + f": run `cora undeploy --dev {dev}{' --netns ' + netns if netns else ''}` first "
            "(its maps and state are kept until then)")
    artifact = XdpTarget().generate(program, count_verdicts=stats,
                                    pass_redirect_ifindex=pass_redirect_ifindex)
    directory = pins.deployment_dir(dev, netns)
    with load_xdp(artifact) as loaded:
        maps = dict(loaded.map_fds)
        if stats:
            maps[VERDICTS_MAP] = loaded.map_fd(VERDICTS_MAP)
        pins.pin(directory, loaded.prog_fd, maps)
        prog_id = None
        try:
            meta = {"nf": program.name, "source": program.source, "dev": dev, "netns": netns,
                    "mode": mode, "pins": str(directory), "deployed_unix": time.time(),
                    "stats": stats,
                    "layout": maps_metadata(program), **(extra or {})}
            _write_metadata(dev, netns, meta)
            prog_id = meta["prog_id"] = attach.attach_xdp(loaded.prog_fd, dev, netns, mode)
            _write_metadata(dev, netns, meta)
        except BaseException:
            # undo every step, each even if an earlier undo fails
            try:
                if prog_id is not None:
                    attach.detach_xdp(dev, netns, prog_id=prog_id)
            finally:
                try:
                    pins.remove_metadata(dev, netns)
                finally:
                    pins.unpin_all(directory)
            raise
    return meta


def _write_metadata(dev: str, netns: str | None, meta: dict) -> None:
    """Write deployment metadata; an OS failure becomes one clear line."""
    from cora.runtime import pins

    try:
        pins.write_metadata(dev, netns, meta)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot write deployment metadata under /run/cora: "
                                 f"{exc.strerror or exc}") from None


def _require(dev: str, netns: str | None) -> dict:
    from cora.runtime import pins

    meta = pins.read_metadata(dev, netns)
    if meta is None:
        where = f"{dev} in namespace {netns}" if netns else dev
        raise EnvironmentProblem(f"nothing is deployed on {where} by cora "
                                 f"(`cora deploy X.nf --dev {dev}` first)")
    return meta


def read_stats(dev: str, netns: str | None = None) -> dict:
    """Live verdict counters and map contents of a deployment.

    Returns:
        ``{"nf", "dev", "netns", "prog_id", "attached": bool, "verdicts": {name: count}
        (None when deployed without counters),
        "maps": {NAME: [{"key": [...], "value": [...]}, ...]}}`` (map dump rules of
        :mod:`cora.runtime.engine`).
    Raises:
        EnvironmentProblem: nothing deployed there; KernelError: pins unreadable.
    """
    from cora.runtime import attach, bpf_syscall, pins
    from cora.runtime.engine import dump_from_entries, map_entries
    from cora.targets.ebpf.maps import state_from_metadata

    meta = _require(dev, netns)
    states = [state_from_metadata(m) for m in meta["layout"]["maps"]]
    with pins.open_pinned(pins.deployment_dir(dev, netns)) as pinned:
        verdicts: dict[str, int] | None = None
        if VERDICTS_MAP in pinned.maps:
            counts = bpf_syscall.map_items(pinned.maps[VERDICTS_MAP], 4, 8, percpu=True)
            verdicts = {name: 0 for name in XDP_VERDICT_NAMES}
            for k, per_cpu in counts:
                idx = int.from_bytes(k, "little")
                if idx < len(XDP_VERDICT_NAMES):
                    verdicts[XDP_VERDICT_NAMES[idx]] = sum(int.from_bytes(v, "little")
                                                           for v in per_cpu)
        entries = {s.name: map_entries(pinned.maps[s.name], s) for s in states}
    try:
        attached_id = attach.xdp_attached(dev, netns)
    except EnvironmentProblem:
        attached_id = None
    return {"nf": meta["nf"], "dev": dev, "netns": netns, "prog_id": meta.get("prog_id"),
            "attached": attached_id is not None and attached_id == meta.get("prog_id"),
            "verdicts": verdicts, **dump_from_entries(states, entries)}


def undeploy(dev: str, netns: str | None = None) -> dict:
    """Detach cora's program from ``dev`` and remove its pins and metadata.

    Tolerates partial state (interface gone, pins half removed). Never detaches a program
    that is not the one cora attached.

    Returns:
        ``{"detached": bool, "unpinned": [paths]}``.
    Raises:
        EnvironmentProblem: nothing deployed there by cora.
    """
    from cora.runtime import attach, pins

    meta = _require(dev, netns)
    detached = attach.detach_xdp(dev, netns, missing_ok=True, prog_id=meta.get("prog_id"))
    removed = pins.unpin_all(pins.deployment_dir(dev, netns))
    pins.remove_metadata(dev, netns)
    out = {"detached": detached, "unpinned": removed}
    peer = meta.get("nic_stage")  # a split deployment: take the NIC stage down too
    if peer and pins.read_metadata(peer["dev"], peer.get("netns")) is not None:
        sub = undeploy(peer["dev"], peer.get("netns"))
        out["nic"] = sub
        out["unpinned"] = removed + sub["unpinned"]
    return out


def require_root() -> None:
    """Raise EnvironmentProblem unless running as root."""
    if os.geteuid() != 0:
        raise EnvironmentProblem("this needs root (it attaches eBPF programs): run as root")


def _nic_forward_ifindex(nic_dev: str, nic_netns: str | None, nic_forward: str | None) -> int:
    """ifindex (in the NIC namespace) of the interface toward the host: ``nic_forward``, or
    the only other non-loopback interface of that namespace."""
    from cora.runtime.attach import ipr

    with ipr(nic_netns) as ip:
        links = {l.get_attr("IFLA_IFNAME"): l["index"] for l in ip.get_links()}
    where = f"namespace {nic_netns}" if nic_netns else "the root namespace"
    if nic_forward is not None:
        if nic_forward not in links:
            raise EnvironmentProblem(f"no interface {nic_forward} in {where}")
        return links[nic_forward]
    others = [n for n in links if n not in ("lo", nic_dev)]
    if len(others) != 1:
        raise EnvironmentProblem(f"{where} has {len(others)} interfaces besides {nic_dev}: "
                                 "name the one toward the host with --nic-forward IF")
    return links[others[0]]


def passthrough_program(name: str):
    """A one-block IR program that passes every frame (the NIC side when the plan puts
    nothing on the NIC, the host side when it puts nothing on the host)."""
    from cora.compiler.ir import Block, Op, Program

    return Program(name, blocks=[Block("bb0", [Op("ret", None, (), {"verdict": "pass"})])])


def deploy_stages(program, plan, dev: str, netns: str | None, nic_dev: str,
                  nic_netns: str | None, nic_forward: str | None = None,
                  mode: str = "native") -> dict:
    """Deploy a split NF: the NIC stage (emulated: an XDP program) on ``nic_dev`` whose
    ``pass`` (with the shim) is redirected (``bpf_redirect``) to the NIC namespace's
    interface toward the host, and the host kernel stage on ``dev``.

    The veth toward the host delivers redirected frames to its peer only while that peer
    runs an XDP program, so both sides always get a program: a stage, or a pass-through
    when the plan leaves that side empty. Each side is a normal deployment (pins and
    metadata); the host side's metadata names the NIC side (``nic_stage``), so
    :func:`undeploy` of the host device takes both down.

    Args:
        program: the whole NF; plan: a plan (see :func:`cora.compiler.offload.split.split`).
        dev, netns: the host interface; nic_dev, nic_netns: the NIC's ingress interface.
        nic_forward: the NIC namespace's interface toward the host (default: the only
            other interface there).
    Returns:
        ``{"nic": metadata, "host": metadata, "stages": [stage names]}``.
    Raises:
        SplitError: the plan does not fit; CoraError: the plan has a user-space stage (not
        deployable yet); EnvironmentProblem / KernelError as :func:`deploy`.
    """
    from cora.compiler.offload.split import split
    from cora.errors import CoraError

    result = split(program, plan)
    by_stage = {st.stage: st for st in result.stages}
    if "user" in by_stage:
        raise CoraError("the plan puts blocks in user space; deploying a user-space (AF_XDP) "
                        "stage is not supported yet: plan without --cores limits that force "
                        "user space, or run the stages with cora.runtime.stages")
    fwd = _nic_forward_ifindex(nic_dev, nic_netns, nic_forward)
    nic_prog = by_stage["nic"].program if "nic" in by_stage else \
        passthrough_program(f"{program.name}_nic_fwd")
    host_prog = by_stage["kernel"].program if "kernel" in by_stage else \
        passthrough_program(f"{program.name}_host_rx")
    nic_meta = deploy(nic_prog, nic_dev, nic_netns, mode, pass_redirect_ifindex=fwd,
                      extra={"stage": "nic", "emulated": True, "forward_ifindex": fwd})
    try:
        host_meta = deploy(host_prog, dev, netns, mode, extra={
            "stage": "kernel", "nic_stage": {"dev": nic_dev, "netns": nic_netns},
            "shim": result.layout_json(program.name)})
    except BaseException:
        undeploy(nic_dev, nic_netns)
        raise
    return {"nic": nic_meta, "host": host_meta, "stages": [st.stage for st in result.stages]}
