"""Code-generation targets (one per eBPF program flavour), by name (see
:mod:`cora.targets.base` for the interface)."""

from __future__ import annotations

from cora.targets.base import Artifact, Attachment, Target


def _targets() -> dict[str, type[Target]]:
    from cora.targets.tc import TcTarget
    from cora.targets.xdp import XdpTarget

    return {t.name: t for t in (XdpTarget, TcTarget)}


def target_names() -> list[str]:
    """Names of every target, sorted (``["tc", "xdp"]``)."""
    return sorted(_targets())


def get_target(name: str) -> Target:
    """The target called ``name``; raises :class:`cora.errors.CoraError` for unknown names."""
    from cora.errors import CoraError

    targets = _targets()
    if name not in targets:
        raise CoraError(f"unknown target {name!r}; available: {', '.join(sorted(targets))}")
    return targets[name]()


__all__ = ["Artifact", "Attachment", "Target", "get_target", "target_names"]
