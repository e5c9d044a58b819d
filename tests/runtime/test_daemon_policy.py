"""Drift detection, re-planning with hysteresis over K windows, and the daemon's pieces that
need no kernel: the lock, the control protocol's answers to malformed requests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cora.compiler.driver import compile_file
from cora.compiler.offload.partition import Problem
from cora.compiler.offload.profile import Profile, profile_from_frames, synthetic_profile
from cora.compiler.offload.stage_model import load_model
from cora.errors import EnvironmentProblem
from cora.runtime.daemon import DaemonLock, RuntimeDaemon, runtime_paths
from cora.runtime.daemon_policy import PolicySettings, Replanner, drift

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def setting():
    """synguard, the bluefield2 model (it can run the whole NF), the all-host plan made for
    the synthetic profile, and a real traffic profile."""
    from cora.testbed.handwritten import synthetic_trace

    program = compile_file(str(REPO / "netfuncs" / "synguard.nf"))
    models = (load_model("bluefield2"), load_model("xdp"), None)
    synthetic = synthetic_profile(program)
    pb = Problem(program, *models, synthetic)
    all_host = pb.make_plan(pb.all_host_stages())
    traffic = profile_from_frames(program, synthetic_trace(n_flows=100, n_frames=600))
    return program, models, all_host, synthetic, traffic


def replanner(setting, **knobs) -> Replanner:
    program, models, all_host, synthetic, _ = setting
    return Replanner(program, models, all_host, synthetic,
                     PolicySettings(model_rate_mpps=1.0, **knobs))


def test_gain_must_hold_for_k_windows_before_adopting(setting):
    traffic = setting[4]
    r = replanner(setting, consecutive=3)
    assert drift(traffic, setting[3]) > 0.05
    actions = [r.window(traffic, 1.0).action for _ in range(3)]
    assert actions == ["wait", "wait", "adopt"]
    d = r.history[-1]
    assert d.cores_after is not None and d.cores_now is not None
    assert d.cores_after < d.cores_now and d.gain is not None and d.gain > 0.05
    assert d.plan is not None and "nic" in d.plan["blocks"].values()
    assert r.plan_changes == 0  # not in place until the caller says so
    r.accept()
    assert r.plan_changes == 1 and r.current.to_json() == d.plan
    # the same traffic again: the plan was made for it, no drift
    assert r.window(traffic, 1.0).action == "keep"
    assert "no drift" in r.history[-1].reason


def test_a_quiet_window_resets_the_streak(setting):
    traffic, synthetic = setting[4], setting[3]
    r = replanner(setting, consecutive=2)
    assert r.window(traffic, 1.0).action == "wait"
    quiet = Profile(packets=1000, block_count={k: v * 1000 for k, v in
                                               synthetic.block_count.items()},
                    packets_basis=1000.0)  # back to what the plan was made for
    assert r.window(quiet, 1.0).action == "keep"
    assert r.window(traffic, 1.0).action == "wait"
    assert r.window(traffic, 1.0).action == "adopt"


def test_hysteresis_and_idle_windows(setting):
    traffic = setting[4]
    r = replanner(setting, hysteresis=1.0, consecutive=1)
    d = r.window(traffic, 1.0)
    assert d.action == "keep" and "hysteresis" in d.reason
    r2 = replanner(setting, min_packets=10_000)
    assert r2.window(traffic, 1.0).action == "idle"
    d = r2.window(traffic, 1.0, force=True)
    assert d.action == "adopt" and "forced" in d.reason
    r2.reject("the NIC refused it")
    assert r2.history[-1].action == "error" and "refused" in r2.history[-1].reason
    assert r2.plan_changes == 0


def test_decisions_log_one_line_with_figures(setting):
    r = replanner(setting, consecutive=1)
    line = r.window(setting[4], 2.0).log_line()
    assert "\n" not in line and "action=adopt" in line and "cores_now=" in line
    assert "gain=" in line and 'reason="' in line


def test_settings_are_checked():
    with pytest.raises(ValueError, match="--consecutive"):
        PolicySettings(consecutive=0).check()
    with pytest.raises(ValueError, match="--interval"):
        PolicySettings(interval_s=0).check()


def test_a_second_lock_holder_is_refused(tmp_path):
    paths = runtime_paths("veth0", "cora-daemon-x", tmp_path)
    first = DaemonLock(paths.lock, "veth0")
    first.acquire()
    try:
        with pytest.raises(EnvironmentProblem, match=r"already runs for veth0"):
            DaemonLock(paths.lock, "veth0").acquire()
    finally:
        first.release()
    again = DaemonLock(paths.lock, "veth0")
    again.acquire()  # free once released (the kernel drops it when the holder dies, too)
    again.release()


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b'{"cmd": 7}', b'{"x": 1}',
                                 b'{"cmd": "reboot"}', b"\xff\xfe", b"[" * 100_000,
                                 json.dumps({"cmd": "status" * 1000}).encode()])
def test_malformed_requests_get_an_error_reply(tmp_path, raw):
    from cora.runtime.daemon import DaemonOptions

    d = RuntimeDaemon(DaemonOptions("x.nf", "veth0", runtime_dir=str(tmp_path)))
    reply = d.handle(raw)
    assert reply["ok"] is False and isinstance(reply["error"], str)
    assert "\n" not in reply["error"] and len(reply["error"]) < 300


class FakePreparer:
    """Records preparations and releases (no kernel); ``gate`` holds a preparation until
    set, like a slow bcc compile."""

    def __init__(self) -> None:
        import threading

        self.prepared: list[str] = []
        self.released: list[str] = []
        self.gate = threading.Event()
        self.gate.set()

    def prepare(self, plan) -> str:
        from cora.runtime.daemon_policy import plan_key

        assert self.gate.wait(30)
        self.prepared.append(plan_key(plan))
        return plan_key(plan)

    def release(self, obj: str) -> None:
        self.released.append(obj)


def test_candidate_is_prepared_from_window_1_and_taken_ready_at_window_k(setting):
    from cora.runtime.daemon_policy import PreparedCache, plan_key

    fake = FakePreparer()
    cache = PreparedCache(fake.prepare, fake.release, capacity=2)
    r = replanner(setting, consecutive=3)
    r.ahead = cache.start
    traffic = setting[4]
    d1 = r.window(traffic, 1.0)
    assert d1.action == "wait" and d1.prepare_started
    d2 = r.window(traffic, 1.0)
    assert d2.action == "wait" and not d2.prepare_started  # same candidate: cached
    # the streak's candidate is evaluated on the window (ms), CP-SAT is not run again
    assert d2.solve_s == 0 and d2.gain is not None and d2.gain > 0.05
    d3 = r.window(traffic, 1.0)
    assert d3.action == "adopt" and r.candidate is not None
    obj, seconds, cached = cache.take(r.candidate[0], timeout_s=30)
    assert cached and obj == plan_key(r.candidate[0]) and seconds >= 0
    assert fake.prepared == [obj]  # compiled once, ahead of window K
    cache.close()
    assert fake.released == []  # taken entries are the caller's to commit


def test_cache_reuses_a_plan_on_flip_back_evicts_lru_and_releases_all_on_close(setting):
    from cora.runtime.daemon_policy import PreparedCache, plan_key

    program, models, all_host, synthetic, traffic = setting
    fake = FakePreparer()
    cache = PreparedCache(fake.prepare, fake.release, capacity=2)
    r = replanner(setting, consecutive=1)
    r.window(traffic, 1.0)
    offload = r.candidate[0]
    assert plan_key(offload) != plan_key(all_host)
    assert cache.start(offload) and cache.start(all_host)
    assert not cache.start(offload)  # flip back: reused, now most recently used
    assert cache.started == 2
    _, _, cached = cache.take(offload, timeout_s=30)
    assert cached and cache.hits == 1
    assert cache.start(offload)  # taken (committed) plans are prepared again
    # capacity 2 full (all_host, offload): a smaller cache evicts the least recently used
    small = PreparedCache(fake.prepare, fake.release, capacity=1)
    small.start(all_host)
    small.start(offload)  # evicts and releases all_host's preparation
    assert fake.released == [plan_key(all_host)] and small.keys() == [plan_key(offload)]
    small.close()
    fake.released.clear()
    cache.close()
    assert sorted(fake.released) == sorted({plan_key(offload), plan_key(all_host)})
    assert cache.keys() == []


def test_a_failed_preparation_is_raised_at_take_and_nothing_is_released(setting):
    from cora.runtime.daemon_policy import PreparedCache

    def boom(plan):
        raise OSError("bcc: compile failed")

    released: list = []
    cache = PreparedCache(boom, released.append, capacity=1)
    plan = setting[2]
    cache.start(plan)
    with pytest.raises(OSError, match="compile failed"):
        cache.take(plan, timeout_s=30)
    cache.start(plan)
    cache.close()
    assert released == []


def test_adoption_waits_until_the_candidate_is_prepared(setting):
    """With a ``ready`` hook (the daemon's compile ahead) window K does not adopt a plan
    whose preparation is still running: ``wait`` until it is ready, then ``adopt`` (the
    adoption only commits), with the streak's first window recorded."""
    from cora.runtime.daemon_policy import PreparedCache

    fake = FakePreparer()
    fake.gate.clear()  # a slow compile
    cache = PreparedCache(fake.prepare, fake.release, capacity=2)
    r = replanner(setting, consecutive=2)
    r.ahead = cache.start

    def ready(plan) -> bool:
        cache.start(plan)
        return cache.ready(plan)

    r.ready = ready
    traffic = setting[4]
    try:
        assert r.window(traffic, 1.0).action == "wait"  # window 1: preparation starts
        d2 = r.window(traffic, 1.0)
        assert d2.action == "wait" and "still being prepared" in d2.reason
        assert d2.streak == 2
        fake.gate.set()  # the compile ends: the next windows adopt (bounded, no sleep)
        d3 = None
        for _ in range(20):
            d3 = r.window(traffic, 1.0)
            if d3.action != "wait":
                break
        assert d3 is not None and d3.action == "adopt"
        assert d3.first_gain_window == 1 and d3.window >= 3
    finally:
        fake.gate.set()
        cache.close()


def test_a_re_plan_without_result_keeps_the_streak(setting, monkeypatch):
    """A window whose CP-SAT run finds no plan in its time limit (a loaded machine) is no
    evidence either way: the streak is kept, not reset."""
    from cora.compiler.offload.partition import PlanResult
    from cora.runtime import daemon_policy

    traffic = setting[4]
    r = replanner(setting, consecutive=2)
    assert r.window(traffic, 1.0).action == "wait"
    real = daemon_policy.plan

    def unknown(*args, **kw):
        res = real(*args, **kw)
        return PlanResult(**{**res.__dict__, "plan": None, "host_cores": None,
                             "status": "UNKNOWN"})

    monkeypatch.setattr(daemon_policy, "plan", unknown)
    r.streak_plan = None  # no candidate to evaluate (e.g. a restarted daemon): CP-SAT runs
    d = r.window(traffic, 1.0)
    assert d.action == "keep" and "streak kept" in d.reason and r.streak == 1
    monkeypatch.setattr(daemon_policy, "plan", real)
    assert r.window(traffic, 1.0).action == "adopt"


def test_a_current_plan_that_overloads_the_nic_is_replaced_whatever_its_host_cores(setting):
    """All of synguard on the NIC costs 0 host cores, but at 20 Mpps a window where every ACK
    comes from a new source (an insert into ``known`` on the NIC each) needs more than the
    NIC model's 8 cores: the re-plan (which fits the NIC, with more host cores) is adopted
    after K windows, with the overload as its reason; under heavy flows the same plan fits
    and is kept."""
    from cora.testbed.runtime_experiment import phase_frames

    program, models, all_host, synthetic, _ = setting
    pb = Problem(program, *models, synthetic)
    all_nic = pb.make_plan({b.label: 0 for b in program.blocks})

    def profile(phase: str, n: int) -> Profile:
        frames = phase_frames("synguard", phase, n)
        return profile_from_frames(program, [(i * 2_500_000, frames[i % len(frames)])
                                             for i in range(n)])

    new, heavy = profile("new-flows", 1000), profile("heavy", 1000)
    r = Replanner(program, models, all_nic, synthetic,
                  PolicySettings(model_rate_mpps=20.0, consecutive=2))
    assert r.figures_of(all_nic, heavy, 20.0)[2] is False
    cores, util, over = r.figures_of(all_nic, new, 20.0)
    assert over and util > 1 and cores == 0.0
    d1, d2 = r.window(new, 0.5), r.window(new, 0.5)
    assert (d1.action, d2.action) == ("wait", "adopt")
    assert "overloads the NIC" in d2.reason and d2.nic_util_now == util
    assert d2.cores_after is not None and d2.cores_after > d2.cores_now == 0.0
    assert d2.nic_util_after is not None and d2.nic_util_after <= 1.0
    assert "nic_util_now=" in d2.log_line()
    r2 = Replanner(program, models, all_nic, synthetic,
                   PolicySettings(model_rate_mpps=20.0, consecutive=1))
    d = r2.window(heavy, 0.5)
    assert d.action == "keep" and "hysteresis" in d.reason and d.nic_util_now < 1.0


def test_a_traffic_split_start_plan_is_refused_before_anything_is_deployed(tmp_path):
    """The daemon cannot hand a flow group's state over between stages (its live profile has
    no flow buckets, its swaps do not program the classifier): a --plan that splits the
    traffic is refused with one line naming the file, the same plan without the split is
    taken."""
    from cora.compiler.offload.split import cut_plan
    from cora.compiler.offload.traffic import TrafficSplit, classifier_key
    from cora.errors import InputError
    from cora.runtime.daemon import DaemonOptions

    nf = str(REPO / "netfuncs" / "flowcount.nf")
    program = compile_file(nf)
    t = TrafficSplit(classifier_key(program).fields, 16, frozenset({3}), ())
    with_split = tmp_path / "split.json"
    with_split.write_text(json.dumps({"plan": dict(cut_plan(program, 10_000),
                                                   traffic=t.to_json())}))
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({"plan": cut_plan(program, 10_000)}))
    for path, refused in ((with_split, True), (plain, False)):
        d = RuntimeDaemon(DaemonOptions(nf, "veth0", nic_dev="veth1", plan_path=str(path),
                                        runtime_dir=str(tmp_path)))
        d.program = program
        if refused:
            with pytest.raises(InputError, match="splits the traffic") as exc:
                d._initial_plan(d._models(), adopting=False)
            assert str(path) in str(exc.value) and "\n" not in str(exc.value)
        else:
            plan, _ = d._initial_plan(d._models(), adopting=False)
            assert plan.traffic is None


def test_a_plan_change_that_would_empty_a_written_array_is_refused(tmp_path, monkeypatch):
    """heavyhitter's count-min ``sketch`` is a written array (not only added to, so not a
    merged counter) and arrays do not move by read-through: a plan change that puts it on a
    stage that does not hold it names it as a state to move, and the move refuses it (the
    preparation fails, the old plan keeps running) instead of the NIC starting an empty
    sketch. A read-only array (lb's ``maglev``, initialised by the program) is not moved."""
    from types import SimpleNamespace

    from cora.compiler.offload.split import cut_plan
    from cora.errors import CoraError
    from cora.runtime import deploy as dp
    from cora.runtime.daemon import DaemonOptions
    from cora.runtime.migrate import PreparedMove

    def held(maps):
        return {"layout": {"maps": [{"name": m} for m in maps]}}

    for nf, host_maps, expect in (("heavyhitter", ["sketch", "heavy"], {"sketch", "heavy"}),
                                  ("lb", ["services", "backends", "maglev", "conns",
                                          "replies", "stats"], {"services", "conns", "replies"})):
        program = compile_file(str(REPO / "netfuncs" / f"{nf}.nf"))
        d = RuntimeDaemon(DaemonOptions(nf + ".nf", "veth1", nic_dev="veth0",
                                        runtime_dir=str(tmp_path)))
        d.program = program
        d.stages = [SimpleNamespace(dev="veth0", netns=None),   # all on the host now
                    SimpleNamespace(dev="veth1", netns=None)]
        monkeypatch.setattr(dp, "require_deployment", lambda dev, ns, _h=host_maps:
                            held([] if dev == "veth0" else _h))
        nic = d._stage_programs(cut_plan(program, 10_000))[0]   # all on the NIC
        assert set(nic[2]) == expect, (nf, nic[2])
        if "sketch" in expect:
            with pytest.raises(CoraError, match="cannot move state sketch"):
                PreparedMove("veth0", None, nic[1], nic[2])


def test_a_plan_refused_for_good_is_not_proposed_again(setting):
    """An adoption rejected as permanent (the daemon: the plan would empty a written array)
    is remembered: the same plan is not adopted (or prepared) again; a failure that may
    pass is retried."""
    traffic = setting[4]
    for permanent, then in ((False, "adopt"), (True, "keep")):
        r = replanner(setting, consecutive=1)
        assert r.window(traffic, 1.0).action == "adopt"
        r.reject("cannot move state x (array)", permanent=permanent)
        assert r.history[-1].action == "error"
        d = r.window(traffic, 1.0)
        assert d.action == then, d.reason
        if permanent:
            assert "refused before (cannot move state x (array))" in d.reason
            assert r.current is setting[2]   # the current plan kept
