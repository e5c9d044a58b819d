"""Code-generation targets, by name (see :mod:`cora.targets.base` for the interface)."""

from __future__ import annotations

from cora.targets.base import Artifact, Target


def target_names() -> list[str]:
    """Names of every target, sorted (``["tc", "xdp"]``)."""
    from cora.targets.tc import TcTarget
    from cora.targets.xdp import XdpTarget

    return sorted(t.name for t in (XdpTarget, TcTarget))


def get_target(name: str) -> Target:
    """The target called ``name``; raises :class:`cora.errors.CoraError` for unknown names."""
    from cora.errors import CoraError
    from cora.targets.tc import TcTarget
    from cora.targets.xdp import XdpTarget

    targets = {"xdp": XdpTarget, "tc": TcTarget}
    if name not in targets:
        raise CoraError(f"unknown target {name!r}; available: {', '.join(sorted(targets))}")
    return targets[name]()


__all__ = ["Artifact", "Target", "get_target", "target_names"]
