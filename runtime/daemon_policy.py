"""Drift detection and re-planning: the decision the runtime daemon takes every window.

Every interval (default 1 s) the daemon reads a window's live profile
(:mod:`cora.runtime.live_profile`) and hands it to :meth:`Replanner.window`, which:

1. skips a window with fewer than ``min_packets`` packets (``idle``: nothing to learn);
2. measures the **drift**: the largest absolute difference, over the NF's blocks, between
   the window's block frequency and that of the profile the current plan was made for (a
   frequency is a fraction of packets, so drift is in [0, 1]); below ``drift_threshold`` the
   plan is kept (``keep``, "no drift");
3. otherwise **re-plans** with CP-SAT (:func:`cora.compiler.offload.partition.plan`, warm
   started from the current plan: ``AddHint`` on every variable) on the window's profile at
   the window's rate, and evaluates the current plan on the same profile
   (:func:`cora.compiler.offload.partition.result_figures`): the modelled host cores now
   and after, and the relative **gain** ``(now - after) / now``; and the current plan's
   modelled NIC utilisation: above 1 the current plan **overloads the NIC** at the model
   rate (it holds its host cores low only by leaving frames the NIC cannot run), so any
   plan CP-SAT finds (which fits the NIC by construction) counts as a gain whatever its
   host cores (a mix of many new flows makes a NIC table's inserts dear, for example);
4. adopts the new plan only when the gain exceeds ``hysteresis`` (or the current plan
   overloads the NIC) in ``consecutive`` (K) windows in a row (``wait`` until then; any
   window below the threshold resets the streak), so a short burst never makes the plan
   flap (``adopt``). During a streak each window evaluates the streak's candidate on its
   profile (milliseconds) and CP-SAT runs again only when the candidate no longer gains
   enough; a CP-SAT run that finds no plan in its time limit neither extends nor resets
   the streak. With a ``ready`` hook (the daemon's compile ahead, :class:`PreparedCache`)
   window K waits until the candidate is prepared, so an adoption only commits.

Every decision is a :class:`Decision` with its reason and figures, kept in
:attr:`Replanner.history` (most recent last, at most ``history_size``). All cost figures are
MODELLED by the stage models (:mod:`cora.compiler.offload.stage_model`); the rate and the
profile are measured.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from cora.compiler.ir import Program
from cora.compiler.offload.partition import Plan, Problem, plan, result_figures
from cora.compiler.offload.profile import Profile

#: lowest rate the cost model is asked about, Mpps (``cora plan``'s MIN_RATE_MPPS: one packet
#: a second; below it the model's integer scaling underflows)
MIN_MODEL_RATE_MPPS = 1e-6


@dataclass
class PolicySettings:
    """Knobs of :class:`Replanner` (all settable from ``cora runtime start``).

    Attributes:
        interval_s: window length, s.
        drift_threshold: largest block-frequency difference tolerated without re-planning.
        hysteresis: least relative gain in modelled host cores a new plan must promise.
        consecutive: K, windows in a row the gain must exceed ``hysteresis``.
        min_packets: windows with fewer packets are skipped.
        model_rate_mpps: rate the cost model is evaluated at (None: the window's measured
            rate).
        time_limit_s: CP-SAT time limit per re-plan, s.
        history_size: decisions kept.
        prepare_ahead: compile a candidate plan ahead from its first window of gain (the
            daemon's :class:`PreparedCache`), so window K only commits.
    """

    interval_s: float = 1.0
    drift_threshold: float = 0.05
    hysteresis: float = 0.05
    consecutive: int = 3
    min_packets: int = 100
    model_rate_mpps: float | None = None
    time_limit_s: float = 0.5
    history_size: int = 1000
    prepare_ahead: bool = True

    def check(self) -> None:
        """Raise ValueError naming the first setting out of range."""
        if not self.interval_s > 0:
            raise ValueError("--interval must be > 0 s")
        if not 0 <= self.drift_threshold <= 1:
            raise ValueError("--drift must be in [0, 1]")
        if not self.hysteresis >= 0:
            raise ValueError("--hysteresis must be >= 0")
        if self.consecutive < 1:
            raise ValueError("--consecutive must be >= 1")
        if self.model_rate_mpps is not None and self.model_rate_mpps < MIN_MODEL_RATE_MPPS:
            raise ValueError(f"--model-rate must be >= {MIN_MODEL_RATE_MPPS:g} Mpps")


@dataclass
class Decision:
    """One window's decision.

    Attributes:
        window: window number (from 1); unix_time: end of the window (s since the epoch).
        action: ``idle`` | ``keep`` | ``wait`` | ``adopt`` | ``error``.
        reason: one sentence.
        packets: packets in the window; rate_mpps: measured rate.
        drift: largest block-frequency difference to the plan's profile (None when idle).
        cores_now, cores_after: modelled host cores of the current / re-planned plan on the
            window's profile at the model rate (None when not re-planned).
        nic_util_now, nic_util_after: modelled NIC utilisation (busy share of the NIC's
            cores, > 1: overloaded) of the current / re-planned plan, same conditions.
        gain: ``(cores_now - cores_after) / cores_now`` (None when not re-planned).
        streak: windows in a row with gain above the hysteresis.
        solve_s: CP-SAT wall time, s.
        plan: the adopted plan (``Plan.to_json``), only for ``adopt``.
        prepare_started: this window started preparing (compile ahead) the candidate plan.
        prepare_s: for ``adopt``: how long preparing the plan took (split + compile + load),
            s, wherever it ran (None when not prepared ahead).
        prepared_ahead: for ``adopt``: the commit found the plan prepared (no compile left).
        latency_ms: for ``adopt``: detection-to-swap latency, ms: from the end of the
            window that triggers the adoption (its decision starts) to the return of the
            NIC stage's commit (the host's handover dispatcher was engaged before it: from
            there every new frame runs under the new plan on both stages; the drain, the
            host commit and a migration's retire swap follow, outside the latency).
        drain_ms: for ``adopt``: the handover's drain (grace periods and the wait until
            the host has run every frame the old NIC version passed), ms.
        handover_frames: for ``adopt``: [frames the host's handover dispatcher ran with the
            old host version, with the new one] (while it was engaged).
        handover_ms: for ``adopt``: from the NIC commit's return to the host commit's
            (drain, a move's copy, the host commit), ms.
        commit_ms: for ``adopt``: each stage's commit (NIC first), ms: for the NIC the
            dispatcher's engage and the NIC's replace (a move: its read-through replace);
            for the host the replace of the dispatcher, and for a move its grace period
            and copy.
        replace_ms: for ``adopt``: each rtnetlink replace request (XDP_FLAGS_REPLACE) of
            the commits in order, then each migration's retire replace, ms.
        migrate_ms: for ``adopt`` with a state migration: its phases (read_through_swap,
            grace, copy, retire_swap), ms.
        first_gain_window: for ``adopt``: the window whose gain first beat the hysteresis
            in this streak (the candidate's preparation started then).
    """

    window: int
    unix_time: float
    action: str
    reason: str
    packets: int = 0
    rate_mpps: float = 0.0
    drift: float | None = None
    cores_now: float | None = None
    cores_after: float | None = None
    nic_util_now: float | None = None
    nic_util_after: float | None = None
    gain: float | None = None
    streak: int = 0
    solve_s: float = 0.0
    plan: dict | None = None
    prepare_started: bool = False
    prepare_s: float | None = None
    prepared_ahead: bool = False
    latency_ms: float | None = None
    drain_ms: float | None = None
    handover_ms: float | None = None
    handover_frames: list[int] | None = None
    commit_ms: list[float] | None = None
    replace_ms: list[float] | None = None
    migrate_ms: dict[str, float] | None = None
    first_gain_window: int | None = None

    def to_json(self) -> dict:
        """JSON-ready dict."""
        return asdict(self)

    def log_line(self) -> str:
        """One journald-friendly line: ``key=value`` pairs, the reason quoted last."""
        parts = [f"window={self.window}", f"action={self.action}",
                 f"packets={self.packets}", f"rate_mpps={self.rate_mpps:.6f}"]
        for k in ("drift", "cores_now", "cores_after", "nic_util_now", "nic_util_after",
                  "gain", "prepare_s", "latency_ms"):
            v = getattr(self, k)
            if v is not None:
                parts.append(f"{k}={v:.6g}")
        parts.append(f"streak={self.streak}")
        parts.append(f'reason="{self.reason}"')
        return " ".join(parts)


def plan_key(p: Plan) -> str:
    """The cache key of a plan: its canonical JSON (sorted keys)."""
    return json.dumps(p.to_json(), sort_keys=True)


class _Entry:
    """One preparation: its thread, its result or error, its wall time."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self.seconds = 0.0
        self.thread: threading.Thread | None = None


class PreparedCache:
    """Plans prepared ahead (compile ahead), LRU by :func:`plan_key`.

    ``prepare(plan)`` runs in a background thread and returns an object (for the daemon: the
    per-stage :class:`cora.runtime.swap.PreparedSwap` objects, compiled, verified, loaded but
    not attached); ``release(obj)`` undoes one (unload, unstage). A plan seen again (traffic
    flipping back) reuses its entry; inserting beyond ``capacity`` releases the least
    recently used entry; :meth:`close` releases everything (call it in ``finally``).

    Args:
        prepare: ``Plan -> object``; may raise (the error is kept and re-raised by
            :meth:`take`).
        release: ``object -> None``.
        capacity: entries kept (>= 1).
    """

    def __init__(self, prepare: Callable[[Plan], Any], release: Callable[[Any], None],
                 capacity: int = 3):
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self._prepare, self._release, self.capacity = prepare, release, capacity
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self.lock = threading.Lock()
        self.hits = 0
        self.started = 0

    def __contains__(self, p: Plan) -> bool:
        return plan_key(p) in self._entries

    def keys(self) -> list[str]:
        """Cached plan keys, least recently used first."""
        return list(self._entries)

    def start(self, p: Plan) -> bool:
        """Start preparing ``p`` in the background unless it is cached (then it becomes
        the most recently used). Returns True when a preparation was started."""
        key = plan_key(p)
        with self.lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return False
            while len(self._entries) >= self.capacity:
                _, old = self._entries.popitem(last=False)
                self._drop(old)
            e = _Entry()
            self._entries[key] = e
            self.started += 1

        def run() -> None:
            t0 = time.perf_counter()
            try:
                e.result = self._prepare(p)
            except BaseException as exc:  # noqa: BLE001 (kept, re-raised by take)
                e.error = exc
            finally:
                e.seconds = time.perf_counter() - t0
                e.done.set()

        e.thread = threading.Thread(target=run, name="cora-prepare", daemon=True)
        e.thread.start()
        return True

    def take(self, p: Plan, timeout_s: float | None = None) -> tuple[Any, float, bool]:
        """Remove ``p``'s entry and return ``(prepared object, prepare seconds, was it
        cached)``; a plan not cached is prepared now, in this thread. Waits for a
        preparation under way (at most ``timeout_s``).

        Raises:
            whatever ``prepare`` raised; TimeoutError when the preparation is not done in
            ``timeout_s``.
        """
        with self.lock:
            e = self._entries.pop(plan_key(p), None)
        if e is None:
            t0 = time.perf_counter()
            obj = self._prepare(p)
            return obj, time.perf_counter() - t0, False
        if not e.done.wait(timeout_s):
            with self.lock:
                self._entries[plan_key(p)] = e
            raise TimeoutError("the plan's preparation is still running")
        if e.error is not None:
            raise e.error
        self.hits += 1
        return e.result, e.seconds, True

    def ready(self, p: Plan) -> bool:
        """True when ``p``'s preparation has finished (successfully or not) or ``p`` is not
        cached (then :meth:`take` prepares it in the caller's thread)."""
        with self.lock:
            e = self._entries.get(plan_key(p))
        return e is None or e.done.is_set()

    def discard(self, p: Plan) -> None:
        """Release ``p``'s entry if cached."""
        with self.lock:
            e = self._entries.pop(plan_key(p), None)
        if e is not None:
            self._drop(e)

    def close(self) -> None:
        """Release every entry (waiting for preparations under way)."""
        with self.lock:
            entries = list(self._entries.values())
            self._entries.clear()
        for e in entries:
            self._drop(e)

    def _drop(self, e: _Entry) -> None:
        e.done.wait()
        if e.error is None and e.result is not None:
            self._release(e.result)


def drift(a: Profile, b: Profile) -> float:
    """Largest absolute difference of block frequency between two profiles, in [0, 1]
    (blocks missing from one count as frequency 0)."""
    fa, fb = a.block_freq, b.block_freq
    return max((abs(fa.get(k, 0.0) - fb.get(k, 0.0)) for k in {*fa, *fb}), default=0.0)


@dataclass
class Replanner:
    """Drift detection and hysteresis over windows (see the module docstring).

    Args:
        program: the whole NF.
        models: ``(nic, host_kernel, host_user)`` stage models.
        current: the plan running now; plan_profile: the profile it was made for.
        settings: the knobs.
    """

    program: Program
    models: tuple[Any, Any, Any]
    current: Plan
    plan_profile: Profile
    settings: PolicySettings = field(default_factory=PolicySettings)
    history: deque = field(init=False)
    streak: int = 0
    windows: int = 0
    plan_changes: int = 0
    candidate: tuple[Plan, Profile] | None = None
    #: called with a candidate plan on the first window its gain beats the hysteresis
    #: (and whenever the candidate changes before window K): compile ahead
    ahead: Callable[[Plan], bool] | None = None
    #: asked at window K and after: is the candidate prepared? While not, the decision is
    #: ``wait`` (the streak goes on), so an adoption only commits what is compiled already
    ready: Callable[[Plan], bool] | None = None
    #: the window the current streak started in
    streak_start: int = 0
    #: the candidate plan of the current streak (None: no streak)
    streak_plan: Plan | None = None
    #: plans refused for good (``plan_key`` -> why; :meth:`reject`): not proposed again, so
    #: a plan the runtime cannot apply (it would lose state) is not retried every window
    refused: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.history = deque(maxlen=self.settings.history_size)

    def model_rate(self, measured_mpps: float) -> float:
        """The rate the cost model is evaluated at, Mpps."""
        r = self.settings.model_rate_mpps
        return max(r if r is not None else measured_mpps, MIN_MODEL_RATE_MPPS)

    def cores_of(self, p: Plan, profile: Profile, rate_mpps: float,
                 problem: Problem | None = None) -> float:
        """Modelled host cores of plan ``p`` on ``profile`` at ``rate_mpps`` (``problem``:
        the partition problem of ``profile``, when the caller has built it already)."""
        return self.figures_of(p, profile, rate_mpps, problem)[0]

    def figures_of(self, p: Plan, profile: Profile, rate_mpps: float,
                   problem: Problem | None = None) -> tuple[float, float, bool]:
        """``(host cores, NIC utilisation, overloads the NIC)`` of plan ``p`` on ``profile``
        at ``rate_mpps`` (all MODELLED; utilisation is the busy share of the NIC model's
        cores; overloaded = the partitioner's own ``nic_rate`` constraint is violated,
        i.e. utilisation > 1)."""
        pb = problem or Problem(self.program, *self.models, profile)
        fig = result_figures(pb, p, rate_mpps, None)
        return (float(fig["host_cores"]), float(fig["nic_utilization"]),
                "nic_rate" in fig["evaluation"].violations)

    def window(self, profile: Profile, seconds: float, force: bool = False) -> Decision:
        """Decide on one window.

        Args:
            profile: the window's live profile; seconds: the window's length, s.
            force: re-plan now and adopt any gain above the hysteresis at once (``cora
                runtime replan``).
        Returns:
            the :class:`Decision` (also appended to :attr:`history`); on ``adopt`` the new
            plan is :attr:`candidate` until the caller puts it in place and calls
            :meth:`accept` (or :meth:`reject`).
        """
        self.windows += 1
        s = self.settings
        rate = profile.packets / seconds / 1e6 if seconds > 0 else 0.0
        d = Decision(self.windows, time.time(), "idle", "", profile.packets, rate)
        if profile.packets < (1 if force else max(1, s.min_packets)):
            d.reason = f"fewer than {max(1, s.min_packets)} packets in the window" \
                if not force else "no packets in the window: nothing to plan on"
            return self._keep(d)
        d.drift = drift(profile, self.plan_profile)
        if d.drift < s.drift_threshold and not force:
            self.streak, self.streak_plan = 0, None
            d.action, d.reason = "keep", (f"no drift (largest block-frequency change "
                                          f"{d.drift:.3f} < {s.drift_threshold})")
            return self._keep(d)
        r = self.model_rate(rate)
        pb = Problem(self.program, *self.models, profile)
        d.cores_now, d.nic_util_now, overloaded = self.figures_of(self.current, profile, r, pb)
        if self.streak > 0 and self.streak_plan is not None and not force:
            # a streak under way: does its candidate (found by CP-SAT on the streak's first
            # window, being prepared since) still gain enough on this window? Evaluating it
            # takes ms; only when it does not is CP-SAT run again
            after, util_after, cand_over = self.figures_of(self.streak_plan, profile, r, pb)
            gain = (d.cores_now - after) / d.cores_now if d.cores_now > 0 else 0.0
            if not cand_over and (gain > s.hysteresis or overloaded):
                d.cores_after, d.nic_util_after, d.gain = after, util_after, gain
                return self._streak(d, self.streak_plan, profile, force)
        res = plan(self.program, *self.models, profile, rate_mpps=r,
                   time_limit_s=s.time_limit_s, workers=1, warm_start=self.current,
                   explain=False)
        d.solve_s = res.solve_seconds
        if res.plan is None or res.host_cores is None:
            # no plan within the time limit (a loaded machine): no evidence either way, so
            # the streak is neither extended nor reset
            d.action, d.reason = "keep", (f"re-plan found no plan ({res.status}) within "
                                          f"{s.time_limit_s:g} s; streak kept")
            return self._keep(d)
        d.cores_after = float(res.host_cores)
        d.nic_util_after = None if res.nic_utilization is None else float(res.nic_utilization)
        d.gain = (d.cores_now - d.cores_after) / d.cores_now if d.cores_now > 0 else 0.0
        if overloaded and plan_key(res.plan) == plan_key(self.current):
            overloaded = False  # cannot happen (CP-SAT's plans fit the NIC); never loop
        if plan_key(res.plan) in self.refused:
            self.streak, self.streak_plan = 0, None
            d.action, d.reason = "keep", (f"the best plan gains {100 * d.gain:.1f} % but "
                                          "was refused before ("
                                          f"{self.refused[plan_key(res.plan)]}); current "
                                          "plan kept")
            return self._keep(d)
        if d.gain <= s.hysteresis and not overloaded:
            self.streak, self.streak_plan = 0, None
            d.action, d.reason = "keep", (f"drift {d.drift:.3f} but the best plan gains "
                                          f"{100 * d.gain:.1f} % <= hysteresis "
                                          f"{100 * s.hysteresis:.1f} %")
            return self._keep(d)
        return self._streak(d, res.plan, profile, force)

    def _streak(self, d: Decision, candidate: Plan, profile: Profile,
                force: bool) -> Decision:
        """One more window whose gain beats the hysteresis (or whose current plan overloads
        the NIC) with ``candidate``: wait, or adopt at window K once the candidate is
        prepared."""
        s = self.settings
        gain = d.gain or 0.0  # set by the caller
        why = f"gain {100 * gain:.1f} % > hysteresis"
        if d.nic_util_now is not None and d.nic_util_now > 1 and gain <= s.hysteresis:
            why = (f"the current plan overloads the NIC (modelled utilisation "
                   f"{d.nic_util_now:.2f} > 1), gain {100 * gain:.1f} %")
        self.streak += 1
        self.streak_plan = candidate
        if self.streak == 1:
            self.streak_start = self.windows
        d.streak = self.streak
        if self.streak < s.consecutive and not force:
            if self.ahead is not None:
                d.prepare_started = bool(self.ahead(candidate))
            d.action, d.reason = "wait", (f"{why} in {self.streak} of {s.consecutive} "
                                          "windows")
            return self._keep(d)
        if self.ready is not None and not force and not self.ready(candidate):
            d.action, d.reason = "wait", (f"{why} in {self.streak} windows; the plan is "
                                          "still being prepared (compile ahead)")
            return self._keep(d)
        d.first_gain_window = self.streak_start
        d.action = "adopt"
        d.reason = (f"{why} {100 * s.hysteresis:.1f} % in " if why.startswith("gain") else
                    f"{why} in ") + (f"{self.streak} window(s) in a row" +
                                     (" (forced)" if force else ""))
        d.plan = candidate.to_json()
        self.candidate = (candidate, profile)
        self.streak, self.streak_plan = 0, None
        return self._keep(d)

    def accept(self) -> None:
        """The adopted plan of the last ``adopt`` decision now runs: make it the current plan
        (and its window's profile the one drift is measured against)."""
        if self.candidate is not None:
            self.current, self.plan_profile = self.candidate
            self.candidate = None
            self.plan_changes += 1

    def reject(self, why: str, permanent: bool = False) -> None:
        """The last adopted plan could not be put in place: keep the current one and record
        ``why`` on the decision; a ``permanent`` refusal (the plan can never be applied, e.g.
        it would empty a written array) is remembered in :attr:`refused` and the plan is not
        proposed again (a failure that may pass, a load error say, is retried)."""
        if permanent and self.candidate is not None:
            self.refused[plan_key(self.candidate[0])] = why
        self.candidate = None
        if self.history and self.history[-1].action == "adopt":
            d = self.history[-1]
            d.action, d.reason = "error", f"{d.reason}; not applied: {why}"

    def _keep(self, d: Decision) -> Decision:
        d.streak = self.streak if d.action != "adopt" else d.streak
        self.history.append(d)
        return d
