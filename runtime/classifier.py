"""Control plane of a deployed traffic split: the NIC stage's flow classifier maps.

A plan with a traffic split (:class:`cora.compiler.offload.traffic.TrafficSplit`) is deployed
like any split plan (:func:`cora.runtime.deploy.deploy_stages`); its NIC stage starts with
the flow classifier of :func:`cora.compiler.offload.split.split`, whose two maps are pinned
with the NIC deployment:

- ``cora_nic_buckets`` (array, ``n_buckets`` slots, u8): 1 = flows of the bucket take the NIC
  path;
- ``cora_heavy_flows`` (hash, classifier key -> u8 1): heavy flows that take the NIC path
  whatever their bucket (capacity: the plan's heavy-key table).

The maps start with the plan's sets (state ``init``). :func:`set_traffic_split` rewrites them
(a re-plan); :func:`read_traffic_split` reads them back. Moving a flow between paths does not
move its entries between the NIC map and its host copy: change the sets while the moved flows
are idle, or migrate their entries (not done here).
"""

from __future__ import annotations

from cora.compiler.ir import StateDecl
from cora.compiler.offload.split import BUCKETS_STATE, HEAVY_STATE
from cora.compiler.offload.traffic import TrafficSplit
from cora.errors import CoraError, EnvironmentProblem


def _classifier_maps(meta: dict) -> tuple[StateDecl, StateDecl]:
    """(bucket array, heavy-key map) declarations of a NIC deployment's metadata."""
    from cora.targets.ebpf.maps import state_from_metadata

    found: dict[str, StateDecl] = {}
    for entry in meta.get("layout", {}).get("maps", []):
        if entry.get("origin") != "classifier":
            continue
        st = state_from_metadata(entry)
        if st.name.startswith(BUCKETS_STATE):
            found["buckets"] = st
        elif st.name.startswith(HEAVY_STATE):
            found["heavy"] = st
    if len(found) != 2:
        raise EnvironmentProblem(f"{meta.get('dev')}: the deployed NIC stage has no flow "
                                 "classifier (deploy a plan with a traffic split)")
    return found["buckets"], found["heavy"]


def _nic_meta(nic_dev: str, nic_netns: str | None) -> dict:
    from cora.runtime import pins

    meta = pins.read_metadata(nic_dev, nic_netns)
    if meta is None:
        where = f"{nic_dev} in namespace {nic_netns}" if nic_netns else nic_dev
        raise EnvironmentProblem(f"nothing is deployed on {where} by cora (deploy the split "
                                 "plan first)")
    return meta


def set_traffic_split(nic_dev: str, nic_netns: str | None, traffic: TrafficSplit) -> dict:
    """Fill the deployed classifier's maps with ``traffic``'s bucket set and heavy keys.

    Args:
        nic_dev, nic_netns: the NIC stage's interface (as given to ``deploy_stages``).
        traffic: the split to install; its ``n_buckets`` and key widths must be those
            the NIC stage was built with.
    Returns:
        ``{"nic_buckets": count, "heavy_keys": count, "removed_heavy_keys": count}``.
    Raises:
        EnvironmentProblem: nothing deployed there, or no classifier in it.
        CoraError: a split of another shape, or more heavy keys than the table holds.
        KernelError: a map write refused.
    """
    from cora.runtime import bpf_syscall, pins
    from cora.runtime.engine import map_entries
    from cora.targets.ebpf.maps import pack_key, pack_value

    meta = _nic_meta(nic_dev, nic_netns)
    buckets, heavy = _classifier_maps(meta)
    if buckets.capacity != traffic.n_buckets:
        raise CoraError(f"the deployed classifier has {buckets.capacity} buckets, the split "
                        f"{traffic.n_buckets}")
    if tuple(f.width for f in heavy.key) != traffic.widths:
        raise CoraError(f"the deployed classifier's key has widths "
                        f"{[f.width for f in heavy.key]}, the split's key "
                        f"{list(traffic.key_fields)} {list(traffic.widths)}")
    want = set(traffic.heavy_keys)
    if len(want) > heavy.capacity:
        raise CoraError(f"{len(want)} heavy keys do not fit the deployed table of "
                        f"{heavy.capacity}")
    with pins.open_pinned(pins.deployment_dir(nic_dev, nic_netns)) as pinned:
        bfd, hfd = pinned.maps[buckets.name], pinned.maps[heavy.name]
        for b in range(traffic.n_buckets):
            bpf_syscall.map_update(bfd, pack_key(buckets, (b,)),
                                   pack_value(buckets, (int(b in traffic.nic_buckets),)))
        removed = 0
        for key, _ in map_entries(hfd, heavy):
            if key not in want:
                bpf_syscall.map_delete(hfd, pack_key(heavy, key))
                removed += 1
        for key in sorted(want):
            bpf_syscall.map_update(hfd, pack_key(heavy, key), pack_value(heavy, (1,)))
    return {"nic_buckets": len(traffic.nic_buckets), "heavy_keys": len(want),
            "removed_heavy_keys": removed}


def read_traffic_split(nic_dev: str, nic_netns: str | None,
                       key_fields: tuple[str, ...]) -> TrafficSplit:
    """The bucket set and heavy keys the deployed classifier holds now, as a
    :class:`TrafficSplit` over ``key_fields`` (the maps do not record field names).

    Raises:
        EnvironmentProblem: nothing deployed there, or no classifier in it.
    """
    from cora.runtime import pins
    from cora.runtime.engine import map_entries

    meta = _nic_meta(nic_dev, nic_netns)
    buckets, heavy = _classifier_maps(meta)
    with pins.open_pinned(pins.deployment_dir(nic_dev, nic_netns)) as pinned:
        nic = frozenset(k[0] for k, v in map_entries(pinned.maps[buckets.name], buckets)
                        if v[0])
        keys = tuple(sorted(k for k, _ in map_entries(pinned.maps[heavy.name], heavy)))
    return TrafficSplit(key_fields, buckets.capacity, nic, keys, heavy.capacity)


__all__ = ["read_traffic_split", "set_traffic_split"]
