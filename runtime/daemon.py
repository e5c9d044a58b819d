"""The runtime daemon (``cora runtime start``): watch live traffic, re-plan, swap; crash-only.

Crash-only: every piece of state lives in the kernel (the deployment's pinned programs and
maps, its live-profile counters ``cora_prof``) or in files under ``/run/cora`` (the
deployment metadata of :mod:`cora.runtime.deploy`, and the daemon's own files under
``/run/cora/runtime/<netns|root>/``: ``<dev>.state.json`` (the plan running now),
``<dev>.history.jsonl`` (one decision a line), ``<dev>.prom`` (Prometheus text format),
``<dev>.sock`` (control socket, mode 0600) and ``<dev>.lock``). Nothing the daemon holds in
memory is needed by the dataplane, so:

- ``kill -9`` leaves the dataplane forwarding under the last plan (XDP programs stay attached
  and pinned without any process);
- starting again *re-adopts* the running deployment: it finds the metadata, the plan in
  ``state.json`` and the pinned counters, and goes on (no reload; every map entry stays);
- SIGTERM/SIGINT end the daemon and leave the dataplane (``--teardown-on-exit``: undeploy);
- a second daemon for the same device refuses to start: ``flock`` on ``<dev>.lock``, which
  the kernel releases when its holder dies, so a SIGKILLed daemon never leaves a stale lock.

Each window (``--interval``, default 1 s) the daemon reads every stage's counters, builds the
window's profile (:func:`cora.runtime.live_profile.from_live_counters`), asks the
:class:`cora.runtime.daemon_policy.Replanner` and, on ``adopt`` for a split deployment,
hot-swaps each stage's program (:func:`cora.runtime.swap.prepare_swap` then ``commit``;
the NIC stage first). One log line per event on stderr (``key=value``; journald keeps them),
decisions appended to the history file, figures written in the Prometheus text format
(textfile-collector file, and optionally ``--metrics-port`` on 127.0.0.1).

Control protocol (:func:`control_request`): one JSON object per line over the Unix socket,
``{"cmd": "status"|"history"|"replan"|"stop"}``; the reply is one JSON object,
``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}`` for anything malformed (never a
crash of the daemon).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from cora.errors import CoraError, EnvironmentProblem, InputError, KernelError

#: the daemon's directory (below it one directory per namespace, ``root`` for none)
RUNTIME_DIR = Path("/run/cora/runtime")
#: longest control request accepted, bytes
MAX_REQUEST_BYTES = 64 * 1024
#: decisions kept in memory and reloaded from the history file on restart
HISTORY_KEEP = 1000
COMMANDS = ("status", "history", "replan", "stop")
#: label the daemon gives the block of a pass-through stage when reading its counters (no NF
#: block has it: NF labels are identifiers without a dot)
PASSTHROUGH_LABEL = "pass.through"
#: candidate plans kept prepared ahead (each holds its loaded programs and new maps)
PREPARED_CAPACITY = 3


@dataclass(frozen=True)
class RuntimePaths:
    """The daemon's files for one device (see the module docstring)."""

    lock: Path
    sock: Path
    state: Path
    history: Path
    prom: Path
    log: Path


def runtime_paths(dev: str, netns: str | None = None, base: Path | None = None) -> RuntimePaths:
    """The daemon's files for ``dev`` (namespace ``netns``) under ``base`` (default
    :data:`RUNTIME_DIR`).

    Raises:
        EnvironmentProblem: a bad interface or namespace name.
    """
    from cora.runtime.pins import deployment_dir

    deployment_dir(dev, netns)  # checks the names
    d = (base or RUNTIME_DIR) / (netns or "root")
    return RuntimePaths(*(d / f"{dev}.{ext}" for ext in
                          ("lock", "sock", "state.json", "history.jsonl", "prom", "log")))


_log_fd: list[int] = []


def _log_write(line: str) -> None:
    """Write to a duplicate of stderr made at the first call: the loader redirects fd 2
    while bcc compiles (to capture its messages), and a compile ahead runs in a background
    thread, so lines written to fd 2 meanwhile would land in that capture."""
    if not _log_fd:
        sys.stderr.flush()
        _log_fd.append(os.dup(2))
    os.write(_log_fd[0], line.encode(errors="replace"))


def log_event(event: str, **fields: Any) -> None:
    """One journald-friendly line on stderr: ``cora-runtime: event=E k=v ...`` (strings with
    spaces quoted)."""
    parts = [f"event={event}"]
    for k, v in fields.items():
        if isinstance(v, float):
            v = f"{v:.6g}"
        v = str(v)
        parts.append(f'{k}="{v}"' if (" " in v or not v) else f"{k}={v}")
    _log_write("cora-runtime: " + " ".join(parts) + "\n")


class DaemonLock:
    """``flock`` on the lock file: one daemon per device (released by the kernel when the
    holder dies).

    Raises (:meth:`acquire`): EnvironmentProblem naming the running daemon's pid.
    """

    def __init__(self, path: Path, dev: str):
        self.path, self.dev, self.fd = path, dev, -1

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise EnvironmentProblem(f"a cora runtime daemon (pid {holder}) already runs for "
                                     f"{self.dev}: stop it first (`cora runtime stop --dev "
                                     f"{self.dev}`)") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


@dataclass
class DaemonOptions:
    """What ``cora runtime start`` was given.

    Attributes:
        nf: NF source path; dev/netns: the host interface; nic_dev/nic_netns/nic_forward:
            the emulated NIC stage (None: the whole NF on ``dev``, plans are advisory);
        plan_path: a ``cora plan --json`` file to deploy (default: all on the host);
        nic_model: stage model of the NIC (``agilio``, ``bluefield2``);
        sample_every: live-profile sampling N; settings: the policy knobs;
        teardown_on_exit: undeploy on SIGTERM/stop; metrics_port: also serve the metrics
            on 127.0.0.1:PORT (0: no); textfile: Prometheus textfile path (default
            ``<dev>.prom`` in the runtime directory); max_windows: stop after this many
            windows (0: run until stopped); mode: XDP attach mode.
    """

    nf: str
    dev: str
    netns: str | None = None
    nic_dev: str | None = None
    nic_netns: str | None = None
    nic_forward: str | None = None
    plan_path: str | None = None
    nic_model: str = "bluefield2"
    sample_every: int = 1
    settings: Any = None
    teardown_on_exit: bool = False
    metrics_port: int = 0
    textfile: str | None = None
    max_windows: int = 0
    mode: str = "native"
    runtime_dir: str | None = None


@dataclass
class _Stage:
    dev: str
    netns: str | None
    program: Any
    slots: Any
    last: Any = None  # the previous CounterSnapshot


@dataclass
class DaemonStatus:
    """Figures the daemon keeps between windows (for status and metrics)."""

    started_unix: float = field(default_factory=time.time)
    adopted: bool = False
    windows: int = 0
    packets_total: int = 0
    rate_mpps: float = 0.0
    cores_current: float | None = None
    nic_util_current: float | None = None
    swap_latency_ms: list[float] = field(default_factory=list)
    swaps: int = 0
    swap_failures: int = 0


class RuntimeDaemon:
    """One daemon for one deployment (see the module docstring). :meth:`run` blocks until
    stopped (signal, ``cora runtime stop`` or ``max_windows``).

    Raises (:meth:`run`): EnvironmentProblem (not root, another daemon, a partial
    deployment, a deployment without live-profile counters), CoraError (bad NF or plan),
    KernelError (deploy refused).
    """

    def __init__(self, opts: DaemonOptions):
        from cora.runtime.daemon_policy import PolicySettings

        self.o = opts
        self.settings = opts.settings or PolicySettings()
        self.paths = runtime_paths(opts.dev, opts.netns,
                                   Path(opts.runtime_dir) if opts.runtime_dir else None)
        self.stop_event = threading.Event()
        self.force_event = threading.Event()
        self.forced_done = threading.Condition()
        self.forced_decision: dict | None = None
        self.lock = threading.Lock()  # guards replanner/status between loop and socket
        self.status = DaemonStatus()
        self.stages: list[_Stage] = []
        #: plans prepared ahead (compiled and loaded, nothing pinned or locked)
        self.prepared: Any = None
        self.replanner: Any = None
        self.program: Any = None
        #: the profile of the last window (None before the first)
        self.last_profile: Any = None
        self._server: socket.socket | None = None
        self._http: Any = None
        #: netns (None: this one) -> open rtnetlink socket used by commits
        self._netlink: dict[str | None, Any] = {}

    # ------------------------------------------------------------------------ set-up
    def _models(self) -> tuple[Any, Any, Any]:
        from cora.compiler.offload.stage_model import available_models, load_model

        user = load_model("user") if "user" in available_models() else None
        return load_model(self.o.nic_model), load_model("xdp"), user

    def _initial_plan(self, models: tuple[Any, Any, Any], adopting: bool
                      ) -> tuple[Any, Any]:
        """(plan, the profile it stands for): when re-adopting, the plan of state.json (the
        one running); else --plan, or all-host (each with the synthetic profile: the first
        real window then shows the drift). A state.json without a deployment is stale."""
        from cora.compiler.offload.partition import Plan, Problem
        from cora.compiler.offload.profile import synthetic_profile
        from cora.compiler.offload.split import load_plan_file

        prof = synthetic_profile(self.program)
        saved = self._read_state() if adopting else {}
        if saved.get("plan"):
            return Plan.from_json(saved["plan"]), prof
        if self.o.plan_path:
            data = load_plan_file(self.o.plan_path)
            if data.get("plan", data).get("traffic"):
                # the daemon's live profile has no flow buckets and its swaps and state moves
                # do not program the classifier: a state held per flow group on both stages
                # would lose the NIC's entries at the first plan change
                raise InputError(
                    f"{self.o.plan_path}: the plan splits the traffic (a flow classifier on "
                    "the NIC); the runtime daemon deploys and re-plans block cuts and state "
                    "placement only: deploy this plan with `cora deploy --plan`, or start "
                    "the daemon from a plan without \"traffic\" or without --plan (it "
                    "starts all on the host and re-plans from the live traffic)")
            return Plan.from_json(data.get("plan", data)), prof
        pb = Problem(self.program, *models, prof)
        return pb.make_plan(pb.all_host_stages()), prof

    def _read_state(self) -> dict:
        try:
            data = json.loads(self.paths.state.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) and data.get("nf") == self.o.nf else {}

    def _write_state(self) -> None:
        _write_atomically(self.paths.state, json.dumps({
            "nf": self.o.nf, "dev": self.o.dev, "netns": self.o.netns,
            "nic_dev": self.o.nic_dev, "nic_netns": self.o.nic_netns,
            "plan": self.replanner.current.to_json(), "pid": os.getpid(),
            "written_unix": time.time()}))

    def adopt_or_deploy(self) -> None:
        """Re-adopt the running deployment on ``dev`` or deploy the NF (with live-profile
        counters); then know every stage's program and counter layout."""
        from cora.compiler.driver import compile_file
        from cora.runtime import deploy as dp
        from cora.runtime.daemon_policy import Replanner

        self.paths.state.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.program = compile_file(self.o.nf)
        models = self._models()
        status = dp.deployment_status(self.o.dev, self.o.netns)
        current, prof = self._initial_plan(models, adopting=status == "complete")
        self.replanner = Replanner(self.program, models, current, prof, self.settings)
        if self.o.nic_dev and self.settings.prepare_ahead:
            from cora.runtime.daemon_policy import PreparedCache

            self.close_prepared()
            self.prepared = PreparedCache(self._prepare_plan, self._release_prepared,
                                          PREPARED_CAPACITY)
            self.replanner.ahead = self.prepared.start
            self.replanner.ready = self._ready
        if status == "complete":
            meta = dp.require_deployment(self.o.dev, self.o.netns)
            self.status.adopted = True
            log_event("adopt", dev=self.o.dev, prog_id=meta.get("prog_id"),
                      nf=meta.get("nf"), split=bool(meta.get("nic_stage")))
        elif status == "none":
            if self.o.nic_dev:
                dp.deploy_stages(self.program, current, self.o.dev, self.o.netns,
                                 self.o.nic_dev, self.o.nic_netns, self.o.nic_forward,
                                 self.o.mode, live_profile=self.o.sample_every)
            else:
                dp.deploy(self.program, self.o.dev, self.o.netns, self.o.mode,
                          live_profile=self.o.sample_every)
            meta = dp.require_deployment(self.o.dev, self.o.netns)
            log_event("deploy", dev=self.o.dev, prog_id=meta.get("prog_id"),
                      nf=self.program.name, nic_dev=self.o.nic_dev or "-")
        else:
            dp.require_deployment(self.o.dev, self.o.netns)  # raises with what to run
            raise EnvironmentProblem(f"{self.o.dev}: deployment is {status}")
        self._load_stages()
        self._write_state()
        if self.o.nic_dev:  # the commits' rtnetlink sockets, opened in this thread now
            for st in self.stages:
                self._ipr(st.netns)

    def _load_stages(self) -> None:
        """Each stage's (dev, program, counter layout) from the metadata and the plan."""
        from cora.compiler.offload.split import split
        from cora.runtime import deploy as dp
        from cora.targets.ebpf.liveprof import ProfileSlots

        host = dp.require_deployment(self.o.dev, self.o.netns)
        peer = host.get("nic_stage")
        if peer:
            by_stage = {st.stage: st.program for st in split(self.program,
                                                            self.replanner.current).stages}
            devs = [(peer["dev"], peer.get("netns"), by_stage.get("nic")),
                    (self.o.dev, self.o.netns, by_stage.get("kernel"))]
        else:
            devs = [(self.o.dev, self.o.netns, self.program)]
        stages = []
        for dev, netns, prog in devs:
            meta = dp.require_deployment(dev, netns)
            if not meta.get("live_profile"):
                raise EnvironmentProblem(
                    f"the deployment on {dev} has no live-profile counters: undeploy it "
                    f"(`cora undeploy --dev {self.o.dev}`) and let `cora runtime start` "
                    "deploy it")
            slots = ProfileSlots.from_json(meta["live_profile"])
            if prog is None:  # a pass-through side (the plan leaves that stage empty): its
                # one block must not count as the NF's block of the same label
                prog = dp.passthrough_program(f"{self.program.name}_{dev}")
                prog.blocks[0].label = PASSTHROUGH_LABEL
                slots = replace(slots, entry=PASSTHROUGH_LABEL)
            stages.append(_Stage(dev, netns, prog, slots))
        self.stages = stages

    # ----------------------------------------------------------------------- windows
    def _read(self) -> list:
        from cora.runtime.bpf_syscall import obj_get
        from cora.runtime.live_profile import read_counters
        from cora.runtime.pins import deployment_dir
        from cora.targets.ebpf.liveprof import PROFILE_MAP

        snaps = []
        for st in self.stages:
            fd = obj_get(str(deployment_dir(st.dev, st.netns) / "maps" / PROFILE_MAP))
            try:
                snaps.append(read_counters(fd, st.slots, st.program))
            finally:
                os.close(fd)
        return snaps

    def window(self, force: bool = False):
        """Read one window, decide, apply; returns the Decision."""
        from cora.runtime.live_profile import from_live_counters

        snaps = self._read()
        windows = []
        seconds = self.settings.interval_s
        for st, snap in zip(self.stages, snaps, strict=True):
            if st.last is not None:
                windows.append(snap.minus(st.last))
                seconds = (snap.time_ns - st.last.time_ns) / 1e9
            else:
                windows.append(snap.minus(snap))
            st.last = snap
        profile = from_live_counters(self.program, windows)
        with self.lock:
            self.last_profile = profile
            t_decide = time.perf_counter()
            d = self.replanner.window(profile, seconds, force=force)
            self.status.windows += 1
            self.status.packets_total += profile.packets
            self.status.rate_mpps = d.rate_mpps
            if d.cores_now is not None:
                self.status.cores_current = d.cores_now
                self.status.nic_util_current = d.nic_util_now
            if d.action == "adopt":
                self._apply(d, t_decide)
            elif d.cores_now is None and profile.packets:
                self.status.cores_current, self.status.nic_util_current, _ = \
                    self.replanner.figures_of(self.replanner.current, profile,
                                              self.replanner.model_rate(d.rate_mpps))
        log_event("decision", **{k: v for k, v in d.to_json().items()
                                 if k not in ("plan", "unix_time") and v is not None})
        self._append_history(d)
        self._write_metrics()
        return d

    def _stage_programs(self, plan) -> list[tuple[Any, Any, dict[str, int | str | Path],
                                                  dict[str, str | Path], dict | None]]:
        """Per stage (NIC first): ``(stage, new program, states to move there by
        read-through: name -> pinned path of the other stage's map, merged counters that
        leave it: name -> the deployment directory of the stage keeping the counter)`` under
        ``plan``. A merged counter (only added to, ``mergeable_counters``) that the stage
        holds now and its new program does not, while the other stage's new program does,
        is kept there as a retired copy (:func:`cora.runtime.deploy.keep_retired_copy`)
        instead of being dropped with its values. Last, the metadata the stage's swap sets: for
        the host stage the plan's ``shim`` layout (as :func:`cora.runtime.deploy.deploy_stages`
        stores it, so that ``read_stats`` sums the merged counters of the plan in place), for
        the NIC None."""
        from cora.compiler.offload.split import split
        from cora.compiler.offload.stage_model import mergeable_counters
        from cora.runtime.clock_feed import seed_clock
        from cora.runtime.deploy import passthrough_program, require_deployment
        from cora.runtime.migrate import MOVABLE_KINDS
        from cora.runtime.pins import deployment_dir

        result = split(self.program, plan)
        stages = result.stages
        by_stage = {st.stage: st.program for st in stages}
        host_meta = {"shim": result.layout_json(self.program.name)}
        for sp in stages:   # a host-fed clock map new with this plan starts at the time now
            seed_clock(sp.program, sp.clock_state)
        counters = set(mergeable_counters(self.program))
        written = {w for _, op in self.program.ops() for w in op.state_writes()}
        out = []
        for st, name in zip(self.stages, ("nic", "kernel"), strict=True):
            new = by_stage.get(name) or passthrough_program(f"{self.program.name}_{st.dev}")
            keep = {s.name for s in new.states}
            retire_to: dict[str, str | Path] = {}
            for other, other_name in zip(self.stages, ("nic", "kernel"), strict=True):
                if other is st or other_name not in by_stage:
                    continue
                kept = {s.name for s in by_stage[other_name].states}
                for counter in sorted(counters & kept - keep):
                    retire_to[counter] = deployment_dir(other.dev, other.netns)
            held = {m["name"] for m in require_deployment(st.dev, st.netns)["layout"]["maps"]}
            sources: dict[str, int | str | Path] = {}
            for other in self.stages:
                if other is st:
                    continue
                there = {m["name"] for m in
                         require_deployment(other.dev, other.netns)["layout"]["maps"]}
                for state in new.states:
                    # a written state this stage gains from another one moves with its
                    # entries; one that cannot move (an array: no read-through on a miss)
                    # is named too, so that PreparedMove refuses the plan change and the
                    # old plan keeps running, instead of the state starting over empty
                    # (merged counters start a fresh copy: their retired one is summed)
                    if state.name not in held and state.name in there and (
                            state.kind in MOVABLE_KINDS
                            or (state.name in written and state.name not in counters)):
                        sources[state.name] = str(deployment_dir(other.dev, other.netns)
                                                  / "maps" / state.name)
            out.append((st, new, sources,
                        {n: d for n, d in retire_to.items() if n in held},
                        host_meta if st is self.stages[-1] else None))
        return out

    def _prepare_plan(self, plan) -> list:
        """Compile ahead (runs in the cache's background thread): per stage (NIC first), a
        :class:`cora.runtime.swap.PreparedSwap`, or for a stage that a state moves to, a
        :class:`cora.runtime.migrate.PreparedMove` (its read-through and retire versions);
        each compiled, verified and loaded against the live maps' fds, nothing pinned,
        journaled or locked, so the running deployment never notices. The NIC's versions
        tag every frame they hand on with a fresh handover tag, and the last item is the
        host's :class:`cora.runtime.handover.Handover` (the dispatcher that runs tagged
        frames with the new host version, the others with the old one). A failure
        releases what was prepared, is logged (``event=prepare-failed``) and raised (the
        cache keeps it for :meth:`PreparedCache.take`)."""
        from cora.runtime.handover import Handover, new_tag
        from cora.runtime.migrate import PreparedMove
        from cora.runtime.swap import prepare_swap

        out: list = []
        tag = new_tag()
        try:
            for st, new, sources, retire_to, extra in self._stage_programs(plan):
                out.append(PreparedMove(st.dev, st.netns, new, sources, handover_tag=tag,
                                        retire_to=retire_to, meta_extra=extra)
                           if sources else prepare_swap(st.dev, st.netns, new,
                                                        handover_tag=tag, retire_to=retire_to,
                                                        meta_extra=extra))
            host = out[-1]
            new = host.first if isinstance(host, PreparedMove) else host
            assert new is not None and new.loaded is not None  # prepared just now
            new_fd = new.loaded.prog_fd
            nic = out[0]
            moved_up = {name: (nic.first.loaded.map_fds[name], fd)
                        for name, fd in nic.fds.items()} \
                if isinstance(nic, PreparedMove) and nic.first is not None \
                and nic.first.loaded is not None else {}
            out.append(Handover(self.stages[-1].dev, self.stages[-1].netns, tag, new_fd,
                                self.stages[-1].program if moved_up else None, moved_up))
        except BaseException as exc:
            self._release_prepared(out)
            log_event("prepare-failed", error=str(exc) or type(exc).__name__)
            raise
        return out

    @staticmethod
    def _commit_stage(prepared, ip, attached_fd: int | None = None):
        """Commit one stage's prepared swap, or a prepared move's read-through swap only
        (its grace period and copy follow the drain, its retire swap the plan change)."""
        from cora.runtime.migrate import PreparedMove

        if isinstance(prepared, PreparedMove):
            return prepared.swap_in(ip, attached_fd)
        return prepared.commit(ip, attached_fd)

    @staticmethod
    def _release_prepared(prepared: list) -> None:
        """Unload prepared swaps and moves never committed (idempotent)."""
        for ps in prepared:
            if ps is not None:
                with contextlib.suppress(Exception):
                    ps.close()

    def close_and_undeploy(self) -> None:
        """Unload what was compiled ahead, then undeploy every stage (host first, then the
        NIC), each best effort: the ``finally`` of a run that drives the daemon in-process
        (benches, tests), so that nothing it loaded stays attached or pinned."""
        from cora.runtime.deploy import undeploy

        self.close_prepared()
        for dev, netns in ((self.o.dev, self.o.netns), (self.o.nic_dev, self.o.nic_netns)):
            if dev:
                with contextlib.suppress(Exception):
                    undeploy(dev, netns)

    def close_prepared(self) -> None:
        """Release every plan prepared ahead and the rtnetlink sockets (call on stop, in
        ``finally``; idempotent)."""
        if self.prepared is not None:
            self.prepared.close()
        for ip in self._netlink.values():
            with contextlib.suppress(Exception):
                ip.close()
        self._netlink.clear()

    def _ipr(self, netns: str | None):
        """The daemon's rtnetlink socket in ``netns``, opened (and warmed) in the calling
        thread once: opening one in a namespace costs tens of ms, which a commit would
        otherwise pay inside the detection-to-swap latency."""
        ip = self._netlink.get(netns)
        if ip is None:
            from pyroute2 import IPRoute

            ip = IPRoute(netns=netns, flags=0) if netns else IPRoute()
            ip.link_lookup(ifname="lo")
            self._netlink[netns] = ip
        return ip

    def _ready(self, plan) -> bool:
        """Is ``plan``'s preparation finished (or failed)? Starts it when not cached."""
        if self.prepared is None:
            return True
        self.prepared.start(plan)
        return self.prepared.ready(plan)

    def prepare_ahead(self, plan) -> bool:
        """Start preparing ``plan`` (if not under way or done) in the background; True once
        it is prepared (or its preparation failed: :meth:`put_plan` then reports it)."""
        return self._ready(plan)

    def put_plan(self, plan, reason: str = "put in place by the caller"):
        """Adopt ``plan`` now whatever the policy says (an operator's or a benchmark's
        plan change): commit its preparation (made ahead with :meth:`prepare_ahead`, or
        now), make it the current plan with the synthetic profile (so the next windows
        measure drift from it), record the decision. Returns the
        :class:`cora.runtime.daemon_policy.Decision` (``adopt``, or ``error`` with the
        reason when the plan could not be put in place: the old one keeps running)."""
        from cora.compiler.offload.profile import synthetic_profile
        from cora.runtime.daemon_policy import Decision

        with self.lock:
            r = self.replanner
            d = Decision(r.windows, time.time(), "adopt", reason, plan=plan.to_json())
            r.candidate = (plan, synthetic_profile(self.program))
            r.streak = 0
            r.history.append(d)
            self._apply(d, time.perf_counter())
        log_event("decision", **{k: v for k, v in d.to_json().items()
                                 if k not in ("plan", "unix_time") and v is not None})
        self._append_history(d)
        return d

    def run_windows(self, until, timeout_s: float, on_window=None) -> list:
        """Drive the daemon from the caller's thread (benchmarks, experiments): every
        ``interval_s`` read and decide one window (:meth:`window`) until ``until(decision)``
        is true or ``timeout_s`` has passed. ``on_window(decision)`` is called after each.
        Returns the decisions made."""
        out = []
        deadline = time.monotonic() + timeout_s
        next_t = time.monotonic()
        while time.monotonic() < deadline:
            next_t += self.settings.interval_s
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_t = time.monotonic()
            d = self.window()
            out.append(d)
            if on_window is not None:
                on_window(d)
            if until(d):
                break
        return out

    def _apply(self, d, t_decide: float) -> None:
        """Put the adopted plan in place with the lock-step handover
        (:mod:`cora.runtime.handover`): engage the host's dispatcher (old frames -> old host
        version, tagged frames -> new one), commit the NIC stage (for a state moved to the
        NIC: its read-through swap), drain (the host has run every frame the old NIC version
        passed), finish a move to the NIC (grace period, copy), commit the host stage in
        place of the dispatcher (for a state moved to the host: read-through swap, grace
        period, copy), then the retire swaps of the moves (the read-through versions are
        correct as long as they run). Everything was prepared ahead while the hysteresis
        counted windows (:class:`cora.runtime.daemon_policy.PreparedCache`), else now; a
        stage whose preparation went stale (its deployment changed since) is prepared again.
        ``d.latency_ms`` = from ``t_decide`` (the end of the window that triggered the
        adoption) to the NIC commit's return: from there every new frame runs under the new
        plan on both stages; ``d.handover_ms`` = from there to the host commit's return
        (drain, copy, host commit); ``d.commit_ms`` per stage."""
        from cora.runtime.migrate import PreparedMove
        from cora.runtime.swap import StalePreparation, prepare_swap

        if not self.o.nic_dev or self.replanner.candidate is None:
            self.replanner.reject("no NIC stage deployed (start with --nic-dev): advisory")
            return
        plan = self.replanner.candidate[0]
        prepared: list = []
        try:
            try:
                if self.prepared is not None:
                    prepared, d.prepare_s, d.prepared_ahead = self.prepared.take(plan)
                else:
                    prepared = self._prepare_plan(plan)
            except CoraError:
                raise
            except Exception as exc:  # a preparation thread's failure, e.g. OSError
                raise CoraError(str(exc)) from exc
            nic_st, host_st = self.stages
            nic_ip, host_ip = self._ipr(nic_st.netns), self._ipr(host_st.netns)
            d.commit_ms, d.replace_ms = [], []
            for attempt in (0, 1):
                nic, host, handover = prepared
                t0 = time.perf_counter()
                try:
                    handover.engage(host_ip)
                    try:
                        nic_rep = self._commit_stage(nic, nic_ip)
                    except BaseException:
                        handover.disengage(host_ip)
                        raise
                    break
                except (StalePreparation, KernelError) as exc:
                    if attempt or (isinstance(exc, KernelError) and "no longer cora"
                                   not in str(exc)):
                        raise
                    log_event("prepare-stale", dev=nic_st.dev, error=str(exc))
                    self._release_prepared(prepared)
                    prepared = []
                    prepared = self._prepare_plan(plan)
                    d.prepared_ahead = False
            t1 = time.perf_counter()
            d.commit_ms.append((t1 - t0) * 1e3)
            # every new frame runs under the new plan on both stages from here
            latency_ms = (t1 - t_decide) * 1e3
            d.drain_ms = handover.drain(nic_st.dev, nic_st.netns) * 1e3
            if isinstance(nic, PreparedMove):
                nic_rep = nic.copy_in(nic_rep)
            t2 = time.perf_counter()
            try:
                host_rep = self._commit_stage(host, host_ip, handover.prog_fd)
            except StalePreparation as exc:
                log_event("prepare-stale", dev=host_st.dev, error=str(exc))
                host.close()
                _, new, sources, retire_to, extra = self._stage_programs(plan)[1]
                host = prepared[1] = PreparedMove(host_st.dev, host_st.netns, new, sources,
                                                  retire_to=retire_to, meta_extra=extra) \
                    if sources else prepare_swap(host_st.dev, host_st.netns, new,
                                                 retire_to=retire_to, meta_extra=extra)
                d.prepared_ahead = False
                t2 = time.perf_counter()
                host_rep = self._commit_stage(host, host_ip, handover.prog_fd)
            if isinstance(host, PreparedMove):
                host_rep = host.copy_in(host_rep)
            t3 = time.perf_counter()
            d.commit_ms.append((t3 - t2) * 1e3)
            d.handover_ms = (t3 - t1) * 1e3
            old_frames, new_frames = handover.seen()  # both until the host commit
            d.handover_frames = [old_frames, new_frames]
            handover.finished()
            handover.close()
            log_event("handover", dev=host_st.dev, drain_ms=round(d.drain_ms, 3),
                      old_frames=old_frames, new_frames=new_frames)
            retire_after = []
            for st, item, rep in ((nic_st, nic, nic_rep), (host_st, host, host_rep)):
                if isinstance(item, PreparedMove):
                    d.replace_ms += [sw["swap_ns"] / 1e6 for sw in rep.swaps]
                    retire_after.append((st, item, rep))
                else:
                    d.replace_ms.append(rep.swap_ns / 1e6)
                    log_event("swap", dev=st.dev, old_prog_id=rep.old_prog_id,
                              new_prog_id=rep.new_prog_id, swap_us=rep.swap_ns / 1e3,
                              commit_us=rep.commit_ns / 1e3, **{
                                  f"{k}_us": v / 1e3 for k, v in rep.commit_phases_ns.items()})
            for st, item, rep in retire_after:
                rep = item.retire(rep, self._ipr(st.netns))
                d.replace_ms.append(rep.swaps[-1]["swap_ns"] / 1e6)
                d.migrate_ms = {k: v / 1e6 for k, v in rep.phase_ns.items()}
                log_event("migrate", dev=st.dev, states=",".join(rep.states),
                          report=json.dumps(asdict(rep), default=str)[:400])
        except CoraError as exc:
            self._release_prepared(prepared)
            self.status.swap_failures += 1
            from cora.runtime.migrate import UnmovableState

            self.replanner.reject(str(exc), permanent=isinstance(exc, UnmovableState))
            log_event("swap-failed", error=str(exc))
            if self.prepared is not None:  # prepared against the deployment that was
                self.prepared.close()
            self._load_stages()  # whatever runs now
            return
        d.latency_ms = latency_ms
        self._release_prepared(prepared)  # closes are idempotent
        if self.prepared is not None:  # other candidates were prepared against the old plan
            self.prepared.close()
        self.replanner.accept()
        self.status.swaps += 1
        self.status.swap_latency_ms.append(latency_ms)
        self._load_stages()
        self._write_state()
        log_event("plan-change", latency_ms=latency_ms, handover_ms=d.handover_ms,
                  prepare_s=d.prepare_s, prepared_ahead=d.prepared_ahead,
                  changes=self.replanner.plan_changes)

    # ------------------------------------------------------------------ persistence
    def _append_history(self, d) -> None:
        with open(self.paths.history, "a", encoding="utf-8") as f:
            f.write(json.dumps(d.to_json()) + "\n")
        os.chmod(self.paths.history, 0o600)

    def history(self) -> list[dict]:
        """The decisions of this and earlier daemon runs (the history file's last
        :data:`HISTORY_KEEP` lines)."""
        try:
            lines = self.paths.history.read_text().splitlines()[-HISTORY_KEEP:]
        except OSError:
            return []
        out = []
        for line in lines:
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
        return out

    def metrics_text(self) -> str:
        """The figures in the Prometheus text exposition format (version 0.0.4)."""
        from cora.runtime.deploy import VERDICTS_MAP, verdict_counts
        from cora.runtime.pins import deployment_dir, open_pinned

        s, lab = self.status, f'dev="{self.o.dev}",nf="{self.program.name}"'
        lines: list[str] = []

        def metric(name: str, kind: str, help_: str, value: float, extra: str = "") -> None:
            if not any(x.startswith(f"# HELP {name} ") for x in lines):
                lines.append(f"# HELP {name} {help_}")
                lines.append(f"# TYPE {name} {kind}")
            lines.append(f"{name}{{{lab}{extra}}} {value:.10g}")

        metric("cora_runtime_windows_total", "counter", "windows decided", s.windows)
        metric("cora_runtime_packets_total", "counter",
               "packets seen by the NF's first stage (live profile)", s.packets_total)
        metric("cora_runtime_rate_pps", "gauge", "packet rate of the last window",
               s.rate_mpps * 1e6)
        if s.cores_current is not None:
            metric("cora_runtime_modelled_host_cores", "gauge",
                   "host cores of the current plan (MODELLED by the stage models)",
                   s.cores_current)
        if s.nic_util_current is not None:
            metric("cora_runtime_modelled_nic_utilization", "gauge",
                   "NIC utilisation of the current plan, > 1 overloaded (MODELLED)",
                   s.nic_util_current)
        metric("cora_runtime_plan_changes_total", "counter", "plans adopted and swapped in",
               self.replanner.plan_changes)
        metric("cora_runtime_swap_failures_total", "counter", "adopted plans not applied",
               s.swap_failures)
        if s.swap_latency_ms:
            metric("cora_runtime_swap_latency_seconds", "gauge",
                   "detection-to-swap latency of the last plan change",
                   s.swap_latency_ms[-1] / 1e3)
        for st in self.stages:
            with contextlib.suppress(CoraError, OSError):
                with open_pinned(deployment_dir(st.dev, st.netns)) as pinned:
                    counts = verdict_counts(pinned.maps.get(VERDICTS_MAP)) or {}
                for verdict, n in counts.items():
                    metric("cora_runtime_verdicts_total", "counter",
                           "frames by verdict, every program version", n,
                           f',stage_dev="{st.dev}",verdict="{verdict}"')
        return "\n".join(lines) + "\n"

    def _write_metrics(self) -> None:
        text = self.metrics_text()
        self._metrics_cache = text
        target = Path(self.o.textfile) if self.o.textfile else self.paths.prom
        with contextlib.suppress(OSError):
            _write_atomically(target, text)

    # ------------------------------------------------------------------- control
    def handle(self, raw: bytes) -> dict:
        """Answer one control request (never raises)."""
        try:
            req = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return {"ok": False, "error": "malformed request: not one JSON object"}
        if not isinstance(req, dict) or not isinstance(req.get("cmd"), str):
            return {"ok": False, "error": 'malformed request: expected {"cmd": "..."}'}
        cmd = req["cmd"]
        if cmd not in COMMANDS:
            return {"ok": False, "error": f"unknown command {cmd[:40]!r} (commands: "
                                          f"{', '.join(COMMANDS)})"}
        try:
            return {"ok": True, **getattr(self, f"_cmd_{cmd}")()}
        except Exception as exc:  # a control request must never end the daemon
            return {"ok": False, "error": f"{cmd} failed: {exc}"}

    def _cmd_status(self) -> dict:
        with self.lock:
            s = self.status
            last = self.replanner.history[-1].to_json() if self.replanner.history else None
            lat = sorted(s.swap_latency_ms)
            return {"nf": self.o.nf, "dev": self.o.dev, "netns": self.o.netns,
                    "nic_dev": self.o.nic_dev, "pid": os.getpid(), "adopted": s.adopted,
                    "uptime_s": time.time() - s.started_unix, "windows": s.windows,
                    "packets_total": s.packets_total, "rate_mpps": s.rate_mpps,
                    "modelled_host_cores": s.cores_current,
                    "modelled_nic_utilization": s.nic_util_current,
                    "plan_changes": self.replanner.plan_changes, "swaps": s.swaps,
                    "swap_failures": s.swap_failures,
                    "swap_latency_ms_p50": lat[len(lat) // 2] if lat else None,
                    "plan": self.replanner.current.to_json(), "last_decision": last,
                    "last_profile": None if self.last_profile is None
                    else self.last_profile.to_json(),
                    "settings": asdict(self.settings),
                    "stages": [{"dev": st.dev, "netns": st.netns} for st in self.stages]}

    def _cmd_history(self) -> dict:
        return {"history": self.history()}

    def _cmd_replan(self) -> dict:
        with self.forced_done:
            self.forced_decision = None
            self.force_event.set()
            ok = self.forced_done.wait_for(lambda: self.forced_decision is not None,
                                           timeout=self.settings.interval_s * 2 +
                                           self.settings.time_limit_s + 30)
        if not ok:
            return {"queued": True}
        return {"decision": self.forced_decision}

    def _cmd_stop(self) -> dict:
        self.stop_event.set()
        return {"stopping": True, "teardown": self.o.teardown_on_exit}

    def _serve(self) -> None:
        assert self._server is not None
        while not self.stop_event.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                try:
                    conn.settimeout(5.0)
                    data = b""
                    while b"\n" not in data and len(data) <= MAX_REQUEST_BYTES:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    if len(data) > MAX_REQUEST_BYTES:
                        reply = {"ok": False, "error": f"request longer than "
                                                       f"{MAX_REQUEST_BYTES} bytes"}
                    else:
                        reply = self.handle(data.split(b"\n", 1)[0])
                    conn.sendall((json.dumps(reply) + "\n").encode())
                except OSError:
                    continue

    def _open_socket(self) -> None:
        path = self.paths.sock
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # left by a killed daemon (we hold the lock)
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # born 0600: no window where others may connect
        try:
            srv.bind(str(path))
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        srv.listen(8)
        srv.settimeout(0.2)
        self._server = srv
        threading.Thread(target=self._serve, name="cora-control", daemon=True).start()

    def _serve_http(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        daemon = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                body = getattr(daemon, "_metrics_cache", "").encode()
                self.send_response(200 if self.path in ("/metrics", "/") else 404)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.end_headers()
                self.wfile.write(body if self.path in ("/metrics", "/") else b"")

            def log_message(self, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", self.o.metrics_port), Handler)
        threading.Thread(target=self._http.serve_forever, name="cora-metrics",
                         daemon=True).start()

    # ----------------------------------------------------------------------- main
    def run(self) -> int:
        """Start (lock, adopt or deploy, socket), run windows until stopped, clean up."""
        from cora.runtime.deploy import require_root, undeploy

        require_root()
        self.settings.check()
        lock = DaemonLock(self.paths.lock, self.o.dev)
        lock.acquire()
        old_handlers = {s: signal.signal(s, lambda *_: self.stop_event.set())
                        for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.adopt_or_deploy()
            self._open_socket()
            if self.o.metrics_port:
                self._serve_http()
            log_event("start", pid=os.getpid(), dev=self.o.dev, socket=str(self.paths.sock),
                      interval_s=self.settings.interval_s)
            self.window()  # the first read: counters now, an empty window
            while not self.stop_event.is_set():
                forced = self.force_event.wait(self.settings.interval_s)
                self.force_event.clear()
                try:
                    result = self.window(force=forced).to_json()
                except (CoraError, OSError, ValueError) as exc:
                    # e.g. the pins vanished (someone undeployed): say so, keep serving
                    log_event("error", error=str(exc))
                    result = {"action": "error", "reason": str(exc)}
                if forced:
                    with self.forced_done:
                        self.forced_decision = result
                        self.forced_done.notify_all()
                if self.o.max_windows and self.status.windows >= self.o.max_windows:
                    break
            self.close_prepared()  # unload what was compiled ahead before any teardown
            if self.o.teardown_on_exit:
                undeploy(self.o.dev, self.o.netns)
                log_event("teardown", dev=self.o.dev)
            log_event("stop", pid=os.getpid(), dataplane="removed" if
                      self.o.teardown_on_exit else "left running")
            return 0
        finally:
            self.close_prepared()
            for s, h in old_handlers.items():
                signal.signal(s, h)
            if self._http is not None:
                self._http.shutdown()
            if self._server is not None:
                self._server.close()
                with contextlib.suppress(FileNotFoundError):
                    self.paths.sock.unlink()
            lock.release()


def control_request(dev: str, netns: str | None, cmd: str, timeout_s: float = 60.0,
                    runtime_dir: str | None = None, raw: bytes | None = None) -> dict:
    """Send one request to the daemon of ``dev`` and return its reply.

    Args:
        cmd: one of :data:`COMMANDS`; raw: send these bytes instead (tests of bad input).
    Raises:
        EnvironmentProblem: no daemon runs for ``dev`` (no socket, or nobody listening),
            or no reply within ``timeout_s``.
    """
    paths = runtime_paths(dev, netns, Path(runtime_dir) if runtime_dir else None)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout_s)
    try:
        try:
            s.connect(str(paths.sock))
        except (FileNotFoundError, ConnectionRefusedError):
            raise EnvironmentProblem(f"no cora runtime daemon runs for {dev} (start one "
                                     f"with `cora runtime start X.nf --dev {dev}`)") from None
        except PermissionError:
            raise EnvironmentProblem(f"{paths.sock}: permission denied (the control socket is "
                                     "root's: run as root)") from None
        s.sendall(raw if raw is not None else (json.dumps({"cmd": cmd}) + "\n").encode())
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        raise EnvironmentProblem(f"the runtime daemon of {dev} did not answer within "
                                 f"{timeout_s:g} s") from None
    finally:
        s.close()
    try:
        reply = json.loads(data.decode())
    except (UnicodeDecodeError, ValueError):
        raise EnvironmentProblem(f"the runtime daemon of {dev} sent a malformed reply") \
            from None
    if not isinstance(reply, dict):
        raise EnvironmentProblem(f"the runtime daemon of {dev} sent a malformed reply")
    return reply
