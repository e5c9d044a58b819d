"""Lock-step handover of a plan change between two stages (emulated NIC -> host kernel).

A split deployment runs an upstream stage (the emulated NIC, an XDP program whose ``pass``
is redirected to the host) and a downstream stage (the host's XDP program). A plan change
replaces both. Frames that the old NIC version handed on and that are still queued toward
the host need the *old* host version (they carry the old plan's shim, or none); frames of the
new NIC version need the new one. Replacing the two programs one after the other always
leaves a gap in which one kind meets the wrong host version. The handover closes it
(protocol and correctness argument: docs/runtime.md, "Lock-step handover"):

1. **tag.** The new NIC version is compiled with a handover tag, a random non-zero u32 per
   plan change, that it writes into 4 bytes of XDP metadata in front of every frame it hands
   on (:class:`cora.targets.xdp.hook.XdpHook` ``pass_meta_tag``). The metadata travels with
   the frame through the redirect to the host (the veth keeps ``metasize`` in its
   ``xdp_frame``) and is not part of the frame, so a host program that does not look at it
   is unaffected.
2. **dispatcher first.** :class:`Handover` is a small XDP program, loaded ahead with a
   two-slot ``BPF_MAP_TYPE_PROG_ARRAY``: slot 0 the host program running now (the old
   version), slot 1 the new host version (prepared, not attached). For each frame it
   tail-calls slot 1 when the metadata holds the tag, else slot 0. It replaces the old host
   program atomically (:meth:`engage`); until the NIC changes nothing carries the tag, so it
   behaves exactly as the old version did.
3. **NIC.** The NIC's new version is committed (one atomic replace): every frame it hands
   on is tagged and the dispatcher runs it with the new host version; every frame the old
   NIC version handed on runs, untagged, with the old host version. Each frame meets one
   plan on both stages.
4. **drain.** :meth:`drain` waits until the host's verdict counters (every program version:
   the counters are shared, and the dispatcher counts nothing itself) have counted as many
   frames as the NIC had passed when the wait started (the link between the stages is FIFO
   and loses nothing); then an RCU grace period. From here no old-version frame is left.
5. **host.** The new host version replaces the dispatcher (the host commit with the
   dispatcher as the expected program), and the dispatcher is unloaded (:meth:`close`).

A written state that the plan moves between the stages goes with the migration protocol of
:mod:`cora.runtime.migrate`, with its copy phase after the drain (step 4). For a move *up*
(host -> NIC) the old host version that the dispatcher runs is not the pinned program but the
same code loaded against the NIC's new map for the moved state, read through from the host's
map (:func:`load_old_version`): old-plan frames still queued toward the host and new-plan
frames on the NIC then update one map, so no update is lost to a take-over that ran before
an older frame of the same key reached the host.
"""

from __future__ import annotations

import contextlib
import os
import time

from cora.errors import CoraError, KernelError

#: Entry function of the dispatcher program.
HANDOVER_ENTRY = "cora_handover"
#: The dispatcher's prog array (slot 0: old host version, slot 1: new) and its counters
#: (slot 0: frames run with the old version, slot 1: with the new one).
PROGS_MAP = "cora_handover_progs"
SEEN_MAP = "cora_handover_seen"
#: Pin of the dispatcher's prog array in the host deployment's directory while it is
#: engaged: a prog array is emptied when its last user reference (fd or pin) goes, so the pin
#: keeps an engaged dispatcher working if the process holding it dies (``cora undeploy``
#: removes it with the deployment's other pins).
PROGS_PIN = "handover_progs"
#: Pin of the dispatcher program itself while engaged (``cora undeploy`` detaches the
#: program pinned there too: :func:`cora.runtime.deploy.undeploy`).
PROG_PIN = "handover_prog"
#: Default bound on :meth:`Handover.drain`, seconds (the link queues at most a ring of
#: frames: microseconds at these rates; the bound only ends a wait for frames that were lost).
DRAIN_TIMEOUT_S = 5.0

_C = r"""
BPF_PROG_ARRAY(cora_handover_progs, 2);
BPF_PERCPU_ARRAY(cora_handover_seen, u64, 2);
int cora_handover(struct xdp_md *ctx) {
    void *data = (void *)(long)ctx->data;
    void *meta = (void *)(long)ctx->data_meta;
    u32 slot = 0;
    if (meta + 4 <= data && *(u32 *)meta == TAGu)
        slot = 1;
    u64 *n = cora_handover_seen.lookup(&slot);
    if (n)
        *n += 1;
    cora_handover_progs.call(ctx, slot);
    return XDP_ABORTED; /* not reached: both slots are filled before it is attached */
}
"""


def new_tag() -> int:
    """A random non-zero u32 handover tag (one per plan change)."""
    return int.from_bytes(os.urandom(4), "little") | 1


class Handover:
    """The host-side dispatcher of one lock-step plan change (module docstring), loaded
    ahead: nothing is attached until :meth:`engage`.

    Args:
        dev, netns: the host stage's deployment.
        tag: the u32 the new NIC version writes into the metadata (:func:`new_tag`).
        new_prog_fd: the new host version (a prepared swap's loaded program; it stays the
            caller's).
        old_program, moved_up: for a plan that moves states host -> NIC: the host stage's
            running program (IR) and state name -> (fd of the NIC's new map, fd of the host's
            map); the dispatcher then runs :func:`load_old_version` of them for untagged
            frames instead of the pinned program. Both None: the pinned program.
    Attributes:
        prog_fd: the dispatcher; old_prog_fd: the host program running at preparation (its
            pin), which the dispatcher runs for untagged frames and :meth:`engage` expects.
    Raises:
        EnvironmentProblem: no deployment on ``dev``, no root or no bcc.
        KernelError: the kernel refused the dispatcher.
    """

    def __init__(self, dev: str, netns: str | None, tag: int, new_prog_fd: int,
                 old_program=None, moved_up: dict[str, tuple[int, int]] | None = None):
        from cora.compiler.ir import Program
        from cora.runtime import bpf_syscall as bs
        from cora.runtime.deploy import require_deployment
        from cora.runtime.loader import load_xdp
        from cora.targets.base import Artifact

        self.dev, self.netns, self.tag = dev, netns, tag & 0xFFFFFFFF
        self.meta = require_deployment(dev, netns)
        self.loaded = None
        self.old_version = None
        self.old_prog_fd = -1
        self.engaged = False
        try:
            self.old_prog_fd = bs.obj_get(str(os.path.join(self.meta["pins"], "prog")))
            run_old = self.old_prog_fd
            if moved_up:
                self.old_version = load_old_version(self.meta, old_program, moved_up)
                run_old = self.old_version.prog_fd
            src = _C.replace("TAGu", f"{self.tag}u")
            artifact = Artifact("xdp", Program(HANDOVER_ENTRY), {"prog.c": src},
                                HANDOVER_ENTRY, {}, {"frags": True})
            self.loaded = load_xdp(artifact)
            self.prog_fd = self.loaded.prog_fd
            progs = self.loaded.map_fd(PROGS_MAP)
            for slot, fd in ((0, run_old), (1, new_prog_fd)):
                bs.map_update(progs, slot.to_bytes(4, "little"), fd.to_bytes(4, "little"))
        except BaseException:
            self.close()
            raise

    def engage(self, ip=None) -> int:
        """Replace the host program by the dispatcher (atomic; expects the program that ran
        at preparation). Returns the rtnetlink request's ns.

        Raises:
            KernelError: the host runs another program now (nothing changed).
        """
        from cora.runtime.bpf_syscall import obj_pin, prog_info
        from cora.runtime.swap import replace_xdp

        assert self.loaded is not None
        pin = self._pin()
        for path in (pin, pin.with_name(PROG_PIN)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)  # a dispatcher of an earlier handover
        obj_pin(self.loaded.map_fd(PROGS_MAP), str(pin))
        obj_pin(self.prog_fd, str(pin.with_name(PROG_PIN)))
        try:
            attached, ns = replace_xdp(self.prog_fd, self.dev, self.netns,
                                       self.meta.get("mode", "native"), self.old_prog_fd,
                                       ip=ip)
        except BaseException:
            os.unlink(pin)
            os.unlink(pin.with_name(PROG_PIN))
            raise
        self.engaged = True

        if attached != prog_info(self.prog_fd).id:
            raise KernelError(f"after engaging the handover {self.dev} runs program id "
                              f"{attached}, not the dispatcher")
        return ns

    def disengage(self, ip=None) -> None:
        """Put the old host program back in place of the dispatcher (a plan change that
        failed after :meth:`engage`); nothing to do when not engaged."""
        from cora.runtime.swap import replace_xdp

        if self.engaged:
            replace_xdp(self.old_prog_fd, self.dev, self.netns,
                        self.meta.get("mode", "native"), self.prog_fd, ip=ip)
            self.finished()

    def finished(self) -> None:
        """The dispatcher is no longer attached (the host commit replaced it): drop its
        prog array's pin."""
        self.engaged = False
        for path in (self._pin(), self._pin().with_name(PROG_PIN)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def _pin(self):
        from pathlib import Path

        return Path(self.meta["pins"]) / PROGS_PIN

    def seen(self) -> tuple[int, int]:
        """(frames the dispatcher ran with the old host version, with the new one)."""
        from cora.runtime import bpf_syscall as bs

        assert self.loaded is not None
        fd = self.loaded.map_fd(SEEN_MAP)
        out = []
        for slot in (0, 1):
            raw = bs.map_lookup(fd, slot.to_bytes(4, "little"), 8, percpu=True)
            out.append(sum(int.from_bytes(v, "little") for v in raw or []))
        return out[0], out[1]

    def drain(self, nic_dev: str, nic_netns: str | None,
              timeout_s: float = DRAIN_TIMEOUT_S) -> float:
        """Step 4: wait until the dispatcher has run a tagged frame (the link is FIFO: every
        frame the old NIC version passed ran before it) or, while none has come, until the
        host stage has counted (verdict counters, every version) as many frames as the NIC
        stage had passed when the wait started; then an RCU grace period. Call after the
        NIC's new version is attached. Returns the seconds waited.

        Raises:
            CoraError: not drained within ``timeout_s`` (frames lost between the stages, or
                a stage deployed without verdict counters).
        """
        from cora.runtime.swap import grace_period

        t0 = time.perf_counter()
        grace_period()  # no run of the old NIC version is still going: it passed them all
        target = _verdict_total(nic_dev, nic_netns, only="pass")
        deadline = time.monotonic() + timeout_s
        # a tagged frame seen by the dispatcher: FIFO, every older frame ran before it (exact
        # whatever else reaches the host); else (no new frame yet) the counts
        while self.seen()[1] == 0 and _verdict_total(self.dev, self.netns) < target:
            if time.monotonic() > deadline:
                raise CoraError(f"the handover did not drain in {timeout_s:g} s: the host "
                                f"stage on {self.dev} counted fewer frames than the NIC "
                                f"stage passed ({target})")
            time.sleep(0.0005)
        grace_period()  # every host run counted above has returned
        return time.perf_counter() - t0

    def close(self) -> None:
        """Release the dispatcher and the old program's fd. Idempotent. A dispatcher still
        engaged (the host commit failed) keeps running from its pinned prog array: every
        frame still runs with the version of its plan."""
        if self.loaded is not None:
            self.loaded.close()
            self.loaded = None
        if self.old_version is not None:
            self.old_version.close()
            self.old_version = None
        if self.old_prog_fd >= 0:
            os.close(self.old_prog_fd)
            self.old_prog_fd = -1

    def __enter__(self) -> Handover:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_old_version(meta: dict, program, moved_up: dict[str, tuple[int, int]]):
    """The host stage's running ``program`` loaded once more against its deployment's pinned
    maps (``meta``: its metadata), except each state of ``moved_up`` (name -> (own map fd,
    read-through source fd)): that one uses the given map with read-through from the source
    (the NIC's new map and the host's own, during a host -> NIC move). Returns the
    :class:`cora.runtime.loader.LoadedProgram` (close it).

    Raises:
        EnvironmentProblem / KernelError: as :func:`cora.runtime.loader.load_xdp`.
    """
    from pathlib import Path

    from cora.runtime import pins
    from cora.runtime.deploy import VERDICTS_MAP
    from cora.runtime.loader import load_xdp
    from cora.targets.ebpf.emit import map_c_name
    from cora.targets.ebpf.liveprof import PROFILE_MAP
    from cora.targets.xdp import XdpTarget

    stats = bool(meta.get("stats", True))
    live = int((meta.get("live_profile") or {}).get("sample_every", 0))
    artifact = XdpTarget().generate(program, count_verdicts=stats,
                                    read_through=frozenset(moved_up), live_profile=live)
    with pins.open_pinned(Path(meta["pins"])) as pinned:
        reuse = {map_c_name(st): pinned.maps[st.name] for st in program.states
                 if st.name not in moved_up and st.name in pinned.maps}
        for name in (VERDICTS_MAP, PROFILE_MAP):
            if name in pinned.maps:
                reuse[name] = pinned.maps[name]
        for st in program.states:
            if st.name in moved_up:
                reuse[map_c_name(st)], reuse[f"{map_c_name(st)}_rt"] = moved_up[st.name]
        return load_xdp(artifact, reuse)


def _verdict_total(dev: str, netns: str | None, only: str | None = None) -> int:
    """Frames a deployment's verdict counters hold (every version), or only verdict ``only``.

    Raises:
        CoraError: the deployment keeps no verdict counters.
    """
    from cora.runtime import bpf_syscall as bs
    from cora.runtime import pins
    from cora.runtime.deploy import VERDICTS_MAP, verdict_counts

    fd = bs.obj_get(str(pins.deployment_dir(dev, netns) / "maps" / VERDICTS_MAP))
    try:
        counts = verdict_counts(fd) or {}
    finally:
        os.close(fd)
    if not counts:
        raise CoraError(f"the deployment on {dev} keeps no verdict counters: no handover")
    return counts.get(only, 0) if only else sum(counts.values())
