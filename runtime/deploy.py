"""Deploy an NF on an interface, read its live state, and take it down again.

A deployment is: the XDP program attached to the interface, the program and every map pinned
under ``/sys/fs/bpf/cora/<netns|root>/<ifname>/`` (so they outlive the ``cora`` process), and
a metadata file ``/run/cora/<netns|root>/<ifname>.json`` describing the map layouts (see
:mod:`cora.runtime.pins`). ``cora stats`` reads the pinned maps; ``cora undeploy`` detaches
and unpins. An existing deployment (with the state in its maps) is never replaced or touched
by a new ``deploy``.

Crash safety (a journal plus an order of steps). Each deploy and undeploy holds the
deployment's lock (flock on ``/run/cora/<netns|root>/<ifname>.lock``, dropped by the kernel
when its holder dies) and writes a journal ``<ifname>.journal`` next to the metadata before
its first lasting change, removing it after its last:

- deploy: load; journal ``{"op": "deploy", "prog_id"}`` (the id is read from the loaded
  program, so it is known before anything can be attached); pin the program; pin each map;
  attach; write the metadata (the commit point: from here the deployment is complete);
  remove the journal.
- undeploy: journal ``{"op": "undeploy", "prog_id", "meta"}``; detach (only that program id);
  unpin each pin; remove the metadata; remove the journal.

After a kill at any point (even SIGKILL) the journal says what was under way. Recovery, always
under the lock: an interrupted deploy before its commit point is undone (detach of its own
program id only, unpin, no metadata); one after it is complete (the stale journal is
dropped); an interrupted undeploy is finished. ``cora undeploy`` recovers any of them (and
pins left without metadata or journal by an older cora); ``cora deploy`` undoes an
interrupted deploy and then deploys, but leaves an interrupted undeploy (and bare pins) to
``cora undeploy``; ``cora stats`` changes nothing and says which command finishes the job.
SIGTERM and SIGHUP during a deploy or undeploy raise (:mod:`cora.signals`), so the undo of a
failing deploy also runs for them.

Test hook (fault injection): with ``CORA_FAULT_AFTER_STEP=<op>:<step>`` in the environment the
process SIGKILLs itself right after that step (names in :data:`DEPLOY_STEPS` and
:data:`UNDEPLOY_STEPS`, e.g. ``deploy:attach``; ``deploy:attach:TERM`` sends SIGTERM instead);
``tests/runtime/test_deploy_crash.py`` kills there and checks the recovery. It is for tests
only: never set it in production.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from cora.errors import EnvironmentProblem
from cora.targets.ebpf.liveprof import PROFILE_MAP, profile_slots

VERDICTS_MAP = "cora_verdicts"
XDP_VERDICT_NAMES = ("aborted", "drop", "pass", "tx", "redirect", "multicast")

#: environment variable of the fault-injection test hook (see the module docstring)
FAULT_ENV = "CORA_FAULT_AFTER_STEP"
#: deploy's steps in order; ``pin_map`` is after the first map pin, ``pin_maps`` after all,
#: ``metadata`` the commit point, ``done`` after the journal is removed
DEPLOY_STEPS = ("journal", "pin_prog", "pin_map", "pin_maps", "attach", "metadata", "done")
#: undeploy's steps in order; ``unpin_one`` is after the first pin is removed
UNDEPLOY_STEPS = ("journal", "detach", "unpin_one", "unpin", "metadata", "done")
#: a hot swap's steps (:mod:`cora.runtime.swap`): ``staged`` after the new program and maps
#: are pinned under ``swap_new/``, ``replace`` after the kernel runs the new program,
#: ``commit`` after the metadata names it
SWAP_STEPS = ("staged", "replace", "commit")
#: directory (inside a deployment's) of the *retired copies* of merged counters: the map of
#: a stage's copy that a plan change took off that stage, renamed to
#: ``retired/<state>/<old program id>`` in the directory of a stage that keeps the counter;
#: :func:`read_stats` adds them in (docs/runtime.md, "Merged counters across plan changes")
RETIRED_DIR = "retired"


def fault_point(op: str, step: str) -> None:
    """Test hook: send this process SIGKILL if ``CORA_FAULT_AFTER_STEP`` is ``op:step`` (or
    the signal named by a third part, ``op:step:TERM`` / ``op:step:HUP``, to test the undo a
    catchable signal runs).

    Args:
        op: ``"deploy"`` or ``"undeploy"``; step: one of :data:`DEPLOY_STEPS` /
            :data:`UNDEPLOY_STEPS`.
    """
    want = os.environ.get(FAULT_ENV, "").split(":")
    if want[:2] == [op, step]:
        name = want[2] if len(want) > 2 else "KILL"
        os.kill(os.getpid(), getattr(signal, f"SIG{name}", signal.SIGKILL))


def _where(dev: str, netns: str | None) -> str:
    return f"{dev} in namespace {netns}" if netns else dev


def _undeploy_cmd(dev: str, netns: str | None) -> str:
    return f"`cora undeploy --dev {dev}{' --netns ' + netns if netns else ''}`"


def deploy(program, dev: str, netns: str | None = None, mode: str = "native",
           pass_redirect_ifindex: int | None = None, extra: dict | None = None,
           stats: bool = True, replace: bool = False, migrate: dict[str, str] | None = None,
           drop_state: frozenset[str] = frozenset(), live_profile: int = 0) -> dict:
    """Compile for XDP, load, pin, attach and record ``program`` on ``dev`` (journaled; see
    the module docstring).

    Args:
        program: a verified IR program (from :func:`cora.compiler.driver.compile_file`).
        dev: interface name; netns: named network namespace or None (root).
        mode: "native" or "generic" XDP.
        pass_redirect_ifindex: turn ``pass`` into a redirect to this ifindex (an emulated
            NIC stage handing frames to the host; see :func:`deploy_stages`).
        extra: more keys for the metadata (e.g. the stage and its peer deployment).
        stats: keep per-CPU verdict counters (``cora_verdicts``, read by :func:`read_stats`);
            False (``cora deploy --no-stats``) leaves them out of the program.
        live_profile: 0, or N: live-profile counters of 1 in N packets
            (:mod:`cora.targets.ebpf.liveprof`), pinned as ``cora_prof``, their layout in the
            metadata under ``"live_profile"`` (read by :mod:`cora.runtime.live_profile`).
        replace: when ``dev`` runs a cora deployment already, upgrade it in place
            (:func:`cora.runtime.swap.swap_program`: hot swap keeping every map whose layout
            is unchanged; ``migrate`` / ``drop_state`` say what to do with changed ones);
            the running deployment is untouched if the new program fails to build, verify
            or load. With nothing deployed there, a normal deploy.
    Returns:
        the deployment's metadata (also written to /run/cora), plus ``"recovered"``: a
        sentence on the interrupted deploy it undid first, or None; after an in-place
        upgrade also ``"swap"``: the :class:`~cora.runtime.swap.SwapReport` as a dict.
    Raises:
        LayoutMismatch: (``replace``) a map's layout changed and neither ``migrate`` nor
            ``drop_state`` covers it; nothing was changed.
        EnvironmentProblem: no root/bcc, no such interface/namespace, already deployed, an
            interrupted undeploy to finish first, another cora process at work there.
        KernelError: load, pin or attach refused.
    """
    from cora.runtime import attach, pins
    from cora.runtime.bpf_syscall import prog_info
    from cora.runtime.loader import load_xdp
    from cora.signals import signals_raise, uninterrupted
    from cora.targets.ebpf.maps import maps_metadata
    from cora.targets.xdp import XdpTarget

    where = _where(dev, netns)
    directory = pins.deployment_dir(dev, netns)  # checks the names first
    attach.xdp_attached(dev, netns)  # checks that dev and netns exist
    if replace and deployment_status(dev, netns) in ("complete", "partial-swap"):
        from cora.runtime.swap import swap_program

        report = swap_program(dev, netns, program, migrate=migrate, drop_state=drop_state)
        return {**require_deployment(dev, netns), "recovered": None,
                "swap": report.to_json()}
    with signals_raise(), pins.deployment_lock(dev, netns):
        recovered = recover_swap(dev, netns)
        journal = pins.read_journal(dev, netns)
        if journal is not None and journal.get("op") == "deploy":
            recovered = _recover(dev, netns)
        elif journal is not None:
            raise EnvironmentProblem(f"an interrupted `cora undeploy` left {where} half taken "
                                     f"down: run {_undeploy_cmd(dev, netns)} to finish it")
        existing = attach.xdp_attached(dev, netns)
        if pins.read_metadata(dev, netns) is not None or existing:
            raise EnvironmentProblem(
                f"{where} already runs an XDP program"
                + (f" (id {existing})" if existing else "")
                + f": run {_undeploy_cmd(dev, netns)} first (its maps and state are kept "
                "until then)")
        if directory.exists():
            raise EnvironmentProblem(f"pins without deployment metadata are left at "
                                     f"{directory}: run {_undeploy_cmd(dev, netns)} to remove "
                                     "them")
        artifact = XdpTarget().generate(program, count_verdicts=stats,
                                        pass_redirect_ifindex=pass_redirect_ifindex,
                                        live_profile=live_profile)
        # loading and unloading run whole even if a signal comes (bcc cut half-way would
        # free its module twice at exit)
        with uninterrupted(lambda: load_xdp(artifact)) as loaded:
            maps = dict(loaded.map_fds)
            if stats:
                maps[VERDICTS_MAP] = loaded.map_fd(VERDICTS_MAP)
            if live_profile:
                maps[PROFILE_MAP] = loaded.map_fd(PROFILE_MAP)
                extra = {**(extra or {}),
                         "live_profile": profile_slots(program, live_profile).to_json()}
            prog_id = prog_info(loaded.prog_fd).id
            try:
                # "meta" names a split deployment's NIC side, so that undeploy of this
                # interrupted host side takes the NIC side down as well
                write_state(pins.write_journal, dev, netns, {
                    "op": "deploy", "dev": dev, "netns": netns, "prog_id": prog_id,
                    "pins": str(directory), "pid": os.getpid(), "started_unix": time.time(),
                    "meta": {k: v for k, v in (extra or {}).items() if k == "nic_stage"}})
                fault_point("deploy", "journal")
                first_map = [True]

                def _after_pin(kind: str) -> None:
                    if kind == "prog":
                        fault_point("deploy", "pin_prog")
                    elif first_map[0]:
                        first_map[0] = False
                        fault_point("deploy", "pin_map")

                pins.pin(directory, loaded.prog_fd, maps, after_each=_after_pin)
                fault_point("deploy", "pin_maps")
                attached_id = attach.attach_xdp(loaded.prog_fd, dev, netns, mode)
                fault_point("deploy", "attach")
                meta = {"nf": program.name, "source": program.source, "dev": dev,
                        "netns": netns, "mode": mode, "pins": str(directory),
                        "deployed_unix": time.time(), "prog_id": attached_id, "stats": stats,
                        "layout": maps_metadata(program), **(extra or {})}
                write_state(pins.write_metadata, dev, netns, meta)
                fault_point("deploy", "metadata")
            except BaseException:
                # undo every step (detach only our program), each even if an earlier undo
                # fails; the journal goes last, so a kill here is still recoverable
                _take_down(dev, netns, prog_id, directory)
                raise
            pins.remove_journal(dev, netns)
            fault_point("deploy", "done")
    return {**meta, "recovered": recovered}


def write_state(writer, dev: str, netns: str | None, data: dict) -> None:
    """Write metadata or journal (``writer``: :func:`cora.runtime.pins.write_metadata` or
    ``write_journal``); an OS failure becomes one clear line (EnvironmentProblem)."""
    try:
        writer(dev, netns, data)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot write deployment state under /run/cora: "
                                 f"{exc.strerror or exc}") from None


def _handover_prog_id(directory) -> int | None:
    """The id of the handover dispatcher pinned in ``directory`` (a plan change interrupted
    between its engage and the host commit, :mod:`cora.runtime.handover`), or None."""
    from cora.runtime import bpf_syscall
    from cora.runtime.handover import PROG_PIN

    path = Path(directory) / PROG_PIN
    if not path.exists():
        return None
    fd = bpf_syscall.obj_get(str(path))
    try:
        return bpf_syscall.prog_info(fd).id
    finally:
        os.close(fd)


def _take_down(dev: str, netns: str | None, prog_id: int | None, directory,
               on_unpinned=None) -> tuple[bool, list[str]]:
    """Detach program ``prog_id`` (only that one; nothing when None), unpin everything under
    ``directory``, remove the metadata, then the journal: each step even if an earlier one
    fails (the last error propagates, chained to the earlier ones). Idempotent.

    Returns:
        (detached, removed pin paths).
    """
    from cora.runtime import attach, pins

    detached, removed = False, []
    try:
        if prog_id is not None:
            detached = attach.detach_xdp(dev, netns, missing_ok=True, prog_id=prog_id)
        dispatcher = _handover_prog_id(directory)
        if dispatcher is not None:  # a lock-step handover's dispatcher left engaged
            detached = attach.detach_xdp(dev, netns, missing_ok=True,
                                         prog_id=dispatcher) or detached
        fault_point("undeploy", "detach")
    finally:
        try:
            removed = pins.unpin_all(directory, after_each=on_unpinned)
            fault_point("undeploy", "unpin")
        finally:
            try:
                pins.remove_metadata(dev, netns)
                fault_point("undeploy", "metadata")
            finally:
                pins.remove_journal(dev, netns)
    return detached, removed


def _recover(dev: str, netns: str | None) -> str | None:
    """Finish or undo what an interrupted deploy/undeploy left on ``dev`` (call with the
    deployment lock held).

    Returns:
        a sentence saying what was done, or None when there was nothing to do (no journal,
        or a deploy that had passed its commit point: its journal is just dropped).
    """
    from cora.runtime import pins

    journal = pins.read_journal(dev, netns)
    if journal is None:
        return None
    if journal.get("op") == "swap":
        return recover_swap(dev, netns)
    meta = pins.read_metadata(dev, netns)
    op = journal.get("op")
    if op == "deploy" and meta is not None and meta.get("prog_id") == journal.get("prog_id"):
        pins.remove_journal(dev, netns)  # committed: a complete deployment
        return None
    directory = pins.deployment_dir(dev, netns)
    prog_id = journal.get("prog_id")
    if prog_id is None:
        prog_id = (meta or {}).get("prog_id") or pins.pinned_prog_id(directory)
    detached, removed = _take_down(dev, netns, prog_id, directory)
    what = {"deploy": "undid an interrupted deploy",
            "undeploy": "finished an interrupted undeploy"}.get(str(op),
                                                                "removed a partial deployment")
    return (f"{what} on {_where(dev, netns)} ("
            + ("detached its program, " if detached else "") + f"removed {len(removed)} pins)")


def deployment_status(dev: str, netns: str | None = None) -> str:
    """What is on ``dev`` as far as cora knows, without changing anything.

    Returns:
        ``"none"`` (nothing), ``"complete"`` (a deployment stats can read), ``"busy"`` (a
        deploy/undeploy/swap is running now), ``"partial-swap"`` (an interrupted hot swap:
        the next deploy --replace or undeploy finishes or undoes it), ``"partial-deploy"`` /
        ``"partial-undeploy"`` (an interrupted one: undeploy removes/finishes it),
        ``"orphan-pins"`` (pins without metadata or journal: undeploy removes them).
    Raises:
        EnvironmentProblem: bad interface or namespace name.
    """
    from cora.runtime import pins

    directory = pins.deployment_dir(dev, netns)
    journal = pins.read_journal(dev, netns)
    meta = pins.read_metadata(dev, netns)
    if journal is not None:
        if journal.get("op") == "deploy" and meta is not None and \
                meta.get("prog_id") == journal.get("prog_id"):
            return "complete"
        if pins.lock_held(dev, netns):
            return "busy"
        if journal.get("op") == "swap":
            return "partial-swap"
        return "partial-undeploy" if journal.get("op") == "undeploy" else "partial-deploy"
    if meta is not None:
        return "complete"
    return "orphan-pins" if directory.exists() else "none"


def require_deployment(dev: str, netns: str | None = None) -> dict:
    """The metadata of a complete deployment on ``dev``.

    Raises:
        EnvironmentProblem: nothing complete there: one line saying what is there and which
            command to run.
    """
    from cora.runtime import pins

    where = _where(dev, netns)
    status = deployment_status(dev, netns)
    meta = pins.read_metadata(dev, netns)
    if status == "complete" and meta is not None:
        return meta
    if status == "complete":  # undeployed in the meantime
        status = "none"
    undo = _undeploy_cmd(dev, netns)
    raise EnvironmentProblem({
        "none": f"nothing is deployed on {where} by cora (`cora deploy X.nf --dev {dev}` "
                "first)",
        "busy": f"a cora deploy or undeploy on {where} is running: try again when it ends",
        "partial-deploy": f"an interrupted `cora deploy` left a partial deployment on {where}: "
                          f"run {undo} to remove it",
        "partial-undeploy": f"an interrupted `cora undeploy` left {where} half taken down: "
                            f"run {undo} to finish it",
        "partial-swap": f"an interrupted hot swap left {where} between two versions: run "
                        f"`cora deploy NEW.nf --dev {dev} --replace` again or {undo}",
        "orphan-pins": f"pins without deployment metadata are left at "
                       f"{pins.deployment_dir(dev, netns)}: run {undo} to remove them",
    }[status])


def verdict_counts(fd: int | None) -> dict[str, int] | None:
    """Verdict name -> frames counted (summed over CPUs) of a ``cora_verdicts`` map fd, or
    None when ``fd`` is None (deployed without counters)."""
    from cora.runtime import bpf_syscall

    if fd is None:
        return None
    verdicts = {name: 0 for name in XDP_VERDICT_NAMES}
    for k, per_cpu in bpf_syscall.map_items(fd, 4, 8, percpu=True):
        idx = int.from_bytes(k, "little")
        if idx < len(XDP_VERDICT_NAMES):
            verdicts[XDP_VERDICT_NAMES[idx]] = sum(int.from_bytes(v, "little")
                                                   for v in per_cpu)
    return verdicts


def commit_swap(dev: str, netns: str | None) -> None:
    """Finish a hot swap whose replace happened (call with the deployment lock held): rename
    the staged program and maps into place, unpin the maps the new version no longer has,
    write the new metadata, remove the journal. Idempotent."""
    from cora.runtime import pins
    from cora.runtime.swap import STAGED_DIR

    journal = pins.read_journal(dev, netns) or {}
    directory = Path(journal.get("pins") or pins.deployment_dir(dev, netns))
    staged = directory / STAGED_DIR
    if (staged / "maps").is_dir():
        for entry in sorted((staged / "maps").iterdir()):
            os.replace(entry, directory / "maps" / entry.name)
    if (staged / "prog").exists():
        os.replace(staged / "prog", directory / "prog")
    retire_to = journal.get("retire_to") or {}
    for name in journal.get("retire", []):
        if name in retire_to:
            keep_retired_copy(directory, name, Path(retire_to[name]),
                              journal.get("old_prog_id"))
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(directory / "maps" / name)
    pins.unpin_all(staged)
    if journal.get("meta_after"):
        write_state(pins.write_metadata, dev, netns, journal["meta_after"])
    fault_point("swap", "commit")
    pins.remove_journal(dev, netns)


def keep_retired_copy(directory, name: str, target, old_prog_id) -> None:
    """Keep the copy of merged counter ``name`` that a swap takes off the deployment in
    ``directory`` (its pin ``maps/<name>``) as a retired copy of the deployment in
    ``target`` (a stage that keeps the counter): rename the pin to
    ``target/retired/<name>/<old_prog_id>``, and move this deployment's own earlier retired
    copies of ``name`` there too, so that every retired copy of a counter sits with a stage
    holding it. Renames only (bpffs, one file system): no value is read or written, so
    adds still in flight from the old version land in the retired copy and are counted.
    Idempotent (a pin already moved is skipped): :func:`commit_swap` calls it, also when
    finishing an interrupted swap."""
    directory, target = Path(directory), Path(target)
    dest = target / RETIRED_DIR / name
    os.makedirs(dest, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.replace(directory / "maps" / name, dest / str(old_prog_id))
    own = directory / RETIRED_DIR / name
    if own.is_dir() and own.resolve() != dest.resolve():
        for entry in sorted(own.iterdir()):
            os.replace(entry, dest / entry.name)
        with contextlib.suppress(OSError):
            own.rmdir()


def retired_copies(directory, state) -> list[list[tuple[tuple[int, ...], tuple[int, ...]]]]:
    """Entries (dump form, :func:`cora.runtime.engine.map_entries`) of every retired copy of
    ``state`` (a :class:`cora.compiler.ir.StateDecl`) kept in the deployment ``directory``
    (:func:`keep_retired_copy`), one list per copy; ``[]`` when there is none.

    Raises:
        KernelError: a pin exists but cannot be opened.
    """
    from cora.runtime.bpf_syscall import obj_get
    from cora.runtime.engine import map_entries

    where = Path(directory) / RETIRED_DIR / state.name
    if not where.is_dir():
        return []
    out = []
    for entry in sorted(where.iterdir()):
        fd = obj_get(str(entry))
        try:
            out.append(map_entries(fd, state))
        finally:
            os.close(fd)
    return out


def recover_swap(dev: str, netns: str | None) -> str | None:
    """Finish or undo an interrupted hot swap on ``dev`` (call with the lock held): when the
    kernel runs the new program the swap is committed (:func:`commit_swap`), otherwise the
    staged pins are removed and the old deployment stays as it was.

    Returns:
        a sentence saying which, or None when no swap was interrupted.
    """
    from cora.runtime import attach, pins
    from cora.runtime.swap import STAGED_DIR

    journal = pins.read_journal(dev, netns)
    if journal is None or journal.get("op") != "swap":
        return None
    try:
        running = attach.xdp_attached(dev, netns)
    except EnvironmentProblem:
        running = None
    if running is not None and running == journal.get("new_prog_id"):
        commit_swap(dev, netns)
        return f"finished an interrupted hot swap on {_where(dev, netns)} (program {running})"
    pins.unpin_all(Path(journal.get("pins") or pins.deployment_dir(dev, netns)) / STAGED_DIR)
    pins.remove_journal(dev, netns)
    return (f"undid an interrupted hot swap on {_where(dev, netns)}: program "
            f"{journal.get('old_prog_id')} kept running")


def read_stats(dev: str, netns: str | None = None) -> dict:
    """Live verdict counters and map contents of a deployment (reads only).

    The host stage of a split deployment (:func:`deploy_stages`) also reads the NIC stage's
    copy of every merged counter (a counter both stages add to, ``counter_copies`` in the
    shim layout) and reports their sum per key, as the NF's value (see
    :func:`merged_counter_stages`). Every state read also gets the retired copies kept with
    this deployment and (split, host side) with the NIC stage added in
    (:func:`keep_retired_copy`): copies that plan changes took off a stage.

    Returns:
        ``{"nf", "dev", "netns", "prog_id", "attached": bool, "verdicts": {name: count}
        (None when deployed without counters),
        "maps": {NAME: [{"key": [...], "value": [...]}, ...]},
        "summed_copies": {NAME: [stage names whose copies were summed]},
        "retired_copies": {NAME: how many retired copies were added in},
        "host_clock": :func:`host_clock_status` of the NIC side or None}`` (map dump rules
        of :mod:`cora.runtime.engine`; ``summed_copies`` empty unless split;
        ``retired_copies`` empty unless a plan change took a merged counter off a stage).
    Raises:
        EnvironmentProblem: nothing (or only part of a deployment) there, saying which command
            to run; KernelError: pins unreadable.
    """
    from cora.runtime import attach, pins
    from cora.runtime.engine import dump_from_entries, map_entries, sum_entries
    from cora.targets.ebpf.maps import state_from_metadata

    meta = require_deployment(dev, netns)
    states = [state_from_metadata(m) for m in meta["layout"]["maps"]]
    with pins.open_pinned(pins.deployment_dir(dev, netns)) as pinned:
        verdicts = verdict_counts(pinned.maps.get(VERDICTS_MAP))
        entries = {s.name: map_entries(pinned.maps[s.name], s) for s in states}
    summed: dict[str, list[str]] = {}
    merged = merged_counter_stages(meta)
    peer = meta.get("nic_stage")
    retired: dict[str, int] = {}
    dirs = [pins.deployment_dir(dev, netns)]
    if peer:
        dirs.append(pins.deployment_dir(peer["dev"], peer.get("netns")))
    for s in states:
        copies = [rows for d in dirs for rows in retired_copies(d, s)]
        if copies:
            entries[s.name] = sum_entries([entries[s.name], *copies])
            retired[s.name] = len(copies)
    if peer and any("nic" in stages for stages in merged.values()):
        by_name = {s.name: s for s in states}
        require_deployment(peer["dev"], peer.get("netns"))
        with pins.open_pinned(pins.deployment_dir(peer["dev"], peer.get("netns"))) as nic:
            for name, stages in merged.items():
                if "nic" in stages and name in by_name and name in nic.maps:
                    entries[name] = sum_entries(
                        [entries[name], map_entries(nic.maps[name], by_name[name])])
                    summed[name] = stages
    try:
        attached_id = attach.xdp_attached(dev, netns)
    except EnvironmentProblem:
        attached_id = None
    nic_meta = meta if meta.get("clock_feed") else (
        pins.read_metadata(peer["dev"], peer.get("netns")) if peer else None)
    return {"nf": meta["nf"], "dev": dev, "netns": netns, "prog_id": meta.get("prog_id"),
            "attached": attached_id is not None and attached_id == meta.get("prog_id"),
            "verdicts": verdicts, **dump_from_entries(states, entries),
            "summed_copies": summed, "retired_copies": retired,
            "host_clock": host_clock_status(nic_meta)}


def host_clock_status(nic_meta: dict | None) -> dict | None:
    """The host-fed clock of a NIC side (its metadata's ``clock_feed``; None without one):
    ``{"map", "period_ns", "feeder_pid", "feeder_running": bool, "now_ns": slot 0 or None
    (no clock map in the current plan), "age_ms": how far it is behind CLOCK_MONOTONIC}``."""
    from cora.runtime import clock_feed

    feed = (nic_meta or {}).get("clock_feed")
    if not feed:
        return None
    value = clock_feed.read_clock(feed["map"])
    age = None if value is None else round((time.monotonic_ns() - value) / 1e6, 3)
    return {"map": feed["map"], "period_ns": feed["period_ns"], "feeder_pid": feed["pid"],
            "feeder_running": clock_feed.is_feeder(feed["pid"], feed["map"]),
            "now_ns": value, "age_ms": age}


def merged_counter_stages(meta: dict) -> dict[str, list[str]]:
    """Merged counters of a split deployment's host-side metadata: ``{state: [stage names
    holding a copy]}`` for every counter held on more than one stage (``counter_copies`` of
    the shim layout that :func:`deploy_stages` stores under ``"shim"``); ``{}`` for a
    deployment that is not split. The NF's value of such a counter is the sum of its copies
    (docs/offload.md, "Merged counters")."""
    stages_of: dict[str, list[str]] = {}
    for st in (meta.get("shim") or {}).get("stages", []):
        for name in st.get("counter_copies", []):
            stages_of.setdefault(name, []).append(st["stage"])
    return {name: stages for name, stages in stages_of.items() if len(stages) > 1}


def undeploy(dev: str, netns: str | None = None) -> dict:
    """Detach cora's program from ``dev`` and remove its pins and metadata (journaled; see
    the module docstring). Also finishes or undoes an interrupted deploy/undeploy there, and
    removes pins left without metadata.

    Tolerates partial state (interface or namespace gone, pins half removed). Never detaches
    a program that is not the one cora attached.

    Returns:
        ``{"detached": bool, "unpinned": [paths], "recovered": sentence or None}`` (plus
        ``"nic"``: the same for the NIC stage of a split deployment).
    Raises:
        EnvironmentProblem: nothing deployed there by cora; another cora process at work there.
    """
    from cora.runtime import pins
    from cora.signals import signals_raise

    directory = pins.deployment_dir(dev, netns)
    with signals_raise(), pins.deployment_lock(dev, netns):
        journal = pins.read_journal(dev, netns) or {}
        recovered = _recover(dev, netns)
        meta = pins.read_metadata(dev, netns)
        peer = (meta or journal.get("meta") or {}).get("nic_stage")
        if meta is None and not directory.exists():
            if recovered is None:
                require_deployment(dev, netns)  # raises "nothing is deployed"
            return _undeploy_peer({"detached": False, "unpinned": [], "recovered": recovered},
                                  peer)
        if meta is not None:
            prog_id = meta.get("prog_id")
            write_state(pins.write_journal, dev, netns, {
                "op": "undeploy", "dev": dev, "netns": netns, "prog_id": prog_id,
                "meta": meta, "pid": os.getpid(), "started_unix": time.time()})
        else:  # pins only (an older cora was killed while deploying): only its own program
            prog_id = pins.pinned_prog_id(directory)
            recovered = f"removed pins left without metadata at {directory}"
        fault_point("undeploy", "journal")
        first = [True]

        def _after_unpin(path: str) -> None:
            if first[0]:
                first[0] = False
                fault_point("undeploy", "unpin_one")

        detached, removed = _take_down(dev, netns, prog_id, directory, _after_unpin)
        stop_clock_feed(meta)
        fault_point("undeploy", "done")
    return _undeploy_peer({"detached": detached, "unpinned": removed, "recovered": recovered},
                          peer)


def _undeploy_peer(out: dict, peer: dict | None) -> dict:
    """A split deployment: take the NIC stage ``peer`` (``{"dev", "netns"}``) down too."""
    if peer and deployment_status(peer["dev"], peer.get("netns")) != "none":
        sub = undeploy(peer["dev"], peer.get("netns"))
        out["nic"] = sub
        out["unpinned"] = out["unpinned"] + sub["unpinned"]
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
        links = {link.get_attr("IFLA_IFNAME"): link["index"] for link in ip.get_links()}
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
                  mode: str = "native", live_profile: int = 0) -> dict:
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
        live_profile: live-profile counters on both stages (see :func:`deploy`).

    When the plan's NIC model has a host-fed clock (``host_clock_period_ns``, Agilio), the
    NIC stage's ``now()`` reads the map ``cora_nic_clock``: it starts at the deploy's time
    and a detached feeder (:mod:`cora.runtime.clock_feed`, recorded in the NIC metadata as
    ``clock_feed``) keeps writing it until :func:`undeploy`.
    Returns:
        ``{"nic": metadata, "host": metadata, "stages": [stage names]}``.
    Raises:
        SplitError: the plan does not fit; CoraError: the plan has a user-space stage (not
        deployable yet); EnvironmentProblem / KernelError as :func:`deploy`.
    """
    from cora.compiler.offload.split import CLOCK_STATE, nic_model_of, split
    from cora.errors import CoraError
    from cora.runtime import clock_feed

    result = split(program, plan)
    by_stage = {st.stage: st for st in result.stages}
    if "user" in by_stage:
        raise CoraError("the plan puts blocks in user space; deploying a user-space (AF_XDP) "
                        "stage is not supported yet: plan without --cores limits that force "
                        "user space, or run the stages with cora.runtime.stages")
    fwd = _nic_forward_ifindex(nic_dev, nic_netns, nic_forward)
    nic_prog = by_stage["nic"].program if "nic" in by_stage else \
        passthrough_program(f"{program.name}_nic_fwd")
    clock = by_stage["nic"].clock_state if "nic" in by_stage else None
    clock_feed.seed_clock(nic_prog, clock)   # the deploy's time, until the feeder's first tick
    host_prog = by_stage["kernel"].program if "kernel" in by_stage else \
        passthrough_program(f"{program.name}_host_rx")
    nic_meta = deploy(nic_prog, nic_dev, nic_netns, mode, pass_redirect_ifindex=fwd,
                      extra={"stage": "nic", "emulated": True, "forward_ifindex": fwd},
                      live_profile=live_profile)
    try:
        host_meta = deploy(host_prog, dev, netns, mode, extra={
            "stage": "kernel", "nic_stage": {"dev": nic_dev, "netns": nic_netns},
            "shim": result.layout_json(program.name)}, live_profile=live_profile)
    except BaseException:
        undeploy(nic_dev, nic_netns)
        raise
    model = nic_model_of(plan)
    if model is not None and model.host_clock_period_ns:
        # also when this plan reads no clock on the NIC: a later plan change may (the
        # feeder writes nothing while the map is absent)
        nic_meta = _start_clock_feed(model.host_clock_period_ns, nic_dev, nic_netns,
                                     nic_meta, clock or CLOCK_STATE)
    return {"nic": nic_meta, "host": host_meta, "stages": [st.stage for st in result.stages]}


def _start_clock_feed(period_ns: int, nic_dev: str, nic_netns: str | None, nic_meta: dict,
                      clock: str) -> dict:
    """Start the feeder of the NIC stage's host-fed clock (:mod:`cora.runtime.clock_feed`)
    every ``period_ns`` and record it in the NIC side's metadata (``"clock_feed"``: map
    path, period, pid). Returns the new metadata."""
    from cora.runtime import clock_feed, pins

    path = str(Path(nic_meta["pins"]) / "maps" / clock)
    pid = clock_feed.start(path, period_ns)
    meta = {**(pins.read_metadata(nic_dev, nic_netns) or nic_meta),
            "clock_feed": {"map": path, "period_ns": period_ns, "pid": pid}}
    write_state(pins.write_metadata, nic_dev, nic_netns,
                {k: v for k, v in meta.items() if k != "recovered"})
    return {**meta, "recovered": nic_meta.get("recovered")}


def stop_clock_feed(meta: dict | None) -> bool:
    """End the clock feeder a NIC side's metadata names (if it still runs); True if one was
    signalled. It would stop by itself once the deployment's pins are gone."""
    from cora.runtime import clock_feed

    feed = (meta or {}).get("clock_feed")
    if not feed or not isinstance(feed.get("pid"), int):
        return False
    return clock_feed.stop(feed["pid"], feed.get("map"))
