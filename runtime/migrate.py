"""State migration: move a state object's entries into another map while traffic flows,
losing no entry and no update.

When a plan moves a state object to another stage (emulated NIC <-> host kernel), the new
owner has its own map and the entries must follow. :func:`move_state` does it in four
phases on the deployment that becomes the owner (protocol and correctness argument in
docs/runtime.md, "State migration"):

1. **read-through swap.** The new program is swapped in (:func:`cora.runtime.swap.swap_program`,
   atomic) with a fresh, empty map for the state and a second map reference ``<map>_rt``
   relocated to the *source* map. On a lookup miss the program looks the key up in the
   source and, if found, inserts that entry into its own map (``BPF_NOEXIST``) and uses it;
   a delete removes the key from both maps. From the swap on, every update of the state
   lands in the new map, on an entry that carries every earlier update.
2. **grace period.** ``membarrier(MEMBARRIER_CMD_GLOBAL)`` (``synchronize_rcu``): every run
   of an earlier program version that could still write the source has finished, so from
   now on only the new version's delete-through writes the source.
3. **copy.** Userspace copies each remaining source entry into the new map with
   ``BPF_NOEXIST`` (an entry the program took over already is newer and wins); when the
   source entry vanished meanwhile (a delete-through), the copy is removed again if it is
   still the copied value.
4. **retire.** The program is swapped once more for the same code without read-through
   (every map kept) and, after another grace period, nothing references the source.

Only hash-kind states (IR kinds ``hash``, ``lru_hash``: the language's ``map``, ``lru_map``)
move this way; an array has no miss to read
through (see docs/runtime.md).
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cora.errors import CoraError
from cora.runtime.swap import READ_THROUGH_KINDS
from cora.targets.ebpf.maps import key_size, value_size

#: state kinds :func:`move_state` moves (a lookup can miss)
MOVABLE_KINDS = READ_THROUGH_KINDS


class UnmovableState(CoraError):
    """A plan change would move a state that cannot move with its values (an array: every
    index exists, so there is no miss to read through on); the change is refused for good."""


@dataclass
class MigrationReport:
    """What one :func:`move_state` did.

    Attributes:
        states: the moved state names.
        taken_over: state -> entries the program had taken over on a miss before the copy.
        copied: state -> entries the copy phase inserted.
        phase_ns: phase name (read_through_swap, grace, copy, retire_swap) -> ns.
        swaps: the two :class:`~cora.runtime.swap.SwapReport` as dicts.
    """

    states: list[str]
    taken_over: dict[str, int] = field(default_factory=dict)
    copied: dict[str, int] = field(default_factory=dict)
    phase_ns: dict[str, int] = field(default_factory=dict)
    swaps: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        """JSON-ready dict of every attribute."""
        return asdict(self)


def copy_missing(src_fd: int, dst_fd: int, state, new_state=None) -> int:
    """Phase 3: copy every entry of ``src_fd`` that ``dst_fd`` lacks (``BPF_NOEXIST``);
    undo a copy whose source entry was deleted meanwhile (and that nobody changed since).

    Args:
        src_fd: a hash-kind map holding ``state``; dst_fd: one holding ``new_state``
            (default: the same layout); values are converted by field name
            (:func:`cora.runtime.swap.convert_value`).
    Returns:
        entries copied and kept.
    """
    from cora.errors import KernelError
    from cora.runtime import bpf_syscall as bs
    from cora.runtime.swap import convert_value
    from cora.targets.ebpf.maps import key_size, pack_value, unpack_value, value_size

    new_state = new_state or state
    ks, vs = key_size(state), value_size(state)
    copied = 0
    for key, raw in bs.map_items(src_fd, ks, vs):
        value = raw if new_state is state else pack_value(
            new_state, convert_value(state, new_state, unpack_value(state, raw)))
        try:
            bs.map_update(dst_fd, key, value, bs.BPF_NOEXIST)
        except KernelError:
            continue  # taken over (or created) by the program: its entry is newer
        if bs.map_lookup(src_fd, key, vs) is None and \
                bs.map_lookup(dst_fd, key, value_size(new_state)) == value:
            bs.map_delete(dst_fd, key)  # deleted by the program while we copied
            continue
        copied += 1
    return copied


class PreparedMove:
    """A :func:`move_state` made ready: both of its swaps prepared ahead (compiled, verified,
    loaded; nothing pinned, journaled or locked, see
    :class:`cora.runtime.swap.PreparedSwap`): the read-through version against the live
    maps and the source maps' fds, the retire version against the maps the read-through
    version will leave (``base``). :meth:`commit` then runs the four phases with no compile
    left: replace, grace period, copy, replace. :meth:`close` releases everything (a move
    never committed leaves the deployments as they were).

    Args:
        as :func:`move_state`; ``handover_tag``: as :class:`cora.runtime.swap.PreparedSwap`
            (both versions); ``retire_to``: as :class:`cora.runtime.swap.PreparedSwap`
            (the read-through swap, which retires the maps the stage no longer has);
            ``meta_extra``: as :class:`cora.runtime.swap.PreparedSwap` (both versions).
    Attributes:
        load_ns: compile + verifier load of both versions, ns.
    Raises:
        as :func:`move_state` (nothing changed when the constructor raises).
    """

    def __init__(self, dev: str, netns: str | None, program,
                 sources: dict[str, int | str | Path], nf_source: str | None = None,
                 handover_tag: int | None = None,
                 retire_to: dict[str, str | Path] | None = None,
                 meta_extra: dict | None = None):
        from cora.runtime import bpf_syscall as bs
        from cora.runtime.swap import prepare_swap

        self.dev, self.netns, self.program = dev, netns, program
        self.states = {s.name: s for s in program.states}
        for name in sources:
            if name not in self.states:
                raise CoraError(f"cannot move state {name}: {program.name} has no such state")
            if self.states[name].kind not in MOVABLE_KINDS:
                raise UnmovableState(f"cannot move state {name} ({self.states[name].kind}): only "
                                f"{' and '.join(MOVABLE_KINDS)} states move by read-through")
        self.fds: dict[str, int] = {}
        self._owned: list[int] = []
        self.first = self.second = None
        try:
            for name, src in sources.items():
                if isinstance(src, int):
                    self.fds[name] = src
                else:
                    fd = bs.obj_get(str(src))
                    self._owned.append(fd)
                    self.fds[name] = fd
            self.first = prepare_swap(dev, netns, program, read_through=self.fds,
                                      nf_source=nf_source, handover_tag=handover_tag,
                                      retire_to=retire_to, meta_extra=meta_extra)
            self.second = prepare_swap(dev, netns, program, nf_source=nf_source,
                                       base=self.first, handover_tag=handover_tag)
            self.load_ns = self.first.load_ns + self.second.load_ns
        except BaseException:
            self.close()
            raise

    def commit(self, ip=None) -> MigrationReport:
        """Run the four phases (module docstring) with the prepared programs (``ip``: an
        open rtnetlink socket in the namespace, see :func:`cora.runtime.swap.replace_xdp`).

        Returns:
            a :class:`MigrationReport`.
        Raises:
            as :func:`move_state`.
        """
        report = self.take_over(ip)
        return self.retire(report, ip)

    def take_over(self, ip=None, attached_fd: int | None = None) -> MigrationReport:
        """Phases 1-3 (read-through swap, grace period, copy): from its return the new
        version runs and owns every entry; the retire swap (:meth:`retire`) may follow later
        (the read-through version is correct for as long as it runs). ``ip`` as
        :meth:`commit`; ``attached_fd`` as :meth:`cora.runtime.swap.PreparedSwap.commit`.

        Returns:
            the :class:`MigrationReport` so far (``retire_swap`` not yet in ``phase_ns``).
        Raises:
            as :func:`move_state`.
        """
        return self.copy_in(self.swap_in(ip, attached_fd))

    def swap_in(self, ip=None, attached_fd: int | None = None) -> MigrationReport:
        """Phase 1 alone: the read-through swap. From its return the new version runs; the
        grace period and the copy (:meth:`copy_in`) must follow once no program but this
        deployment's writes the sources any more (a lock-step handover between two stages
        calls it after the drain, :mod:`cora.runtime.handover`).

        Returns:
            the :class:`MigrationReport` so far (``read_through_swap`` in ``phase_ns``).
        Raises:
            as :func:`move_state`.
        """
        assert self.first is not None and self.second is not None
        report = MigrationReport(states=sorted(self.fds))
        t0 = time.perf_counter_ns()
        report.swaps.append(self.first.commit(ip, attached_fd).to_json())
        report.phase_ns = {"read_through_swap": time.perf_counter_ns() - t0}
        return report

    def copy_in(self, report: MigrationReport) -> MigrationReport:
        """Phases 2-3 after :meth:`swap_in`: grace period, then copy every source entry
        not taken over yet.

        Returns:
            ``report`` with ``taken_over``, ``copied`` and their ``phase_ns`` added.
        """
        from cora.runtime import bpf_syscall as bs
        from cora.runtime.swap import grace_period

        assert self.first is not None
        t1 = time.perf_counter_ns()
        grace_period()
        t2 = time.perf_counter_ns()
        own = self.first.loaded
        assert own is not None
        for name, src_fd in self.fds.items():
            st = self.states[name]
            report.taken_over[name] = len(bs.map_items(own.map_fds[name], key_size(st),
                                                       value_size(st)))
            report.copied[name] = copy_missing(src_fd, own.map_fds[name], st)
        t3 = time.perf_counter_ns()
        report.phase_ns.update({"grace": t2 - t1, "copy": t3 - t2})
        return report

    def retire(self, report: MigrationReport, ip=None) -> MigrationReport:
        """Phase 4 after :meth:`take_over`: swap in the version without read-through.

        Returns:
            ``report`` with the retire swap and ``phase_ns["retire_swap"]`` added.
        Raises:
            as :func:`move_state`.
        """
        from cora.runtime.swap import grace_period

        assert self.second is not None
        t3 = time.perf_counter_ns()
        report.swaps.append(self.second.commit(ip).to_json())
        grace_period()
        report.phase_ns["retire_swap"] = time.perf_counter_ns() - t3
        return report

    def close(self) -> None:
        """Release both prepared swaps and the source fds opened here. Idempotent."""
        for ps in (self.second, self.first):
            if ps is not None:
                ps.close()
        self.first = self.second = None
        for fd in self._owned:
            os.close(fd)
        self._owned = []

    def __enter__(self) -> PreparedMove:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def move_state(dev: str, netns: str | None, program, sources: dict[str, int | str | Path],
               nf_source: str | None = None) -> MigrationReport:
    """Move states into the deployment on ``dev`` (which runs, or will run, ``program``)
    from the maps ``sources`` while traffic flows (the four phases of the module docstring;
    both versions are compiled first: :class:`PreparedMove`).

    Args:
        dev, netns: a complete deployment; ``program``: the program it runs afterwards.
        sources: state name -> the source map: an fd, or a pin path (e.g. the NIC stage's
            ``/sys/fs/bpf/cora/<ns>/<if>/maps/<state>``). Precondition: once phase 1 has
            swapped, no program but this deployment's writes a source map (the source's
            previous owner has been swapped out or is this deployment's previous version).
    Returns:
        a :class:`MigrationReport`.
    Raises:
        CoraError: a state is not in ``program`` or is not a hash kind.
        LayoutMismatch / EnvironmentProblem / KernelError: as
            :func:`cora.runtime.swap.swap_program` (a failure in phase 1 leaves the old
            deployment running; after it, the read-through version keeps running and the
            source stays pinned, so the move can be finished by calling again).
    """
    with PreparedMove(dev, netns, program, sources, nf_source) as pm:
        return pm.commit()
