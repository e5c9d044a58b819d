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


def deploy(program, dev: str, netns: str | None = None, mode: str = "native") -> dict:
    """Compile for XDP, load, pin, record and attach ``program`` on ``dev``.

    Args:
        program: a verified IR program (from :func:`cora.compiler.driver.compile_file`).
        dev: interface name; netns: named network namespace or None (root).
        mode: "native" or "generic" XDP.
    Returns:
        the deployment's metadata (also written to /run/cora).
    Raises:
        EnvironmentProblem: no root/bcc, no such interface/namespace, already deployed.
        KernelError: load, pin or attach refused.
    """
    from cora.runtime import attach, pins
    from cora.runtime.loader import load_xdp
    from cora.targets.xdp import XdpTarget
    from cora.targets.xdp.layout import maps_metadata

    where = f"{dev} in namespace {netns}" if netns else dev
    existing = attach.xdp_attached(dev, netns)  # also checks that dev and netns exist
    if pins.read_metadata(dev, netns) is not None or existing:
        raise EnvironmentProblem(
            f"{where} already runs an XDP program"
            + (f" (id {existing})" if existing else "")
            + f": run `cora undeploy --dev {dev}{' --netns ' + netns if netns else ''}` first "
            "(its maps and state are kept until then)")
    artifact = XdpTarget().generate(program, count_verdicts=True)
    directory = pins.deployment_dir(dev, netns)
    with load_xdp(artifact) as loaded:
        maps = dict(loaded.map_fds)
        maps[VERDICTS_MAP] = loaded.map_fd(VERDICTS_MAP)
        pins.pin(directory, loaded.prog_fd, maps)
        try:
            meta = {"nf": program.name, "source": program.source, "dev": dev, "netns": netns,
                    "mode": mode, "pins": str(directory), "deployed_unix": time.time(),
                    "layout": maps_metadata(program)}
            pins.write_metadata(dev, netns, meta)
            meta["prog_id"] = attach.attach_xdp(loaded.prog_fd, dev, netns, mode)
            pins.write_metadata(dev, netns, meta)
        except BaseException:
            attach.detach_xdp(dev, netns, prog_id=meta.get("prog_id"))
            pins.remove_metadata(dev, netns)
            pins.unpin_all(directory)
            raise
    return meta


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
        ``{"nf", "dev", "netns", "prog_id", "attached": bool, "verdicts": {name: count},
        "maps": {NAME: [{"key": [...], "value": [...]}, ...]}}`` (map dump rules of
        :mod:`cora.runtime.engine`).
    Raises:
        EnvironmentProblem: nothing deployed there; KernelError: pins unreadable.
    """
    from cora.runtime import attach, bpf_syscall, pins
    from cora.runtime.engine import dump_from_entries, sum_percpu
    from cora.targets.xdp.layout import (key_size, state_from_metadata, unpack_key,
                                         unpack_value, value_size)

    meta = _require(dev, netns)
    states = [state_from_metadata(m) for m in meta["layout"]["maps"]]
    entries = {}
    with pins.open_pinned(pins.deployment_dir(dev, netns)) as pinned:
        counts = bpf_syscall.map_items(pinned.maps[VERDICTS_MAP], 4, 8, percpu=True)
        verdicts = {name: 0 for name in XDP_VERDICT_NAMES}
        for k, per_cpu in counts:
            idx = int.from_bytes(k, "little")
            if idx < len(XDP_VERDICT_NAMES):
                verdicts[XDP_VERDICT_NAMES[idx]] = sum(int.from_bytes(v, "little") for v in per_cpu)
        for s in states:
            percpu = s.kind == "percpu_array"
            rows = []
            for k, v in bpf_syscall.map_items(pinned.maps[s.name], key_size(s), value_size(s),
                                              percpu):
                value = sum_percpu(s, v) if percpu else unpack_value(s, v)
                if s.kind in ("array", "percpu_array") and not any(value):
                    continue
                rows.append((unpack_key(s, k), value))
            entries[s.name] = rows

    class _P:  # the subset of ir.Program that dump_from_entries reads
        pass
    prog = _P()
    prog.states = states
    try:
        attached_id = attach.xdp_attached(dev, netns)
    except EnvironmentProblem:
        attached_id = None
    return {"nf": meta["nf"], "dev": dev, "netns": netns, "prog_id": meta.get("prog_id"),
            "attached": attached_id is not None and attached_id == meta.get("prog_id"),
            "verdicts": verdicts, **dump_from_entries(prog, entries)}


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
    return {"detached": detached, "unpinned": removed}


def require_root() -> None:
    """Raise EnvironmentProblem unless running as root."""
    if os.geteuid() != 0:
        raise EnvironmentProblem("this needs root (it attaches eBPF programs): run as root")
