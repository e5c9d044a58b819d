"""Crash safety of deploy/undeploy: the process is SIGKILLed right after every step (the
``CORA_FAULT_AFTER_STEP`` test hook of cora.runtime.deploy, not timing luck), then ``cora
stats``, ``cora undeploy`` and ``cora deploy`` must see a complete deployment or finish/undo
the partial one. Real kernel, real namespaces (unique prefix, always deleted)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cora.runtime import pins
from cora.runtime.attach import xdp_attached
from cora.runtime.deploy import DEPLOY_STEPS, FAULT_ENV, UNDEPLOY_STEPS

REPO = Path(__file__).resolve().parents[2]
FLOWCOUNT = REPO / "netfuncs" / "flowcount.nf"
DEV = "veth0"


def cora(*args, fault: str | None = None, timeout: float = 300):
    env = dict(os.environ)
    env.pop(FAULT_ENV, None)
    if fault is not None:
        env[FAULT_ENV] = fault
    return subprocess.run([sys.executable, "-m", "cora.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env)


def one_line_error(r) -> str:
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "cora: error:" in r.stderr, r.stderr
    return r.stderr


def ok(r):
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr[-3000:])
    assert "Traceback" not in r.stderr
    return r


def killed(r):
    assert r.returncode == -signal.SIGKILL, (r.returncode, r.stdout, r.stderr[-3000:])


def assert_clean(ns: str, lock_file_left: bool = False) -> None:
    """Nothing of cora is left for ``ns``: no pins, metadata, journal, attachment, and no
    lock file unless ``lock_file_left`` (a process killed while holding the lock leaves its
    empty lock file; the next deploy/undeploy removes it)."""
    assert not pins.deployment_dir(DEV, ns).exists()
    assert not (pins.PIN_ROOT / ns).exists()
    left = sorted(p.name for p in (pins.META_ROOT / ns).glob("*"))
    assert left == ([f"{DEV}.lock"] if lock_file_left else []), left
    assert xdp_attached(DEV, ns) is None


def stats_json(ns: str) -> dict:
    return json.loads(ok(cora("stats", "--dev", DEV, "--netns", ns, "--json")).stdout)


@contextlib.contextmanager
def dut():
    """A fresh two-namespace testbed; whatever a failing test leaves of cora is removed."""
    from cora.testbed.topology import two_node

    with two_node() as topo:
        ns = topo.ns("dut")
        try:
            yield ns
        finally:
            from cora.runtime.deploy import undeploy
            with contextlib.suppress(Exception):
                undeploy(DEV, ns)
            pins.unpin_all(pins.deployment_dir(DEV, ns))
            pins.remove_metadata(DEV, ns)
            pins.remove_journal(DEV, ns)


def deploy_args(ns: str) -> list:
    return ["deploy", FLOWCOUNT, "--dev", DEV, "--netns", ns]


@pytest.mark.kernel
@pytest.mark.netns
@pytest.mark.parametrize("then", ["undeploy", "deploy"])
@pytest.mark.parametrize("step", DEPLOY_STEPS)
def test_deploy_killed_after_each_step_is_recovered(step, then):
    complete = DEPLOY_STEPS.index(step) >= DEPLOY_STEPS.index("metadata")
    with dut() as ns:
        killed(cora(*deploy_args(ns), fault=f"deploy:{step}"))
        if complete:  # past the commit point: a normal, readable deployment
            st = stats_json(ns)
            assert st["attached"] and st["nf"] == "flowcount"
        else:
            err = one_line_error(cora("stats", "--dev", DEV, "--netns", ns))
            assert "interrupted `cora deploy`" in err and "cora undeploy" in err
        if then == "undeploy":
            r = ok(cora("undeploy", "--dev", DEV, "--netns", ns))
            if not complete:
                assert "undid an interrupted deploy" in r.stdout
            assert_clean(ns)
            return
        r = cora(*deploy_args(ns))
        if complete:  # never replaced: the user is told to undeploy first
            assert "undeploy" in one_line_error(r)
            assert stats_json(ns)["attached"]
        else:  # the partial deploy is undone and the new one goes ahead
            ok(r)
            assert "note: undid an interrupted deploy" in r.stdout
            st = stats_json(ns)
            assert st["attached"] and xdp_attached(DEV, ns) == st["prog_id"]
        ok(cora("undeploy", "--dev", DEV, "--netns", ns))
        assert_clean(ns)


@pytest.mark.kernel
@pytest.mark.netns
@pytest.mark.parametrize("then", ["undeploy", "deploy"])
@pytest.mark.parametrize("step", UNDEPLOY_STEPS)
def test_undeploy_killed_after_each_step_is_recovered(step, then):
    with dut() as ns:
        ok(cora(*deploy_args(ns)))
        killed(cora("undeploy", "--dev", DEV, "--netns", ns, fault=f"undeploy:{step}"))
        finished = step == "done"
        err = one_line_error(cora("stats", "--dev", DEV, "--netns", ns))
        if finished:
            assert "nothing is deployed" in err
            assert_clean(ns, lock_file_left=True)
        else:
            assert "interrupted `cora undeploy`" in err and "to finish it" in err
        if then == "deploy":
            r = cora(*deploy_args(ns))
            if finished:
                ok(r)
            else:  # an undeploy the user asked for is finished by undeploy, not by deploy
                assert "to finish it" in one_line_error(r)
        r = cora("undeploy", "--dev", DEV, "--netns", ns)
        if finished and then == "undeploy":
            assert "nothing is deployed" in one_line_error(r)
        else:
            ok(r)
            if not finished:
                assert "finished an interrupted undeploy" in r.stdout
        assert_clean(ns)


@pytest.mark.kernel
@pytest.mark.netns
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_deploy_terminated_after_each_step_undoes_itself(sig):
    """SIGTERM/SIGHUP are caught: a deploy cut short before it finished undoes its steps in
    the process itself (nothing for a later command to recover); one cut after its last step
    is a complete deployment."""
    with dut() as ns:
        for step in DEPLOY_STEPS:
            r = cora(*deploy_args(ns), fault=f"deploy:{step}:{sig.name[3:]}")
            assert r.returncode == 128 + sig, (step, r.returncode, r.stderr[-2000:])
            assert "Traceback" not in r.stderr
            if step == "done":
                assert stats_json(ns)["attached"]
                ok(cora("undeploy", "--dev", DEV, "--netns", ns))
            assert_clean(ns)


@pytest.mark.kernel
@pytest.mark.netns
def test_failed_deploy_never_touches_a_running_deployment():
    """Deploy over a complete deployment fails before any step (no fault point is reached),
    and the state in its maps survives."""
    from cora.testbed.trafficgen import TrafficGen, synthetic_flows

    with dut() as ns:
        ok(cora(*deploy_args(ns)))
        with TrafficGen(DEV, ns.replace("dut", "gen")) as gen:
            gen.send(synthetic_flows(8, 64, "udp", seed=5), count=80)
        before = stats_json(ns)
        assert before["verdicts"]["pass"] == 80 and len(before["maps"]["flows"]) == 8
        for step in DEPLOY_STEPS:
            assert "undeploy" in one_line_error(cora(*deploy_args(ns), fault=f"deploy:{step}"))
        assert stats_json(ns) == before
        ok(cora("undeploy", "--dev", DEV, "--netns", ns))
        assert_clean(ns)


@pytest.mark.kernel
@pytest.mark.netns
def test_busy_and_bare_pins(bcc_module):
    """A deploy/undeploy in progress (lock held) is reported, not recovered under its feet;
    pins left without metadata or journal (an older cora) are removed by undeploy."""
    with dut() as ns:
        with pins.deployment_lock(DEV, ns):
            pins.write_journal(DEV, ns, {"op": "deploy", "prog_id": None})
            assert "is running" in one_line_error(cora("stats", "--dev", DEV, "--netns", ns))
            assert "another cora process" in one_line_error(cora(*deploy_args(ns)))
            assert "another cora process" in one_line_error(
                cora("undeploy", "--dev", DEV, "--netns", ns))
        ok(cora("undeploy", "--dev", DEV, "--netns", ns))
        assert_clean(ns)
        # bare pins: a map pinned by hand where a deployment would be
        b = bcc_module.BPF(text="BPF_ARRAY(bare, u64, 1);")
        try:
            pins.pin(pins.deployment_dir(DEV, ns), None, {"bare": b["bare"].map_fd})
        finally:
            b.cleanup()
        assert "pins without deployment metadata" in one_line_error(
            cora("stats", "--dev", DEV, "--netns", ns))
        assert "cora undeploy" in one_line_error(cora(*deploy_args(ns)))
        assert "removed pins left without metadata" in ok(
            cora("undeploy", "--dev", DEV, "--netns", ns)).stdout
        assert_clean(ns)
