"""Hot swap: replace the program of a running deployment without dropping or repeating a frame.

Mechanism (why this one): an XDP program is replaced in place through rtnetlink
(``IFLA_XDP`` with ``XDP_FLAGS_REPLACE`` and ``IFLA_XDP_EXPECTED_FD``, Linux >= 5.7). The
kernel swaps the hook's program pointer with one ``rcu_assign_pointer`` (veth: per receive
queue in ``veth_xdp_set``; generic XDP: ``dev->xdp_prog``) and each frame is run by the
program the driver read for it, under RCU: every frame meets exactly one version, old or
new, and no frame is dropped for the swap. ``EXPECTED_FD`` makes it a compare-and-swap: the
kernel refuses (EEXIST) if the attached program is no longer the one cora deployed. The two
alternatives were weighed in docs/runtime.md: a root dispatcher tail-calling through a prog
array costs a tail call on every frame and its own root cannot be swapped; an XDP
``bpf_link`` (``BPF_LINK_UPDATE``) is as atomic, but a link-attached program cannot be
touched through netlink, which every existing deployment (and its crash recovery) uses. A tc
(cls_bpf) program is swapped the same way with ``RTM_NEWTFILTER`` / ``NLM_F_REPLACE`` on its
handle and priority (``cls_bpf_change`` swaps the list entry with ``list_replace_rcu``):
:func:`replace_tc`.

State across versions: the new program is loaded *using the old program's maps* wherever a
map's layout is unchanged (:func:`cora.runtime.loader.relocate_maps` points its map
references at the pinned maps before ``BPF_PROG_LOAD``), so entries and in-flight updates
are shared, not copied, and the verdict counters continue. A map whose layout changed is
refused (:class:`LayoutMismatch`, one line naming the map and the difference) unless the
caller names a conversion (:data:`CONVERSIONS`) or drops its state.

Prepare, then commit (:class:`PreparedSwap`): the preparation (compile, verify, load
against the live maps' fds) pins, journals and locks nothing, so candidates can be prepared
side by side while the deployment runs and a killed preparer leaves nothing behind; the
commit takes the deployment's lock and refuses a preparation made against a deployment that
has changed since (:class:`StalePreparation`).
A commit is journaled like a deploy (:mod:`cora.runtime.deploy`): ``{"op": "swap",
"old_prog_id", "new_prog_id", "meta_after"}`` is written before the first lasting change;
the new program and new maps are pinned beside the old ones (in ``swap_new/``: bpffs
refuses names with a dot) and renamed into place after the replace. Recovery
(:func:`cora.runtime.deploy.recover_swap`, run by the next deploy, swap or undeploy): the
replace happened (the attached program is the new one) -> the renames
and the metadata are finished; it did not -> the staged pins are removed and the old
deployment stays as it was.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cora.errors import CoraError, EnvironmentProblem, KernelError
from cora.targets.ebpf.liveprof import PROFILE_MAP, profile_slots

#: ``XDP_FLAGS_REPLACE`` (include/uapi/linux/if_link.h): replace only the program whose fd
#: is given in ``IFLA_XDP_EXPECTED_FD``
XDP_FLAGS_REPLACE = 1 << 4
#: ``MEMBARRIER_CMD_GLOBAL`` (include/uapi/linux/membarrier.h): the kernel runs
#: ``synchronize_rcu()`` (kernel/sched/membarrier.c), i.e. waits for an RCU grace period
MEMBARRIER_CMD_GLOBAL = 1
_NR_MEMBARRIER = {"x86_64": 324, "aarch64": 283}

#: conversions ``--migrate MAP=NAME`` may name (several joined by ``+``): what each allows
CONVERSIONS = {
    "widen": "a value field keeps its name and gets more bits (the value is copied)",
    "add-field": "new value fields, zero in every copied entry",
    "resize": "another max_entries: entries are copied into the new map (refused when "
              "they do not fit)",
}
#: directory (inside the deployment's) where a swap pins the new program (``prog``) and
#: its new maps (``maps/``) until they are renamed into place
STAGED_DIR = "swap_new"
#: state kinds whose conversion goes by read-through (a lookup can miss); arrays are copied
READ_THROUGH_KINDS = ("hash", "lru_hash")


class LayoutMismatch(CoraError):
    """A pinned map's layout differs from the new program's and no conversion covers it.
    The message is one line naming the map and the difference."""


def grace_period() -> None:
    """Wait for an RCU grace period: afterwards no XDP/tc program run that started before
    the call is still running (they run inside RCU read-side sections: NAPI poll / BH).

    Uses ``membarrier(MEMBARRIER_CMD_GLOBAL)``, which calls ``synchronize_rcu()``.

    Raises:
        EnvironmentProblem: membarrier is unavailable (nohz_full kernels refuse it).
    """
    nr = _NR_MEMBARRIER.get(platform.machine())
    if nr is None:
        raise EnvironmentProblem(f"no membarrier syscall number for {platform.machine()}")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(nr, MEMBARRIER_CMD_GLOBAL, 0, 0) != 0:
        err = ctypes.get_errno()
        raise EnvironmentProblem(f"membarrier(MEMBARRIER_CMD_GLOBAL) failed "
                                 f"({os.strerror(err)}): cannot wait for an RCU grace period")


def replace_xdp(prog_fd: int, dev: str, netns: str | None, mode: str, expected_fd: int,
                ip=None) -> tuple[int, int]:
    """Atomically replace the XDP program ``expected_fd`` attached to ``dev`` by ``prog_fd``.

    Args:
        prog_fd: the new (loaded) XDP program; expected_fd: an fd of the attached one.
        mode: ``"native"`` or ``"generic"`` (the mode it is attached in).
        ip: an open rtnetlink socket (pyroute2 ``IPRoute``) in ``netns`` to use, warmed in
            the calling thread (opening one in a namespace costs tens of ms: the runtime
            daemon keeps one per namespace); None: open one for this call.
    Returns:
        (the id of the program attached afterwards: the new one, the rtnetlink request's
        duration in ns: the kernel switches the program inside it).
    Raises:
        KernelError: the attached program is not ``expected_fd``'s (someone else changed
            it) or the kernel refused the new one.
        EnvironmentProblem: no such interface/namespace, unknown mode.
    """
    from pyroute2.netlink.exceptions import NetlinkError

    from cora.targets.ebpf.netlink import ifindex, ipr, where
    from cora.targets.xdp.attach import MODES

    if mode not in MODES:
        raise EnvironmentProblem(f"unknown XDP mode {mode!r}: use native or generic")
    with (ipr(netns) if ip is None else contextlib.nullcontext(ip)) as ip:
        index = ifindex(ip, dev, netns)
        t0 = time.perf_counter_ns()
        try:
            ip.link("set", index=index, xdp={"attrs": [
                ("IFLA_XDP_FD", prog_fd), ("IFLA_XDP_FLAGS", MODES[mode] | XDP_FLAGS_REPLACE),
                ("IFLA_XDP_EXPECTED_FD", expected_fd)]})
        except NetlinkError as exc:
            hint = {errno.EEXIST: "the attached program is no longer cora's (changed behind "
                                  "its back)"}.get(exc.code, "")
            raise KernelError(f"cannot replace the XDP program on {dev} in {where(netns)}: "
                              f"{os.strerror(exc.code)}" + (f"; {hint}" if hint else "")
                              ) from None
        request_ns = time.perf_counter_ns() - t0
        xdp = ip.get_links(index)[0].get_attr("IFLA_XDP")
    attrs = dict(xdp["attrs"]) if xdp else {}
    return int(attrs.get("IFLA_XDP_PROG_ID") or 0), request_ns


def replace_tc(prog_fd: int, attachment) -> None:
    """Atomically replace the cls_bpf program of ``attachment`` (a
    :class:`cora.targets.tc.attach.TcAttachment`) by ``prog_fd``: ``RTM_NEWTFILTER`` with
    ``NLM_F_REPLACE`` on the same handle and priority; frames meet the old or the new one.

    Raises:
        KernelError: the kernel refused (no such filter, not a sched_cls program).
        EnvironmentProblem: no such interface/namespace.
    """
    from pyroute2.netlink.exceptions import NetlinkError

    from cora.targets.ebpf.netlink import ifindex, ipr, where
    from cora.targets.tc.attach import TC_FILTER_HANDLE, TC_PARENTS

    with ipr(attachment.netns) as ip:
        index = ifindex(ip, attachment.ifname, attachment.netns)
        try:
            ip.tc("replace-filter", "bpf", index, TC_FILTER_HANDLE, fd=prog_fd,
                  name=attachment.name, parent=TC_PARENTS[attachment.direction],
                  prio=attachment.prio, classid=1, direct_action=True)
        except NetlinkError as exc:
            raise KernelError(f"cannot replace the tc program on {attachment.ifname} in "
                              f"{where(attachment.netns)}: {os.strerror(exc.code)}") from None


# --- layouts ----------------------------------------------------------------------------
def _fields(entry: dict, part: str) -> list[tuple[str, int]]:
    return [(f["name"], int(f["bits"])) for f in entry[part]]


def layout_difference(old: dict, new: dict) -> tuple[list[str], set[str]]:
    """How a map's layout changed between two ``maps_metadata`` entries.

    Returns:
        (differences as short phrases, the conversions that together cover them; a
        difference no conversion covers puts ``"none"`` in the set).
    """
    diffs: list[str] = []
    needs: set[str] = set()
    if old["kind"] != new["kind"]:
        diffs.append(f"kind {old['kind']} -> {new['kind']}")
        needs.add("none")
    if _fields(old, "key") != _fields(new, "key") or old["key_bytes"] != new["key_bytes"]:
        diffs.append(f"key {_show(old, 'key')} -> {_show(new, 'key')}")
        needs.add("none")
    ov, nv = dict(_fields(old, "value")), dict(_fields(new, "value"))
    if _fields(old, "value") != _fields(new, "value"):
        gone = [n for n in ov if n not in nv]
        narrowed = [n for n in ov if n in nv and nv[n] < ov[n]]
        widened = [n for n in ov if n in nv and nv[n] > ov[n]]
        added = [n for n in nv if n not in ov]
        for n in gone:
            diffs.append(f"value field {n} removed")
        for n in narrowed:
            diffs.append(f"value field {n} narrowed from {ov[n]} to {nv[n]} bits")
        if gone or narrowed:
            needs.add("none")
        for n in widened:
            diffs.append(f"value field {n} widened from {ov[n]} to {nv[n]} bits")
            needs.add("widen")
        if added:
            diffs.append("value field" + ("s " if len(added) > 1 else " ") + ", ".join(added)
                         + " added")
            needs.add("add-field")
        if not (gone or narrowed or widened or added):  # same fields, another order
            diffs.append(f"value fields reordered {_show(old, 'value')} -> "
                         f"{_show(new, 'value')}")
            needs.add("add-field")
    if old["capacity"] != new["capacity"]:
        diffs.append(f"max_entries {old['capacity']} -> {new['capacity']}")
        needs.add("resize")
    if old.get("on_full") != new.get("on_full") and not diffs:
        pass  # the full policy is code, not layout: the map itself is the same
    return diffs, needs


def _show(entry: dict, part: str) -> str:
    return "{" + ", ".join(f"{n}:{b}" for n, b in _fields(entry, part)) + "}"


def parse_conversions(spec: str) -> set[str]:
    """``"widen+resize"`` -> ``{"widen", "resize"}``.

    Raises:
        LayoutMismatch: an unknown conversion name (the message lists the known ones).
    """
    names = {s.strip() for s in spec.split("+") if s.strip()}
    bad = sorted(names - set(CONVERSIONS))
    if bad or not names:
        raise LayoutMismatch(f"unknown conversion {', '.join(bad) or repr(spec)}: use "
                             + ", ".join(CONVERSIONS) + " (several joined by +)")
    return names


def plan_maps(old_layout: list[dict], new_layout: list[dict],
              migrate: dict[str, str] | None = None,
              drop_state: set[str] | frozenset[str] = frozenset()) -> dict[str, str]:
    """Decide what happens to each map of a swap.

    Args:
        old_layout, new_layout: ``maps_metadata(...)["maps"]`` of the running and the new
            program.
        migrate: map name -> conversions (:func:`parse_conversions` syntax).
        drop_state: maps whose state is dropped (the new program starts them empty).
    Returns:
        map name -> ``"keep"`` (same map, shared), ``"convert"`` (copied into a new map,
        converted), ``"fresh"`` (new, empty: dropped state), ``"new"`` (only in the new
        program), ``"retire"`` (only in the old program: unpinned after the swap).
    Raises:
        LayoutMismatch: a changed layout with neither a covering conversion nor a drop (the
            message names the map and the difference), or a ``migrate``/``drop_state`` name
            that is no map of both programs.
    """
    migrate = dict(migrate or {})
    old = {m["name"]: m for m in old_layout}
    new = {m["name"]: m for m in new_layout}
    for name in [*migrate, *drop_state]:
        if name not in old or name not in new:
            raise LayoutMismatch(f"--migrate/--drop-state names map {name}, which is not a "
                                 "map of both the running and the new NF ("
                                 + ", ".join(sorted(set(old) & set(new))) + ")")
    out: dict[str, str] = {}
    for name, entry in new.items():
        if name not in old:
            out[name] = "new"
            continue
        if name in drop_state:
            out[name] = "fresh"
            continue
        diffs, needs = layout_difference(old[name], entry)
        if not diffs:
            out[name] = "keep"
            continue
        what = "; ".join(diffs)
        if name not in migrate:
            hint = ("" if "none" in needs else
                    f" or `--migrate {name}={'+'.join(sorted(needs))}` to convert it")
            raise LayoutMismatch(f"map {name} changed layout ({what}): refusing to replace; "
                                 f"use `--drop-state {name}` to start it empty{hint}")
        given = parse_conversions(migrate[name])
        if "none" in needs:
            raise LayoutMismatch(f"map {name} changed layout ({what}): no conversion "
                                 f"covers this; use `--drop-state {name}` to start it empty")
        if not needs <= given:
            raise LayoutMismatch(f"map {name} changed layout ({what}): --migrate "
                                 f"{name}={migrate[name]} does not cover it (needs "
                                 f"{'+'.join(sorted(needs))})")
        out[name] = "convert"
    for name in old:
        if name not in new:
            out[name] = "retire"
    return out


def convert_value(old_state, new_state, value: tuple[int, ...]) -> tuple[int, ...]:
    """A value of ``old_state`` in ``new_state``'s layout: fields matched by name (widened
    as needed), new fields zero."""
    by_name = {f.name: v for f, v in zip(old_state.value, value, strict=True)}
    return tuple(by_name.get(f.name, 0) for f in new_state.value)


def copy_converted(src_fd: int, old_state, dst_fd: int, new_state,
                   only_missing: bool = False) -> int:
    """Copy every entry of map ``src_fd`` (layout ``old_state``) into ``dst_fd`` (layout
    ``new_state``), converting values (:func:`convert_value`); per-CPU values are copied
    per CPU.

    Args:
        only_missing: insert with ``BPF_NOEXIST`` (keep entries ``dst`` has already).
    Returns:
        entries written.
    Raises:
        LayoutMismatch: the entries do not fit the new map (more than its max_entries).
        KernelError: a map operation failed.
    """
    from cora.runtime import bpf_syscall as bs
    from cora.targets.ebpf.maps import key_size, pack_value, unpack_value, value_size

    percpu = old_state.kind == "percpu_array"
    array = old_state.kind in ("array", "percpu_array")
    if array:
        items = [(i.to_bytes(4, "little"),
                  bs.map_lookup(src_fd, i.to_bytes(4, "little"), value_size(old_state), percpu))
                 for i in range(min(old_state.capacity, new_state.capacity))]
    else:
        items = bs.map_items(src_fd, key_size(old_state), value_size(old_state), percpu)
    if not array and len(items) > new_state.capacity:
        raise LayoutMismatch(f"map {new_state.name} holds {len(items)} entries, more than the "
                             f"new max_entries {new_state.capacity}: drop its state instead")
    written = 0
    flags = bs.BPF_NOEXIST if only_missing and not array else bs.BPF_ANY
    for key, raw in items:
        if raw is None:
            continue
        if isinstance(raw, list):
            value: bytes | list[bytes] = [
                pack_value(new_state, convert_value(old_state, new_state,
                                                    unpack_value(old_state, v))) for v in raw]
        else:
            value = pack_value(new_state, convert_value(old_state, new_state,
                                                        unpack_value(old_state, raw)))
        try:
            bs.map_update(dst_fd, key, value, flags, percpu=percpu)
        except KernelError:
            if only_missing:
                continue  # the new program created it meanwhile: its entry wins
            raise
        written += 1
    return written


# --- the swap ---------------------------------------------------------------------------
@dataclass
class SwapReport:
    """What one :func:`swap_program` did.

    Attributes:
        dev, netns: where; old_prog_id, new_prog_id: the programs before and after.
        load_ns: compile + verifier load of the new program, ns.
        swap_ns: the replace itself (the rtnetlink request, during which the kernel switches
            the hook's program pointer), ns: frames are handled by the new program at the
            latest when it returns.
        total_ns: from the call to the new program attached and recorded, ns.
        maps: map name -> what happened (:func:`plan_maps`: keep/convert/fresh/new/retire,
            or ``read-through``).
        converted_entries: entries copied into converted maps (before the swap and again,
            for those the old program changed meanwhile, after it).
        verdicts_before: the old version's verdict counters at the swap (None without
            counters); the counters continue in the new version.
        retired_by: when converted hash maps were taken over by read-through, the report
            of the second swap that removed the read-through once they were complete.
        commit_ns: :meth:`PreparedSwap.commit` alone (lock, checks, journal, staging, the
            replace, renames, metadata), ns: what a swap prepared ahead costs at adoption.
        commit_phases_ns: its parts, ns: ``lock_check`` (lock, recovery check, metadata,
            pins opened, staleness check), ``journal_stage`` (journal, staged pins, array
            conversions), ``replace`` (rtnetlink request incl. opening the socket when none
            was given, and reading back the attached id), ``finish`` (grace period and
            copies of conversions, renames, metadata, journal removed).
    """

    dev: str
    netns: str | None
    old_prog_id: int
    new_prog_id: int
    load_ns: int
    swap_ns: int
    total_ns: int
    maps: dict[str, str] = field(default_factory=dict)
    converted_entries: int = 0
    verdicts_before: dict[str, int] | None = None
    retired_by: dict | None = None
    commit_ns: int = 0
    commit_phases_ns: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict:
        """JSON-ready dict of every attribute."""
        return asdict(self)


def _kernel_names(layout: list[dict]) -> dict[str, str]:
    return {m["name"]: m["kernel_name"] for m in layout}


class StalePreparation(CoraError):
    """The deployment changed between :func:`prepare_swap` and :meth:`PreparedSwap.commit`
    (another program attached, or a kept map re-pinned): nothing was changed; prepare again.
    The message is one line naming the device and the difference."""


class PreparedSwap:
    """A swap made ready: the new program compiled, verified and loaded against the live
    maps it keeps (their fds, opened from the pins), its new maps created; **nothing is
    pinned, journaled or locked** until :meth:`commit`. So any number of swaps (say, every
    candidate plan of the runtime daemon) can be prepared side by side while the deployment
    runs and changes hands, and a process killed mid-preparation leaves nothing behind (its
    fds die with it and the kernel frees what only they held).

    :meth:`commit` takes the deployment's lock, checks that the deployment is still the one
    prepared against (:class:`StalePreparation` otherwise, nothing changed), journals, stages
    the pins under ``swap_new/``, replaces the running program (the only step frames notice)
    and renames the pins into place; :meth:`close` without commit just releases the fds.

    ``retire_to``: maps this swap retires (merged counters a plan change takes off this
    stage) that are kept, not unpinned: name -> the deployment directory of a stage that
    keeps the counter, where the commit renames the map to a retired copy
    (:func:`cora.runtime.deploy.keep_retired_copy`; ``read_stats`` adds it in). Raises
    :class:`CoraError` for a name the swap does not retire. ``meta_extra``: metadata keys
    the commit sets (a split host stage's new ``shim`` layout, whose ``counter_copies``
    ``read_stats`` follows).

    ``base``: prepare against the deployment as it will be once another prepared swap
    ``base`` (same device) has committed: its new program and maps (the retire swap of a
    state migration, prepared together with the read-through swap,
    :class:`cora.runtime.migrate.PreparedMove`). ``base`` must stay open until this commits.

    Attributes:
        report: the :class:`SwapReport` once committed (None before).
        load_ns: compile + verifier load of the new program, ns (the preparation's cost).
    """

    def __init__(self, dev: str, netns: str | None, program, *,
                 migrate: dict[str, str] | None = None,
                 drop_state: set[str] | frozenset[str] = frozenset(),
                 read_through: dict[str, int] | None = None,
                 nf_source: str | None = None,
                 base: PreparedSwap | None = None,
                 handover_tag: int | None = None,
                 retire_to: dict[str, str | Path] | None = None,
                 meta_extra: dict | None = None):
        from cora.runtime import deploy, pins
        from cora.runtime.loader import load_xdp
        from cora.signals import uninterrupted
        from cora.targets.ebpf.maps import maps_metadata, state_from_metadata
        from cora.targets.xdp import XdpTarget

        self.t_start = time.perf_counter_ns()
        self.dev, self.netns, self.program = dev, netns, program
        self.report: SwapReport | None = None
        #: the loaded new program and its maps (None once closed)
        self.loaded: Any = None
        self._stack = contextlib.ExitStack()
        self._journaled = False
        self._nf_source = nf_source
        self._meta_after: dict | None = None
        self._meta_extra = dict(meta_extra or {})
        read_through = dict(read_through or {})
        try:
            if base is None:
                if pins.read_journal(dev, netns) is not None:
                    # an interrupted swap: finish or undo it first (briefly under the lock)
                    with pins.deployment_lock(dev, netns):
                        deploy.recover_swap(dev, netns)
                meta = deploy.require_deployment(dev, netns)
                pinned = self._stack.enter_context(pins.open_pinned(Path(meta["pins"])))
                if pinned.prog_fd is None:
                    raise EnvironmentProblem(f"no program pinned at {meta['pins']}: undeploy "
                                             "and deploy again")
                base_maps, base_prog_fd = dict(pinned.maps), pinned.prog_fd
            else:
                if base.loaded is None:
                    raise CoraError("the base swap is closed")
                meta, base_maps = base.meta_after(), base.maps_after()
                base_prog_fd = base.loaded.prog_fd
            self.meta = meta
            self.base_maps: dict[str, int] = base_maps
            self.base_prog_fd = base_prog_fd
            old_layout = meta["layout"]["maps"]
            old_names = {m["name"] for m in old_layout}
            new_layout = maps_metadata(program)["maps"]
            actions = plan_maps(old_layout, new_layout, migrate,
                                frozenset(drop_state) | (frozenset(read_through) & old_names))
            for name in read_through:
                actions[name] = "read-through"
            self.actions = actions
            #: retired maps kept as retired copies: name -> the keeping deployment's dir
            self.retire_to = {n: str(p) for n, p in (retire_to or {}).items()}
            for name in self.retire_to:
                if actions.get(name) != "retire":
                    raise CoraError(f"{dev}: map {name} is not retired by this swap "
                                    f"({actions.get(name, 'no such map')}): it cannot be kept "
                                    "as a retired copy")
            new_names = _kernel_names(new_layout)
            self.directory = Path(meta["pins"])
            self.stats = stats = bool(meta.get("stats", True))
            # live-profile counters (the runtime daemon's): the new version gets its own
            self.live = int((meta.get("live_profile") or {}).get("sample_every", 0))
            self.states_old = {m["name"]: state_from_metadata(m) for m in old_layout}
            self.states_new = {st.name: st for st in program.states}
            #: converted hash maps: taken over entry by entry (read-through with conversion)
            self.converted_by_read_through = sorted(
                n for n, a in actions.items() if a == "convert"
                and self.states_old[n].kind in READ_THROUGH_KINDS
                and self.states_new[n].kind in READ_THROUGH_KINDS)
            for name in self.converted_by_read_through:
                read_through[name] = base_maps[name]
            artifact = XdpTarget().generate(
                program, count_verdicts=stats,
                pass_redirect_ifindex=meta.get("forward_ifindex"),
                read_through=frozenset(read_through),
                read_through_from={n: self.states_old[n]
                                   for n in self.converted_by_read_through},
                live_profile=self.live,
                pass_meta_tag=handover_tag if meta.get("forward_ifindex") else None)
            #: kernel map name -> fd of a live map the new program is loaded against
            reuse = {new_names[n]: base_maps[n] for n, a in actions.items()
                     if a == "keep" and n in base_maps}
            if stats and deploy.VERDICTS_MAP in base_maps:
                reuse[deploy.VERDICTS_MAP] = base_maps[deploy.VERDICTS_MAP]
            for name, fd in read_through.items():
                reuse[f"{new_names[name]}_rt"] = fd
            #: map name (state or internal) -> id of the live map kept (checked at commit)
            self.kept_ids = {n: _map_id(base_maps[n]) for n, a in actions.items()
                             if a == "keep" and n in base_maps}
            if stats and deploy.VERDICTS_MAP in base_maps:
                self.kept_ids[deploy.VERDICTS_MAP] = _map_id(base_maps[deploy.VERDICTS_MAP])
            t_load = time.perf_counter_ns()
            self.loaded = self._stack.enter_context(
                uninterrupted(lambda: load_xdp(artifact, reuse)))
            self.load_ns = time.perf_counter_ns() - t_load
            from cora.runtime import bpf_syscall

            self.new_id = bpf_syscall.prog_info(self.loaded.prog_fd).id
            self.old_id = int(meta["prog_id"])
            self.meta_after()  # built now, not in the commit
        except BaseException:
            self.close()
            raise

    # -- what the deployment looks like once this swap has committed (for a ``base``) --
    def staged_maps(self) -> dict[str, int]:
        """Map name -> fd of the maps this swap creates (pinned at commit)."""
        from cora.runtime import deploy

        loaded = self.loaded
        staged = {n: loaded.map_fds[n] for n, a in self.actions.items()
                  if a in ("convert", "fresh", "new", "read-through")}
        if self.stats and deploy.VERDICTS_MAP not in self.base_maps:
            staged[deploy.VERDICTS_MAP] = loaded.map_fd(deploy.VERDICTS_MAP)
        if self.live:
            staged[PROFILE_MAP] = loaded.map_fd(PROFILE_MAP)
        return staged

    def maps_after(self) -> dict[str, int]:
        """Map name -> fd of every map pinned in the deployment after the commit."""
        out = {n: fd for n, fd in self.base_maps.items()
               if self.actions.get(n) not in ("retire", "convert", "fresh")}
        out.update(self.staged_maps())
        return out

    def meta_after(self) -> dict:
        """The deployment's metadata after the commit (without the history entry); built
        once, at preparation (the commit only adds the history)."""
        from cora.targets.ebpf.maps import maps_metadata

        if self._meta_after is None:
            meta_after = {**self.meta, **self._meta_extra, "nf": self.program.name,
                          "source": self._nf_source or self.program.source,
                          "prog_id": self.new_id, "layout": maps_metadata(self.program)}
            if self.live:
                meta_after["live_profile"] = profile_slots(self.program,
                                                           self.live).to_json()
            self._meta_after = meta_after
        return dict(self._meta_after)

    def _check_current(self, meta: dict, pinned) -> None:
        """Raise :class:`StalePreparation` unless the deployment is the one prepared
        against: the same program attached and the same maps pinned under the kept names."""
        if int(meta["prog_id"]) != self.old_id or pinned.prog_fd is None:
            raise StalePreparation(
                f"{self.dev}: the deployment runs program {meta.get('prog_id')}, not "
                f"{self.old_id} this swap was prepared against: prepare it again")
        for name, map_id in self.kept_ids.items():
            fd = pinned.maps.get(name)
            if fd is None or _map_id(fd) != map_id:
                raise StalePreparation(f"{self.dev}: map {name} was replaced since this swap "
                                       "was prepared: prepare it again")

    def commit(self, ip=None, attached_fd: int | None = None) -> SwapReport:
        """Replace the running program by the new one (atomic, see the module docstring),
        convert what ``migrate`` names, rename the pins into place and write the metadata,
        all under the deployment's lock. ``ip``: an open rtnetlink socket in the
        deployment's namespace (:func:`replace_xdp`). ``attached_fd``: the program attached
        in place of the pinned one, which the replace expects instead (the handover
        dispatcher of a lock-step plan change, :mod:`cora.runtime.handover`; it runs the
        pinned program for the old version's frames); None: the pinned program.

        Returns:
            the :class:`SwapReport` (also kept as :attr:`report`).
        Raises:
            StalePreparation: the deployment changed since the preparation (nothing done).
            EnvironmentProblem: another cora process holds the deployment's lock.
            KernelError: the kernel refused the replace (the old program keeps running).
        """
        from cora.runtime import deploy, pins
        from cora.signals import signals_raise

        if self.report is not None:
            raise CoraError("this swap was committed already")
        if self.loaded is None:
            raise CoraError("this swap was closed")
        t_commit = time.perf_counter_ns()
        phases: dict[str, int] = {}
        mark = [t_commit]

        def phase(name: str) -> None:
            now = time.perf_counter_ns()
            phases[name] = now - mark[0]
            mark[0] = now

        loaded = self.loaded
        with contextlib.ExitStack() as cs:
            cs.enter_context(signals_raise())
            cs.enter_context(pins.deployment_lock(self.dev, self.netns))
            try:
                deploy.recover_swap(self.dev, self.netns)
                meta = deploy.require_deployment(self.dev, self.netns)
                pinned = cs.enter_context(pins.open_pinned(self.directory))
                self._check_current(meta, pinned)
                assert pinned.prog_fd is not None  # checked above
                phase("lock_check")
                converted = 0
                snapshots = {}
                for name, a in self.actions.items():
                    if a == "convert" and name not in self.converted_by_read_through:
                        snapshots[name] = _raw_items(pinned.maps[name],
                                                     self.states_old[name])
                verdicts_before = deploy.verdict_counts(pinned.maps.get(deploy.VERDICTS_MAP))
                history = [*meta.get("history", []), {
                    "prog_id": self.old_id, "nf": meta["nf"], "source": meta.get("source"),
                    "until_unix": time.time(), "verdicts_at_swap": verdicts_before}]
                meta_after = {**meta, **self.meta_after(), "history": history,
                              "swapped_unix": time.time()}
                # one journal write, before the first lasting change (the staged pins)
                deploy.write_state(pins.write_journal, self.dev, self.netns, {
                    "op": "swap", "dev": self.dev, "netns": self.netns,
                    "old_prog_id": self.old_id, "new_prog_id": self.new_id,
                    "pins": str(self.directory), "pid": os.getpid(),
                    "retire": sorted(n for n, a in self.actions.items() if a == "retire"),
                    "retire_to": self.retire_to,
                    "started_unix": time.time(), "meta_after": meta_after})
                self._journaled = True
                pins.pin(self.directory / STAGED_DIR, loaded.prog_fd, self.staged_maps())
                deploy.fault_point("swap", "staged")
                for name in snapshots:
                    converted += copy_converted(pinned.maps[name], self.states_old[name],
                                                loaded.map_fds[name], self.states_new[name])
                phase("journal_stage")
                attached, swap_ns = replace_xdp(loaded.prog_fd, self.dev, self.netns,
                                                meta.get("mode", "native"),
                                                pinned.prog_fd if attached_fd is None
                                                else attached_fd, ip=ip)
                phase("replace")
            except BaseException:
                self._unjournal()
                raise
            self._journaled = False  # from here recovery finishes the swap, never undoes it
            if attached != self.new_id:
                raise KernelError(f"after the replace {self.dev} runs program id {attached}, "
                                  f"not the new {self.new_id}")
            deploy.fault_point("swap", "replace")
            if snapshots or self.converted_by_read_through:
                grace_period()  # the old version has finished every frame it started
                for name, before in snapshots.items():
                    converted += _reconcile(pinned.maps[name], self.states_old[name],
                                            loaded.map_fds[name], self.states_new[name],
                                            before)
                from cora.runtime.migrate import copy_missing

                for name in self.converted_by_read_through:
                    converted += copy_missing(pinned.maps[name], loaded.map_fds[name],
                                              self.states_old[name], self.states_new[name])
            deploy.commit_swap(self.dev, self.netns)
            phase("finish")
        now = time.perf_counter_ns()
        self.report = SwapReport(
            dev=self.dev, netns=self.netns, old_prog_id=self.old_id, new_prog_id=self.new_id,
            load_ns=self.load_ns, swap_ns=swap_ns, total_ns=now - self.t_start,
            maps=dict(self.actions), converted_entries=converted,
            verdicts_before=verdicts_before, commit_ns=now - t_commit,
            commit_phases_ns=phases)
        return self.report

    def _unjournal(self) -> None:
        """Undo the staging of a commit that did not replace (lock held)."""
        from cora.runtime import pins

        if self._journaled:
            _unstage(self.directory)
            pins.remove_journal(self.dev, self.netns)
            self._journaled = False

    def close(self) -> None:
        """Release the fds (the new program and maps disappear unless committed: then the
        pins hold them). Idempotent."""
        self._stack.close()
        self.loaded = None

    def __enter__(self) -> PreparedSwap:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _map_id(fd: int) -> int:
    from cora.runtime.bpf_syscall import map_info

    return map_info(fd).id


def prepare_swap(dev: str, netns: str | None, program, *,
                 migrate: dict[str, str] | None = None,
                 drop_state: set[str] | frozenset[str] = frozenset(),
                 read_through: dict[str, int] | None = None,
                 nf_source: str | None = None,
                 base: PreparedSwap | None = None,
                 handover_tag: int | None = None,
                 retire_to: dict[str, str | Path] | None = None,
                 meta_extra: dict | None = None) -> PreparedSwap:
    """Compile, verify and load ``program`` for the deployment on ``dev`` against its live
    maps (arguments as :func:`swap_program`; ``base``, ``handover_tag``,
    ``retire_to`` and ``meta_extra`` as
    :class:`PreparedSwap`); nothing is
    pinned or locked and frames notice nothing. Use with ``with``; call
    :meth:`PreparedSwap.commit` to swap.

    Raises:
        as :func:`swap_program` (nothing is changed when this raises).
    """
    return PreparedSwap(dev, netns, program, migrate=migrate, drop_state=drop_state,
                        read_through=read_through, nf_source=nf_source, base=base,
                        handover_tag=handover_tag, retire_to=retire_to,
                        meta_extra=meta_extra)


def swap_program(dev: str, netns: str | None, program, *,
                 migrate: dict[str, str] | None = None,
                 drop_state: set[str] | frozenset[str] = frozenset(),
                 read_through: dict[str, int] | None = None,
                 nf_source: str | None = None) -> SwapReport:
    """Replace the program of the deployment on ``dev`` by ``program`` (hot swap: no frame
    dropped, none run twice) keeping every map whose layout is unchanged.

    Args:
        dev, netns: a complete deployment (``cora deploy``).
        program: the new verified IR program (same NF or a new version of it).
        migrate: map name -> conversions (:data:`CONVERSIONS`) for maps whose layout changed.
        drop_state: maps the new program starts empty.
        read_through: state name -> fd of a map (same layout) that the new program's
            lookups fall back to on a miss, taking the entry over (:mod:`cora.runtime.migrate`);
            such a state gets a new, empty map of its own.
        nf_source: the NF file to record in the metadata (default ``program.source``).
    Returns:
        a :class:`SwapReport`.
    Raises:
        LayoutMismatch: a map's layout changed and nothing says what to do (nothing was
            changed).
        EnvironmentProblem: no complete deployment there; another cora process at work.
        KernelError: the new program does not load or attach (the old one keeps running
            with its maps untouched).
    """
    with prepare_swap(dev, netns, program, migrate=migrate, drop_state=drop_state,
                      read_through=read_through, nf_source=nf_source) as prepared:
        report = prepared.commit()
        retire = bool(prepared.converted_by_read_through)
    if retire:  # the converted maps are complete: the same code without read-through
        report.retired_by = swap_program(dev, netns, program, nf_source=nf_source).to_json()
    return report


def _raw_items(fd: int, state) -> dict[bytes, bytes | list[bytes] | None]:
    """Raw key -> value bytes of a map (arrays: every slot)."""
    from cora.runtime import bpf_syscall as bs
    from cora.targets.ebpf.maps import key_size, value_size

    percpu = state.kind == "percpu_array"
    if state.kind in ("array", "percpu_array"):
        return {i.to_bytes(4, "little"): bs.map_lookup(fd, i.to_bytes(4, "little"),
                                                       value_size(state), percpu)
                for i in range(state.capacity)}
    return dict(bs.map_items(fd, key_size(state), value_size(state), percpu))


def _reconcile(src_fd: int, old_state, dst_fd: int, new_state,
               before: dict[bytes, bytes | list[bytes] | None]) -> int:
    """After a converted swap: entries the old version changed between the copy and the
    swap are copied again, when the new version has not touched them since (its entry
    still equals the converted copy); entries it created then are added if missing.

    Returns:
        entries written.
    """
    from cora.runtime import bpf_syscall as bs
    from cora.targets.ebpf.maps import pack_value, unpack_value, value_size

    percpu = old_state.kind == "percpu_array"
    after = _raw_items(src_fd, old_state)
    written = 0

    def conv(raw):
        if isinstance(raw, list):
            return [pack_value(new_state, convert_value(old_state, new_state,
                                                        unpack_value(old_state, v)))
                    for v in raw]
        return pack_value(new_state, convert_value(old_state, new_state,
                                                   unpack_value(old_state, raw)))

    for key, raw in after.items():
        if raw is None or before.get(key) == raw:
            continue
        current = bs.map_lookup(dst_fd, key, value_size(new_state), percpu)
        first = before.get(key)
        if current is None or (first is not None and current == conv(first)):
            try:
                bs.map_update(dst_fd, key, conv(raw), bs.BPF_ANY, percpu=percpu)
                written += 1
            except KernelError:
                continue
    return written


def _unstage(directory: Path) -> None:
    """Remove the staged pins of a swap that did not happen."""
    from cora.runtime import pins

    pins.unpin_all(Path(directory) / STAGED_DIR)
